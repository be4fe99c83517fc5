// nn.init (torch.nn.init): fill a tensor in place with a chosen distribution.
// Every function runs under noGrad, returns the tensor, and draws from the
// default generator (fl.manualSeed) unless a generator is passed. The random
// draws follow PyTorch's recipes, so the same seed gives PyTorch's values.
import { noGrad } from "../autograd/grad_mode.js";
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import type { Generator } from "../random.js";
import { Tensor } from "../tensor/tensor.js";

export type Nonlinearity =
  | "linear"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "conv_transpose1d"
  | "conv_transpose2d"
  | "conv_transpose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "leakyRelu"
  | "selu";

export type FanMode = "fanIn" | "fanOut" | "fan_in" | "fan_out";

export interface RandomInitOptions {
  generator?: Generator;
}

export interface KaimingOptions extends RandomInitOptions {
  /** The negative slope of the leaky_relu that follows (default 0). */
  a?: number;
  /** Preserve the variance of the forward pass (fanIn, default) or the backward pass (fanOut). */
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

/**
 * The recommended gain for a nonlinearity (torch.nn.init.calculate_gain):
 * 1 for linear/conv/sigmoid, 5/3 for tanh, √2 for relu,
 * √(2 / (1 + slope²)) for leaky_relu (slope defaults to 0.01), 3/4 for selu.
 *
 * @example
 * nn.init.calculateGain("relu"); // 1.4142135623730951
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "conv1d":
    case "conv2d":
    case "conv3d":
    case "conv_transpose1d":
    case "conv_transpose2d":
    case "conv_transpose3d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu":
    case "leakyRelu": {
      const slope = param ?? 0.01;
      if (typeof slope !== "number" || !Number.isFinite(slope)) {
        throw new ArgumentError(
          `calculateGain: negative_slope ${String(param)} is not a valid number`,
        );
      }
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      // Gives the right scale for self-normalizing networks (PyTorch's choice).
      return 3 / 4;
    default:
      throw new ArgumentError(`calculateGain: unsupported nonlinearity ${String(nonlinearity)}`);
  }
}

/**
 * (fanIn, fanOut) of a weight as PyTorch computes them: dim 1 and dim 0
 * times the receptive field (the product of the remaining dims, for convs).
 *
 * @example
 * nn.init.calculateFanInAndFanOut(fl.empty([16, 3, 5, 5])); // [75, 400]
 */
export function calculateFanInAndFanOut(tensor: Tensor): [number, number] {
  if (tensor.ndim < 2) {
    throw new ShapeError(
      `init: fan in and fan out can not be computed for tensor with fewer than 2 dimensions (got shape ${fmtShape(tensor.shape)})`,
    );
  }
  let receptive = 1;
  for (let i = 2; i < tensor.ndim; i++) receptive *= tensor.shape[i]!;
  return [tensor.shape[1]! * receptive, tensor.shape[0]! * receptive];
}

function fanFor(op: string, tensor: Tensor, mode: FanMode): number {
  const [fanIn, fanOut] = calculateFanInAndFanOut(tensor);
  if (mode === "fanIn" || mode === "fan_in") return fanIn;
  if (mode === "fanOut" || mode === "fan_out") return fanOut;
  throw new ArgumentError(
    `${op}: mode ${String(mode)} is not supported, please use one of fanIn, fanOut`,
  );
}

function checkTensor(op: string, tensor: Tensor): void {
  if (!(tensor instanceof Tensor))
    throw new ArgumentError(`${op}: expected a Tensor, got ${typeof tensor}`);
}

/**
 * Fills with U(a, b).
 *
 * @example
 * nn.init.uniform_(fl.empty([3, 5]), -0.1, 0.1);
 */
export function uniform_(tensor: Tensor, a = 0, b = 1, opts: RandomInitOptions = {}): Tensor {
  checkTensor("uniform_", tensor);
  if (!(a <= b)) throw new ArgumentError(`uniform_: expects a <= b, but got a=${a} and b=${b}`);
  return noGrad(() => tensor.uniform_(a, b, opts));
}

/**
 * Fills with N(mean, std²).
 *
 * @example
 * nn.init.normal_(fl.empty([3, 5]), 0, 0.02);
 */
export function normal_(tensor: Tensor, mean = 0, std = 1, opts: RandomInitOptions = {}): Tensor {
  checkTensor("normal_", tensor);
  if (!(std >= 0)) throw new ArgumentError(`normal_: expects std >= 0.0, but found std ${std}`);
  return noGrad(() => tensor.normal_(mean, std, opts));
}

/**
 * Fills with the value.
 *
 * @example
 * nn.init.constant_(fl.empty([3]), 0.3);
 */
export function constant_(tensor: Tensor, val: number): Tensor {
  checkTensor("constant_", tensor);
  return noGrad(() => tensor.fill_(val));
}

/** Fills with 1. @example nn.init.ones_(w); */
export function ones_(tensor: Tensor): Tensor {
  return constant_(tensor, 1);
}

/** Fills with 0. @example nn.init.zeros_(b); */
export function zeros_(tensor: Tensor): Tensor {
  return constant_(tensor, 0);
}

/**
 * Fills a 2-d tensor with the identity (ones on the diagonal).
 *
 * @example
 * nn.init.eye_(fl.empty([3, 5]));
 */
export function eye_(tensor: Tensor): Tensor {
  checkTensor("eye_", tensor);
  if (tensor.ndim !== 2)
    throw new ShapeError(
      `eye_: only tensors with 2 dimensions are supported, got shape ${fmtShape(tensor.shape)}`,
    );
  const [n, m] = tensor.shape as [number, number];
  const a = new Float64Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) a[i * m + i] = 1;
  return fillFrom(tensor, a);
}

