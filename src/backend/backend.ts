import type { DType, TypedArray } from "../dtype.js";
import { DeviceError } from "../errors.js";

/**
 * Backends are the only code that touches memory and kernels. A backend owns
 * storages (flat buffers) and implements a small, closed set of primitive
 * kernels over strided views; every other op is composed from these in
 * src/ops. Backends know nothing of autograd.
 */

/** A flat buffer owned by one backend. */
export interface Storage {
  readonly device: string;
  /** Number of elements. */
  readonly size: number;
}

/**
 * A strided window onto a storage: element (i0, i1, …) lives at
 * offset + Σ ik·strides[k]. A stride of 0 repeats (broadcast/expand).
 */
export interface View {
  readonly storage: Storage;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

export type UnaryOp =
  | "neg"
  | "abs"
  | "exp"
  | "log"
  | "sqrt"
  | "rsqrt"
  | "reciprocal"
  | "square"
  | "sin"
  | "cos"
  | "tan"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "sign"
  | "floor"
  | "ceil"
  | "round"
  | "trunc"
  | "erf"
  | "log1p"
  | "expm1"
  | "atan"
  | "asin"
  | "acos"
  | "sinh"
  | "cosh"
  | "logicalNot"
  | "isnan"
  | "isinf";

export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "atan2"
  | "fmod"
  | "remainder"
  | "eq"
  | "ne"
  | "lt"
  | "le"
  | "gt"
  | "ge"
  | "logicalAnd"
  | "logicalOr"
  | "logicalXor";

/** Unary ops whose result is bool whatever the input dtype. */
export function isBoolUnary(op: UnaryOp): boolean {
  return op === "logicalNot" || op === "isnan" || op === "isinf";
}

/** Binary ops whose result is bool: comparisons and logical ops. */
export function isBoolBinary(op: BinaryOp): boolean {
  switch (op) {
    case "eq":
    case "ne":
    case "lt":
    case "le":
    case "gt":
    case "ge":
    case "logicalAnd":
    case "logicalOr":
    case "logicalXor":
      return true;
    default:
      return false;
  }
}

export type ReduceOp = "sum" | "prod" | "max" | "min" | "argmax" | "argmin";

export interface Backend {
  readonly name: string;
  /** A storage of `size` zeros. */
  zeros(dtype: DType, size: number): Storage;
  /** A storage holding a copy of `data` (or `data` itself where the backend can share it). */
  fromArray(data: TypedArray, dtype: DType): Storage;
  /** The view's elements in row-major order, as a new typed array. */
  read(x: View): Promise<TypedArray>;
  /** Synchronous read; backends that cannot do it throw. */
  readSync(x: View): TypedArray;

  /** out[i] = op(x[i]); output contiguous with x's shape. */
  unary(op: UnaryOp, x: View, outDtype: DType): Storage;
  /** out[i] = op(a[i], b[i]); a and b already broadcast to the same shape (0 strides). */
  binary(op: BinaryOp, a: View, b: View, outDtype: DType): Storage;
  /**
   * Reduces `dims` (sorted, unique) away; output contiguous with the
   * remaining dims in order. argmax/argmin require exactly one dim and give int32.
   */
  reduce(op: ReduceOp, x: View, dims: readonly number[], outDtype: DType): Storage;
  /**
   * Batched matrix product: a [..., M, K], b [..., K, N] with identical
   * (already broadcast) batch dims; output contiguous [..., M, N].
   */
  matmul(a: View, b: View, outDtype: DType): Storage;
  /** out = cond ? a : b, all three already broadcast to one shape. */
  where(cond: View, a: View, b: View, outDtype: DType): Storage;
  /** out[..., i_dim, ...] = x[..., index[...], ...] along dim; output has index's shape. */
  gather(x: View, dim: number, index: View): Storage;
  /**
   * A contiguous copy of `base` into which src is written along dim at
   * `index` (scatter), summed when `accumulate` (scatter_add).
   */
  scatter(base: View, dim: number, index: View, src: View, accumulate: boolean): Storage;
  /** A contiguous copy, cast to outDtype. */
  copy(x: View, outDtype: DType): Storage;
  /** Writes src (same shape as dst) into dst's window in place. */
  assign(dst: View, src: View): void;
}

const registry = new Map<string, Backend>();

export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

/** The backend for a device; `op` names the caller in the error when there is none. */
export function getBackend(device: string, op?: string): Backend {
  const b = registry.get(device);
  if (!b) {
    throw new DeviceError(
      `${op ? `${op}: ` : ""}device "${device}" is not available (registered: ${[...registry.keys()].join(", ")})` +
        (device === "webgpu" ? "; call await fl.webgpu.init() first" : ""),
    );
  }
  return b;
}

export function registeredDevices(): string[] {
  return [...registry.keys()];
}
