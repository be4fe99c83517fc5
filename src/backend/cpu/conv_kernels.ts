import { allocArray, type DType } from "../../dtype.js";
import type { View } from "../backend.js";
import { type ConvGeometry, registerFused } from "../fused.js";
import { matmulKernel } from "./matmul.js";
import { dataOf, wrap } from "./storage.js";
import { type ConvGrid, type ConvShape, wasmConv2d, wasmConv2dBackward } from "./wasm/conv.js";
import {
  type DirectGeometry,
  directApplies,
  directConv2d,
  directConv2dBackward,
  type Padding4,
} from "./wasm/direct_conv.js";
import { wasmMatmul } from "./wasm/matmul.js";

// conv2d on the CPU, forward and backward, a few samples at a time. A
// whole-batch im2col writes C·k·N·l columns (58 MB for a 16-channel 3×3
// conv of 128 28×28 images), then the GEMM copies them again; the memory
// traffic cost more than the arithmetic. Here each chunk of samples gets
// its columns (sized to stay in cache) in a scratch buffer, one GEMM
// W [O, C·k] @ cols [C·k, S·l], and the result goes straight into the
// [N, O, l] output with the bias added. The backward rebuilds the same
// columns per chunk instead of keeping them: grad W += dY [O, S·l] @ colsᵀ,
// grad cols = Wᵀ @ dY, then col2im into grad x. float32 GEMMs run on the
// wasm SIMD kernels, float64 on the reference kernel.
//
// float32 goes first to the wasm engine (wasm/conv.ts), which does the same
// steps with all data in wasm memory and SIMD run copies instead of these
// loops (LeNet's convolutions 2–3× faster); this path remains for float64,
// for large convolutions with threads on, and without WebAssembly SIMD.

type Floats = Float32Array | Float64Array;

/** Column elements per chunk: about 256 KB of float32, which stays in L2. */
const CHUNK_ELEMS = 1 << 16;

/**
 * A window table as runs: for window element j, stretches of output
 * positions p that read consecutive input positions (i, i+1, …), as
 * triples (p, i, length) in runs[from[j] … from[j+1]), and every position
 * that reads padding (-1) in pads[padFrom[j] … padFrom[j+1]]. A run may
 * step over padding reads when the address it would read instead still
 * lies in the plane: a stride-1 "same" convolution then reads a whole
 * plane as one run (its row borders are the padding, zeroed afterwards)
 * instead of one run per row, and a long run is a memcpy.
 */
interface Runs {
  from: Int32Array;
  runs: Int32Array;
  padFrom: Int32Array;
  pads: Int32Array;
}

const runsCache = new WeakMap<Int32Array, Runs>();

function windowRuns(index: Int32Array, k: number, l: number, hw: number): Runs {
  const hit = runsCache.get(index);
  if (hit) return hit;
  const from = new Int32Array(k + 1);
  const padFrom = new Int32Array(k + 1);
  const list: number[] = [];
  const pads: number[] = [];
  for (let j = 0; j < k; j++) {
    from[j] = list.length / 3;
    padFrom[j] = pads.length;
    const t = j * l;
    let p = 0;
    while (p < l) {
      const i = index[t + p]!;
      if (i < 0) {
        pads.push(p);
        p++;
        continue;
      }
      const d = i - p;
      let last = p;
      for (let q = p + 1; q < l; q++) {
        const iq = index[t + q]!;
        if (iq === q + d) last = q;
        else if (iq >= 0 || q + d >= hw) break;
      }
      for (let q = p; q <= last; q++) if (index[t + q]! < 0) pads.push(q);
      list.push(p, i, last - p + 1);
      p = last + 1;
    }
  }
  from[k] = list.length / 3;
  padFrom[k] = pads.length;
  const r = { from, runs: Int32Array.from(list), padFrom, pads: Int32Array.from(pads) };
  runsCache.set(index, r);
  return r;
}

/** Below this length a loop copies faster than subarray + set. */
const MEMCPY_MIN = 48;

