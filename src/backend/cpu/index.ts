import type { DType, TypedArray } from "../../dtype.js";
import { allocArray } from "../../dtype.js";
import { type Backend, registerBackend, type View } from "../backend.js";
import { assignKernel, binaryKernel, copyKernel, unaryKernel, whereKernel } from "./elementwise.js";
import "./batch_norm_kernels.js";
import "./conv_kernels.js";
import "./cross_entropy.js";
import "./embedding.js";
import "./attention.js";
import "./fused.js";
import "./linear.js";
import "./linear_gelu.js";
import "./gelu_linear.js";
import "./pool_kernels.js";
import { gatherKernel, scatterKernel } from "./indexing.js";
import { matmulKernel } from "./matmul.js";
import { reduceKernel } from "./reduce.js";
import { CpuStorage, dataOf, isContiguous, wrap } from "./storage.js";
import { wasmMatmul } from "./wasm/matmul.js";

/** The TypeScript reference backend: every kernel on plain typed arrays. */
export const cpuBackend: Backend = {
  name: "cpu",
  zeros: (dtype: DType, size: number) => wrap(allocArray(dtype, size)),
  fromArray: (data: TypedArray) => wrap(data),
  read: async (x: View) => readSync(x),
  readSync,
  unary: (op, x, outDtype) => wrap(unaryKernel(op, x, outDtype)),
  binary: (op, a, b, outDtype) => wrap(binaryKernel(op, a, b, outDtype)),
  reduce: (op, x, dims, outDtype) => wrap(reduceKernel(op, x, dims, outDtype)),
  matmul: (a, b, outDtype) => wrap(fastMatmul(a, b, outDtype) ?? matmulKernel(a, b, outDtype)),
  where: (c, a, b, outDtype) => wrap(whereKernel(c, a, b, outDtype)),
  gather: (x, dim, index) => wrap(gatherKernel(x, dim, index)),
  scatter: (base, dim, index, src, accumulate) =>
    wrap(scatterKernel(base, dim, index, src, accumulate, base.dtype)),
  copy: (x, outDtype) => wrap(copyKernel(x, outDtype)),
  assign: assignKernel,
};

/**
 * Float32 products go to the WebAssembly SIMD kernels (src/backend/cpu/wasm)
 * when the runtime has them; below ~64 multiply-adds the call overhead
 * outweighs the gain and the reference kernel stays.
 */
function fastMatmul(a: View, b: View, outDtype: DType): TypedArray | null {
  if (a.dtype !== "float32" || b.dtype !== "float32" || outDtype !== "float32") return null;
  const nd = a.shape.length;
  if (a.shape[nd - 2]! * a.shape[nd - 1]! * b.shape[nd - 1]! < 64) return null;
  return wasmMatmul(a, b);
}

function readSync(x: View): TypedArray {
  const n = x.shape.reduce((a, b) => a * b, 1);
  if (isContiguous(x)) return dataOf(x).slice(x.offset, x.offset + n);
  return copyKernel(x, x.dtype);
}

registerBackend(cpuBackend);

export { CpuStorage };
