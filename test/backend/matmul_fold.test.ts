// Batched products whose right operand is one matrix shared by every batch
// (a linear layer on a sequence): the wasm kernel folds the batch into the
// rows of one GEMM when the left operand's batch runs on into its rows, and
// matmul's backward computes the shared matrix's gradient as one product
// (transposed when the matrix is). Both against the reference kernel and the
// unfolded path, including layouts that must not fold.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { View } from "../../src/backend/backend.js";
import { matmulKernel } from "../../src/backend/cpu/matmul.js";
import { defaultGemm } from "../../src/backend/cpu/wasm/matmul.js";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import * as fl from "../../src/index.js";

const simd = wasmFeatures().simd;

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)))) {
      assert.fail(`${what}: element ${i} is ${got[i]}, reference ${want[i]}`);
    }
  }
}

/** The view b [K, N] broadcast to [...batch, K, N] with 0 strides. */
function broadcastB(b: fl.Tensor, batch: number[]): View {
  return b.expand([...batch, b.shape[0]!, b.shape[1]!]);
}

describe("batch folding of a shared right operand", { skip: !simd && "no SIMD" }, () => {
  fl.manualSeed(11);
  const gemm = defaultGemm()!;

  test("folds contiguous, sliced and size-1 batch layouts; leaves the others", () => {
    const b = fl.randn([13, 9]);
    const bt = fl.randn([9, 13]).t(); // a transposed shared matrix
    const layouts: [string, fl.Tensor][] = [
      ["contiguous [3,5,13]", fl.randn([3, 5, 13])],
      ["4-d with a size-1 dim", fl.randn([2, 1, 7, 13])],
      ["row slice (does not fold)", fl.randn([3, 8, 13]).narrow(1, 1, 5)],
      ["batch-transposed (does not fold)", fl.randn([5, 3, 13]).transpose(0, 1)],
      ["column slice (folds, row stride kept)", fl.randn([3, 5, 20]).narrow(2, 2, 13)],
      ["transposed rows (folds only as a whole)", fl.randn([4, 13, 6]).transpose(1, 2)],
    ];
    for (const [what, a] of layouts) {
      for (const [bn, shared] of [
        ["b", b],
        ["bᵀ", bt],
      ] as const) {
        const bv = broadcastB(shared, a.shape.slice(0, -2));
        assertClose(gemm.matmul(a, bv), matmulKernel(a, bv, "float32"), 1e-5, `${what} @ ${bn}`);
      }
    }
  });

  test("a batch-varying right operand is not folded", () => {
    const a = fl.randn([3, 4, 6]);
    const b = fl.randn([3, 6, 5]);
    assertClose(gemm.matmul(a, b), matmulKernel(a, b, "float32"), 1e-5, "bmm");
  });
});

describe("gradient of a shared right operand", () => {
  // The reference: B's gradient as Σ over the batch of Aᵀ dY, by hand.
  function reference(a: fl.Tensor, g: fl.Tensor): fl.Tensor {
    const a3 = a.reshape([-1, a.shape.at(-2)!, a.shape.at(-1)!]);
    const g3 = g.reshape([-1, g.shape.at(-2)!, g.shape.at(-1)!]);
    return a3.transpose(1, 2).matmul(g3).sum(0);
  }

  for (const dtype of ["float32", "float64"] as const) {
    test(`x @ W, x @ W.t() and 2-d products (${dtype})`, () => {
      const tol = dtype === "float32" ? 1e-4 : 1e-10;
      for (const xshape of [
        [2, 3, 5],
        [2, 2, 3, 5],
        [7, 5],
      ]) {
        const x = fl.randn(xshape, { dtype });
        const w = fl.randn([4, 5], { dtype, requiresGrad: true });
        const y = x.matmul(w.t());
        const g = fl.randn(y.shape, { dtype });
        y.backward(g);
        const want = reference(x.ndim === 2 ? x.unsqueeze(0) : x, g).t();
        assert.equal(w.grad!.isContiguous(), true, "W.grad is contiguous");
        assertClose(w.grad!.dataSync(), want.contiguous().dataSync(), tol, `dW ${xshape}`);

        const v = fl.randn([5, 4], { dtype, requiresGrad: true });
        const z = x.matmul(v);
        z.backward(g);
        const wantV = reference(x.ndim === 2 ? x.unsqueeze(0) : x, g);
        assertClose(v.grad!.dataSync(), wantV.contiguous().dataSync(), tol, `dV ${xshape}`);
      }
    });
  }

  test("gradcheck and gradgradcheck through a shared transposed weight (float64)", () => {
    const x = fl.randn([2, 3, 4], { dtype: "float64", requiresGrad: true });
    const w = fl.randn([5, 4], { dtype: "float64", requiresGrad: true });
    const f = (a: fl.Tensor, b: fl.Tensor) => a.matmul(b.t()).tanh();
    assert.equal(fl.autograd.gradcheck(f, [x, w]), true);
    assert.equal(fl.autograd.gradgradcheck(f, [x, w]), true);
  });
});
