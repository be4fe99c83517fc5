// Upsampling layer (torch.nn.Upsample): nearest or (bi)linear resizing.
import type { Tensor } from "../../tensor/tensor.js";
import {
  type InterpolateMode,
  type InterpolateOptions,
  interpolate,
} from "../functional/upsample.js";
import { Module } from "../module.js";

/**
 * Resizes [N, C, L] or [N, C, H, W] inputs by a size or a scale factor.
 *
 * @example
 * const up = new nn.Upsample({ scaleFactor: 2, mode: "bilinear", alignCorners: false });
 * up.forward(fl.randn([1, 3, 4, 4])).shape; // [1, 3, 8, 8]
 */
export class Upsample extends Module {
  readonly size: number | readonly number[] | null;
  readonly scaleFactor: number | readonly number[] | null;
  readonly mode: InterpolateMode;
  readonly alignCorners: boolean | null;

  constructor(opts: InterpolateOptions = {}) {
    super();
    this.size = opts.size ?? null;
    this.scaleFactor = opts.scaleFactor ?? null;
    this.mode = opts.mode ?? "nearest";
    this.alignCorners = opts.alignCorners ?? null;
  }

  override forward(input: Tensor): Tensor {
    return interpolate(input, {
      size: this.size,
      scaleFactor: this.scaleFactor,
      mode: this.mode,
      alignCorners: this.alignCorners,
    });
  }

  override extraRepr(): string {
    const s =
      this.scaleFactor === null
        ? `size=${JSON.stringify(this.size)}`
        : `scale_factor=${JSON.stringify(this.scaleFactor)}`;
    return `${s}, mode='${this.mode}'`;
  }
}
