// Development only: when flint runs from its TypeScript sources under tsx,
// a worker does not inherit tsx's loader, so this bootstrap registers it
// and then loads the real worker. Built packages load gemm_worker.js.
import { register } from "tsx/esm/api";

register();
await import("./gemm_worker.ts");