/** Columns of samples n0 … n0+s-1 of x (flat [N, C, hw] from xo) into cols [C·k, s·l]. */
function im2colChunk(
  xd: Floats,
  xo: number,
  c: number,
  hw: number,
  n0: number,
  s: number,
  r: Runs,
  k: number,
  l: number,
  cols: Floats,
): void {
  const { from, runs, padFrom, pads } = r;
  const sl = s * l;
  for (let ci = 0; ci < c; ci++) {
    for (let j = 0; j < k; j++) {
      const row = (ci * k + j) * sl;
      const r0 = from[j]! * 3;
      const r1 = from[j + 1]! * 3;
      const z0 = padFrom[j]!;
      const z1 = padFrom[j + 1]!;
      for (let si = 0; si < s; si++) {
        const src = xo + ((n0 + si) * c + ci) * hw;
        const dst = row + si * l;
        for (let q = r0; q < r1; q += 3) {
          const d = dst + runs[q]!;
          const s0 = src + runs[q + 1]!;
          const len = runs[q + 2]!;
          if (len >= MEMCPY_MIN) cols.set(xd.subarray(s0, s0 + len), d);
          else for (let e = 0; e < len; e++) cols[d + e] = xd[s0 + e]!;
        }
        for (let z = z0; z < z1; z++) cols[dst + pads[z]!] = 0;
      }
    }
  }
}

/**
 * The adjoint of im2colChunk: cols [C·k, s·l] added into gx (flat
 * [N, C, hw]). Padding reads are zeroed in cols first, since runs step over them.
 */
function col2imChunk(
  cols: Floats,
  c: number,
  hw: number,
  n0: number,
  s: number,
  r: Runs,
  k: number,
  l: number,
  gx: Floats,
): void {
  const { from, runs, padFrom, pads } = r;
  const sl = s * l;
  for (let ci = 0; ci < c; ci++) {
    for (let j = 0; j < k; j++) {
      const row = (ci * k + j) * sl;
      const r0 = from[j]! * 3;
      const r1 = from[j + 1]! * 3;
      const z0 = padFrom[j]!;
      const z1 = padFrom[j + 1]!;
      for (let si = 0; si < s; si++) {
        const dst = ((n0 + si) * c + ci) * hw;
        const src = row + si * l;
        for (let z = z0; z < z1; z++) cols[src + pads[z]!] = 0;
        for (let q = r0; q < r1; q += 3) {
          const s0 = src + runs[q]!;
          const d = dst + runs[q + 1]!;
          const len = runs[q + 2]!;
          for (let e = 0; e < len; e++) gx[d + e] = gx[d + e]! + cols[s0 + e]!;
        }
      }
    }
  }
}

function view(data: Floats, dtype: DType, shape: number[], strides: number[]): View {
  return { storage: wrap(data), dtype, shape, strides, offset: 0 };
}

/** a [M, K] @ b [K, N] (strided views over plain arrays) into a new contiguous [M, N]. */
function gemm(a: View, b: View): Floats {
  if (a.dtype === "float32") {
    const r = wasmMatmul(a, b);
    if (r) return r;
  }
  return matmulKernel(a, b, a.dtype) as Floats;
}

const scratches = new Map<string, Floats>();

/** Larger work arrays (one huge sample's columns) are not kept after the call. */
const SCRATCH_KEEP = 1 << 22;

/** A work array of n elements (contents undefined), reused across calls. */
function scratch(name: string, dtype: DType, n: number): Floats {
  if (n > SCRATCH_KEEP) return allocArray(dtype, n) as Floats;
  const key = `${name}:${dtype}`;
  let s = scratches.get(key);
  if (!s || s.length < n) {
    s = allocArray(dtype, n) as Floats;
    scratches.set(key, s);
  }
  return s.subarray(0, n);
}

/**
 * How a convolution's positions are laid out in the columns. Usually the
 * output grid itself (rows × outW). A stride-1, undilated, unpadded
 * ("valid") convolution whose output is nearly as wide as its input is
 * instead computed on a grid as wide as the input (gridW = W): each window
 * element then reads one contiguous stretch of the plane (a memcpy rather
 * than a copy per output row), at the price of W − outW garbage columns per
 * row, which the forward drops and the backward zeroes.
 */
interface Plan {
  runs: Runs;
  /** Grid positions per sample (rows · gridW). */
  l: number;
  rows: number;
  gridW: number;
  outW: number;
}

