/// <reference types="@webgpu/types" />
import { registerBackend } from "./backend/backend.js";
import { registerFused } from "./backend/fused.js";
import { registerMemoryReporter } from "./backend/memory.js";
import { GpuContext } from "./backend/webgpu/context.js";
import {
  exposeGc,
  type RequestOptions,
  requestAdapter,
  requestGpu,
} from "./backend/webgpu/device.js";
import { createWebGpuFused } from "./backend/webgpu/fused.js";
import { createWebGpuBackend } from "./backend/webgpu/index.js";
import { DeviceError } from "./errors.js";

// fl.webgpu: finding a GPU and registering the "webgpu" device. Getting a
// device is asynchronous in WebGPU, so it happens once, up front:
//
//   if (await fl.webgpu.isAvailable()) await fl.webgpu.init();
//   const x = fl.randn([64, 784]).to("webgpu");
//
// After that, ops on webgpu tensors are synchronous calls that enqueue GPU
// work; only reading values back is asynchronous (await x.data()).

let context: GpuContext | null = null;
let pending: Promise<GpuContext> | null = null;

/**
 * Whether this process can get a WebGPU adapter (navigator.gpu in browsers,
 * the `webgpu` package in Node).
 *
 * @example
 * if (await fl.webgpu.isAvailable()) await fl.webgpu.init();
 */
export async function isAvailable(opts: RequestOptions = {}): Promise<boolean> {
  if (context && !context.isLost) return true;
  return (await requestAdapter(opts)) !== null;
}

/** What init() set up. */
export interface DeviceInfo {
  /** The adapter's name, e.g. "llvmpipe … Mesa 25.0.7". */
  adapter: string;
  source: "navigator.gpu" | "webgpu (Dawn)";
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/**
 * Requests a GPU device and registers it as the "webgpu" device; resolves to
 * its description. Calling it again returns the same device, unless that one
 * was lost, in which case a new one is requested (tensors on the lost device
 * are gone). Rejects with a DeviceError when no adapter exists.
 *
 * @example
 * await fl.webgpu.init();
 * const y = fl.ones([2, 2]).to("webgpu").mul(3);
 * await y.data(); // Float32Array [3, 3, 3, 3]
 */
export async function init(opts: RequestOptions = {}): Promise<DeviceInfo> {
  if (!context || context.isLost) {
    pending ??= (async () => {
      const handle = await requestGpu(opts);
      const ctx = new GpuContext(handle.device, handle.adapterName);
      ctx.pool.collect = await exposeGc();
      const backend = createWebGpuBackend(ctx);
      registerBackend(backend);
      registerFused("webgpu", createWebGpuFused(ctx, backend));
      registerMemoryReporter("webgpu", () => {
        const m = ctx.pool.snapshot();
        return { tensors: m.liveBuffers, bytes: m.liveBytes, ...m, dispatches: ctx.dispatches };
      });
      context = ctx;
      sourceOf.set(ctx, handle.source);
      return ctx;
    })().finally(() => {
      pending = null;
    });
    await pending;
  }
  return info();
}

const sourceOf = new WeakMap<GpuContext, DeviceInfo["source"]>();

function current(): GpuContext {
  if (!context) throw new DeviceError("webgpu: no device yet; call await fl.webgpu.init() first");
  return context;
}

/** The initialised device's description. */
export function info(): DeviceInfo {
  const ctx = current();
  return {
    adapter: ctx.adapterName,
    source: sourceOf.get(ctx) ?? "webgpu (Dawn)",
    maxStorageBufferBindingSize: ctx.limits.maxBinding,
    maxBufferSize: ctx.limits.maxBuffer,
  };
}

/** Memory on the webgpu device, in buffers and bytes (bytes are bucket sizes). */
export interface MemoryInfo {
  /** Buffers held by live tensors. */
  liveBuffers: number;
  liveBytes: number;
  /** Buffers kept idle for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** GPUBuffers created so far; flat in a steady training loop when the pool works. */
  created: number;
  /** Kernels launched so far. */
  dispatches: number;
}

/**
 * What the webgpu device holds now.
 *
 * @example
 * const { liveBytes } = fl.webgpu.memory();
 */
export function memory(): MemoryInfo {
  const ctx = current();
  return { ...ctx.pool.snapshot(), dispatches: ctx.dispatches };
}

/** Destroys the idle buffers of the pool (live tensors keep theirs). */
export function emptyCache(): void {
  current().pool.trim();
}

/**
 * The GPUDevice flint runs on, to share buffers or run WebGPU code beside
 * flint's kernels.
 *
 * @example
 * const dev = fl.webgpu.gpuDevice();
 * console.log(dev.limits.maxStorageBufferBindingSize);
 */
export function gpuDevice(): GPUDevice {
  return current().device;
}

/** Whether init() has registered a device that is still usable. */
export function isInitialized(): boolean {
  return context !== null && !context.isLost;
}

/**
 * Destroys the device (for tests and shutdown); pending reads reject and
 * the next init() requests a new one.
 */
export function destroy(): void {
  context?.destroy();
}

/**
 * Sets how many bytes of new live device memory trigger a collection sweep
 * (default 64 MiB): a full garbage collection, then every buffer whose tensor
 * is gone goes back to the pool. Lower keeps memory tighter, higher costs
 * fewer collections. Node only; elsewhere the FinalizationRegistry frees.
 *
 * @example
 * fl.webgpu.setMemoryPressure(16 * 1024 * 1024);
 */
export function setMemoryPressure(bytes: number): void {
  current().pool.pressureBytes = bytes;
}
