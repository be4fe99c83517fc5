import { copyOf } from "../../../dtype.js";
import { numel } from "../../../shape.js";
import type { View } from "../../backend.js";
import { copyKernel } from "../elementwise.js";
import { elementOffsets } from "../iterate.js";
import { dataOf } from "../storage.js";
import { getNumThreads, onNumThreadsChange, pool } from "../threads/pool.js";
import { align, type Blocking, type GemmJob, runGemm, scratchLayout } from "./blocked.js";
import { type GemmConfig, type GemmExports, gemmModule } from "./gemm_module.js";
import { compiledRuns, type RunsExports, runsOver } from "./runs.js";
import { isShared, memoryLimits, Scratch, wasmFeatures } from "./runtime.js";

/** Float32 batched matmul on the WebAssembly SIMD GEMM kernels, split across threads when large. */

export type { Blocking };

/**
 * The register tile, 4×8: 8 accumulators + 3 operands. Measured on x64 V8
 * (Node 20), 4×8 beats 6×8 and 8×8 by ~1.8× — V8 keeps fewer than 16 SIMD
 * registers free, and the wider tiles spill.
 */
export const DEFAULT_TILE: Omit<GemmConfig, "fma"> = { mr: 4, nv: 2 };
export const DEFAULT_BLOCKING: Blocking = { mc: 120, kc: 256, nc: 4096 };

/**
 * Below this many multiply-adds (all batches together, ~20 µs of work),
 * handing out jobs costs more than it saves.
 */
const THREAD_MIN_MACS = 1 << 19;

/** By default a batch's outputs pass through wasm memory 64 MiB at a time. */
const C_GROUP_FLOATS = 1 << 24;

/** One compiled set of GEMM kernels over its own scratch memory (shared memory when threaded). */
export class WasmGemm {
  readonly scratch: Scratch;
  readonly module: WebAssembly.Module;
  readonly kernels: GemmExports;
  /** At most this many output floats of a batch sit in wasm memory at once. */
  readonly outputGroupFloats: number;

  constructor(
    readonly config: GemmConfig,
    readonly blocking: Blocking = DEFAULT_BLOCKING,
    opts: { shared?: boolean; outputGroupFloats?: number } = {},
  ) {
    this.outputGroupFloats = opts.outputGroupFloats ?? C_GROUP_FLOATS;
    this.scratch = new Scratch(opts.shared ?? false);
    this.module = new WebAssembly.Module(
      gemmModule(config, memoryLimits(opts.shared ?? false)) as BufferSource,
    );
    const instance = new WebAssembly.Instance(this.module, {
      env: { memory: this.scratch.memory },
    });
    this.kernels = instance.exports as unknown as GemmExports;
  }

  private runKernels: RunsExports | undefined;

  /** The run-copy and run-add kernels (runs.ts) over this memory, for callers that move data in it. */
  get runs(): RunsExports {
    this.runKernels ??= runsOver(this.scratch.memory, isShared(this.scratch.memory));
    return this.runKernels;
  }

  /**
   * Runs jobs whose operands already sit in this memory, on `threads`
   * threads (from threadsFor) with per-thread scratch `layout` at byte 0.
   */
  run(jobs: GemmJob[], threads: number, layout: ScratchLayout): void {
    if (threads > 1) {
      pool.run(this.kernels, this.blocking, jobs, layout);
      return;
    }
    const own = { tile: 0, aPanel: layout.aPanel, bPanel: layout.bPanel };
    for (const j of jobs) runGemm(this.kernels, this.blocking, j, own);
  }

  /** Threads a call of `macs` multiply-adds should use on this instance (its memory must be the pool's). */
  threadsFor(macs: number): number {
    return getNumThreads() > 1 && macs >= THREAD_MIN_MACS
      ? pool.threadsOver(this.scratch.memory)
      : 1;
  }

