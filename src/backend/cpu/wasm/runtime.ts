import { ModuleBuilder, V128 } from "./emitter.js";

/**
 * What the JavaScript runtime's WebAssembly can do, probed once by
 * validating two tiny modules: SIMD128 (every current browser and Node ≥ 16)
 * and relaxed SIMD (fused multiply-add; newer runtimes only). The
 * environment variable FLINT_NO_SIMD=1 reports neither, so every op takes
 * the TypeScript kernels, as on a runtime without SIMD: Node 20 cannot
 * switch SIMD off, and the fallback must stay tested.
 */
export interface WasmFeatures {
  simd: boolean;
  relaxedSimd: boolean;
}

let features: WasmFeatures | null = null;

export function wasmFeatures(): WasmFeatures {
  if (features) return features;
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  if (env?.FLINT_NO_SIMD === "1") {
    features = { simd: false, relaxedSimd: false };
    return features;
  }
  const probe = (write: Parameters<ModuleBuilder["func"]>[3]) => {
    try {
      if (typeof WebAssembly !== "object") return false;
      return WebAssembly.validate(
        new ModuleBuilder().func("f", [], ["v128"], write).bytes({ pages: 1 }) as BufferSource,
      );
    } catch {
      return false;
    }
  };
  const simd = probe((c) => c.f32x4Zero().f32x4Zero().simd(V128.f32x4Add));
  const relaxedSimd =
    simd && probe((c) => c.f32x4Zero().f32x4Zero().f32x4Zero().simd(V128.f32x4RelaxedMadd));
  features = { simd, relaxedSimd };
  return features;
}

const PAGE = 65536;

/**
 * One growable linear memory shared by the wasm kernels, used as scratch:
 * each kernel call lays its operands out from byte 0, so memory grows to
 * the largest call seen and is then reused — a training loop stays flat.
 */
export class Scratch {
  /** Shared memories must declare a maximum: 2 GiB of address space. */
  static readonly MAX_PAGES = 32768;
  readonly memory: WebAssembly.Memory;
  private f32: Float32Array;

  constructor(shared = false, pages = 16) {
    this.memory = shared
      ? new WebAssembly.Memory({ initial: pages, maximum: Scratch.MAX_PAGES, shared: true })
      : new WebAssembly.Memory({ initial: pages });
    this.f32 = new Float32Array(this.memory.buffer);
  }

  /** Whether shared wasm memory (and so threads) is available here. */
  static sharedAvailable(): boolean {
    try {
      return (
        typeof SharedArrayBuffer === "function" &&
        new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof
          SharedArrayBuffer
      );
    } catch {
      return false;
    }
  }

  /** Makes at least `bytes` addressable. */
  reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
    if (this.f32.buffer !== this.memory.buffer) this.f32 = new Float32Array(this.memory.buffer);
  }

  /** A float32 view of the memory (renewed after growth). */
  get floats(): Float32Array {
    if (this.f32.buffer !== this.memory.buffer) this.f32 = new Float32Array(this.memory.buffer);
    return this.f32;
  }

  get bytes(): number {
    return this.memory.buffer.byteLength;
  }
}

/** A module's imported-memory limits: a shared memory (the thread pool's) must declare its maximum. */
export function memoryLimits(shared: boolean): {
  pages: number;
  maxPages?: number;
  shared?: boolean;
} {
  return shared ? { pages: 1, maxPages: Scratch.MAX_PAGES, shared: true } : { pages: 1 };
}

/** Whether `memory` is shared between threads (so kernels over it need memoryLimits(true)). */
export function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer === "function" && memory.buffer instanceof SharedArrayBuffer;
}

/** A kernel module's exports over a scratch memory of its own. */
export interface ScratchKernels<E> {
  readonly scratch: Scratch;
  readonly k: E;
}

/**
 * A file's private kernels: `bytes()` compiled and instantiated over a
 * fresh Scratch on the first call, the same instance after (the memory is
 * reused call to call); null without WebAssembly SIMD.
 */
export function scratchKernels<E>(bytes: () => Uint8Array): () => ScratchKernels<E> | null {
  let made: ScratchKernels<E> | null | undefined;
  return () => {
    if (made === undefined) {
      if (!wasmFeatures().simd) made = null;
      else {
        const scratch = new Scratch(false, 1);
        const mod = new WebAssembly.Module(bytes() as BufferSource);
        const k = new WebAssembly.Instance(mod, { env: { memory: scratch.memory } })
          .exports as unknown as E;
        made = { scratch, k };
      }
    }
    return made;
  };
}