/**
 * Xavier/Glorot uniform: U(-b, b) with b = gain·√(6 / (fanIn + fanOut)).
 *
 * @example
 * nn.init.xavierUniform_(fl.empty([3, 5]), nn.init.calculateGain("relu"));
 */
export function xavierUniform_(tensor: Tensor, gain = 1, opts: RandomInitOptions = {}): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(tensor);
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  const bound = Math.sqrt(3) * std;
  return uniform_(tensor, -bound, bound, opts);
}

/**
 * Xavier/Glorot normal: N(0, std²) with std = gain·√(2 / (fanIn + fanOut)).
 *
 * @example
 * nn.init.xavierNormal_(fl.empty([3, 5]));
 */
export function xavierNormal_(tensor: Tensor, gain = 1, opts: RandomInitOptions = {}): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(tensor);
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  return normal_(tensor, 0, std, opts);
}

function kaimingStd(op: string, tensor: Tensor, opts: KaimingOptions): number {
  const fan = fanFor(op, tensor, opts.mode ?? "fanIn");
  const gain = calculateGain(opts.nonlinearity ?? "leaky_relu", opts.a ?? 0);
  return gain / Math.sqrt(fan);
}

/**
 * Kaiming/He uniform: U(-b, b) with b = gain·√(3 / fan). Linear and conv
 * layers use it with a = √5 for their default weights.
 *
 * @example
 * nn.init.kaimingUniform_(fl.empty([3, 5]), { mode: "fanIn", nonlinearity: "relu" });
 */
export function kaimingUniform_(tensor: Tensor, opts: KaimingOptions = {}): Tensor {
  checkTensor("kaimingUniform_", tensor);
  if (tensor.numel() === 0) return tensor;
  const bound = Math.sqrt(3) * kaimingStd("kaimingUniform_", tensor, opts);
  return uniform_(tensor, -bound, bound, opts);
}

/**
 * Kaiming/He normal: N(0, std²) with std = gain / √fan.
 *
 * @example
 * nn.init.kaimingNormal_(fl.empty([3, 5]), { mode: "fanOut", nonlinearity: "relu" });
 */
export function kaimingNormal_(tensor: Tensor, opts: KaimingOptions = {}): Tensor {
  checkTensor("kaimingNormal_", tensor);
  if (tensor.numel() === 0) return tensor;
  return normal_(tensor, 0, kaimingStd("kaimingNormal_", tensor, opts), opts);
}

/**
 * A (semi-)orthogonal matrix, scaled by gain: the Q of the QR decomposition
 * of a standard normal matrix, with R's diagonal made positive (so Q is
 * unique, as in PyTorch). Dims after the first are flattened.
 *
 * @example
 * const w = nn.init.orthogonal_(fl.empty([4, 4]));
 * w.matmul(w.t()); // ≈ eye(4)
 */
export function orthogonal_(tensor: Tensor, gain = 1, opts: RandomInitOptions = {}): Tensor {
  checkTensor("orthogonal_", tensor);
  if (tensor.ndim < 2) {
    throw new ShapeError(
      `orthogonal_: only tensors with 2 or more dimensions are supported, got shape ${fmtShape(tensor.shape)}`,
    );
  }
  if (tensor.numel() === 0) return tensor;
  const rows = tensor.shape[0]!;
  const cols = tensor.numel() / rows;
  const draw = Tensor.zeros(
    [rows, cols],
    tensor.dtype === "float64" ? "float64" : "float32",
  ).normal_(0, 1, opts);
  const flat = Float64Array.from(draw.dataSync());
  // Work on the tall orientation (m ≥ n), transposing a wide matrix as PyTorch does.
  const wide = rows < cols;
  const m = wide ? cols : rows;
  const n = wide ? rows : cols;
  const a = new Float64Array(m * n); // column-major: column j at a[j*m .. j*m+m)
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = flat[i * cols + j]!;
      if (wide)
        a[i * m + j] = v; // element (j, i) of the transpose
      else a[j * m + i] = v;
    }
  }
  const q = gramSchmidtQ(a, m, n);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++)
      out[i * cols + j] = gain * (wide ? q[i * m + j]! : q[j * m + i]!);
  }
  return fillFrom(tensor, out);
}

