import { allocArray } from "../../dtype.js";
import { numel } from "../../shape.js";
import type { View } from "../backend.js";
import { type FusedKernels, registerFused } from "../fused.js";
import { erf, erf32 } from "./elementwise.js";
import { simdGeluExact, simdGeluExactBackward } from "./gelu.js";
import {
  gruCell,
  gruCellBackward,
  lstmCell,
  lstmCellBackward,
  lstmSequence,
  lstmSequenceBackward,
} from "./rnn.js";
import { dataOf, wrap } from "./storage.js";
import { simdLayerNorm, simdLayerNormBackward, simdReluBackward } from "./wasm/rows.js";
import { simdLogSoftmax, simdSoftmaxLastDim } from "./wasm/softmax_last_dim.js";
import { simdSoftmaxBackward } from "./wasm/softmax_rows.js";
import { simdExpInPlace, simdGelu, simdGeluBackward } from "./wasm/vmath.js";

// Fused CPU kernels for GELU, softmax/log-softmax and layer norm: one loop
// over contiguous float rows instead of the composite's five to fifteen
// whole-tensor ops, each with its own output array. Arithmetic is in JS
// doubles and rounded once by the store, so float32 results are at least as
// accurate as the composite's. src/nn/functional/fused.ts routes to these.

type Floats = Float32Array | Float64Array;

function floats(v: View): Floats {
  return dataOf(v) as Floats;
}

function alloc(v: View, n: number): Floats {
  return allocArray(v.dtype, n) as Floats;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_C = 0.044715;

function gelu(x: View, approximate: "none" | "tanh") {
  // The exact form's faster SIMD kernel (src/backend/cpu/gelu.ts) first.
  const exact = approximate === "none" ? simdGeluExact(x) : null;
  if (exact) return exact;
  const n = numel(x.shape);
  const xd = floats(x);
  const o = x.offset;
  if (xd instanceof Float32Array) {
    const fast = simdGelu(xd.subarray(o, o + n), approximate);
    if (fast) return wrap(fast);
  }
  const out = alloc(x, n);
  if (approximate === "tanh") {
    for (let i = 0; i < n; i++) {
      const v = xd[o + i]!;
      out[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v)));
    }
  } else {
    // float32 needs erf only to float32 accuracy, which costs a third as much.
    const e = x.dtype === "float32" ? erf32 : erf;
    for (let i = 0; i < n; i++) {
      const v = xd[o + i]!;
      out[i] = 0.5 * v * (1 + e(v * Math.SQRT1_2));
    }
  }
  return wrap(out);
}

/**
 * ReLU's backward in one pass, PyTorch's threshold_backward: y <= 0 ? 0 : g.
 * A NaN y passes g (NaN <= 0 is false), and a flat element gives exactly 0
 * whatever g is (so NaN or ±∞ in g stays where ReLU was active). float32
 * runs on SIMD (src/backend/cpu/wasm/rows.ts).
 */
function reluBackward(grad: View, y: View) {
  const n = numel(y.shape);
  const g = floats(grad);
  const yd = floats(y);
  if (g instanceof Float32Array && yd instanceof Float32Array) {
    const fast = simdReluBackward(g, grad.offset, yd, y.offset, n);
    if (fast) return wrap(fast);
  }
  const out = alloc(y, n);
  if (out instanceof Float32Array && g instanceof Float32Array && yd instanceof Float32Array) {
    reluBackwardF32(out, g, grad.offset, yd, y.offset, n);
  } else {
    for (let i = 0; i < n; i++) out[i] = yd[y.offset + i]! <= 0 ? 0 : g[grad.offset + i]!;
  }
  return wrap(out);
}

// Float32 only, so the element accesses stay monomorphic (~1.6× faster).
function reluBackwardF32(
  out: Float32Array,
  g: Float32Array,
  go: number,
  y: Float32Array,
  yo: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) out[i] = y[yo + i]! <= 0 ? 0 : g[go + i]!;
}

