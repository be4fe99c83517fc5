// tensor.backward(): accumulation, explicit gradients, freed graphs and retainGraph.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

describe("backward", () => {
  test("gradients accumulate across two backward calls until zeroed", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    x.mul(2).sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [2, 2, 2]);
    x.mul(x).sum().backward();
    // 2 + 2x
    assert.deepEqual(x.grad!.tolistSync(), [4, 6, 8]);
    x.grad = null;
    x.mul(x).sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [2, 4, 6]);
  });

  test(".grad has the leaf's shape and dtype and does not require grad", () => {
    const x = fl.ones([2, 3], { dtype: "float64", requiresGrad: true });
    x.mul(3).sum().backward();
    assert.deepEqual(x.grad!.shape, [2, 3]);
    assert.equal(x.grad!.dtype, "float64");
    assert.equal(x.grad!.requiresGrad, false);
  });

  test("backward(gradient) on a non-scalar output is a vector-Jacobian product", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(x); // dy/dx = diag(2x)
    y.backward(fl.tensor([1, 0.5, -1]));
    assert.deepEqual(x.grad!.tolistSync(), [2, 2, -6]);
  });

  test("a non-scalar output without a gradient throws, naming its shape", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    assert.throws(() => x.mul(2).backward(), {
      name: "AutogradError",
      message: /grad can be implicitly created only for scalar outputs, got shape \[3\]/,
    });
  });

  test("a gradient of the wrong shape throws", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    assert.throws(() => x.mul(2).backward(fl.ones([2])), {
      name: "ShapeError",
      message: "backward: gradient has shape [2], expected [3]",
    });
  });

  test("backward on a tensor that does not require grad throws", () => {
    assert.throws(() => fl.tensor([1, 2]).sum().backward(), {
      name: "AutogradError",
      message: /does not require grad and does not have a gradFn/,
    });
  });

  test("backward on a leaf gives it the seed gradient", () => {
    const x = fl.tensor(3, { requiresGrad: true });
    x.backward();
    assert.equal(x.grad!.itemSync(), 1);
  });
});

describe("freed graphs", () => {
  const secondTime = /Trying to backward through the graph a second time/;

  test("a second backward through exp throws PyTorch's message naming the node", () => {
    const x = fl.tensor([0.5, 1], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward();
    assert.throws(
      () => y.backward(),
      (e: Error) => {
        assert.ok(e instanceof fl.AutogradError);
        assert.match(e.message, secondTime);
        assert.match(e.message, /^ExpBackward0: /);
        assert.match(e.message, /retainGraph: true/);
        return true;
      },
    );
  });

  test("a second backward through mul of two tensors throws", () => {
    const a = fl.tensor([1, 2], { requiresGrad: true });
    const b = fl.tensor([3, 4], { requiresGrad: true });
    const y = a.mul(b).sum();
    y.backward();
    assert.throws(() => y.backward(), { name: "AutogradError", message: secondTime });
  });

  test("retainGraph keeps saved tensors for a second backward, which accumulates", () => {
    const x = fl.tensor([0, 1], { requiresGrad: true });
    const y = x.exp().mul(x).sum(); // d/dx x eˣ = (x + 1) eˣ
    y.backward(null, { retainGraph: true });
    const once = x.grad!.tolistSync() as number[];
    assert.ok(Math.abs(once[0]! - 1) < 1e-6 && Math.abs(once[1]! - 2 * Math.E) < 1e-5);
    y.backward();
    const twice = x.grad!.tolistSync() as number[];
    assert.ok(Math.abs(twice[0]! - 2) < 1e-6 && Math.abs(twice[1]! - 4 * Math.E) < 1e-5);
    // The last backward did not retain: a third one fails.
    assert.throws(() => y.backward(), { message: secondTime });
  });

  test("a graph that saves nothing (add, sum) can be walked twice, as in PyTorch", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const y = x.add(1).sum();
    y.backward();
    y.backward();
    assert.deepEqual(x.grad!.tolistSync(), [2, 2]);
  });

  test("autograd.grad frees the graph too unless retainGraph", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const y = x.sin().sum();
    fl.autograd.grad(y, [x], { retainGraph: true });
    fl.autograd.grad(y, [x]);
    assert.throws(() => fl.autograd.grad(y, [x]), { message: secondTime });
  });
});
