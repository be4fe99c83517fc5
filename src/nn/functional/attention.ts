import { ArgumentError, DTypeError, fmtShape, ShapeError } from "../../errors.js";
import { ones, zeros } from "../../tensor/creation.js";
import type { Tensor } from "../../tensor/tensor.js";
import { dropout } from "./dropout.js";
import { fusedAttention } from "./fused.js";
import { fusedAttention4d } from "./fused_attention.js";
import { softmax } from "./softmax.js";

export interface ScaledDotProductAttentionOptions {
  /**
   * (..., L, S), broadcast over the batch dims: a bool mask (true = may
   * attend) or a float bias added to the scores.
   */
  attnMask?: Tensor | null;
  /** Dropout on the attention weights (0). */
  dropoutP?: number;
  /** Each query attends to keys at its own position or earlier (false). */
  isCausal?: boolean;
  /** Multiplies q·kᵀ; 1/√E by default. */
  scale?: number | null;
}

/**
 * softmax(q kᵀ · scale + mask) v for q (..., L, E), k (..., S, E) and
 * v (..., S, Ev); the result is (..., L, Ev).
 *
 * @example
 * const q = fl.randn([2, 4, 8, 16]); // (batch, heads, L, E)
 * F.scaledDotProductAttention(q, q, q, { isCausal: true }); // [2, 4, 8, 16]
 */
export function scaledDotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  opts: ScaledDotProductAttentionOptions = {},
): Tensor {
  const op = "scaledDotProductAttention";
  if (query.ndim < 2 || key.ndim < 2 || value.ndim < 2) {
    throw new ShapeError(
      `${op}: query, key and value must be at least 2-d, got ${fmtShape(query.shape)}, ${fmtShape(key.shape)} and ${fmtShape(value.shape)}`,
    );
  }
  const E = query.shape[query.ndim - 1]!;
  const L = query.shape[query.ndim - 2]!;
  const S = key.shape[key.ndim - 2]!;
  if (key.shape[key.ndim - 1] !== E) {
    throw new ShapeError(
      `${op}: query ${fmtShape(query.shape)} and key ${fmtShape(key.shape)} must have the same embedding size (${E} != ${key.shape[key.ndim - 1]})`,
    );
  }
  if (value.shape[value.ndim - 2] !== S) {
    throw new ShapeError(
      `${op}: key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must have the same sequence length (${S} != ${value.shape[value.ndim - 2]})`,
    );
  }
  if (opts.isCausal && opts.attnMask) {
    throw new ArgumentError(`${op}: pass either attnMask or isCausal, not both`);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  if (!opts.attnMask && !(opts.dropoutP ?? 0)) {
    const fused = fusedAttention(query, key, value, scale, opts.isCausal ?? false);
    if (fused) return fused;
  }
  if (!(opts.dropoutP ?? 0) && query.ndim === 4) {
    const mask = opts.attnMask ? additiveMask(op, opts.attnMask, query) : null;
    const fused =
      (!opts.attnMask || mask) &&
      fusedAttention4d(query, key, value, {
        mask,
        causal: opts.isCausal ?? false,
        scale,
      });
    if (fused) return fused;
  }
  // (..., L, E) @ (..., E, S) -> (..., L, S)
  let scores = query.matmul(key.transpose(-2, -1)).mul(scale);
  if (opts.isCausal) {
    // Position i attends to j <= i: the lower triangle of an (L, S) mask.
    const causal = ones([L, S], { dtype: "bool", device: query.device }).tril();
    scores = scores.maskedFill(causal.logicalNot(), Number.NEGATIVE_INFINITY);
  } else if (opts.attnMask) {
    const mask = opts.attnMask;
    if (mask.dtype === "bool") {
      scores = scores.where(mask, Number.NEGATIVE_INFINITY);
    } else if (mask.isFloatingPoint()) {
      scores = scores.add(mask);
    } else {
      throw new DTypeError(
        `${op}: attnMask must be a bool or floating point tensor, got ${mask.dtype}`,
      );
    }
  }
  let weights = softmax(scores, -1);
  const p = opts.dropoutP ?? 0;
  if (p > 0) weights = dropout(weights, { p, training: true });
  // (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
  return weights.matmul(value);
}

/** A bool mask (true = may attend) as 0 / -inf in q's dtype; a float mask as is. */
function additiveMask(op: string, mask: Tensor, q: Tensor): Tensor | null {
  if (mask.dtype === "bool")
    return zeros(mask.shape, { dtype: q.dtype, device: mask.device }).maskedFill(
      mask.logicalNot(),
      Number.NEGATIVE_INFINITY,
    );
  if (!mask.isFloatingPoint())
    throw new DTypeError(
      `${op}: attnMask must be a bool or floating point tensor, got ${mask.dtype}`,
    );
  return mask.dtype === q.dtype ? mask : null;
}
