// Activation functions (torch.nn.functional), each an expression over
// Tensor ops so autograd differentiates it, to any order, with no rule of
// its own. Where a branch could overflow (exp of a large input), its input
// is clamped first: the unused branch of a where() still receives a zero
// gradient, and 0 · ∞ would turn that zero into NaN.
import { ArgumentError } from "../../errors.js";
import { normDim } from "../../shape.js";
import type { Tensor } from "../../tensor/tensor.js";
import { fusedGelu } from "./fused.js";

/**
 * max(0, x).
 *
 * @example
 * F.relu(fl.tensor([-1, 2])); // tensor([0., 2.])
 */
export function relu(x: Tensor): Tensor {
  return x.relu();
}

/** min(max(0, x), 6). @example F.relu6(fl.tensor([-1, 7])); // tensor([0., 6.]) */
export function relu6(x: Tensor): Tensor {
  return hardtanh(x, { minVal: 0, maxVal: 6 });
}

export interface HardtanhOptions {
  minVal?: number;
  maxVal?: number;
}

/**
 * x clipped to [minVal, maxVal] (defaults -1, 1); the gradient flows only
 * strictly inside, as PyTorch's.
 *
 * @example
 * F.hardtanh(fl.tensor([-2, 0.5, 3])); // tensor([-1., 0.5, 1.])
 */
export function hardtanh(x: Tensor, opts: HardtanhOptions = {}): Tensor {
  const lo = opts.minVal ?? -1;
  const hi = opts.maxVal ?? 1;
  if (lo > hi)
    throw new ArgumentError(`hardtanh: minVal (${lo}) must not be greater than maxVal (${hi})`);
  return x.where(x.gt(lo).logicalAnd(x.lt(hi)), x.detach().clamp(lo, hi));
}

/** x where x > 0, else negativeSlope · x (default 0.01). @example F.leakyRelu(x, { negativeSlope: 0.2 }) */
export function leakyRelu(x: Tensor, opts: { negativeSlope?: number } = {}): Tensor {
  const slope = opts.negativeSlope ?? 0.01;
  return x.where(x.gt(0), x.mul(slope));
}

/** x where x > 0, else alpha (eˣ - 1) (alpha 1). @example F.elu(x, { alpha: 0.5 }) */
export function elu(x: Tensor, opts: { alpha?: number } = {}): Tensor {
  const alpha = opts.alpha ?? 1;
  return x.where(x.gt(0), x.clamp(null, 0).expm1().mul(alpha));
}

// The fixed point constants of "Self-Normalizing Neural Networks".
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** scale · elu(x, alpha) with the self-normalizing constants. @example F.selu(x) */
export function selu(x: Tensor): Tensor {
  return elu(x, { alpha: SELU_ALPHA }).mul(SELU_SCALE);
}

/** x where x > 0, else alpha (e^(x/alpha) - 1). @example F.celu(x, { alpha: 2 }) */
export function celu(x: Tensor, opts: { alpha?: number } = {}): Tensor {
  const alpha = opts.alpha ?? 1;
  if (alpha === 0) throw new ArgumentError("celu: alpha must not be 0");
  return x.where(x.gt(0), x.clamp(null, 0).div(alpha).expm1().mul(alpha));
}

/**
 * x Φ(x), Φ the standard normal CDF: exact with erf ("none", the
 * default) or with PyTorch's tanh approximation ("tanh").
 *
 * @example
 * F.gelu(x, { approximate: "tanh" });
 */
export function gelu(x: Tensor, opts: { approximate?: "none" | "tanh" } = {}): Tensor {
  const approximate = opts.approximate ?? "none";
  if (approximate === "none" || approximate === "tanh") {
    const fused = fusedGelu(x, approximate);
    if (fused) return fused;
  }
  if (approximate === "tanh") {
    // ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))
    const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(inner.tanh().add(1)).mul(0.5);
  }
  if (approximate !== "none") {
    throw new ArgumentError(
      `gelu: approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}`,
    );
  }
  // ½ x (1 + erf(x / √2))
  return x.mul(x.mul(Math.SQRT1_2).erf().add(1)).mul(0.5);
}

/** x σ(x), also called swish. @example F.silu(x) */
export function silu(x: Tensor): Tensor {
  return x.mul(x.sigmoid());
}

/** x tanh(softplus(x)). @example F.mish(x) */
export function mish(x: Tensor): Tensor {
  return x.mul(softplus(x).tanh());
}

