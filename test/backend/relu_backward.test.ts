// ReLU's backward through the CPU's fused kernel (one pass, no bool mask;
// SIMD for float32 from 256 elements) against the composite
// where(y <= 0, 0, g), PyTorch's threshold_backward: equal bits on odd
// shapes, strided inputs, float64, zeros, NaN and ±∞ (values from torch
// 1.13); the SIMD kernels against the scalar loops; the kernel really runs
// in a plain backward and stays out of a createGraph one; gradcheck in float64.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { View } from "../../src/backend/backend.js";
import { setRowKernels } from "../../src/backend/cpu/wasm/rows.js";
import {
  type FusedKernels,
  fusedKernels,
  registerFused,
  setFusedKernels,
} from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";

/** Runs fn with the SIMD row kernels on or off. */
function withSimd<T>(on: boolean, fn: () => T): T {
  const was = setRowKernels(on);
  try {
    return fn();
  } finally {
    setRowKernels(was);
  }
}

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
      for (const shape of [[1], [7], [13, 5], [3, 17, 9], [0, 4], [257], [33, 31]]) {
        const x = fl.randn(shape, { dtype });
        const w = fl.randn(shape, { dtype });
        const want = gradOf(false, x, w);
        assert.deepEqual(gradOf(true, x, w), want, `${dtype} [${shape}]`);
        assert.deepEqual(
          withSimd(false, () => gradOf(true, x, w)),
          want,
          `${dtype} [${shape}] scalar`,
        );
      }
    }
  });

  // torch 1.13: relu(x).backward(w) for these x and w gives
  // x.grad = [0, 0, nan, 0, 5, -1, 0, 0, inf, 0]: grad passes where the
  // result is NaN or > 0, and is exactly 0 where it is <= 0.
  const x = [0, -0, 1, -1, Number.NaN, Number.POSITIVE_INFINITY, -2, 3, 4, -5];
  const w = [
    1,
    2,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    5,
    -1,
    Number.NaN,
    0,
    Number.POSITIVE_INFINITY,
    Number.NaN,
  ];
  const torch = [0, 0, Number.NaN, 0, 5, -1, 0, 0, Number.POSITIVE_INFINITY, 0];

  test("zeros, NaN and infinities as in PyTorch (fused, scalar and composite)", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const xt = fl.tensor(x, { dtype });
      const wt = fl.tensor(w, { dtype });
      assert.deepEqual(gradOf(true, xt, wt), torch, `${dtype} fused`);
      assert.deepEqual(gradOf(false, xt, wt), torch, `${dtype} composite`);
    }
  });

  test("the SIMD kernel on the special values, at every lane and in a long tail", () => {
    // 300 elements: past the SIMD threshold, the specials repeated across
    // all four lane positions and through the padded last vector.
    const n = 303;
    const xs = Array.from({ length: n }, (_, i) => x[i % x.length]!);
    const ws = Array.from({ length: n }, (_, i) => w[i % w.length]!);
    const want = Array.from({ length: n }, (_, i) => torch[i % torch.length]!);
    const xt = fl.tensor(xs);
    const wt = fl.tensor(ws);
    assert.deepEqual(gradOf(true, xt, wt), want);
    assert.deepEqual(
      withSimd(false, () => gradOf(true, xt, wt)),
      want,
    );
    assert.deepEqual(gradOf(false, xt, wt), want);
  });

  test("relu forward: SIMD equals the scalar loop, NaN kept, offsets honoured", () => {
    fl.manualSeed(5);
    const base = fl.randn([3, 401]);
    base.index("1, 7").fill_(Number.NaN);
    base.index("2, 9").fill_(Number.NEGATIVE_INFINITY);
    for (const t of [base, base.index("1:"), base.index("2"), base.index(":, 1:")]) {
      const a = Array.from(t.relu().dataSync() as Float32Array);
      const b = Array.from(withSimd(false, () => t.relu()).dataSync() as Float32Array);
      assert.deepEqual(a, b);
      const src = Array.from(t.dataSync() as Float32Array);
      assert.deepEqual(
        a,
        src.map((v) => (v > 0 || Number.isNaN(v) ? v : 0)),
      );
    }
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
