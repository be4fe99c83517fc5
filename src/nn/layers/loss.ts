// Loss modules (torch.nn.modules.loss): each holds its options and calls
// the nn.functional form in forward(input, target). Class weights and
// posWeight are buffers, as in PyTorch, so they follow model.to() and
// appear in stateDict() under PyTorch's keys (weight, pos_weight).
import type { Tensor } from "../../tensor/tensor.js";
import type { Reduction } from "../functional/index.js";
import * as F from "../functional/index.js";
import { Module } from "../module.js";

export interface LossOptions {
  /** "mean" (default), "sum" or "none". */
  reduction?: Reduction;
}

/** Base of the losses: the reduction option. */
abstract class Loss extends Module {
  readonly reduction: Reduction;

  constructor(opts: LossOptions = {}) {
    super();
    this.reduction = opts.reduction ?? "mean";
  }
}

/** Mean squared error. @example new nn.MSELoss().forward(pred, target); */
export class MSELoss extends Loss {
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.mseLoss(input, target, { reduction: this.reduction });
  }
}

/** Mean absolute error. @example new nn.L1Loss({ reduction: "sum" }).forward(pred, target); */
export class L1Loss extends Loss {
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.l1Loss(input, target, { reduction: this.reduction });
  }
}

/** Squared below beta, absolute above (beta 1). @example new nn.SmoothL1Loss({ beta: 0.5 }).forward(pred, target); */
export class SmoothL1Loss extends Loss {
  readonly beta: number;

  constructor(opts: LossOptions & { beta?: number } = {}) {
    super(opts);
    this.beta = opts.beta ?? 1;
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta });
  }
}

/** Squared below delta, delta-scaled absolute above (delta 1). @example new nn.HuberLoss({ delta: 2 }).forward(pred, target); */
export class HuberLoss extends Loss {
  readonly delta: number;

  constructor(opts: LossOptions & { delta?: number } = {}) {
    super(opts);
    this.delta = opts.delta ?? 1;
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
}

export interface NLLLossOptions extends LossOptions {
  /** A weight per class, shape (C); a buffer named "weight". */
  weight?: Tensor | null;
  /** Targets equal to this are skipped (-100). */
  ignoreIndex?: number;
}

/**
 * Negative log-likelihood of log-probabilities (pair it with LogSoftmax).
 *
 * @example
 * new nn.NLLLoss().forward(logProbs, fl.tensor([0, 2], { dtype: "int32" }));
 */
export class NLLLoss extends Loss {
  declare readonly weight: Tensor | null;
  readonly ignoreIndex: number;

  constructor(opts: NLLLossOptions = {}) {
    super(opts);
    this.registerBuffer("weight", opts.weight ?? null);
    this.ignoreIndex = opts.ignoreIndex ?? -100;
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.nllLoss(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction,
    });
  }
}

/**
 * Softmax cross entropy of logits against class indices (int32) or class
 * probabilities.
 *
 * @example
 * const lossFn = new nn.CrossEntropyLoss({ labelSmoothing: 0.1 });
 * lossFn.forward(logits, fl.tensor([1, 0], { dtype: "int32" }));
 */
export class CrossEntropyLoss extends Loss {
  declare readonly weight: Tensor | null;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;

  constructor(opts: NLLLossOptions & { labelSmoothing?: number } = {}) {
    super(opts);
    this.registerBuffer("weight", opts.weight ?? null);
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.labelSmoothing = opts.labelSmoothing ?? 0;
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction,
      labelSmoothing: this.labelSmoothing,
    });
  }
}

/**
 * Binary cross entropy of probabilities in [0, 1].
 *
 * @example
 * new nn.BCELoss().forward(probs, targets);
 */
export class BCELoss extends Loss {
  declare readonly weight: Tensor | null;

  constructor(opts: LossOptions & { weight?: Tensor | null } = {}) {
    super(opts);
    this.registerBuffer("weight", opts.weight ?? null);
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropy(input, target, { weight: this.weight, reduction: this.reduction });
  }
}

/**
 * Binary cross entropy of logits, computed stably; posWeight scales the
 * positive term per class.
 *
 * @example
 * new nn.BCEWithLogitsLoss({ posWeight: fl.tensor([3]) }).forward(logits, targets);
 */