  /**
   * a [..., M, K] @ b [..., K, N] (float32, batch dims already broadcast,
   * any strides) into a new contiguous Float32Array [..., M, N], on up to
   * `threads` threads of the pool (this instance's memory must then be the
   * pool's). With `bias` (a float32 [N], any stride), bias[n] is added to
   * every row: C starts as the bias rows in wasm memory and the GEMM adds
   * into it, so the bias costs one fill instead of a pass over the output.
   */
  matmul(a: View, b: View, threads = 1, bias: View | null = null): Float32Array {
    const folded = foldBatch(a, b);
    if (folded) return this.matmul(folded[0], folded[1], threads, bias);
    const nd = a.shape.length;
    const M = a.shape[nd - 2]!;
    const K = a.shape[nd - 1]!;
    const N = b.shape[nd - 1]!;
    const batchShape = a.shape.slice(0, nd - 2);
    const batches = numel(batchShape);
    const cElems = M * N;
    if (batches * cElems === 0) return new Float32Array(0);
    if (K === 0) return bias ? biasRows(bias, batches * M) : new Float32Array(batches * cElems);
    const sa = stage(a);
    const sb = stage(b);
    const aBatch = elementOffsets(batchShape, sa.strides.slice(0, nd - 2), sa.offset - sa.lo);
    const bBatch = elementOffsets(batchShape, sb.strides.slice(0, nd - 2), sb.offset - sb.lo);
    const { mr, nv } = this.config;
    const nr = nv * 4;
    // Every live thread may take a job, so each gets scratch.
    const T =
      threads > 1 && batches * cElems * K >= THREAD_MIN_MACS
        ? pool.threadsOver(this.scratch.memory)
        : 1;
    const split = splitC(M, N, batches, T, mr, nr);

    // Memory layout, in bytes: per-thread scratch (tile + panels) | A | B | C.
    const layout = scratchLayout(
      this.blocking,
      mr,
      nr,
      split.alongM ? split.per : M,
      K,
      split.alongM ? N : split.per,
    );
    // Outputs of a large batch go through wasm memory a group of products at a time.
    const group = Math.min(batches, Math.max(1, Math.floor(this.outputGroupFloats / cElems)));
    const aBase = layout.bytes * T;
    const bBase = align(aBase + sa.data.length * 4);
    const cBase = align(bBase + sb.data.length * 4);
    this.scratch.reserve(cBase + group * cElems * 4);
    const mem = this.scratch.floats;
    mem.set(sa.data, aBase / 4);
    mem.set(sb.data, bBase / 4);

    const sam = sa.strides[nd - 2]!;
    const sak = sa.strides[nd - 1]!;
    const sbk = sb.strides[nd - 2]!;
    const sbn = sb.strides[nd - 1]!;
    const out = group < batches ? new Float32Array(batches * cElems) : null;
    for (let first = 0; first < batches; first += group) {
      const last = Math.min(batches, first + group);
      const jobs: GemmJob[] = [];
      if (bias) fillRows(mem, cBase / 4, bias, (last - first) * M);
      const acc = bias ? 1 : 0;
      for (let bi = first; bi < last; bi++) {
        const aAt = aBase + aBatch[bi]! * 4;
        const bAt = bBase + bBatch[bi]! * 4;
        const cAt = cBase + (bi - first) * cElems * 4;
        for (let s = 0; s < split.extent; s += split.per) {
          const len = Math.min(split.per, split.extent - s);
          jobs.push({
            a: split.alongM ? aAt + s * sam * 4 : aAt,
            b: split.alongM ? bAt : bAt + s * sbn * 4,
            c: cAt + (split.alongM ? s * N : s) * 4,
            M: split.alongM ? len : M,
            N: split.alongM ? N : len,
            K,
            sam,
            sak,
            sbk,
            sbn,
            ldc: N,
            acc,
          });
        }
      }
      this.run(jobs, T, layout);
      const c = mem.subarray(cBase / 4, cBase / 4 + (last - first) * cElems);
      if (!out) return copyOf(c);
      out.set(c, first * cElems);
    }
    return out!;
  }
}

type ScratchLayout = ReturnType<typeof scratchLayout>;

/**
 * For a caller that lays out its own operands in a GEMM's memory and runs
 * jobs over them (fused kernels: attention, a linear layer's backward):
 * the kernels for `macs` multiply-adds of work (gemmFor), the threads to
 * use, the per-thread scratch for jobs up to M×K×N, and `base`, the first
 * byte after that scratch where operands may go. Null without wasm SIMD.
 */
export function gemmArena(
  M: number,
  K: number,
  N: number,
  macs: number,
): { gemm: WasmGemm; T: number; layout: ScratchLayout; base: number } | null {
  const gemm = gemmFor(macs);
  if (!gemm) return null;
  const T = gemm.threadsFor(macs);
  const layout = scratchLayout(gemm.blocking, gemm.config.mr, gemm.config.nv * 4, M, K, N);
  return { gemm, T, layout, base: layout.bytes * T };
}

/** A float32 view's elements as one contiguous run: the storage itself when already dense, else a copy. */
export function denseF32(x: View): Float32Array {
  const n = numel(x.shape);
  let expected = 1;
  let dense = true;
  for (let d = x.shape.length - 1; d >= 0; d--) {
    if (x.shape[d] !== 1 && x.strides[d] !== expected) dense = false;
    expected *= x.shape[d]!;
  }
  const data = dataOf(x) as Float32Array;
  return dense ? data.subarray(x.offset, x.offset + n) : (copyKernel(x, "float32") as Float32Array);
}

