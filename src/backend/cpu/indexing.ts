import { allocArray, type DType, type TypedArray } from "../../dtype.js";
import { ArgumentError } from "../../errors.js";
import type { View } from "../backend.js";
import { copyKernel } from "./elementwise.js";
import { forEachRow } from "./iterate.js";
import { dataOf, wrap } from "./storage.js";

function checkIndex(op: string, idx: number, size: number, dim: number): number {
  if (idx < -size || idx >= size) {
    throw new ArgumentError(
      `${op}: index ${idx} is out of bounds for dimension ${dim} with size ${size}`,
    );
  }
  return idx < 0 ? idx + size : idx;
}

/** Walks index's positions, giving each one's storage offset in index and the matching offset in `other` with dim zeroed. */
function walkIndex(
  index: View,
  other: View,
  dim: number,
  visit: (indexAt: number, otherBase: number, pos: number) => void,
): void {
  // Strides of `other` with dim removed so the caller adds idx * stride(dim) itself.
  const os = other.strides.map((s, d) => (d === dim ? 0 : s));
  let pos = 0;
  forEachRow(index.shape, [index.strides, os], [index.offset, other.offset], (off, n, inner) => {
    let pi = off[0]!;
    let po = off[1]!;
    for (let i = 0; i < n; i++, pi += inner[0]!, po += inner[1]!) visit(pi, po, pos++);
  });
}

export function gatherKernel(x: View, dim: number, index: View) {
  const n = index.shape.reduce((a, b) => a * b, 1);
  const out = allocArray(x.dtype, n);
  const xd = dataOf(x);
  const id = dataOf(index);
  const size = x.shape[dim]!;
  const stride = x.strides[dim]!;
  if (gatherBlocks(x, dim, index, out)) return out;
  walkIndex(index, x, dim, (pi, base, pos) => {
    out[pos] = xd[base + checkIndex("gather", id[pi]!, size, dim) * stride]!;
  });
  return out;
}

/**
 * indexSelect's pattern (the index varies along dim only, x contiguous after
 * dim) copies whole blocks instead of single elements: a DataLoader batch of
 * 64 rows of 784 is 64 copies, not 50,176 lookups. Returns false when the
 * pattern does not apply.
 */
function gatherBlocks(x: View, dim: number, index: View, out: TypedArray): boolean {
  const nd = x.shape.length;
  let block = 1;
  for (let d = nd - 1; d > dim; d--) {
    if (index.shape[d] !== x.shape[d] || (x.shape[d]! > 1 && x.strides[d] !== block)) return false;
    if (index.shape[d]! > 1 && index.strides[d] !== 0) return false;
    block *= x.shape[d]!;
  }
  if (block < 8) return false;
  for (let d = 0; d < dim; d++) if (index.shape[d]! > 1 && index.strides[d] !== 0) return false;
  const xd = dataOf(x);
  const id = dataOf(index);
  const size = x.shape[dim]!;
  const k = index.shape[dim]!;
  const outer = index.shape.slice(0, dim);
  const counter = outer.map(() => 0);
  let outerCount = 1;
  for (const s of outer) outerCount *= s;
  let pos = 0;
  for (let o = 0; o < outerCount; o++) {
    let base = x.offset;
    for (let d = 0; d < dim; d++) base += counter[d]! * x.strides[d]!;
    for (let j = 0; j < k; j++) {
      const row = checkIndex("gather", id[index.offset + j * index.strides[dim]!]!, size, dim);
      const start = base + row * x.strides[dim]!;
      out.set(xd.subarray(start, start + block), pos);
      pos += block;
    }
    for (let d = dim - 1; d >= 0; d--) {
      if (++counter[d]! < outer[d]!) break;
      counter[d] = 0;
    }
  }
  return true;
}

/**
 * The adjoint of gatherBlocks' pattern (index varies along dim only, src
 * contiguous after dim): whole blocks are added or written at once. This is
 * the backward of indexSelect and of im2col (fold), which would otherwise
 * cost one closure call per element. Returns false when it does not apply.
 */
