// float32 log-softmax over rows on SIMD (src/backend/cpu/wasm/softmax_last_dim.ts)
// against the path it replaces (the kernels switched off: JS maxima, SIMD
// exps, JS sums): equal but for the order of the float64 additions in
// Σ exp, so within a few float32 ulps of lse; rows with NaN, +inf, all
// −inf and −0; widths that are not whole steps, several chunks with a
// partial last, rows longer than a chunk, views at offsets, and empty rows.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  LOG_SOFTMAX_MIN,
  setLogSoftmaxKernels,
} from "../../src/backend/cpu/wasm/softmax_last_dim.js";
import { STREAM_CHUNK } from "../../src/backend/cpu/wasm/vmath.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(20);

const F = fl.nn.functional;

/**
 * A [rows, n] float32 tensor at an offset: random rows (some with a wide
 * spread), and rows 0–3 holding a NaN, a +inf, only −inf, and only zeros
 * of both signs with one −inf.
 */
function values(rows: number, n: number): fl.Tensor {
  const a = new Float32Array((rows + 1) * n);
  for (let i = 0; i < a.length; i++) a[i] = (random() - 0.5) * (i % 7 === 0 ? 60 : 8);
  const row = (r: number) => a.subarray((r + 1) * n, (r + 2) * n);
  if (rows >= 4) {
    row(0)[n >> 1] = Number.NaN;
    row(1)[n - 1] = Infinity;
    row(2).fill(-Infinity);
    for (let j = 0; j < n; j++) row(3)[j] = j % 2 ? -0 : 0;
    row(3)[0] = -Infinity;
  }
  return fl
    .tensor(a)
    .reshape([rows + 1, n])
    .narrow(0, 1, rows);
}

/** f's result with the kernels switched off (the reference) and on. */
function both(f: () => fl.Tensor): [ArrayLike<number>, ArrayLike<number>] {
  const was = setLogSoftmaxKernels(false);
  let want: ArrayLike<number>;
  try {
    want = f().dataSync();
  } finally {
    setLogSoftmaxKernels(was);
  }
  return [want, f().dataSync()];
}

/** NaN and infinities where the reference has them, else within 4 ulps of the larger of the value and 1 (lse's rounding). */
function close(name: string, want: ArrayLike<number>, got: ArrayLike<number>): void {
  assert.equal(got.length, want.length, name);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (!Number.isFinite(w)) {
      assert.ok(Object.is(g, w), `${name} i=${i}: ${g} != ${w}`);
      continue;
    }
    const tol = 4 * 2 ** -23 * Math.max(Math.abs(w), 1);
    if (!(Math.abs(g - w) <= tol)) assert.fail(`${name} i=${i}: ${g} vs ${w}`);
  }
}

// [rows, n]: whole steps; widths that are not; several chunks with a
// partial last; rows longer than a chunk.
const SHAPES = [
  [64, 64],
  [41, 1000],
  [3 * Math.floor(STREAM_CHUNK / 40) + 5, 37],
  [5, STREAM_CHUNK + 13],
  [300, 5],
] as const;

describe("SIMD float32 log-softmax", () => {
  test("the shapes reach the kernels", () => {
    assert.ok(64 * 64 >= LOG_SOFTMAX_MIN && 300 * 5 >= LOG_SOFTMAX_MIN);
  });

  test("matches the SIMD-exp path, special rows included", () => {
    for (const [rows, n] of SHAPES) {
      const x = values(rows, n);
      const [w0, g0] = both(() => F.logSoftmax(x, -1));
      close(`logSoftmax [${rows},${n}]`, w0, g0);
      // Non-contiguous rows: the fused op takes its contiguous copy.
      const xs = x.narrow(1, 1, n - 2);
      const [w1, g1] = both(() => F.logSoftmax(xs, -1));
      close(`logSoftmax [${rows},${n - 2}] narrowed`, w1, g1);
    }
  });

  test("special rows give NaN (NaN, +inf, all −inf) and finite values where the reference does", () => {
    const y = F.logSoftmax(values(64, 64), -1).dataSync();
    for (let j = 0; j < 64; j++) {
      assert.ok(Number.isNaN(y[j]!) && Number.isNaN(y[64 + j]!) && Number.isNaN(y[128 + j]!));
      // Zeros of both signs and one −inf: log(1/63) each, −inf at the −inf.
      if (j === 0) assert.equal(y[192], -Infinity);
      else assert.ok(Math.abs(y[192 + j]! + Math.log(63)) < 1e-6, `zeros row j=${j}`);
    }
  });

  test("empty tensors", () => {
    assert.deepEqual(Array.from(F.logSoftmax(fl.zeros([0, 4096]), -1).dataSync()), []);
    assert.deepEqual(Array.from(F.logSoftmax(fl.zeros([4096, 0]), -1).dataSync()), []);
  });
});