/** `rows` copies of bias [N] (any stride) laid end to end in mem from float index `at`. */
export function fillRows(mem: Float32Array, at: number, bias: View, rows: number): void {
  const N = bias.shape[0]!;
  const bd = dataOf(bias) as Float32Array;
  const bs = bias.strides[0]!;
  if (bs === 1) mem.set(bd.subarray(bias.offset, bias.offset + N), at);
  else for (let n = 0, p = bias.offset; n < N; n++, p += bs) mem[at + n] = bd[p]!;
  // Doubling copies: log2(rows) memmoves instead of a loop per row.
  const end = at + rows * N;
  for (let filled = N; at + filled < end; filled *= 2) {
    mem.copyWithin(at + filled, at, Math.min(at + 2 * filled, end) - filled);
  }
}

/** A fresh [rows, N] of bias rows (a product with K = 0). */
function biasRows(bias: View, rows: number): Float32Array {
  const out = new Float32Array(rows * bias.shape[0]!);
  if (rows > 0) fillRows(out, 0, bias, rows);
  return out;
}

/**
 * How each product of a batch is cut into jobs for T threads: along C's
 * longer side, in whole register tiles, into a multiple of T parts (more
 * than T lets a thread that starts late take fewer). A part re-packs the
 * whole of the operand it shares with its siblings (A when cut along N),
 * which costs about as much as 13 columns of its own work; parts are kept
 * at least MIN_PART wide so that stays small. A batch of many products is
 * already spread by its products, which are then left whole.
 */
function splitC(
  M: number,
  N: number,
  batches: number,
  T: number,
  mr: number,
  nr: number,
): { alongM: boolean; extent: number; per: number } {
  const alongM = M >= N;
  const extent = alongM ? M : N;
  const unit = alongM ? mr : nr;
  let parts = 1;
  if (T > 1 && batches < 2 * T) {
    const wanted = T * Math.max(1, Math.min(4, Math.floor(extent / (T * MIN_PART))));
    parts = Math.min(wanted, Math.ceil(extent / unit));
  }
  const per = Math.ceil(Math.ceil(extent / unit) / parts) * unit;
  return { alongM, extent, per };
}

/**
 * One product's job cut into parts for T threads the way matmul cuts a
 * product of its own (splitC); the job itself when T is 1.
 */
export function splitJob(j: GemmJob, T: number, mr: number, nr: number): GemmJob[] {
  if (T <= 1) return [j];
  const { alongM, extent, per } = splitC(j.M, j.N, 1, T, mr, nr);
  const parts: GemmJob[] = [];
  for (let s = 0; s < extent; s += per) {
    const len = Math.min(per, extent - s);
    parts.push({
      a: alongM ? j.a + s * j.sam * 4 : j.a,
      b: alongM ? j.b : j.b + s * j.sbn * 4,
      c: j.c + (alongM ? s * j.ldc : s) * 4,
      M: alongM ? len : j.M,
      N: alongM ? j.N : len,
      K: j.K,
      sam: j.sam,
      sak: j.sak,
      sbk: j.sbk,
      sbn: j.sbn,
      ldc: j.ldc,
      acc: j.acc ?? 0,
    });
  }
  return parts;
}

/** The narrowest part of a product worth a job of its own (see splitC). */
const MIN_PART = 512;

/**
 * x [B..., M, K] @ W [K, N] broadcast over the batch (a linear layer on a
 * sequence): when b's batch strides are all 0 and a's batch dims run on
 * into its rows, the product is one [B·M, K] @ [K, N] GEMM (same output
 * layout), which packs W once and fills the register tiles better than B
 * small GEMMs. Null when the operands do not fold.
 */
