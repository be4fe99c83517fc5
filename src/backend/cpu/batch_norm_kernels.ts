import { allocArray } from "../../dtype.js";
import { numel } from "../../shape.js";
import type { View } from "../backend.js";
import { registerFused } from "../fused.js";
import { dataOf, isContiguous, wrap } from "./storage.js";
import { type F32Run, simdBatchNorm, simdBatchNormBackward } from "./wasm/batch_norm.js";

// Fused CPU batch norm over x [N, C, S]: per channel, one pass for the mean
// and variance (shifted sums) and one that writes (x − μ)·(r·w) + b; the
// backward is the closed form in two passes. The composite in
// src/nn/functional/normalization.ts takes about ten whole-tensor broadcast
// ops for the same work. Sums are JS doubles. Contiguous float32 goes to
// the WebAssembly SIMD kernels (./wasm/batch_norm.ts); these loops stay the
// reference for them, and take float64 and anything else.

type Floats = Float32Array | Float64Array;

function floats(v: View): Floats {
  return dataOf(v) as Floats;
}

function alloc(v: View, n: number): Floats {
  return allocArray(v.dtype, n) as Floats;
}

/** A contiguous float32 view as a SIMD operand; null for anything else. */
function f32(v: View): F32Run | null {
  const d = dataOf(v);
  return d instanceof Float32Array && isContiguous(v) ? { data: d, offset: v.offset } : null;
}

/** Every view as a SIMD operand (nulls kept), or null when one of them does not qualify. */
function allF32(views: readonly (View | null)[]): (F32Run | null)[] | null {
  const out: (F32Run | null)[] = [];
  for (const v of views) {
    if (v === null) out.push(null);
    else {
      const r = f32(v);
      if (!r) return null;
      out.push(r);
    }
  }
  return out;
}

/** [N, C, S] sizes of a view whose dims past the second are flattened. */
function sizes(x: View): [number, number, number] {
  const n = x.shape[0]!;
  const c = x.shape[1]!;
  return [n, c, n * c === 0 ? 0 : numel(x.shape) / (n * c)];
}

function batchNorm(
  x: View,
  weight: View | null,
  bias: View | null,
  eps: number,
  stats: { mean: View; var: View } | null,
) {
  const [n, c, s] = sizes(x);
  const ops = allF32([x, weight, bias, stats?.mean ?? null, stats?.var ?? null]);
  if (ops) {
    const [xs, ws, bs, ms, vs] = ops;
    const st = ms && vs ? { mean: ms, var: vs } : null;
    const r = simdBatchNorm(xs!, [n, c, s], ws ?? null, bs ?? null, eps, st);
    if (r) {
      return {
        y: wrap(r.y),
        mean: wrap(r.mean),
        invstd: wrap(r.invstd),
        var: r.var && wrap(r.var),
      };
    }
  }
  const xd = floats(x);
  const xo = x.offset;
  const y = alloc(x, n * c * s);
  const mean = alloc(x, c);
  const invstd = alloc(x, c);
  const variance = stats ? null : alloc(x, c);
  const wd = weight ? floats(weight) : null;
  const bd = bias ? floats(bias) : null;
  const m = n * s;
  const cs = c * s;
  for (let ch = 0; ch < c; ch++) {
    let mu: number;
    let rs: number;
    if (stats) {
      mu = floats(stats.mean)[stats.mean.offset + ch]!;
      rs = 1 / Math.sqrt(floats(stats.var)[stats.var.offset + ch]! + eps);
    } else {
      // One pass of sums shifted by the channel's first value: in doubles,
      // with a shift near the mean, Σd² − (Σd)²/m loses nothing to cancellation.
      const shift = xd[xo + ch * s]!;
      let sum = 0;
      let sq = 0;
      for (let ni = 0; ni < n; ni++) {
        const base = xo + ni * cs + ch * s;
        for (let j = 0; j < s; j++) {
          const d = xd[base + j]! - shift;
          sum += d;
          sq += d * d;
        }
      }
      mu = shift + sum / m;
      const v = Math.max(0, (sq - (sum * sum) / m) / m);
      variance![ch] = v;
      rs = 1 / Math.sqrt(v + eps);
    }
    mean[ch] = mu;
    invstd[ch] = rs;
    const a = wd ? rs * wd[weight!.offset + ch]! : rs;
    const b = bd ? bd[bias!.offset + ch]! : 0;
    for (let ni = 0; ni < n; ni++) {
      const base = ni * cs + ch * s;
      const src = xo + base;
      for (let j = 0; j < s; j++) y[base + j] = (xd[src + j]! - mu) * a + b;
    }
  }
  return {
    y: wrap(y),
    mean: wrap(mean),
    invstd: wrap(invstd),
    var: variance ? wrap(variance) : null,
  };
}

