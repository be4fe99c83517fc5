import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fl from "../../src/index.js";
import { assertTensor, ints } from "./helpers.js";

// Every torch.matmul case, against PyTorch 1.13, e.g.
//   /usr/bin/python3 -c "import torch; v = torch.tensor([1., 2., 3., 4.]); print((torch.arange(12.).reshape(3, 4) @ v).tolist())"
const v = () => fl.tensor([1, 2, 3, 4]);
const ar = (n: number, shape: number[]) => fl.arange(n, { dtype: "float32" }).reshape(shape);

describe("matmul in every PyTorch case", () => {
  it("1-D · 1-D is a 0-d dot product", () => {
    assertTensor(v().matmul(v()), [], [30]);
  });

  it("2-D · 1-D and 1-D · 2-D", () => {
    assertTensor(ar(12, [3, 4]).matmul(v()), [3], [20, 60, 100]);
    assertTensor(v().matmul(ar(12, [4, 3])), [3], [60, 70, 80]);
  });

  it("2-D · 2-D", () => {
    const a = ar(6, [2, 3]);
    const b = fl.arange(6, 12, { dtype: "float32" }).reshape([2, 3]);
    assertTensor(a.matmul(b.t()), [2, 2], [23, 32, 86, 122]);
  });

  it("batched · 1-D and 1-D · batched", () => {
    assertTensor(ar(24, [2, 3, 4]).matmul(v()), [2, 3], [20, 60, 100, 140, 180, 220]);
    assertTensor(v().matmul(ar(24, [2, 4, 3])), [2, 3], [60, 70, 80, 180, 190, 200]);
  });

  it("batched · batched, and batched · 2-D", () => {
    assertTensor(
      ar(12, [2, 2, 3]).matmul(ar(12, [2, 3, 2])),
      [2, 2, 2],
      [10, 13, 28, 40, 172, 193, 244, 274],
    );
    assertTensor(
      ar(12, [2, 2, 3]).matmul(ar(6, [3, 2])),
      [2, 2, 2],
      [10, 13, 28, 40, 46, 67, 64, 94],
    );
  });

  it("broadcast batch dims: [2,1,3,4] @ [5,4,2] → [2,5,3,2]", () => {
    // A = arange(24.).reshape(2,1,3,4)/10; B = arange(40.).reshape(5,4,2)/10; r = A @ B
    // r.sum() == 544.199951171875; r[1, 3].tolist() == [[14.68, 15.22], [19.0, 19.7], [23.32, 24.18]]
    const r = ar(24, [2, 1, 3, 4])
      .div(10)
      .matmul(ar(40, [5, 4, 2]).div(10));
    assert.deepEqual(r.shape, [2, 5, 3, 2]);
    assertTensor(r.sum(), [], [544.199951171875], { rtol: 1e-6 });
    assertTensor(
      r.index("1, 3"),
      [3, 2],
      [
        14.679999351501465, 15.219999313354492, 19, 19.700000762939453, 23.31999969482422,
        24.17999839782715,
      ],
    );
  });

  it("gradients of a broadcast batched product sum over the broadcast dims", () => {
    const A = fl.ones([2, 1, 3, 4]).requiresGrad_();
    const B = ar(40, [5, 4, 2]).requiresGrad_();
    A.matmul(B).sum().backward();
    assert.deepEqual(A.grad!.shape, [2, 1, 3, 4]);
    assert.deepEqual(B.grad!.shape, [5, 4, 2]);
    // torch: A.grad[0, 0, 0] == [165, 185, 205, 225] (Σ_b Σ_n B[b, k, n]); B.grad == 6 everywhere (Σ_i Σ_m A)
    assertTensor(A.grad!.index("0, 0, 0"), [4], [165, 185, 205, 225]);
    assertTensor(B.grad!, [5, 4, 2], new Array(40).fill(6));
  });

  it("integer matmul stays int32; mixed dtypes are refused as in PyTorch", () => {
    const i = ints([
      [1, 2],
      [3, 4],
    ]);
    assertTensor(i.matmul(i), [2, 2], [7, 10, 15, 22], { dtype: "int32" });
    assert.throws(() => i.matmul(fl.eye(2)), { name: "DTypeError" });
    assert.throws(() => fl.eye(2, { dtype: "float64" }).matmul(fl.eye(2)), { name: "DTypeError" });
    assert.throws(() => new fl.nn.Linear(2, 2).forward(i), /same dtype, got int32 and float32/);
  });
});

describe("mm, bmm, mv, dot, outer", () => {
  it("values", () => {
    assertTensor(fl.mm(ar(6, [2, 3]), ar(6, [3, 2])), [2, 2], [10, 13, 28, 40]);
    assertTensor(
      fl.bmm(ar(12, [2, 2, 3]), ar(12, [2, 3, 2])),
      [2, 2, 2],
      [10, 13, 28, 40, 172, 193, 244, 274],
    );
    assertTensor(ar(6, [2, 3]).mv(fl.tensor([1, 0, -1])), [2], [-2, -2]);
    assertTensor(fl.tensor([1, 2, 3]).dot(fl.tensor([4, 5, 6])), [], [32]);
    assertTensor(fl.tensor([1, 2]).outer(fl.tensor([3, 4, 5])), [2, 3], [3, 4, 5, 6, 8, 10]);
  });

  it("shape errors name the op and both shapes", () => {
    assert.throws(
      () => ar(6, [2, 3]).matmul(ar(20, [4, 5])),
      /^ShapeError: matmul: shapes \[2,3\] and \[4,5\] cannot be multiplied \(3 != 4\)$/,
    );
    assert.throws(() => fl.mm(ar(6, [2, 3]), ar(6, [6])), /mm: expects two 2-d tensors/);
    assert.throws(() => fl.bmm(ar(12, [2, 2, 3]), ar(12, [3, 2, 2])), /bmm: batch sizes differ/);
    assert.throws(() => fl.dot(v(), fl.tensor([1, 2])), /dot: inconsistent tensor size/);
    assert.throws(
      () => v().matmul(fl.tensor(2)),
      /matmul: both arguments need at least 1 dimension/,
    );
    assert.throws(() => ar(24, [2, 3, 4]).matmul(ar(24, [3, 4, 2])), fl.ShapeError);
    assert.throws(() => fl.tensor([true]).matmul(fl.tensor([true])), fl.DTypeError);
  });
});
