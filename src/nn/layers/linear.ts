// Linear layers: Identity, Linear, Bilinear (torch.nn.modules.linear).
import type { DType } from "../../dtype.js";
import { fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { linear } from "../functional/linear.js";
import * as init from "../init.js";
import { Module, pyBool } from "../module.js";
import { Parameter } from "../parameter.js";

export interface LinearOptions {
  /** Learn an additive bias (true). */
  bias?: boolean;
  dtype?: DType;
  device?: string;
}

function emptyParam(shape: number[], opts: LinearOptions): Parameter {
  return new Parameter(Tensor.zeros(shape, opts.dtype ?? "float32", opts.device ?? "cpu"));
}

/**
 * Returns its input unchanged; a placeholder in architectures.
 *
 * @example
 * new nn.Identity().forward(x) === x; // true
 */
export class Identity extends Module {
  // PyTorch's Identity takes and ignores any arguments.
  constructor(..._args: unknown[]) {
    super();
  }

  override forward(input: Tensor): Tensor {
    return input;
  }
}

/**
 * y = x Wᵀ + b, for input (…, inFeatures) and output (…, outFeatures).
 * weight is [outFeatures, inFeatures]; weight and bias start as
 * U(-1/√inFeatures, 1/√inFeatures), PyTorch's default (kaiming_uniform_ with a = √5).
 *
 * @example
 * const fc = new nn.Linear(4, 8);
 * fc.forward(fl.randn([2, 4])).shape; // [2, 8]
 */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    this.weight = emptyParam([outFeatures, inFeatures], opts);
    this.bias = (opts.bias ?? true) ? emptyParam([outFeatures], opts) : null;
    this.resetParameters();
  }

  /** Draws fresh weights with PyTorch's default initialization. */
  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const [fanIn] = init.calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform_(this.bias, -bound, bound);
    }
  }

  override forward(input: Tensor): Tensor {
    if (input.ndim === 0 || input.shape[input.ndim - 1] !== this.inFeatures) {
      throw new ShapeError(
        `Linear: expected input with last dimension ${this.inFeatures} (in_features), got shape ${fmtShape(input.shape)}`,
      );
    }
    return linear(input, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`;
  }
}

/**
 * y_k = x1ᵀ A_k x2 + b_k, for inputs (…, in1Features) and (…, in2Features)
 * with the same leading dims. weight is [outFeatures, in1Features,
 * in2Features]; weight and bias start as U(-1/√in1Features, 1/√in1Features).
 *
 * @example
 * const bil = new nn.Bilinear(3, 4, 5);
 * bil.forward(fl.randn([2, 3]), fl.randn([2, 4])).shape; // [2, 5]
 */
export class Bilinear extends Module {
  weight: Parameter;
  bias: Parameter | null;

  constructor(
    readonly in1Features: number,
    readonly in2Features: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    this.weight = emptyParam([outFeatures, in1Features, in2Features], opts);
    this.bias = (opts.bias ?? true) ? emptyParam([outFeatures], opts) : null;
    this.resetParameters();
  }

  resetParameters(): void {
    const bound = 1 / Math.sqrt(this.weight.shape[1]!);
    init.uniform_(this.weight, -bound, bound);
    if (this.bias) init.uniform_(this.bias, -bound, bound);
  }

  override forward(input1: Tensor, input2: Tensor): Tensor {
    const lead1 = input1.shape.slice(0, -1);
    const lead2 = input2.shape.slice(0, -1);
    if (input1.ndim === 0 || input1.shape[input1.ndim - 1] !== this.in1Features) {
      throw new ShapeError(
        `Bilinear: expected input1 with last dimension ${this.in1Features} (in1_features), got shape ${fmtShape(input1.shape)}`,
      );
    }
    if (input2.ndim === 0 || input2.shape[input2.ndim - 1] !== this.in2Features) {
      throw new ShapeError(
        `Bilinear: expected input2 with last dimension ${this.in2Features} (in2_features), got shape ${fmtShape(input2.shape)}`,
      );
    }
    if (lead1.length !== lead2.length || lead1.some((d, i) => d !== lead2[i])) {
      throw new ShapeError(
        `Bilinear: input1 and input2 must have the same batch dims, got shapes ${fmtShape(input1.shape)} and ${fmtShape(input2.shape)}`,
      );
    }
    const [out, in1, in2] = [this.outFeatures, this.in1Features, this.in2Features];
    const x1 = input1.reshape([-1, in1]); // (N, in1)
    const x2 = input2.reshape([-1, in2]); // (N, in2)
    // x1 · A as one matmul: A permuted to (in1, out, in2) and flattened to (in1, out·in2).
    const a = this.weight.permute([1, 0, 2]).reshape([in1, out * in2]);
    const t = x1.matmul(a).reshape([-1, out, in2]); // (N, out, in2)
    let y = t.mul(x2.unsqueeze(1)).sum(-1); // (N, out)
    if (this.bias) y = y.add(this.bias);
    return y.reshape([...lead1, out]);
  }

  override extraRepr(): string {
    return `in1_features=${this.in1Features}, in2_features=${this.in2Features}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`;
  }
}
