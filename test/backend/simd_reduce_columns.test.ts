// float32 sum, amax and amin over columns on SIMD
// (src/backend/cpu/wasm/reduce_columns.ts) against reduce_plain.ts's JS
// columns walk (the kernels switched off), bit for bit: NaN, ±inf, the
// first zero's sign, and the sums' double additions; over narrowed views
// at offsets, widths that are not whole steps, several chunks with a
// partial last, widths over a segment, the middle dim of [A, R, B],
// broadcast rows, and empty tensors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  REDUCE_COLUMNS_MIN,
  REDUCE_COLUMNS_WIDTH_MIN,
  setReduceColumnKernels,
} from "../../src/backend/cpu/wasm/reduce_columns.js";
import { STREAM_CHUNK } from "../../src/backend/cpu/wasm/vmath.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(21);

/**
 * A [rows, n] float32 tensor, a view at an offset: random values with
 * specials sprinkled in; columns 0–3 hold only zeros of both signs, only
 * −inf and −0, only +inf, and NaN in one row.
 */
function values(rows: number, n: number): fl.Tensor {
  const a = new Float32Array((rows + 1) * n);
  const specials = [Number.NaN, Infinity, -Infinity, -0, 0];
  for (let r = 0; r <= rows; r++)
    for (let b = 0; b < n; b++) {
      const u = random();
      a[r * n + b] =
        b === 0
          ? u < 0.5
            ? -0
            : 0
          : b === 1
            ? u < 0.1
              ? -0
              : -Infinity
            : b === 2
              ? Infinity
              : b === 3 && r === rows >> 1
                ? Number.NaN
                : u < 0.02
                  ? specials[Math.floor(u * 250)]!
                  : (random() - 0.5) * 8;
    }
  return fl
    .tensor(a)
    .reshape([rows + 1, n])
    .narrow(0, 1, rows);
}

/** f's result with the kernels switched off (the reference) and on. */
function both(f: () => fl.Tensor): [ArrayLike<number>, ArrayLike<number>] {
  const was = setReduceColumnKernels(false);
  let want: ArrayLike<number>;
  try {
    want = f().dataSync();
  } finally {
    setReduceColumnKernels(was);
  }
  return [want, f().dataSync()];
}

function sameBits(name: string, want: ArrayLike<number>, got: ArrayLike<number>): void {
  assert.equal(got.length, want.length, name);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i])) assert.fail(`${name} i=${i}: ${got[i]} != ${want[i]}`);
}

// [rows, n]: whole steps; widths that are not (padded) and rows not a
// multiple of four; several chunks with a partial last; widths over a
// segment (STREAM_CHUNK / 8 columns) with a partial last one.
const SHAPES = [
  [64, 64],
  [1001, 41],
  [33, 200],
  [(STREAM_CHUNK / 64) * 3 + 5, 64],
  [7, STREAM_CHUNK / 4 + 13],
  [300, 17],
] as const;

const OPS = ["sum", "amax", "amin", "mean"] as const;

describe("SIMD float32 column reductions", () => {
  test("the shapes reach the kernels", () => {
    assert.ok(64 * 64 >= REDUCE_COLUMNS_MIN);
    assert.ok(300 * 17 >= REDUCE_COLUMNS_MIN && 17 >= REDUCE_COLUMNS_WIDTH_MIN);
  });

  test("sum, amax, amin and mean over dim 0 give the JS walk's bits", () => {
    for (const [rows, n] of SHAPES)
      for (const op of OPS) {
        const x = values(rows, n);
        const [w0, g0] = both(() => x[op](0));
        sameBits(`${op}(0)[${rows},${n}]`, w0, g0);
        const [w1, g1] = both(() => x.neg()[op](0));
        sameBits(`${op}(0) of −x [${rows},${n}]`, w1, g1);
        // Rows that are not back to back: a narrowed last dim at an offset.
        const xs = x.narrow(1, 3, n - 5);
        const [w2, g2] = both(() => xs[op](0));
        sameBits(`${op}(0)[${rows},${n - 5}] narrowed`, w2, g2);
      }
  });

  test("the middle dim of [A, R, B], and rows broadcast over R", () => {
    const x = values(6 * 50, 40).reshape([6, 50, 40]);
    const row = values(1, 300);
    for (const op of OPS) {
      const [w0, g0] = both(() => x[op](1));
      sameBits(`${op}(1)[6,50,40]`, w0, g0);
      const [w1, g1] = both(() => x[op]([0, 1]));
      sameBits(`${op}([0,1])[6,50,40]`, w1, g1);
      const [w2, g2] = both(() => row.expand([41, 300])[op](0));
      sameBits(`${op}(0) of a broadcast row`, w2, g2);
    }
  });

  test("empty tensors", () => {
    assert.deepEqual(Array.from(fl.zeros([4096, 0]).sum(0).dataSync()), []);
    assert.deepEqual(Array.from(fl.zeros([0, 4096]).sum(0).dataSync()), new Array(4096).fill(0));
  });
});
