import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { linear } from "../../src/nn/functional/linear.js";

// F.linear's one-node path (bias added in place into the GEMM output, the
// addBias kernel) against matmul + add: values, gradients and gradients of
// gradients, on odd and strided shapes, 1-d to 3-d inputs, both float dtypes.

function withFused<T>(on: boolean, fn: () => T): T {
  const was = setFusedKernels(on);
  try {
    return fn();
  } finally {
    setFusedKernels(was);
  }
}

function close(a: fl.Tensor, b: fl.Tensor, tol: number, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i]));
    if (!(d <= tol * (1 + Math.abs(Number(y[i])))))
      assert.fail(`${what}[${i}]: fused ${x[i]}, composite ${y[i]}`);
  }
}

const shapes: { name: string; x: number[]; strided?: boolean }[] = [
  { name: "1-d input", x: [7] },
  { name: "2-d, odd", x: [5, 7] },
  { name: "3-d sequence", x: [3, 4, 7] },
  { name: "3-d strided", x: [3, 4, 7], strided: true },
];

describe("fused linear (addBias)", () => {
  for (const s of shapes) {
    for (const dtype of ["float32", "float64"] as const) {
      test(`${s.name}, ${dtype}: matches matmul + add, first and second order`, () => {
        const run = (on: boolean) =>
          withFused(on, () => {
            fl.manualSeed(5);
            let x = fl.randn(s.strided ? [s.x[0]!, s.x[2]!, s.x[1]!] : s.x, { dtype });
            if (s.strided) x = x.transpose(1, 2);
            x = x.detach().requiresGrad_();
            const w = fl.randn([9, 7], { dtype }).requiresGrad_();
            const b = fl.randn([9], { dtype }).requiresGrad_();
            const y = linear(x, w, b);
            const gs = fl.autograd.grad(y.square().sum(), [x, w, b], { createGraph: true });
            const gg = fl.autograd.grad(gs[0]!.square().sum().add(gs[1]!.sum()), [x, w]);
            return { name: y.gradFn?.name, ts: [y, ...gs, ...gg] as fl.Tensor[] };
          });
        const fused = run(true);
        const comp = run(false);
        assert.equal(fused.name, "AddmmBackward0");
        const tol = dtype === "float64" ? 1e-12 : 1e-5;
        fused.ts.forEach((t, i) => {
          close(t, comp.ts[i]!, tol, `${s.name} [${i}]`);
        });
      });
    }
  }

  test("gradcheck in float64", () => {
    const x = fl.randn([2, 3, 4], { dtype: "float64" }).requiresGrad_();
    const w = fl.randn([5, 4], { dtype: "float64" }).requiresGrad_();
    const b = fl.randn([5], { dtype: "float64" }).requiresGrad_();
    assert.ok(fl.autograd.gradcheck(linear, [x, w, b]));
    assert.ok(fl.autograd.gradgradcheck(linear, [x, w, b]));
  });

  test("nn.Linear goes through it and keeps its parameters' gradients", () => {
    const lin = new fl.nn.Linear(4, 3);
    const y = lin.forward(fl.randn([2, 4]));
    assert.equal(y.gradFn?.name, "AddmmBackward0");
    y.sum().backward();
    assert.deepEqual(lin.weight.grad!.shape, [3, 4]);
    assert.deepEqual(lin.bias!.grad!.shape, [3]);
  });
});
