// Dropout as a module (torch.nn.Dropout): active in training mode only.
import { ArgumentError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import * as F from "../functional/index.js";
import { Module, pyBool, pyFloat } from "../module.js";

/**
 * Zeroes each element with probability p while training and scales the
 * rest by 1 / (1 - p); the identity after eval().
 *
 * @example
 * const drop = new nn.Dropout(0.2);
 * drop.forward(x); // training: some zeros, the rest scaled by 1.25
 * drop.eval().forward(x); // x unchanged
 */
export class Dropout extends Module {
  readonly p: number;
  readonly inplace: boolean;

  constructor(p: number | { p?: number; inplace?: boolean } = 0.5, inplace = false) {
    super();
    const prob = typeof p === "number" ? p : (p.p ?? 0.5);
    if (typeof prob !== "number" || !(prob >= 0 && prob <= 1)) {
      throw new ArgumentError(
        `Dropout: dropout probability has to be between 0 and 1, but got ${prob}`,
      );
    }
    this.p = prob;
    this.inplace = typeof p === "number" ? inplace : (p.inplace ?? false);
  }

  override forward(input: Tensor): Tensor {
    return F.dropout(input, { p: this.p, training: this.training });
  }

  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=${pyBool(this.inplace)}`;
  }
}
