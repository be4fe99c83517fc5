import { allocArray, checkDType, type DType, isFloating, type TypedArray } from "../dtype.js";
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import { defaultGenerator, fillNormal, fillUniform, type Generator } from "../random.js";
import { checkShape, numel } from "../shape.js";
import { type NestedArray, Tensor } from "./tensor.js";

export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  let out = t;
  if (opts.device && opts.device !== out.device) out = out.to(opts.device);
  if (opts.requiresGrad) out.requiresGrad_(true);
  return out;
}

function shapeArg(op: string, shape: number | readonly number[]): number[] {
  return checkShape(op, typeof shape === "number" ? [shape] : shape);
}

/** Infers the shape of a nested array, checking that it is not ragged. */
function nestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0]!;
  }
  return shape;
}

function flatten(data: NestedArray, shape: readonly number[], out: TypedArray): void {
  let k = 0;
  let sawBool = false;
  let sawNumber = false;
  const walk = (v: NestedArray, dim: number) => {
    if (dim === shape.length) {
      if (Array.isArray(v)) {
        throw new ShapeError(
          `tensor: too many nested lists at dimension ${dim} (expected a number, shape ${fmtShape(shape)})`,
        );
      }
      if (typeof v === "boolean") sawBool = true;
      else if (typeof v === "number") sawNumber = true;
      else
        throw new ArgumentError(
          `tensor: expected numbers or booleans, got ${typeof v} (${String(v)})`,
        );
      out[k++] = typeof v === "boolean" ? (v ? 1 : 0) : v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      throw new ShapeError(
        `tensor: expected a sequence of length ${shape[dim]} at dimension ${dim} (got ${Array.isArray(v) ? v.length : typeof v}); nested lists must not be ragged`,
      );
    }
    for (const e of v) walk(e, dim + 1);
  };
  walk(data, 0);
  if (sawBool && sawNumber) {
    // Mixed booleans and numbers are allowed (True counts as 1), as in PyTorch.
  }
}

function containsOnlyBools(data: NestedArray): boolean {
  if (Array.isArray(data)) return data.length > 0 && data.every(containsOnlyBools);
  return typeof data === "boolean";
}

/**
 * Creates a tensor from nested arrays, a typed array or a scalar.
 * JS numbers cannot tell 1 from 1.0, so numbers give float32 unless a
 * dtype is passed; booleans give bool; typed arrays keep their type.
 *
 * @example
 * const x = fl.tensor([[1, 2], [3, 4]], { requiresGrad: true });
 */
export function tensor(data: NestedArray | TypedArray, opts: TensorOptions = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray;
    const dt = opts.dtype ? checkDType("tensor", opts.dtype) : undefined;
    let t = Tensor.fromArray(arr.slice() as TypedArray, [arr.length]);
    if (dt && dt !== t.dtype) t = t.to(dt);
    return finish(t, opts);
  }
  const shape = typeof data === "number" || typeof data === "boolean" ? [] : nestedShape(data);
  const dtype = opts.dtype
    ? checkDType("tensor", opts.dtype)
    : containsOnlyBools(data)
      ? "bool"
      : "float32";
  const values = new Float64Array(numel(shape));
  flatten(data, shape, values);
  const out = allocArray(dtype, values.length);
  if (dtype === "bool") for (let i = 0; i < values.length; i++) out[i] = values[i] !== 0 ? 1 : 0;
  else out.set(values as never);
  return finish(Tensor.fromArray(out, shape, "cpu", dtype), opts);
}

/** A tensor over existing values with a given shape (no copy). */
export function fromArray(
  data: TypedArray,
  shape: readonly number[],
  opts: TensorOptions = {},
): Tensor {
  return finish(Tensor.fromArray(data, shape), opts);
}

export function scalarTensor(v: number | boolean, opts: TensorOptions = {}): Tensor {
  return finish(
    Tensor.scalar(v, opts.dtype ?? (typeof v === "boolean" ? "bool" : "float32")),
    opts,
  );
}

