import { copyOf } from "../../../dtype.js";
import {
  addressOf,
  type Code,
  F32,
  F64,
  forVectors,
  I32,
  ModuleBuilder,
  V128,
  widenHalf,
} from "./emitter.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";

// Memory-bound float32 kernels on WebAssembly SIMD, four lanes at a time:
// ReLU and its gradient, and layer norm forward and backward over rows.
// In scalar JS these cost 2–15 ns per element (a load, a compare and a
// store each, through a typed array that may be Float32Array or
// Float64Array); here a vector of four takes a few instructions.
//
// Layer norm's reductions (a row's mean and variance, the backward's row
// sums, and the weight and bias gradients summed down the rows) accumulate
// in float64 (f64x2, each float32 vector widened in two halves), so long
// rows and many rows lose no more than the scalar double loops did; the
// elementwise parts are float32, rounded op by op as the composite rounds.

/**
 * Locals lo, hi (f64x2) += the low and high float32 pairs of local v,
 * widened: two accumulators, so consecutive vectors' adds do not wait on
 * each other (one accumulator made every row sum latency-bound).
 */
function accumulate(c: Code, [lo, hi]: Pair, v: number): void {
  c.localGet(lo).localGet(v).simd(V128.f64x2PromoteLowF32x4).simd(V128.f64x2Add).localSet(lo);
  c.localGet(hi);
  widenHalf(c, v, 1).simd(V128.f64x2Add).localSet(hi);
}

/** Two f64x2 accumulators, summed at the end of a row. */
type Pair = readonly [lo: number, hi: number];

function pair(c: Code): Pair {
  return [c.local("v128"), c.local("v128")];
}

function zeroPair(c: Code, [lo, hi]: Pair): void {
  c.f32x4Zero().localSet(lo);
  c.f32x4Zero().localSet(hi);
}

/** Pushes the four f64 lanes of a pair summed, in both lanes. */
function pairSum(c: Code, [lo, hi]: Pair, tmp: number): Code {
  c.localGet(lo).localGet(hi).simd(V128.f64x2Add).localSet(tmp);
  return laneSum(c, tmp);
}

