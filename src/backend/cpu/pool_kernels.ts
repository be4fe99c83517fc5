import { allocArray } from "../../dtype.js";
import { numel } from "../../shape.js";
import type { View } from "../backend.js";
import { registerFused } from "../fused.js";
import { dataOf, wrap } from "./storage.js";
import { simdMaxPool2x2, simdMaxPool2x2Backward } from "./wasm/pool2x2.js";

// Max pooling on the CPU over a window table (src/nn/functional/conv.ts):
// for each plane and output position, the first maximum of the window and
// its flat plane position, which the backward adds the gradient at. NaN
// wins (as max does) and padding reads -inf, as in the composite.

type Floats = Float32Array | Float64Array;

function maxPool(x: View, index: Int32Array, k: number, l: number) {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const hw = h * w;
  const xd = dataOf(x) as Floats;
  const values = allocArray(x.dtype, n * c * l) as Floats;
  const indices = new Int32Array(n * c * l);
  const outW = isPlain2x2(index, k, l, h, w);
  if (
    outW > 0 &&
    xd instanceof Float32Array &&
    values instanceof Float32Array &&
    simdMaxPool2x2(xd, x.offset, n * c, h, w, values, indices)
  ) {
    simdPooled.set(indices, { h, w });
    // The kernel did whole blocks of 4 outputs per row; the few left here.
    const done = Math.floor(outW / 4) * 4;
    if (done < outW) {
      for (let plane = 0; plane < n * c; plane++) {
        for (let p = done; p < l; p += outW) {
          const src = x.offset + plane * hw;
          windowMaxes(xd, src, index, k, l, p, p + outW - done, values, indices, plane * l);
        }
      }
    }
  } else {
    for (let plane = 0; plane < n * c; plane++) {
      windowMaxes(xd, x.offset + plane * hw, index, k, l, 0, l, values, indices, plane * l);
    }
  }
  return { values: wrap(values), indices: wrap(indices) };
}

/** The first maximum of windows p0 … p1-1 of one plane (at src), by the table. */
function windowMaxes(
  xd: Floats,
  src: number,
  index: Int32Array,
  k: number,
  l: number,
  p0: number,
  p1: number,
  values: Floats,
  indices: Int32Array,
  dst: number,
): void {
  for (let p = p0; p < p1; p++) {
    let at = index[p]!;
    let best = at >= 0 ? xd[src + at]! : Number.NEGATIVE_INFINITY;
    if (best === best) {
      for (let j = 1; j < k; j++) {
        const i = index[j * l + p]!;
        if (i < 0) continue;
        const v = xd[src + i]!;
        if (v > best || v !== v) {
          best = v;
          at = i;
          if (v !== v) break;
        }
      }
    }
    values[dst + p] = best;
    indices[dst + p] = at;
  }
}

const plainCache = new WeakMap<Int32Array, number>();

/**
 * The output width when the table is a plain 2×2 stride-2 pool (no
 * padding or dilation: LeNet's and most CNNs'), else 0.
 */
function isPlain2x2(index: Int32Array, k: number, l: number, h: number, w: number): number {
  const hit = plainCache.get(index);
  if (hit !== undefined) return hit;
  const outW = Math.floor(w / 2);
  const outH = outW > 0 ? l / outW : 0;
  let ok = k === 4 && outW > 0 && Number.isInteger(outH) && outH === Math.floor(h / 2);
  for (let j = 0; ok && j < 4; j++) {
    const off = (j >> 1) * w + (j & 1);
    for (let p = 0; p < l; p++) {
      const oi = Math.floor(p / outW);
      if (index[j * l + p] !== 2 * oi * w + 2 * (p - oi * outW) + off) {
        ok = false;
        break;
      }
    }
  }
  const r = ok ? outW : 0;
  plainCache.set(index, r);
  return r;
}

/**
 * Indices that the SIMD 2×2 kernel made, with their plane size: their
 * backward can write each window's block whole instead of scattering.
 */
const simdPooled = new WeakMap<Int32Array, { h: number; w: number }>();

function maxPoolBackward(grad: View, indices: View, l: number, hw: number) {
  const planes = l === 0 ? 0 : numel(grad.shape) / l;
  const gd = dataOf(grad) as Floats;
  const id = dataOf(indices) as Int32Array;
  const out = allocArray(grad.dtype, planes * hw) as Floats;
  const plain = simdPooled.get(id);
  if (
    plain &&
    indices.offset === 0 &&
    gd instanceof Float32Array &&
    out instanceof Float32Array &&
    simdMaxPool2x2Backward(
      gd.subarray(grad.offset, grad.offset + planes * l),
      id,
      planes,
      plain.h,
      plain.w,
      out,
    )
  ) {
    // The windows past the kernel's last block of 4 in each row.
    const outW = Math.floor(plain.w / 2);
    const done = Math.floor(outW / 4) * 4;
    for (let plane = 0; done < outW && plane < planes; plane++) {
      for (let p = 0; p < l; p++) {
        if (p % outW < done) continue;
        const i = id[plane * l + p]!;
        out[plane * hw + i] = out[plane * hw + i]! + gd[grad.offset + plane * l + p]!;
      }
    }
    return wrap(out);
  }
  for (let plane = 0; plane < planes; plane++) {
    const src = plane * l;
    const dst = plane * hw;
    for (let p = 0; p < l; p++) {
      const i = id[indices.offset + src + p]!;
      if (i >= 0) out[dst + i] = out[dst + i]! + gd[grad.offset + src + p]!;
    }
  }
  return wrap(out);
}

registerFused("cpu", { maxPool, maxPoolBackward });
