import { allocArray, type DType, type TypedArray } from "../../dtype.js";
import type { ReduceOp, View } from "../backend.js";
import { elementOffsets } from "./iterate.js";
import { dataOf } from "./storage.js";
import { simdReduceColumns } from "./wasm/reduce_columns.js";
import { firstZero, simdReduceRuns } from "./wasm/reduce_rows.js";

// Reductions over plain walks, without a table entry per reduced element.
// After merging adjacent dims, nearly every reduction is one of two walks:
// - runs: the reduced elements of each output end in a contiguous run
//   (x.sum(), x.sum(-1), softmax and layer-norm rows);
// - columns: the kept elements end in a contiguous run, so whole input rows
//   are folded into a row of accumulators (x.sum(0), a bias gradient's sum
//   over the batch, the middle dim of [A, R, B]).
// The general loops in reduce.ts stay the reference for everything else.
//
// Exactness against those loops: sums add four interleaved partial sums of
// a run, or four input rows at a time into the column accumulators (in
// doubles, as the reference does), so the adds do not wait on each other;
// only the order of float additions changes, so a float32 result may differ
// in its last bit, rarely, and int32 sums stay exact (below 2^53). prod,
// max, min, argmax and argmin give the reference's bits.
//
// float32 sum, max and min with one run per output (x.sum(), x.sum(-1),
// x.amax(-1)) go to WebAssembly SIMD (src/backend/cpu/wasm/reduce_rows.ts),
// streamed through scratch a chunk at a time: about 2× (sum) and 3.5×
// (max) faster on [1024, 1024], copies included; float32 sum, max and min
// over columns (x.sum(0)) likewise, with the JS walk's bits
// (src/backend/cpu/wasm/reduce_columns.ts). The rest stay JS loops.

let enabled = true;