/** Pushes local acc's two f64 lanes summed, in both lanes. */
function laneSum(c: Code, acc: number): Code {
  c.localGet(acc).localGet(acc).localGet(acc).simd(V128.i8x16Shuffle);
  c.op(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  return c.simd(V128.f64x2Add);
}

/** The f64x2 on the stack as a float32 in all four lanes. */
function splat32(c: Code): Code {
  return c.simd(V128.f32x4DemoteF64x2Zero).simd(V128.f32x4ExtractLane).op(0).simd(V128.f32x4Splat);
}

function f64x2Const(c: Code, v: number): Code {
  c.simd(V128.const);
  const lane = new Uint8Array(new Float64Array([v]).buffer);
  return c.op(...lane, ...lane);
}

/** for (r = 0; r < rows; r++) body(r), with local `off` = r · rowBytes. */
function rowLoop(c: Code, rows: number, rowBytes: number, off: number, body: (r: number) => void) {
  const r = c.local("i32");
  c.i32Const(0).localSet(off);
  c.for(
    r,
    () => c.i32Const(0),
    () => c.localGet(rows),
    1,
    () => {
      body(r);
      c.inc(off, () => c.localGet(rowBytes));
    },
  );
}

export function rowsModule(): Uint8Array {
  const m = new ModuleBuilder();
  // relu(x, out, nbytes): x where x > 0 or x is NaN, else +0.
  m.func("relu", ["i32", "i32", "i32"], [], (c) => {
    const v = c.local("v128");
    forVectors(c, 2, (j) => {
      addressOf(c, 1, j);
      addressOf(c, 0, j).simdMem(V128.load, 0, 4).localTee(v);
      c.localGet(v).f32x4Zero().simd(V128.f32x4Gt);
      c.localGet(v).localGet(v).simd(V128.f32x4Ne).simd(V128.v128Or);
      c.simd(V128.v128And).simdMem(V128.store, 0, 4);
    });
  });
  // reluBackward(g, y, out, nbytes): y <= 0 ? 0 : g (PyTorch's threshold_backward; NaN y passes g).
  m.func("reluBackward", ["i32", "i32", "i32", "i32"], [], (c) => {
    forVectors(c, 3, (j) => {
      addressOf(c, 2, j);
      addressOf(c, 0, j).simdMem(V128.load, 0, 4);
      addressOf(c, 1, j).simdMem(V128.load, 0, 4).f32x4Zero().simd(V128.f32x4Le);
      c.simd(V128.v128Andnot).simdMem(V128.store, 0, 4);
    });
  });
  // layerNorm(x, w, b, y, mean, rstd, rows, rowBytes, eps): w and b always given (ones, zeros).
  m.func("layerNorm", ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "f32"], [], (c) => {
    const [x, w, b, y, mean, rstd, rows, rowBytes, eps] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const off = c.local("i32");
    const p = c.local("i32");
    const q = c.local("i32");
    const [v, mu, rs, muf, rsf, cols, eps64, tmp] = Array.from({ length: 8 }, () =>
      c.local("v128"),
    ) as [number, number, number, number, number, number, number, number];
    const acc = pair(c);
    const [lo, hi] = acc;
    c.localGet(rowBytes).i32Const(2).op(I32.shrU).simd(V128.i32x4Splat);
    c.simd(V128.f64x2ConvertLowI32x4S).localSet(cols);
    c.localGet(eps).op(F64.promoteF32).simd(V128.f64x2Splat).localSet(eps64);
    rowLoop(c, rows, rowBytes, off, (r) => {
      c.localGet(x).localGet(off).op(I32.add).localSet(p);
      zeroPair(c, acc);
      forVectors(c, rowBytes, (j) => {
        addressOf(c, p, j).simdMem(V128.load, 0, 4).localSet(v);
        accumulate(c, acc, v);
      });
      pairSum(c, acc, tmp).localGet(cols).simd(V128.f64x2Div).localSet(mu);
      // Two passes, as the composite: squared deviations from the mean, in f64.
      zeroPair(c, acc);
      forVectors(c, rowBytes, (j) => {
        addressOf(c, p, j).simdMem(V128.load, 0, 4).localSet(v);
        c.localGet(lo);
        c.localGet(v).simd(V128.f64x2PromoteLowF32x4).localGet(mu).simd(V128.f64x2Sub).localTee(rs);
        c.localGet(rs).simd(V128.f64x2Mul).simd(V128.f64x2Add).localSet(lo);
        c.localGet(hi);
        widenHalf(c, v, 1).localGet(mu).simd(V128.f64x2Sub).localTee(rs);
        c.localGet(rs).simd(V128.f64x2Mul).simd(V128.f64x2Add).localSet(hi);
      });
      f64x2Const(c, 1);
      pairSum(c, acc, tmp).localGet(cols).simd(V128.f64x2Div).localGet(eps64).simd(V128.f64x2Add);
      c.simd(V128.f64x2Sqrt).simd(V128.f64x2Div).localSet(rs);
      c.localGet(mu);
      splat32(c).localSet(muf);
      c.localGet(rs);
      splat32(c).localSet(rsf);
      // mean[r], rstd[r] as float32
      c.localGet(r).i32Const(2).op(I32.shl).localSet(q);
      addressOf(c, mean, q).localGet(muf).simd(V128.f32x4ExtractLane).op(0).mem(F32.store, 0, 2);
      addressOf(c, rstd, q).localGet(rsf).simd(V128.f32x4ExtractLane).op(0).mem(F32.store, 0, 2);
      c.localGet(y).localGet(off).op(I32.add).localSet(q);
      forVectors(c, rowBytes, (j) => {
        addressOf(c, q, j);
        addressOf(c, p, j).simdMem(V128.load, 0, 4).localGet(muf).simd(V128.f32x4Sub);
        c.localGet(rsf).simd(V128.f32x4Mul);
        addressOf(c, w, j).simdMem(V128.load, 0, 4).simd(V128.f32x4Mul);
        addressOf(c, b, j).simdMem(V128.load, 0, 4).simd(V128.f32x4Add);
        c.simdMem(V128.store, 0, 4);
      });
    });
  });
  // layerNormBackward(g, x, w, mean, rstd, gx, gw, gb, rows, rowBytes, affine):
  // gw and gb are float64 accumulators (2·rowBytes bytes each, zeroed by the caller).
  m.func(
    "layerNormBackward",
    ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"],
    [],
    (c) => {
      const [g, x, w, mean, rstd, gx, gw, gb, rows, rowBytes, affine] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
      ];
      const off = c.local("i32");
      const q = c.local("i32");
      const [gv, xh, gh, t, muf, rsf, mG, mGX, cols, tmp] = Array.from({ length: 10 }, () =>
        c.local("v128"),
      ) as number[] as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      const accG = pair(c);
      const accGX = pair(c);
      c.localGet(rowBytes).i32Const(2).op(I32.shrU).simd(V128.i32x4Splat);
      c.simd(V128.f64x2ConvertLowI32x4S).localSet(cols);
      /** Loads x̂ = (x − μ)·r and ĝ = g·w at byte j of the row (and g into gv). */
      const load = (j: number) => {
        addressOf(c, g, off).localGet(j).op(I32.add).simdMem(V128.load, 0, 4).localTee(gv);
        addressOf(c, w, j).simdMem(V128.load, 0, 4).simd(V128.f32x4Mul).localSet(gh);
        addressOf(c, x, off).localGet(j).op(I32.add).simdMem(V128.load, 0, 4);
        c.localGet(muf).simd(V128.f32x4Sub).localGet(rsf).simd(V128.f32x4Mul).localSet(xh);
      };
      /** The f64 accumulator pair at base + 2j += the four lanes of local v. */
      const addWide = (base: number, j: number, v: number) => {
        c.localGet(j).i32Const(1).op(I32.shl).localGet(base).op(I32.add).localSet(q);
        c.localGet(q);
        c.localGet(q).simdMem(V128.load, 0, 4).localGet(v).simd(V128.f64x2PromoteLowF32x4);
        c.simd(V128.f64x2Add).simdMem(V128.store, 0, 4);
        c.localGet(q);
        c.localGet(q).simdMem(V128.load, 16, 4);
        widenHalf(c, v, 1);
        c.simd(V128.f64x2Add).simdMem(V128.store, 16, 4);
      };
      rowLoop(c, rows, rowBytes, off, (r) => {
        c.localGet(r).i32Const(2).op(I32.shl).localSet(q);
        addressOf(c, mean, q).mem(F32.load, 0, 2).simd(V128.f32x4Splat).localSet(muf);
        addressOf(c, rstd, q).mem(F32.load, 0, 2).simd(V128.f32x4Splat).localSet(rsf);
        zeroPair(c, accG);
        zeroPair(c, accGX);
        forVectors(c, rowBytes, (j) => {
          load(j);
          accumulate(c, accG, gh);
          c.localGet(gh).localGet(xh).simd(V128.f32x4Mul).localSet(t);
          accumulate(c, accGX, t);
          c.localGet(affine).if(() => {
            c.localGet(gv).localGet(xh).simd(V128.f32x4Mul).localSet(t);
            addWide(gw, j, t);
            addWide(gb, j, gv);
          });
        });
        pairSum(c, accG, tmp).localGet(cols).simd(V128.f64x2Div);
        splat32(c).localSet(mG);
        pairSum(c, accGX, tmp).localGet(cols).simd(V128.f64x2Div);
        splat32(c).localSet(mGX);
        // dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))
        forVectors(c, rowBytes, (j) => {
          load(j);
          addressOf(c, gx, off).localGet(j).op(I32.add);
          c.localGet(gh).localGet(mG).simd(V128.f32x4Sub);
          c.localGet(xh).localGet(mGX).simd(V128.f32x4Mul).simd(V128.f32x4Sub);
          c.localGet(rsf).simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
        });
      });
    },
  );
  return m.bytes({ pages: 1 });
}

