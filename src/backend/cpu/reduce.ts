import { allocArray, type DType } from "../../dtype.js";
import type { ReduceOp, View } from "../backend.js";
import { elementOffsets } from "./iterate.js";
import { reducePlain } from "./reduce_plain.js";
import { dataOf } from "./storage.js";

/**
 * Reduces `dims` of x. The kept dims and the reduced dims each get a table
 * of storage offsets, so any layout reduces with one pair of loops. Plain
 * layouts take the table-free walks of reduce_plain.ts first; these loops
 * are their reference.
 */
export function reduceKernel(op: ReduceOp, x: View, dims: readonly number[], outDtype: DType) {
  const plain = reducePlain(op, x, dims, outDtype);
  if (plain) return plain;
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
