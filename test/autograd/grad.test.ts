// fl.autograd.grad: gradients returned rather than accumulated.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

describe("autograd.grad", () => {
  test("returns the gradients and leaves .grad untouched", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    const w = fl.tensor([4, 5, 6], { requiresGrad: true });
    const [gx, gw] = fl.autograd.grad(x.mul(w).sum(), [x, w]);
    assert.deepEqual(gx!.tolistSync(), [4, 5, 6]);
    assert.deepEqual(gw!.tolistSync(), [1, 2, 3]);
    assert.equal(x.grad, null);
    assert.equal(w.grad, null);
  });

  test("without createGraph the result is a constant", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const [g] = fl.autograd.grad(x.pow(3).sum(), [x]);
    assert.equal(g!.requiresGrad, false);
    assert.deepEqual(g!.tolistSync(), [3, 12]);
  });

  test("with createGraph the result is differentiable again", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const [g] = fl.autograd.grad(x.pow(3).sum(), [x], { createGraph: true });
    assert.equal(g!.requiresGrad, true);
    assert.ok(g!.gradFn);
    // d/dx Σ 3x² = 6x
    g!.sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [6, 12]);
  });

  test("with respect to a non-leaf intermediate", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const h = x.mul(3);
    const [gh] = fl.autograd.grad(h.square().sum(), [h]);
    assert.deepEqual(gh!.tolistSync(), [6, 12]);
    assert.equal(x.grad, null);
  });

  test("an input the output does not use throws unless allowUnused", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const u = fl.tensor([3], { requiresGrad: true });
    const y = x.sum();
    assert.throws(() => fl.autograd.grad(y, [x, u], { retainGraph: true }), {
      name: "AutogradError",
      message: /appears to not have been used in the graph; pass allowUnused: true/,
    });
    const [gx, gu] = fl.autograd.grad(y, [x, u], { allowUnused: true });
    assert.deepEqual(gx!.tolistSync(), [1, 1]);
    assert.equal(gu, null);
  });

  test("gradOutputs weights a non-scalar output", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.square();
    const [g] = fl.autograd.grad(y, [x], { gradOutputs: [fl.tensor([1, 0, -2])] });
    assert.deepEqual(g!.tolistSync(), [2, 0, -12]);
    const [g2] = fl.autograd.grad(x.square(), x, { gradOutputs: fl.tensor([1, 1, 1]) });
    assert.deepEqual(g2!.tolistSync(), [2, 4, 6]);
  });

  test("a non-scalar output without gradOutputs throws", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    assert.throws(() => fl.autograd.grad(x.mul(2), [x]), {
      name: "AutogradError",
      message:
        "autograd.grad: grad can be implicitly created only for scalar outputs, got shape [2]; pass a gradient of that shape",
    });
  });

  test("several outputs sum their contributions", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const [g] = fl.autograd.grad([x.sum(), x.square().sum()], [x]);
    assert.deepEqual(g!.tolistSync(), [3, 5]);
  });

  test("inputs that do not require grad are rejected", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    assert.throws(() => fl.autograd.grad(x.sum(), [fl.tensor([1])]), {
      name: "AutogradError",
      message: /does not require grad/,
    });
    assert.throws(() => fl.autograd.grad(fl.tensor([1]).sum(), [x]), {
      name: "AutogradError",
      message: /outputs does not require grad/,
    });
  });

  test("fl.autograd.backward is tensor.backward", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    fl.autograd.backward(x.square().sum());
    assert.deepEqual(x.grad!.tolistSync(), [2, 4]);
  });
});