function geluBackward(grad: View, x: View, approximate: "none" | "tanh") {
  const exact = approximate === "none" ? simdGeluExactBackward(grad, x) : null;
  if (exact) return exact;
  const n = numel(x.shape);
  const xd = floats(x);
  const gd = floats(grad);
  const o = x.offset;
  const og = grad.offset;
  if (xd instanceof Float32Array && gd instanceof Float32Array) {
    const fast = simdGeluBackward(gd.subarray(og, og + n), xd.subarray(o, o + n), approximate);
    if (fast) return wrap(fast);
  }
  const out = alloc(x, n);
  if (approximate === "tanh") {
    for (let i = 0; i < n; i++) {
      const v = xd[o + i]!;
      const t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
      const du = SQRT_2_OVER_PI * (1 + 3 * GELU_C * v * v);
      out[i] = gd[og + i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
    }
  } else {
    const e = x.dtype === "float32" ? erf32 : erf;
    for (let i = 0; i < n; i++) {
      const v = xd[o + i]!;
      const cdf = 0.5 * (1 + e(v * Math.SQRT1_2));
      out[i] = gd[og + i]! * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    }
  }
  return wrap(out);
}

/**
 * float32 log-softmax with the exponentials on SIMD (vmath's exp): x − max
 * per row (so exp cannot overflow) goes into wasm scratch, is exponentiated
 * in place, and is summed back here into lse; the rows are x − lse. The
 * path wasm/softmax_last_dim.ts's log-softmax replaced, kept for when its
 * kernels are switched off. Null without SIMD.
 */
function logSoftmaxSimd(xd: Float32Array, o: number, rows: number, cols: number) {
  const out = new Float32Array(rows * cols);
  const maxes = new Float64Array(rows);
  const ok = simdExpInPlace(
    rows * cols,
    (mem) => {
      for (let r = 0; r < rows; r++) {
        const s = o + r * cols;
        const d = r * cols;
        let m = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < cols; j++) {
          const v = xd[s + j]!;
          if (v > m || v !== v) m = v;
        }
        maxes[r] = m;
        for (let j = 0; j < cols; j++) mem[d + j] = xd[s + j]! - m;
      }
    },
    (mem) => {
      for (let r = 0; r < rows; r++) {
        const d = r * cols;
        let sum = 0;
        for (let j = 0; j < cols; j++) sum += mem[d + j]!;
        const lse = maxes[r]! + Math.log(sum);
        const s = o + r * cols;
        for (let j = 0; j < cols; j++) out[d + j] = xd[s + j]! - lse;
      }
    },
  );
  return ok ? out : null;
}

function softmax(x: View, log: boolean) {
  const n = numel(x.shape);
  const cols = x.shape[x.shape.length - 1] ?? 1;
  const rows = cols === 0 ? 0 : n / cols;
  const xd = floats(x);
  if (xd instanceof Float32Array && rows > 0) {
    // SIMD passes over streamed rows (wasm/softmax_last_dim.ts); log-softmax
    // with those switched off: SIMD exps (logSoftmaxSimd).
    const fast = log
      ? (simdLogSoftmax(xd, x.offset, rows, cols) ?? logSoftmaxSimd(xd, x.offset, rows, cols))
      : simdSoftmaxLastDim(xd, x.offset, rows, cols);
    if (fast) return wrap(fast);
  }
  const out = alloc(x, n);
  for (let r = 0; r < rows; r++) {
    const s = x.offset + r * cols;
    const d = r * cols;
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < cols; j++) {
      const v = xd[s + j]!;
      if (v > m || v !== v) m = v;
    }
    let sum = 0;
    if (log) {
      for (let j = 0; j < cols; j++) sum += Math.exp(xd[s + j]! - m);
      const lse = m + Math.log(sum);
      for (let j = 0; j < cols; j++) out[d + j] = xd[s + j]! - lse;
    } else {
      for (let j = 0; j < cols; j++) {
        const e = Math.exp(xd[s + j]! - m);
        out[d + j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j < cols; j++) out[d + j] = out[d + j]! * inv;
    }
  }
  return wrap(out);
}

function softmaxBackward(grad: View, y: View, log: boolean) {
  const n = numel(y.shape);
  const cols = y.shape[y.shape.length - 1] ?? 1;
  const rows = cols === 0 ? 0 : n / cols;
  const yd = floats(y);
  const gd = floats(grad);
  if (!log && yd instanceof Float32Array && gd instanceof Float32Array && rows > 0) {
    const fast = simdSoftmaxBackward(gd, grad.offset, yd, y.offset, rows, cols);
    if (fast) return wrap(fast);
  }
  const out = alloc(y, n);
  // log-softmax's backward needs exp(y): on SIMD for float32.
  if (log && yd instanceof Float32Array && rows > 0) {
    const done = simdExpInPlace(
      n,
      (mem) => mem.set(yd.subarray(y.offset, y.offset + n)),
      (mem) => {
        for (let r = 0; r < rows; r++) {
          const sg = grad.offset + r * cols;
          const d = r * cols;
          let dot = 0;
          for (let j = 0; j < cols; j++) dot += gd[sg + j]!;
          for (let j = 0; j < cols; j++) out[d + j] = gd[sg + j]! - mem[d + j]! * dot;
        }
      },
    );
    if (done) return wrap(out);
  }
  for (let r = 0; r < rows; r++) {
    const sy = y.offset + r * cols;
    const sg = grad.offset + r * cols;
    const d = r * cols;
    let dot = 0;
    if (log) {
      // d logsoftmax: g − softmax · Σg
      for (let j = 0; j < cols; j++) dot += gd[sg + j]!;
      for (let j = 0; j < cols; j++) out[d + j] = gd[sg + j]! - Math.exp(yd[sy + j]!) * dot;
    } else {
      // d softmax: y · (g − Σ g·y)
      for (let j = 0; j < cols; j++) dot += gd[sg + j]! * yd[sy + j]!;
      for (let j = 0; j < cols; j++) out[d + j] = yd[sy + j]! * (gd[sg + j]! - dot);
    }
  }
  return wrap(out);
}