const planCache = new WeakMap<Int32Array, Plan>();

/** Widest grid, relative to the output, worth its extra GEMM work. */
const MAX_WIDENING = 1.34;

function planFor(index: Int32Array, k: number, l: number, h: number, w: number): Plan {
  const hit = planCache.get(index);
  if (hit) return hit;
  const hw = h * w;
  let plan: Plan | null = null;
  // The output width of a valid stride-1 table: where position p stops reading p.
  let outW = 1;
  while (outW < l && index[outW] === outW) outW++;
  const rows = l / outW;
  const kh = h - rows + 1;
  const kw = w - outW + 1;
  if (Number.isInteger(rows) && kh * kw === k && w > outW && w / outW <= MAX_WIDENING) {
    let valid = true;
    for (let j = 0; j < k && valid; j++) {
      const off = Math.floor(j / kw) * w + (j % kw);
      for (let p = 0; p < l; p++) {
        const oi = Math.floor(p / outW);
        if (index[j * l + p] !== oi * w + (p - oi * outW) + off) {
          valid = false;
          break;
        }
      }
    }
    if (valid) {
      const gl = rows * w;
      const wide = new Int32Array(k * gl);
      for (let j = 0; j < k; j++) {
        const off = Math.floor(j / kw) * w + (j % kw);
        for (let p = 0; p < gl; p++) wide[j * gl + p] = p + off < hw ? p + off : -1;
      }
      plan = { runs: windowRuns(wide, k, gl, hw), l: gl, rows, gridW: w, outW };
    }
  }
  plan ??= { runs: windowRuns(index, k, l, hw), l, rows: 1, gridW: l, outW: l };
  planCache.set(index, plan);
  return plan;
}

/** Zeroes the garbage columns (gridW > outW) of `rows` [rows·gridW] blocks at base, base + l, …. */
function zeroGarbage(a: Floats, blocks: number, p: Plan): void {
  const { gridW, outW, rows, l } = p;
  if (gridW === outW) return;
  // A few elements per row: a loop, as fill() costs a call each time.
  for (let b = 0; b < blocks; b++) {
    for (let oi = 0; oi < rows; oi++) {
      const at = b * l + oi * gridW;
      for (let e = at + outW; e < at + gridW; e++) a[e] = 0;
    }
  }
}

interface Geometry {
  n: number;
  c: number;
  h: number;
  w: number;
  hw: number;
  o: number;
  ck: number;
}

function geometry(x: View, weight: View, k: number): Geometry {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  return { n, c, h, w, hw: h * w, o: weight.shape[0]!, ck: c * k };
}

/** Samples per chunk, so that a chunk's columns stay near CHUNK_ELEMS. */
function chunkSize(g: Geometry, l: number): number {
  return Math.max(1, Math.min(g.n, Math.floor(CHUNK_ELEMS / Math.max(1, g.ck * l))));
}

/**
 * The wasm engine's grid (wasm/conv.ts): the output grid itself. Its
 * run-table copies cost the same on a widened grid, so widening would only
 * add GEMM work (a sixth more for LeNet's first conv).
 */
function wasmArgs(g: Geometry, index: Int32Array, k: number, l: number): [ConvShape, ConvGrid] {
  const { n, c, hw, o } = g;
  return [
    { n, c, hw, o, per: chunkSize(g, l) },
    { index, k, l },
  ];
}

/** A contiguous float32 tensor's elements (from its offset), or null for float64. */
function f32(v: View, count: number): Float32Array | null {
  const d = dataOf(v);
  return d instanceof Float32Array ? d.subarray(v.offset, v.offset + count) : null;
}

let directOn = true;

/** Calls the direct kernels have served (tests check that the path is taken). */
export const directConvCalls = { forward: 0, backward: 0 };

/**
 * Switches the direct convolution kernels (wasm/direct_conv.ts) for
 * convolutions with few input taps on or off, returning the previous
 * setting; off, they run on the im2col + GEMM engine (for A/B runs and tests).
 *
 * @example
 * const was = setDirectConv(false);
 * try { step(); } finally { setDirectConv(was); }
 */
export function setDirectConv(on: boolean): boolean {
  const was = directOn;
  directOn = on;
  return was;
}

