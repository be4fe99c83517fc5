// Checkpoints: any nested structure of plain objects, arrays, numbers,
// strings, booleans, null and Tensors, written as ONE safetensors file.
// Tensors go in the file under path-like keys ("model/fc1.weight"); the
// structure, with each tensor replaced by {"$tensor": key}, is JSON in the
// header's __metadata__, so Python's safetensors can read the weights too.
//
// Values JSON cannot hold are tagged: {"$number": "NaN"|"Infinity"|"-Infinity"|"-0"},
// {"$undefined": true}; a user object with a key starting with "$" is
// wrapped as {"$object": {...}} so it is never mistaken for a tag.
import { ArgumentError, FormatError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { SAVED_DTYPE } from "./dtypes.js";
import { atomicWrite, atomicWriteSync, readFileBytes, readFileBytesSync } from "./fs_node.js";
import { describe, deserializeWithMetadata, type Entry, serializeChunks } from "./safetensors.js";
import { toBytes } from "./save_load.js";

/** What a checkpoint may hold. */
export type CheckpointValue =
  | Tensor
  | number
  | string
  | boolean
  | null
  | undefined
  | CheckpointValue[]
  | { [key: string]: CheckpointValue };

const STRUCTURE_KEY = "flint.checkpoint";
const VERSION_KEY = "flint.checkpoint.version";
const VERSION = "1";

/**
 * Saves a training checkpoint atomically: the file at `path` is either the
 * previous checkpoint or the complete new one; on any error the temp file is
 * removed and the previous checkpoint is untouched.
 *
 * @example
 * await fl.saveCheckpoint("ckpt.safetensors", {
 *   model: model.stateDict(), optimizer: opt.stateDict(), epoch: 3, generator: g.getState(),
 * });
 * const { model: weights, epoch } = await fl.loadCheckpoint("ckpt.safetensors");
 */
export async function saveCheckpoint(path: string, checkpoint: CheckpointValue): Promise<void> {
  const { structure, tensors } = encode("saveCheckpoint", checkpoint);
  const entries = await Promise.all(
    tensors.map(
      async ([name, t]): Promise<Entry> => ({
        name,
        dtype: t.dtype,
        shape: t.shape,
        data: await t.data(),
      }),
    ),
  );
  await atomicWrite(path, serializeChunks(entries, header(structure)));
}

/** saveCheckpoint(), synchronously (CPU tensors, Node). */
export function saveCheckpointSync(path: string, checkpoint: CheckpointValue): void {
  const { structure, tensors } = encode("saveCheckpointSync", checkpoint);
  const entries = tensors.map(
    ([name, t]): Entry => ({ name, dtype: t.dtype, shape: t.shape, data: t.dataSync() }),
  );
  atomicWriteSync(path, serializeChunks(entries, header(structure)));
}

/** Loads what saveCheckpoint() wrote: the same structure, tensors on the CPU. */
export async function loadCheckpoint(path: string): Promise<CheckpointValue> {
  return checkpointFromBytes(await readFileBytes(path));
}

/** loadCheckpoint(), synchronously (Node). */
export function loadCheckpointSync(path: string): CheckpointValue {
  return checkpointFromBytes(readFileBytesSync(path));
}

/** loadCheckpoint() for bytes in memory. */
export function checkpointFromBytes(bytes: Uint8Array | ArrayBuffer): CheckpointValue {
  const { tensors, metadata } = deserializeWithMetadata(toBytes("loadCheckpoint", bytes));
  const json = metadata?.[STRUCTURE_KEY];
  if (json === undefined) {
    throw new FormatError(
      `loadCheckpoint: the file has no "${STRUCTURE_KEY}" metadata; it is a plain safetensors file (use fl.load)`,
    );
  }
  if (metadata?.[VERSION_KEY] !== VERSION) {
    throw new FormatError(
      `loadCheckpoint: checkpoint version ${JSON.stringify(metadata?.[VERSION_KEY])} is not supported (expected ${VERSION})`,
    );
  }
  let structure: unknown;
  try {
    structure = JSON.parse(json);
  } catch (e) {
    throw new FormatError(
      `loadCheckpoint: the checkpoint structure is not valid JSON (${(e as Error).message})`,
    );
  }
  try {
    return decode(structure, tensors);
  } catch (e) {
    if (e instanceof RangeError)
      throw new FormatError("loadCheckpoint: the checkpoint structure is nested too deeply");
    throw e;
  }
}

function header(structure: unknown): Record<string, string> {
  return { [STRUCTURE_KEY]: JSON.stringify(structure), [VERSION_KEY]: VERSION };
}

// ---- structure ↔ JSON -------------------------------------------------------

/** Walks the whole structure before anything is written, so a bad value fails early. */
function encode(
  op: string,
  root: CheckpointValue,
): { structure: unknown; tensors: [string, Tensor][] } {
  const tensors: [string, Tensor][] = [];
  const used = new Set<string>();
  const open = new Set<object>();

  const keyFor = (path: string[]): string => {
    const base = path.length > 0 ? path.join("/") : "tensor";
    let key = base;
    for (let i = 1; used.has(key); i++) key = `${base}#${i}`;
    used.add(key);
    return key;
  };

  const walk = (v: unknown, path: string[]): unknown => {
    const at = () => (path.length > 0 ? `"${path.join("/")}"` : "the root");
    if (v instanceof Tensor) {
      if (!Object.hasOwn(SAVED_DTYPE, v.dtype))
        throw new ArgumentError(`${op}: tensor at ${at()} has unsupported dtype ${v.dtype}`);
      const key = keyFor(path);
      tensors.push([key, v]);
      return { $tensor: key };
    }
    if (v === null || typeof v === "string" || typeof v === "boolean") return v;
    if (v === undefined) return { $undefined: true };
    if (typeof v === "number") {
      if (Number.isFinite(v) && !Object.is(v, -0)) return v;
      return { $number: Object.is(v, -0) ? "-0" : String(v) };
    }
    if (typeof v !== "object")
      throw new ArgumentError(
        `${op}: value at ${at()} is a ${typeof v}, which a checkpoint cannot hold`,
      );
    if (open.has(v))
      throw new ArgumentError(`${op}: value at ${at()} refers back to itself (circular structure)`);
    open.add(v);
    try {
      if (Array.isArray(v)) return v.map((e, i) => walk(e, [...path, String(i)]));
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new ArgumentError(
          `${op}: value at ${at()} is ${describe(v)}; a checkpoint holds plain objects, arrays, numbers, strings, booleans, null and Tensors`,
        );
      }
      const entries = Object.entries(v).map(([k, e]) => [k, walk(e, [...path, k])] as const);
      const obj = Object.fromEntries(entries);
      return Object.keys(obj).some((k) => k.startsWith("$")) ? { $object: obj } : obj;
    } finally {
      open.delete(v);
    }
  };
  return { structure: walk(root, []), tensors };
}

