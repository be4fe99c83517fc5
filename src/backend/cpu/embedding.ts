import { allocArray, emptyArray } from "../../dtype.js";
import type { Storage, View } from "../backend.js";
import { registerFused } from "../fused.js";
import { dataOf, wrap } from "./storage.js";

// An embedding lookup as row copies, and its gradient as a direct index-add
// of the output gradient's rows into a zero [num, dim] table: no expanded
// index and no per-element scatter, one contiguous row at a time.

type Floats = Float32Array | Float64Array;

/** out [n, dim] = weight[index[i], :] for contiguous weight [num, dim] and n int32 indices (in range). */
function embedding(weight: View, index: View): Storage {
  const dim = weight.shape[1]!;
  const wd = dataOf(weight) as Floats;
  const id = dataOf(index) as Int32Array;
  const n = index.shape.reduce((a, b) => a * b, 1);
  const out = emptyArray(weight.dtype, n * dim) as Floats;
  for (let i = 0, io = index.offset; i < n; i++, io++) {
    const s = weight.offset + id[io]! * dim;
    out.set(wd.subarray(s, s + dim), i * dim);
  }
  return wrap(out);
}

/** [num, dim] with row index[i] += grad[i, :], for contiguous grad [n, dim] and int32 indices. */
function embeddingBackward(grad: View, index: View, num: number): Storage {
  const dim = grad.shape[grad.shape.length - 1]!;
  const gd = dataOf(grad) as Floats;
  const id = dataOf(index) as Int32Array;
  const n = index.shape.reduce((a, b) => a * b, 1);
  const out = allocArray(grad.dtype, num * dim) as Floats;
  addRows(out, gd, grad.offset, id, index.offset, n, dim);
  return wrap(out);
}

function addRows(
  out: Floats,
  gd: Floats,
  go: number,
  id: Int32Array,
  io: number,
  n: number,
  dim: number,
): void {
  for (let i = 0; i < n; i++) {
    const d = id[io + i]! * dim;
    const s = go + i * dim;
    for (let j = 0; j < dim; j++) out[d + j] = out[d + j]! + gd[s + j]!;
  }
}

registerFused("cpu", { embedding, embeddingBackward });
