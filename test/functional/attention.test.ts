import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;
const f64 = (shape: number[]) => fl.randn(shape, { dtype: "float64" }).requiresGrad_();

describe("scaledDotProductAttention", () => {
  test("gradcheck q, k, v with a bool mask, a float mask, causal and scale", () => {
    fl.manualSeed(0);
    const keep = fl.tensor([
      [true, false, true],
      [true, true, false],
    ]);
    const bias = fl.randn([2, 3], { dtype: "float64" });
    const sdpa = F.scaledDotProductAttention;
    for (const opts of [
      { attnMask: keep },
      { attnMask: bias },
      { isCausal: true },
      { scale: 0.4 },
    ]) {
      assert.ok(
        fl.autograd.gradcheck(
          (q, k, v) => sdpa(q!, k!, v!, opts),
          [f64([2, 2, 2]), f64([2, 3, 2]), f64([2, 3, 3])],
        ),
      );
    }
  });

  test("shapes: (..., L, E) x (..., S, E) x (..., S, Ev) -> (..., L, Ev)", () => {
    const out = F.scaledDotProductAttention(
      fl.randn([2, 4, 5, 8]),
      fl.randn([2, 4, 7, 8]),
      fl.randn([2, 4, 7, 3]),
    );
    assert.deepEqual(out.shape, [2, 4, 5, 3]);
  });

  test("a bool mask equals a float mask of 0 / -inf", () => {
    fl.manualSeed(1);
    const [q, k, v] = [fl.randn([3, 4]), fl.randn([5, 4]), fl.randn([5, 2])];
    const keep = fl.rand([3, 5]).gt(0.3).logicalOr(fl.arange(5).eq(0));
    const bias = fl.zeros([3, 5]).maskedFill(keep.logicalNot(), Number.NEGATIVE_INFINITY);
    const a = F.scaledDotProductAttention(q, k, v, { attnMask: keep });
    const b = F.scaledDotProductAttention(q, k, v, { attnMask: bias });
    assert.ok(fl.allclose(a, b, { atol: 1e-6 }));
  });

  test("causal: the first query sees only the first value", () => {
    fl.manualSeed(2);
    const [q, k, v] = [fl.randn([4, 3]), fl.randn([4, 3]), fl.randn([4, 2])];
    const out = F.scaledDotProductAttention(q, k, v, { isCausal: true });
    assert.ok(fl.allclose(out.select(0, 0), v.select(0, 0), { atol: 1e-6 }));
  });

  test("scale defaults to 1/sqrt(E)", () => {
    fl.manualSeed(3);
    const [q, k, v] = [fl.randn([3, 4]), fl.randn([3, 4]), fl.randn([3, 2])];
    const a = F.scaledDotProductAttention(q, k, v);
    const b = F.scaledDotProductAttention(q, k, v, { scale: 0.5 });
    assert.ok(fl.allclose(a, b, { atol: 1e-6 }));
  });

  test("dropoutP is seeded and keeps shapes", () => {
    const [q, k, v] = [fl.randn([3, 4]), fl.randn([3, 4]), fl.randn([3, 2])];
    fl.manualSeed(9);
    const a = F.scaledDotProductAttention(q, k, v, { dropoutP: 0.5 });
    fl.manualSeed(9);
    const b = F.scaledDotProductAttention(q, k, v, { dropoutP: 0.5 });
    assert.ok(fl.equal(a, b));
    assert.ok(!fl.allclose(a, F.scaledDotProductAttention(q, k, v)));
  });

  test("errors name the function", () => {
    const is = (e: Error) =>
      e instanceof fl.FlintError && /^scaledDotProductAttention:/.test(e.message);
    assert.throws(
      () => F.scaledDotProductAttention(fl.randn([3, 4]), fl.randn([3, 5]), fl.randn([3, 2])),
      is,
    );
    assert.throws(
      () => F.scaledDotProductAttention(fl.randn([3, 4]), fl.randn([3, 4]), fl.randn([2, 2])),
      is,
    );
    const m = fl.ones([3, 3], { dtype: "bool" });
    assert.throws(
      () =>
        F.scaledDotProductAttention(fl.randn([3, 4]), fl.randn([3, 4]), fl.randn([3, 2]), {
          attnMask: m,
          isCausal: true,
        }),
      is,
    );
  });
});
