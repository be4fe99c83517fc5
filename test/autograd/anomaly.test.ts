// detectAnomaly: a backward that produces NaN names the node that did it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

describe("detectAnomaly", () => {
  test("sqrt at 0 times 0 throws naming SqrtBackward0 and the forward call site", () => {
    const x = fl.tensor([0, 1], { requiresGrad: true });
    fl.autograd.detectAnomaly(() => {
      const y = x.sqrt().mul(0).sum();
      assert.throws(
        () => y.backward(),
        (e: Error) => {
          assert.ok(e instanceof fl.AutogradError);
          assert.match(
            e.message,
            /^Function 'SqrtBackward0' returned nan values in its 0th output\./,
          );
          // The stack of the forward call is attached, and it points at this test file.
          assert.match(e.message, /The forward call that created it:[\s\S]*anomaly\.test\.ts/);
          return true;
        },
      );
    });
  });

  test("log of a negative number: the NaN is caught at the first node whose backward produces it", () => {
    const x = fl.tensor([-1, 2], { requiresGrad: true });
    // log's own gradient 1/x is finite at -1 (as in PyTorch), but square's 2·log(x) is NaN.
    fl.autograd.detectAnomaly(() => x.log().sum().backward());
    assert.deepEqual(x.grad!.tolistSync(), [-1, 0.5]);
    assert.throws(() => fl.autograd.detectAnomaly(() => x.log().square().sum().backward()), {
      name: "AutogradError",
      message: /^Function 'PowBackward0' returned nan values in its 0th output/,
    });
  });

  test("the same NaN passes silently without anomaly detection, as in PyTorch", () => {
    const x = fl.tensor([0, 1], { requiresGrad: true });
    x.sqrt().mul(0).sum().backward();
    const g = x.grad!.tolistSync() as number[];
    assert.ok(Number.isNaN(g[0]));
    assert.equal(g[1], 0);
  });

  test("a finite backward under detectAnomaly works and the mode is restored", () => {
    const x = fl.tensor([1, 4], { requiresGrad: true });
    fl.autograd.detectAnomaly(() => x.sqrt().sum().backward());
    assert.deepEqual(x.grad!.tolistSync(), [0.5, 0.25]);
    assert.equal(fl.autograd.isAnomalyEnabled(), false);
  });

  test("setDetectAnomaly switches it on globally", () => {
    fl.autograd.setDetectAnomaly(true);
    try {
      const x = fl.tensor([0], { requiresGrad: true });
      assert.throws(() => x.sqrt().mul(0).sum().backward(), { message: /SqrtBackward0/ });
    } finally {
      fl.autograd.setDetectAnomaly(false);
    }
  });
});
