// The safetensors format, bytes in and bytes out (no file system here, so it
// runs in browsers too):
//
//   u64 little-endian N | N bytes of JSON header, space-padded to 8 | data
//
// The header maps each name to {dtype, shape, data_offsets: [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__"
// object of strings. Python's writer orders tensors by dtype alignment,
// widest first, then by name, and lays them out back to back; we write the
// same way so the same dict gives the same bytes.
import { allocArray, type DType, type TypedArray } from "../dtype.js";
import { ArgumentError, FormatError, fmtShape } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import {
  decodeElements,
  encodeElements,
  type FileDType,
  ITEMSIZE,
  isFileDType,
  loadedDType,
  SAVED_DTYPE,
} from "./dtypes.js";
import { checkNoDuplicateKeys } from "./json_keys.js";

/** A flat name → tensor dict, as `model.stateDict()` returns. */
export type StateDict = Record<string, Tensor>;

/** safetensors' free-form string → string header entry. */
export type Metadata = Record<string, string>;

/** Headers above this are refused, as Python's reader does. */
const MAX_HEADER = 100_000_000;

// Python's dtype enum order; serialization sorts by it, descending.
const ALIGNMENT_RANK: Readonly<Record<FileDType, number>> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  I16: 5,
  F16: 7,
  BF16: 8,
  I32: 9,
  F32: 11,
  F64: 12,
  I64: 13,
};

/** One tensor ready to write: its row-major data already read back. */
export interface Entry {
  name: string;
  dtype: DType;
  shape: readonly number[];
  data: TypedArray;
}

/**
 * Serializes a state dict to safetensors bytes, identical to Python's
 * `safetensors.torch.save(tensors, metadata)` for the same dict.
 *
 * @example
 * const bytes = fl.serialize({ w: fl.ones([2, 2]) }, { format: "pt" });
 * fl.deserialize(bytes).w.shape; // [2, 2]
 */
export function serialize(stateDict: StateDict, metadata?: Metadata): Uint8Array {
  const entries = stateEntries("serialize", stateDict).map(([name, t]) => ({
    name,
    dtype: t.dtype,
    shape: t.shape,
    data: t.dataSync(),
  }));
  return concat(serializeChunks(entries, metadata));
}

/** Checks a state dict's keys and values and lists them. */
export function stateEntries(op: string, stateDict: StateDict): [string, Tensor][] {
  if (stateDict === null || typeof stateDict !== "object" || Array.isArray(stateDict)) {
    throw new ArgumentError(
      `${op}: expected a state dict (an object of name → Tensor), got ${describe(stateDict)}`,
    );
  }
  const out: [string, Tensor][] = [];
  for (const [name, t] of Object.entries(stateDict)) {
    if (!(t instanceof Tensor)) {
      throw new ArgumentError(`${op}: value for "${name}" must be a Tensor, got ${describe(t)}`);
    }
    if (!Object.hasOwn(SAVED_DTYPE, t.dtype)) {
      throw new ArgumentError(
        `${op}: tensor "${name}" has dtype ${t.dtype}, which safetensors cannot hold here (float32, float64, int32, bool)`,
      );
    }
    out.push([name, t]);
  }
  return out;
}

/**
 * The file as a list of byte chunks (8-byte length, header, then each
 * tensor's data, not copied) so a writer can stream it.
 */
export function serializeChunks(entries: readonly Entry[], metadata?: Metadata): Uint8Array[] {
  checkMetadata("serialize", metadata);
  const sorted = [...entries].sort((a, b) => {
    const byAlign = ALIGNMENT_RANK[SAVED_DTYPE[b.dtype]] - ALIGNMENT_RANK[SAVED_DTYPE[a.dtype]];
    return byAlign !== 0 ? byAlign : compareUtf8(a.name, b.name);
  });
  // serde_json's compact output: no spaces, metadata first, fields in this order.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    parts.push(
      `"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(",")}}`,
    );
  }
  let offset = 0;
  for (const e of sorted) {
    const n = e.data.byteLength;
    parts.push(
      `${JSON.stringify(e.name)}:{"dtype":"${SAVED_DTYPE[e.dtype]}","shape":[${e.shape.join(",")}],"data_offsets":[${offset},${offset + n}]}`,
    );
    offset += n;
  }
  let header = new TextEncoder().encode(`{${parts.join(",")}}`);
  const pad = (8 - (header.length % 8)) % 8;
  if (pad > 0) {
    const padded = new Uint8Array(header.length + pad).fill(0x20);
    padded.set(header);
    header = padded;
  }
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
  return [prefix, header, ...sorted.map((e) => encodeElements(e.data, e.dtype))];
}

/**
 * Reads safetensors bytes into a state dict. F32/F64/I32/BOOL load as
 * themselves; F16 and BF16 widen to float32; I8, I16, U8 and I64 load as
 * int32 (I64 only if every value fits). Any malformed, truncated or
 * hostile file throws a FormatError saying what is wrong.
 *
 * @example
 * const sd = fl.deserialize(bytes);
 */
export function deserialize(bytes: Uint8Array): StateDict {
  return deserializeWithMetadata(bytes).tensors;
}

