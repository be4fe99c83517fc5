// Regression, binary, divergence and margin losses (torch.nn.functional),
// PyTorch's formulas and defaults; the reduction is "mean" unless given.
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { broadcastShapes } from "../../shape.js";
import type { Tensor } from "../../tensor/tensor.js";
import { stableSoftplus } from "./activation.js";
import { pairwiseDistance } from "./distance.js";
import { type ReductionOptions, reduce } from "./reduction.js";

function checkSameShape(op: string, input: Tensor, target: Tensor): void {
  if (input.ndim !== target.ndim || input.shape.some((s, i) => s !== target.shape[i])) {
    throw new ShapeError(
      `${op}: target size ${fmtShape(target.shape)} must be the same as input size ${fmtShape(input.shape)}`,
    );
  }
}

/**
 * PyTorch broadcasts a regression target of another shape (with a warning);
 * shapes that cannot broadcast are an error named after the loss.
 */
function checkBroadcastable(op: string, input: Tensor, target: Tensor): void {
  broadcastShapes(
    `${op} (input ${fmtShape(input.shape)}, target ${fmtShape(target.shape)})`,
    input.shape,
    target.shape,
  );
}

/**
 * Mean squared error (input - target)².
 *
 * @example
 * F.mseLoss(pred, y); // a 0-d tensor
 */
export function mseLoss(input: Tensor, target: Tensor, opts: ReductionOptions = {}): Tensor {
  checkBroadcastable("mseLoss", input, target);
  return reduce("mseLoss", input.sub(target).square(), opts.reduction);
}

/** Mean absolute error |input - target|. @example F.l1Loss(pred, y, { reduction: "sum" }) */
export function l1Loss(input: Tensor, target: Tensor, opts: ReductionOptions = {}): Tensor {
  checkBroadcastable("l1Loss", input, target);
  return reduce("l1Loss", input.sub(target).abs(), opts.reduction);
}

/**
 * ½ d² / beta where d = |input - target| < beta, else d - ½ beta (beta 1;
 * beta 0 is the L1 loss).
 *
 * @example
 * F.smoothL1Loss(pred, y, { beta: 0.5 });
 */
export function smoothL1Loss(
  input: Tensor,
  target: Tensor,
  opts: ReductionOptions & { beta?: number } = {},
): Tensor {
  const beta = opts.beta ?? 1;
  if (beta < 0) throw new ArgumentError(`smoothL1Loss: beta must be non-negative, got ${beta}`);
  checkBroadcastable("smoothL1Loss", input, target);
  const d = input.sub(target).abs();
  if (beta === 0) return reduce("smoothL1Loss", d, opts.reduction);
  const loss = d
    .square()
    .mul(0.5 / beta)
    .where(d.lt(beta), d.sub(0.5 * beta));
  return reduce("smoothL1Loss", loss, opts.reduction);
}

/**
 * ½ d² where d = |input - target| < delta, else delta (d - ½ delta) (delta 1).
 *
 * @example
 * F.huberLoss(pred, y, { delta: 2 });
 */
export function huberLoss(
  input: Tensor,
  target: Tensor,
  opts: ReductionOptions & { delta?: number } = {},
): Tensor {
  const delta = opts.delta ?? 1;
  if (!(delta > 0)) throw new ArgumentError(`huberLoss: delta must be positive, got ${delta}`);
  checkBroadcastable("huberLoss", input, target);
  const d = input.sub(target).abs();
  const loss = d
    .square()
    .mul(0.5)
    .where(d.lt(delta), d.sub(0.5 * delta).mul(delta));
  return reduce("huberLoss", loss, opts.reduction);
}

export interface BinaryCrossEntropyOptions extends ReductionOptions {
  /** Rescales each element's loss; broadcast to the input's shape. */
  weight?: Tensor | null;
}

/**
 * -(t log x + (1 - t) log(1 - x)) for probabilities x; each log is
 * clamped at -100 so x = 0 or 1 gives a finite loss, as PyTorch.
 *
 * @example
 * F.binaryCrossEntropy(pred.sigmoid(), y);
 */
export function binaryCrossEntropy(
  input: Tensor,
  target: Tensor,
  opts: BinaryCrossEntropyOptions = {},
): Tensor {
  checkSameShape("binaryCrossEntropy", input, target);
  const logX = input.log().clamp(-100, null);
  const log1mX = input.neg().add(1).log().clamp(-100, null);
  let loss = target.mul(logX).add(target.neg().add(1).mul(log1mX)).neg();
  if (opts.weight) loss = loss.mul(opts.weight);
  return reduce("binaryCrossEntropy", loss, opts.reduction);
}

export interface BinaryCrossEntropyWithLogitsOptions extends BinaryCrossEntropyOptions {
  /** A weight on the positive term, per class (broadcast along the last dim). */
  posWeight?: Tensor | null;
}

