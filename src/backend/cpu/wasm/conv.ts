import { getNumThreads } from "../threads/pool.js";
import { align, type GemmJob, runGemm, scratchLayout } from "./blocked.js";
import { defaultGemm, type WasmGemm } from "./matmul.js";
import { type RunsExports, RunTable, runsModule } from "./runs.js";

// float32 conv2d, forward and backward, with all of its data inside the
// GEMM's wasm memory: the input (or dY) goes in once, each chunk of samples
// is laid out as columns there by the run-copy kernel (runs.ts), multiplied
// in place by the GEMM kernels, and the result is moved to the output (or
// added into grad x) by the same run kernels; one copy comes out. The JS
// path (conv_kernels.ts) copied every chunk's columns into wasm memory and
// every product out again, and moved the floats with scalar loops.
//
// The bias rides in the GEMM: W' = [W | b] is [O, C·k + 1] and the columns
// get a row of ones, so W'·cols has the bias added, and in the backward
// dY·colsᵀ has grad b as its last column.

/** A convolution's window table: index[j·l + p] is the plane position window element j reads for output p (−1: padding). */
export interface ConvGrid {
  index: Int32Array;
  k: number;
  /** Output positions per sample. */
  l: number;
}

export interface ConvShape {
  n: number;
  c: number;
  hw: number;
  o: number;
  /** Samples per chunk. */
  per: number;
}

/** Run tables of one geometry and chunk size (per sample, replayed over the chunk). */
interface Tables {
  /** x sample → the first ck rows of cols [ck + 1, s·l] (padding zeroed; the ones row is filled apart). */
  im2col: Int32Array;
  /** product [O, s·l] → y sample [O, l]. */
  output: Int32Array;
  /** dY sample [O, l] → g2 [O, s·l]. */
  grad: Int32Array;
  /** grad cols [ck, s·l] += into grad x sample [C, hw] (padding skipped). */
  col2im: Int32Array;
}

const tableCache = new WeakMap<Int32Array, Map<string, Tables>>();

