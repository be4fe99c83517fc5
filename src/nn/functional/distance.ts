// Similarities and distances between vectors along a dim: normalize,
// cosineSimilarity, pairwiseDistance.
import { ArgumentError } from "../../errors.js";
import { vectorNorm } from "../../linalg.js";
import { broadcastShapes, normDim } from "../../shape.js";
import type { Tensor } from "../../tensor/tensor.js";

export interface NormalizeOptions {
  /** The norm's order (2). */
  p?: number;
  /** The dim to normalize along (1). */
  dim?: number;
  /** Lower bound on the norm, so zero vectors stay zero (1e-12). */
  eps?: number;
}

/**
 * x / max(‖x‖_p, eps) along dim.
 *
 * @example
 * F.normalize(fl.tensor([[3, 4]])); // tensor([[0.6, 0.8]])
 */
export function normalize(x: Tensor, opts: NormalizeOptions = {}): Tensor {
  const p = opts.p ?? 2;
  const dim = normDim("normalize", opts.dim ?? 1, x.ndim);
  const norm = vectorNorm(x, p, dim, { keepdim: true });
  return x.div(norm.clamp(opts.eps ?? 1e-12, null));
}

/**
 * x₁·x₂ / max(‖x₁‖ ‖x₂‖, eps) along dim (1), inputs broadcast together.
 *
 * @example
 * F.cosineSimilarity(a, b, { dim: 1 }); // shape [N]
 */
export function cosineSimilarity(
  x1: Tensor,
  x2: Tensor,
  opts: { dim?: number; eps?: number } = {},
): Tensor {
  const eps = opts.eps ?? 1e-8;
  const shape = broadcastShapes("cosineSimilarity", x1.shape, x2.shape);
  const dim = normDim("cosineSimilarity", opts.dim ?? 1, shape.length);
  const a = x1.expand(shape);
  const b = x2.expand(shape);
  const dot = a.mul(b).sum(dim);
  // √(‖a‖²‖b‖²) rather than ‖a‖·‖b‖: one rounding fewer, as PyTorch.
  const denom = a
    .square()
    .sum(dim)
    .mul(b.square().sum(dim))
    .clamp(eps * eps, null)
    .sqrt();
  return dot.div(denom);
}

export interface PairwiseDistanceOptions {
  /** The norm's order (2). */
  p?: number;
  /** Added to the difference so the norm's gradient is finite at 0 (1e-6). */
  eps?: number;
  keepdim?: boolean;
}

/**
 * ‖x₁ - x₂ + eps‖_p along the last dim.
 *
 * @example
 * F.pairwiseDistance(a, b); // shape [N] for (N, D) inputs
 */
export function pairwiseDistance(
  x1: Tensor,
  x2: Tensor,
  opts: PairwiseDistanceOptions = {},
): Tensor {
  const p = opts.p ?? 2;
  if (p < 0) throw new ArgumentError(`pairwiseDistance: p must be non-negative, got ${p}`);
  const diff = x1.sub(x2).add(opts.eps ?? 1e-6);
  const dim = Math.max(x1.ndim, x2.ndim) - 1;
  if (dim < 0) return diff.abs();
  return vectorNorm(diff, p, dim, { keepdim: opts.keepdim ?? false });
}