/**
 * The direct kernels' geometry and padding, when they apply: switched on,
 * stride 1, dilation 1, few taps (direct_conv.ts measures where they pay).
 */
function directPlan(
  g: Geometry,
  geom: ConvGeometry | undefined,
): [DirectGeometry, Padding4] | null {
  if (!directOn || !geom) return null;
  const { stride, dilation, padding } = geom;
  if (stride[0] !== 1 || stride[1] !== 1 || dilation[0] !== 1 || dilation[1] !== 1) return null;
  const pad = padding as Padding4;
  const d: DirectGeometry = {
    c: g.c,
    o: g.o,
    kh: geom.kh,
    kw: geom.kw,
    hp: geom.h + pad[0] + pad[1],
    wp: geom.w + pad[2] + pad[3],
    outH: geom.outH,
    outW: geom.outW,
  };
  // The padded plane must hold exactly the windows the table describes.
  if (d.hp - d.kh + 1 !== d.outH || d.wp - d.kw + 1 !== d.outW) return null;
  return directApplies(d) ? [d, pad] : null;
}

function conv2d(
  x: View,
  weight: View,
  bias: View | null,
  index: Int32Array,
  k: number,
  l: number,
  geom?: ConvGeometry,
) {
  const g = geometry(x, weight, k);
  const { n, c, hw, o, ck } = g;
  const dtype = x.dtype;
  const x32 = f32(x, n * c * hw);
  const w32 = f32(weight, o * ck);
  const b32 = bias ? f32(bias, o) : null;
  if (x32 && w32 && (b32 || !bias)) {
    const direct = directPlan(g, geom);
    const yd = direct ? directConv2d(x32, w32, b32, n, ...direct) : null;
    if (yd) {
      directConvCalls.forward++;
      return wrap(yd);
    }
    const y = wasmConv2d(x32, w32, b32, ...wasmArgs(g, index, k, l));
    if (y) return wrap(y);
  }
  const plan = planFor(index, k, l, g.h, g.w);
  const { rows, gridW, outW } = plan;
  const gl = plan.l;
  const per = chunkSize(g, gl);
  const xd = dataOf(x) as Floats;
  const y = allocArray(dtype, n * o * l) as Floats;
  const bd = bias ? (dataOf(bias) as Floats) : null;
  const wv: View = { ...weight, shape: [o, ck], strides: [ck, 1] };
  for (let n0 = 0; n0 < n; n0 += per) {
    const s = Math.min(per, n - n0);
    const sl = s * gl;
    const cols = scratch("cols", dtype, ck * sl);
    im2colChunk(xd, x.offset, c, hw, n0, s, plan.runs, k, gl, cols);
    const prod = gemm(wv, view(cols, dtype, [ck, sl], [sl, 1])); // [O, s·gl]
    for (let oc = 0; oc < o; oc++) {
      const b = bd ? bd[bias!.offset + oc]! : 0;
      for (let si = 0; si < s; si++) {
        const dst = ((n0 + si) * o + oc) * l;
        for (let oi = 0; oi < rows; oi++) {
          const from = oc * sl + si * gl + oi * gridW;
          const to = dst + oi * outW;
          for (let p = 0; p < outW; p++) y[to + p] = prod[from + p]! + b;
        }
      }
    }
  }
  return wrap(y);
}

