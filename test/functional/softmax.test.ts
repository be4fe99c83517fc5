import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;

const x64 = () => fl.randn([3, 4], { dtype: "float64" }).requiresGrad_();

describe("softmax family", () => {
  test("gradcheck softmax, logSoftmax, softmin along each dim", () => {
    fl.manualSeed(1);
    for (const dim of [0, 1, -1]) {
      assert.ok(fl.autograd.gradcheck((x) => F.softmax(x!, dim), [x64()]));
      assert.ok(fl.autograd.gradcheck((x) => F.logSoftmax(x!, dim), [x64()]));
      assert.ok(fl.autograd.gradcheck((x) => F.softmin(x!, dim), [x64()]));
    }
  });

  test("second order through softmax", () => {
    fl.manualSeed(2);
    assert.ok(fl.autograd.gradgradcheck((x) => F.logSoftmax(x!, 1), [x64()]));
  });

  test("rows sum to 1 and match exp(logSoftmax)", () => {
    fl.manualSeed(3);
    const x = fl.randn([4, 6]);
    const p = F.softmax(x, 1);
    assert.ok(fl.allclose(p.sum(1), fl.ones([4]), { atol: 1e-6 }));
    assert.ok(fl.allclose(F.logSoftmax(x, 1).exp(), p, { atol: 1e-6 }));
  });

  test("stable for huge logits", () => {
    const x = fl.tensor([
      [1000, 1001, 1002],
      [-1000, -1000, -1000],
    ]);
    const p = F.softmax(x, -1).dataSync();
    for (const v of p) assert.ok(Number.isFinite(v));
    const lp = F.logSoftmax(x, -1).dataSync();
    assert.ok(Math.abs(lp[2]! - -0.40760596) < 1e-5);
    assert.ok(Math.abs(lp[3]! - -Math.log(3)) < 1e-5);
  });

  test("-inf entries get probability 0", () => {
    const p = F.softmax(fl.tensor([0, Number.NEGATIVE_INFINITY, 0]), 0).dataSync();
    assert.deepEqual(Array.from(p), [0.5, 0, 0.5]);
  });

  test("Tensor methods delegate, and the doc example holds", () => {
    const x = fl.tensor([[1, 2, 3]]);
    assert.ok(fl.equal(x.softmax(-1), F.softmax(x, -1)));
    assert.ok(fl.equal(x.logSoftmax(1), F.logSoftmax(x, 1)));
    const p = Array.from(x.softmax(-1).dataSync());
    [0.09003057, 0.24472847, 0.66524096].forEach((v, i) => {
      assert.ok(Math.abs(p[i]! - v) < 1e-6);
    });
  });

  test("dtype option casts first", () => {
    assert.equal(F.softmax(fl.tensor([1, 2]), 0, { dtype: "float64" }).dtype, "float64");
  });

  test("bad dim names the op", () => {
    assert.throws(() => F.softmax(fl.randn([2, 3]), 2), fl.FlintError);
  });
});
