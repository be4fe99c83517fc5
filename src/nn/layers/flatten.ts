// Flatten and Unflatten (torch.nn.Flatten, torch.nn.Unflatten).
import type { Tensor } from "../../tensor/tensor.js";
import { Module } from "../module.js";

/**
 * Flattens dims startDim..endDim into one (default: all but the batch dim).
 *
 * @example
 * new nn.Flatten().forward(fl.zeros([32, 1, 28, 28])).shape; // [32, 784]
 */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;

  constructor(startDim: number | { startDim?: number; endDim?: number } = 1, endDim = -1) {
    super();
    if (typeof startDim === "object") {
      this.startDim = startDim.startDim ?? 1;
      this.endDim = startDim.endDim ?? -1;
    } else {
      this.startDim = startDim;
      this.endDim = endDim;
    }
  }

  override forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

/**
 * Splits dim into the given sizes (one may be -1).
 *
 * @example
 * new nn.Unflatten(1, [2, 5]).forward(fl.zeros([3, 10])).shape; // [3, 2, 5]
 */
export class Unflatten extends Module {
  readonly unflattenedSize: readonly number[];

  constructor(
    readonly dim: number,
    unflattenedSize: readonly number[],
  ) {
    super();
    this.unflattenedSize = [...unflattenedSize];
  }

  override forward(input: Tensor): Tensor {
    return input.unflatten(this.dim, this.unflattenedSize);
  }

  override extraRepr(): string {
    const sizes =
      this.unflattenedSize.length === 1
        ? `(${this.unflattenedSize[0]},)`
        : `(${this.unflattenedSize.join(", ")})`;
    return `dim=${this.dim}, unflattened_size=${sizes}`;
  }
}
