import { emptyArray } from "../../../dtype.js";
import { type Code, I32, ModuleBuilder, V128, widenHalf } from "./emitter.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";
import { type Regs, regs, STREAM_CHUNK, vexp } from "./vmath.js";

// float32 softmax and log-softmax over the last dim of a contiguous
// [rows, cols] array (`x.softmax(-1)`, `x.logSoftmax(-1)`) on WebAssembly
// SIMD. Attention's row kernel (softmax_rows.ts) pays for what this case
// never needs: causal lengths, rows that straddle vectors, a
// NaN-propagating f32x4.max (about eight instructions on x64) and single
// dependency chains. Here rows are padded with −inf to whole steps of 8
// floats (changing neither the maximum nor Σ exp, and giving exact zeros)
// and streamed through scratch a chunk at a time, so the copy in, the
// passes and the copy out stay in cache. Both start alike:
// - the maximum: f32x4.pmax (one instruction) in two chains, with a NaN
//   flag OR-ed from x ≠ x, since pmax drops NaNs;
// - exp(x − max) (vmath's expf without its upper clamp, as x − max ≤ 0),
//   Σ in float64 in four chains.
// softmax stores the exponentials and multiplies them by 1/Σ, the
// reciprocal rounded to float32: the attention kernel's steps with scale
// 1, so its bits but for the order of the float64 additions in Σ.
// log-softmax returns each row's max and Σ (`stats`); JS takes
// lse = max + log Σ, and `shift` writes x − lse in float64, rounded once
// to float32: fused.ts's logSoftmaxSimd's steps, so its bits but for the
// order of the additions in Σ. A row whose maximum is not finite (a NaN,
// +inf, or all −inf) becomes NaN, as the composite gives.

/** Local acc (f64x2) += the doubles of local v's low (half 0) or high (half 1) two lanes. */
function accumulate(c: Code, acc: number, v: number, half: number): void {
  c.localGet(acc);
  widenHalf(c, v, half).simd(V128.f64x2Add).localSet(acc);
}

/** Sets local acc's four lanes to its largest lane (pmax: acc holds no NaN). */
function foldMax(c: Code, acc: number): void {
  for (const half of [8, 4]) {
    c.localGet(acc).localGet(acc).localGet(acc).simd(V128.i8x16Shuffle);
    for (let b = 0; b < 16; b++) c.op((b + half) % 16);
    c.simd(V128.f32x4Pmax).localSet(acc);
  }
}

/** The locals and loops of a function over padded rows (params x, rowBytes, rows first). */
interface RowPasses {
  /** body() for each step of 32 bytes of the current row, with local p its address. */
  eachStep(body: () => void): void;
  /** Pushes half h (16 bytes) of the current step. */
  load(h: number): Code;
  /** Stores the vector on the stack (under p) to half h of the current step. */
  store(h: number): Code;
  p: number;
  v: number;
  /** The row's maximum in four lanes, after maxPass. */
  mx: number;
  /** Any lane ≠ itself (a NaN) in the row, after maxPass. */
  nan: number;
  /** Four f64x2 chains of Σ exp(x − max), after expPass. */
  sum: number[];
  e: Regs;
}

const X = 0;
const ROW_BYTES = 1;
const ROWS = 2;

/** Emits a loop over the rows from x, body(passes) for each, then x moves on a row. */
function forRows(c: Code, body: (k: RowPasses) => void): void {
  const [r, j, p] = [c.local("i32"), c.local("i32"), c.local("i32")];
  const [v, nan, mx] = [c.local("v128"), c.local("v128"), c.local("v128")];
  const sum = [c.local("v128"), c.local("v128"), c.local("v128"), c.local("v128")];
  const passes: RowPasses = {
    eachStep: (step) =>
      c.for(
        j,
        () => c.i32Const(0),
        () => c.localGet(ROW_BYTES),
        32,
        () => {
          c.localGet(X).localGet(j).op(I32.add).localSet(p);
          step();
        },
      ),
    load: (h) => c.localGet(p).simdMem(V128.load, 16 * h, 4),
    store: (h) => c.simdMem(V128.store, 16 * h, 4),
    p,
    v,
    mx,
    nan,
    sum,
    e: regs(c),
  };
  c.for(
    r,
    () => c.i32Const(0),
    () => c.localGet(ROWS),
    1,
    () => {
      body(passes);
      c.inc(X, () => c.localGet(ROW_BYTES));
    },
  );
}

