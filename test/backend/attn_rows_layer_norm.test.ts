// Layer norm's SIMD row kernels (src/backend/cpu/wasm/rows.ts), whose row
// sums now run on two float64 accumulators, against the same formulas in
// JavaScript doubles: each row's mean and 1/std, y, and the gradients of
// x, weight and bias, on the tiny GPT's shape and on rows of one and three
// vectors (odd vector counts leave the second accumulator a vector short).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { simdLayerNorm, simdLayerNormBackward } from "../../src/backend/cpu/wasm/rows.js";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= tol * (1 + Math.abs(want[i]!))))
      assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/** Seeded values in [−a, a) + shift, as float32. */
function values(n: number, seed: number, a = 1, shift = 0): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 * a - a + shift;
  });
}

/** Layer norm and its gradients in doubles, from the float32 inputs (the kernels' mean and rstd used for the backward). */
function reference(
  x: Float32Array,
  g: Float32Array,
  w: Float32Array,
  b: Float32Array,
  rows: number,
  cols: number,
  eps: number,
) {
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[r * cols + j]!;
    const mu = s / cols;
    let q = 0;
    for (let j = 0; j < cols; j++) q += (x[r * cols + j]! - mu) ** 2;
    mean[r] = mu;
    rstd[r] = 1 / Math.sqrt(q / cols + eps);
    for (let j = 0; j < cols; j++)
      y[r * cols + j] = (x[r * cols + j]! - mu) * rstd[r]! * w[j]! + b[j]!;
  }
  const gx = new Float64Array(rows * cols);
  const gw = new Float64Array(cols);
  const gb = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < cols; j++) {
      const xh = (x[r * cols + j]! - mean[r]!) * rstd[r]!;
      const gh = g[r * cols + j]! * w[j]!;
      sg += gh;
      sgx += gh * xh;
      gw[j] += g[r * cols + j]! * xh;
      gb[j] += g[r * cols + j]!;
    }
    for (let j = 0; j < cols; j++) {
      const xh = (x[r * cols + j]! - mean[r]!) * rstd[r]!;
      const gh = g[r * cols + j]! * w[j]!;
      gx[r * cols + j] = rstd[r]! * (gh - sg / cols - (xh * sgx) / cols);
    }
  }
  return { mean, rstd, y, gx, gw, gb };
}

describe("layer norm rows on two accumulators", {
  skip: !wasmFeatures().simd && "no wasm SIMD",
}, () => {
  for (const [rows, cols, shift] of [
    [1024, 128, 0],
    [67, 4, 3],
    [65, 12, -2],
    [9, 260, 40],
  ] as const) {
    test(`[${rows}, ${cols}], values around ${shift}: forward and backward match doubles`, () => {
      const x = values(rows * cols, rows + cols, 2, shift);
      const g = values(rows * cols, 7 * rows + 1);
      const w = values(cols, 3, 1, 1);
      const b = values(cols, 5);
      const eps = 1e-5;
      const op = (data: Float32Array) => ({ data, offset: 0 });
      const fwd = simdLayerNorm(op(x), rows, cols, op(w), op(b), eps);
      assert.ok(fwd, "the SIMD kernel ran");
      const want = reference(x, g, w, b, rows, cols, eps);
      close(fwd.mean, want.mean, 1e-6, "mean");
      close(fwd.rstd, want.rstd, 2e-6, "rstd");
      close(fwd.y, want.y, 5e-6, "y");
      const bwd = simdLayerNormBackward(
        op(g),
        op(x),
        rows,
        cols,
        op(fwd.mean),
        op(fwd.rstd),
        op(w),
        true,
      );
      assert.ok(bwd?.gw && bwd.gb, "the SIMD backward ran with the affine");
      close(bwd.gx, want.gx, 2e-5, "gx");
      close(bwd.gw, want.gw, 2e-5, "gw");
      close(bwd.gb, want.gb, 1e-6, "gb");
    });
  }
});
