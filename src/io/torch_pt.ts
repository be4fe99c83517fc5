// PyTorch's own files (torch.save since 1.6): a zip holding
//   <prefix>/data.pkl     the pickled object (a state_dict: OrderedDict name → tensor)
//   <prefix>/data/<key>   each storage's raw little-endian bytes
// The pickle names a few globals (_rebuild_tensor_v2, OrderedDict, the
// storage types) and refers to storages by persistent id
// ("storage", type, key, location, numel). We resolve exactly those and
// refuse every other global, so loading a file can never run code.
import type { Storage } from "../backend/backend.js";
import { getBackend } from "../backend/backend.js";
import type { DType } from "../dtype.js";
import { FormatError, fmtShape } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { decodeElements, type FileDType, ITEMSIZE, loadedDType } from "./dtypes.js";
import { Callable, Marker, type PickleValue, unpickle } from "./pickle.js";
import type { StateDict } from "./safetensors.js";
import { readZip } from "./zip.js";

const STORAGE_TYPES: Readonly<Record<string, FileDType>> = {
  FloatStorage: "F32",
  DoubleStorage: "F64",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

class StorageType extends Marker {
  constructor(
    qualname: string,
    readonly dtype: FileDType,
  ) {
    super(qualname);
  }
}

/** A storage read from the archive, shared by every tensor that views it. */
class LoadedStorage {
  constructor(
    readonly storage: Storage,
    readonly dtype: DType,
    readonly size: number,
  ) {}
}

/** Whether bytes look like a zip archive (PyTorch's format since 1.6). */
export function isZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 &&
    bytes[0] === 0x50 &&
    bytes[1] === 0x4b &&
    (bytes[2] === 3 || bytes[2] === 5)
  );
}

/**
 * Reads a PyTorch state_dict file's bytes into name → Tensor. Non-contiguous
 * tensors keep their strides, and tensors that shared a storage in PyTorch
 * share one here. int64 loads as int32 (an error if a value does not fit).
 *
 * @example
 * const sd = fl.loadTorchStateDict(bytes); // bytes of torch.save(model.state_dict(), f)
 */
export function loadTorchStateDict(bytes: Uint8Array): StateDict {
  const value = loadTorchObject(bytes);
  if (!(value instanceof Map))
    throw new FormatError(
      "load: the .pt file holds no dict; expected a state_dict (name → tensor)",
    );
  const entries: [string, Tensor][] = [];
  for (const [k, v] of value) {
    if (typeof k !== "string" || !(v instanceof Tensor)) {
      throw new FormatError(
        `load: expected a state_dict of name → tensor, but entry ${JSON.stringify(String(k))} holds ${describePickle(v)}`,
      );
    }
    entries.push([k, v]);
  }
  return Object.fromEntries(entries);
}