function conv2dBackward(
  grad: View,
  x: View,
  weight: View,
  index: Int32Array,
  k: number,
  l: number,
  want: { input: boolean; weight: boolean; bias: boolean },
  geom?: ConvGeometry,
) {
  const g = geometry(x, weight, k);
  const { n, c, hw, o, ck } = g;
  const dtype = x.dtype;
  // A first layer's input needs no gradient; when it does, the engine does it all.
  const direct = want.input ? null : directBackward(grad, x, g, l, want, geom);
  if (direct) return direct;
  const fast = wasmBackward(grad, x, weight, g, index, k, l, want);
  if (fast) return fast;
  const xd = dataOf(x) as Floats;
  const gd = dataOf(grad) as Floats;
  const gx = want.input ? (allocArray(dtype, n * c * hw) as Floats) : null;
  const gw = want.weight ? new Float64Array(o * ck) : null;
  const gb = want.bias ? new Float64Array(o) : null;
  // Wᵀ as a strided view: the GEMM packs its operands, so no copy is made here.
  const wt: View = { ...weight, shape: [ck, o], strides: [1, ck] };
  const plan = planFor(index, k, l, g.h, g.w);
  const { rows, gridW, outW } = plan;
  const gl = plan.l;
  const per = chunkSize(g, gl);
  for (let n0 = 0; n0 < n; n0 += per) {
    const s = Math.min(per, n - n0);
    const sl = s * gl;
    // dY of the chunk as [O, s·gl] (zero in garbage columns), summed per channel for the bias.
    const g2 = scratch("grad", dtype, o * sl);
    if (gridW !== outW) g2.fill(0);
    for (let oc = 0; oc < o; oc++) {
      let sum = 0;
      for (let si = 0; si < s; si++) {
        const src = grad.offset + ((n0 + si) * o + oc) * l;
        for (let oi = 0; oi < rows; oi++) {
          const from = src + oi * outW;
          const to = oc * sl + si * gl + oi * gridW;
          for (let p = 0; p < outW; p++) {
            const v = gd[from + p]!;
            g2[to + p] = v;
            sum += v;
          }
        }
      }
      if (gb) gb[oc] = gb[oc]! + sum;
    }
    const g2v = view(g2, dtype, [o, sl], [sl, 1]);
    if (gw) {
      const cols = scratch("cols", dtype, ck * sl);
      im2colChunk(xd, x.offset, c, hw, n0, s, plan.runs, k, gl, cols);
      // Garbage columns read real pixels; zeroed, a NaN there cannot leak into 0·NaN.
      zeroGarbage(cols, ck * s, plan);
      const part = gemm(g2v, view(cols, dtype, [sl, ck], [1, sl])); // [O, C·k]
      for (let i = 0; i < o * ck; i++) gw[i] = gw[i]! + part[i]!;
    }
    if (gx) {
      const gcols = gemm(wt, g2v);
      zeroGarbage(gcols, ck * s, plan);
      col2imChunk(gcols, c, hw, n0, s, plan.runs, k, gl, gx);
    }
  }
  const cast = (a: Float64Array | null) => {
    if (!a) return null;
    const out = allocArray(dtype, a.length) as Floats;
    out.set(a);
    return wrap(out);
  };
  return { gx: gx ? wrap(gx) : null, gw: cast(gw), gb: cast(gb) };
}

/** The weight and bias gradients on the direct kernels (float32), or null. */
function directBackward(
  grad: View,
  x: View,
  g: Geometry,
  l: number,
  want: { weight: boolean; bias: boolean },
  geom: ConvGeometry | undefined,
) {
  const plan = directPlan(g, geom);
  if (!plan) return null;
  const dy = f32(grad, g.n * g.o * l);
  const x32 = f32(x, g.n * g.c * g.hw);
  if (!dy || !x32) return null;
  const r = directConv2dBackward(dy, x32, g.n, ...plan);
  if (!r) return null;
  directConvCalls.backward++;
  return {
    gx: null,
    gw: want.weight ? wrap(Float32Array.from(r.gw)) : null,
    gb: want.bias ? wrap(Float32Array.from(r.gb)) : null,
  };
}

/** conv2dBackward on the wasm engine (float32), or null. */
function wasmBackward(
  grad: View,
  x: View,
  weight: View,
  g: Geometry,
  index: Int32Array,
  k: number,
  l: number,
  want: { input: boolean; weight: boolean; bias: boolean },
) {
  const { n, c, hw, o, ck } = g;
  const dy = f32(grad, n * o * l);
  const x32 = f32(x, n * c * hw);
  const w32 = f32(weight, o * ck);
  if (!dy || !x32 || !w32) return null;
  const r = wasmConv2dBackward(dy, x32, w32, ...wasmArgs(g, index, k, l), want);
  if (!r) return null;
  const cast = (a: Float64Array | null) => (a ? wrap(Float32Array.from(a)) : null);
  return { gx: r.gx ? wrap(r.gx) : null, gw: cast(r.gw), gb: cast(r.gb) };
}

registerFused("cpu", { conv2d, conv2dBackward });
