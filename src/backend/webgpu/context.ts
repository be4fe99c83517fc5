/// <reference types="@webgpu/types" />
import { allocArray, type DType, type TypedArray } from "../../dtype.js";
import { ArgumentError, DeviceError } from "../../errors.js";
import { trackAlloc } from "../memory.js";
import { FAULT_CODES, WG } from "./kernels.js";
import { BufferPool, ELEMENT_BYTES, GpuStorage } from "./pool.js";
import { storageType } from "./wgsl.js";

// One GPUDevice and what flint keeps beside it: the buffer pool, compiled
// pipelines, the index-fault buffer, and the first asynchronous error.
// Kernels are recorded into one command encoder and submitted in batches
// (a submit per kernel costs more than a small kernel). Within a batch the
// passes run in order, so a buffer that returns to the pool may be reused
// by a later kernel of the same batch. Writes from the CPU
// (queue.writeBuffer) would overtake the unsubmitted batch, so the batch is
// submitted before each of them, and before every read.

const MAP_READ = 0x01;
const COPY_DST = 0x08;
const STORAGE = 0x80;
const COPY_SRC = 0x04;

/** Bytes of kernel parameters one batch carries; a full arena submits the batch. */
const ARENA_BYTES = 64 * 1024;

export class GpuContext {
  readonly pool: BufferPool;
  private pipelines = new Map<string, GPUComputePipeline>();
  private fault: GPUBuffer;
  private lostReason: string | null = null;
  private firstError: string | null = null;
  /** Kernels submitted so far. */
  dispatches = 0;
  // The batch being recorded: its encoder, and its kernels' `meta` words in
  // one arena buffer, each at an offset the device's alignment allows.
  private encoder: GPUCommandEncoder | null = null;
  private arena: GPUBuffer | null = null;
  // Arenas of submitted batches, for reuse (kept apart from the pool, whose counts are tensors').
  private spareArenas: GPUBuffer[] = [];
  private arenaData = new Int32Array(ARENA_BYTES / 4);
  private arenaUsed = 0;

  constructor(
    readonly device: GPUDevice,
    readonly adapterName: string,
  ) {
    this.pool = new BufferPool(device);
    this.fault = device.createBuffer({
      size: 16,
      usage: STORAGE | COPY_SRC | COPY_DST,
      label: "flint:fault",
    });
    device.lost.then((info) => {
      this.lostReason = info.message || String(info.reason);
    });
    device.addEventListener("uncapturederror", (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.firstError ??= `${e.constructor.name}: ${e.message}`;
    });
  }

  get limits(): { maxBinding: number; maxBuffer: number } {
    return {
      maxBinding: this.device.limits.maxStorageBufferBindingSize,
      maxBuffer: this.device.limits.maxBufferSize,
    };
  }

  get isLost(): boolean {
    return this.lostReason !== null;
  }

  /** Throws when the device is gone or an earlier kernel failed. */
  check(op: string): void {
    if (this.lostReason !== null) {
      throw new DeviceError(
        `${op}: the webgpu device was lost (${this.lostReason}); call await fl.webgpu.init() for a new one (tensors on the lost device are gone)`,
      );
    }
    if (this.firstError !== null) {
      const msg = this.firstError;
      this.firstError = null;
      throw new DeviceError(`${op}: an earlier webgpu kernel failed: ${msg}`);
    }
  }

  /** A storage of `size` elements with undefined contents. */
  alloc(op: string, dtype: DType, size: number): GpuStorage {
    storageType(op, dtype);
    this.check(op);
    const bytes = Math.max(size, 1) * ELEMENT_BYTES;
    const { maxBinding, maxBuffer } = this.limits;
    if (bytes > maxBinding || bytes > maxBuffer) {
      throw new DeviceError(
        `${op}: a ${dtype} tensor of ${size} elements (${bytes} bytes) exceeds this webgpu device's limit of ${Math.min(maxBinding, maxBuffer)} bytes per buffer (maxStorageBufferBindingSize ${maxBinding}, maxBufferSize ${maxBuffer})`,
      );
    }
    const { buffer, bytes: got, fresh } = this.pool.acquire(bytes, `flint:${op}`);
    const s = new GpuStorage(buffer, got, size, dtype, this.pool);
    freshness.set(s, fresh);
    trackAlloc(s);
    return s;
  }

  zeros(dtype: DType, size: number): GpuStorage {
    const s = this.alloc("zeros", dtype, size);
    if (!freshness.get(s)) this.batch().clearBuffer(s.buffer);
    return s;
  }

  upload(op: string, data: TypedArray, dtype: DType): GpuStorage {
    const s = this.alloc(op, dtype, data.length);
    if (data.length === 0) return s;
    // bool is one byte on the CPU and a u32 on the GPU.
    const words = data instanceof Uint8Array ? Uint32Array.from(data) : data;
    // The buffer may come from the pool with recorded kernels still to read it.
    this.flush();
    this.device.queue.writeBuffer(
      s.buffer,
      0,
      words.buffer,
      words.byteOffset,
      data.length * ELEMENT_BYTES,
    );
    return s;
  }