export class BCEWithLogitsLoss extends Loss {
  declare readonly weight: Tensor | null;
  declare readonly pos_weight: Tensor | null;

  constructor(opts: LossOptions & { weight?: Tensor | null; posWeight?: Tensor | null } = {}) {
    super(opts);
    this.registerBuffer("weight", opts.weight ?? null);
    // PyTorch's buffer name, so state dicts match.
    this.registerBuffer("pos_weight", opts.posWeight ?? null);
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropyWithLogits(input, target, {
      weight: this.weight,
      posWeight: this.pos_weight,
      reduction: this.reduction,
    });
  }
}

/**
 * Kullback–Leibler divergence of log-probabilities from a target
 * distribution ("batchmean" gives the true KL per sample).
 *
 * @example
 * new nn.KLDivLoss({ reduction: "batchmean" }).forward(logProbs, probs);
 */
export class KLDivLoss extends Module {
  readonly reduction: Reduction | "batchmean";
  readonly logTarget: boolean;

  constructor(opts: { reduction?: Reduction | "batchmean"; logTarget?: boolean } = {}) {
    super();
    this.reduction = opts.reduction ?? "mean";
    this.logTarget = opts.logTarget ?? false;
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget });
  }
}

/**
 * max(0, -y · (x1 - x2) + margin) for y = ±1.
 *
 * @example
 * new nn.MarginRankingLoss({ margin: 0.5 }).forward(x1, x2, y);
 */
export class MarginRankingLoss extends Loss {
  readonly margin: number;

  constructor(opts: LossOptions & { margin?: number } = {}) {
    super(opts);
    this.margin = opts.margin ?? 0;
  }

  override forward(input1: Tensor, input2: Tensor, target: Tensor): Tensor {
    return F.marginRankingLoss(input1, input2, target, {
      margin: this.margin,
      reduction: this.reduction,
    });
  }
}

/**
 * 1 - cos(x1, x2) for y = 1, max(0, cos(x1, x2) - margin) for y = -1.
 *
 * @example
 * new nn.CosineEmbeddingLoss({ margin: 0.2 }).forward(x1, x2, y);
 */
export class CosineEmbeddingLoss extends Loss {
  readonly margin: number;

  constructor(opts: LossOptions & { margin?: number } = {}) {
    super(opts);
    this.margin = opts.margin ?? 0;
  }

  override forward(input1: Tensor, input2: Tensor, target: Tensor): Tensor {
    return F.cosineEmbeddingLoss(input1, input2, target, {
      margin: this.margin,
      reduction: this.reduction,
    });
  }
}

/**
 * max(0, d(a, p) - d(a, n) + margin) with the p-norm distance.
 *
 * @example
 * new nn.TripletMarginLoss({ margin: 1, p: 2 }).forward(anchor, positive, negative);
 */
export class TripletMarginLoss extends Loss {
  readonly margin: number;
  readonly p: number;
  readonly eps: number;
  readonly swap: boolean;

  constructor(
    opts: LossOptions & { margin?: number; p?: number; eps?: number; swap?: boolean } = {},
  ) {
    super(opts);
    this.margin = opts.margin ?? 1;
    this.p = opts.p ?? 2;
    this.eps = opts.eps ?? 1e-6;
    this.swap = opts.swap ?? false;
  }

  override forward(anchor: Tensor, positive: Tensor, negative: Tensor): Tensor {
    return F.tripletMarginLoss(anchor, positive, negative, {
      margin: this.margin,
      p: this.p,
      eps: this.eps,
      swap: this.swap,
      reduction: this.reduction,
    });
  }
}

/**
 * Cosine similarity of x1 and x2 along dim (1), with eps guarding zero norms.
 *
 * @example
 * new nn.CosineSimilarity({ dim: 1 }).forward(a, b);
 */
export class CosineSimilarity extends Module {
  readonly dim: number;
  readonly eps: number;

  constructor(opts: { dim?: number; eps?: number } = {}) {
    super();
    this.dim = opts.dim ?? 1;
    this.eps = opts.eps ?? 1e-8;
  }

  override forward(x1: Tensor, x2: Tensor): Tensor {
    return F.cosineSimilarity(x1, x2, { dim: this.dim, eps: this.eps });
  }
}
