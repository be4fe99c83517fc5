import { NotImplementedError } from "../errors.js";
import type { Tensor } from "./tensor.js";

export type IndexSpec = string | Tensor | number | null | (string | number | null | Tensor)[];

export function index(_x: Tensor, _spec: IndexSpec): Tensor {
  throw new NotImplementedError("index: not yet implemented");
}