export function zeros(shape: number | readonly number[], opts: TensorOptions = {}): Tensor {
  return finish(
    Tensor.zeros(shapeArg("zeros", shape), checkDType("zeros", opts.dtype ?? "float32")),
    opts,
  );
}

export function ones(shape: number | readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

export function empty(shape: number | readonly number[], opts: TensorOptions = {}): Tensor {
  return zeros(shape, opts);
}

export function full(
  shape: number | readonly number[],
  value: number | boolean,
  opts: TensorOptions = {},
): Tensor {
  const s = shapeArg("full", shape);
  const dtype = checkDType("full", opts.dtype ?? (typeof value === "boolean" ? "bool" : "float32"));
  const a = allocArray(dtype, numel(s));
  a.fill(typeof value === "boolean" ? (value ? 1 : 0) : value);
  return finish(Tensor.fromArray(a, s, "cpu", dtype), opts);
}

export function eye(n: number, m: number | TensorOptions = n, opts: TensorOptions = {}): Tensor {
  if (typeof m === "object") {
    opts = m;
    m = n;
  }
  checkShape("eye", [n, m]);
  const dtype = opts.dtype ?? "float32";
  const a = allocArray(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) a[i * m + i] = 1;
  return finish(Tensor.fromArray(a, [n, m], "cpu", dtype), opts);
}

/**
 * Values from start to end (exclusive) by step. Like PyTorch, integer
 * arguments give an integer tensor (int32) and any fractional one float32.
 */
export function arange(
  start: number,
  end?: number | TensorOptions,
  step: number | TensorOptions = 1,
  opts: TensorOptions = {},
): Tensor {
  if (typeof end === "object") {
    opts = end;
    end = undefined;
  }
  if (typeof step === "object") {
    opts = step;
    step = 1;
  }
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0) throw new ArgumentError("arange: step must be nonzero");
  if ((end - start) / step < 0) {
    throw new ArgumentError(
      `arange: step ${step} goes away from end ${end} starting at ${start} (expected a ${end > start ? "positive" : "negative"} step)`,
    );
  }
  const n = Math.ceil((end - start) / step);
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? "int32" : "float32");
  const a = allocArray(dtype, n);
  for (let i = 0; i < n; i++) a[i] = start + i * step;
  return finish(Tensor.fromArray(a, [n], "cpu", dtype), opts);
}

export function linspace(
  start: number,
  end: number,
  steps: number,
  opts: TensorOptions = {},
): Tensor {
  if (!Number.isInteger(steps) || steps < 0)
    throw new ArgumentError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const dtype = opts.dtype ?? "float32";
  const a = allocArray(dtype, steps);
  // As PyTorch: the step in the dtype's own arithmetic (float32 for float32),
  // each value one multiply-add from the start or, past halfway, the end.
  const r = dtype === "float32" ? Math.fround : (v: number) => v;
  const [s, e] = [r(start), r(end)];
  const step = steps > 1 ? r(r(e - s) / (steps - 1)) : 0;
  // PyTorch fills the second half from the end so the last value is exact.
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++)
    a[i] = i < half || steps === 1 ? s + step * i : e - step * (steps - 1 - i);
  return finish(Tensor.fromArray(a, [steps], "cpu", dtype), opts);
}

export function logspace(
  start: number,
  end: number,
  steps: number,
  opts: TensorOptions & { base?: number } = {},
): Tensor {
  const base = opts.base ?? 10;
  const lin = linspace(start, end, steps, { dtype: "float64" });
  return finish(
    Tensor.scalar(base, "float64")
      .pow(lin)
      .to(opts.dtype ?? "float32"),
    opts,
  );
}

function floatDtype(op: string, opts: TensorOptions): "float32" | "float64" {
  const dtype = opts.dtype ?? "float32";
  if (!isFloating(dtype))
    throw new ArgumentError(`${op}: dtype must be float32 or float64, got ${dtype}`);
  return dtype as "float32" | "float64";
}

