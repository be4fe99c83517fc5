/// <reference types="@webgpu/types" />
import type { DType } from "../../dtype.js";
import type { Storage } from "../backend.js";

// GPU memory. Buffers are recycled through a pool keyed by size bucket
// (powers of two and the 1.5× steps between them, so waste stays under a
// third), because creating a GPUBuffer costs far more than an op on a small
// tensor. A storage whose tensor is garbage-collected returns its buffer to
// the pool through a FinalizationRegistry; explicit freeing (dispose, tidy,
// reference counts) builds on `release()`.

const USAGE_STORAGE = 0x80; // GPUBufferUsage.STORAGE
const USAGE_COPY_SRC = 0x04;
const USAGE_COPY_DST = 0x08;

/** Every GPU element is 4 bytes: f32, i32, and bool widened to u32 (WGSL has no 8-bit storage). */
export const ELEMENT_BYTES = 4;

/** The smallest bucket that holds `bytes`: 16, 24, 32, 48, 64, 96, … */
export function bucketSize(bytes: number): number {
  let b = 16;
  while (b < bytes) {
    const mid = b + b / 2;
    if (mid >= bytes) return mid;
    b *= 2;
  }
  return b;
}

export interface PoolStats {
  /** Buffers held by live storages. */
  liveBuffers: number;
  liveBytes: number;
  /** Buffers kept for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** GPUBuffers created so far (a pool that works keeps this flat in a loop). */
  created: number;
}

interface Held {
  buffer: GPUBuffer;
  bytes: number;
  done: boolean;
  entry: { ref: WeakRef<object>; held: Held } | null;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private stats: PoolStats = {
    liveBuffers: 0,
    liveBytes: 0,
    pooledBuffers: 0,
    pooledBytes: 0,
    created: 0,
  };
  // Storages collected by the GC give their buffer back here, once: either
  // the registry's callback or a sweep after a forced collection gets there first.
  private registry = new FinalizationRegistry<Held>((held) => this.giveBack(held));
  private tracked = new Set<{ ref: WeakRef<object>; held: Held }>();
  private liveAfterSweep = 0;
  /** A full collection (Node's gc, when it could be exposed), run under memory pressure. */
  collect: (() => void) | null = null;
  /** Live bytes allocated since the last sweep that trigger one. */
  pressureBytes = 64 * 1024 * 1024;

  constructor(
    private device: GPUDevice,
    /** Bytes the pool may keep idle before it destroys what comes back. */
    private maxPooledBytes = 512 * 1024 * 1024,
  ) {}

  /** A buffer of at least `bytes`; `fresh` says whether it is known to hold zeros. */
  acquire(bytes: number, label: string): { buffer: GPUBuffer; bytes: number; fresh: boolean } {
    const size = bucketSize(bytes);
    if (this.collect && this.stats.liveBytes - this.liveAfterSweep > this.pressureBytes)
      this.sweep();
    const list = this.free.get(size);
    this.stats.liveBuffers++;
    this.stats.liveBytes += size;
    const reused = list?.pop();
    if (reused) {
      this.stats.pooledBuffers--;
      this.stats.pooledBytes -= size;
      return { buffer: reused, bytes: size, fresh: false };
    }
    this.stats.created++;
    const buffer = this.device.createBuffer({
      size,
      usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST,
      label,
    });
    return { buffer, bytes: size, fresh: true };
  }

  /**
   * Returns a buffer for reuse. Safe while earlier work still reads it: every
   * kernel is submitted as soon as it is encoded, and the queue runs later
   * writes after earlier reads.
   */
  release(buffer: GPUBuffer, bytes: number): void {
    this.stats.liveBuffers--;
    this.stats.liveBytes -= bytes;
    // Memory the finalizers or dispose() freed lowers the mark the next sweep
    // is measured from, so sweeps keep pace with the loop that allocates.
    if (this.stats.liveBytes < this.liveAfterSweep) this.liveAfterSweep = this.stats.liveBytes;
    if (this.stats.pooledBytes + bytes > this.maxPooledBytes) {
      // Kernels still unsubmitted in the current batch may use it, and a
      // destroyed buffer fails the whole submit: destroy it after the batch's
      // flush, which an earlier microtask runs (already-submitted work keeps it alive).
      queueMicrotask(() => buffer.destroy());
      return;
    }
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buffer);
    this.stats.pooledBuffers++;
    this.stats.pooledBytes += bytes;
  }

  /** Frees the buffer when `owner` is garbage-collected, unless `untrack` came first. */
  track(owner: object, buffer: GPUBuffer, bytes: number): Held {
    const held: Held = { buffer, bytes, done: false, entry: null };
    this.registry.register(owner, held, held);
    if (this.collect) {
      held.entry = { ref: new WeakRef(owner), held };
      this.tracked.add(held.entry);
    }
    return held;
  }

  /** Releases a tracked buffer now (explicit free). */
  untrack(held: Held): void {
    this.registry.unregister(held);
    this.giveBack(held);
  }

  private giveBack(held: Held): void {
    if (held.done) return;
    held.done = true;
    if (held.entry) this.tracked.delete(held.entry);
    this.release(held.buffer, held.bytes);
  }

  /**
   * Finalizers run only when the event loop turns, and tensors that lived
   * through a training step reach the old generation, which V8 collects
   * rarely because it cannot see GPU memory. Under pressure, a full
   * collection followed by a sweep of the weak references frees, right
   * away, every buffer whose tensor is gone.
   */
  sweep(): void {
    this.collect?.();
    for (const e of [...this.tracked]) if (e.ref.deref() === undefined) this.giveBack(e.held);
    this.liveAfterSweep = this.stats.liveBytes;
  }

  /** Destroys every idle buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooledBuffers = 0;
    this.stats.pooledBytes = 0;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }
}

/** A tensor's memory on the GPU: one pooled buffer, `size` elements of 4 bytes. */
export class GpuStorage implements Storage {
  readonly device = "webgpu";
  private released = false;

  constructor(
    readonly buffer: GPUBuffer,
    /** Bucketed byte size of `buffer`. */
    readonly bytes: number,
    readonly size: number,
    readonly dtype: DType,
    private pool: BufferPool,
  ) {
    this.held = pool.track(this, buffer, bytes);
  }

  private held: Held;

  /** Gives the buffer back to the pool now; the storage must not be used again. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.untrack(this.held);
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Whether this storage lives in `pool` (not on a device that has since been replaced). */
  belongsTo(pool: BufferPool): boolean {
    return this.pool === pool;
  }
}