interface RowsExports {
  relu(x: number, out: number, nbytes: number): void;
  reluBackward(g: number, y: number, out: number, nbytes: number): void;
  layerNorm(
    x: number,
    w: number,
    b: number,
    y: number,
    mean: number,
    rstd: number,
    rows: number,
    rowBytes: number,
    eps: number,
  ): void;
  layerNormBackward(
    g: number,
    x: number,
    w: number,
    mean: number,
    rstd: number,
    gx: number,
    gw: number,
    gb: number,
    rows: number,
    rowBytes: number,
    affine: number,
  ): void;
}

const compiled = scratchKernels<RowsExports>(rowsModule);
let enabled = true;

function kernels(): ScratchKernels<RowsExports> | null {
  return enabled ? compiled() : null;
}

/**
 * Switches these SIMD kernels off (or back on), so tests and benchmarks can
 * compare them with the scalar loops they replace; returns the old setting.
 */
export function setRowKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Below this many elements the copies in and out cost more than the scalar loop. */
const MIN_ELEMENTS = 256;

/** n floats rounded up to whole vectors, in bytes. */
function padded(n: number): number {
  return Math.ceil(n / 4) * 16;
}

/** ReLU of n contiguous floats of x from `o`, into a new array; null when SIMD does not apply. */
export function simdRelu(x: Float32Array, o: number, n: number): Float32Array | null {
  const rk = n >= MIN_ELEMENTS ? kernels() : null;
  if (!rk) return null;
  const nb = padded(n);
  rk.scratch.reserve(2 * nb);
  const mem = rk.scratch.floats;
  mem.set(x.subarray(o, o + n), 0);
  rk.k.relu(0, nb, nb);
  return copyOf(mem.subarray(nb / 4, nb / 4 + n));
}