/**
 * The Q factor (m×n, column-major) of a tall matrix by modified Gram–Schmidt,
 * applied twice per column for stability. Its R has a positive diagonal,
 * which is exactly PyTorch's sign-corrected Householder Q.
 */
function gramSchmidtQ(a: Float64Array, m: number, n: number): Float64Array {
  const q = a.slice();
  for (let j = 0; j < n; j++) {
    const col = q.subarray(j * m, (j + 1) * m);
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        const prev = q.subarray(k * m, (k + 1) * m);
        let dot = 0;
        for (let i = 0; i < m; i++) dot += prev[i]! * col[i]!;
        for (let i = 0; i < m; i++) col[i]! -= dot * prev[i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += col[i]! * col[i]!;
    norm = Math.sqrt(norm);
    // A zero column (probability zero for normal draws) stays zero.
    if (norm > 0) for (let i = 0; i < m; i++) col[i]! /= norm;
  }
  return q;
}

/**
 * Fills with N(mean, std²) truncated to [a, b], by inverting the normal CDF
 * on uniforms drawn between CDF(a) and CDF(b) (PyTorch's method).
 *
 * @example
 * nn.init.truncNormal_(fl.empty([3, 5]), 0, 0.02, -0.04, 0.04);
 */
export function truncNormal_(
  tensor: Tensor,
  mean = 0,
  std = 1,
  a = -2,
  b = 2,
  opts: RandomInitOptions = {},
): Tensor {
  checkTensor("truncNormal_", tensor);
  if (!(a < b)) throw new ArgumentError(`truncNormal_: expects a < b, got a=${a} and b=${b}`);
  if (!(std > 0)) throw new ArgumentError(`truncNormal_: expects std > 0, got ${std}`);
  const normCdf = (x: number) => (1 + erf(x / Math.SQRT2)) / 2;
  const lo = normCdf((a - mean) / std);
  const hi = normCdf((b - mean) / std);
  const u = Tensor.zeros(tensor.shape, tensor.dtype === "float64" ? "float64" : "float32").uniform_(
    2 * lo - 1,
    2 * hi - 1,
    opts,
  );
  const v = Float64Array.from(u.dataSync());
  for (let i = 0; i < v.length; i++) {
    const x = erfinv(v[i]!) * std * Math.SQRT2 + mean;
    v[i] = Math.min(b, Math.max(a, x));
  }
  return fillFrom(tensor, v);
}

/** Copies host values into the tensor (on its own device), under noGrad. */
function fillFrom(tensor: Tensor, values: Float64Array): Tensor {
  const src = Tensor.fromArray(values, tensor.shape, tensor.device, "float64");
  return noGrad(() => tensor.copy_(src));
}

/** The error function in double precision: a series near 0, a continued fraction in the tails. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)).
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  return Math.sign(x) * (1 - erfcLarge(ax));
}

/** erfc(x) for x ≥ 2.5 by its continued fraction (Lentz's method). */
function erfcLarge(x: number): number {
  // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 200; k++) {
    const ak = k / 2;
    d = x + ak * d;
    d = d === 0 ? tiny : d;
    c = x + ak / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** The inverse error function: an initial guess refined by Newton steps on erf. */
function erfinv(y: number): number {
  if (y <= -1) return y === -1 ? Number.NEGATIVE_INFINITY : Number.NaN;
  if (y >= 1) return y === 1 ? Number.POSITIVE_INFINITY : Number.NaN;
  // Giles' single-precision approximation as the starting point.
  const w = -Math.log((1 - y) * (1 + y));
  let x: number;
  if (w < 5) {
    const t = w - 2.5;
    let p = 2.81022636e-8;
    p = 3.43273939e-7 + p * t;
    p = -3.5233877e-6 + p * t;
    p = -4.39150654e-6 + p * t;
    p = 0.00021858087 + p * t;
    p = -0.00125372503 + p * t;
    p = -0.00417768164 + p * t;
    p = 0.246640727 + p * t;
    p = 1.50140941 + p * t;
    x = p * y;
  } else {
    const t = Math.sqrt(w) - 3;
    let p = -0.000200214257;
    p = 0.000100950558 + p * t;
    p = 0.00134934322 + p * t;
    p = -0.00367342844 + p * t;
    p = 0.00573950773 + p * t;
    p = -0.0076224613 + p * t;
    p = 0.00943887047 + p * t;
    p = 1.00167406 + p * t;
    p = 2.83297682 + p * t;
    x = p * y;
  }
  // Newton: x ← x - (erf(x) - y) / (2/√π · e^(-x²)).
  for (let i = 0; i < 2; i++) {
    const err = erf(x) - y;
    x -= err / ((2 / Math.sqrt(Math.PI)) * Math.exp(-x * x));
  }
  return x;
}