function scatterBlocks(
  op: string,
  out: TypedArray,
  outStrides: number[],
  size: number,
  dim: number,
  index: View,
  srcView: View,
  accumulate: boolean,
): boolean {
  const nd = index.shape.length;
  let block = 1;
  let dense = true;
  for (let d = nd - 1; d > dim; d--) {
    if (index.shape[d]! > 1 && index.strides[d] !== 0) return false;
    if (index.shape[d] !== outStrides[d - 1]! / outStrides[d]!) return false;
    if (index.shape[d]! > 1 && srcView.strides[d] !== block) dense = false;
    block *= index.shape[d]!;
  }
  if (block < 8) return false;
  for (let d = 0; d < dim; d++) if (index.shape[d]! > 1 && index.strides[d] !== 0) return false;
  // A strided src (a gradient arriving through a permute) is packed once: far cheaper than the element walk.
  const src = dense ? srcView : packed(srcView, index.shape);
  const id = dataOf(index);
  const sd = dataOf(src);
  const k = index.shape[dim]!;
  const outer = index.shape.slice(0, dim);
  const counter = outer.map(() => 0);
  let outerCount = 1;
  for (const s of outer) outerCount *= s;
  for (let o = 0; o < outerCount; o++) {
    let base = 0;
    let srcBase = src.offset;
    for (let d = 0; d < dim; d++) {
      base += counter[d]! * outStrides[d]!;
      srcBase += counter[d]! * src.strides[d]!;
    }
    for (let j = 0; j < k; j++) {
      const row = checkIndex(op, id[index.offset + j * index.strides[dim]!]!, size, dim);
      const at = base + row * outStrides[dim]!;
      const from = srcBase + j * src.strides[dim]!;
      if (accumulate) for (let i = 0; i < block; i++) out[at + i] = out[at + i]! + sd[from + i]!;
      else out.set(sd.subarray(from, from + block), at);
    }
    for (let d = dim - 1; d >= 0; d--) {
      if (++counter[d]! < outer[d]!) break;
      counter[d] = 0;
    }
  }
  return true;
}

/** The part of src that index covers, copied into a contiguous view. */
function packed(src: View, shape: readonly number[]): View {
  const strides = new Array<number>(shape.length);
  let n = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = n;
    n *= shape[d]!;
  }
  const data = copyKernel({ ...src, shape: [...shape] }, src.dtype);
  return { storage: wrap(data), dtype: src.dtype, shape: [...shape], strides, offset: 0 };
}

export function scatterKernel(
  base: View,
  dim: number,
  index: View,
  src: View,
  accumulate: boolean,
  outDtype: DType,
) {
  const out = copyKernel(base, outDtype);
  // Strides of the contiguous output.
  const shape = base.shape;
  const outStrides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    outStrides[d] = s;
    s *= shape[d]!;
  }
  const outView: View = {
    storage: base.storage,
    dtype: outDtype,
    shape,
    strides: outStrides,
    offset: 0,
  };
  const id = dataOf(index);
  const sd = dataOf(src);
  const size = shape[dim]!;
  const stride = outStrides[dim]!;
  if (
    scatterBlocks(
      accumulate ? "scatterAdd" : "scatter",
      out,
      outStrides,
      size,
      dim,
      index,
      src,
      accumulate,
    )
  )
    return out;
  const srcOffsets: number[] = [];
  forEachRow(index.shape, [src.strides], [src.offset], (off, n, inner) => {
    let p = off[0]!;
    for (let i = 0; i < n; i++, p += inner[0]!) srcOffsets.push(p);
  });
  const op = accumulate ? "scatterAdd" : "scatter";
  walkIndex(index, outView, dim, (pi, at, pos) => {
    const target = at + checkIndex(op, id[pi]!, size, dim) * stride;
    const v = sd[srcOffsets[pos]!]!;
    if (accumulate) out[target] = out[target]! + v;
    else out[target] = v;
  });
  return out;
}
