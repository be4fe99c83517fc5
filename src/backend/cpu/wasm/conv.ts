import { copyOf } from "../../../dtype.js";
import { pool } from "../threads/pool.js";
import { type ProgramKernels, ProgramWriter, runProgram } from "../threads/program.js";
import { align, scratchLayout } from "./blocked.js";
import { gemmFor, type WasmGemm } from "./matmul.js";
import { RunTable, runMerging } from "./runs.js";

type ScratchLayout = ReturnType<typeof scratchLayout>;

// float32 conv2d, forward and backward, with all of its data inside the
// GEMM's wasm memory: the input (or dY) goes in once, each chunk of samples
// is laid out as columns there by the run-copy kernel (runs.ts), multiplied
// in place by the GEMM kernels, and the result is moved to the output (or
// added into grad x) by the same run kernels; one copy comes out. The JS
// path (conv_kernels.ts) copied every chunk's columns into wasm memory and
// every product out again, and moved the floats with scalar loops. A chunk
// of one sample (the usual chunk of a wide layer) needs no moves at all:
// its product [O, l] is y's sample, and dY's sample is its g2.
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
  /** Zero-fills of the padding reads in grad cols that col2im's runs add across (runs.ts). */
  crossed: Int32Array;
}

const tableCache = new WeakMap<Int32Array, Map<string, Tables>>();