/**
 * binaryCrossEntropy(σ(x), t) computed from logits without overflow:
 * (1 - t) x + (1 + (posWeight - 1) t) · log(1 + e⁻ˣ).
 *
 * @example
 * F.binaryCrossEntropyWithLogits(logits, y, { posWeight: fl.tensor([3]) });
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  opts: BinaryCrossEntropyWithLogitsOptions = {},
): Tensor {
  checkSameShape("binaryCrossEntropyWithLogits", input, target);
  const softplusNeg = stableSoftplus(input.neg());
  const logWeight = opts.posWeight ? opts.posWeight.sub(1).mul(target).add(1) : null;
  let loss = target
    .neg()
    .add(1)
    .mul(input)
    .add(logWeight ? logWeight.mul(softplusNeg) : softplusNeg);
  if (opts.weight) loss = loss.mul(opts.weight);
  return reduce("binaryCrossEntropyWithLogits", loss, opts.reduction);
}

export interface KlDivOptions {
  /** "batchmean" (sum / batch size) gives the true KL divergence; "mean" averages every element. */
  reduction?: "mean" | "sum" | "none" | "batchmean";
  /** Whether the target is given as log-probabilities (false). */
  logTarget?: boolean;
}

/**
 * Kullback-Leibler divergence Σ t (log t - input), input being
 * log-probabilities (and t too with logTarget).
 *
 * @example
 * F.klDiv(F.logSoftmax(logits, 1), probs, { reduction: "batchmean" });
 */
export function klDiv(input: Tensor, target: Tensor, opts: KlDivOptions = {}): Tensor {
  let loss: Tensor;
  if (opts.logTarget) {
    loss = target.exp().mul(target.sub(input));
  } else {
    // t log t with 0 log 0 = 0; log's argument is made 1 where t = 0 so
    // neither the value nor the gradient turns into NaN.
    const positive = target.gt(0);
    loss = target.mul(target.where(positive, 1).log()).sub(target.mul(input));
  }
  if (opts.reduction === "batchmean") {
    const sum = loss.sum();
    return input.ndim === 0 ? sum : sum.div(input.shape[0]!);
  }
  return reduce("klDiv", loss, opts.reduction);
}

/**
 * max(0, -y (x₁ - x₂) + margin), y = 1 when x₁ should rank higher, -1 otherwise.
 *
 * @example
 * F.marginRankingLoss(a, b, y, { margin: 0.1 });
 */
export function marginRankingLoss(
  input1: Tensor,
  input2: Tensor,
  target: Tensor,
  opts: ReductionOptions & { margin?: number } = {},
): Tensor {
  const loss = input1
    .sub(input2)
    .mul(target)
    .neg()
    .add(opts.margin ?? 0)
    .clamp(0, null);
  return reduce("marginRankingLoss", loss, opts.reduction);
}

/**
 * x where y = 1, max(0, margin - x) where y = -1 (margin 1).
 *
 * @example
 * F.hingeEmbeddingLoss(distances, y);
 */
export function hingeEmbeddingLoss(
  input: Tensor,
  target: Tensor,
  opts: ReductionOptions & { margin?: number } = {},
): Tensor {
  const marginTerm = input
    .neg()
    .add(opts.margin ?? 1)
    .clamp(0, null)
    .where(target.ne(1), 0);
  const selfTerm = input.where(target.ne(-1), 0);
  return reduce("hingeEmbeddingLoss", marginTerm.add(selfTerm), opts.reduction);
}

/** log(1 + e^(-y x)) for labels y = ±1. @example F.softMarginLoss(x, y) */
export function softMarginLoss(input: Tensor, target: Tensor, opts: ReductionOptions = {}): Tensor {
  return reduce("softMarginLoss", stableSoftplus(input.mul(target).neg()), opts.reduction);
}

/**
 * 1 - cos(x₁, x₂) where y = 1, max(0, cos(x₁, x₂) - margin) where y = -1,
 * over rows of (N, D) inputs (or one pair of (D) vectors).
 *
 * @example
 * F.cosineEmbeddingLoss(a, b, y, { margin: 0.2 });
 */
export function cosineEmbeddingLoss(
  input1: Tensor,
  input2: Tensor,
  target: Tensor,
  opts: ReductionOptions & { margin?: number } = {},
): Tensor {
  const op = "cosineEmbeddingLoss";
  if (input1.ndim !== input2.ndim || input1.ndim < 1 || input1.ndim > 2) {
    throw new ShapeError(
      `${op}: expected two 1-d or two 2-d inputs, got shapes ${fmtShape(input1.shape)} and ${fmtShape(input2.shape)}`,
    );
  }
  if (target.ndim !== input1.ndim - 1) {
    throw new ShapeError(
      `${op}: expected a ${input1.ndim - 1}-d target for ${input1.ndim}-d inputs, got shape ${fmtShape(target.shape)}`,
    );
  }
  const dim = input1.ndim - 1;
  // PyTorch's form: an epsilon inside each squared norm, not a clamp.
  const EPSILON = 1e-12;
  const dot = input1.mul(input2).sum(dim);
  const mag1 = input1.square().sum(dim).add(EPSILON);
  const mag2 = input2.square().sum(dim).add(EPSILON);
  const cos = dot.div(mag1.mul(mag2).sqrt());
  const pos = cos.neg().add(1).where(target.eq(1), 0);
  const neg = cos
    .sub(opts.margin ?? 0)
    .clamp(0, null)
    .where(target.eq(-1), 0);
  return reduce(op, pos.add(neg), opts.reduction);
}

