// Turning recording off and on (noGrad, enableGrad), detach, requiresGrad_.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

describe("grad mode", () => {
  test("noGrad records nothing and restores the mode afterwards", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    assert.equal(fl.isGradEnabled(), true);
    const y = fl.noGrad(() => {
      assert.equal(fl.isGradEnabled(), false);
      return x.mul(2).exp();
    });
    assert.equal(fl.isGradEnabled(), true);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    assert.equal(x.mul(2).requiresGrad, true);
  });

  test("noGrad restores the mode when its body throws", () => {
    assert.throws(() =>
      fl.noGrad(() => {
        throw new Error("boom");
      }),
    );
    assert.equal(fl.isGradEnabled(), true);
  });

  test("enableGrad inside noGrad records again", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const [inner, outer] = fl.noGrad(() => {
      const i = fl.enableGrad(() => x.mul(3));
      return [i, x.mul(3)];
    });
    assert.equal(inner!.requiresGrad, true);
    assert.equal(inner!.gradFn?.name, "MulBackward0");
    assert.equal(outer!.requiresGrad, false);
    inner!.sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [3, 3]);
  });

  test("a result computed under noGrad is a constant for later backward", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const c = fl.noGrad(() => x.mul(10));
    x.mul(c).sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [10, 20]);
  });

  test("fl.autograd exposes the same switches", () => {
    assert.equal(fl.autograd.noGrad, fl.noGrad);
    fl.autograd.setGradEnabled(false);
    try {
      assert.equal(fl.tensor([1], { requiresGrad: true }).mul(2).requiresGrad, false);
    } finally {
      fl.autograd.setGradEnabled(true);
    }
    assert.equal(fl.autograd.isGradEnabled(), true);
  });
});

describe("detach", () => {
  test("shares storage, does not require grad and cuts the graph", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(2);
    const d = y.detach();
    assert.equal(d.requiresGrad, false);
    assert.equal(d.gradFn, null);
    assert.equal(d.isLeaf, true);
    assert.equal(d.storage, y.storage);
    fl.noGrad(() => d.fill_(7));
    assert.deepEqual(y.tolistSync(), [7, 7, 7]);
    // Gradient flows through y but not through d.
    y.mul(d).sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [14, 14, 14]);
  });

  test("fl.detach is the function form", () => {
    const x = fl.tensor([1], { requiresGrad: true });
    assert.equal(fl.detach(x.mul(2)).requiresGrad, false);
  });
});

describe("requiresGrad_", () => {
  test("turns a float tensor into a leaf that accumulates .grad", () => {
    const x = fl.tensor([1, 2]);
    assert.equal(x.requiresGrad_(), x);
    x.mul(x).sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [2, 4]);
    x.requiresGrad_(false);
    assert.equal(x.mul(2).requiresGrad, false);
  });

  test("throws on an int32 tensor", () => {
    assert.throws(() => fl.tensor([1, 2], { dtype: "int32" }).requiresGrad_(), {
      name: "DTypeError",
      message: "requiresGrad_: only floating point tensors can require gradients, got int32",
    });
  });

  test("cannot switch off requiresGrad on a non-leaf", () => {
    const y = fl.tensor([1], { requiresGrad: true }).mul(2);
    assert.throws(() => y.requiresGrad_(false), {
      name: "AutogradError",
      message: /only change requiresGrad flags of leaf variables/,
    });
    // Asking for what it already has is allowed, as in PyTorch.
    assert.equal(y.requiresGrad_(true).requiresGrad, true);
  });

  test("retainGrad on a tensor that does not require grad throws", () => {
    assert.throws(() => fl.tensor([1]).retainGrad(), { name: "AutogradError" });
  });
});
