import { ArgumentError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";

/** How a loss combines its per-element values. */
export type Reduction = "mean" | "sum" | "none";

/** The `reduction` option shared by every loss. */
export interface ReductionOptions {
  reduction?: Reduction;
}

/** Applies a loss's reduction, checking the name first. */
export function reduce(op: string, loss: Tensor, reduction: string | undefined): Tensor {
  const r = reduction ?? "mean";
  if (r === "mean") return loss.mean();
  if (r === "sum") return loss.sum();
  if (r === "none") return loss;
  throw new ArgumentError(
    `${op}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(r)}`,
  );
}
