import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { close, compareFused, leaf, withFused } from "./conv_compare.js";

// The CPU's fused batch norm (statistics, normalize and affine in one
// kernel; the closed-form backward) against the composite: training and
// evaluation, [N, C], [N, C, L] and [N, C, H, W], with and without affine,
// the running statistics it leaves behind, and the layers' state.

const F = fl.nn.functional;

describe("fused batchNorm matches the composite", () => {
  for (const dtype of ["float32", "float64"] as const) {
    const tol = dtype === "float32" ? 3e-5 : 1e-10;
    for (const shape of [
      [7, 3],
      [4, 5, 9],
      [3, 4, 5, 7],
    ]) {
      const c = shape[1]!;
      test(`training, affine, ${JSON.stringify(shape)} (${dtype})`, () => {
        compareFused(
          (x, w, b) => F.batchNorm(x!, null, null, { weight: w, bias: b, training: true }),
          [leaf(shape, dtype), leaf([c], dtype), leaf([c], dtype)],
          tol,
        );
      });
      test(`training without affine, strided input, ${JSON.stringify(shape)} (${dtype})`, () => {
        compareFused(
          (x) => F.batchNorm(x!, null, null, { training: true, eps: 1e-3 }),
          [leaf(shape, dtype, true)],
          tol,
        );
      });
      test(`evaluation with running statistics, ${JSON.stringify(shape)} (${dtype})`, () => {
        const rm = fl.randn([c], { dtype });
        const rv = fl.rand([c], { dtype }).add(0.5);
        compareFused(
          (x, w, b) => F.batchNorm(x!, rm, rv, { weight: w, bias: b, training: false }),
          [leaf(shape, dtype), leaf([c], dtype), leaf([c], dtype)],
          tol,
        );
      });
    }
  }

  test("a large offset with a small spread: no cancellation in the variance", () => {
    const x64 = fl.randn([8, 3, 6, 6], { dtype: "float64" }).mul(0.01).add(1e4);
    const x32 = x64.to("float32");
    // The float32 values exactly, normalized in float64 by the composite.
    const ref = withFused(false, () =>
      F.batchNorm(x32.to("float64"), null, null, { training: true }),
    );
    const y = F.batchNorm(x32, null, null, { training: true });
    close(y.to("float64"), ref, 1e-4, "normalized");
  });

  test("running statistics move the same way (momentum, unbiased variance)", () => {
    const x = fl.randn([6, 4, 3, 5]).mul(3).add(1);
    const stats = (on: boolean) =>
      withFused(on, () => {
        const rm = fl.zeros([4]);
        const rv = fl.ones([4]);
        F.batchNorm(x, rm, rv, { training: true, momentum: 0.3 });
        F.batchNorm(x.mul(0.5), rm, rv, { training: true, momentum: 0.3 });
        return [rm, rv];
      });
    const [fm, fv] = stats(true);
    const [cm, cv] = stats(false);
    close(fm!, cm!, 1e-6, "running_mean");
    close(fv!, cv!, 1e-6, "running_var");
  });

  test("BatchNorm2d layers in train and eval mode agree, state included", () => {
    const run = (on: boolean) =>
      withFused(on, () => {
        fl.manualSeed(3);
        const bn = new fl.nn.BatchNorm2d(3, { momentum: null });
        const x = fl.randn([4, 3, 5, 5]).requiresGrad_();
        const y1 = bn.forward(x);
        y1.square().sum().backward();
        bn.forward(x.detach().add(1));
        bn.eval();
        const y2 = bn.forward(x.detach().mul(2));
        return { y1: y1.detach(), y2, gx: x.grad!, gw: bn.weight!.grad!, state: bn.stateDict() };
      });
    const a = run(true);
    const b = run(false);
    close(a.y1, b.y1, 3e-5, "train output");
    close(a.y2, b.y2, 3e-5, "eval output");
    close(a.gx, b.gx, 3e-5, "input grad");
    close(a.gw, b.gw, 3e-5, "weight grad");
    for (const k of Object.keys(b.state)) close(a.state[k]!, b.state[k]!, 1e-6, k);
  });

  test("gradcheck and gradgradcheck in float64 (training)", () => {
    const x = leaf([3, 2, 3, 2], "float64");
    const w = leaf([2], "float64");
    const b = leaf([2], "float64");
    const f = (a: fl.Tensor, s: fl.Tensor, t: fl.Tensor) =>
      F.batchNorm(a, null, null, { weight: s, bias: t, training: true });
    assert.ok(fl.autograd.gradcheck(f, [x, w, b]));
    assert.ok(fl.autograd.gradgradcheck(f, [x, w, b]));
  });

  test("the fused path really runs (one NativeBatchNormBackward0 node)", () => {
    const x = leaf([4, 3, 2, 2], "float32");
    assert.equal(
      F.batchNorm(x, null, null, { training: true }).gradFn?.name,
      "NativeBatchNormBackward0",
    );
  });
});