/** Uniform on [0, 1). */
export function rand(shape: number | readonly number[], opts: RandomOptions = {}): Tensor {
  const s = shapeArg("rand", shape);
  const dtype = floatDtype("rand", opts);
  const a = allocArray(dtype, numel(s)) as Float32Array | Float64Array;
  fillUniform(a, 0, 1, opts.generator ?? defaultGenerator);
  return finish(Tensor.fromArray(a, s, "cpu", dtype), opts);
}

/** Standard normal. */
export function randn(shape: number | readonly number[], opts: RandomOptions = {}): Tensor {
  const s = shapeArg("randn", shape);
  const dtype = floatDtype("randn", opts);
  const a = allocArray(dtype, numel(s)) as Float32Array | Float64Array;
  fillNormal(a, 0, 1, opts.generator ?? defaultGenerator);
  return finish(Tensor.fromArray(a, s, "cpu", dtype), opts);
}

/** Integers uniform on [low, high): randint(high, shape) or randint(low, high, shape). */
export function randint(
  low: number,
  high: number | readonly number[],
  shape?: number | readonly number[] | RandomOptions,
  opts: RandomOptions = {},
): Tensor {
  if (typeof high !== "number") {
    if (shape && typeof shape === "object" && !Array.isArray(shape)) opts = shape as RandomOptions;
    shape = high;
    high = low;
    low = 0;
  }
  const s = shapeArg("randint", shape as number | readonly number[]);
  if (!(high > low))
    throw new ArgumentError(`randint: expected low < high, got low ${low} and high ${high}`);
  const range = high - low;
  const gen = opts.generator ?? defaultGenerator;
  const dtype = opts.dtype ?? "int32";
  const a = allocArray(dtype, numel(s));
  for (let i = 0; i < a.length; i++) a[i] = (gen.random() % range) + low;
  return finish(Tensor.fromArray(a, s, "cpu", dtype), opts);
}

/** A random permutation of 0..n-1 (int32). */
export function randperm(n: number, opts: RandomOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0)
    throw new ArgumentError(`randperm: n must be a non-negative integer, got ${n}`);
  const gen = opts.generator ?? defaultGenerator;
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = 0; i < n - 1; i++) {
    const z = gen.random() % (n - i);
    const t = a[i]!;
    a[i] = a[z + i]!;
    a[z + i] = t;
  }
  const t = Tensor.fromArray(a, [n]);
  return finish(opts.dtype && opts.dtype !== "int32" ? t.to(opts.dtype) : t, opts);
}

function likeOpts(x: Tensor, opts: TensorOptions): TensorOptions {
  return {
    dtype: opts.dtype ?? x.dtype,
    device: opts.device ?? x.device,
    requiresGrad: opts.requiresGrad,
  };
}

export function zerosLike(x: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros(x.shape, likeOpts(x, opts));
}

export function onesLike(x: Tensor, opts: TensorOptions = {}): Tensor {
  return ones(x.shape, likeOpts(x, opts));
}

export function emptyLike(x: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros(x.shape, likeOpts(x, opts));
}

export function fullLike(x: Tensor, value: number | boolean, opts: TensorOptions = {}): Tensor {
  return full(x.shape, value, likeOpts(x, opts));
}

export function randLike(x: Tensor, opts: RandomOptions = {}): Tensor {
  return rand(x.shape, { ...likeOpts(x, opts), generator: opts.generator });
}

export function randnLike(x: Tensor, opts: RandomOptions = {}): Tensor {
  return randn(x.shape, { ...likeOpts(x, opts), generator: opts.generator });
}

export function randintLike(
  x: Tensor,
  low: number,
  high?: number,
  opts: RandomOptions = {},
): Tensor {
  if (high === undefined) {
    high = low;
    low = 0;
  }
  return randint(low, high, x.shape, {
    ...opts,
    device: opts.device ?? x.device,
    dtype: opts.dtype ?? x.dtype,
  });
}