/** A contiguous float32 view as the SIMD kernels take it, or null. */
function f32Operand(v: View | null) {
  const d = v ? dataOf(v) : null;
  return v && d instanceof Float32Array ? { data: d, offset: v.offset } : null;
}

function layerNorm(x: View, cols: number, weight: View | null, bias: View | null, eps: number) {
  const n = numel(x.shape);
  const rows = cols === 0 ? 0 : n / cols;
  const xd = floats(x);
  const x32 = f32Operand(x);
  const [w32, b32] = [f32Operand(weight), f32Operand(bias)];
  const fast =
    x32 && !!weight === !!w32 && !!bias === !!b32
      ? simdLayerNorm(x32, rows, cols, w32, b32, eps)
      : null;
  if (fast) return { y: wrap(fast.y), mean: wrap(fast.mean), rstd: wrap(fast.rstd) };
  const out = alloc(x, n);
  const mean = alloc(x, rows);
  const rstd = alloc(x, rows);
  const wd = weight ? floats(weight) : null;
  const bd = bias ? floats(bias) : null;
  const wo = weight?.offset ?? 0;
  const bo = bias?.offset ?? 0;
  for (let r = 0; r < rows; r++) {
    const s = x.offset + r * cols;
    const d = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += xd[s + j]!;
    const mu = sum / cols;
    // Two passes (mean, then squared deviations), as the composite: no cancellation.
    let sq = 0;
    for (let j = 0; j < cols; j++) {
      const c = xd[s + j]! - mu;
      sq += c * c;
    }
    const rs = 1 / Math.sqrt(sq / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    if (wd && bd) {
      for (let j = 0; j < cols; j++)
        out[d + j] = (xd[s + j]! - mu) * rs * wd[wo + j]! + bd[bo + j]!;
    } else if (wd) {
      for (let j = 0; j < cols; j++) out[d + j] = (xd[s + j]! - mu) * rs * wd[wo + j]!;
    } else if (bd) {
      for (let j = 0; j < cols; j++) out[d + j] = (xd[s + j]! - mu) * rs + bd[bo + j]!;
    } else {
      for (let j = 0; j < cols; j++) out[d + j] = (xd[s + j]! - mu) * rs;
    }
  }
  return { y: wrap(out), mean: wrap(mean), rstd: wrap(rstd) };
}

/**
 * x̂ = (x − μ)·r, ĝ = g·w: dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) per row;
 * dw = Σ_rows g·x̂, db = Σ_rows g, accumulated in doubles.
 */
function layerNormBackward(
  grad: View,
  x: View,
  cols: number,
  mean: View,
  rstd: View,
  weight: View | null,
  wantAffine: boolean,
) {
  const n = numel(x.shape);
  const rows = cols === 0 ? 0 : n / cols;
  const [g32, x32, m32, r32] = [grad, x, mean, rstd].map(f32Operand);
  const fast =
    g32 && x32 && m32 && r32 && !!weight === !!f32Operand(weight)
      ? simdLayerNormBackward(g32, x32, rows, cols, m32, r32, f32Operand(weight), wantAffine)
      : null;
  if (fast) {
    const opt = (a: Float32Array | null) => (a ? wrap(a) : null);
    return { gx: wrap(fast.gx), gw: opt(fast.gw), gb: opt(fast.gb) };
  }
  const xd = floats(x);
  const gd = floats(grad);
  const md = floats(mean);
  const rd = floats(rstd);
  const wd = weight ? floats(weight) : null;
  const wo = weight?.offset ?? 0;
  const gx = alloc(x, n);
  const gw = wantAffine ? new Float64Array(cols) : null;
  const gb = wantAffine ? new Float64Array(cols) : null;
  for (let r = 0; r < rows; r++) {
    const s = x.offset + r * cols;
    const sg = grad.offset + r * cols;
    const d = r * cols;
    const mu = md[mean.offset + r]!;
    const rs = rd[rstd.offset + r]!;
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0; j < cols; j++) {
      const g = gd[sg + j]!;
      const xh = (xd[s + j]! - mu) * rs;
      const gh = wd ? g * wd[wo + j]! : g;
      sumG += gh;
      sumGX += gh * xh;
      if (gw && gb) {
        gw[j] = gw[j]! + g * xh;
        gb[j] = gb[j]! + g;
      }
    }
    const mG = sumG / cols;
    const mGX = sumGX / cols;
    for (let j = 0; j < cols; j++) {
      const xh = (xd[s + j]! - mu) * rs;
      const gh = wd ? gd[sg + j]! * wd[wo + j]! : gd[sg + j]!;
      gx[d + j] = rs * (gh - mG - xh * mGX);
    }
  }
  const cast = (a: Float64Array | null) => {
    if (!a) return null;
    const o = alloc(x, cols);
    o.set(a);
    return wrap(o);
  };
  return { gx: wrap(gx), gw: cast(gw), gb: cast(gb) };
}

