// ReLU's backward through the CPU's fused kernel (one pass, no bool mask)
// against the composite g · (y > 0): equal bits on odd shapes, strided
// inputs, float64, zeros, NaN and ±∞; the kernel really runs in a plain
// backward and stays out of a createGraph one; gradcheck in float64.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { View } from "../../src/backend/backend.js";
import {
  type FusedKernels,
  fusedKernels,
  registerFused,
  setFusedKernels,
} from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";

/** x's gradient of sum(relu(x) · w), with the fused kernels on or off. */
function gradOf(
  on: boolean,
  x0: fl.Tensor,
  w: fl.Tensor,
  view?: (t: fl.Tensor) => fl.Tensor,
): number[] {
  const was = setFusedKernels(on);
  try {
    const x = x0.detach().requiresGrad_();
    const xin = view ? view(x) : x;
    xin.relu().mul(w).sum().backward();
    return Array.from(x.grad!.dataSync() as ArrayLike<number>);
  } finally {
    setFusedKernels(was);
  }
}

/** Counts calls of the registered CPU reluBackward while `fn` runs. */
function countCalls(fn: () => void): number {
  const original = fusedKernels("cpu").reluBackward!;
  let calls = 0;
  const spy: FusedKernels = {
    reluBackward: (g: View, y: View) => {
      calls++;
      return original(g, y);
    },
  };
  registerFused("cpu", spy);
  try {
    fn();
  } finally {
    registerFused("cpu", { reluBackward: original });
  }
  return calls;
}

describe("fused ReLU backward", () => {
  test("equals the composite bit for bit, odd shapes and both float dtypes", () => {
    fl.manualSeed(3);
    for (const dtype of ["float32", "float64"] as const) {
      for (const shape of [[1], [7], [13, 5], [3, 17, 9], [0, 4]]) {
        const x = fl.randn(shape, { dtype });
        const w = fl.randn(shape, { dtype });
        assert.deepEqual(gradOf(true, x, w), gradOf(false, x, w), `${dtype} [${shape}]`);
      }
    }
  });

  test("zeros, NaN and infinities propagate as in the composite", () => {
    const x = fl.tensor([0, -0, 1, -1, Number.NaN, Number.POSITIVE_INFINITY, -2, 3]);
    const w = fl.tensor([1, 2, Number.NaN, Number.POSITIVE_INFINITY, 5, -1, Number.NaN, 0]);
    const got = gradOf(true, x, w);
    assert.deepEqual(got, gradOf(false, x, w));
    // Where relu is flat the composite's gradient is 0·w, NaN for w = NaN or ±∞.
    assert.deepEqual(got, [0, 0, Number.NaN, Number.NaN, 0, -1, Number.NaN, 0]);
  });

  test("strided and broadcast inputs", () => {
    fl.manualSeed(4);
    const x = fl.randn([9, 14]);
    const w = fl.randn([7, 9]);
    const view = (t: fl.Tensor) => t.index(":, ::2").t();
    assert.deepEqual(gradOf(true, x, w, view), gradOf(false, x, w, view));
    // relu of a broadcast input: the engine sums the gradient back over the expanded dim.
    const xb = fl.randn([1, 11]);
    const wb = fl.randn([6, 11]);
    const expand = (t: fl.Tensor) => t.expand([6, 11]);
    assert.deepEqual(gradOf(true, xb, wb, expand), gradOf(false, xb, wb, expand));
  });

  test("runs in a plain backward, not under createGraph", () => {
    const x = fl.randn([5, 6], { requiresGrad: true });
    assert.equal(
      countCalls(() => x.relu().sum().backward()),
      1,
    );
    // Gradients of gradients: the rule is recorded with flint ops instead.
    const calls = countCalls(() => {
      const y = x.relu().square().sum();
      const [g] = fl.autograd.grad([y], [x], { createGraph: true });
      g!.sum().backward();
    });
    assert.equal(calls, 1, "only the last backward (no createGraph) uses the kernel");
    // d²/dx² of relu(x)² summed is 2 where x > 0.
    const want = Array.from(x.detach().gt(0).to("float32").mul(2).dataSync() as Float32Array);
    const x2 = x.detach().requiresGrad_();
    const [g2] = fl.autograd.grad([x2.relu().square().sum()], [x2], { createGraph: true });
    g2!.sum().backward();
    assert.deepEqual(Array.from(x2.grad!.dataSync() as Float32Array), want);
  });

  test("gradcheck in float64", () => {
    // Away from the kink at 0, where the finite difference is not the derivative.
    const x = fl
      .rand([4, 7], { dtype: "float64" })
      .add(0.1)
      .mul(fl.randint(0, 2, [4, 7]).mul(2).sub(1).to("float64"))
      .requiresGrad_();
    assert.ok(fl.autograd.gradcheck((t) => t.relu().mul(t), [x]));
  });
});
