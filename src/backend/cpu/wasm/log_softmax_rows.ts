import { type Code, I32, ModuleBuilder, V128 } from "./emitter.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";
import { regs, STREAM_CHUNK, vexp } from "./vmath.js";

// float32 log-softmax over rows on WebAssembly SIMD, in two passes over
// rows streamed through scratch a chunk at a time (each padded with −inf
// to whole steps of 8 floats, which change neither the maximum nor Σ exp):
// - stats: each row's maximum (f32x4.pmax, one instruction on x64, in two
//   accumulators, with a NaN flag since pmax ignores NaN) and
//   Σ exp(x − max) (vmath's expf, summed in float64 in four chains);
// - JS then takes lse = max + log Σ per row, and shift writes x − lse in
//   float64, rounded once to float32.
// These are fused.ts's softmaxSimd's steps (x − max rounded to float32,
// the same expf, float64 sums, x − lse in doubles), so the results are
// its bits but for the order of the float64 additions in Σ. A row whose
// maximum is not finite (a NaN, +inf, or all −inf) is NaN, as there.

/** Pushes local v with its high two float32 lanes moved down (into the low half). */
function highHalf(c: Code, v: number): Code {
  c.localGet(v).localGet(v).simd(V128.i8x16Shuffle);
  return c.op(8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
}

/** Local acc (f64x2) += the doubles of local v's low (half 0) or high (half 1) two lanes. */
function accumulate(c: Code, acc: number, v: number, half: number): void {
  c.localGet(acc);
  if (half === 0) c.localGet(v);
  else highHalf(c, v);
  c.simd(V128.f64x2PromoteLowF32x4).simd(V128.f64x2Add).localSet(acc);
}

/** Sets local acc's four lanes to its largest lane (pmax: acc holds no NaN). */
function foldMax(c: Code, acc: number): void {
  for (const half of [8, 4]) {
    c.localGet(acc).localGet(acc).localGet(acc).simd(V128.i8x16Shuffle);
    for (let b = 0; b < 16; b++) c.op((b + half) % 16);
    c.simd(V128.f32x4Pmax).localSet(acc);
  }
}

/**
 * The module over rows of rowBytes (a multiple of 32) from x:
 * stats(x, rowBytes, rows, out) writes each row's Σ exp(x − max) as an
 * f64x2 of partial sums and its max splat to four lanes (32 bytes a row;
 * NaN if the row holds one); shift(x, rowBytes, rows, lse) sets the row's
 * x to x − lse, lse being an f64x2 (the same double twice) per row.
 */
function logSoftmaxModule(): Uint8Array {
  const m = new ModuleBuilder();
  const params = ["i32", "i32", "i32", "i32"] as const;
  const [X, ROW_BYTES, ROWS, OUT] = [0, 1, 2, 3];
  m.func("stats", [...params], [], (c) => {
    const [r, j, p] = [c.local("i32"), c.local("i32"), c.local("i32")];
    const [v, nan, mx] = [c.local("v128"), c.local("v128"), c.local("v128")];
    const max = [c.local("v128"), c.local("v128")];
    const sum = [c.local("v128"), c.local("v128"), c.local("v128"), c.local("v128")];
    const e = regs(c);
    const eachStep = (body: () => void) =>
      c.for(
        j,
        () => c.i32Const(0),
        () => c.localGet(ROW_BYTES),
        32,
        () => {
          c.localGet(X).localGet(j).op(I32.add).localSet(p);
          body();
        },
      );
    c.for(
      r,
      () => c.i32Const(0),
      () => c.localGet(ROWS),
      1,
      () => {
        for (const a of max) c.f32x4Const(Number.NEGATIVE_INFINITY).localSet(a);
        c.f32x4Zero().localSet(nan);
        eachStep(() => {
          for (let h = 0; h < 2; h++) {
            c.localGet(p)
              .simdMem(V128.load, 16 * h, 4)
              .localSet(v);
            c.localGet(max[h]!).localGet(v).simd(V128.f32x4Pmax).localSet(max[h]!);
            c.localGet(nan).localGet(v).localGet(v).simd(V128.f32x4Ne).simd(V128.v128Or);
            c.localSet(nan);
          }
        });
        c.localGet(max[0]!).localGet(max[1]!).simd(V128.f32x4Pmax).localSet(mx);
        foldMax(c, mx);
        c.localGet(nan)
          .simd(V128.v128AnyTrue)
          .if(() => c.f32x4Const(Number.NaN).localSet(mx));
        // Σ exp(x − max), each vector's halves in their own f64 chains.
        for (const a of sum) c.f32x4Zero().localSet(a);
        eachStep(() => {
          for (let h = 0; h < 2; h++) {
            c.localGet(p)
              .simdMem(V128.load, 16 * h, 4)
              .localGet(mx)
              .simd(V128.f32x4Sub)
              .localSet(v);
            vexp(c, v, e, true);
            c.localSet(v);
            accumulate(c, sum[2 * h]!, v, 0);
            accumulate(c, sum[2 * h + 1]!, v, 1);
          }
        });
        c.localGet(OUT).localGet(sum[0]!).localGet(sum[1]!).simd(V128.f64x2Add);
        c.localGet(sum[2]!).localGet(sum[3]!).simd(V128.f64x2Add).simd(V128.f64x2Add);
        c.simdMem(V128.store, 0, 4);
        c.localGet(OUT).localGet(mx).simdMem(V128.store, 16, 4);
        c.inc(OUT, 32);
        c.inc(X, () => c.localGet(ROW_BYTES));
      },
    );
  });
  m.func("shift", [...params], [], (c) => {
    const [r, j, p] = [c.local("i32"), c.local("i32"), c.local("i32")];
    const [v, lse] = [c.local("v128"), c.local("v128")];
    c.for(
      r,
      () => c.i32Const(0),
      () => c.localGet(ROWS),
      1,
      () => {
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
            highHalf(c, v).simd(V128.f64x2PromoteLowF32x4).localGet(lse).simd(V128.f64x2Sub);
            c.simd(V128.f32x4DemoteF64x2Zero).simd(V128.i8x16Shuffle);
            c.op(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
            c.simdMem(V128.store, 0, 4);
          },
        );
        c.inc(OUT, 16);
        c.inc(X, () => c.localGet(ROW_BYTES));
      },
    );
  });
  return m.bytes({ pages: 1 });
}

