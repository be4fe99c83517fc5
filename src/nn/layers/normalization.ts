// Normalization layers (torch.nn.modules.batchnorm / normalization /
// instancenorm): BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm1d/2d,
// LocalResponseNorm, with PyTorch's state_dict keys (weight, bias,
// running_mean, running_var, num_batches_tracked).
import { noGrad } from "../../autograd/grad_mode.js";
import type { DType } from "../../dtype.js";
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import {
  batchNorm,
  groupNorm,
  instanceNorm,
  layerNorm,
  localResponseNorm,
} from "../functional/normalization.js";
import { Module, pyBool, pyFloat } from "../module.js";
import { Parameter } from "../parameter.js";

export interface BatchNormLayerOptions {
  eps?: number;
  /** Weight of each new batch in the running statistics (0.1); null for a cumulative average. */
  momentum?: number | null;
  /** Learn a per-channel scale and shift (true). */
  affine?: boolean;
  /** Keep running statistics for eval() (true); without them eval uses batch statistics. */
  trackRunningStats?: boolean;
  dtype?: DType;
  device?: string;
}

/** BatchNorm and InstanceNorm share their parameters, buffers and bookkeeping. */
abstract class NormBase extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  declare num_batches_tracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(
    readonly numFeatures: number,
    opts: BatchNormLayerOptions,
    defaults: { affine: boolean; track: boolean },
  ) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? defaults.affine;
    this.trackRunningStats = opts.trackRunningStats ?? defaults.track;
    const dtype = opts.dtype ?? "float32";
    const device = opts.device ?? "cpu";
    this.weight = this.affine ? new Parameter(Tensor.ones([numFeatures], dtype, device)) : null;
    this.bias = this.affine ? new Parameter(Tensor.zeros([numFeatures], dtype, device)) : null;
    if (this.trackRunningStats) {
      this.registerBuffer("running_mean", Tensor.zeros([numFeatures], dtype, device));
      this.registerBuffer("running_var", Tensor.ones([numFeatures], dtype, device));
      this.registerBuffer("num_batches_tracked", Tensor.zeros([], "int32", device));
    } else {
      this.registerBuffer("running_mean", null);
      this.registerBuffer("running_var", null);
      this.registerBuffer("num_batches_tracked", null);
    }
  }

  /** Zeroes the running mean, sets the running variance to one, and the batch count to zero. */
  resetRunningStats(): void {
    noGrad(() => {
      this.running_mean?.zero_();
      this.running_var?.fill_(1);
      this.num_batches_tracked?.zero_();
    });
  }

  /** Counts a training batch and returns the running-average factor to use (PyTorch's exponential_average_factor). */
  protected averageFactor(): number {
    if (!this.training || !this.trackRunningStats || !this.num_batches_tracked)
      return this.momentum ?? 0;
    noGrad(() => this.num_batches_tracked!.add_(1));
    if (this.momentum === null) return 1 / Number(this.num_batches_tracked.itemSync());
    return this.momentum;
  }

  protected checkChannels(input: Tensor, dims: number[]): void {
    if (!dims.includes(input.ndim)) {
      throw new ShapeError(
        `${this.getName()}: expected ${dims.map((d) => `${d}-d`).join(" or ")} input, got shape ${fmtShape(input.shape)}`,
      );
    }
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${this.momentum === null ? "None" : pyFloat(this.momentum)}, affine=${pyBool(this.affine)}, track_running_stats=${pyBool(this.trackRunningStats)}`;
  }
}

abstract class BatchNormNd extends NormBase {
  constructor(numFeatures: number, opts: BatchNormLayerOptions) {
    super(numFeatures, opts, { affine: true, track: true });
  }

  protected abstract readonly ranks: number[];

  override forward(input: Tensor): Tensor {
    this.checkChannels(input, this.ranks);
    if (input.shape[1] !== this.numFeatures) {
      throw new ShapeError(
        `${this.getName()}: expected ${this.numFeatures} channels (dim 1), got input of shape ${fmtShape(input.shape)}`,
      );
    }
    const factor = this.averageFactor();
    // Batch statistics while training, or always when there are no running ones.
    const useBatch = this.training || !this.running_mean;
    return batchNorm(
      input,
      useBatch && !this.training ? null : this.running_mean,
      useBatch && !this.training ? null : this.running_var,
      {
        weight: this.weight,
        bias: this.bias,
        training: useBatch,
        momentum: factor,
        eps: this.eps,
      },
    );
  }
}

/**
 * Batch normalization over [N, C] or [N, C, L]: per-feature statistics over the batch.
 *
 * @example
 * const bn = new nn.BatchNorm1d(4);
 * bn.forward(fl.randn([8, 4])); // normalized per feature; running stats updated
 * Object.keys(bn.stateDict()); // ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
 */
export class BatchNorm1d extends BatchNormNd {
  protected readonly ranks = [2, 3];

  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super(numFeatures, opts);
  }
}

/**
 * Batch normalization over [N, C, H, W]: per-channel statistics over batch and space.
 *
 * @example
 * new nn.BatchNorm2d(16).forward(fl.randn([4, 16, 8, 8])).shape; // [4, 16, 8, 8]
 */
export class BatchNorm2d extends BatchNormNd {
  protected readonly ranks = [4];

  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super(numFeatures, opts);
  }
}

abstract class InstanceNormNd extends NormBase {
  constructor(numFeatures: number, opts: BatchNormLayerOptions) {
    super(numFeatures, opts, { affine: false, track: false });
  }

  protected abstract readonly ranks: number[];

  override forward(input: Tensor): Tensor {
    this.checkChannels(input, this.ranks);
    const unbatched = input.ndim === this.ranks[0];
    const x = unbatched ? input.unsqueeze(0) : input;
    if (x.shape[1] !== this.numFeatures && this.affine) {
      throw new ShapeError(
        `${this.getName()}: expected ${this.numFeatures} channels (dim 1), got input of shape ${fmtShape(input.shape)}`,
      );
    }
    // PyTorch's InstanceNorm passes its momentum straight through and never counts batches.
    const factor = this.momentum ?? 0.1;
    const useInputStats = this.training || !this.trackRunningStats;
    const y = instanceNorm(x, {
      runningMean: this.running_mean,
      runningVar: this.running_var,
      weight: this.weight,
      bias: this.bias,
      useInputStats,
      momentum: factor,
      eps: this.eps,
    });
    return unbatched ? y.squeeze(0) : y;
  }
}

/**
 * Instance normalization over [N, C, L] (or [C, L]): each sample's channel normalized over its length.
 *
 * @example
 * new nn.InstanceNorm1d(3).forward(fl.randn([2, 3, 10])).shape; // [2, 3, 10]
 */
export class InstanceNorm1d extends InstanceNormNd {
  protected readonly ranks = [2, 3];

  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super(numFeatures, opts);
  }
}

/**
 * Instance normalization over [N, C, H, W] (or [C, H, W]), as in style transfer.
 *
 * @example
 * new nn.InstanceNorm2d(3, { affine: true }).forward(fl.randn([2, 3, 4, 4])).shape; // [2, 3, 4, 4]
 */
export class InstanceNorm2d extends InstanceNormNd {
  protected readonly ranks = [3, 4];

  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super(numFeatures, opts);
  }
}

export interface LayerNormLayerOptions {
  eps?: number;
  /** Learn an elementwise scale and shift of normalizedShape (true). */
  elementwiseAffine?: boolean;
  /** Learn the shift (true; PyTorch 2.1's bias flag). */
  bias?: boolean;
  dtype?: DType;
  device?: string;
}

/**
 * Layer normalization over the trailing normalizedShape dims.
 *
 * @example
 * const ln = new nn.LayerNorm([6]);
 * ln.forward(fl.randn([2, 3, 6])).shape; // [2, 3, 6]
 */
export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormLayerOptions = {}) {
    super();
    this.normalizedShape =
      typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    const dtype = opts.dtype ?? "float32";
    const device = opts.device ?? "cpu";
    this.weight = this.elementwiseAffine
      ? new Parameter(Tensor.ones(this.normalizedShape, dtype, device))
      : null;
    this.bias =
      this.elementwiseAffine && (opts.bias ?? true)
        ? new Parameter(Tensor.zeros(this.normalizedShape, dtype, device))
        : null;
  }

  override forward(input: Tensor): Tensor {
    return layerNorm(input, this.normalizedShape, {
      weight: this.weight,
      bias: this.bias,
      eps: this.eps,
    });
  }

  override extraRepr(): string {
    return `(${this.normalizedShape.join(", ")}${this.normalizedShape.length === 1 ? "," : ""}), eps=${pyFloat(this.eps)}, elementwise_affine=${pyBool(this.elementwiseAffine)}`;
  }
}

export interface GroupNormLayerOptions {
  eps?: number;
  /** Learn a per-channel scale and shift (true). */
  affine?: boolean;
  dtype?: DType;
  device?: string;
}

/**
 * Group normalization: numChannels split into numGroups, each group normalized per sample.
 *
 * @example
 * new nn.GroupNorm(2, 4).forward(fl.randn([2, 4, 3, 3])).shape; // [2, 4, 3, 3]
 */
export class GroupNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly eps: number;
  readonly affine: boolean;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    opts: GroupNormLayerOptions = {},
  ) {
    super();
    if (numChannels % numGroups !== 0) {
      throw new ArgumentError(
        `GroupNorm: num_channels (${numChannels}) must be divisible by num_groups (${numGroups})`,
      );
    }
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? true;
    const dtype = opts.dtype ?? "float32";
    const device = opts.device ?? "cpu";
    this.weight = this.affine ? new Parameter(Tensor.ones([numChannels], dtype, device)) : null;
    this.bias = this.affine ? new Parameter(Tensor.zeros([numChannels], dtype, device)) : null;
  }

  override forward(input: Tensor): Tensor {
    if (input.ndim < 2 || input.shape[1] !== this.numChannels) {
      throw new ShapeError(
        `GroupNorm: expected input [N, ${this.numChannels}, …], got shape ${fmtShape(input.shape)}`,
      );
    }
    return groupNorm(input, this.numGroups, {
      weight: this.weight,
      bias: this.bias,
      eps: this.eps,
    });
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${pyFloat(this.eps)}, affine=${pyBool(this.affine)}`;
  }
}

/**
 * Local response normalization across `size` neighbouring channels.
 *
 * @example
 * new nn.LocalResponseNorm(2).forward(fl.randn([1, 4, 3, 3])).shape; // [1, 4, 3, 3]
 */
export class LocalResponseNorm extends Module {
  readonly alpha: number;
  readonly beta: number;
  readonly k: number;

  constructor(
    readonly size: number,
    opts: { alpha?: number; beta?: number; k?: number } = {},
  ) {
    super();
    this.alpha = opts.alpha ?? 1e-4;
    this.beta = opts.beta ?? 0.75;
    this.k = opts.k ?? 1;
  }

  override forward(input: Tensor): Tensor {
    return localResponseNorm(input, this.size, { alpha: this.alpha, beta: this.beta, k: this.k });
  }

  override extraRepr(): string {
    return `${this.size}, alpha=${pyFloat(this.alpha)}, beta=${pyFloat(this.beta)}, k=${pyFloat(this.k)}`;
  }
}