/** The unpickled object of a .pt file: Maps for dicts, arrays for lists and tuples, Tensors. */
export function loadTorchObject(bytes: Uint8Array): PickleValue {
  if (!isZip(bytes)) {
    throw new FormatError(
      "load: not a zip archive; PyTorch files from before 1.6 (or saved with _use_new_zipfile_serialization=False) are not supported — re-save them with a recent torch.save",
    );
  }
  const zip = readZip(bytes);
  const pkl = [...zip.keys()].filter((n) => n === "data.pkl" || /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) {
    throw new FormatError(
      `load: a PyTorch archive has one <name>/data.pkl entry, found ${pkl.length}`,
    );
  }
  const prefix = pkl[0]!.slice(0, -"data.pkl".length);
  // Newer torch records the writer's byte order; storages are read as little-endian.
  const order = zip.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(order.data()).trim() !== "little") {
    throw new FormatError(
      "load: this .pt file was written on a big-endian machine; only little-endian archives are supported",
    );
  }
  const storages = new Map<string, LoadedStorage>();

  const persistentLoad = (pid: PickleValue): PickleValue => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== "storage") {
      throw new FormatError(
        `load: unexpected persistent id ${describePickle(pid)} (expected ("storage", type, key, location, numel))`,
      );
    }
    const [, type, key, , numel] = pid;
    if (!(type instanceof StorageType))
      throw new FormatError(
        `load: persistent id names ${describePickle(type)}, not a storage type`,
      );
    if (typeof key !== "string" || !Number.isSafeInteger(numel) || (numel as number) < 0) {
      throw new FormatError(
        `load: malformed storage reference (key ${describePickle(key)}, numel ${describePickle(numel)})`,
      );
    }
    const cached = storages.get(key);
    if (cached) return cached;
    const entry = zip.get(`${prefix}data/${key}`);
    if (!entry)
      throw new FormatError(
        `load: storage "${key}" is missing from the archive (no ${prefix}data/${key})`,
      );
    const raw = entry.data();
    const want = (numel as number) * ITEMSIZE[type.dtype];
    if (raw.length !== want) {
      throw new FormatError(
        `load: storage "${key}" (${type.qualname}) holds ${raw.length} bytes, expected ${numel} elements = ${want} bytes`,
      );
    }
    const dtype = loadedDType(type.dtype);
    const values = decodeElements(raw, type.dtype, `storage "${key}"`);
    const loaded = new LoadedStorage(
      getBackend("cpu").fromArray(values, dtype),
      dtype,
      numel as number,
    );
    storages.set(key, loaded);
    return loaded;
  };

  const findClass = (module: string, name: string): Callable | Marker => {
    const q = `${module}.${name}`;
    if (q === "torch._utils._rebuild_tensor_v2") return new Callable(q, rebuildTensor);
    if (q === "torch._utils._rebuild_parameter") return new Callable(q, rebuildParameter);
    if (q === "collections.OrderedDict") {
      return new Callable(q, (args) => {
        if (args.length !== 0)
          throw new FormatError("load: OrderedDict(...) with arguments is not supported");
        return new Map();
      });
    }
    if (module === "torch" && Object.hasOwn(STORAGE_TYPES, name))
      return new StorageType(q, STORAGE_TYPES[name]!);
    throw new FormatError(
      `load: refusing to load global ${q}: only tensor rebuild functions are allowed`,
    );
  };

  return unpickle(zip.get(pkl[0]!)!.data(), { findClass, persistentLoad });
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
function rebuildTensor(args: PickleValue[]): Tensor {
  if (args.length < 6 || args.length > 7)
    throw new FormatError(`load: _rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
  const [st, offset, size, stride, requiresGrad, hooks] = args;
  if (!(st instanceof LoadedStorage))
    throw new FormatError("load: _rebuild_tensor_v2 without a storage");
  if (!isCount(offset) || !isCounts(size) || !isCounts(stride) || size.length !== stride.length) {
    throw new FormatError(
      `load: _rebuild_tensor_v2 got offset ${describePickle(offset)}, size ${describePickle(size)}, stride ${describePickle(stride)}; expected integers with one stride per dim`,
    );
  }
  if (hooks instanceof Map && hooks.size > 0)
    throw new FormatError("load: tensors with backward hooks are not supported");
  // The furthest element the view reaches must lie inside the storage.
  let last = offset;
  let empty = false;
  for (let i = 0; i < size.length; i++) {
    if (size[i] === 0) empty = true;
    last += (size[i]! - 1) * stride[i]!;
  }
  if (!empty && last >= st.size) {
    throw new FormatError(
      `load: tensor of size ${fmtShape(size)}, stride ${fmtShape(stride)}, offset ${offset} reaches element ${last} of a storage of ${st.size}`,
    );
  }
  const t = new Tensor(st.storage, [...size], [...stride], offset, st.dtype);
  if (requiresGrad === true && t.isFloatingPoint()) t.requiresGrad_(true);
  return t;
}

// _rebuild_parameter(data, requires_grad, backward_hooks)
function rebuildParameter(args: PickleValue[]): Tensor {
  const [data, requiresGrad] = args;
  if (!(data instanceof Tensor)) throw new FormatError("load: _rebuild_parameter without a tensor");
  const t = data.detach();
  if (requiresGrad === true && t.isFloatingPoint()) t.requiresGrad_(true);
  return t;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isCounts(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isCount);
}

function describePickle(v: unknown): string {
  if (v === null) return "None";
  if (v instanceof Tensor) return "a tensor";
  if (v instanceof Map) return "a dict";
  if (Array.isArray(v)) return `a tuple of ${v.length}`;
  if (v instanceof Marker || v instanceof Callable) return v.qualname;
  if (typeof v === "object") return "an object";
  return JSON.stringify(v) ?? String(v);
}
