// float32 sum, amax and amin over contiguous runs on SIMD
// (src/backend/cpu/wasm/reduce_rows.ts) against reduce_plain.ts's JS loops
// (the kernels switched off): max and min bit for bit (NaN, ±inf, the
// first zero's sign), sums within the last bit of the float32 result;
// over narrowed views at offsets, runs that are not whole steps, runs
// that are not back to back, runs longer than a streaming chunk, and
// empty tensors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { REDUCE_ROWS_MIN, setReduceRowKernels } from "../../src/backend/cpu/wasm/reduce_rows.js";
import { STREAM_CHUNK } from "../../src/backend/cpu/wasm/vmath.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(11);

/** What a row holds: random values, specials sprinkled in, or only zeros of both signs. */
type Fill = "random" | "specials" | "zeros" | "negative";

function row(a: Float32Array, from: number, n: number, fill: Fill): void {
  for (let i = from; i < from + n; i++) {
    const r = random();
    a[i] =
      fill === "zeros"
        ? r < 0.5
          ? -0
          : 0
        : fill === "negative"
          ? r < 0.1
            ? -0
            : -Infinity
          : fill === "specials" && r < 0.02
            ? [Number.NaN, Infinity, -Infinity, -0][Math.floor(r * 200)]!
            : (random() - 0.5) * 8;
  }
}

/** A [rows, n] float32 tensor of mixed rows, as a view at an offset. */
function values(rows: number, n: number): fl.Tensor {
  const a = new Float32Array((rows + 1) * n);
  const fills: Fill[] = ["random", "specials", "zeros", "negative"];
  for (let r = 0; r <= rows; r++) row(a, r * n, n, r < 4 ? fills[r]! : "random");
  return fl
    .tensor(a)
    .reshape([rows + 1, n])
    .narrow(0, 1, rows);
}

/** The rows after values()'s four special ones (all of x when it has no more). */
function randomRows(x: fl.Tensor): fl.Tensor {
  const rows = x.shape[0]!;
  return rows > 4 ? x.narrow(0, 4, rows - 4) : x;
}

/** f's result with the kernels switched off (the reference) and on. */
function both(f: () => fl.Tensor): [ArrayLike<number>, ArrayLike<number>] {
  const was = setReduceRowKernels(false);
  let want: ArrayLike<number>;
  try {
    want = f().dataSync();
  } finally {
    setReduceRowKernels(was);
  }
  return [want, f().dataSync()];
}

function sameBits(name: string, want: ArrayLike<number>, got: ArrayLike<number>): void {
  assert.equal(got.length, want.length, name);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i])) assert.fail(`${name} i=${i}: ${got[i]} != ${want[i]}`);
}

/** Equal but for the order of double additions: one float32 ulp of the result, or the double error of Σ|x| where the sum cancels. */
function closeSums(name: string, want: ArrayLike<number>, got: ArrayLike<number>, abs: number[]) {
  assert.equal(got.length, want.length, name);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (!Number.isFinite(w)) {
      assert.ok(Object.is(g, w), `${name} i=${i}: ${g} != ${w}`);
      continue;
    }
    const ulp = Math.max(Math.abs(w) * 2 ** -23, 2 ** -149);
    assert.ok(Math.abs(g - w) <= ulp + abs[i]! * 2 ** -40, `${name} i=${i}: ${g} vs ${w}`);
  }
}

/** Σ|x| of each row. */
function absSums(x: fl.Tensor): number[] {
  return Array.from(x.abs().sum(-1).dataSync());
}

// [rows, n]: whole steps, runs that are not (padded), several rows to a
// chunk and a partial last chunk, runs longer than a chunk (segments with
// a partial last one), below the SIMD size.
const SHAPES = [
  [64, 64],
  [41, 1000],
  [200, 33],
  [7, STREAM_CHUNK],
  [6, 2 * STREAM_CHUNK + 13],
  [3, 37],
] as const;

describe("SIMD float32 row reductions", () => {
  test("the shapes reach the kernels", () => {
    assert.ok(64 * 64 >= REDUCE_ROWS_MIN);
  });

  test("amax and amin over runs give the JS loops' bits (NaN, ±inf, the first zero's sign)", () => {
    for (const [rows, n] of SHAPES) {
      const x = values(rows, n);
      for (const op of ["amax", "amin"] as const) {
        const [w0, g0] = both(() => x[op](1));
        sameBits(`${op}(1)[${rows},${n}]`, w0, g0);
        const [w1, g1] = both(() => x.neg()[op](1));
        sameBits(`${op}(1) of −x [${rows},${n}]`, w1, g1);
        // Runs that are not back to back: a narrowed last dim.
        const xs = x.narrow(1, 3, n - 5);
        const [w2, g2] = both(() => xs[op](1));
        sameBits(`${op}(1)[${rows},${n - 5}] narrowed`, w2, g2);
        // One run over everything, with and without the special rows.
        const [w3, g3] = both(() => x[op]());
        sameBits(`${op}()[${rows},${n}]`, w3, g3);
        const [w4, g4] = both(() => randomRows(x)[op]());
        sameBits(`${op}()[${rows},${n}] random`, w4, g4);
      }
    }
  });

  test("sums over runs are the JS loops' to the last bit of float32", () => {
    for (const [rows, n] of SHAPES) {
      const x = values(rows, n);
      const [w0, g0] = both(() => x.sum(1));
      closeSums(`sum(1)[${rows},${n}]`, w0, g0, absSums(x));
      const xs = x.narrow(1, 3, n - 5);
      const [w1, g1] = both(() => xs.sum(1));
      closeSums(`sum(1)[${rows},${n - 5}] narrowed`, w1, g1, absSums(xs));
      const finite = randomRows(x);
      const [w2, g2] = both(() => finite.sum());
      closeSums(`sum()[${rows},${n}]`, w2, g2, [absSums(finite).reduce((p, q) => p + q, 0)]);
    }
  });

  test("a run of zeros sums to +0, and the sum of ±inf is NaN", () => {
    const z = fl.tensor(new Float32Array(8192).fill(-0)).reshape([64, 128]);
    for (const v of z.sum(1).dataSync()) assert.ok(Object.is(v, 0));
    const a = new Float32Array(8192);
    a[5] = Infinity;
    a[77] = -Infinity;
    const s = fl.tensor(a).reshape([64, 128]).sum(1).dataSync();
    assert.ok(Number.isNaN(s[0]));
    assert.equal(s[1], 0);
  });

  test("empty tensors", () => {
    assert.deepEqual(Array.from(fl.zeros([0, 4096]).sum(1).dataSync()), []);
    assert.deepEqual(Array.from(fl.zeros([4096, 0]).sum(1).dataSync()), new Array(4096).fill(0));
  });
});