interface LogSoftmaxExports {
  stats(x: number, rowBytes: number, rows: number, out: number): void;
  shift(x: number, rowBytes: number, rows: number, lse: number): void;
}

const compiled = scratchKernels<LogSoftmaxExports>(logSoftmaxModule);
let enabled = true;

function kernels(): ScratchKernels<LogSoftmaxExports> | null {
  return enabled ? compiled() : null;
}

/**
 * Switches these SIMD kernels off (or back on), so tests and benchmarks can
 * compare them with the path they replace; returns the old setting.
 */
export function setLogSoftmaxKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Below this many elements the copies and calls cost more than the JS path. */
export const LOG_SOFTMAX_MIN = 256;

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
  const n = rows * cols;
  if (n < LOG_SOFTMAX_MIN) return null;
  const lk = kernels();
  if (!lk) return null;
  // k rows a chunk (one, however long, if a row is longer than a chunk).
  const stride = Math.ceil(cols / 8) * 8;
  const k = Math.max(1, Math.floor(STREAM_CHUNK / stride));
  // rows | each row's stats (32 bytes) | each row's lse (16 bytes)
  const statsAt = 4 * k * stride;
  const lseAt = statsAt + 32 * k;
  lk.scratch.reserve(lseAt + 16 * k);
  const mem = lk.scratch.floats;
  const f64 = new Float64Array(lk.scratch.memory.buffer);
  const out = new Float32Array(n);
  for (let r0 = 0; r0 < rows; r0 += k) {
    const m = Math.min(k, rows - r0);
    const start = offset + r0 * cols;
    if (stride === cols) mem.set(xd.subarray(start, start + m * cols), 0);
    else
      for (let r = 0; r < m; r++) {
        mem.set(xd.subarray(start + r * cols, start + (r + 1) * cols), r * stride);
        mem.fill(Number.NEGATIVE_INFINITY, r * stride + cols, (r + 1) * stride);
      }
    lk.k.stats(0, 4 * stride, m, statsAt);
    for (let r = 0; r < m; r++) {
      const q = statsAt / 8 + 4 * r;
      const max = mem[statsAt / 4 + 8 * r + 4]!;
      // A maximum that is not finite (max − max ≠ 0) makes the row NaN.
      const lse = max - max === 0 ? max + Math.log(f64[q]! + f64[q + 1]!) : Number.NaN;
      f64[lseAt / 8 + 2 * r] = lse;
      f64[lseAt / 8 + 2 * r + 1] = lse;
    }
    lk.k.shift(0, 4 * stride, m, lseAt);
    if (stride === cols) out.set(mem.subarray(0, m * cols), r0 * cols);
    else
      for (let r = 0; r < m; r++)
        out.set(mem.subarray(r * stride, r * stride + cols), (r0 + r) * cols);
  }
  return out;
}
