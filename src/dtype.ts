import { noteFresh, POOL_MIN_BYTES, takeSpare } from "./backend/cpu/array_pool.js";
import { DTypeError } from "./errors.js";

/** The element types flint stores. PyTorch's int64 maps to int32. */
export type DType = "float32" | "float64" | "int32" | "bool";

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ["float32", "float64", "int32", "bool"];

export function isFloating(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

export function checkDType(op: string, dtype: unknown): DType {
  if (dtype === "float32" || dtype === "float64" || dtype === "int32" || dtype === "bool") {
    return dtype;
  }
  if (dtype === "int64") return "int32";
  throw new DTypeError(
    `${op}: unknown dtype ${JSON.stringify(dtype)} (expected one of float32, float64, int32, bool)`,
  );
}

export function bytesPerElement(dtype: DType): number {
  return dtype === "float64" ? 8 : dtype === "bool" ? 1 : 4;
}

export function allocArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
  }
}

/**
 * Node's Buffer.allocUnsafeSlow: a fresh ArrayBuffer whose memory is not
 * zeroed. Absent in browsers, where emptyArray falls back to allocArray.
 */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(bytes: number): Uint8Array } })
  .Buffer;

/**
 * An array the caller will overwrite whole, like torch.empty: its initial
 * contents are unspecified. A kernel's fresh output is a new large array
 * per op, and zeroing one (calloc, then a page fault per 4 KiB on first
 * write) costs about as much as the copy that fills it (measured: a 2 MiB
 * copy into a zeroed array 230 µs, into an unzeroed one 105 µs), so
 * outputs that every element is written to come from here.
 */
export function emptyArray(dtype: DType, size: number): TypedArray {
  const bytes = size * bytesPerElement(dtype);
  // Smaller arrays live in V8's own heap, where a zeroed one costs no more.
  if (bytes < POOL_MIN_BYTES) return allocArray(dtype, size);
  if (dtype === "float32") {
    // A gradient's array the engine recycled (backend/cpu/array_pool.ts), else a new one it may recycle.
    const spare = takeSpare(size);
    if (spare) return spare;
    const fresh = NodeBuffer?.allocUnsafeSlow(bytes);
    const out = fresh
      ? new Float32Array(fresh.buffer, fresh.byteOffset, size)
      : new Float32Array(size);
    noteFresh(out);
    return out;
  }
  if (!NodeBuffer) return allocArray(dtype, size);
  const { buffer, byteOffset } = NodeBuffer.allocUnsafeSlow(bytes);
  switch (dtype) {
    case "float64":
      return new Float64Array(buffer, byteOffset, size);
    case "int32":
      return new Int32Array(buffer, byteOffset, size);
    case "bool":
      return new Uint8Array(buffer, byteOffset, size);
  }
}

/** A copy of `src` in a fresh array (what slice() does, without zeroing the copy first). */
export function copyOf<T extends Float32Array | Float64Array>(src: T): T {
  const out = emptyArray(src instanceof Float32Array ? "float32" : "float64", src.length) as T;
  out.set(src);
  return out;
}

/** The dtype a typed array holds when handed to `tensor()`. */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  return "bool";
}

// Promotion follows PyTorch: categories bool < integer < floating. Among
// operands of one category the widest wins; a 0-d tensor or a JS number only
// lifts the category, never the width (float32 tensor * 2.5 stays float32).
const CATEGORY: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 2 };
const WIDTH: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };

function wider(a: DType, b: DType): DType {
  return WIDTH[a] >= WIDTH[b] ? a : b;
}

/** An operand as promotion sees it: a dtype and how strongly it counts. */
export interface PromotionOperand {
  dtype: DType;
  /** 2: tensor with ndim > 0; 1: 0-d tensor; 0: JS scalar. */
  priority: 0 | 1 | 2;
}

export function promoteTypes(operands: readonly PromotionOperand[]): DType {
  let result: DType | null = null;
  let resultPriority = -1;
  for (let p = 2; p >= 0; p--) {
    for (const o of operands) {
      if (o.priority !== p) continue;
      if (result === null) {
        result = o.dtype;
        resultPriority = p;
      } else if (p === resultPriority) {
        result = wider(result, o.dtype);
      } else if (CATEGORY[o.dtype] > CATEGORY[result]) {
        // A lower-priority operand of a higher category lifts the category only,
        // to the default dtype of that category (or its own, for 0-d tensors).
        result = o.priority === 0 ? (CATEGORY[o.dtype] === 2 ? "float32" : "int32") : o.dtype;
      }
    }
  }
  return result ?? "float32";
}

/** The dtype a JS value stands for as a scalar operand. */
export function scalarDType(v: number | boolean): DType {
  if (typeof v === "boolean") return "bool";
  return Number.isInteger(v) ? "int32" : "float32";
}

/** Float dtype an int/bool op result becomes (sqrt of an int tensor is float32). */
export function toFloating(dtype: DType): DType {
  return isFloating(dtype) ? dtype : "float32";
}