function tablesFor(g: ConvGrid, sh: ConvShape, s: number): Tables {
  const key = `${sh.c},${sh.hw},${sh.o},${s}`;
  let byKey = tableCache.get(g.index);
  if (!byKey) tableCache.set(g.index, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;
  const { c, hw, o } = sh;
  const { k, l, index } = g;
  const sl = s * l;
  const im2col = new RunTable();
  const col2im = new RunTable();
  for (let ci = 0; ci < c; ci++) {
    for (let j = 0; j < k; j++) {
      const row = (ci * k + j) * sl;
      for (let p = 0; p < l; p++) {
        const i = index[j * l + p]!;
        im2col.add(row + p, i >= 0 ? ci * hw + i : -1);
        if (i >= 0) col2im.add(ci * hw + i, row + p);
      }
    }
  }
  // The product [O, s·l] and y [N, O, l] differ only in where samples start.
  const output = new RunTable();
  const grad = new RunTable();
  for (let oc = 0; oc < o; oc++) {
    output.add(oc * l, oc * sl);
    grad.add(oc * sl, oc * l);
    for (let p = 1; p < l; p++) {
      output.add(oc * l + p, oc * sl + p);
      grad.add(oc * sl + p, oc * l + p);
    }
  }
  const t = {
    im2col: im2col.table(),
    output: output.table(),
    grad: grad.table(),
    col2im: col2im.table(),
  };
  byKey.set(key, t);
  return t;
}

/** The GEMM kernels plus the run kernels over the same (single-thread) memory. */
interface Engine {
  gemm: WasmGemm;
  runs: RunsExports;
}

let engine: Engine | null | undefined;

function getEngine(): Engine | null {
  if (engine === undefined) {
    const gemm = defaultGemm();
    engine = gemm
      ? {
          gemm,
          runs: new WebAssembly.Instance(new WebAssembly.Module(runsModule() as BufferSource), {
            env: { memory: gemm.scratch.memory },
          }).exports as unknown as RunsExports,
        }
      : null;
  }
  return engine;
}

/**
 * Threads pay only for chunk products above this many multiply-adds (64+
 * output channels): below it the copies and scalar loops this engine saves
 * outweigh a split GEMM (LeNet at 2 threads: 17 ms a step with the split
 * JS path from 2^19, 9.8 ms here). Above it, threads > 1 take the JS path.
 */
const THREAD_MIN_MACS = 1 << 22;

/**
 * The whole batch's input and output sit in memory at once; past this the
 * JS path, which holds one chunk at a time, is kinder to memory.
 */
const MAX_BYTES = 1 << 30;

/** The engine, when this convolution should run on it. */
function engineFor(sh: ConvShape, g: ConvGrid): Engine | null {
  const ck1 = sh.c * g.k + 1;
  const macs = sh.o * ck1 * sh.per * g.l;
  if (getNumThreads() > 1 && macs >= THREAD_MIN_MACS) return null;
  const floats = sh.n * (2 * sh.c * sh.hw + 2 * sh.o * g.l) + 2 * ck1 * sh.per * g.l;
  if (floats * 4 > MAX_BYTES) return null;
  return getEngine();
}

/** A bump allocator over byte offsets (64-byte aligned blocks). */
class Layout {
  bytes = 0;
  take(floats: number): number {
    const at = this.bytes;
    this.bytes = align(at + floats * 4);
    return at;
  }
}

/** Scratch for the GEMMs that will run (the largest of their layouts), at byte 0. */
function gemmScratch(e: Engine, shapes: [number, number, number][]): number {
  const { mr, nv } = e.gemm.config;
  let bytes = 0;
  for (const [M, K, N] of shapes) {
    bytes = Math.max(bytes, scratchLayout(e.gemm.blocking, mr, nv * 4, M, K, N).bytes);
  }
  return bytes;
}

function gemm(e: Engine, job: GemmJob): void {
  const { mr, nv } = e.gemm.config;
  const l = scratchLayout(e.gemm.blocking, mr, nv * 4, job.M, job.K, job.N);
  runGemm(e.gemm.kernels, e.gemm.blocking, job, { tile: 0, aPanel: l.aPanel, bPanel: l.bPanel });
}

/** Copies a run table into memory at `at` (bytes); returns its entry count. */
function putTable(mem: Float32Array, t: Int32Array, at: number): number {
  new Int32Array(mem.buffer, at, t.length).set(t);
  return t.length / 3;
}

/** W' = [W | b] ([O, ck + 1]) at byte `at`. */
function putWeight(
  mem: Float32Array,
  at: number,
  w: Float32Array,
  b: Float32Array | null,
  o: number,
  ck: number,
): void {
  for (let oc = 0; oc < o; oc++) {
    const row = at / 4 + oc * (ck + 1);
    mem.set(w.subarray(oc * ck, oc * ck + ck), row);
    mem[row + ck] = b ? b[oc]! : 0;
  }
}

/**
 * y [N, O, l] = conv2d of x [N, C, hw] (contiguous floats) with w [O, C·k]
 * and bias b [O], or null when there is no wasm SIMD (or threads should
 * take it).
 */
export function wasmConv2d(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  sh: ConvShape,
  g: ConvGrid,
): Float32Array | null {
  const e = engineFor(sh, g);
  if (!e) return null;
  const { n, c, hw, o, per } = sh;
  const ck = c * g.k;
  const { l } = g;
  const slMax = per * g.l;
  const tables = tablesFor(g, sh, per);
  const last = n % per === 0 ? tables : tablesFor(g, sh, n % per);
  const lay = new Layout();
  lay.bytes = gemmScratch(e, [[o, ck + 1, slMax]]);
  const tableFloats = (t: Tables) => t.im2col.length + t.output.length;
  const tAt = lay.take(tableFloats(tables));
  const tLastAt = lay.take(tableFloats(last));
  const wAt = lay.take(o * (ck + 1));
  const xAt = lay.take(n * c * hw);
  const colsAt = lay.take((ck + 1) * slMax);
  const cAt = lay.take(o * slMax);
  const yAt = lay.take(n * o * l);
  e.gemm.scratch.reserve(lay.bytes);
  const mem = e.gemm.scratch.floats;
  const place = (t: Tables, at: number) => {
    const im = putTable(mem, t.im2col, at);
    const out = putTable(mem, t.output, at + t.im2col.length * 4);
    return { im, imAt: at, out, outAt: at + t.im2col.length * 4 };
  };
  const full = place(tables, tAt);
  const tail = last === tables ? full : place(last, tLastAt);
  putWeight(mem, wAt, w, b, o, ck);
  mem.set(x.subarray(0, n * c * hw), xAt / 4);
  for (let n0 = 0; n0 < n; n0 += per) {
    const s = Math.min(per, n - n0);
    const sl = s * g.l;
    const t = s === per ? full : tail;
    e.runs.copyRuns(t.imAt, t.im, xAt + n0 * c * hw * 4, c * hw * 4, colsAt, g.l * 4, s);
    mem.fill(1, colsAt / 4 + ck * sl, colsAt / 4 + (ck + 1) * sl);
    gemm(e, {
      a: wAt,
      b: colsAt,
      c: cAt,
      M: o,
      N: sl,
      K: ck + 1,
      sam: ck + 1,
      sak: 1,
      sbk: sl,
      sbn: 1,
      ldc: sl,
    });
    e.runs.copyRuns(t.outAt, t.out, cAt, g.l * 4, yAt + n0 * o * l * 4, o * l * 4, s);
  }
  return mem.slice(yAt / 4, yAt / 4 + n * o * l);
}

export interface ConvGrads {
  gx: Float32Array | null;
  /** [O, C·k], summed in float64 across chunks. */
  gw: Float64Array | null;
  gb: Float64Array | null;
}

/**
 * The gradients of wasmConv2d from dY [N, O, l] (contiguous floats), for
 * the inputs asked for; null when the engine should not run it.
 */
export function wasmConv2dBackward(
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  sh: ConvShape,
  g: ConvGrid,
  want: { input: boolean; weight: boolean; bias: boolean },
): ConvGrads | null {
  const e = engineFor(sh, g);
  if (!e) return null;
  const { n, c, hw, o, per } = sh;
  const ck = c * g.k;
  const { l } = g;
  const slMax = per * g.l;
  const tables = tablesFor(g, sh, per);
  const last = n % per === 0 ? tables : tablesFor(g, sh, n % per);
  const needCols = want.weight || want.bias;
  const lay = new Layout();
  lay.bytes = gemmScratch(e, [
    [o, slMax, ck + 1],
    [ck, o, slMax],
  ]);
  const tableFloats = (t: Tables) => t.im2col.length + t.grad.length + t.col2im.length;
  const tAt = lay.take(tableFloats(tables));
  const tLastAt = lay.take(tableFloats(last));
  const wAt = lay.take(o * (ck + 1));
  const xAt = needCols ? lay.take(n * c * hw) : 0;
  const dyAt = lay.take(n * o * l);
  const colsAt = needCols ? lay.take((ck + 1) * slMax) : 0;
  const g2At = lay.take(o * slMax);
  const cAt = lay.take(Math.max(o * (ck + 1), want.input ? ck * slMax : 0));
  const gxAt = want.input ? lay.take(n * c * hw) : 0;
  e.gemm.scratch.reserve(lay.bytes);
  const mem = e.gemm.scratch.floats;
  const place = (t: Tables, at: number) => {
    const im = putTable(mem, t.im2col, at);
    const gAt = at + t.im2col.length * 4;
    const gr = putTable(mem, t.grad, gAt);
    const cAt2 = gAt + t.grad.length * 4;
    const col = putTable(mem, t.col2im, cAt2);
    return { im, imAt: at, gr, grAt: gAt, col, colAt: cAt2 };
  };
  const full = place(tables, tAt);
  const tail = last === tables ? full : place(last, tLastAt);
  if (want.input) putWeight(mem, wAt, w, null, o, ck);
  if (needCols) mem.set(x.subarray(0, n * c * hw), xAt / 4);
  mem.set(dy.subarray(0, n * o * l), dyAt / 4);
  if (want.input) mem.fill(0, gxAt / 4, gxAt / 4 + n * c * hw);
  const gw = needCols ? new Float64Array(o * (ck + 1)) : null;
  for (let n0 = 0; n0 < n; n0 += per) {
    const s = Math.min(per, n - n0);
    const sl = s * g.l;
    const t = s === per ? full : tail;
    e.runs.copyRuns(t.grAt, t.gr, dyAt + n0 * o * l * 4, o * l * 4, g2At, g.l * 4, s);
    if (gw) {
      e.runs.copyRuns(t.imAt, t.im, xAt + n0 * c * hw * 4, c * hw * 4, colsAt, g.l * 4, s);
      mem.fill(1, colsAt / 4 + ck * sl, colsAt / 4 + (ck + 1) * sl);
      // [O, s·l] @ colsᵀ [s·l, ck + 1]: grad W' (last column: grad b).
      gemm(e, {
        a: g2At,
        b: colsAt,
        c: cAt,
        M: o,
        N: ck + 1,
        K: sl,
        sam: sl,
        sak: 1,
        sbk: 1,
        sbn: sl,
        ldc: ck + 1,
      });
      const part = mem.subarray(cAt / 4, cAt / 4 + o * (ck + 1));
      for (let i = 0; i < gw.length; i++) gw[i] = gw[i]! + part[i]!;
    }
    if (want.input) {
      // Wᵀ [ck, O] (a strided view of W') @ g2 [O, s·l], then added into grad x.
      gemm(e, {
        a: wAt,
        b: g2At,
        c: cAt,
        M: ck,
        N: sl,
        K: o,
        sam: 1,
        sak: ck + 1,
        sbk: sl,
        sbn: 1,
        ldc: sl,
      });
      e.runs.addRuns(t.colAt, t.col, cAt, g.l * 4, gxAt + n0 * c * hw * 4, c * hw * 4, s);
    }
  }
  let gwOut: Float64Array | null = null;
  let gb: Float64Array | null = null;
  if (gw && want.weight) {
    gwOut = new Float64Array(o * ck);
    for (let oc = 0; oc < o; oc++) {
      gwOut.set(gw.subarray(oc * (ck + 1), oc * (ck + 1) + ck), oc * ck);
    }
  }
  if (gw && want.bias) gb = Float64Array.from({ length: o }, (_, oc) => gw[oc * (ck + 1) + ck]!);
  return {
    gx: want.input ? mem.slice(gxAt / 4, gxAt / 4 + n * c * hw) : null,
    gw: gwOut,
    gb,
  };
}
