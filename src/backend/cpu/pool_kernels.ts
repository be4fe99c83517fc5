import { allocArray } from "../../dtype.js";
import { numel } from "../../shape.js";
import type { View } from "../backend.js";
import { registerFused } from "../fused.js";
import { dataOf, wrap } from "./storage.js";

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
  for (let plane = 0; plane < n * c; plane++) {
    const src = x.offset + plane * hw;
    const dst = plane * l;
    for (let p = 0; p < l; p++) {
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
  return { values: wrap(values), indices: wrap(indices) };
}

function maxPoolBackward(grad: View, indices: View, l: number, hw: number) {
  const planes = l === 0 ? 0 : numel(grad.shape) / l;
  const gd = dataOf(grad) as Floats;
  const id = dataOf(indices) as Int32Array;
  const out = allocArray(grad.dtype, planes * hw) as Floats;
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
