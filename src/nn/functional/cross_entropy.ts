// Classification losses over class scores: nllLoss and crossEntropy.
// Inputs are (C), (N, C) or (N, C, d1, ...); targets are int32 class
// indices of the input's shape without the class dim, or (crossEntropy
// only) class probabilities of the input's own shape.

import { isGradEnabled } from "../../autograd/grad_mode.js";
import { record } from "../../autograd/node.js";
import { fusedKernels } from "../../backend/fused.js";
import { isFloating } from "../../dtype.js";
import { ArgumentError, DTypeError, fmtShape, ShapeError } from "../../errors.js";
import { arange } from "../../tensor/creation.js";
import { Tensor } from "../../tensor/tensor.js";
import { type ReductionOptions, reduce } from "./reduction.js";
import { logSoftmax } from "./softmax.js";

export interface NllLossOptions extends ReductionOptions {
  /** A weight per class, shape (C). */
  weight?: Tensor | null;
  /** Targets equal to this add nothing to the loss or to the mean's denominator (-100). */
  ignoreIndex?: number;
}

export interface CrossEntropyOptions extends NllLossOptions {
  /** Mixes the target with the uniform distribution: (1 - ε) target + ε / C (0). */
  labelSmoothing?: number;
}

/** Per-element terms of the negative log-likelihood, before reduction. */
interface NllTerms {
  /** -w[t] · input[t] per target element, 0 where ignored. */
  loss: Tensor;
  /** w[t] per target element (1 without weights), 0 where ignored. */
  weight: Tensor;
  /** Whether each target element counts. */
  valid: Tensor;
}

function checkInput(op: string, input: Tensor): number {
  if (input.ndim === 0)
    throw new ShapeError(`${op}: input must have a class dimension, got a 0-d tensor`);
  if (!isFloating(input.dtype))
    throw new DTypeError(`${op}: input must be a floating point tensor, got ${input.dtype}`);
  return input.ndim === 1 ? 0 : 1;
}

function checkWeight(op: string, weight: Tensor | null | undefined, classes: number): void {
  if (weight && (weight.ndim !== 1 || weight.shape[0] !== classes)) {
    throw new ShapeError(
      `${op}: weight must be a 1-d tensor of ${classes} elements (one per class), got shape ${fmtShape(weight.shape)}`,
    );
  }
}

/** Checks an index target's shape against the input: (N, C, d...) takes (N, d...), (C) takes (). */
function checkIndexTarget(op: string, input: Tensor, target: Tensor, ignoreIndex: number): void {
  if (target.dtype !== "int32") {
    throw new DTypeError(`${op}: target must be int32 class indices, got ${target.dtype}`);
  }
  const want = input.ndim === 1 ? [] : [input.shape[0]!, ...input.shape.slice(2)];
  if (input.ndim >= 2 && target.ndim >= 1 && target.shape[0] !== input.shape[0]) {
    throw new ShapeError(
      `${op}: expected input batch size (${input.shape[0]}) to match target batch size (${target.shape[0]})`,
    );
  }
  if (target.ndim !== want.length || target.shape.some((s, i) => s !== want[i])) {
    throw new ShapeError(
      `${op}: for input of shape ${fmtShape(input.shape)} the target must have shape ${fmtShape(want)}, got ${fmtShape(target.shape)}`,
    );
  }
  // Out-of-range classes would gather garbage; the check reads the
  // targets, which only the CPU can do synchronously.
  if (target.device !== "cpu") return;
  const classes = input.shape[input.ndim === 1 ? 0 : 1]!;
  for (const v of target.dataSync()) {
    if (v !== ignoreIndex && (v < 0 || v >= classes)) {
      throw new ArgumentError(
        `${op}: target ${v} is out of bounds for ${classes} classes (expected 0 to ${classes - 1})`,
      );
    }
  }
}

/** (N, C, d...) → (N, d..., C): classes last, so one gather picks each target's score. */
function classesLast(x: Tensor): Tensor {
  if (x.ndim <= 2) return x;
  return x.permute([0, ...x.shape.slice(2).map((_, i) => i + 2), 1]);
}

function nllTerms(op: string, logp: Tensor, target: Tensor, opts: NllLossOptions): NllTerms {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const classes = logp.shape[logp.ndim === 1 ? 0 : 1]!;
  checkIndexTarget(op, logp, target, ignoreIndex);
  checkWeight(op, opts.weight, classes);
  const valid = target.ne(ignoreIndex);
  const safe = target.where(valid, 0);
  const scores = classesLast(logp);
  const picked = scores.gather(-1, safe.unsqueeze(-1)).squeeze(-1);
  let weight = valid.to(logp.dtype);
  if (opts.weight)
    weight = weight.mul(opts.weight.indexSelect(0, safe.reshape([-1])).reshape(target.shape));
  return { loss: picked.mul(weight).neg(), weight, valid };
}

/** Reduces NLL terms: "mean" divides by the total weight of the counted targets, as PyTorch. */
function reduceNll(op: string, t: NllTerms, reduction: string | undefined): Tensor {
  if ((reduction ?? "mean") === "mean") return t.loss.sum().div(t.weight.sum());
  return reduce(op, t.loss, reduction);
}

