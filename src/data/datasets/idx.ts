// The IDX format of MNIST and Fashion-MNIST: a 4-byte magic (two zero
// bytes, an element-type code, the number of dimensions), the dimensions
// as big-endian uint32, then the elements, big-endian, row-major.
import { FormatError } from "../../errors.js";
import { gunzipIfNeeded } from "./files.js";

/** The arrays an IDX file can hold, by its element-type code. */
export type IdxArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

export interface IdxData {
  shape: number[];
  data: IdxArray;
}

const TYPES: Record<
  number,
  {
    name: string;
    bytes: number;
    make: (n: number) => IdxArray;
    read: (v: DataView, at: number) => number;
  }
> = {
  8: { name: "uint8", bytes: 1, make: (n) => new Uint8Array(n), read: (v, at) => v.getUint8(at) },
  9: { name: "int8", bytes: 1, make: (n) => new Int8Array(n), read: (v, at) => v.getInt8(at) },
  11: { name: "int16", bytes: 2, make: (n) => new Int16Array(n), read: (v, at) => v.getInt16(at) },
  12: { name: "int32", bytes: 4, make: (n) => new Int32Array(n), read: (v, at) => v.getInt32(at) },
  13: {
    name: "float32",
    bytes: 4,
    make: (n) => new Float32Array(n),
    read: (v, at) => v.getFloat32(at),
  },
  14: {
    name: "float64",
    bytes: 8,
    make: (n) => new Float64Array(n),
    read: (v, at) => v.getFloat64(at),
  },
};

/**
 * Parses an IDX file (gzipped or raw): labels are magic 0x00000801
 * (uint8, 1-d), images 0x00000803 (uint8, [N, rows, cols]). Throws a
 * FormatError on a wrong magic or a size that does not match the header.
 *
 * @example
 * const { shape, data } = fl.data.readIdx(readFileSync("train-labels-idx1-ubyte.gz"));
 * shape; // [60000]
 */
export function readIdx(buffer: Uint8Array, what = "readIdx"): IdxData {
  const bytes = gunzipIfNeeded(buffer, what);
  if (bytes.length < 4)
    throw new FormatError(
      `${what}: ${bytes.length} bytes is too short for an IDX header (need at least 4)`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const type = TYPES[bytes[2]!];
  const ndim = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0 || !type || ndim === 0) {
    throw new FormatError(
      `${what}: bad IDX magic 0x${magic.toString(16).padStart(8, "0")} (expected 0x000008NN…0x00000eNN with NN ≥ 1 dimensions, e.g. 0x00000801 for labels, 0x00000803 for images)`,
    );
  }
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes)
    throw new FormatError(
      `${what}: truncated header: ${bytes.length} bytes, ${ndim} dimensions need ${headerBytes}`,
    );
  const shape: number[] = [];
  for (let d = 0; d < ndim; d++) shape.push(view.getUint32(4 + 4 * d));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) {
    throw new FormatError(
      `${what}: ${bytes.length < expected ? "truncated" : "oversized"} file: shape [${shape.join(",")}] of ${type.name} needs ${expected} bytes, got ${bytes.length}`,
    );
  }
  let data: IdxArray;
  if (type.bytes === 1) {
    // Single bytes have no endianness: copy them straight out.
    data = type.make(count);
    data.set(
      type.name === "uint8"
        ? bytes.subarray(headerBytes)
        : new Int8Array(bytes.buffer, bytes.byteOffset + headerBytes, count),
    );
  } else {
    data = type.make(count);
    for (let i = 0; i < count; i++) data[i] = type.read(view, headerBytes + i * type.bytes);
  }
  return { shape, data };
}
