// float32 comparisons into bool tensors and where(cond, a, b) on SIMD
// (src/backend/cpu/wasm/compare.ts) against the scalar loops (switched
// off), which stay the reference: the same bytes and bits for every case,
// including NaN, ±inf, −0, narrowed views at offsets, sizes that are not
// whole vectors, several streaming chunks with a partial last one, the
// layouts left to the loops (strided, broadcast rows) and empty tensors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { COMPARE_SIMD_MIN, setCompareKernels } from "../../src/backend/cpu/wasm/compare.js";
import { STREAM_CHUNK } from "../../src/backend/cpu/wasm/vmath.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(12);

const SPECIALS = [0, -0, Infinity, -Infinity, Number.NaN, 1e-40, -3e38, 3e38, 1, -1];

/** A [rows, cols] float32 tensor: random values, specials, and a few small integers (so eq meets equal values), as a view at an offset. */
function values(rows: number, cols: number): fl.Tensor {
  const n = (rows + 1) * cols;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = random();
    a[i] =
      r < 0.1
        ? SPECIALS[i % SPECIALS.length]!
        : r < 0.4
          ? Math.floor(random() * 3) - 1
          : (random() - 0.5) * 8;
  }
  return fl
    .tensor(a)
    .reshape([rows + 1, cols])
    .narrow(0, 1, rows);
}

/** A [rows, cols] bool tensor at an offset. */
function mask(rows: number, cols: number): fl.Tensor {
  return values(rows, cols).gt(0.5);
}

/** f's result with the kernels switched off (the reference) and on, as arrays. */
function both(f: () => fl.Tensor): [ArrayLike<number>, ArrayLike<number>, fl.Tensor] {
  const was = setCompareKernels(false);
  let want: ArrayLike<number>;
  try {
    want = f().dataSync();
  } finally {
    setCompareKernels(was);
  }
  const t = f();
  return [want, t.dataSync(), t];
}

function sameBits(name: string, want: ArrayLike<number>, got: ArrayLike<number>): void {
  assert.equal(got.length, want.length, name);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i])) assert.fail(`${name} i=${i}: ${got[i]} != ${want[i]}`);
}

const OPS = ["gt", "lt", "ge", "le", "eq", "ne"] as const;
type Op = (typeof OPS)[number];
const call = (op: Op, a: fl.TensorLike, b: fl.TensorLike) =>
  (fl as unknown as Record<Op, (a: fl.TensorLike, b: fl.TensorLike) => fl.Tensor>)[op](a, b);

// [rows, cols]: whole vectors, odd sizes, just above the SIMD size, more
// than one streaming chunk with a partial last one, below the SIMD size, empty.
const SHAPES = [
  [64, 64],
  [41, 1000],
  [1, COMPARE_SIMD_MIN + 1],
  [3, STREAM_CHUNK + 7],
  [97, 61],
  [3, 5],
  [0, 8],
] as const;