/** deserialize(), plus the header's `__metadata__` (null when absent). */
export function deserializeWithMetadata(bytes: Uint8Array): {
  tensors: StateDict;
  metadata: Metadata | null;
} {
  const { infos, metadata, dataStart } = readHeader(bytes);
  const data = bytes.subarray(dataStart);
  const entries = infos.map((info): [string, Tensor] => {
    const raw = data.subarray(info.begin, info.end);
    const dtype = loadedDType(info.dtype);
    const values =
      raw.length === 0
        ? allocArray(dtype, 0)
        : decodeElements(raw, info.dtype, `tensor "${info.name}"`);
    return [info.name, Tensor.fromArray(values, info.shape, "cpu", dtype)];
  });
  // fromEntries defines own properties, so a tensor named "__proto__" stays data.
  return { tensors: Object.fromEntries(entries), metadata };
}

interface TensorInfo {
  name: string;
  dtype: FileDType;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and validates the header; tensors come back in file order. */
export function readHeader(bytes: Uint8Array): {
  infos: TensorInfo[];
  metadata: Metadata | null;
  dataStart: number;
} {
  if (!(bytes instanceof Uint8Array)) {
    throw new ArgumentError(`load: expected a Uint8Array of file bytes, got ${describe(bytes)}`);
  }
  if (bytes.length < 8) {
    throw new FormatError(
      `load: safetensors file is ${bytes.length} bytes, shorter than its 8-byte header length`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER) {
    const n = view.getBigUint64(0, true);
    throw new FormatError(
      `load: safetensors header length ${n} is absurd (limit ${MAX_HEADER} bytes); not a safetensors file?`,
    );
  }
  if (8 + lo > bytes.length) {
    throw new FormatError(
      `load: safetensors header length ${lo} exceeds the file (${bytes.length} bytes); the file is truncated`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + lo));
  } catch {
    throw new FormatError("load: safetensors header is not valid UTF-8");
  }
  if (!text.startsWith("{")) {
    throw new FormatError(
      `load: safetensors header must start with "{", got ${JSON.stringify(text.slice(0, 16))}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`load: safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new FormatError("load: safetensors header must be a JSON object");
  }
  checkNoDuplicateKeys(text, "load: safetensors header");

  const dataLength = bytes.length - 8 - lo;
  let metadata: Metadata | null = null;
  const infos: TensorInfo[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = readMetadata(value);
      continue;
    }
    infos.push(readInfo(name, value, dataLength));
  }
  // Tensors must tile the data section exactly: no gaps, no overlaps, no tail.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const info of infos) {
    if (info.begin !== cursor) {
      const what =
        info.begin < cursor
          ? "overlaps the previous tensor"
          : `leaves a gap (previous tensor ends at ${cursor})`;
      throw new FormatError(
        `load: tensor "${info.name}" data_offsets [${info.begin},${info.end}] ${what}`,
      );
    }
    cursor = info.end;
  }
  if (cursor !== dataLength) {
    throw new FormatError(
      `load: tensors cover ${cursor} bytes but the data section holds ${dataLength}; the file is truncated or has trailing bytes`,
    );
  }
  return { infos, metadata, dataStart: 8 + lo };
}

function readMetadata(value: unknown): Metadata | null {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new FormatError(
      `load: "__metadata__" must be an object of strings, got ${describe(value)}`,
    );
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string")
      throw new FormatError(
        `load: "__metadata__" value for "${k}" must be a string, got ${describe(v)}`,
      );
  }
  return value as Metadata;
}

function readInfo(name: string, value: unknown, dataLength: number): TensorInfo {
  const where = `load: tensor "${name}"`;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FormatError(
      `${where}: expected {dtype, shape, data_offsets}, got ${describe(value)}`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isFileDType(dtype)) {
    throw new FormatError(
      `${where}: unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(ITEMSIZE).join(", ")})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new FormatError(
      `${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new FormatError(
      `${where}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin)
    throw new FormatError(`${where}: data_offsets [${begin},${end}] end before they begin`);
  if (end > dataLength) {
    throw new FormatError(
      `${where}: data_offsets [${begin},${end}] run past the data section (${dataLength} bytes)`,
    );
  }
  // Multiplying in floats is exact while below 2^53; past the data length it is wrong anyway.
  let nbytes = ITEMSIZE[dtype];
  for (const d of shape as number[]) nbytes *= d;
  if (nbytes !== end - begin) {
    throw new FormatError(
      `${where}: shape ${fmtShape(shape as number[])} of ${dtype} needs ${nbytes} bytes but data_offsets [${begin},${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function checkMetadata(op: string, metadata: unknown): void {
  if (metadata === undefined) return;
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new ArgumentError(
      `${op}: metadata must be an object of strings, got ${describe(metadata)}`,
    );
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string")
      throw new ArgumentError(
        `${op}: metadata value for "${k}" must be a string, got ${describe(v)}`,
      );
  }
}

/** Orders strings by their UTF-8 bytes, as Rust's String does. */
export function compareUtf8(a: string, b: string): number {
  // Code point order equals UTF-8 byte order; UTF-16 unit order differs only past U+FFFF.
  const ca = [...a];
  const cb = [...b];
  const n = Math.min(ca.length, cb.length);
  for (let i = 0; i < n; i++) {
    const d = ca[i]!.codePointAt(0)! - cb[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Tensor) return `a Tensor`;
  if (typeof v === "object") return v.constructor?.name ? `a ${v.constructor.name}` : "an object";
  return `${typeof v} ${String(v).slice(0, 40)}`;
}
