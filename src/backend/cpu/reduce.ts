import { allocArray, type DType, type TypedArray } from "../../dtype.js";
import type { ReduceOp, View } from "../backend.js";
import { elementOffsets } from "./iterate.js";
import { dataOf } from "./storage.js";

/**
 * Reduces `dims` of x. The kept dims and the reduced dims each get a table
 * of storage offsets, so any layout reduces with one pair of loops.
 */
export function reduceKernel(op: ReduceOp, x: View, dims: readonly number[], outDtype: DType) {
  const reduced = new Set(dims);
  const keptShape: number[] = [];
  const keptStrides: number[] = [];
  const redShape: number[] = [];
  const redStrides: number[] = [];
  x.shape.forEach((d, i) => {
    if (reduced.has(i)) {
      redShape.push(d);
      redStrides.push(x.strides[i]!);
    } else {
      keptShape.push(d);
      keptStrides.push(x.strides[i]!);
    }
  });
  const outer = elementOffsets(keptShape, keptStrides, x.offset);
  const inner = elementOffsets(redShape, redStrides, 0);
  const O = outer.length;
  const R = inner.length;
  const out = allocArray(outDtype, O);
  const xd = dataOf(x);
  switch (op) {
    case "sum":
      if (sumFast(out, xd, outer, inner)) break;
      for (let o = 0; o < O; o++) {
        const base = outer[o]!;
        let s = 0;
        for (let r = 0; r < R; r++) s += xd[base + inner[r]!]!;
        out[o] = s;
      }
      break;
    case "prod":
      for (let o = 0; o < O; o++) {
        const base = outer[o]!;
        let s = 1;
        for (let r = 0; r < R; r++) s *= xd[base + inner[r]!]!;
        out[o] = s;
      }
      break;
    case "max":
    case "min": {
      const isMax = op === "max";
      for (let o = 0; o < O; o++) {
        const base = outer[o]!;
        let best = isMax ? -Infinity : Infinity;
        for (let r = 0; r < R; r++) {
          const v = xd[base + inner[r]!]!;
          if (v !== v) {
            best = v;
            break;
          }
          if (isMax ? v > best : v < best) best = v;
        }
        out[o] = best;
      }
      break;
    }
    case "argmax":
    case "argmin": {
      const isMax = op === "argmax";
      for (let o = 0; o < O; o++) {
        const base = outer[o]!;
        let best = xd[base + inner[0]!]!;
        let at = 0;
        if (best === best) {
          for (let r = 1; r < R; r++) {
            const v = xd[base + inner[r]!]!;
            if (v !== v) {
              at = r;
              break;
            }
            if (isMax ? v > best : v < best) {
              best = v;
              at = r;
            }
          }
        }
        out[o] = at;
      }
      break;
    }
  }
  return out;
}

/**
 * Sums whose walk is plain, with the same order of additions as the
 * general loop: reduced elements back to back (softmax and layer-norm rows),
 * or kept elements back to back (a bias gradient's sum over the batch),
 * where the rows are added into the output one after another.
 */
function sumFast(out: TypedArray, xd: TypedArray, outer: Int32Array, inner: Int32Array): boolean {
  const O = outer.length;
  const R = inner.length;
  if (isRange(inner)) {
    for (let o = 0; o < O; o++) {
      const base = outer[o]!;
      let s = 0;
      for (let r = base; r < base + R; r++) s += xd[r]!;
      out[o] = s;
    }
    return true;
  }
  if (O > 1 && isRange(outer)) {
    const acc = new Float64Array(O);
    const base = outer[0]!;
    for (let r = 0; r < R; r++) {
      const row = base + inner[r]!;
      for (let o = 0; o < O; o++) acc[o] += xd[row + o]!;
    }
    for (let o = 0; o < O; o++) out[o] = acc[o]!;
    return true;
  }
  return false;
}

/** Whether offsets are first, first + 1, first + 2, …. */
function isRange(offsets: Int32Array): boolean {
  const first = offsets[0]!;
  for (let i = 1; i < offsets.length; i++) if (offsets[i] !== first + i) return false;
  return true;
}
