// registerHook on leaves and non-leaves: observe, replace, remove.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

describe("registerHook", () => {
  test("a leaf hook sees the gradient and can replace it", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    const seen: number[][] = [];
    x.registerHook((g) => {
      seen.push(g.tolistSync() as number[]);
      return g.mul(10);
    });
    x.mul(x).sum().backward();
    assert.deepEqual(seen, [[2, 4, 6]]);
    assert.deepEqual(x.grad!.tolistSync(), [20, 40, 60]);
  });

  test("a hook returning nothing leaves the gradient alone", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    let calls = 0;
    x.registerHook(() => {
      calls++;
    });
    x.mul(3).sum().backward();
    assert.equal(calls, 1);
    assert.deepEqual(x.grad!.tolistSync(), [3, 3]);
  });

  test("a non-leaf hook changes what flows to the inputs", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    const seen: number[][] = [];
    y.registerHook((g) => {
      seen.push(g.tolistSync() as number[]);
      return g.neg();
    });
    y.mul(y).sum().backward();
    // dL/dy = 2y = [4, 8]; negated, times dy/dx = 2.
    assert.deepEqual(seen, [[4, 8]]);
    assert.deepEqual(x.grad!.tolistSync(), [-8, -16]);
  });

  test("a non-leaf hook runs before retainGrad stores the gradient", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    y.retainGrad();
    y.registerHook((g) => g.mul(2));
    y.sum().backward();
    assert.deepEqual(y.grad!.tolistSync(), [2, 2]);
    assert.deepEqual(x.grad!.tolistSync(), [4, 4]);
  });

  test("remove() unregisters the hook", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(1);
    let calls = 0;
    const hx = x.registerHook((g) => {
      calls++;
      return g.mul(100);
    });
    const hy = y.registerHook((g) => {
      calls++;
      return g.mul(100);
    });
    hx.remove();
    hy.remove();
    hy.remove(); // removing twice is harmless
    y.sum().backward();
    assert.equal(calls, 0);
    assert.deepEqual(x.grad!.tolistSync(), [1, 1]);
  });

  test("several hooks run in registration order, each on the previous result", () => {
    const x = fl.tensor([1], { requiresGrad: true });
    x.registerHook((g) => g.add(1));
    x.registerHook((g) => g.mul(3));
    x.sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [6]);
  });

  test("hooks run for autograd.grad too", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    x.registerHook((g) => g.mul(2));
    const [g] = fl.autograd.grad(x.mul(x).sum(), [x]);
    assert.deepEqual(g!.tolistSync(), [4, 8]);
    assert.equal(x.grad, null);
  });

  test("registering on a tensor that does not require grad throws", () => {
    assert.throws(() => fl.tensor([1]).registerHook(() => undefined), {
      name: "AutogradError",
      message: /registerHook: cannot register a hook on a tensor that does not require gradient/,
    });
  });
});
