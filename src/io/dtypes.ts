// Element types as files spell them, and their conversion to flint's dtypes.
// Both safetensors and PyTorch's .pt storages hold raw little-endian
// elements; flint keeps four dtypes, so narrower or wider kinds widen or
// narrow on load (int64 → int32 only when every value fits).
import type { DType, TypedArray } from "../dtype.js";
import { FormatError } from "../errors.js";

/** safetensors' dtype names; PyTorch storages map onto the same set. */
export type FileDType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U8"
  | "BOOL";

export const ITEMSIZE: Readonly<Record<FileDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isFileDType(s: unknown): s is FileDType {
  return typeof s === "string" && Object.hasOwn(ITEMSIZE, s);
}

/** The flint dtype a file dtype loads as. */
export function loadedDType(d: FileDType): DType {
  switch (d) {
    case "F64":
      return "float64";
    case "F32":
    case "F16":
    case "BF16":
      return "float32";
    case "BOOL":
      return "bool";
    default:
      return "int32";
  }
}

/** The file dtype flint writes for each of its dtypes. */
export const SAVED_DTYPE: Readonly<Record<DType, FileDType>> = {
  float64: "F64",
  float32: "F32",
  int32: "I32",
  bool: "BOOL",
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes `bytes` (numel × itemsize little-endian elements) into a fresh
 * typed array of the flint dtype. `what` names the tensor in errors.
 */
export function decodeElements(bytes: Uint8Array, dtype: FileDType, what: string): TypedArray {
  const n = bytes.length / ITEMSIZE[dtype];
  // A copy at offset 0 is aligned for any element size, and never aliases the file.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F64":
      return LITTLE_ENDIAN
        ? new Float64Array(bytes.slice().buffer)
        : mapLE(n, Float64Array, (i) => view.getFloat64(i * 8, true));
    case "F32":
      return LITTLE_ENDIAN
        ? new Float32Array(bytes.slice().buffer)
        : mapLE(n, Float32Array, (i) => view.getFloat32(i * 4, true));
    case "I32":
      return LITTLE_ENDIAN
        ? new Int32Array(bytes.slice().buffer)
        : mapLE(n, Int32Array, (i) => view.getInt32(i * 4, true));
    case "F16":
      return mapLE(n, Float32Array, (i) => halfToFloat(view.getUint16(i * 2, true)));
    case "BF16": {
      // bfloat16 is the top half of a float32.
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case "I64": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = view.getInt32(i * 8, true);
        const hi = view.getInt32(i * 8 + 4, true);
        // Fits in int32 exactly when the high word is the low word's sign extension.
        if (hi !== lo >> 31) {
          const v = view.getBigInt64(i * 8, true);
          throw new FormatError(
            `load: ${what} is int64 and holds ${v} at element ${i}, which does not fit int32 (flint's integer dtype; range -2147483648..2147483647)`,
          );
        }
        out[i] = lo;
      }
      return out;
    }
    case "I16":
      return mapLE(n, Int32Array, (i) => view.getInt16(i * 2, true));
    case "I8":
      return mapLE(n, Int32Array, (i) => view.getInt8(i));
    case "U8":
      return mapLE(n, Int32Array, (i) => view.getUint8(i));
    case "BOOL":
      return mapLE(n, Uint8Array, (i) => (view.getUint8(i) !== 0 ? 1 : 0));
  }
}

/** The little-endian bytes of a row-major typed array (a view when the host is little-endian). */
export function encodeElements(data: TypedArray, dtype: DType): Uint8Array {
  if (LITTLE_ENDIAN || dtype === "bool")
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (dtype === "float64") view.setFloat64(i * 8, v, true);
    else if (dtype === "float32") view.setFloat32(i * 4, v, true);
    else view.setInt32(i * 4, v, true);
  }
  return out;
}

type ArrayCtor<T extends TypedArray> = new (n: number) => T;

function mapLE<T extends TypedArray>(n: number, Ctor: ArrayCtor<T>, get: (i: number) => number): T {
  const out = new Ctor(n);
  for (let i = 0; i < n; i++) out[i] = get(i);
  return out;
}

/** IEEE 754 binary16 bits → number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
