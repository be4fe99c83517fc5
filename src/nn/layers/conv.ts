// Convolution layers: Conv1d, Conv2d, ConvTranspose2d (torch.nn.modules.conv).
import type { DType } from "../../dtype.js";
import { ArgumentError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { conv1d, conv2d, convTranspose2d, pair, type Size2 } from "../functional/conv.js";
import { type PaddingMode, pad } from "../functional/padding.js";
import * as init from "../init.js";
import { Module, pyBool } from "../module.js";
import { Parameter } from "../parameter.js";

export interface ConvLayerOptions {
  stride?: Size2;
  /** A size per side, or "same" / "valid" (0). */
  padding?: Size2 | "same" | "valid";
  dilation?: Size2;
  groups?: number;
  /** Learn an additive bias (true). */
  bias?: boolean;
  /** How to fill the padding: "zeros" (default), "reflect", "replicate" or "circular". */
  paddingMode?: PaddingMode;
  dtype?: DType;
  device?: string;
}

const MODES: readonly string[] = ["zeros", "reflect", "replicate", "circular"];

function tuple(v: readonly number[]): string {
  return `(${v.join(", ")}${v.length === 1 ? "," : ""})`;
}

/** Shared by the conv layers: parameters, PyTorch's default initialization, repr. */
abstract class ConvNd extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[] | "same" | "valid";
  readonly dilation: number[];
  readonly groups: number;
  readonly paddingMode: PaddingMode;

  constructor(
    op: string,
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Size2,
    nd: number,
    transposed: boolean,
    opts: ConvLayerOptions,
  ) {
    super();
    this.groups = opts.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups < 1)
      throw new ArgumentError(`${op}: groups must be a positive integer, got ${this.groups}`);
    if (inChannels % this.groups !== 0)
      throw new ArgumentError(
        `${op}: in_channels (${inChannels}) must be divisible by groups (${this.groups})`,
      );
    if (outChannels % this.groups !== 0)
      throw new ArgumentError(
        `${op}: out_channels (${outChannels}) must be divisible by groups (${this.groups})`,
      );
    this.paddingMode = opts.paddingMode ?? "zeros";
    if (!MODES.includes(this.paddingMode)) {
      throw new ArgumentError(
        `${op}: paddingMode must be one of ${MODES.join(", ")}, got "${this.paddingMode}"`,
      );
    }
    this.kernelSize = pair(op, "kernelSize", kernelSize, nd);
    this.stride = pair(op, "stride", opts.stride ?? 1, nd);
    this.dilation = pair(op, "dilation", opts.dilation ?? 1, nd);
    const p = opts.padding ?? 0;
    this.padding = typeof p === "string" ? p : pair(op, "padding", p, nd);
    if (typeof p === "string" && p !== "same" && p !== "valid")
      throw new ArgumentError(
        `${op}: invalid padding string "${p}", should be one of "valid", "same"`,
      );
    if (p === "same" && this.stride.some((s) => s !== 1))
      throw new ArgumentError(`${op}: padding='same' is not supported for strided convolutions`);
    const shape = transposed
      ? [inChannels, outChannels / this.groups, ...this.kernelSize]
      : [outChannels, inChannels / this.groups, ...this.kernelSize];
    const dtype = opts.dtype ?? "float32";
    const device = opts.device ?? "cpu";
    this.weight = new Parameter(Tensor.zeros(shape, dtype, device));
    this.bias =
      (opts.bias ?? true) ? new Parameter(Tensor.zeros([outChannels], dtype, device)) : null;
    this.resetParameters();
  }

  /** PyTorch's default: kaiming_uniform_(a = √5) for the weight, U(±1/√fanIn) for the bias. */
  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const [fanIn] = init.calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform_(this.bias, -bound, bound);
    }
  }

  /** Pads explicitly for the non-zero padding modes; returns the input and the padding left for the conv. */
  protected padInput(input: Tensor): [Tensor, number[] | "same" | "valid"] {
    if (this.paddingMode === "zeros" || this.padding === "valid") return [input, this.padding];
    const nd = this.kernelSize.length;
    const spec: number[] = [];
    // F.pad lists the last dimension first.
    for (let d = nd - 1; d >= 0; d--) {
      if (this.padding === "same") {
        const total = this.dilation[d]! * (this.kernelSize[d]! - 1);
        spec.push(Math.floor(total / 2), total - Math.floor(total / 2));
      } else spec.push(this.padding[d]!, this.padding[d]!);
    }
    return [pad(input, spec, { mode: this.paddingMode }), new Array<number>(nd).fill(0)];
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${tuple(this.kernelSize)}, stride=${tuple(this.stride)}`;
    if (typeof this.padding === "string") s += `, padding=${this.padding}`;
    else if (this.padding.some((p) => p !== 0)) s += `, padding=${tuple(this.padding)}`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${tuple(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += `, bias=${pyBool(false)}`;
    if (this.paddingMode !== "zeros") s += `, padding_mode=${this.paddingMode}`;
    return s;
  }
}

/**
 * 2-D convolution over [N, C, H, W]: weight [out, in/groups, kh, kw], bias [out].
 *
 * @example
 * const conv = new nn.Conv2d(1, 6, 5, { padding: 2 });
 * conv.forward(fl.randn([8, 1, 28, 28])).shape; // [8, 6, 28, 28]
 */
export class Conv2d extends ConvNd {
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Size2,
    opts: ConvLayerOptions = {},
  ) {
    super("Conv2d", inChannels, outChannels, kernelSize, 2, false, opts);
  }

  override forward(input: Tensor): Tensor {
    const [x, padding] = this.padInput(input);
    return conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}

/**
 * 1-D convolution over [N, C, L]: weight [out, in/groups, k], bias [out].
 *
 * @example
 * new nn.Conv1d(3, 5, 3, { padding: 1 }).forward(fl.randn([2, 3, 9])).shape; // [2, 5, 9]
 */
export class Conv1d extends ConvNd {
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Size2,
    opts: ConvLayerOptions = {},
  ) {
    super("Conv1d", inChannels, outChannels, kernelSize, 1, false, opts);
  }

  override forward(input: Tensor): Tensor {
    const [x, padding] = this.padInput(input);
    return conv1d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: typeof padding === "string" ? padding : padding[0]!,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}

export interface ConvTransposeLayerOptions {
  stride?: Size2;
  padding?: Size2;
  outputPadding?: Size2;
  groups?: number;
  bias?: boolean;
  dilation?: Size2;
  dtype?: DType;
  device?: string;
}

/**
 * Transposed 2-D convolution ("deconvolution"), the adjoint of Conv2d:
 * weight [in, out/groups, kh, kw]. Used to upsample feature maps.
 *
 * @example
 * const up = new nn.ConvTranspose2d(3, 2, 3, { stride: 2, padding: 1, outputPadding: 1 });
 * up.forward(fl.randn([1, 3, 4, 4])).shape; // [1, 2, 8, 8]
 */
export class ConvTranspose2d extends ConvNd {
  readonly outputPadding: number[];

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Size2,
    opts: ConvTransposeLayerOptions = {},
  ) {
    super("ConvTranspose2d", inChannels, outChannels, kernelSize, 2, true, {
      stride: opts.stride,
      padding: opts.padding,
      dilation: opts.dilation,
      groups: opts.groups,
      bias: opts.bias,
      dtype: opts.dtype,
      device: opts.device,
    });
    this.outputPadding = pair("ConvTranspose2d", "outputPadding", opts.outputPadding ?? 0);
  }

  override forward(input: Tensor): Tensor {
    return convTranspose2d(input, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding as number[],
      outputPadding: this.outputPadding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }

  override extraRepr(): string {
    const s = super.extraRepr();
    return this.outputPadding.some((p) => p !== 0)
      ? `${s}, output_padding=${tuple(this.outputPadding)}`
      : s;
  }
}