/**
 * Negative log-likelihood: -weight[t] · input[n, t] for log-probabilities
 * input and int32 class targets t.
 *
 * @example
 * F.nllLoss(F.logSoftmax(logits, 1), labels);
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NllLossOptions = {}): Tensor {
  checkInput("nllLoss", input);
  return reduceNll("nllLoss", nllTerms("nllLoss", input, target, opts), opts.reduction);
}

/**
 * Cross entropy of raw scores (logits) against int32 class indices or
 * class probabilities: nllLoss(logSoftmax(input, 1), target), with
 * PyTorch's weight, ignoreIndex, labelSmoothing and reduction.
 *
 * @example
 * const loss = F.crossEntropy(model.forward(x), labels); // labels: int32 (N)
 */
export function crossEntropy(
  input: Tensor,
  target: Tensor,
  opts: CrossEntropyOptions = {},
): Tensor {
  const op = "crossEntropy";
  const classDim = checkInput(op, input);
  const classes = input.shape[classDim]!;
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1))
    throw new ArgumentError(`${op}: labelSmoothing must be between 0 and 1, got ${eps}`);
  checkWeight(op, opts.weight, classes);
  if (eps === 0 && !opts.weight && target.dtype === "int32") {
    const fast = fusedCrossEntropy(input, target, opts);
    if (fast) return fast;
  }
  const logp = logSoftmax(input, classDim);
  // The weight as (C, 1, ..., 1) so it broadcasts along the class dim.
  const classWeight = opts.weight
    ? opts.weight.reshape([classes, ...new Array<number>(input.ndim - classDim - 1).fill(1)])
    : null;

  if (isFloating(target.dtype)) {
    if (target.ndim !== input.ndim || target.shape.some((s, i) => s !== input.shape[i])) {
      throw new ShapeError(
        `${op}: a probability target must have the input's shape ${fmtShape(input.shape)}, got ${fmtShape(target.shape)}`,
      );
    }
    const t = eps > 0 ? target.mul(1 - eps).add(eps / classes) : target;
    let terms = logp.mul(t);
    if (classWeight) terms = terms.mul(classWeight);
    const loss = terms.sum(classDim).neg();
    // The mean is over samples (every element but the class dim).
    if ((opts.reduction ?? "mean") === "mean") return loss.sum().div(input.numel() / classes);
    return reduce(op, loss, opts.reduction);
  }
  if (target.dtype !== "int32") {
    throw new DTypeError(
      `${op}: target must be int32 class indices or floating point probabilities, got ${target.dtype}`,
    );
  }
  const nll = nllTerms(op, logp, target, opts);
  const nllReduced = reduceNll(op, nll, opts.reduction);
  if (eps === 0) return nllReduced;
  // Label smoothing adds ε/C · Σ_c -w_c logp_c for each counted target.
  const weighted = classWeight ? logp.mul(classWeight) : logp;
  const smooth = weighted.sum(classDim).neg().where(nll.valid, 0);
  let smoothReduced: Tensor;
  if ((opts.reduction ?? "mean") === "mean") smoothReduced = smooth.sum().div(nll.weight.sum());
  else smoothReduced = reduce(op, smooth, opts.reduction);
  return nllReduced.mul(1 - eps).add(smoothReduced.mul(eps / classes));
}

/**
 * crossEntropy of logits (N, C) against int32 targets (N), without weights
 * or label smoothing, through the device's fused kernel: one node whose
 * per-row losses are then reduced as the composite reduces them. Null
 * when the kernel or the case does not apply. Under createGraph the
 * backward is written with flint ops (softmax(x) − onehot(t)) on the
 * saved, graph-connected logits.
 */
function fusedCrossEntropy(input: Tensor, target: Tensor, opts: NllLossOptions): Tensor | null {
  const k = fusedKernels(input.device);
  if (!k.crossEntropy || !k.crossEntropyBackward) return null;
  if (input.ndim !== 2 || target.device !== input.device) return null;
  const [n, classes] = input.shape as [number, number];
  if (n * classes === 0) return null;
  const ignoreIndex = opts.ignoreIndex ?? -100;
  checkIndexTarget("crossEntropy", input, target, ignoreIndex);
  const x = input.contiguous();
  const t = target.contiguous();
  const r = k.crossEntropy(x, t, ignoreIndex);
  const lse = Tensor.fromStorage(r.lse, [n], x.dtype);
  let loss = Tensor.fromStorage(r.loss, [n], x.dtype);
  loss = record(
    "NllLossBackward0",
    loss,
    [x],
    (g, [xs]) => {
      if (isGradEnabled() || g.dtype !== xs!.dtype) {
        const valid = t.ne(ignoreIndex);
        const gv = g.mul(valid.to(g.dtype)).unsqueeze(-1);
        const ids = arange(0, classes, 1, { dtype: "int32", device: t.device });
        const hot = t.where(valid, 0).unsqueeze(-1).eq(ids);
        return [xs!.softmax(-1).mul(gv).sub(hot.to(g.dtype).mul(gv))];
      }
      return [
        Tensor.fromStorage(
          k.crossEntropyBackward!(g, xs!, t, lse, ignoreIndex),
          [n, classes],
          x.dtype,
        ),
      ];
    },
    [x],
  );
  const reduction = opts.reduction ?? "mean";
  if (reduction !== "mean") return reduce("crossEntropy", loss, reduction);
  // The mean is over the counted targets (PyTorch: 0/0 = nan when none count).
  return loss.sum().div(t.ne(ignoreIndex).sum().to(x.dtype));
}
