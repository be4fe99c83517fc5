import { emptyArray } from "../../dtype.js";
import type { Storage, View } from "../backend.js";
import { registerFused } from "../fused.js";
import { dataOf, wrap } from "./storage.js";
import { simdExpInPlace, simdShiftExpRows } from "./wasm/vmath.js";

// Cross entropy of logits x [N, C] against int32 class targets [N] in one
// pass per direction, without the composite's full log-softmax array:
// the forward keeps only each row's log-sum-exp, and the backward rebuilds
// softmax(x) from it and subtracts the one-hot target in the same loop.
// float32 takes its exponentials on SIMD (vmath's exp), and where the class
// count is a multiple of 4 the row max, shift and the backward's scaling by
// g too (simdShiftExpRows, bit for bit the scalar path); float64 on Math.exp.
// The row loops are top-level functions over plain arguments (not closure
// captures), so V8 keeps the arrays and bounds in registers.

type Floats = Float32Array | Float64Array;

/**
 * mem[r·C + j] = x[r, j] − shift[r]; with `findMax`, shift[r] is first set
 * to the row's maximum (a non-finite one then shifts by 0: finishRows
 * makes that row's log-sum-exp NaN, as the composite's).
 */
function shiftRows(
  mem: Floats,
  xd: Floats,
  xo: number,
  rows: number,
  cols: number,
  shift: Float64Array,
  findMax: boolean,
): void {
  for (let r = 0; r < rows; r++) {
    const s = xo + r * cols;
    const d = r * cols;
    let m = shift[r]!;
    if (findMax) {
      m = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < cols; j++) {
        const v = xd[s + j]!;
        if (v > m || v !== v) m = v;
      }
      shift[r] = m;
    }
    if (findMax && m - m !== 0) m = 0;
    for (let j = 0; j < cols; j++) mem[d + j] = xd[s + j]! - m;
  }
}

/** Per row from its exponentials: lse = max + log Σ, loss = lse − x[t] (0 where t is ignored). */
function finishRows(
  exps: Floats,
  xd: Floats,
  xo: number,
  td: Int32Array,
  to: number,
  rows: number,
  cols: number,
  ignoreIndex: number,
  maxes: Float64Array,
  loss: Floats,
): void {
  for (let r = 0; r < rows; r++) {
    const d = r * cols;
    // Four partial sums: a single accumulator chains every add on the last.
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = d;
    const end = d + cols;
    for (; j + 4 <= end; j += 4) {
      s0 += exps[j]!;
      s1 += exps[j + 1]!;
      s2 += exps[j + 2]!;
      s3 += exps[j + 3]!;
    }
    for (; j < end; j++) s0 += exps[j]!;
    const sum = s0 + s1 + (s2 + s3);
    const m = maxes[r]!;
    const lse = m - m !== 0 ? Number.NaN : m + Math.log(sum);
    maxes[r] = lse;
    const t = td[to + r]!;
    loss[r] = t === ignoreIndex ? 0 : lse - xd[xo + r * cols + t]!;
  }
}

/**
 * Per-row losses [N] and log-sum-exps [N] (the backward's only saved
 * state) of contiguous logits [N, C] and targets [N] (already range-checked).
 */
function crossEntropy(x: View, target: View, ignoreIndex: number): { loss: Storage; lse: Storage } {
  const [rows, cols] = x.shape as [number, number];
  const xd = dataOf(x) as Floats;
  const td = dataOf(target) as Int32Array;
  const xo = x.offset;
  const to = target.offset;
  const f32 = xd instanceof Float32Array;
  const lse: Floats = f32 ? new Float32Array(rows) : new Float64Array(rows);
  const loss: Floats = f32 ? new Float32Array(rows) : new Float64Array(rows);
  // The maxima are kept in doubles until they become log-sum-exps.
  const maxes = new Float64Array(rows);
  const n = rows * cols;
  // Whole SIMD rows (cols a multiple of 4): the max and shift in wasm too.
  const rowsDone =
    f32 &&
    simdShiftExpRows(xd.subarray(xo), rows, cols, null, (exps, shifts) => {
      maxes.set(shifts);
      finishRows(exps, xd, xo, td, to, rows, cols, ignoreIndex, maxes, loss);
    });
  const done =
    rowsDone ||
    (f32 &&
      simdExpInPlace(
        n,
        (mem) => shiftRows(mem, xd, xo, rows, cols, maxes, true),
        (mem) => finishRows(mem, xd, xo, td, to, rows, cols, ignoreIndex, maxes, loss),
      ));
  if (!done) {
    const exps = new Float64Array(n);
    shiftRows(exps, xd, xo, rows, cols, maxes, true);
    for (let i = 0; i < n; i++) exps[i] = Math.exp(exps[i]!);
    finishRows(exps, xd, xo, td, to, rows, cols, ignoreIndex, maxes, loss);
  }
  lse.set(maxes);
  return { loss: wrap(loss), lse: wrap(lse) };
}