describe("SIMD float32 comparisons", () => {
  test("the shapes reach the kernels and several chunks", () => {
    assert.ok(64 * 64 >= COMPARE_SIMD_MIN);
    assert.ok(3 * (STREAM_CHUNK + 7) > 2 * STREAM_CHUNK);
  });

  for (const op of OPS) {
    test(`${op}: tensors, tensor ∘ scalar and scalar ∘ tensor give the reference's bytes`, () => {
      for (const [rows, cols] of SHAPES) {
        const x = values(rows, cols);
        const y = values(rows, cols);
        const [w0, g0, t0] = both(() => call(op, x, y));
        sameBits(`${op}(x, y)[${rows},${cols}]`, w0, g0);
        assert.equal(t0.dtype, "bool");
        assert.deepEqual(t0.shape, [rows, cols]);
        // Equal operands: every lane true for eq/ge/le except NaN's.
        const [w1, g1] = both(() => call(op, x, x));
        sameBits(`${op}(x, x)[${rows},${cols}]`, w1, g1);
        for (const s of [0, -0, 1, -1, 0.25, Number.NaN, Infinity, -Infinity]) {
          const [w2, g2] = both(() => call(op, x, s));
          sameBits(`${op}(x[${rows},${cols}], ${s})`, w2, g2);
          const [w3, g3] = both(() => call(op, s, x));
          sameBits(`${op}(${s}, x[${rows},${cols}])`, w3, g3);
        }
        // Left to the loops: a transposed operand, a row broadcast over the rows.
        const xt = values(cols, rows).t();
        const [w4, g4] = both(() => call(op, xt, x));
        sameBits(`${op}(xᵀ, x)[${rows},${cols}]`, w4, g4);
        const row = values(1, cols).reshape([cols]);
        const [w5, g5] = both(() => call(op, x, row));
        sameBits(`${op}(x, row)[${rows},${cols}]`, w5, g5);
      }
    });
  }

  test("the results are the IEEE comparisons: NaN unordered, −0 equal to +0", () => {
    const n = 4 * COMPARE_SIMD_MIN;
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = SPECIALS[i % SPECIALS.length]!;
      b[i] = SPECIALS[Math.floor(i / SPECIALS.length) % SPECIALS.length]!;
    }
    const js: Record<Op, (p: number, q: number) => boolean> = {
      gt: (p, q) => p > q,
      lt: (p, q) => p < q,
      ge: (p, q) => p >= q,
      le: (p, q) => p <= q,
      eq: (p, q) => p === q,
      ne: (p, q) => p !== q,
    };
    for (const op of OPS) {
      const got = call(op, fl.tensor(a), fl.tensor(b)).dataSync();
      for (let i = 0; i < n; i++)
        assert.equal(got[i], +js[op](a[i]!, b[i]!), `${a[i]} ${op} ${b[i]}`);
    }
  });
});

describe("SIMD float32 where", () => {
  test("tensors and scalars give the reference's bits", () => {
    for (const [rows, cols] of SHAPES) {
      const c = mask(rows, cols);
      const a = values(rows, cols);
      const b = values(rows, cols);
      const [w0, g0, t0] = both(() => fl.where(c, a, b));
      sameBits(`where(c, a, b)[${rows},${cols}]`, w0, g0);
      assert.equal(t0.dtype, "float32");
      for (const s of [0, -0, 2.5, Number.NaN, -Infinity]) {
        const [w1, g1] = both(() => fl.where(c, a, s));
        sameBits(`where(c, a, ${s})[${rows},${cols}]`, w1, g1);
        const [w2, g2] = both(() => fl.where(c, s, b));
        sameBits(`where(c, ${s}, b)[${rows},${cols}]`, w2, g2);
      }
      // Left to the loops: a condition broadcast over the rows, a transposed operand.
      const crow = mask(1, cols).reshape([cols]);
      const [w3, g3] = both(() => fl.where(crow, a, b));
      sameBits(`where(row, a, b)[${rows},${cols}]`, w3, g3);
      const at = values(cols, rows).t();
      const [w4, g4] = both(() => fl.where(c, at, b));
      sameBits(`where(c, aᵀ, b)[${rows},${cols}]`, w4, g4);
    }
  });

  test("picks a where cond is true and b elsewhere, bit for bit", () => {
    const n = 3 * COMPARE_SIMD_MIN + 5;
    const av = new Float32Array(n);
    const bv = new Float32Array(n);
    const cv = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      av[i] = SPECIALS[i % SPECIALS.length]!;
      bv[i] = -i;
      cv[i] = +(random() < 0.5);
    }
    const got = fl.where(fl.tensor(cv, { dtype: "bool" }), fl.tensor(av), fl.tensor(bv)).dataSync();
    for (let i = 0; i < n; i++)
      assert.ok(Object.is(got[i], Math.fround(cv[i] ? av[i]! : bv[i]!)), `i=${i}`);
  });
});
