// fl.save / fl.load and their synchronous and in-memory forms. Files are
// written atomically; loading dispatches on content, not on the file name:
// a zip is PyTorch's torch.save format, anything else must be safetensors.
import { ArgumentError } from "../errors.js";
import { atomicWrite, atomicWriteSync, readFileBytes, readFileBytesSync } from "./fs_node.js";
import {
  describe,
  deserialize,
  type Entry,
  type Metadata,
  type StateDict,
  serializeChunks,
  stateEntries,
} from "./safetensors.js";
import { isZip, loadTorchStateDict } from "./torch_pt.js";

export interface SaveOptions {
  /** Free-form strings stored in the safetensors header's "__metadata__". */
  metadata?: Metadata;
}

/**
 * Saves a state dict as a safetensors file, atomically: the file is either
 * the old one or the complete new one, never half written.
 *
 * @example
 * await fl.save(model.stateDict(), "model.safetensors", { metadata: { epoch: "3" } });
 */
export async function save(
  stateDict: StateDict,
  path: string,
  opts: SaveOptions = {},
): Promise<void> {
  checkPath("save", path);
  const entries = await Promise.all(
    stateEntries("save", stateDict).map(
      async ([name, t]): Promise<Entry> => ({
        name,
        dtype: t.dtype,
        shape: t.shape,
        data: await t.data(),
      }),
    ),
  );
  await atomicWrite(path, serializeChunks(entries, opts.metadata));
}

/** save(), synchronously (CPU tensors, Node). */
export function saveSync(stateDict: StateDict, path: string, opts: SaveOptions = {}): void {
  checkPath("saveSync", path);
  const entries = stateEntries("saveSync", stateDict).map(
    ([name, t]): Entry => ({ name, dtype: t.dtype, shape: t.shape, data: t.dataSync() }),
  );
  atomicWriteSync(path, serializeChunks(entries, opts.metadata));
}

/**
 * Loads a state dict from a safetensors file or a PyTorch `.pt` file
 * (torch.save(model.state_dict(), path)); tensors come back on the CPU.
 *
 * @example
 * model.loadStateDict(await fl.load("model.safetensors"));
 */
export async function load(path: string): Promise<StateDict> {
  checkPath("load", path);
  return loadFromBytes(await readFileBytes(path));
}

/** load(), synchronously (Node). */
export function loadSync(path: string): StateDict {
  checkPath("loadSync", path);
  return loadFromBytes(readFileBytesSync(path));
}

/**
 * load() for bytes already in memory (a fetch() response, a File in a browser).
 *
 * @example
 * const sd = fl.loadFromBytes(await (await fetch("model.safetensors")).arrayBuffer());
 */
export function loadFromBytes(bytes: Uint8Array | ArrayBuffer): StateDict {
  const b = toBytes("loadFromBytes", bytes);
  return isZip(b) ? loadTorchStateDict(b) : deserialize(b);
}

export function toBytes(op: string, bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes))
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new ArgumentError(`${op}: expected a Uint8Array or ArrayBuffer, got ${describe(bytes)}`);
}

function checkPath(op: string, path: unknown): void {
  if (typeof path !== "string" || path.length === 0) {
    throw new ArgumentError(`${op}: path must be a non-empty string, got ${describe(path)}`);
  }
}
