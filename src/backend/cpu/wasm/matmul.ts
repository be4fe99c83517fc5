import type { View } from "../../backend.js";
import { copyKernel } from "../elementwise.js";
import { elementOffsets } from "../iterate.js";
import { dataOf } from "../storage.js";
import { type GemmConfig, type GemmExports, gemmModule } from "./gemm_module.js";
import { Scratch, wasmFeatures } from "./runtime.js";

/** Float32 batched matmul on the WebAssembly SIMD GEMM kernels. */

/**
 * Blocking (GotoBLAS): C is swept in column blocks of nc, each split into
 * depth blocks of kc (one packed B panel, kc·nc floats, shared by all row
 * blocks) and row blocks of mc (one packed A panel, mc·kc floats, kept hot
 * in L2 while every NR-wide sliver of the B panel passes over it).
 */
export interface Blocking {
  mc: number;
  kc: number;
  nc: number;
}

/**
 * The register tile, 4×8: 8 accumulators + 3 operands. Measured on x64 V8
 * (Node 20), 4×8 beats 6×8 and 8×8 by ~1.8× — V8 keeps fewer than 16 SIMD
 * registers free, and the wider tiles spill.
 */
export const DEFAULT_TILE: Omit<GemmConfig, "fma"> = { mr: 4, nv: 2 };
export const DEFAULT_BLOCKING: Blocking = { mc: 120, kc: 256, nc: 4096 };

/** One compiled set of GEMM kernels over its own scratch memory. */
export class WasmGemm {
  readonly scratch = new Scratch();
  private readonly kernels: GemmExports;

  constructor(
    readonly config: GemmConfig,
    readonly blocking: Blocking = DEFAULT_BLOCKING,
  ) {
    const bytes = gemmModule(config, { pages: 1 });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), {
      env: { memory: this.scratch.memory },
    });
    this.kernels = instance.exports as unknown as GemmExports;
  }

  /**
   * a [..., M, K] @ b [..., K, N] (float32, batch dims already broadcast,
   * any strides) into a new contiguous Float32Array [..., M, N].
   */
  matmul(a: View, b: View): Float32Array {
    const nd = a.shape.length;
    const M = a.shape[nd - 2]!;
    const K = a.shape[nd - 1]!;
    const N = b.shape[nd - 1]!;
    const batchShape = a.shape.slice(0, nd - 2);
    const sa = stage(a);
    const sb = stage(b);
    const aBatch = elementOffsets(batchShape, sa.strides.slice(0, nd - 2), sa.offset - sa.lo);
    const bBatch = elementOffsets(batchShape, sb.strides.slice(0, nd - 2), sb.offset - sb.lo);
    const batches = aBatch.length;
    const out = new Float32Array(batches * M * N);
    if (out.length === 0 || K === 0) return out;

    // Memory layout, in bytes: tile | A panel | B panel | A | B | C.
    const { mc: MC, kc: KC, nc: NC } = this.blocking;
    const nr = this.config.nv * 4;
    const mr = this.config.mr;
    const kcMax = Math.min(KC, K);
    const ncMax = Math.min(NC, Math.ceil(N / nr) * nr);
    const mcMax = Math.min(MC, Math.ceil(M / mr) * mr);
    const tile = 0;
    const aPanel = align(tile + mr * nr * 4);
    const bPanel = align(aPanel + mcMax * kcMax * 4);
    const aBase = align(bPanel + kcMax * ncMax * 4);
    const bBase = align(aBase + sa.data.length * 4);
    const cBase = align(bBase + sb.data.length * 4);
    const cElems = M * N;
    this.scratch.reserve(cBase + cElems * 4);
    const mem = this.scratch.floats;
    mem.set(sa.data, aBase / 4);
    mem.set(sb.data, bBase / 4);

    const { packA, packB, macro } = this.kernels;
    const sam = sa.strides[nd - 2]!;
    const sak = sa.strides[nd - 1]!;
    const sbk = sb.strides[nd - 2]!;
    const sbn = sb.strides[nd - 1]!;
    for (let bi = 0; bi < batches; bi++) {
      const aAt = aBase + aBatch[bi]! * 4;
      const bAt = bBase + bBatch[bi]! * 4;
      mem.fill(0, cBase / 4, cBase / 4 + cElems);
      for (let jc = 0; jc < N; jc += NC) {
        const nc = Math.min(NC, N - jc);
        for (let pc = 0; pc < K; pc += KC) {
          const kc = Math.min(KC, K - pc);
          packB(bAt + (pc * sbk + jc * sbn) * 4, sbk * 4, sbn * 4, kc, nc, bPanel);
          for (let ic = 0; ic < M; ic += MC) {
            const mc = Math.min(MC, M - ic);
            packA(aAt + (ic * sam + pc * sak) * 4, sam * 4, sak * 4, mc, kc, aPanel);
            macro(mc, nc, kc, aPanel, bPanel, cBase + (ic * N + jc) * 4, N * 4, tile);
          }
        }
      }
      out.set(mem.subarray(cBase / 4, cBase / 4 + cElems), bi * cElems);
    }
    return out;
  }
}

let shared: WasmGemm | null | undefined;

/** The default kernels (relaxed-SIMD FMA where validated), or null when the runtime has no WebAssembly SIMD. */
export function defaultGemm(): WasmGemm | null {
  if (shared === undefined) {
    const f = wasmFeatures();
    shared = f.simd ? new WasmGemm({ ...DEFAULT_TILE, fma: f.relaxedSimd }) : null;
  }
  return shared;
}

/** Smallest and largest storage offset a strided view touches. */
function span(v: View): [number, number] {
  let lo = v.offset;
  let hi = v.offset;
  for (let d = 0; d < v.shape.length; d++) {
    const ext = (v.shape[d]! - 1) * v.strides[d]!;
    if (ext < 0) lo += ext;
    else hi += ext;
  }
  return [lo, hi];
}

function numel(v: View): number {
  return v.shape.reduce((x, y) => x * y, 1);
}

/**
 * An operand as it will sit in wasm memory: the storage window it spans is
 * copied as is (one memcpy, strides kept), unless that window is much larger
 * than the view (a thin slice of a big tensor), in which case the view is
 * first made contiguous.
 */
function stage(v: View): { data: Float32Array; lo: number; offset: number; strides: readonly number[] } {
  const n = numel(v);
  const [lo, hi] = span(v);
  if (hi - lo + 1 <= 2 * n + 1024) {
    return { data: (dataOf(v) as Float32Array).subarray(lo, hi + 1), lo, offset: v.offset, strides: v.strides };
  }
  const strides: number[] = [];
  let s = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= v.shape[d]!;
  }
  return { data: copyKernel(v, "float32") as Float32Array, lo: 0, offset: 0, strides };
}

/**
 * Float32 matmul on the default wasm kernels, or null when the runtime has
 * no WebAssembly SIMD (the caller then uses the reference kernel).
 */
export function wasmMatmul(a: View, b: View): Float32Array | null {
  return defaultGemm()?.matmul(a, b) ?? null;
}

function align(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}
