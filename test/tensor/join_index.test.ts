import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fl from "../../src/index.js";
import { assertTensor, ints } from "./helpers.js";

// Expected values from PyTorch 1.13 with a = torch.arange(6.).reshape(2,3),
// b = torch.arange(6., 12.).reshape(2,3), e.g.
//   /usr/bin/python3 -c "import torch; a = torch.arange(6.).reshape(2,3); b = torch.arange(6., 12.).reshape(2,3); print(torch.stack([a, b], 2).tolist())"
const a = () => fl.arange(6, { dtype: "float32" }).reshape([2, 3]);
const b = () => fl.arange(6, 12, { dtype: "float32" }).reshape([2, 3]);

describe("joining and splitting", () => {
  it("cat along every dim, negative dims included", () => {
    assertTensor(fl.cat([a(), b()], 0), [4, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assertTensor(fl.cat([a(), b()], 1), [2, 6], [0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11]);
    assertTensor(fl.cat([a(), b().index(":, :1")], -1), [2, 4], [0, 1, 2, 6, 3, 4, 5, 9]);
  });

  it("cat promotes dtypes and skips legacy 1-d empties", () => {
    assertTensor(fl.cat([ints([1, 2]), fl.tensor([1.5, 2])]), [4], [1, 2, 1.5, 2], {
      dtype: "float32",
    });
    assertTensor(fl.cat([fl.zeros([0]), a()]), [2, 3], [0, 1, 2, 3, 4, 5]);
  });

  it("stack", () => {
    assertTensor(fl.stack([a(), b()]), [2, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assertTensor(fl.stack([a(), b()], 2), [2, 3, 2], [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]);
    assertTensor(fl.stack([a(), b()], -1), [2, 3, 2], [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]);
  });

  it("split by size and by sections; chunk; unbind", () => {
    const s = fl.arange(10, { dtype: "float32" });
    const sizes = (parts: fl.Tensor[]) => parts.map((p) => p.shape[0]);
    // torch.arange(10.).split(3) → sizes [3, 3, 3, 1]; split([1, 4, 5]); chunk(4) → [3, 3, 3, 1]; chunk(6) → 5 chunks of 2
    assert.deepEqual(sizes(s.split(3)), [3, 3, 3, 1]);
    assertTensor(s.split(3)[3]!, [1], [9]);
    assert.deepEqual(sizes(s.split([1, 4, 5])), [1, 4, 5]);
    assertTensor(s.split([1, 4, 5])[1]!, [4], [1, 2, 3, 4]);
    assert.deepEqual(sizes(s.chunk(4)), [3, 3, 3, 1]);
    assert.deepEqual(sizes(s.chunk(6)), [2, 2, 2, 2, 2]);
    assert.deepEqual(sizes(fl.arange(4).chunk(3)), [2, 2]);
    const cols = a().unbind(1);
    assert.equal(cols.length, 3);
    assertTensor(cols[0]!, [2], [0, 3]);
    assertTensor(cols[2]!, [2], [2, 5]);
    assert.deepEqual(
      fl.split(a(), 1, 1).map((t) => t.shape),
      [
        [2, 1],
        [2, 1],
        [2, 1],
      ],
    );
  });

  it("split, chunk and unbind return views", () => {
    const x = a();
    for (const part of [...x.split(1), ...x.chunk(3, 1), ...x.unbind(0)])
      assert.equal(part.storage, x.storage);
  });

  it("gradients flow back through cat, stack and split", () => {
    const p = fl.ones([2, 2]).requiresGrad_();
    const q = fl.ones([1, 2]).requiresGrad_();
    fl.cat([p, q])
      .mul(fl.arange(6, { dtype: "float32" }).reshape([3, 2]))
      .sum()
      .backward();
    assertTensor(p.grad!, [2, 2], [0, 1, 2, 3]);
    assertTensor(q.grad!, [1, 2], [4, 5]);
    const r = fl.ones([4]).requiresGrad_();
    const [r0, r1] = r.split([1, 3]);
    r0!.mul(2).sum().add(r1!.mul(3).sum()).backward();
    assertTensor(r.grad!, [4], [2, 3, 3, 3]);
  });

  it("errors name the op and shapes", () => {
    assert.throws(
      () => fl.cat([a(), fl.zeros([2, 2])], 0),
      /cat: sizes of tensors must match except in dimension 0/,
    );
    assert.throws(
      () => fl.stack([a(), fl.zeros([3, 2])]),
      /stack: expects each tensor to be equal size/,
    );
    assert.throws(() => fl.arange(10).split([3, 3]), /split: split sizes \[3,3\] sum to 6/);
    assert.throws(() => fl.cat([]), fl.ArgumentError);
  });
});

describe("where, gather, scatter and masks", () => {
  it("where", () => {
    assertTensor(fl.where(a().gt(2), a(), b().neg()), [2, 3], [-6, -7, -8, 3, 4, 5]);
    assertTensor(fl.where(a().gt(2), a(), 0.5), [2, 3], [0.5, 0.5, 0.5, 3, 4, 5]);
    // broadcast condition [3] against [2, 3]
    assertTensor(fl.where(fl.tensor([true, false, true]), a(), b()), [2, 3], [0, 7, 2, 3, 10, 5]);
  });

  it("gather", () => {
    assertTensor(
      a().gather(
        1,
        ints([
          [2, 0],
          [1, 1],
        ]),
      ),
      [2, 2],
      [2, 0, 4, 4],
    );
    assertTensor(a().gather(0, ints([[1, 0, 1]])), [1, 3], [3, 1, 5]);
  });

  it("scatter, scatter with a scalar, scatterAdd with repeated indices", () => {
    assertTensor(
      fl.zeros([2, 4]).scatter(
        1,
        ints([
          [3, 0],
          [1, 2],
        ]),
        a().index(":, :2"),
      ),
      [2, 4],
      [1, 0, 0, 0, 0, 3, 4, 0],
    );
    assertTensor(
      fl.zeros([2, 4]).scatter(1, ints([[3], [1]]), 9),
      [2, 4],
      [0, 0, 0, 9, 0, 9, 0, 0],
    );
    assertTensor(
      fl.zeros([3]).scatterAdd(0, ints([0, 2, 0, 0]), fl.tensor([1, 2, 3, 4])),
      [3],
      [8, 0, 2],
    );
    assertTensor(
      fl.ones([2, 3]).scatterAdd(
        0,
        ints([
          [1, 0, 1],
          [1, 1, 0],
        ]),
        b(),
      ),
      [2, 3],
      [1, 8, 12, 16, 11, 9],
    );
  });

  it("indexSelect", () => {
    assertTensor(a().indexSelect(0, ints([1, 1, 0])), [3, 3], [3, 4, 5, 3, 4, 5, 0, 1, 2]);
    assertTensor(a().indexSelect(1, ints([2, 0])), [2, 2], [2, 0, 5, 3]);
  });

  it("maskedFill and maskedSelect, with broadcast masks", () => {
    assertTensor(a().maskedFill(a().gt(3), -1), [2, 3], [0, 1, 2, 3, -1, -1]);
    assertTensor(a().maskedFill(fl.tensor([true, false, true]), 7), [2, 3], [7, 1, 7, 7, 4, 7]);
    assertTensor(a().maskedSelect(a().remainder(2).eq(0)), [3], [0, 2, 4]);
    assertTensor(a().maskedSelect(fl.tensor([false, true, true])), [4], [1, 2, 4, 5]);
  });

  it("tril / triu with diagonals", () => {
    const m = () => fl.arange(1, 13, { dtype: "float32" }).reshape([3, 4]);
    assertTensor(m().tril(), [3, 4], [1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0]);
    assertTensor(m().tril(1), [3, 4], [1, 2, 0, 0, 5, 6, 7, 0, 9, 10, 11, 12]);
    assertTensor(m().triu(), [3, 4], [1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12]);
    assertTensor(m().triu(-1), [3, 4], [1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12]);
  });

  it("nonzero", () => {
    assertTensor(
      fl
        .tensor([
          [0, 1, 0],
          [2, 0, 3],
        ])
        .nonzero(),
      [3, 2],
      [0, 1, 1, 0, 1, 2],
      { dtype: "int32" },
    );
    assertTensor(ints([0, 3, 0, 4]).nonzero(), [2, 1], [1, 3]);
    assertTensor(fl.zeros([2, 2]).nonzero(), [0, 2], []);
  });

  it("gradients: gather scatters back, indexSelect accumulates, maskedFill zeroes", () => {
    const x = a().requiresGrad_();
    x.gather(
      1,
      ints([
        [2, 2],
        [0, 1],
      ]),
    )
      .sum()
      .backward();
    assertTensor(x.grad!, [2, 3], [0, 0, 2, 1, 1, 0]);
    const y = a().requiresGrad_();
    y.indexSelect(0, ints([1, 1, 0]))
      .sum()
      .backward();
    assertTensor(y.grad!, [2, 3], [1, 1, 1, 2, 2, 2]);
    const z = a().requiresGrad_();
    z.maskedFill(z.detach().gt(3), 0).sum().backward();
    assertTensor(z.grad!, [2, 3], [1, 1, 1, 1, 0, 0]);
  });

  it("index errors", () => {
    assert.throws(() => a().gather(1, fl.tensor([[0]])), fl.DTypeError);
    assert.throws(() => a().gather(1, ints([[5]])), /gather: index 5 is out of bounds/);
    assert.throws(() => a().maskedFill(fl.tensor([1, 0, 1]), 0), fl.DTypeError);
    assert.throws(() => fl.where(a(), a(), b()), /where: condition must be a bool tensor/);
  });
});
