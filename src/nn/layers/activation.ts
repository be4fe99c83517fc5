// Activation modules (torch.nn.modules.activation). Each holds its options
// and calls the nn.functional form, so the math lives in one place.
import type { Tensor } from "../../tensor/tensor.js";
import * as F from "../functional/index.js";
import { Module, pyFloat } from "../module.js";

/** Lets an option be passed positionally (PyTorch style) or in an options object. */
function opt<K extends string>(
  arg: number | { [k in K]?: number } | undefined,
  key: K,
  fallback: number,
): number {
  if (typeof arg === "number") return arg;
  return arg?.[key] ?? fallback;
}

/** max(0, x). @example new nn.ReLU().forward(fl.tensor([-1, 2])); // tensor([0., 2.]) */
export class ReLU extends Module {
  override forward(input: Tensor): Tensor {
    return F.relu(input);
  }
}

/** min(max(0, x), 6). @example new nn.ReLU6().forward(fl.tensor([-1, 7])); // tensor([0., 6.]) */
export class ReLU6 extends Module {
  override forward(input: Tensor): Tensor {
    return F.relu6(input);
  }
}

/**
 * x for x > 0, else negativeSlope · x (default 0.01).
 *
 * @example
 * new nn.LeakyReLU(0.2).forward(fl.tensor([-1, 2])); // tensor([-0.2, 2.])
 */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;

  constructor(negativeSlope: number | { negativeSlope?: number } = 0.01) {
    super();
    this.negativeSlope = opt(negativeSlope, "negativeSlope", 0.01);
  }

  override forward(input: Tensor): Tensor {
    return F.leakyRelu(input, { negativeSlope: this.negativeSlope });
  }

  override extraRepr(): string {
    return `negative_slope=${pyFloat(this.negativeSlope)}`;
  }
}

/**
 * x for x > 0, else alpha · (eˣ - 1) (default alpha 1).
 *
 * @example
 * new nn.ELU(0.5).forward(x);
 */
export class ELU extends Module {
  readonly alpha: number;

  constructor(alpha: number | { alpha?: number } = 1) {
    super();
    this.alpha = opt(alpha, "alpha", 1);
  }

  override forward(input: Tensor): Tensor {
    return F.elu(input, { alpha: this.alpha });
  }

  override extraRepr(): string {
    return `alpha=${pyFloat(this.alpha)}`;
  }
}

/** scale · ELU(x, alpha) with the self-normalizing constants. @example new nn.SELU().forward(x); */
export class SELU extends Module {
  override forward(input: Tensor): Tensor {
    return F.selu(input);
  }
}

/**
 * x · Φ(x), exact (erf) or with the tanh approximation.
 *
 * @example
 * new nn.GELU({ approximate: "tanh" }).forward(x);
 */
export class GELU extends Module {
  readonly approximate: "none" | "tanh";

  constructor(opts: { approximate?: "none" | "tanh" } = {}) {
    super();
    this.approximate = opts.approximate ?? "none";
  }

  override forward(input: Tensor): Tensor {
    return F.gelu(input, { approximate: this.approximate });
  }

  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** x · σ(x) (swish). @example new nn.SiLU().forward(x); */
export class SiLU extends Module {
  override forward(input: Tensor): Tensor {
    return F.silu(input);
  }
}

/** x · tanh(softplus(x)). @example new nn.Mish().forward(x); */
export class Mish extends Module {
  override forward(input: Tensor): Tensor {
    return F.mish(input);
  }
}

/** 1 / (1 + e⁻ˣ). @example new nn.Sigmoid().forward(x); */
export class Sigmoid extends Module {
  override forward(input: Tensor): Tensor {
    return F.sigmoid(input);
  }
}

/** tanh(x). @example new nn.Tanh().forward(x); */
export class Tanh extends Module {
  override forward(input: Tensor): Tensor {
    return F.tanh(input);
  }
}

/**
 * log(1 + e^(βx)) / β, linear above the threshold (β = 1, threshold 20).
 *
 * @example
 * new nn.Softplus({ beta: 2, threshold: 10 }).forward(x);
 */
export class Softplus extends Module {
  readonly beta: number;
  readonly threshold: number;

  constructor(opts: { beta?: number; threshold?: number } = {}) {
    super();
    this.beta = opts.beta ?? 1;
    this.threshold = opts.threshold ?? 20;
  }

  override forward(input: Tensor): Tensor {
    return F.softplus(input, { beta: this.beta, threshold: this.threshold });
  }

  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

/**
 * Softmax along dim: each slice sums to 1.
 *
 * @example
 * new nn.Softmax(1).forward(fl.randn([2, 3])).sum(1); // tensor([1., 1.])
 */
export class Softmax extends Module {
  readonly dim: number | null;

  constructor(dim: number | { dim?: number } | null = null) {
    super();
    this.dim = typeof dim === "object" && dim !== null ? (dim.dim ?? null) : dim;
  }

  override forward(input: Tensor): Tensor {
    return F.softmax(input, implicitDim(this.dim, input));
  }

  override extraRepr(): string {
    return `dim=${this.dim === null ? "None" : this.dim}`;
  }
}

/**
 * log(softmax(x)) along dim, computed stably.
 *
 * @example
 * new nn.LogSoftmax(1).forward(logits);
 */
export class LogSoftmax extends Module {
  readonly dim: number | null;

  constructor(dim: number | { dim?: number } | null = null) {
    super();
    this.dim = typeof dim === "object" && dim !== null ? (dim.dim ?? null) : dim;
  }

  override forward(input: Tensor): Tensor {
    return F.logSoftmax(input, implicitDim(this.dim, input));
  }

  override extraRepr(): string {
    return `dim=${this.dim === null ? "None" : this.dim}`;
  }
}

/** PyTorch's legacy rule when no dim is given: 0 for 0-, 1- and 3-d inputs, else 1. */
function implicitDim(dim: number | null, input: Tensor): number {
  if (dim !== null) return dim;
  return input.ndim === 0 || input.ndim === 1 || input.ndim === 3 ? 0 : 1;
}

/** x / (1 + |x|). @example new nn.Softsign().forward(x); */
export class Softsign extends Module {
  override forward(input: Tensor): Tensor {
    return F.softsign(input);
  }
}

/**
 * x clipped to [minVal, maxVal] (default [-1, 1]).
 *
 * @example
 * new nn.Hardtanh(-2, 2).forward(x);
 */
export class Hardtanh extends Module {
  readonly minVal: number;
  readonly maxVal: number;

  constructor(minVal: number | { minVal?: number; maxVal?: number } = -1, maxVal = 1) {
    super();
    if (typeof minVal === "object") {
      this.minVal = minVal.minVal ?? -1;
      this.maxVal = minVal.maxVal ?? 1;
    } else {
      this.minVal = minVal;
      this.maxVal = maxVal;
    }
  }

  override forward(input: Tensor): Tensor {
    return F.hardtanh(input, { minVal: this.minVal, maxVal: this.maxVal });
  }

  override extraRepr(): string {
    return `min_val=${pyFloat(this.minVal)}, max_val=${pyFloat(this.maxVal)}`;
  }
}

/** x · relu6(x + 3) / 6. @example new nn.Hardswish().forward(x); */
export class Hardswish extends Module {
  override forward(input: Tensor): Tensor {
    return F.hardswish(input);
  }
}
