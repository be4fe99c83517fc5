// Channel dropout (torch.nn.Dropout2d): whole feature maps dropped together.
import { ArgumentError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { featureDropout } from "../functional/dropout.js";
import { Module, pyBool, pyFloat } from "../module.js";

/**
 * Zeroes each channel of [N, C, H, W] with probability p while training
 * (scaling the rest by 1 / (1 - p)); neighbouring pixels are correlated, so
 * dropping single pixels would barely regularize a conv net.
 *
 * @example
 * new nn.Dropout2d(0.25).forward(fl.ones([2, 8, 4, 4])); // some channels all zero
 */
export class Dropout2d extends Module {
  readonly p: number;
  readonly inplace: boolean;

  constructor(p = 0.5, inplace = false) {
    super();
    if (!(p >= 0 && p <= 1))
      throw new ArgumentError(
        `Dropout2d: dropout probability has to be between 0 and 1, but got ${p}`,
      );
    this.p = p;
    this.inplace = inplace;
  }

  override forward(input: Tensor): Tensor {
    return featureDropout(input, { p: this.p, training: this.training });
  }

  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=${pyBool(this.inplace)}`;
  }
}