/** out[r, j] = g[r] · (p[r, j] − [j = t_r]) from p's values in `probs`; rows with t ignored are 0. */
function gradRows(
  probs: Floats,
  out: Floats,
  gd: Floats,
  go: number,
  gs: number,
  td: Int32Array,
  to: number,
  rows: number,
  cols: number,
  ignoreIndex: number,
): void {
  for (let r = 0; r < rows; r++) {
    const d = r * cols;
    const t = td[to + r]!;
    if (t === ignoreIndex) {
      out.fill(0, d, d + cols);
      continue;
    }
    const g = gd[go + r * gs]!;
    for (let j = 0; j < cols; j++) out[d + j] = probs[d + j]! * g;
    out[d + t] = out[d + t]! - g;
  }
}

/** out[r, t_r] −= g[r] over rows already holding g[r]·p; rows with t ignored become 0. */
function subtractTargets(
  out: Float32Array,
  g: Float32Array,
  td: Int32Array,
  to: number,
  rows: number,
  cols: number,
  ignoreIndex: number,
): void {
  for (let r = 0; r < rows; r++) {
    const d = r * cols;
    const t = td[to + r]!;
    if (t === ignoreIndex) out.fill(0, d, d + cols);
    else out[d + t] = out[d + t]! - g[r]!;
  }
}

/**
 * The logits' gradient [N, C] from the per-row loss gradient g [N] (any
 * stride), the logits, the targets and the forward's log-sum-exps.
 */
function crossEntropyBackward(
  grad: View,
  x: View,
  target: View,
  lse: View,
  ignoreIndex: number,
): Storage {
  const [rows, cols] = x.shape as [number, number];
  const xd = dataOf(x) as Floats;
  const td = dataOf(target) as Int32Array;
  const gd = dataOf(grad) as Floats;
  const ld = dataOf(lse) as Floats;
  // In doubles, as the forward's maxima: shiftRows then sees one array type.
  const shift = Float64Array.from(ld.subarray(lse.offset, lse.offset + rows));
  const gs = grad.strides[0] ?? 1;
  const n = rows * cols;
  // Every path below writes every element (ignored rows as zeros).
  const out = emptyArray(xd instanceof Float32Array ? "float32" : "float64", n) as Floats;
  // Whole SIMD rows: shift, exp and the scaling by g in wasm; the targets here.
  const scales = gd instanceof Float32Array ? new Float32Array(rows) : null;
  if (scales) for (let r = 0; r < rows; r++) scales[r] = gd[grad.offset + r * gs]!;
  const rowsDone =
    xd instanceof Float32Array &&
    ld instanceof Float32Array &&
    out instanceof Float32Array &&
    scales !== null &&
    simdShiftExpRows(
      xd.subarray(x.offset),
      rows,
      cols,
      ld.subarray(lse.offset, lse.offset + rows),
      (scaled) => {
        out.set(scaled);
        subtractTargets(out, scales, td, target.offset, rows, cols, ignoreIndex);
      },
      scales,
    );
  const done =
    rowsDone ||
    (xd instanceof Float32Array &&
      simdExpInPlace(
        n,
        (mem) => shiftRows(mem, xd, x.offset, rows, cols, shift, false),
        (mem) =>
          gradRows(mem, out, gd, grad.offset, gs, td, target.offset, rows, cols, ignoreIndex),
      ));
  if (!done) {
    const probs = new Float64Array(n);
    shiftRows(probs, xd, x.offset, rows, cols, shift, false);
    for (let i = 0; i < n; i++) probs[i] = Math.exp(probs[i]!);
    gradRows(probs, out, gd, grad.offset, gs, td, target.offset, rows, cols, ignoreIndex);
  }
  return wrap(out);
}

registerFused("cpu", { crossEntropy, crossEntropyBackward });