function tablesFor(g: ConvGrid, sh: ConvShape, s: number): Tables {
  const key = `${sh.c},${sh.hw},${sh.o},${s},${runMerging()}`;
  let byKey = tableCache.get(g.index);
  if (!byKey) tableCache.set(g.index, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;
  const { c, hw, o } = sh;
  const { k, l, index } = g;
  const sl = s * l;
  const im2col = new RunTable();
  const col2im = new RunTable("add");
  for (let ci = 0; ci < c; ci++) {
    for (let j = 0; j < k; j++) {
      const row = (ci * k + j) * sl;
      for (let p = 0; p < l; p++) {
        const i = index[j * l + p]!;
        im2col.add(row + p, i >= 0 ? ci * hw + i : -1);
        if (i >= 0) col2im.add(ci * hw + i, row + p);
        else col2im.skip(row + p);
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
    crossed: col2im.crossed(),
  };
  byKey.set(key, t);
  return t;
}

let directMoves = true;

/**
 * Whether a chunk of one sample skips the moves between the product and
 * y (or dY and g2): its [O, l] product is laid out as y's sample, so the
 * GEMM writes y (reads dY) in place. On by default; off for tests and A/B
 * timing.
 */
export function setDirectMoves(on: boolean): void {
  directMoves = on;
}

/** GEMM kernels with the run kernels over the same memory, and the threads to use. */
interface Engine {
  gemm: WasmGemm;
  kernels: ProgramKernels;
  threads: number;
}

const kernelsByGemm = new WeakMap<WasmGemm, ProgramKernels>();

function kernelsOf(gemm: WasmGemm): ProgramKernels {
  let k = kernelsByGemm.get(gemm);
  if (!k) {
    const memory = gemm.scratch.memory;
    k = {
      gemm: gemm.kernels,
      runs: gemm.runs,
      blocking: gemm.blocking,
      memory,
    };
    kernelsByGemm.set(gemm, k);
  }
  return k;
}

/**
 * The whole batch's input and output sit in memory at once; past this the
 * JS path, which holds one chunk at a time, is kinder to memory.
 */
const MAX_BYTES = 1 << 30;

/**
 * The engine for a convolution of `macs` multiply-adds: the thread pool's
 * shared-memory kernels when threads pay (chunks of samples then run as
 * programs on every thread), else the single-thread ones; null without
 * wasm SIMD or when the batch is too large to hold.
 */
function engineFor(sh: ConvShape, g: ConvGrid, macs: number): Engine | null {
  const ck1 = sh.c * g.k + 1;
  const floats = sh.n * (2 * sh.c * sh.hw + 2 * sh.o * g.l) + 4 * ck1 * sh.per * g.l;
  if (floats * 4 > MAX_BYTES) return null;
  const gemm = gemmFor(macs);
  if (!gemm) return null;
  return { gemm, kernels: kernelsOf(gemm), threads: gemm.threadsFor(macs) };
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

/** Per-thread GEMM scratch big enough for every product shape [M, K, N] given. */
function gemmScratch(e: Engine, shapes: [number, number, number][]): ScratchLayout {
  const { mr, nv } = e.gemm.config;
  const max = (i: number) => Math.max(...shapes.map((s) => s[i]!));
  return scratchLayout(e.gemm.blocking, mr, nv * 4, max(0), max(1), max(2));
}

/**
 * How the batch's chunks of samples are dealt to programs: one program on
 * one thread (its products accumulate across every chunk), else two per
 * thread so a thread that starts late takes fewer.
 */
function dealChunks(n: number, per: number, threads: number): { n0: number; s: number }[][] {
  const chunks: { n0: number; s: number }[] = [];
  for (let n0 = 0; n0 < n; n0 += per) chunks.push({ n0, s: Math.min(per, n - n0) });
  const jobs = threads > 1 ? Math.min(chunks.length, 2 * threads) : 1;
  return Array.from({ length: jobs }, (_, j) =>
    chunks.slice(
      Math.floor((j * chunks.length) / jobs),
      Math.floor(((j + 1) * chunks.length) / jobs),
    ),
  );
}

/** Byte addresses of one geometry's run tables (and entry counts) once copied into memory. */
interface PlacedTables {
  at: Record<(typeof TABLE_NAMES)[number], number>;
  count: Record<(typeof TABLE_NAMES)[number], number>;
}

const TABLE_NAMES = ["im2col", "output", "grad", "col2im", "crossed"] as const;

function reserveTables(lay: Layout, t: Tables): PlacedTables {
  const at = {} as PlacedTables["at"];
  const count = {} as PlacedTables["count"];
  for (const name of TABLE_NAMES) {
    at[name] = lay.take(t[name].length);
    count[name] = t[name].length / 3;
  }
  return { at, count };
}

function writeTables(mem: Float32Array, t: Tables, p: PlacedTables): void {
  for (const name of TABLE_NAMES)
    new Int32Array(mem.buffer, p.at[name], t[name].length).set(t[name]);
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

/** Places the programs after everything else, reserves memory, writes them with fill() and runs them. */
function runPrograms(
  e: Engine,
  lay: Layout,
  programs: Int32Array[],
  scratch: ScratchLayout,
  fill: (mem: Float32Array) => void,
): Float32Array {
  const ats = programs.map((p) => lay.take(p.length));
  e.gemm.scratch.reserve(lay.bytes);
  const mem = e.gemm.scratch.floats;
  fill(mem);
  const words = new Int32Array(mem.buffer);
  programs.forEach((p, j) => {
    words.set(p, ats[j]! / 4);
  });
  if (e.threads > 1) pool.runPrograms(e.kernels, ats, scratch);
  else {
    const own = { tile: 0, aPanel: scratch.aPanel, bPanel: scratch.bPanel };
    for (const at of ats) runProgram(e.kernels, at, own);
  }
  return e.gemm.scratch.floats;
}

/**
 * y [N, O, l] = conv2d of x [N, C, hw] (contiguous floats) with w [O, C·k]
 * and bias b [O], or null when there is no wasm SIMD (or the batch is too
 * large to hold).
 */
export function wasmConv2d(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  sh: ConvShape,
  g: ConvGrid,
): Float32Array | null {
  const { n, c, hw, o, per } = sh;
  const ck = c * g.k;
  const { l } = g;
  const e = engineFor(sh, g, o * (ck + 1) * n * l);
  if (!e) return null;
  const slMax = per * l;
  const full = tablesFor(g, sh, per);
  const tail = n % per === 0 ? full : tablesFor(g, sh, n % per);
  const scratch = gemmScratch(e, [[o, ck + 1, slMax]]);
  const lay = new Layout();
  lay.bytes = scratch.bytes * e.threads;
  const fullAt = reserveTables(lay, full);
  const tailAt = tail === full ? fullAt : reserveTables(lay, tail);
  const wAt = lay.take(o * (ck + 1));
  const xAt = lay.take(n * c * hw);
  const yAt = lay.take(n * o * l);
  const programs = dealChunks(n, per, e.threads).map((chunks) => {
    const colsAt = lay.take((ck + 1) * slMax);
    const cAt = lay.take(o * slMax);
    const p = new ProgramWriter();
    for (const { n0, s } of chunks) {
      const t = s === per ? fullAt : tailAt;
      const sl = s * l;
      const yn = yAt + n0 * o * l * 4;
      const direct = s === 1 && directMoves;
      p.copyRuns(t.at.im2col, t.count.im2col, xAt + n0 * c * hw * 4, c * hw * 4, colsAt, l * 4, s)
        .fill(colsAt + ck * sl * 4, sl, 1)
        .gemm({
          a: wAt,
          b: colsAt,
          c: direct ? yn : cAt,
          M: o,
          N: sl,
          K: ck + 1,
          sam: ck + 1,
          sak: 1,
          sbk: sl,
          sbn: 1,
          ldc: sl,
        });
      if (!direct) p.copyRuns(t.at.output, t.count.output, cAt, l * 4, yn, o * l * 4, s);
    }
    return p.finish();
  });
  const mem = runPrograms(e, lay, programs, scratch, (m) => {
    writeTables(m, full, fullAt);
    if (tail !== full) writeTables(m, tail, tailAt);
    putWeight(m, wAt, w, b, o, ck);
    m.set(x.subarray(0, n * c * hw), xAt / 4);
  });
  return copyOf(mem.subarray(yAt / 4, yAt / 4 + n * o * l));
}

export interface ConvGrads {
  gx: Float32Array | null;
  /** [O, C·k] */
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
  const { n, c, hw, o, per } = sh;
  const ck = c * g.k;
  const { l } = g;
  const needCols = want.weight || want.bias;
  const products = (needCols ? 1 : 0) + (want.input ? 1 : 0);
  const e = engineFor(sh, g, products * o * (ck + 1) * n * l);
  if (!e) return null;
  const slMax = per * l;
  const full = tablesFor(g, sh, per);
  const tail = n % per === 0 ? full : tablesFor(g, sh, n % per);
  const scratch = gemmScratch(e, [
    [o, slMax, ck + 1],
    [ck, o, slMax],
  ]);
  const lay = new Layout();
  lay.bytes = scratch.bytes * e.threads;
  const fullAt = reserveTables(lay, full);
  const tailAt = tail === full ? fullAt : reserveTables(lay, tail);
  const wAt = lay.take(o * (ck + 1));
  const xAt = needCols ? lay.take(n * c * hw) : 0;
  const dyAt = lay.take(n * o * l);
  const gxAt = want.input ? lay.take(n * c * hw) : 0;
  // Each program sums its chunks' grad W' in a block of its own; the blocks are added at the end.
  const gwAts: number[] = [];
  const programs = dealChunks(n, per, e.threads).map((chunks) => {
    const g2At = lay.take(o * slMax);
    const colsAt = needCols ? lay.take((ck + 1) * slMax) : 0;
    const gwAt = needCols ? lay.take(o * (ck + 1)) : 0;
    const cxAt = want.input ? lay.take(ck * slMax) : 0;
    if (needCols) gwAts.push(gwAt);
    const p = new ProgramWriter();
    chunks.forEach(({ n0, s }, i) => {
      const t = s === per ? fullAt : tailAt;
      const sl = s * l;
      const dyn = dyAt + n0 * o * l * 4;
      // g2 is dY's chunk as [O, s·l]: for one sample, dY itself.
      const direct = s === 1 && directMoves;
      const g2 = direct ? dyn : g2At;
      if (!direct) p.copyRuns(t.at.grad, t.count.grad, dyn, o * l * 4, g2At, l * 4, s);
      if (needCols) {
        p.copyRuns(
          t.at.im2col,
          t.count.im2col,
          xAt + n0 * c * hw * 4,
          c * hw * 4,
          colsAt,
          l * 4,
          s,
        );
        p.fill(colsAt + ck * sl * 4, sl, 1);
        // [O, s·l] @ colsᵀ [s·l, ck + 1]: grad W' (last column: grad b), summed over the chunks.
        p.gemm({
          a: g2,
          b: colsAt,
          c: gwAt,
          M: o,
          N: ck + 1,
          K: sl,
          sam: sl,
          sak: 1,
          sbk: 1,
          sbn: sl,
          ldc: ck + 1,
          acc: i === 0 ? 0 : 1,
        });
      }
      if (want.input) {
        // Wᵀ [ck, O] (a strided view of W') @ g2 [O, s·l], then added into grad x.
        p.gemm({
          a: wAt,
          b: g2,
          c: cxAt,
          M: ck,
          N: sl,
          K: o,
          sam: 1,
          sak: ck + 1,
          sbk: sl,
          sbn: 1,
          ldc: sl,
        });
        // Padding reads that col2im's runs add across become +0 first: grad x
        // starts at +0 (below), and such a sum keeps its bits under + 0.
        if (t.count.crossed > 0) p.copyRuns(t.at.crossed, t.count.crossed, 0, 0, cxAt, l * 4, s);
        p.addRuns(t.at.col2im, t.count.col2im, cxAt, l * 4, gxAt + n0 * c * hw * 4, c * hw * 4, s);
      }
    });
    return p.finish();
  });
  const mem = runPrograms(e, lay, programs, scratch, (m) => {
    writeTables(m, full, fullAt);
    if (tail !== full) writeTables(m, tail, tailAt);
    if (want.input) putWeight(m, wAt, w, null, o, ck);
    if (needCols) m.set(x.subarray(0, n * c * hw), xAt / 4);
    m.set(dy.subarray(0, n * o * l), dyAt / 4);
    if (want.input) m.fill(0, gxAt / 4, gxAt / 4 + n * c * hw);
  });
  let gw: Float64Array | null = null;
  let gb: Float64Array | null = null;
  if (needCols) {
    const sum = new Float64Array(o * (ck + 1));
    for (const at of gwAts) {
      const part = mem.subarray(at / 4, at / 4 + sum.length);
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + part[i]!;
    }
    if (want.weight) {
      gw = new Float64Array(o * ck);
      for (let oc = 0; oc < o; oc++)
        gw.set(sum.subarray(oc * (ck + 1), oc * (ck + 1) + ck), oc * ck);
    }
    if (want.bias) gb = Float64Array.from({ length: o }, (_, oc) => sum[oc * (ck + 1) + ck]!);
  }
  return {
    gx: want.input ? copyOf(mem.subarray(gxAt / 4, gxAt / 4 + n * c * hw)) : null,
    gw,
    gb,
  };
}
