// The float32 fast loops of the CPU's binary kernel (add, sub, mul, div on
// contiguous float32 operands) against the generic strided loop and
// against float64 arithmetic rounded once: equal bits on odd sizes, with
// storage offsets, zeros, NaN and infinities.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const OPS = ["add", "sub", "mul", "div"] as const;

function bits(t: fl.Tensor): number[] {
  return Array.from(t.dataSync() as Float32Array);
}

describe("float32 binary fast loops", () => {
  test("equal the strided loop and the rounded double result, odd sizes and offsets", () => {
    fl.manualSeed(21);
    for (const n of [1, 3, 17, 130, 1001]) {
      // a and b as slices of larger buffers: contiguous, nonzero offsets.
      const a = fl.randn([n + 3]).narrow(0, 2, n);
      const b = fl.randn([n + 5]).narrow(0, 4, n);
      // The same values behind strides of 2: the generic loop.
      const as = fl.stack([a, a], 1).select(1, 0);
      const bs = fl.stack([b, b], 1).select(1, 1);
      if (n > 1) assert.ok(!as.isContiguous());
      const av = bits(a);
      const bv = bits(b);
      for (const op of OPS) {
        const fast = bits(a[op](b));
        assert.deepEqual(fast, bits(as[op](bs)), `${op} n=${n} vs strided`);
        const f = (x: number, y: number) =>
          op === "add" ? x + y : op === "sub" ? x - y : op === "mul" ? x * y : x / y;
        assert.deepEqual(
          fast,
          av.map((x, i) => Math.fround(f(x, bv[i]!))),
          `${op} n=${n} vs double`,
        );
      }
    }
  });

  test("zeros, NaN and infinities", () => {
    const a = fl.tensor([0, -0, 1, Number.NaN, Number.POSITIVE_INFINITY, -1, 0]);
    const b = fl.tensor([0, 0, Number.NEGATIVE_INFINITY, 2, Number.POSITIVE_INFINITY, -0, -3]);
    assert.deepEqual(bits(a.add(b)), [0, 0, -Infinity, Number.NaN, Infinity, -1, -3]);
    assert.deepEqual(bits(a.div(b)), [
      Number.NaN,
      Number.NaN,
      -0,
      Number.NaN,
      Number.NaN,
      Infinity,
      -0,
    ]);
    assert.deepEqual(bits(a.mul(b)), [0, -0, -Infinity, Number.NaN, Infinity, 0, -0]);
    assert.deepEqual(bits(a.sub(b)), [0, -0, Infinity, Number.NaN, Number.NaN, -1, 3]);
  });
});
