// Pooling layers (torch.nn.modules.pooling): MaxPool1d/2d, AvgPool1d/2d,
// AdaptiveAvgPool2d, AdaptiveMaxPool2d. No parameters; thin wrappers over
// the functional forms.
import type { Tensor } from "../../tensor/tensor.js";
import type { Size2 } from "../functional/conv.js";
import {
  type AdaptiveSize,
  adaptiveAvgPool2d,
  adaptiveMaxPool2dWithIndices,
  avgPool1d,
  avgPool2d,
  maxPool1dWithIndices,
  maxPool2dWithIndices,
} from "../functional/pooling.js";
import { Module, pyBool } from "../module.js";

export interface MaxPoolLayerOptions {
  stride?: Size2 | null;
  padding?: Size2;
  dilation?: Size2;
  /** Also return the positions of the maxima: forward gives [values, indices]. */
  returnIndices?: boolean;
  ceilMode?: boolean;
}

function fmt(v: Size2 | null | undefined): string {
  return typeof v === "number" || v === null || v === undefined
    ? String(v ?? "None")
    : `(${v.join(", ")})`;
}

abstract class MaxPoolNd extends Module {
  readonly stride: Size2;
  readonly padding: Size2;
  readonly dilation: Size2;
  readonly returnIndices: boolean;
  readonly ceilMode: boolean;

  constructor(
    readonly kernelSize: Size2,
    opts: MaxPoolLayerOptions,
  ) {
    super();
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.returnIndices = opts.returnIndices ?? false;
    this.ceilMode = opts.ceilMode ?? false;
  }

  override extraRepr(): string {
    return `kernel_size=${fmt(this.kernelSize)}, stride=${fmt(this.stride)}, padding=${fmt(this.padding)}, dilation=${fmt(this.dilation)}, ceil_mode=${pyBool(this.ceilMode)}`;
  }
}

/**
 * 2-D max pooling. With returnIndices, forward returns [values, indices].
 *
 * @example
 * new nn.MaxPool2d(2).forward(fl.randn([1, 6, 28, 28])).shape; // [1, 6, 14, 14]
 */
export class MaxPool2d extends MaxPoolNd {
  constructor(kernelSize: Size2, opts: MaxPoolLayerOptions = {}) {
    super(kernelSize, opts);
  }

  override forward(input: Tensor): Tensor | [Tensor, Tensor] {
    const r = maxPool2dWithIndices(input, this.kernelSize, this);
    return this.returnIndices ? r : r[0];
  }
}

/**
 * 1-D max pooling over [N, C, L].
 *
 * @example
 * new nn.MaxPool1d(2).forward(fl.randn([2, 3, 8])).shape; // [2, 3, 4]
 */
export class MaxPool1d extends MaxPoolNd {
  constructor(kernelSize: number, opts: MaxPoolLayerOptions = {}) {
    super(kernelSize, opts);
  }

  override forward(input: Tensor): Tensor | [Tensor, Tensor] {
    const r = maxPool1dWithIndices(input, this.kernelSize as number, this);
    return this.returnIndices ? r : r[0];
  }
}

export interface AvgPoolLayerOptions {
  stride?: Size2 | null;
  padding?: Size2;
  ceilMode?: boolean;
  /** Count padded zeros in the average (true). */
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

abstract class AvgPoolNd extends Module {
  readonly stride: Size2;
  readonly padding: Size2;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;

  constructor(
    readonly kernelSize: Size2,
    opts: AvgPoolLayerOptions,
  ) {
    super();
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.ceilMode = opts.ceilMode ?? false;
    this.countIncludePad = opts.countIncludePad ?? true;
    this.divisorOverride = opts.divisorOverride ?? null;
  }

  override extraRepr(): string {
    return `kernel_size=${fmt(this.kernelSize)}, stride=${fmt(this.stride)}, padding=${fmt(this.padding)}`;
  }
}

/**
 * 2-D average pooling.
 *
 * @example
 * new nn.AvgPool2d(3, { stride: 2, padding: 1 }).forward(fl.randn([2, 2, 7, 7])).shape; // [2, 2, 4, 4]
 */
export class AvgPool2d extends AvgPoolNd {
  constructor(kernelSize: Size2, opts: AvgPoolLayerOptions = {}) {
    super(kernelSize, opts);
  }

  override forward(input: Tensor): Tensor {
    return avgPool2d(input, this.kernelSize, this);
  }
}

/**
 * 1-D average pooling over [N, C, L].
 *
 * @example
 * new nn.AvgPool1d(2).forward(fl.randn([2, 3, 8])).shape; // [2, 3, 4]
 */
export class AvgPool1d extends AvgPoolNd {
  constructor(kernelSize: number, opts: AvgPoolLayerOptions = {}) {
    super(kernelSize, opts);
  }

  override forward(input: Tensor): Tensor {
    return avgPool1d(input, this.kernelSize as number, this);
  }
}

/**
 * Average pooling to a fixed output size (null keeps a dimension).
 *
 * @example
 * new nn.AdaptiveAvgPool2d([1, 1]).forward(fl.randn([2, 64, 7, 7])).shape; // [2, 64, 1, 1]
 */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: AdaptiveSize) {
    super();
  }

  override forward(input: Tensor): Tensor {
    return adaptiveAvgPool2d(input, this.outputSize);
  }

  override extraRepr(): string {
    return `output_size=${JSON.stringify(this.outputSize)}`;
  }
}

/**
 * Max pooling to a fixed output size; with returnIndices, forward returns [values, indices].
 *
 * @example
 * new nn.AdaptiveMaxPool2d(2).forward(fl.randn([1, 3, 5, 5])).shape; // [1, 3, 2, 2]
 */
export class AdaptiveMaxPool2d extends Module {
  readonly returnIndices: boolean;

  constructor(
    readonly outputSize: AdaptiveSize,
    opts: { returnIndices?: boolean } = {},
  ) {
    super();
    this.returnIndices = opts.returnIndices ?? false;
  }

  override forward(input: Tensor): Tensor | [Tensor, Tensor] {
    const r = adaptiveMaxPool2dWithIndices(input, this.outputSize);
    return this.returnIndices ? r : r[0];
  }

  override extraRepr(): string {
    return `output_size=${JSON.stringify(this.outputSize)}`;
  }
}