/** Switches these walks off (or back on) so tests can compare them with the general loops; returns the old setting. */
export function setFastReductions(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Adjacent dims merged where they are back to back in storage; size-1 dims dropped. */
interface Block {
  size: number;
  stride: number;
  reduced: boolean;
}

function blocksOf(x: View, reduced: ReadonlySet<number>): Block[] {
  const blocks: Block[] = [];
  x.shape.forEach((size, d) => {
    if (size === 1) return;
    const stride = x.strides[d]!;
    const isReduced = reduced.has(d);
    const last = blocks[blocks.length - 1];
    if (last && last.reduced === isReduced && last.stride === stride * size) {
      last.size *= size;
      last.stride = stride;
    } else blocks.push({ size, stride, reduced: isReduced });
  });
  return blocks;
}

/** Storage offsets of the row-major walk over some blocks, from `offset`. */
function offsetsOf(blocks: readonly Block[], offset: number): Int32Array {
  return elementOffsets(
    blocks.map((b) => b.size),
    blocks.map((b) => b.stride),
    offset,
  );
}

/**
 * The reduction on a plain walk, or null (nothing allocated) when switched
 * off, for empty tensors, or when neither walk fits the layout.
 */
export function reducePlain(
  op: ReduceOp,
  x: View,
  dims: readonly number[],
  outDtype: DType,
): TypedArray | null {
  if (!enabled) return null;
  for (const d of x.shape) if (d === 0) return null;
  const blocks = blocksOf(x, new Set(dims));
  const kept = blocks.filter((b) => !b.reduced);
  const red = blocks.filter((b) => b.reduced);
  const xd = dataOf(x);
  const lastRed = red[red.length - 1];
  if (lastRed === undefined || lastRed.stride === 1) {
    // Runs: each output's reduced elements are R1 contiguous runs of n.
    const outer = offsetsOf(kept, x.offset);
    const runs = offsetsOf(red.slice(0, -1), 0);
    const n = lastRed?.size ?? 1;
    const out = allocArray(outDtype, outer.length);
    if (!(runs.length === 1 && runs[0] === 0 && simdReduceRuns(op, out, xd, outer, n)))
      runKernels[op](out, xd, outer, runs, n);
    return out;
  }
  const lastKept = kept[kept.length - 1];
  if (lastKept !== undefined && lastKept.stride === 1) {
    // Columns: each input row of B kept elements folds into B accumulators.
    const rows = offsetsOf(kept.slice(0, -1), x.offset);
    const inner = offsetsOf(red, 0);
    const B = lastKept.size;
    const out = allocArray(outDtype, rows.length * B);
    if (!simdReduceColumns(op, out, xd, rows, inner, B)) columnKernels[op](out, xd, rows, inner, B);
    return out;
  }
  return null;
}

type Kernel = (
  out: TypedArray,
  xd: TypedArray,
  outer: Int32Array,
  inner: Int32Array,
  n: number,
) => void;

// ---- Runs: out[o] reduces x[outer[o] + runs[j] + i], j < R1, i < n. ----

/** Σ xd[start..start+n) with four partial sums, so no add waits on the previous one. */
function sumRun(xd: TypedArray, start: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end = start + n;
  let i = start;
  for (; i + 3 < end; i += 4) {
    s0 += xd[i]!;
    s1 += xd[i + 1]!;
    s2 += xd[i + 2]!;
    s3 += xd[i + 3]!;
  }
  for (; i < end; i++) s0 += xd[i]!;
  return s0 + s1 + (s2 + s3);
}

function sumRuns(out: TypedArray, xd: TypedArray, outer: Int32Array, runs: Int32Array, n: number) {
  for (let o = 0; o < outer.length; o++) {
    let s = 0;
    for (let j = 0; j < runs.length; j++) s += sumRun(xd, outer[o]! + runs[j]!, n);
    out[o] = s;
  }
}

/** Products stay sequential: the reference's order, for the same bits. */
function prodRuns(out: TypedArray, xd: TypedArray, outer: Int32Array, runs: Int32Array, n: number) {
  for (let o = 0; o < outer.length; o++) {
    let s = 1;
    for (let j = 0; j < runs.length; j++) {
      const start = outer[o]! + runs[j]!;
      for (let i = start; i < start + n; i++) s *= xd[i]!;
    }
    out[o] = s;
  }
}

/**
 * The largest element of a run, NaN if it holds one (Math.max propagates
 * NaN). Four lanes keep the comparisons independent. Math.max ranks +0
 * above −0, but the reference keeps the first zero it meets, so when the
 * answer is a zero the run is scanned again for it.
 */
function maxRun(xd: TypedArray, start: number, n: number): number {
  let m0 = -Infinity;
  let m1 = m0;
  let m2 = m0;
  let m3 = m0;
  const end = start + n;
  let i = start;
  for (; i + 3 < end; i += 4) {
    m0 = Math.max(m0, xd[i]!);
    m1 = Math.max(m1, xd[i + 1]!);
    m2 = Math.max(m2, xd[i + 2]!);
    m3 = Math.max(m3, xd[i + 3]!);
  }
  for (; i < end; i++) m0 = Math.max(m0, xd[i]!);
  const m = Math.max(m0, m1, m2, m3);
  return m === 0 ? firstZero(xd, start) : m;
}

/** maxRun's mirror image. */
function minRun(xd: TypedArray, start: number, n: number): number {
  let m0 = Infinity;
  let m1 = m0;
  let m2 = m0;
  let m3 = m0;
  const end = start + n;
  let i = start;
  for (; i + 3 < end; i += 4) {
    m0 = Math.min(m0, xd[i]!);
    m1 = Math.min(m1, xd[i + 1]!);
    m2 = Math.min(m2, xd[i + 2]!);
    m3 = Math.min(m3, xd[i + 3]!);
  }
  for (; i < end; i++) m0 = Math.min(m0, xd[i]!);
  const m = Math.min(m0, m1, m2, m3);
  return m === 0 ? firstZero(xd, start) : m;
}

function extremeRuns(sign: number): Kernel {
  const run = sign > 0 ? maxRun : minRun;
  return (out, xd, outer, runs, n) => {
    for (let o = 0; o < outer.length; o++) {
      let best = sign * -Infinity;
      for (let j = 0; j < runs.length; j++) {
        const m = run(xd, outer[o]! + runs[j]!, n);
        if (m !== m) {
          best = m;
          break;
        }
        // Strictly better only: an earlier zero of the other sign stays.
        if (sign * m > sign * best) best = m;
      }
      out[o] = best;
    }
  };
}

/**
 * The index of the first NaN, else of the first extreme element, in one
 * pass (values times sign, so argmin is argmax of −x, exactly). A better
 * value is rare after the first few, so the branches predict well.
 */
function argExtremeRuns(sign: number): Kernel {
  return (out, xd, outer, runs, n) => {
    for (let o = 0; o < outer.length; o++) {
      let best = sign * xd[outer[o]! + runs[0]!]!;
      let at = 0;
      if (best === best) {
        scan: for (let j = 0; j < runs.length; j++) {
          const start = outer[o]! + runs[j]!;
          for (let i = 0; i < n; i++) {
            const v = sign * xd[start + i]!;
            if (v > best) {
              best = v;
              at = j * n + i;
            } else if (v !== v) {
              at = j * n + i;
              break scan;
            }
          }
        }
      }
      out[o] = at;
    }
  };
}

const runKernels: Record<ReduceOp, Kernel> = {
  sum: sumRuns,
  prod: prodRuns,
  max: extremeRuns(1),
  min: extremeRuns(-1),
  argmax: argExtremeRuns(1),
  argmin: argExtremeRuns(-1),
};

// ---- Columns: out[a·B + b] reduces x[rows[a] + inner[r] + b], r < R. ----
// Each output still meets its elements in the reference's order (r rising).

/** Four input rows are added before they meet the accumulators: a quarter of the loads and stores of acc. */
let accScratch = new Float64Array(64);

/**
 * The columns walks' row of float64 accumulators, B long: one array kept
 * and grown, since a fresh one per call cost more than a small reduction.
 */
function accumulators(B: number): Float64Array {
  if (accScratch.length < B) accScratch = new Float64Array(B);
  return accScratch;
}

function sumColumns(
  out: TypedArray,
  xd: TypedArray,
  rows: Int32Array,
  inner: Int32Array,
  B: number,
) {
  const acc = accumulators(B);
  const R = inner.length;
  for (let a = 0; a < rows.length; a++) {
    acc.fill(0, 0, B);
    const base = rows[a]!;
    let r = 0;
    for (; r + 3 < R; r += 4) {
      const p0 = base + inner[r]!;
      const p1 = base + inner[r + 1]!;
      const p2 = base + inner[r + 2]!;
      const p3 = base + inner[r + 3]!;
      for (let b = 0; b < B; b++) acc[b] += xd[p0 + b]! + xd[p1 + b]! + (xd[p2 + b]! + xd[p3 + b]!);
    }
    for (; r < R; r++) {
      const row = base + inner[r]!;
      for (let b = 0; b < B; b++) acc[b] += xd[row + b]!;
    }
    for (let b = 0; b < B; b++) out[a * B + b] = acc[b]!;
  }
}

function prodColumns(
  out: TypedArray,
  xd: TypedArray,
  rows: Int32Array,
  inner: Int32Array,
  B: number,
) {
  const acc = accumulators(B);
  for (let a = 0; a < rows.length; a++) {
    acc.fill(1, 0, B);
    for (let r = 0; r < inner.length; r++) {
      const row = rows[a]! + inner[r]!;
      for (let b = 0; b < B; b++) acc[b] *= xd[row + b]!;
    }
    for (let b = 0; b < B; b++) out[a * B + b] = acc[b]!;
  }
}

/**
 * Compares sign·x, so min is max of −x (negation is exact, signed zeros
 * included). A NaN sticks: nothing compares greater than it.
 */
function extremeColumns(sign: number): Kernel {
  return (out, xd, rows, inner, B) => {
    const acc = accumulators(B);
    for (let a = 0; a < rows.length; a++) {
      acc.fill(-Infinity, 0, B);
      for (let r = 0; r < inner.length; r++) {
        const row = rows[a]! + inner[r]!;
        for (let b = 0; b < B; b++) {
          const v = sign * xd[row + b]!;
          if (v > acc[b]! || v !== v) acc[b] = v;
        }
      }
      for (let b = 0; b < B; b++) out[a * B + b] = sign * acc[b]!;
    }
  };
}

/** The first NaN wins and then stays; otherwise only a strictly better value moves the index. */
function argExtremeColumns(sign: number): Kernel {
  return (out, xd, rows, inner, B) => {
    const acc = accumulators(B);
    for (let a = 0; a < rows.length; a++) {
      const first = rows[a]! + inner[0]!;
      for (let b = 0; b < B; b++) {
        acc[b] = sign * xd[first + b]!;
        out[a * B + b] = 0;
      }
      for (let r = 1; r < inner.length; r++) {
        const row = rows[a]! + inner[r]!;
        for (let b = 0; b < B; b++) {
          const v = sign * xd[row + b]!;
          const m = acc[b]!;
          if (v > m || (v !== v && m === m)) {
            acc[b] = v;
            out[a * B + b] = r;
          }
        }
      }
    }
  };
}

const columnKernels: Record<ReduceOp, Kernel> = {
  sum: sumColumns,
  prod: prodColumns,
  max: extremeColumns(1),
  min: extremeColumns(-1),
  argmax: argExtremeColumns(1),
  argmin: argExtremeColumns(-1),
};
