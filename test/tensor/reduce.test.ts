import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fl from "../../src/index.js";
import { assertTensor } from "./helpers.js";

// Expected values from PyTorch 1.13, e.g.
//   /usr/bin/python3 -c "import torch; x = torch.tensor([[1., -2., 3., .5], [4., 5., -6., 2.], [0., 7., 1., -1.]]); print(x.var(1).tolist())"
const X = [
  [1, -2, 3, 0.5],
  [4, 5, -6, 2],
  [0, 7, 1, -1],
];
const x = () => fl.tensor(X);
/** x as a non-contiguous view with the same values (a transposed copy, transposed back). */
const xStrided = () => fl.tensor(X).t().contiguous().t();

for (const [name, make] of [
  ["contiguous", x],
  ["strided", xStrided],
] as const) {
  describe(`reductions with dim / keepdim (${name} input)`, () => {
    it("sum", () => {
      assertTensor(make().sum(), [], [14.5]);
      assertTensor(make().sum(0), [4], [5, 10, -2, 1.5]);
      assertTensor(make().sum(1, { keepdim: true }), [3, 1], [2.5, 5, 7]);
      assertTensor(make().sum([0, 1]), [], [14.5]);
      assertTensor(make().sum(-1), [3], [2.5, 5, 7]);
    });

    it("mean", () => {
      assertTensor(make().mean(), [], [1.2083333730697632]);
      assertTensor(
        make().mean(0),
        [4],
        [1.6666666269302368, 3.3333332538604736, -0.6666666865348816, 0.5],
      );
      assertTensor(make().mean(1, { keepdim: true }), [3, 1], [0.625, 1.25, 1.75]);
    });

    it("max / min with indices, argmax / argmin", () => {
      assertTensor(make().max(), [], [7]);
      assertTensor(make().min(), [], [-6]);
      const mx = make().max(1);
      assertTensor(mx.values, [3], [3, 5, 7]);
      assertTensor(mx.indices, [3], [2, 1, 1], { dtype: "int32" });
      const mk = make().max(0, { keepdim: true });
      assertTensor(mk.values, [1, 4], [4, 7, 3, 2]);
      assertTensor(mk.indices, [1, 4], [1, 2, 0, 1]);
      const mn = make().min(1);
      assertTensor(mn.values, [3], [-2, -6, -1]);
      assertTensor(mn.indices, [3], [1, 2, 3]);
      assertTensor(make().argmax(), [], [9], { dtype: "int32" });
      assertTensor(make().argmax(0), [4], [1, 2, 0, 1]);
      assertTensor(make().argmin(1), [3], [1, 2, 3]);
      assertTensor(make().argmin(1, { keepdim: true }), [3, 1], [1, 2, 3]);
      assertTensor(make().amax(0), [4], [4, 7, 3, 2]);
      assertTensor(make().amin([0, 1]), [], [-6]);
    });

    it("prod", () => {
      assertTensor(make().prod(), [], [0]);
      assertTensor(make().prod(1), [3], [-3, -240, 0]);
      assertTensor(make().prod(0, { keepdim: true }), [1, 4], [0, -70, -18, -1]);
    });

    it("var / std, unbiased and correction 0", () => {
      assertTensor(make().var(), [], [11.702651977539062]);
      assertTensor(make().var(1), [3], [4.229166507720947, 24.91666603088379, 12.916666984558105]);
      assertTensor(
        make().var(0, { correction: 0 }),
        [4],
        [2.8888888359069824, 14.88888931274414, 14.88888931274414, 1.5],
      );
      assertTensor(
        make().var(1, { unbiased: false, keepdim: true }),
        [3, 1],
        [3.171875, 18.6875, 9.6875],
      );
      assertTensor(make().std(), [], [3.4209139347076416]);
      assertTensor(
        make().std(0),
        [4],
        [2.0816659927368164, 4.725815773010254, 4.725815773010254, 1.5],
      );
      assertTensor(
        make().std(1, { correction: 0 }),
        [3],
        [1.7809758186340332, 4.322904109954834, 3.1124749183654785],
      );
    });

    it("logsumexp", () => {
      assertTensor(
        make().logsumexp(1),
        [3],
        [3.202253580093384, 5.349023818969727, 7.003718852996826],
      );
      assertTensor(
        make().logsumexp(0, { keepdim: true }),
        [1, 4],
        [4.065884113311768, 7.1270365715026855, 3.1270368099212646, 2.2413113117218018],
      );
      assertTensor(make().logsumexp([0, 1]), [], [7.197218418121338]);
    });

    it("all / any", () => {
      assertTensor(make().ne(0).all(), [], [false], { dtype: "bool" });
      assertTensor(make().ne(0).all(1), [3], [true, true, false]);
      assertTensor(make().gt(4).any(0), [4], [false, true, false, false]);
      assertTensor(make().gt(100).any(), [], [false]);
      assertTensor(make().all(), [], [false], { dtype: "bool" });
      assertTensor(make().gt(6).any(1, { keepdim: true }), [3, 1], [false, false, true]);
    });
  });
}