export interface TripletMarginLossOptions extends ReductionOptions {
  margin?: number;
  /** The distance's norm order (2). */
  p?: number;
  eps?: number;
  /** Use the positive-negative distance when it is smaller (false). */
  swap?: boolean;
}

/**
 * max(d(a, p) - d(a, n) + margin, 0) with d the pairwise p-norm distance
 * (margin 1, p 2, eps 1e-6).
 *
 * @example
 * F.tripletMarginLoss(anchor, positive, negative, { margin: 0.5 });
 */
export function tripletMarginLoss(
  anchor: Tensor,
  positive: Tensor,
  negative: Tensor,
  opts: TripletMarginLossOptions = {},
): Tensor {
  if (anchor.ndim !== positive.ndim || anchor.ndim !== negative.ndim) {
    throw new ShapeError(
      `tripletMarginLoss: anchor, positive and negative must have the same number of dimensions, got ${fmtShape(anchor.shape)}, ${fmtShape(positive.shape)} and ${fmtShape(negative.shape)}`,
    );
  }
  const d = { p: opts.p ?? 2, eps: opts.eps ?? 1e-6 };
  const distPos = pairwiseDistance(anchor, positive, d);
  let distNeg = pairwiseDistance(anchor, negative, d);
  if (opts.swap) distNeg = distNeg.minimum(pairwiseDistance(positive, negative, d));
  const loss = distPos
    .sub(distNeg)
    .add(opts.margin ?? 1)
    .clamp(0, null);
  return reduce("tripletMarginLoss", loss, opts.reduction);
}

export interface PoissonNllLossOptions extends ReductionOptions {
  /** Input is log λ (true) or λ itself. */
  logInput?: boolean;
  /** Add Stirling's approximation of log(target!) (false). */
  full?: boolean;
  /** Keeps log(λ + eps) finite when logInput is false (1e-8). */
  eps?: number;
}

/**
 * Poisson negative log-likelihood: e^input - target · input (logInput), or
 * input - target · log(input + eps).
 *
 * @example
 * F.poissonNllLoss(logRate, counts);
 */
export function poissonNllLoss(
  input: Tensor,
  target: Tensor,
  opts: PoissonNllLossOptions = {},
): Tensor {
  let loss =
    (opts.logInput ?? true)
      ? input.exp().sub(target.mul(input))
      : input.sub(target.mul(input.add(opts.eps ?? 1e-8).log()));
  if (opts.full) {
    // t log t - t + ½ log(2π t), counted only where t > 1.
    const big = target.gt(1);
    const t = target.where(big, 1);
    const stirling = t
      .mul(t.log())
      .sub(t)
      .add(
        t
          .mul(2 * Math.PI)
          .log()
          .mul(0.5),
      );
    loss = loss.add(stirling.where(big, 0));
  }
  return reduce("poissonNllLoss", loss, opts.reduction);
}

export interface GaussianNllLossOptions extends ReductionOptions {
  /** Add the constant ½ log(2π) (false). */
  full?: boolean;
  /** Lower bound on the variance (1e-6). */
  eps?: number;
}

/**
 * Gaussian negative log-likelihood ½ (log var + (input - target)² / var),
 * var one per element, or one per sample ((N) or (N, 1) for (N, D) input).
 *
 * @example
 * F.gaussianNllLoss(mu, y, variance);
 */
export function gaussianNllLoss(
  input: Tensor,
  target: Tensor,
  variance: Tensor,
  opts: GaussianNllLossOptions = {},
): Tensor {
  const op = "gaussianNllLoss";
  let v = variance;
  if (v.ndim !== input.ndim) {
    const lead = input.shape.slice(0, -1);
    if (v.ndim === lead.length && v.shape.every((s, i) => s === lead[i])) v = v.unsqueeze(-1);
    else
      throw new ShapeError(
        `${op}: var of shape ${fmtShape(v.shape)} does not fit input of shape ${fmtShape(input.shape)}`,
      );
  }
  const eps = opts.eps ?? 1e-6;
  // Clamped as PyTorch does under no_grad: the value is bounded but the
  // gradient passes straight through to var.
  v = v.add(v.detach().clamp(eps, null).sub(v.detach()));
  let loss = v.log().add(input.sub(target).square().div(v)).mul(0.5);
  if (opts.full) loss = loss.add(0.5 * Math.log(2 * Math.PI));
  return reduce(op, loss, opts.reduction);
}
