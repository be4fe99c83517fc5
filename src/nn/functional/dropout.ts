// Dropout: zeroes elements at random while training. Masks come from
// fl.rand, so fl.manualSeed makes them reproducible.
import { ArgumentError } from "../../errors.js";
import { rand } from "../../tensor/creation.js";
import type { Tensor } from "../../tensor/tensor.js";

export interface DropoutOptions {
  /** Probability of zeroing an element (0.5). */
  p?: number;
  /** Identity when false (true, as in PyTorch's functional form). */
  training?: boolean;
  /** Accepted for PyTorch parity; the result is always a new tensor. */
  inplace?: boolean;
}

function checkP(op: string, p: number): void {
  if (!(p >= 0 && p <= 1))
    throw new ArgumentError(`${op}: dropout probability has to be between 0 and 1, but got ${p}`);
}

/** A float mask shaped like `shape`: 1 with probability 1 - p, else 0. */
function keepMask(x: Tensor, shape: readonly number[], p: number): Tensor {
  const dtype = x.dtype === "float64" ? "float64" : "float32";
  return rand([...shape], { dtype, device: x.device })
    .ge(p)
    .to(x.dtype);
}

/**
 * Inverted dropout: each element is zeroed with probability p and the
 * survivors are scaled by 1 / (1 - p), so the expected value is unchanged
 * and evaluation needs no rescaling.
 *
 * @example
 * fl.manualSeed(0);
 * F.dropout(fl.ones([4]), { p: 0.5 }); // each element 0 or 2
 */
export function dropout(x: Tensor, opts: DropoutOptions = {}): Tensor {
  const p = opts.p ?? 0.5;
  checkP("dropout", p);
  if (!(opts.training ?? true) || p === 0) return x;
  // Multiplying by 0 keeps the result in the graph (its gradient is 0).
  if (p === 1) return x.mul(0);
  return x.mul(keepMask(x, x.shape, p)).div(1 - p);
}

/**
 * Channel dropout for (N, C, ...) inputs (dropout1d/2d/3d): whole channels
 * are zeroed together.
 *
 * @example
 * F.dropout2d(fl.ones([2, 3, 4, 4]), { p: 0.5 });
 */
export function featureDropout(x: Tensor, opts: DropoutOptions = {}): Tensor {
  const p = opts.p ?? 0.5;
  checkP("dropout2d", p);
  if (!(opts.training ?? true) || p === 0) return x;
  if (p === 1) return x.mul(0);
  if (x.ndim < 2)
    throw new ArgumentError(
      `dropout2d: expected an input with a channel dimension, got a ${x.ndim}-d tensor`,
    );
  const shape = x.shape.map((s, i) => (i < 2 ? s : 1));
  return x.mul(keepMask(x, shape, p)).div(1 - p);
}

export { featureDropout as dropout1d, featureDropout as dropout2d, featureDropout as dropout3d };

// -SELU_SCALE · SELU_ALPHA: the value a SELU unit saturates to.
const ALPHA_PRIME = 1.7580993408473766;

/**
 * Alpha dropout for SELU networks: dropped elements are set to SELU's
 * saturation value and an affine map a·x + b restores mean 0 and variance 1.
 *
 * @example
 * F.alphaDropout(x, { p: 0.2, training: true });
 */
export function alphaDropout(x: Tensor, opts: DropoutOptions = {}): Tensor {
  const p = opts.p ?? 0.5;
  checkP("alphaDropout", p);
  if (!(opts.training ?? false) || p === 0) return x;
  if (p === 1) return x.mul(0);
  const a = 1 / Math.sqrt((ALPHA_PRIME * ALPHA_PRIME * p + 1) * (1 - p));
  const keep = keepMask(x, x.shape, p);
  // kept: a·x + α'·a·p; dropped: -α'·a + α'·a·p
  const b = keep
    .sub(1)
    .mul(ALPHA_PRIME * a)
    .add(ALPHA_PRIME * a * p);
  return x.mul(keep).mul(a).add(b);
}
