// Recycling the arrays of gradients the autograd engine is done with.
//
// CPU tensors are garbage-collected arrays, and a kernel's output is a
// fresh one: a tiny-GPT training step makes about 45 MB of them, and V8
// answers that "external memory pressure" with a full collection per step,
// while every fresh megabyte array is cold in the caches when the kernel
// fills it. Nothing in JavaScript says when an array dies (finalizers and
// weak references only report between tasks, never inside a synchronous
// training loop), with one exception the engine knows about: the gradient
// flowing into a node during backward. Once the node's rule has turned it
// into its inputs' gradients, nobody can reach it, provided that
//   - flint's own rule made it, in this backward, into a buffer of its own
//     (emptyArray below, wrapped by exactly one storage, viewed by exactly
//     one tensor), and
//   - the engine handed it to that node only: no hook, retainGrad, capture
//     by autograd.grad, second consumer or createGraph saw it, and the
//     rule did not pass it on (see engine.ts).
// Such an array goes back to this pool, and the next emptyArray of the
// same length takes it, which is where an allocation would have gone. The
// pool is bounded, so memory stays flat.

/**
 * Arrays below this size are V8 heap objects: emptyArray makes them zeroed,
 * and pooling them gains nothing.
 */
export const POOL_MIN_BYTES = 1 << 14;

/** At most this many bytes wait in the pool; an array that would pass it is left to the GC. */
const POOL_MAX_BYTES = 64 << 20;

/** Spare float32 buffers by length in floats (whole ArrayBuffers, byte offset 0). */
const spare = new Map<number, ArrayBuffer[]>();
let pooledBytes = 0;
let enabled = true;

/**
 * For each buffer emptyArray handed out (float32, at least POOL_MIN_BYTES):
 * how many CPU storages wrap a view of it. A buffer not in the map was made
 * elsewhere (a user's array, a kernel's subarray) and is never pooled.
 */
const wrappers = new WeakMap<ArrayBufferLike, number>();

/** Turns recycling on or off (tests compare both); returns the previous setting. */
export function setArrayRecycling(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  if (!on) {
    spare.clear();
    pooledBytes = 0;
  }
  return was;
}

/** A spare float32 buffer of `size` floats, as a fresh array; undefined when there is none. */
export function takeSpare(size: number): Float32Array | undefined {
  const list = spare.get(size);
  const buffer = list?.pop();
  if (!buffer) return undefined;
  pooledBytes -= buffer.byteLength;
  wrappers.set(buffer, 0);
  return new Float32Array(buffer, 0, size);
}

/** Notes a buffer emptyArray just allocated, so that it may come back later. */
export function noteFresh(array: Float32Array): void {
  wrappers.set(array.buffer, 0);
}

/** Counts a storage wrapping `data` (CpuStorage's constructor). */
export function noteWrapped(data: { buffer: ArrayBufferLike; byteLength: number }): void {
  if (data.byteLength < POOL_MIN_BYTES) return;
  const n = wrappers.get(data.buffer);
  if (n !== undefined) wrappers.set(data.buffer, n + 1);
}

/**
 * Returns `data` to the pool if it is a whole buffer from emptyArray that
 * one storage wraps, that storage being the caller's (held by one tensor,
 * which the caller has established is unreachable).
 */
export function recycle(data: ArrayBufferView): void {
  if (!enabled || !(data instanceof Float32Array)) return;
  const buffer = data.buffer;
  if (data.byteOffset !== 0 || data.byteLength !== buffer.byteLength) return;
  if (wrappers.get(buffer) !== 1) return;
  if (pooledBytes + buffer.byteLength > POOL_MAX_BYTES) return;
  wrappers.delete(buffer);
  let list = spare.get(data.length);
  if (!list) spare.set(data.length, (list = []));
  list.push(buffer as ArrayBuffer);
  pooledBytes += buffer.byteLength;
}

/** Bytes waiting in the pool (tests). */
export function pooledArrayBytes(): number {
  return pooledBytes;
}