/** Pass 1: the row's maximum (mx, all lanes) and whether it holds a NaN (nan). */
function maxPass(c: Code, k: RowPasses): void {
  const max = [c.local("v128"), c.local("v128")];
  for (const a of max) c.f32x4Const(Number.NEGATIVE_INFINITY).localSet(a);
  c.f32x4Zero().localSet(k.nan);
  k.eachStep(() => {
    for (let h = 0; h < 2; h++) {
      k.load(h).localSet(k.v);
      c.localGet(max[h]!).localGet(k.v).simd(V128.f32x4Pmax).localSet(max[h]!);
      c.localGet(k.nan).localGet(k.v).localGet(k.v).simd(V128.f32x4Ne).simd(V128.v128Or);
      c.localSet(k.nan);
    }
  });
  c.localGet(max[0]!).localGet(max[1]!).simd(V128.f32x4Pmax).localSet(k.mx);
  foldMax(c, k.mx);
}

/**
 * Pass 2: Σ exp(x − mx) into the sum chains, each vector's halves in their
 * own; with `store`, the exponentials replace x.
 */
function expPass(c: Code, k: RowPasses, store: boolean): void {
  for (const a of k.sum) c.f32x4Zero().localSet(a);
  k.eachStep(() => {
    for (let h = 0; h < 2; h++) {
      k.load(h).localGet(k.mx).simd(V128.f32x4Sub).localSet(k.v);
      vexp(c, k.v, k.e, true);
      c.localSet(k.v);
      if (store) {
        c.localGet(k.p).localGet(k.v);
        k.store(h);
      }
      accumulate(c, k.sum[2 * h]!, k.v, 0);
      accumulate(c, k.sum[2 * h + 1]!, k.v, 1);
    }
  });
}

/** Pushes Σ as an f64x2 of two partial sums. */
function pushSum(c: Code, k: RowPasses): Code {
  c.localGet(k.sum[0]!).localGet(k.sum[1]!).simd(V128.f64x2Add);
  return c.localGet(k.sum[2]!).localGet(k.sum[3]!).simd(V128.f64x2Add).simd(V128.f64x2Add);
}

/**
 * The module, over rows of rowBytes (a multiple of 32, −inf past each
 * row's own floats) from byte x:
 * - softmax(x, rowBytes, rows) turns each row into its softmax, in place;
 * - stats(x, rowBytes, rows, out) writes each row's Σ exp(x − max) as an
 *   f64x2 of partial sums and its max splat to four lanes (32 bytes a
 *   row; NaN if the row holds one);
 * - shift(x, rowBytes, rows, lse) sets the row's x to x − lse, lse being
 *   an f64x2 (the same double twice) per row.
 */
