import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fusedKernels, setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";

// The embedding kernels (row copies; the gradient a direct index-add of
// rows) against the composite (indexSelect + scatter-add): values,
// gradients with repeated indices, gradients of gradients, both float
// dtypes, and the options that keep the composite.

const F = fl.nn.functional;
const { nn } = fl;

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

describe("fused embedding", () => {
  for (const dtype of ["float32", "float64"] as const) {
    for (const shape of [[7], [3, 5], [2, 3, 4]]) {
      test(`${dtype}, indices ${JSON.stringify(shape)}: matches indexSelect, first and second order`, () => {
        const run = (on: boolean) =>
          withFused(on, () => {
            fl.manualSeed(11);
            const w = fl.randn([9, 6], { dtype }).requiresGrad_();
            // Few rows, many lookups: repeated indices must add up.
            const idx = fl.randint(0, 9, shape);
            const y = F.embedding(idx, w);
            const gy = fl.randn(y.shape, { dtype });
            const [gw] = fl.autograd.grad(y.square().mul(gy).sum(), [w], { createGraph: true });
            const [ggw] = fl.autograd.grad(gw!.square().sum(), [w]);
            return { name: y.gradFn?.name, ts: [y, gw!, ggw!] };
          });
        const fused = run(true);
        const comp = run(false);
        assert.equal(fused.name, "EmbeddingBackward0");
        const tol = dtype === "float64" ? 1e-12 : 1e-5;
        for (const [i, t] of fused.ts.entries()) close(t, comp.ts[i]!, tol, `#${i}`);
      });
    }
  }

  test("the kernels are registered, and a plain backward uses them", () => {
    const k = fusedKernels("cpu");
    assert.ok(k.embedding && k.embeddingBackward);
    const emb = new nn.Embedding(5, 3);
    const idx = fl.tensor(
      [
        [0, 4, 4],
        [1, 0, 4],
      ],
      { dtype: "int32" },
    );
    emb.forward(idx).sum().backward();
    const counts = [2, 1, 0, 0, 3];
    const g = emb.weight.grad!.dataSync();
    for (let r = 0; r < 5; r++)
      for (let c = 0; c < 3; c++) assert.equal(Number(g[r * 3 + c]), counts[r]);
  });

  test("gradcheck in float64", () => {
    const w = fl.randn([6, 4], { dtype: "float64", requiresGrad: true });
    const idx = fl.tensor([5, 0, 5, 2], { dtype: "int32" });
    assert.ok(fl.autograd.gradcheck((a) => F.embedding(idx, a), [w]));
    assert.ok(fl.autograd.gradgradcheck((a) => F.embedding(idx, a).square(), [w]));
  });

  test("paddingIdx keeps the composite and its zero gradient row", () => {
    const emb = new nn.Embedding(4, 2, { paddingIdx: 1 });
    const y = emb.forward(fl.tensor([1, 2, 1], { dtype: "int32" }));
    assert.notEqual(y.gradFn?.name, "EmbeddingBackward0");
    y.sum().backward();
    assert.deepEqual(Array.from(emb.weight.grad!.dataSync()), [0, 0, 0, 0, 1, 1, 0, 0]);
  });
});