/** 1 / (1 + e⁻ˣ). @example F.sigmoid(x) */
export function sigmoid(x: Tensor): Tensor {
  return x.sigmoid();
}

/** @example F.tanh(x) */
export function tanh(x: Tensor): Tensor {
  return x.tanh();
}

/**
 * log(1 + e^(beta x)) / beta, and x itself where beta x > threshold
 * (defaults beta 1, threshold 20), as PyTorch.
 *
 * @example
 * F.softplus(x, { beta: 2 });
 */
export function softplus(x: Tensor, opts: { beta?: number; threshold?: number } = {}): Tensor {
  const beta = opts.beta ?? 1;
  const threshold = opts.threshold ?? 20;
  const z = beta === 1 ? x : x.mul(beta);
  const soft = stableSoftplus(z);
  return x.where(z.gt(threshold), beta === 1 ? soft : soft.div(beta));
}

/**
 * log(1 + eᶻ) = max(z, 0) + log(1 + e^-|z|), which never overflows. At
 * z = 0 maximum() splits its gradient ½ and |z| contributes 0, giving
 * σ(0) = ½ exactly.
 */
export function stableSoftplus(z: Tensor): Tensor {
  return z.maximum(0).add(z.abs().neg().exp().log1p());
}

/** x / (1 + |x|). @example F.softsign(x) */
export function softsign(x: Tensor): Tensor {
  return x.div(x.abs().add(1));
}

/** relu6(x + 3) / 6. @example F.hardsigmoid(x) */
export function hardsigmoid(x: Tensor): Tensor {
  return relu6(x.add(3)).div(6);
}

/** x · relu6(x + 3) / 6. @example F.hardswish(x) */
export function hardswish(x: Tensor): Tensor {
  return x.mul(hardsigmoid(x));
}

/** log σ(x) = -softplus(-x), computed stably. @example F.logsigmoid(x) */
export function logsigmoid(x: Tensor): Tensor {
  return stableSoftplus(x.neg()).neg();
}

/** x - tanh(x). @example F.tanhshrink(x) */
export function tanhshrink(x: Tensor): Tensor {
  return x.sub(x.tanh());
}

/** x where |x| > lambd (0.5), else 0. @example F.hardshrink(x, { lambd: 0.3 }) */
export function hardshrink(x: Tensor, opts: { lambd?: number } = {}): Tensor {
  const lambd = opts.lambd ?? 0.5;
  return x.where(x.abs().gt(lambd), 0);
}

/** x - lambd·sign(x) where |x| > lambd (0.5), else 0. @example F.softshrink(x) */
export function softshrink(x: Tensor, opts: { lambd?: number } = {}): Tensor {
  const lambd = opts.lambd ?? 0.5;
  return x.sub(x.sign().mul(lambd)).where(x.abs().gt(lambd), 0);
}

/** x where x > threshold, else value. @example F.threshold(x, 0.1, 20) */
export function threshold(x: Tensor, threshold: number, value: number): Tensor {
  return x.where(x.gt(threshold), value);
}

/**
 * max(0, x) + weight · min(0, x), weight with one slope or one per
 * channel (dim 1).
 *
 * @example
 * F.prelu(x, fl.tensor([0.25]));
 */
export function prelu(x: Tensor, weight: Tensor): Tensor {
  const w =
    x.ndim >= 2 && weight.numel() > 1
      ? weight.reshape([-1, ...new Array<number>(x.ndim - 2).fill(1)])
      : weight;
  if (weight.numel() > 1 && (x.ndim < 2 || x.shape[1] !== weight.numel())) {
    throw new ArgumentError(
      `prelu: weight has ${weight.numel()} elements but the input has ${x.ndim < 2 ? "no channel dimension" : `${x.shape[1]} channels`}`,
    );
  }
  return x.where(x.gt(0), x.mul(w));
}

/**
 * Gated linear unit: splits x in two halves a, b along dim (-1) and
 * returns a · σ(b).
 *
 * @example
 * F.glu(fl.randn([4, 6])); // shape [4, 3]
 */
export function glu(x: Tensor, dim: number | { dim?: number } = -1): Tensor {
  const d = normDim("glu", typeof dim === "number" ? dim : (dim.dim ?? -1), x.ndim);
  const n = x.shape[d]!;
  if (n % 2 !== 0) {
    throw new ArgumentError(`glu: halving dimension must be even, but dimension ${d} is size ${n}`);
  }
  const [a, b] = x.chunk(2, d) as [Tensor, Tensor];
  return a.mul(b.sigmoid());
}
