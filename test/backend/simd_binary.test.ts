import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BINARY_SIMD_MIN, simdBinary } from "../../src/backend/cpu/wasm/vmath.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(14);

// The SIMD add/sub/mul/div must give the scalar loop's bits exactly:
// float32 IEEE arithmetic on both sides.

const OPS = {
  add: (x: number, y: number) => x + y,
  sub: (x: number, y: number) => x - y,
  mul: (x: number, y: number) => x * y,
  div: (x: number, y: number) => x / y,
} as const;

/** Random floats with zeros, infinities, NaN and tiny values mixed in. */
function values(n: number): Float32Array {
  const specials = [0, -0, Infinity, -Infinity, Number.NaN, 1e-40, -3e38];
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = random() < 0.05 ? specials[i % specials.length]! : (random() - 0.5) * 100;
  }
  return a;
}

describe("simdBinary", () => {
  for (const op of Object.keys(OPS) as (keyof typeof OPS)[]) {
    test(`${op} matches the scalar loop bit for bit (odd sizes, offsets)`, () => {
      for (const n of [BINARY_SIMD_MIN, BINARY_SIMD_MIN + 1, 5003, 65537]) {
        const oa = n % 3;
        const ob = n % 5;
        const a = values(n + oa);
        const b = values(n + ob);
        const out = new Float32Array(n);
        assert.equal(simdBinary(op, out, a, oa, b, ob, n), true);
        const f = OPS[op];
        for (let i = 0; i < n; i++) {
          const want = Math.fround(f(a[oa + i]!, b[ob + i]!));
          if (!Object.is(out[i], want)) assert.fail(`${op} n=${n} i=${i}: ${out[i]} != ${want}`);
        }
      }
    });
  }

  test("below the minimum it declines and writes nothing", () => {
    const out = new Float32Array(8);
    assert.equal(
      simdBinary("add", out, new Float32Array(8).fill(1), 0, new Float32Array(8), 0, 8),
      false,
    );
    assert.deepEqual([...out], new Array(8).fill(0));
  });

  test("tensor ops on large contiguous views take it and agree with the strided path", () => {
    const n = 4099;
    const a = fl.randn([2, n]);
    const b = fl.randn([2, n]);
    for (const op of ["add", "sub", "mul", "div"] as const) {
      // Row 1 is contiguous at an offset (fast path); the transposed-back
      // copy goes through the generic row walk.
      const fast = a.select(0, 1)[op](b.select(0, 1));
      const ref = a.t().contiguous().t().select(0, 1)[op](b.t().contiguous().t().select(0, 1));
      const x = fast.dataSync();
      const y = ref.dataSync();
      assert.equal(x.length, n);
      for (let i = 0; i < n; i++)
        if (!Object.is(x[i], y[i])) assert.fail(`${op} i=${i}: ${x[i]} != ${y[i]}`);
    }
  });
});
