import { emptyArray } from "../../../dtype.js";
import { type Code, I32, ModuleBuilder, V128 } from "./emitter.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";
import { regs, STREAM_CHUNK, vexp } from "./vmath.js";

// float32 softmax over the last dim of a contiguous [rows, cols] array
// (`x.softmax(-1)`) on WebAssembly SIMD. Attention's row kernel
// (softmax_rows.ts) pays for what this case never needs: causal lengths,
// rows that straddle vectors, a NaN-propagating f32x4.max (about eight
// instructions on x64) and single dependency chains. Here rows are padded
// with −inf to whole steps of 8 floats (changing neither the maximum nor
// Σ exp, and giving exact zeros) and streamed through scratch a chunk at a
// time, so the copy in, the three passes and the copy out stay in cache:
// - the maximum: f32x4.pmax (one instruction) in two chains, with a NaN
//   flag OR-ed from x ≠ x, since pmax drops NaNs;
// - exp(x − max) (vmath's expf), stored, and Σ in float64 in four chains;
// - × 1/Σ, the reciprocal rounded to float32.
// These are the attention kernel's steps with scale 1, so the results are
// its bits but for the order of the float64 additions in Σ. A row whose
// maximum is not finite (a NaN, +inf, or all −inf) becomes NaN, as the
// composite softmax gives.

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
 * The module: softmax(x, rowBytes, rows) turns each of `rows` rows of
 * rowBytes (a multiple of 32, −inf past the row's own floats) from byte x
 * into its softmax, in place.
 */
function softmaxModule(): Uint8Array {
  const m = new ModuleBuilder();
  m.func("softmax", ["i32", "i32", "i32"], [], (c) => {
    const [X, ROW_BYTES, ROWS] = [0, 1, 2];
    const [r, j, p] = [c.local("i32"), c.local("i32"), c.local("i32")];
    const [v, nan, mx, k] = [c.local("v128"), c.local("v128"), c.local("v128"), c.local("v128")];
    const max = [c.local("v128"), c.local("v128")];
    const sum = [c.local("v128"), c.local("v128"), c.local("v128"), c.local("v128")];
    const e = regs(c);
    /** body() for each step of 32 bytes, with p its address. */
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
    const load = (h: number) => c.localGet(p).simdMem(V128.load, 16 * h, 4);
    const store = (h: number) => c.simdMem(V128.store, 16 * h, 4);
    c.for(
      r,
      () => c.i32Const(0),
      () => c.localGet(ROWS),
      1,
      () => {
        // Pass 1: the maximum, and whether the row holds a NaN.
        for (const a of max) c.f32x4Const(Number.NEGATIVE_INFINITY).localSet(a);
        c.f32x4Zero().localSet(nan);
        eachStep(() => {
          for (let h = 0; h < 2; h++) {
            load(h).localSet(v);
            c.localGet(max[h]!).localGet(v).simd(V128.f32x4Pmax).localSet(max[h]!);
            c.localGet(nan).localGet(v).localGet(v).simd(V128.f32x4Ne).simd(V128.v128Or);
            c.localSet(nan);
          }
        });
        c.localGet(max[0]!).localGet(max[1]!).simd(V128.f32x4Pmax).localSet(mx);
        foldMax(c, mx);
        // A NaN, or a maximum that is not finite (m − m ≠ 0), makes the whole row NaN.
        c.localGet(nan);
        c.localGet(mx).localGet(mx).simd(V128.f32x4Sub).f32x4Zero().simd(V128.f32x4Ne);
        c.simd(V128.v128Or).simd(V128.v128AnyTrue);
        c.if(
          () =>
            eachStep(() => {
              for (let h = 0; h < 2; h++) {
                c.localGet(p).f32x4Const(Number.NaN);
                store(h);
              }
            }),
          () => {
            // Pass 2: exp(x − max), stored, each vector's halves summed in their own f64 chains.
            for (const a of sum) c.f32x4Zero().localSet(a);
            eachStep(() => {
              for (let h = 0; h < 2; h++) {
                load(h).localGet(mx).simd(V128.f32x4Sub).localSet(v);
                vexp(c, v, e, true);
                c.localSet(v);
                c.localGet(p).localGet(v);
                store(h);
                accumulate(c, sum[2 * h]!, v, 0);
                accumulate(c, sum[2 * h + 1]!, v, 1);
              }
            });
            // Pass 3: × 1/Σ, the reciprocal taken in f64 and rounded to float32.
            c.localGet(sum[0]!).localGet(sum[1]!).simd(V128.f64x2Add);
            c.localGet(sum[2]!).localGet(sum[3]!).simd(V128.f64x2Add).simd(V128.f64x2Add);
            c.localTee(v).localGet(v).localGet(v).simd(V128.i8x16Shuffle);
            c.op(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
            c.simd(V128.f64x2Add).localSet(v);
            c.f32x4Const(1).simd(V128.f64x2PromoteLowF32x4);
            c.localGet(v).simd(V128.f64x2Div).simd(V128.f32x4DemoteF64x2Zero);
            c.simd(V128.f32x4ExtractLane).op(0).simd(V128.f32x4Splat).localSet(k);
            eachStep(() => {
              for (let h = 0; h < 2; h++) {
                c.localGet(p);
                load(h).localGet(k).simd(V128.f32x4Mul);
                store(h);
              }
            });
          },
        );
        c.inc(X, () => c.localGet(ROW_BYTES));
      },
    );
  });
  return m.bytes({ pages: 1 });
}

interface SoftmaxExports {
  softmax(x: number, rowBytes: number, rows: number): void;
}

const compiled = scratchKernels<SoftmaxExports>(softmaxModule);
let enabled = true;

function kernels(): ScratchKernels<SoftmaxExports> | null {
  return enabled ? compiled() : null;
}

/**
 * Switches this kernel off (or back on), so tests and benchmarks can
 * compare it with the attention kernel's path it replaces; returns the old setting.
 */
export function setSoftmaxLastDimKernel(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Below this many elements the copies and calls cost more than the JS path. */
export const SOFTMAX_LAST_DIM_MIN = 256;

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
  const n = rows * cols;
  if (n < SOFTMAX_LAST_DIM_MIN) return null;
  const sk = kernels();
  if (!sk) return null;
  // k rows a chunk (one, however long, if a row is longer than a chunk).
  const stride = Math.ceil(cols / 8) * 8;
  const k = Math.max(1, Math.floor(STREAM_CHUNK / stride));
  sk.scratch.reserve(4 * k * stride);
  const mem = sk.scratch.floats;
  const out = emptyArray("float32", n) as Float32Array;
  for (let r0 = 0; r0 < rows; r0 += k) {
    const m = Math.min(k, rows - r0);
    const start = offset + r0 * cols;
    if (stride === cols) mem.set(xd.subarray(start, start + m * cols), 0);
    else
      for (let r = 0; r < m; r++) {
        mem.set(xd.subarray(start + r * cols, start + (r + 1) * cols), r * stride);
        mem.fill(Number.NEGATIVE_INFINITY, r * stride + cols, (r + 1) * stride);
      }
    sk.k.softmax(0, 4 * stride, m);
    if (stride === cols) out.set(mem.subarray(0, m * cols), r0 * cols);
    else
      for (let r = 0; r < m; r++)
        out.set(mem.subarray(r * stride, r * stride + cols), (r0 + r) * cols);
  }
  return out;
}