/**
 * A window table as runs: for window element j, the stretches of output
 * positions p that read consecutive input positions (i, i+1, …), as
 * triples (p, i, length) in runs[from[j] … from[j+1]). Padding reads (-1)
 * belong to no run. A stride-1 convolution has one run per output row, so
 * im2col/col2im copy rows without a table lookup or a branch per element.
 */
interface Runs {
  from: Int32Array;
  runs: Int32Array;
  /** Mean run length: below ~4 the per-element loop is as fast. */
  mean: number;
}

const runsCache = new WeakMap<Int32Array, Runs>();

function windowRuns(index: Int32Array, k: number, l: number): Runs {
  const hit = runsCache.get(index);
  if (hit) return hit;
  const from = new Int32Array(k + 1);
  const list: number[] = [];
  let covered = 0;
  for (let j = 0; j < k; j++) {
    from[j] = list.length / 3;
    let p = 0;
    while (p < l) {
      const i = index[j * l + p]!;
      if (i < 0) {
        p++;
        continue;
      }
      let len = 1;
      while (p + len < l && index[j * l + p + len] === i + len) len++;
      list.push(p, i, len);
      covered += len;
      p += len;
    }
  }
  from[k] = list.length / 3;
  const r = { from, runs: Int32Array.from(list), mean: covered / Math.max(1, list.length / 3) };
  runsCache.set(index, r);
  return r;
}

function im2col(x: View, index: Int32Array, k: number, l: number) {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const hw = h * w;
  const nl = n * l;
  const xd = dataOf(x);
  const out = allocArray(x.dtype, c * k * nl);
  const { from, runs, mean } = windowRuns(index, k, l);
  for (let ci = 0; ci < c; ci++) {
    for (let j = 0; j < k; j++) {
      const row = (ci * k + j) * nl;
      const tab = j * l;
      for (let ni = 0; ni < n; ni++) {
        const src = x.offset + (ni * c + ci) * hw;
        const dst = row + ni * l;
        if (mean >= 4) {
          for (let r = from[j]! * 3; r < from[j + 1]! * 3; r += 3) {
            const d = dst + runs[r]!;
            const s0 = src + runs[r + 1]!;
            const len = runs[r + 2]!;
            for (let q = 0; q < len; q++) out[d + q] = xd[s0 + q]!;
          }
          continue;
        }
        for (let p = 0; p < l; p++) {
          const i = index[tab + p]!;
          // The output is zero-filled, so padded reads just skip.
          if (i >= 0) out[dst + p] = xd[src + i]!;
        }
      }
    }
  }
  return wrap(out);
}

/** Sums in the same order as the per-element loop (window element, then position), run or not. */
function col2im(cols: View, index: Int32Array, k: number, l: number, n: number, hw: number) {
  const nl = n * l;
  const c = cols.shape[0]! / k;
  const cd = dataOf(cols);
  const out = allocArray(cols.dtype, n * c * hw);
  const { from, runs, mean } = windowRuns(index, k, l);
  for (let ci = 0; ci < c; ci++) {
    for (let j = 0; j < k; j++) {
      const row = cols.offset + (ci * k + j) * nl;
      const tab = j * l;
      for (let ni = 0; ni < n; ni++) {
        const src = row + ni * l;
        const dst = (ni * c + ci) * hw;
        if (mean >= 4) {
          for (let r = from[j]! * 3; r < from[j + 1]! * 3; r += 3) {
            const s0 = src + runs[r]!;
            const d = dst + runs[r + 1]!;
            const len = runs[r + 2]!;
            for (let q = 0; q < len; q++) out[d + q] = out[d + q]! + cd[s0 + q]!;
          }
          continue;
        }
        for (let p = 0; p < l; p++) {
          const i = index[tab + p]!;
          if (i >= 0) out[dst + i] = out[dst + i]! + cd[src + p]!;
        }
      }
    }
  }
  return wrap(out);
}

export const cpuFused: FusedKernels = {
  im2col,
  col2im,
  gelu,
  geluBackward,
  reluBackward,
  softmax,
  softmaxBackward,
  layerNorm,
  layerNormBackward,
  lstmCell,
  lstmCellBackward,
  lstmSequence,
  lstmSequenceBackward,
  gruCell,
  gruCellBackward,
};

registerFused("cpu", cpuFused);