function foldBatch(a: View, b: View): [View, View] | null {
  const nd = a.shape.length;
  if (nd <= 2) return null;
  let rows = a.shape[nd - 2]!;
  // The stride a batch dim needs to continue the rows above it.
  let expected = a.strides[nd - 2]! * rows;
  for (let d = nd - 3; d >= 0; d--) {
    const size = a.shape[d]!;
    if (size === 1) continue;
    if (b.strides[d] !== 0 || a.strides[d] !== expected) return null;
    expected = a.strides[d]! * size;
    rows *= size;
  }
  // A one-row product gains nothing, and [1, K] @ [K, N] hits the same kernel.
  if (rows === a.shape[nd - 2]) return null;
  const fa: View = {
    storage: a.storage,
    dtype: a.dtype,
    shape: [rows, a.shape[nd - 1]!],
    strides: [a.strides[nd - 2]!, a.strides[nd - 1]!],
    offset: a.offset,
  };
  const fb: View = {
    storage: b.storage,
    dtype: b.dtype,
    shape: [b.shape[nd - 2]!, b.shape[nd - 1]!],
    strides: [b.strides[nd - 2]!, b.strides[nd - 1]!],
    offset: b.offset,
  };
  return [fa, fb];
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

/**
 * An operand as it will sit in wasm memory: the storage window it spans is
 * copied as is (one memcpy, strides kept), unless that window is much larger
 * than the view (a thin slice of a big tensor), in which case the view is
 * first made contiguous.
 */
function stage(v: View): {
  data: Float32Array;
  lo: number;
  offset: number;
  strides: readonly number[];
} {
  const n = numel(v.shape);
  const [lo, hi] = span(v);
  if (hi - lo + 1 <= 2 * n + 1024) {
    return {
      data: (dataOf(v) as Float32Array).subarray(lo, hi + 1),
      lo,
      offset: v.offset,
      strides: v.strides,
    };
  }
  const strides: number[] = [];
  let s = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= v.shape[d]!;
  }
  return { data: copyKernel(v, "float32") as Float32Array, lo: 0, offset: 0, strides };
}

let single: WasmGemm | null | undefined;
let threaded: WasmGemm | null = null;

/** The single-thread kernels (relaxed-SIMD FMA where validated), or null without WebAssembly SIMD. */
export function defaultGemm(): WasmGemm | null {
  if (single === undefined) {
    const f = wasmFeatures();
    single = f.simd ? new WasmGemm({ ...DEFAULT_TILE, fma: f.relaxedSimd }) : null;
  }
  return single;
}

/** The shared-memory kernels the worker pool runs, once a pool has been started (else null). */
export function threadedGemm(): WasmGemm | null {
  return threaded;
}

/**
 * Starts the worker pool for `n` threads over a shared-memory copy of the
 * kernels; resolves when the workers are ready (at once when n is 1 or the
 * platform has no threads).
 */
export function startThreads(n: number): Promise<void> {
  latestStart = startPool(n);
  return latestStart;
}

let latestStart: Promise<void> = Promise.resolve();

/**
 * Resolves once the workers of the latest setNumThreads (or of the first
 * large matmul) are up. Workers start in the background and need the event
 * loop to finish starting, so a synchronous loop that never yields (a
 * benchmark timing sync calls) runs single-threaded until it awaits this.
 *
 * @example
 * fl.setNumThreads(2);
 * await threadsReady();
 */
export function threadsReady(): Promise<void> {
  return latestStart;
}

function startPool(n: number): Promise<void> {
  const base = defaultGemm();
  if (!base || n <= 1 || !Scratch.sharedAvailable()) {
    pool.stop();
    return Promise.resolve();
  }
  threaded ??= new WasmGemm(base.config, base.blocking, { shared: true });
  return pool.start(n, {
    module: threaded.module,
    memory: threaded.scratch.memory,
    kernels: threaded.kernels,
    blocking: threaded.blocking,
    runsModule: compiledRuns(true),
  });
}

onNumThreadsChange((n) => void startThreads(n));

let autoStarted = false;

/**
 * The kernels a product of `macs` multiply-adds should run on: the pool's
 * shared-memory instance when threads are on and ready, else the
 * single-thread one (null without WebAssembly SIMD). The first large
 * product starts the worker pool in the background.
 */
export function gemmFor(macs: number): WasmGemm | null {
  const base = defaultGemm();
  if (!base) return null;
  const large = macs >= THREAD_MIN_MACS;
  if (large && getNumThreads() > 1 && pool.ready > 1 && threaded) return threaded;
  if (large && getNumThreads() > 1 && !autoStarted) {
    autoStarted = true;
    void startThreads(getNumThreads());
  }
  return base;
}

/**
 * Float32 matmul on the wasm kernels (plus `bias` on every row when given),
 * or null when the runtime has no WebAssembly SIMD (the caller then uses
 * the reference kernel). The first large product starts the worker pool in
 * the background.
 */
export function wasmMatmul(a: View, b: View, bias: View | null = null): Float32Array | null {
  const base = defaultGemm();
  if (!base) return null;
  const threads = getNumThreads();
  const nd = a.shape.length;
  // Products too small to split stay on the single-thread instance: its
  // private memory is cheaper to copy into than the shared one.
  const macs = numel(a.shape) * b.shape[nd - 1]!;
  const large = macs >= THREAD_MIN_MACS;
  if (large && threads > 1 && pool.ready > 1 && threaded)
    return threaded.matmul(a, b, threads, bias);
  if (large && threads > 1 && !autoStarted) {
    autoStarted = true;
    void startThreads(threads);
  }
  return base.matmul(a, b, 1, bias);
}