function softmaxModule(): Uint8Array {
  const m = new ModuleBuilder();
  m.func("softmax", ["i32", "i32", "i32"], [], (c) => {
    const scale = c.local("v128");
    forRows(c, (k) => {
      maxPass(c, k);
      // A NaN, or a maximum that is not finite (m − m ≠ 0), makes the whole row NaN.
      c.localGet(k.nan);
      c.localGet(k.mx).localGet(k.mx).simd(V128.f32x4Sub).f32x4Zero().simd(V128.f32x4Ne);
      c.simd(V128.v128Or).simd(V128.v128AnyTrue);
      c.if(
        () =>
          k.eachStep(() => {
            for (let h = 0; h < 2; h++) {
              c.localGet(k.p).f32x4Const(Number.NaN);
              k.store(h);
            }
          }),
        () => {
          expPass(c, k, true);
          // Pass 3: × 1/Σ, the reciprocal taken in f64 and rounded to float32.
          pushSum(c, k).localTee(k.v).localGet(k.v).localGet(k.v).simd(V128.i8x16Shuffle);
          c.op(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
          c.simd(V128.f64x2Add).localSet(k.v);
          c.f32x4Const(1).simd(V128.f64x2PromoteLowF32x4);
          c.localGet(k.v).simd(V128.f64x2Div).simd(V128.f32x4DemoteF64x2Zero);
          c.simd(V128.f32x4ExtractLane).op(0).simd(V128.f32x4Splat).localSet(scale);
          k.eachStep(() => {
            for (let h = 0; h < 2; h++) {
              c.localGet(k.p);
              k.load(h).localGet(scale).simd(V128.f32x4Mul);
              k.store(h);
            }
          });
        },
      );
    });
  });
  const OUT = 3;
  m.func("stats", ["i32", "i32", "i32", "i32"], [], (c) => {
    forRows(c, (k) => {
      maxPass(c, k);
      c.localGet(k.nan)
        .simd(V128.v128AnyTrue)
        .if(() => c.f32x4Const(Number.NaN).localSet(k.mx));
      expPass(c, k, false);
      c.localGet(OUT);
      pushSum(c, k).simdMem(V128.store, 0, 4);
      c.localGet(OUT).localGet(k.mx).simdMem(V128.store, 16, 4);
      c.inc(OUT, 32);
    });
  });
  m.func("shift", ["i32", "i32", "i32", "i32"], [], (c) => {
    const [j, lse] = [c.local("i32"), c.local("v128")];
    forRows(c, ({ p, v }) => {
      c.localGet(OUT).simdMem(V128.load, 0, 4).localSet(lse);
      c.for(
        j,
        () => c.i32Const(0),
        () => c.localGet(ROW_BYTES),
        16,
        () => {
          c.localGet(X).localGet(j).op(I32.add).localTee(p);
          c.localGet(p).simdMem(V128.load, 0, 4).localSet(v);
          // Each half in doubles, x − lse, rounded to float32 and rejoined.
          c.localGet(v).simd(V128.f64x2PromoteLowF32x4).localGet(lse).simd(V128.f64x2Sub);
          c.simd(V128.f32x4DemoteF64x2Zero);
          widenHalf(c, v, 1).localGet(lse).simd(V128.f64x2Sub);
          c.simd(V128.f32x4DemoteF64x2Zero).simd(V128.i8x16Shuffle);
          c.op(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
          c.simdMem(V128.store, 0, 4);
        },
      );
      c.inc(OUT, 16);
    });
  });
  return m.bytes({ pages: 1 });
}

interface SoftmaxExports {
  softmax(x: number, rowBytes: number, rows: number): void;
  stats(x: number, rowBytes: number, rows: number, out: number): void;
  shift(x: number, rowBytes: number, rows: number, lse: number): void;
}

const compiled = scratchKernels<SoftmaxExports>(softmaxModule);
let softmaxOn = true;
let logSoftmaxOn = true;

/**
 * Switches the softmax kernel off (or back on), so tests and benchmarks can
 * compare it with the attention kernel's path it replaces; returns the old setting.
 */
export function setSoftmaxLastDimKernel(on: boolean): boolean {
  const was = softmaxOn;
  softmaxOn = on;
  return was;
}

/**
 * Switches the log-softmax kernels off (or back on), so tests and
 * benchmarks can compare them with the path they replace; returns the old setting.
 */
export function setLogSoftmaxKernels(on: boolean): boolean {
  const was = logSoftmaxOn;
  logSoftmaxOn = on;
  return was;
}

/** Below this many elements the copies and calls cost more than the JS path. */
export const SOFTMAX_LAST_DIM_MIN = 256;
export const LOG_SOFTMAX_MIN = SOFTMAX_LAST_DIM_MIN;

/**
 * Streams the rows of xd [rows, cols] (from `offset`) through the kernels'
 * scratch, k rows a chunk (one, however long, if a row is longer than a
 * chunk), each padded with −inf to `stride` floats from byte 0; run(m)
 * works on a chunk of m rows in place, and the rows come back in a new
 * array. `extra(k)` bytes after the rows are reserved for run's own use.
 */
function streamRows(
  sk: ScratchKernels<SoftmaxExports>,
  xd: Float32Array,
  offset: number,
  rows: number,
  cols: number,
  extra: (k: number, stride: number) => number,
  run: (m: number, k: number, stride: number) => void,
): Float32Array {
  const stride = Math.ceil(cols / 8) * 8;
  const k = Math.max(1, Math.floor(STREAM_CHUNK / stride));
  sk.scratch.reserve(4 * k * stride + extra(k, stride));
  const mem = sk.scratch.floats;
  const out = emptyArray("float32", rows * cols) as Float32Array;
  for (let r0 = 0; r0 < rows; r0 += k) {
    const m = Math.min(k, rows - r0);
    const start = offset + r0 * cols;
    if (stride === cols) mem.set(xd.subarray(start, start + m * cols), 0);
    else
      for (let r = 0; r < m; r++) {
        mem.set(xd.subarray(start + r * cols, start + (r + 1) * cols), r * stride);
        mem.fill(Number.NEGATIVE_INFINITY, r * stride + cols, (r + 1) * stride);
      }
    run(m, k, stride);
    if (stride === cols) out.set(mem.subarray(0, m * cols), r0 * cols);
    else
      for (let r = 0; r < m; r++)
        out.set(mem.subarray(r * stride, r * stride + cols), (r0 + r) * cols);
  }
  return out;
}

/**
 * softmax over the last dim of a contiguous float32 [rows, cols] array
 * (from `offset`), into a new array. Null (nothing allocated) without
 * SIMD, when switched off, or below SOFTMAX_LAST_DIM_MIN elements.
 */
export function simdSoftmaxLastDim(
  xd: Float32Array,
  offset: number,
  rows: number,
  cols: number,
): Float32Array | null {
  const sk = softmaxOn && rows * cols >= SOFTMAX_LAST_DIM_MIN ? compiled() : null;
  if (!sk) return null;
  return streamRows(
    sk,
    xd,
    offset,
    rows,
    cols,
    () => 0,
    (m, _k, stride) => sk.k.softmax(0, 4 * stride, m),
  );
}

/**
 * log-softmax over the last dim of a contiguous float32 [rows, cols] array
 * (from `offset`), into a new array. Null (nothing allocated) without
 * SIMD, when switched off, or below LOG_SOFTMAX_MIN elements.
 */
export function simdLogSoftmax(
  xd: Float32Array,
  offset: number,
  rows: number,
  cols: number,
): Float32Array | null {
  const sk = logSoftmaxOn && rows * cols >= LOG_SOFTMAX_MIN ? compiled() : null;
  if (!sk) return null;
  let f64: Float64Array | null = null;
  // rows | each row's stats (32 bytes) | each row's lse (16 bytes)
  return streamRows(
    sk,
    xd,
    offset,
    rows,
    cols,
    (k) => 48 * k,
    (m, k, stride) => {
      const statsAt = 4 * k * stride;
      const lseAt = statsAt + 32 * k;
      sk.k.stats(0, 4 * stride, m, statsAt);
      const mem = sk.scratch.floats;
      if (f64?.buffer !== mem.buffer) f64 = new Float64Array(mem.buffer);
      for (let r = 0; r < m; r++) {
        const q = statsAt / 8 + 4 * r;
        const max = mem[statsAt / 4 + 8 * r + 4]!;
        // A maximum that is not finite (max − max ≠ 0) makes the row NaN.
        const lse = max - max === 0 ? max + Math.log(f64[q]! + f64[q + 1]!) : Number.NaN;
        f64[lseAt / 8 + 2 * r] = lse;
        f64[lseAt / 8 + 2 * r + 1] = lse;
      }
      sk.k.shift(0, 4 * stride, m, lseAt);
    },
  );
}