  private pipeline(op: string, code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code, label: `flint:${op}` });
      p = this.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "main" },
        label: `flint:${op}`,
      });
      this.pipelines.set(code, p);
    }
    return p;
  }

  /**
   * Runs `code` once: binding 0 is `meta`, then `buffers` in order (the
   * output first), then the fault buffer when `withFault`. `groups` is the
   * workgroup grid; a number means a flat launch of that many invocations.
   */
  run(
    op: string,
    code: string,
    meta: readonly number[],
    buffers: readonly GPUBuffer[],
    groups: number | [number, number, number],
    withFault = false,
  ): void {
    this.check(op);
    const grid = typeof groups === "number" ? flatGrid(op, groups) : groups;
    if (grid[0] === 0 || grid[1] === 0 || grid[2] === 0) return;
    const pipeline = this.pipeline(op, code);
    const metaBytes = Math.max(4, meta.length) * 4;
    const align = this.device.limits.minStorageBufferOffsetAlignment;
    let offset = Math.ceil(this.arenaUsed / align) * align;
    if (offset + metaBytes > ARENA_BYTES) {
      this.flush();
      offset = 0;
    }
    if (metaBytes > ARENA_BYTES)
      throw new DeviceError(`${op}: ${meta.length} kernel parameters is too many`);
    const enc = this.batch();
    this.arenaData.fill(0, offset / 4, offset / 4 + metaBytes / 4);
    this.arenaData.set(meta, offset / 4);
    this.arenaUsed = offset + metaBytes;
    const arena = this.arena!;
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: arena, offset, size: metaBytes } },
        ...[...buffers, ...(withFault ? [this.fault] : [])].map((buffer, i) => ({
          binding: i + 1,
          resource: { buffer },
        })),
      ],
    });
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    pass.end();
    this.dispatches++;
  }

  /** The encoder of the batch being recorded (a new batch when none is). */
  private batch(): GPUCommandEncoder {
    if (!this.encoder) {
      this.encoder = this.device.createCommandEncoder();
      this.arena =
        this.spareArenas.pop() ??
        this.device.createBuffer({
          size: ARENA_BYTES,
          usage: STORAGE | COPY_DST,
          label: "flint:meta",
        });
      this.arenaUsed = 0;
      // Work recorded by synchronous code goes to the GPU when that code yields.
      queueMicrotask(() => this.flush());
    }
    return this.encoder;
  }

  /** Submits the recorded batch: its kernel parameters first, then its kernels. */
  flush(): void {
    const enc = this.encoder;
    const arena = this.arena;
    if (!enc || !arena) return;
    this.encoder = null;
    this.arena = null;
    if (this.arenaUsed > 0)
      this.device.queue.writeBuffer(arena, 0, this.arenaData.buffer, 0, this.arenaUsed);
    this.device.queue.submit([enc.finish()]);
    // Later batches may rewrite the arena only after this one has read it, which the queue orders.
    this.spareArenas.push(arena);
  }

  /** `n` elements of `s` from element `offset`, read back to the CPU. */
  async read(
    op: string,
    s: GpuStorage,
    offset: number,
    n: number,
    dtype: DType,
  ): Promise<TypedArray> {
    this.check(op);
    if (n === 0) return allocArray(dtype, 0);
    const bytes = n * ELEMENT_BYTES;
    const staging = this.device.createBuffer({
      size: bytes,
      usage: MAP_READ | COPY_DST,
      label: `flint:${op}:readback`,
    });
    const faultStaging = this.device.createBuffer({
      size: 16,
      usage: MAP_READ | COPY_DST,
      label: "flint:fault:readback",
    });
    this.flush();
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(s.buffer, offset * ELEMENT_BYTES, staging, 0, bytes);
    enc.copyBufferToBuffer(this.fault, 0, faultStaging, 0, 16);
    enc.clearBuffer(this.fault);
    this.device.queue.submit([enc.finish()]);
    try {
      await Promise.all([staging.mapAsync(MAP_READ), faultStaging.mapAsync(MAP_READ)]);
    } catch (e) {
      staging.destroy();
      faultStaging.destroy();
      this.check(op);
      throw new DeviceError(
        `${op}: reading ${n} elements back from webgpu failed: ${(e as Error).message}`,
      );
    }
    const fault = new Int32Array(faultStaging.getMappedRange().slice(0));
    const raw = staging.getMappedRange();
    let out: TypedArray;
    if (dtype === "bool") out = Uint8Array.from(new Uint32Array(raw));
    else if (dtype === "int32") out = new Int32Array(raw.slice(0));
    else out = new Float32Array(raw.slice(0));
    staging.unmap();
    staging.destroy();
    faultStaging.unmap();
    faultStaging.destroy();
    this.check(op);
    if (fault[0] !== 0) {
      const name = FAULT_CODES[fault[0]!] ?? "an indexing kernel";
      throw new ArgumentError(
        `${name}: index ${fault[1]} is out of bounds for a dimension with size ${fault[2]} (found on webgpu when a result was read; the values computed since then are not valid)`,
      );
    }
    return out;
  }

  destroy(): void {
    // Lost at once: the device's own `lost` promise settles only on a later turn.
    this.lostReason ??= "destroyed";
    this.encoder = null;
    this.arena = null;
    this.pool.trim();
    this.device.destroy();
  }
}

// Whether a storage's buffer came straight from createBuffer (zeroed by WebGPU).
const freshness = new WeakMap<GpuStorage, boolean>();

/** A grid of WG-wide workgroups covering n invocations, folded into 2-d past 65,535. */
function flatGrid(op: string, n: number): [number, number, number] {
  const groups = Math.ceil(n / WG);
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  if (y > 65535)
    throw new DeviceError(`${op}: ${n} elements is more than one webgpu launch covers`);
  return [65535, y, 1];
}
