/// <reference types="@webgpu/types" />
import { DeviceError } from "../../errors.js";

// Finding a GPUDevice: browsers offer navigator.gpu; Node gets Dawn from the
// optional npm package `webgpu`, imported only when asked for so that the
// core never loads a native module it does not use.

/** What `requestGpu` found: the device plus the adapter's description. */
export interface GpuHandle {
  device: GPUDevice;
  /** e.g. "llvmpipe (Mesa 25.0.7)" or "NVIDIA H200". */
  adapterName: string;
  /** Where the GPU object came from. */
  source: "navigator.gpu" | "webgpu (Dawn)";
}

export interface RequestOptions {
  /** Dawn's create() flags in Node; default ["backend=vulkan"] on Linux. */
  dawnFlags?: string[];
  powerPreference?: GPUPowerPreference;
}

// Dawn's GPU object must stay referenced while its devices are in use.
let dawnGpu: GPU | null = null;

async function findGpu(
  opts: RequestOptions,
): Promise<{ gpu: GPU; source: GpuHandle["source"] } | null> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, source: "navigator.gpu" };
  if (dawnGpu) return { gpu: dawnGpu, source: "webgpu (Dawn)" };
  let mod: { create(flags: string[]): GPU; globals: object };
  try {
    // A variable specifier keeps bundlers from inlining a Node-only module.
    const name = "webgpu";
    mod = (await import(/* @vite-ignore */ name)) as typeof mod;
  } catch {
    return null;
  }
  // Dawn's classes (GPUBufferUsage, …) are expected as globals by WebGPU code.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const flags =
    opts.dawnFlags ??
    (typeof process !== "undefined" && process.platform === "linux" ? ["backend=vulkan"] : []);
  dawnGpu = mod.create(flags);
  return { gpu: dawnGpu, source: "webgpu (Dawn)" };
}

/** An adapter, or null when this process has no WebGPU (no package, no driver). */
export async function requestAdapter(
  opts: RequestOptions = {},
): Promise<{ adapter: GPUAdapter; source: GpuHandle["source"] } | null> {
  const found = await findGpu(opts);
  if (!found) return null;
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await found.gpu.requestAdapter(
      opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined,
    );
  } catch {
    adapter = null;
  }
  return adapter ? { adapter, source: found.source } : null;
}

/** A device with the adapter's full buffer limits (the defaults stop at 128 MiB / 256 MiB). */
export async function requestGpu(opts: RequestOptions = {}): Promise<GpuHandle> {
  const found = await requestAdapter(opts);
  if (!found) {
    throw new DeviceError(
      "webgpu: no WebGPU adapter found (in Node install the optional package `webgpu` and a Vulkan driver, e.g. Mesa's lavapipe; in a browser enable WebGPU)",
    );
  }
  const { adapter, source } = found;
  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: lim.maxStorageBuffersPerShaderStage,
    },
  });
  const info = adapter.info;
  const adapterName =
    [info.device || info.architecture, info.description].filter((s) => s).join(" ") ||
    info.vendor ||
    "unknown adapter";
  return { device, adapterName, source };
}

/**
 * Node's full garbage collection, exposed at run time, for the buffer pool's
 * pressure valve; null elsewhere (browsers) or when it cannot be had.
 */
export async function exposeGc(): Promise<(() => void) | null> {
  if (typeof process === "undefined" || !process.versions?.node) return null;
  try {
    const v8 = "node:v8";
    const vmName = "node:vm";
    const { setFlagsFromString } = (await import(/* @vite-ignore */ v8)) as {
      setFlagsFromString(f: string): void;
    };
    const { runInNewContext } = (await import(/* @vite-ignore */ vmName)) as {
      runInNewContext(code: string): unknown;
    };
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc");
    return typeof gc === "function" ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
