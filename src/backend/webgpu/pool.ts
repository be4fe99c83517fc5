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

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private stats: PoolStats = { liveBuffers: 0, liveBytes: 0, pooledBuffers: 0, pooledBytes: 0, created: 0 };
  // Storages collected by the GC give their buffer back here.
  private registry = new FinalizationRegistry<{ buffer: GPUBuffer; bytes: number }>((held) =>
    this.release(held.buffer, held.bytes),
  );

  constructor(
    private device: GPUDevice,
    /** Bytes the pool may keep idle before it destroys what comes back. */
    private maxPooledBytes = 512 * 1024 * 1024,
  ) {}

  /** A buffer of at least `bytes`; `fresh` says whether it is known to hold zeros. */
  acquire(bytes: number, label: string): { buffer: GPUBuffer; bytes: number; fresh: boolean } {
    const size = bucketSize(bytes);
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
    const buffer = this.device.createBuffer({ size, usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST, label });
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
    if (this.stats.pooledBytes + bytes > this.maxPooledBytes) {
      buffer.destroy();
      return;
    }
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buffer);
    this.stats.pooledBuffers++;
    this.stats.pooledBytes += bytes;
  }

  /** Frees the buffer when `owner` is garbage-collected, unless `unregister(owner)` came first. */
  track(owner: object, buffer: GPUBuffer, bytes: number): void {
    this.registry.register(owner, { buffer, bytes }, owner);
  }

  unregister(owner: object): void {
    this.registry.unregister(owner);
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
    pool.track(this, buffer, bytes);
  }

  /** Gives the buffer back to the pool now; the storage must not be used again. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.unregister(this);
    this.pool.release(this.buffer, this.bytes);
  }

  get isReleased(): boolean {
    return this.released;
  }
}
