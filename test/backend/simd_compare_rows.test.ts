// float32 comparisons of a tensor with a row repeated over it (x.gt(row),
// row.lt(x)) on SIMD (src/backend/cpu/wasm/compare.ts) against the scalar
// loops (the row path switched off): the same bytes for NaN, ±inf, −0, rows
// of any width (not whole vectors, wider than a streaming chunk), several
// chunks with a partial last, views at offsets, a row over the last two
// dims, and empty tensors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { COMPARE_SIMD_MIN, setCompareRowKernels } from "../../src/backend/cpu/wasm/compare.js";
import { STREAM_CHUNK } from "../../src/backend/cpu/wasm/vmath.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(22);

const SPECIALS = [0, -0, Infinity, -Infinity, Number.NaN, 1e-40, -3e38, 1, -1];

/** A float32 tensor of `shape`: random values, specials and small integers (so eq meets equal values), as a view at an offset. */
function values(shape: number[]): fl.Tensor {
  const n = shape.reduce((p, q) => p * q, 1);
  const a = new Float32Array(n + 3);
  for (let i = 0; i < a.length; i++) {
    const r = random();
    a[i] =
      r < 0.1
        ? SPECIALS[i % SPECIALS.length]!
        : r < 0.4
          ? Math.floor(random() * 3) - 1
          : (random() - 0.5) * 8;
  }
  return fl.tensor(a).narrow(0, 3, n).reshape(shape);
}

/** f's bytes with the row path switched off (the reference) and on. */
function both(f: () => fl.Tensor): [ArrayLike<number>, ArrayLike<number>] {
  const was = setCompareRowKernels(false);
  let want: ArrayLike<number>;
  try {
    want = f().dataSync();
  } finally {
    setCompareRowKernels(was);
  }
  return [want, f().dataSync()];
}

function sameBytes(name: string, want: ArrayLike<number>, got: ArrayLike<number>): void {
  assert.equal(got.length, want.length, name);
  for (let i = 0; i < want.length; i++)
    if (got[i] !== want[i]) assert.fail(`${name} i=${i}: ${got[i]} != ${want[i]}`);
}

const OPS = ["gt", "lt", "ge", "le", "eq", "ne"] as const;

// [x's shape, the row's shape]: whole vectors and chunks of whole rows;
// widths that are not whole vectors; a row wider than a chunk; a row over
// the last two dims.
const CASES: [number[], number[]][] = [
  [[256, 64], [64]],
  [[333, 37], [37]],
  [[3, STREAM_CHUNK + 5], [STREAM_CHUNK + 5]],
  [
    [4, 30, 50],
    [30, 50],
  ],
  [[2000, 3], [3]],
];

describe("SIMD float32 compares with a repeated row", () => {
  test("the cases reach the kernels", () => {
    assert.ok(333 * 37 >= COMPARE_SIMD_MIN && 2000 * 3 >= COMPARE_SIMD_MIN);
  });

  test("x op row and row op x give the scalar loop's bytes", () => {
    for (const [shape, rowShape] of CASES) {
      const x = values(shape);
      const row = values(rowShape);
      for (const op of OPS) {
        const [w0, g0] = both(() => x[op](row));
        sameBytes(`${op}(x, row) ${shape}`, w0, g0);
        const [w1, g1] = both(() => row[op](x));
        sameBytes(`${op}(row, x) ${shape}`, w1, g1);
      }
      // One of x's own rows: eq and ne meet equal values in every column.
      const rows = x.reshape([-1, rowShape.reduce((p, q) => p * q, 1)]);
      const own = rows.narrow(0, 1, 1);
      for (const op of ["eq", "ne"] as const) {
        const [w2, g2] = both(() => rows[op](own));
        sameBytes(`${op}(x, x's row) ${shape}`, w2, g2);
      }
    }
  });

  test("empty tensors", () => {
    const row = values([4096]);
    assert.deepEqual(Array.from(fl.zeros([0, 4096]).gt(row).dataSync()), []);
  });
});