describe("reductions: edge cases", () => {
  it("logsumexp of -inf rows is -inf, large values do not overflow", () => {
    // torch.tensor([[0., -inf], [-inf, -inf], [1000., 1000.]]).logsumexp(1) == [0., -inf, 1000.6931762695312]
    const y = fl.tensor([
      [0, Number.NEGATIVE_INFINITY],
      [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
      [1000, 1000],
    ]);
    assertTensor(y.logsumexp(1), [3], [0, Number.NEGATIVE_INFINITY, 1000.6931762695312]);
  });

  it("logsumexp gradient is softmax, and finite on -inf entries", () => {
    const y = fl.tensor([[0, Number.NEGATIVE_INFINITY, 0]], { requiresGrad: true });
    y.logsumexp(1).sum().backward();
    assertTensor(y.grad!, [1, 3], [0.5, 0, 0.5]);
  });

  it("sum of int and bool tensors is int32; dtype option", () => {
    assertTensor(fl.tensor([1, 2], { dtype: "int32" }).sum(), [], [3], { dtype: "int32" });
    assertTensor(fl.tensor([true, true, false]).sum(), [], [2], { dtype: "int32" });
    assertTensor(
      fl.tensor([1, 2], { dtype: "int32" }).sum(undefined, { dtype: "float64" }),
      [],
      [3],
      { dtype: "float64" },
    );
  });

  it("max(dim) picks the first of tied maxima, as PyTorch", () => {
    // torch.tensor([[1., 3., 3.], [2., 2., 0.]]).max(1).indices == [1, 0]
    assertTensor(
      fl
        .tensor([
          [1, 3, 3],
          [2, 2, 0],
        ])
        .max(1).indices,
      [2],
      [1, 0],
    );
    assertTensor(
      fl
        .tensor([
          [1, 3, 3],
          [2, 2, 0],
        ])
        .argmax(1),
      [2],
      [1, 0],
    );
  });

  it("reductions over expanded (stride 0) inputs", () => {
    const e = fl.tensor([1, 2, 3]).expand([4, 3]);
    assertTensor(e.sum(0), [3], [4, 8, 12]);
    assertTensor(e.mean(1), [4], [2, 2, 2, 2]);
    assertTensor(e.var(0), [3], [0, 0, 0]);
    assertTensor(e.max(0).values, [3], [1, 2, 3]);
    assertTensor(e.prod(0), [3], [1, 16, 81]);
  });

  it("empty reductions: sum is 0, max throws", () => {
    assertTensor(fl.zeros([0, 3]).sum(0), [3], [0, 0, 0]);
    assertTensor(fl.zeros([0]).sum(), [], [0]);
    assert.throws(() => fl.zeros([0]).max(), fl.ArgumentError);
  });

  it("bad dims throw ArgumentError", () => {
    assert.throws(() => x().sum(2), /sum: dimension 2 is out of range for a 2-d tensor/);
    assert.throws(() => x().sum([0, 0]), fl.ArgumentError);
    assert.throws(() => x().max(-3), fl.ArgumentError);
  });
});
