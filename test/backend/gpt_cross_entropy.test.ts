import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fusedKernels, setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";

// crossEntropy's fused kernel (per-row log-sum-exp forward, softmax − onehot
// backward) against the composite (logSoftmax + nllLoss): values, gradients
// and gradients of gradients, on odd shapes (below and above the SIMD
// threshold), ignored targets, every reduction and both float dtypes.

const F = fl.nn.functional;

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
    const u = Number(x[i]);
    const v = Number(y[i]);
    if (Number.isNaN(u) && Number.isNaN(v)) continue;
    if (!(Math.abs(u - v) <= tol * (1 + Math.abs(v))))
      assert.fail(`${what}[${i}]: fused ${u}, composite ${v}`);
  }
}

const cases = [
  { n: 1, c: 1 },
  { n: 7, c: 13 },
  { n: 33, c: 300 },
  { n: 64, c: 256 },
];

describe("fused crossEntropy", () => {
  test("the CPU registers the kernels", () => {
    assert.ok(fusedKernels("cpu").crossEntropy && fusedKernels("cpu").crossEntropyBackward);
  });

  for (const { n, c } of cases) {
    for (const dtype of ["float32", "float64"] as const) {
      for (const reduction of ["mean", "sum", "none"] as const) {
        test(`[${n}, ${c}] ${dtype} ${reduction}: matches the composite, first and second order`, () => {
          const run = (on: boolean) =>
            withFused(on, () => {
              fl.manualSeed(n * 31 + c);
              const x = fl.randn([n, c], { dtype }).mul(3).requiresGrad_();
              const t = fl.randint(0, c, [n]);
              // Every third target ignored (not all, so the mean has a denominator).
              const tv = t.dataSync() as Int32Array;
              for (let i = 1; i < n; i += 3) tv[i] = -100;
              const loss = F.crossEntropy(x, t, { reduction });
              const w = fl.randn(loss.shape, { dtype });
              const [gx] = fl.autograd.grad(loss.mul(w).sum(), [x], { createGraph: true });
              const [ggx] = fl.autograd.grad(gx!.square().sum(), [x]);
              return [loss, gx!, ggx!];
            });
          const fused = run(true);
          const comp = run(false);
          const tol = dtype === "float64" ? 1e-12 : 2e-5;
          for (const [i, t] of fused.entries())
            close(t, comp[i]!, tol, `[${n}, ${c}] ${reduction} #${i}`);
        });
      }
    }
  }

  test("the fused node and its backward kernel run (not the composite) on a plain backward", () => {
    const x = fl.randn([5, 300], { requiresGrad: true });
    const t = fl.randint(0, 300, [5]);
    const rowLoss = F.crossEntropy(x, t, { reduction: "none" });
    assert.equal(rowLoss.gradFn?.name, "NllLossBackward0");
    F.crossEntropy(x, t).backward();
    const p = x.detach().softmax(1);
    const hot = F.oneHot(t, 300).to("float32");
    close(x.grad!, p.sub(hot).div(5), 1e-6, "softmax − onehot");
  });

  test("a custom ignoreIndex, strided logits and a non-finite row", () => {
    const run = (on: boolean) =>
      withFused(on, () => {
        fl.manualSeed(3);
        const base = fl.randn([40, 9], { dtype: "float64" });
        base.dataSync()[9 * 5 + 2] = Number.POSITIVE_INFINITY;
        const x = base.requiresGrad_();
        const t = fl.tensor([0, 3, 8, 2, 2, 7, 1, 5, 8], { dtype: "int32" });
        // Classes on dim 0 transposed into the (9, 40) logits: a strided input.
        const loss = F.crossEntropy(x.t(), t.mul(4), { ignoreIndex: 8, reduction: "none" });
        loss.sum().backward();
        return [loss, x.grad!];
      });
    const fused = run(true);
    const comp = run(false);
    for (const [i, t] of fused.entries()) close(t, comp[i]!, 1e-12, `#${i}`);
  });

  test("gradcheck in float64 through the fused node", () => {
    const x = fl.randn([6, 11], { dtype: "float64", requiresGrad: true });
    const t = fl.tensor([0, 10, 3, -100, 5, 5], { dtype: "int32" });
    assert.ok(fl.autograd.gradcheck((a) => F.crossEntropy(a, t), [x]));
    assert.ok(fl.autograd.gradgradcheck((a) => F.crossEntropy(a, t), [x]));
  });

  test("out-of-range targets still fail with the composite's message", () => {
    const x = fl.randn([2, 3]);
    assert.throws(
      () => F.crossEntropy(x, fl.tensor([0, 3], { dtype: "int32" })),
      /crossEntropy: target 3 is out of bounds for 3 classes/,
    );
  });
});