/**
 * x̂ = (x − μ)·r, m = N·S: dx = r·w·(g − Σg/m − x̂·Σ(g·x̂)/m) with batch
 * statistics, r·w·g with fixed ones; dw = Σ g·x̂, db = Σ g per channel.
 */
function batchNormBackward(
  grad: View,
  x: View,
  mean: View,
  invstd: View,
  weight: View | null,
  training: boolean,
  wantAffine: boolean,
) {
  const [n, c, s] = sizes(x);
  const ops = allF32([grad, x, mean, invstd, weight]);
  if (ops) {
    const [gs, xs, ms, rs, ws] = ops;
    const r = simdBatchNormBackward(
      gs!,
      xs!,
      [n, c, s],
      ms!,
      rs!,
      ws ?? null,
      training,
      wantAffine,
    );
    if (r) {
      return { gx: wrap(r.gx), gw: r.gw && wrap(r.gw), gb: r.gb && wrap(r.gb) };
    }
  }
  const xd = floats(x);
  const gd = floats(grad);
  const md = floats(mean);
  const rd = floats(invstd);
  const wd = weight ? floats(weight) : null;
  const xo = x.offset;
  const go = grad.offset;
  const gx = alloc(x, n * c * s);
  const gw = wantAffine ? alloc(x, c) : null;
  const gb = wantAffine ? alloc(x, c) : null;
  const m = n * s;
  const cs = c * s;
  for (let ch = 0; ch < c; ch++) {
    const mu = md[mean.offset + ch]!;
    const rs = rd[invstd.offset + ch]!;
    let sumG = 0;
    let sumGX = 0;
    for (let ni = 0; ni < n; ni++) {
      const base = ni * cs + ch * s;
      for (let j = 0; j < s; j++) {
        const g = gd[go + base + j]!;
        sumG += g;
        sumGX += g * (xd[xo + base + j]! - mu);
      }
    }
    // Σ g·x̂ = r·Σ g·(x − μ)
    sumGX *= rs;
    if (gw && gb) {
      gw[ch] = sumGX;
      gb[ch] = sumG;
    }
    const a = wd ? rs * wd[weight!.offset + ch]! : rs;
    if (!training) {
      for (let ni = 0; ni < n; ni++) {
        const base = ni * cs + ch * s;
        for (let j = 0; j < s; j++) gx[base + j] = gd[go + base + j]! * a;
      }
      continue;
    }
    const mG = sumG / m;
    // g − mG − x̂·(ΣGX/m), with x̂ = (x − μ)·r folded into one factor on (x − μ).
    const k = (sumGX / m) * rs;
    for (let ni = 0; ni < n; ni++) {
      const base = ni * cs + ch * s;
      for (let j = 0; j < s; j++) {
        gx[base + j] = a * (gd[go + base + j]! - mG - (xd[xo + base + j]! - mu) * k);
      }
    }
  }
  return { gx: wrap(gx), gw: gw ? wrap(gw) : null, gb: gb ? wrap(gb) : null };
}

registerFused("cpu", { batchNorm, batchNormBackward });