function decode(v: unknown, tensors: Record<string, Tensor>): CheckpointValue {
  if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "number")
    return v;
  if (Array.isArray(v)) return v.map((e) => decode(e, tensors));
  if (typeof v !== "object")
    throw new FormatError(`loadCheckpoint: unexpected ${typeof v} in the structure`);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0]!.startsWith("$")) {
    const tag = keys[0]!;
    const x = o[tag];
    if (tag === "$tensor") {
      if (typeof x !== "string" || !Object.hasOwn(tensors, x)) {
        throw new FormatError(
          `loadCheckpoint: the structure refers to tensor ${JSON.stringify(x)}, which the file does not hold`,
        );
      }
      return tensors[x]!;
    }
    if (tag === "$undefined") return undefined;
    if (
      tag === "$number" &&
      typeof x === "string" &&
      ["NaN", "Infinity", "-Infinity", "-0"].includes(x)
    )
      return x === "-0" ? -0 : Number(x);
    if (tag === "$object" && x !== null && typeof x === "object" && !Array.isArray(x))
      return decodeObject(x as Record<string, unknown>, tensors);
    throw new FormatError(`loadCheckpoint: malformed ${tag} entry in the structure`);
  }
  return decodeObject(o, tensors);
}

function decodeObject(
  o: Record<string, unknown>,
  tensors: Record<string, Tensor>,
): { [key: string]: CheckpointValue } {
  // fromEntries keeps a "__proto__" key as data.
  return Object.fromEntries(Object.entries(o).map(([k, e]) => [k, decode(e, tensors)]));
}
