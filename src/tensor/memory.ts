import {
  allocationMark,
  bornAfter,
  closeScope,
  type DeviceMemory,
  isReleasable,
  keepStorage,
  memoryReports,
  openScope,
  type Releasable,
} from "../backend/memory.js";
import { ArgumentError } from "../errors.js";
import type { Tensor } from "./tensor.js";

// Freeing device memory before the garbage collector gets to it. CPU
// tensors need none of this: these calls do nothing to them. Device
// tensors are freed by dispose(), by leaving a tidy() scope, or, as a
// safety net, when they are collected.

/**
 * Runs `fn` and frees the device memory of every tensor created inside it,
 * except the tensors it returns (found in arrays, plain objects and Maps)
 * and those kept with fl.keep(). Gradients the engine stores on leaves,
 * optimizer state and the parameters of `model.to(device)` are kept
 * automatically. `fn` must be synchronous; scopes nest.
 *
 * A returned tensor's graph may refer to freed tensors: call backward()
 * inside the scope, or return `loss.detach()`.
 *
 * @example
 * const loss = fl.tidy(() => {
 *   opt.zeroGrad();
 *   const loss = F.crossEntropy(model.forward(x), y);
 *   loss.backward();
 *   opt.step();
 *   return loss.detach();
 * });
 */
export function tidy<T>(fn: () => T): T;
export function tidy<T>(name: string, fn: () => T): T;
export function tidy<T>(a: string | (() => T), b?: () => T): T {
  const fn = typeof a === "function" ? a : b;
  if (typeof fn !== "function") {
    throw new ArgumentError(`tidy: expected a function, got ${typeof fn}`);
  }
  openScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    closeScope(new Set());
    throw e;
  }
  if (result instanceof Promise) {
    closeScope(new Set());
    throw new ArgumentError(
      "tidy: the function returned a Promise; tidy scopes must be synchronous (await outside it, e.g. await fl.tidy(() => loss.detach()).item())",
    );
  }
  const survivors = new Set<Releasable>();
  collectStorages(result, survivors, new Set());
  closeScope(survivors);
  return result;
}

/**
 * Marks a tensor's memory as owned elsewhere: no tidy() scope frees it
 * (dispose() still does). Returns the tensor.
 *
 * @example
 * let best: fl.Tensor | null = null;
 * fl.tidy(() => { best = fl.keep(model.forward(x)); });
 */
export function keep<T extends Tensor>(t: T): T {
  if (isReleasable(t.storage)) keepStorage(t.storage);
  return t;
}

// Gradients the engine made (rather than tensors a caller passed in or
// assigned to .grad), so zeroGrad() may free them: for each storage, how
// many leaves hold it (a rule may hand one gradient to two inputs).
const ownedGrads = new WeakMap<Releasable, number>();

/** A mark taken before backward: storages allocated after it are the engine's own. */
export function gradMark(): number {
  return allocationMark();
}

/** Keeps a leaf's new gradient past tidy(); remembers it as the engine's own if made after `mark`. */
export function adoptGrad(g: Tensor, mark: number): Tensor {
  const s = g.storage;
  if (isReleasable(s)) {
    keepStorage(s);
    const holders = ownedGrads.get(s);
    if (holders !== undefined) ownedGrads.set(s, holders + 1);
    else if (bornAfter(s, mark)) ownedGrads.set(s, 1);
  }
  return g;
}

/** Frees a gradient that is being dropped, if the engine made it (nobody else holds its storage). */
export function releaseGrad(g: Tensor | null): void {
  const s = g?.storage;
  if (!s || !isReleasable(s)) return;
  const holders = ownedGrads.get(s);
  if (holders === undefined) return;
  if (holders > 1) {
    ownedGrads.set(s, holders - 1);
    return;
  }
  ownedGrads.delete(s);
  s.release();
}

/** Frees a tensor's device memory now (see Tensor.dispose); tensors in arrays and objects too. */
export function dispose(x: unknown): void {
  const found = new Set<Releasable>();
  collectStorages(x, found, new Set());
  for (const s of found) s.release();
}

/** What each device that manages its own memory holds now. */
export interface MemoryInfo {
  [device: string]: DeviceMemory;
}

/**
 * Live tensors and bytes per device, for devices whose memory is managed
 * (webgpu, once initialised); CPU tensors are ordinary garbage-collected
 * arrays and are not counted.
 *
 * @example
 * await fl.webgpu.init();
 * const before = fl.memory().webgpu!.bytes;
 */
export function memory(): MemoryInfo {
  return memoryReports();
}

function collectStorages(x: unknown, out: Set<Releasable>, seen: Set<object>): void {
  if (x === null || typeof x !== "object" || seen.has(x)) return;
  seen.add(x);
  // Tensor is only a type import here (tensor.ts imports this file), so tensors are recognised by shape.
  const storage = (x as { storage?: unknown }).storage;
  if (storage !== null && typeof storage === "object" && "strides" in x) {
    if (isReleasable(storage)) out.add(storage);
    return;
  }
  if (Array.isArray(x)) {
    for (const v of x) collectStorages(v, out, seen);
  } else if (x instanceof Map) {
    for (const v of x.values()) collectStorages(v, out, seen);
  } else if (Object.getPrototypeOf(x) === Object.prototype) {
    for (const v of Object.values(x)) collectStorages(v, out, seen);
  }
}