/** y <= 0 ? 0 : g over n contiguous floats; null when SIMD does not apply. */
export function simdReluBackward(
  g: Float32Array,
  go: number,
  y: Float32Array,
  yo: number,
  n: number,
): Float32Array | null {
  const rk = n >= MIN_ELEMENTS ? kernels() : null;
  if (!rk) return null;
  const nb = padded(n);
  rk.scratch.reserve(3 * nb);
  const mem = rk.scratch.floats;
  mem.set(g.subarray(go, go + n), 0);
  mem.set(y.subarray(yo, yo + n), nb / 4);
  rk.k.reluBackward(0, nb, 2 * nb, nb);
  return copyOf(mem.subarray((2 * nb) / 4, (2 * nb) / 4 + n));
}

/** A contiguous float32 operand: its array and first element. */
export interface F32Operand {
  data: Float32Array;
  offset: number;
}

/**
 * Layer norm over rows of `cols` floats (cols a multiple of 4): y, and each
 * row's mean and 1/std as float32. Null when SIMD does not apply.
 */
export function simdLayerNorm(
  x: F32Operand,
  rows: number,
  cols: number,
  weight: F32Operand | null,
  bias: F32Operand | null,
  eps: number,
): { y: Float32Array; mean: Float32Array; rstd: Float32Array } | null {
  const n = rows * cols;
  const rk = n >= MIN_ELEMENTS && cols % 4 === 0 ? kernels() : null;
  if (!rk) return null;
  const nb = n * 4;
  const cb = cols * 4;
  const sb = padded(rows);
  // x | y | w | b | mean | rstd
  const [X, Y, W, B, M, R] = [0, nb, 2 * nb, 2 * nb + cb, 2 * nb + 2 * cb, 2 * nb + 2 * cb + sb];
  rk.scratch.reserve(R + sb);
  const mem = rk.scratch.floats;
  mem.set(x.data.subarray(x.offset, x.offset + n), X / 4);
  if (weight) mem.set(weight.data.subarray(weight.offset, weight.offset + cols), W / 4);
  else mem.fill(1, W / 4, W / 4 + cols);
  if (bias) mem.set(bias.data.subarray(bias.offset, bias.offset + cols), B / 4);
  else mem.fill(0, B / 4, B / 4 + cols);
  rk.k.layerNorm(X, W, B, Y, M, R, rows, cb, eps);
  return {
    y: copyOf(mem.subarray(Y / 4, Y / 4 + n)),
    mean: copyOf(mem.subarray(M / 4, M / 4 + rows)),
    rstd: copyOf(mem.subarray(R / 4, R / 4 + rows)),
  };
}

/**
 * Layer norm's gradients for rows of `cols` floats (a multiple of 4): gx,
 * and with `affine` the weight and bias gradients (summed over rows in
 * float64). Null when SIMD does not apply.
 */
export function simdLayerNormBackward(
  grad: F32Operand,
  x: F32Operand,
  rows: number,
  cols: number,
  mean: F32Operand,
  rstd: F32Operand,
  weight: F32Operand | null,
  affine: boolean,
): { gx: Float32Array; gw: Float32Array | null; gb: Float32Array | null } | null {
  const n = rows * cols;
  const rk = n >= MIN_ELEMENTS && cols % 4 === 0 ? kernels() : null;
  if (!rk) return null;
  const nb = n * 4;
  const cb = cols * 4;
  const sb = padded(rows);
  // g | x | gx | w | mean | rstd | gw (f64) | gb (f64)
  const W = 3 * nb;
  const M = W + cb;
  const R = M + sb;
  const GW = R + sb;
  const GB = GW + 2 * cb;
  rk.scratch.reserve(GB + 2 * cb);
  const mem = rk.scratch.floats;
  mem.set(grad.data.subarray(grad.offset, grad.offset + n), 0);
  mem.set(x.data.subarray(x.offset, x.offset + n), nb / 4);
  if (weight) mem.set(weight.data.subarray(weight.offset, weight.offset + cols), W / 4);
  else mem.fill(1, W / 4, W / 4 + cols);
  mem.set(mean.data.subarray(mean.offset, mean.offset + rows), M / 4);
  mem.set(rstd.data.subarray(rstd.offset, rstd.offset + rows), R / 4);
  const wide = new Float64Array(rk.scratch.memory.buffer, GW, 2 * cols);
  if (affine) wide.fill(0);
  rk.k.layerNormBackward(0, nb, W, M, R, 2 * nb, GW, GB, rows, cb, affine ? 1 : 0);
  return {
    gx: copyOf(mem.subarray((2 * nb) / 4, (2 * nb) / 4 + n)),
    // The typed-array constructor converts in native code; from() walks an iterator.
    gw: affine ? new Float32Array(wide.subarray(0, cols)) : null,
    gb: affine ? new Float32Array(wide.subarray(cols, 2 * cols)) : null,
  };
}
