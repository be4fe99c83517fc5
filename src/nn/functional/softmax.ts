// softmax, logSoftmax and softmin along one dim. Only Tensor's methods are
// used (the Tensor type is imported for types alone), so tensor.ts can
// import this file for x.softmax(dim) without an import cycle at load time.
import type { DType } from "../../dtype.js";
import type { Tensor } from "../../tensor/tensor.js";
import { fusedSoftmax } from "./fused.js";

export interface SoftmaxOptions {
  /** Cast the input to this dtype first (PyTorch's dtype=). */
  dtype?: DType;
}

/** The dim as a number, accepting PyTorch's keyword form too ({ dim }). */
function dimOf(dim: number | { dim: number }): number {
  return typeof dim === "number" ? dim : dim.dim;
}

/**
 * softmax(x)_i = e^(x_i - m) / Σ_j e^(x_j - m) along dim, with m the
 * row's maximum, detached: shifting by a constant leaves the result and its
 * gradient unchanged, and keeps exp from overflowing.
 *
 * @example
 * F.softmax(fl.tensor([[1, 2, 3]]), -1); // tensor([[0.0900, 0.2447, 0.6652]])
 */
export function softmax(
  x: Tensor,
  dim: number | { dim: number },
  opts: SoftmaxOptions = {},
): Tensor {
  const d = dimOf(dim);
  const xs = opts.dtype ? x.to(opts.dtype) : x;
  const fused = fusedSoftmax(xs, d, false);
  if (fused) return fused;
  const e = xs.sub(xs.detach().amax(d, { keepdim: true })).exp();
  return e.div(e.sum(d, { keepdim: true }));
}

/**
 * log softmax(x) = (x - m) - log Σ e^(x - m) along dim, exact where
 * softmax underflows to 0.
 *
 * @example
 * F.logSoftmax(logits, 1);
 */
export function logSoftmax(
  x: Tensor,
  dim: number | { dim: number },
  opts: SoftmaxOptions = {},
): Tensor {
  const d = dimOf(dim);
  const xs = opts.dtype ? x.to(opts.dtype) : x;
  const fused = fusedSoftmax(xs, d, true);
  if (fused) return fused;
  const z = xs.sub(xs.detach().amax(d, { keepdim: true }));
  return z.sub(z.exp().sum(d, { keepdim: true }).log());
}

/** softmax(-x) along dim. @example F.softmin(x, 0) */
export function softmin(
  x: Tensor,
  dim: number | { dim: number },
  opts: SoftmaxOptions = {},
): Tensor {
  return softmax(x.neg(), dim, opts);
}
