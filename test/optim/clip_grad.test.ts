import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const U = fl.nn.utils;

function withGrad(values: number[], grad: number[]): fl.Tensor {
  const p = fl.tensor(values).requiresGrad_();
  p.grad = fl.tensor(grad);
  return p;
}

function near(got: ArrayLike<number>, want: number[], tol = 1e-5): void {
  assert.equal(got.length, want.length);
  want.forEach((w, i) => {
    assert.ok(Math.abs(got[i]! - w) <= tol, `[${i}]: ${got[i]} != ${w}`);
  });
}

describe("nn.utils.clipGradNorm_", () => {
  test("scales all gradients together to maxNorm and returns the total norm", () => {
    const a = withGrad([0, 0], [3, 0]);
    const b = withGrad([0], [4]);
    const total = U.clipGradNorm_([a, b], 1);
    assert.deepEqual(total.shape, []);
    near([Number(total.itemSync())], [5]);
    const k = 1 / (5 + 1e-6);
    near(a.grad!.dataSync(), [3 * k, 0]);
    near(b.grad!.dataSync(), [4 * k]);
  });

  test("leaves gradients under maxNorm alone; accepts a single tensor; skips params without grad", () => {
    const a = withGrad([0, 0], [0.3, 0.4]);
    const none = fl.zeros([2]).requiresGrad_();
    near([Number(U.clipGradNorm_([a, none], 10).itemSync())], [0.5]);
    near(a.grad!.dataSync(), [0.3, 0.4]);
    near([Number(U.clipGradNorm_(a, 10, { normType: Infinity }).itemSync())], [0.4]);
    assert.equal(Number(U.clipGradNorm_([none], 1).itemSync()), 0);
  });

  test("errorIfNonfinite reports a NaN or infinite norm instead of clipping", () => {
    const a = withGrad([0, 0], [Number.NaN, 1]);
    assert.throws(
      () => U.clipGradNorm_([a], 1, { errorIfNonfinite: true }),
      (e: Error) =>
        e instanceof fl.ArgumentError &&
        /clipGradNorm_: the total norm of order 2 of the gradients is non-finite \(NaN\)/.test(
          e.message,
        ),
    );
    near(a.grad!.dataSync().slice(1), [1], 0);
    const b = withGrad([0], [Number.POSITIVE_INFINITY]);
    assert.throws(
      () => U.clipGradNorm_([b], 1, { errorIfNonfinite: true }),
      /non-finite \(Infinity\)/,
    );
    assert.throws(
      () => U.clipGradNorm_([b], 1, { normType: 0 }),
      /normType should be positive or Infinity, got 0/,
    );
  });
});

describe("nn.utils.clipGradValue_", () => {
  test("clamps each gradient element to [-clipValue, clipValue]", () => {
    const a = withGrad([0, 0, 0], [-2, 0.5, 3]);
    U.clipGradValue_([a], 1);
    near(a.grad!.dataSync(), [-1, 0.5, 1]);
    assert.throws(
      () => U.clipGradValue_([a], -1),
      /clipGradValue_: clipValue should be >= 0, got -1/,
    );
  });
});

describe("nn.utils.parametersToVector / vectorToParameters", () => {
  test("flatten in order, and copy back", () => {
    const a = fl
      .tensor([
        [1, 2],
        [3, 4],
      ])
      .requiresGrad_();
    const b = fl.tensor([5]).requiresGrad_();
    const v = U.parametersToVector([a, b]);
    near(v.dataSync(), [1, 2, 3, 4, 5]);
    U.vectorToParameters(v.mul(10), [a, b]);
    near(a.dataSync(), [10, 20, 30, 40]);
    assert.deepEqual(a.shape, [2, 2]);
    near(b.dataSync(), [50]);
    assert.throws(
      () => U.vectorToParameters(fl.zeros([4]), [a, b]),
      /vectorToParameters: vec has 4 elements, the parameters 5/,
    );
  });

  test("parametersToVector is differentiable (gradcheck, float64)", () => {
    const a = fl.randn([2, 3], { dtype: "float64" }).requiresGrad_();
    const b = fl.randn([4], { dtype: "float64" }).requiresGrad_();
    assert.ok(
      fl.autograd.gradcheck(
        (x: fl.Tensor, y: fl.Tensor) => U.parametersToVector([x, y]).square(),
        [a, b],
      ),
    );
  });
});
