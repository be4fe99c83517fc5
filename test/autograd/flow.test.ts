// Where gradients go: through views, broadcasting, reuse and ties.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const range = (shape: number[]) =>
  fl
    .arange(
      0,
      shape.reduce((a, b) => a * b, 1),
      { dtype: "float32" },
    )
    .reshape(shape)
    .detach()
    .requiresGrad_();

describe("gradients through views", () => {
  test("narrow writes the gradient into the window, zeros elsewhere", () => {
    const x = range([2, 4]);
    x.narrow(1, 1, 2)
      .mul(
        fl.tensor([
          [1, 2],
          [3, 4],
        ]),
      )
      .sum()
      .backward();
    assert.deepEqual(x.grad!.tolistSync(), [
      [0, 1, 2, 0],
      [0, 3, 4, 0],
    ]);
  });

  test("select", () => {
    const x = range([3, 2]);
    x.select(0, -1)
      .mul(fl.tensor([5, 7]))
      .sum()
      .backward();
    assert.deepEqual(x.grad!.tolistSync(), [
      [0, 0],
      [0, 0],
      [5, 7],
    ]);
  });

  test("a strided slice through x.index('::2')", () => {
    const x = range([5]);
    x.index("::2")
      .mul(fl.tensor([1, 2, 3]))
      .sum()
      .backward();
    assert.deepEqual(x.grad!.tolistSync(), [1, 0, 2, 0, 3]);
  });

  test("indexing with an int32 tensor repeats indices and sums their gradients", () => {
    const x = range([4]);
    x.index(fl.tensor([3, 0, 3], { dtype: "int32" }))
      .mul(fl.tensor([1, 2, 4]))
      .sum()
      .backward();
    assert.deepEqual(x.grad!.tolistSync(), [2, 0, 0, 5]);
  });

  test("transpose and permute carry the gradient back to the original layout", () => {
    const x = range([2, 3]);
    const w = fl.tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    x.transpose(0, 1).mul(w).sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [
      [1, 3, 5],
      [2, 4, 6],
    ]);
    const y = range([1, 2, 3]);
    y.permute([2, 0, 1])
      .mul(w.reshape([3, 1, 2]))
      .sum()
      .backward();
    assert.deepEqual(y.grad!.tolistSync(), [
      [
        [1, 3, 5],
        [2, 4, 6],
      ],
    ]);
  });

  test("expand sums the gradient over the repeated dims", () => {
    const x = fl.tensor([[1], [2]], { requiresGrad: true });
    x.expand(2, 3)
      .mul(
        fl.tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      )
      .sum()
      .backward();
    assert.deepEqual(x.grad!.tolistSync(), [[6], [15]]);
  });

  test("a view of a view of a non-contiguous tensor", () => {
    const x = range([3, 4]);
    // rows 1..2 of the transpose = columns 1..2 of x, then flattened
    x.t()
      .narrow(0, 1, 2)
      .reshape([-1])
      .mul(fl.arange(1, 7, { dtype: "float32" }))
      .sum()
      .backward();
    assert.deepEqual(x.grad!.tolistSync(), [
      [0, 1, 4, 0],
      [0, 2, 5, 0],
      [0, 3, 6, 0],
    ]);
  });
});

describe("gradients through broadcasting", () => {
  test("are summed back to a [3,1] input", () => {
    const a = fl.tensor([[1], [2], [3]], { requiresGrad: true });
    const b = fl.tensor([10, 20, 30, 40], { requiresGrad: true });
    a.mul(b).sum().backward();
    assert.deepEqual(a.grad!.shape, [3, 1]);
    assert.deepEqual(a.grad!.tolistSync(), [[100], [100], [100]]);
    assert.deepEqual(b.grad!.shape, [4]);
    assert.deepEqual(b.grad!.tolistSync(), [6, 6, 6, 6]);
  });

  test("are summed back to a 0-d input", () => {
    const s = fl.tensor(2, { requiresGrad: true });
    const x = fl.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { requiresGrad: true },
    );
    x.mul(s).add(s).sum().backward();
    assert.deepEqual(s.grad!.shape, []);
    assert.equal(s.grad!.itemSync(), 1 + 2 + 3 + 4 + 4);
    assert.deepEqual(x.grad!.tolistSync(), [
      [2, 2],
      [2, 2],
    ]);
  });

  test("keep the input's shape for a [1,3] operand of a 3-d product", () => {
    const a = fl.ones([2, 2, 3], { requiresGrad: true });
    const b = fl.tensor([[1, 2, 3]], { requiresGrad: true });
    a.sub(b).sum().backward();
    assert.deepEqual(b.grad!.tolistSync(), [[-4, -4, -4]]);
  });
});

describe("reuse of a tensor in the graph", () => {
  test("x used twice gets both contributions", () => {
    const x = fl.tensor([2, 3], { requiresGrad: true });
    x.mul(x).add(x).sum().backward(); // d(x² + x) = 2x + 1
    assert.deepEqual(x.grad!.tolistSync(), [5, 7]);
  });

  test("a diamond: y = f(x) feeds two branches that meet again", () => {
    const x = fl.tensor([0.5], { dtype: "float64", requiresGrad: true });
    const y = x.exp();
    y.sin().add(y.cos()).sum().backward();
    const v = Math.exp(0.5);
    const expected = (Math.cos(v) - Math.sin(v)) * v;
    assert.ok(Math.abs((x.grad!.itemSync() as number) - expected) < 1e-12);
  });
});

describe("ties in max and min", () => {
  const x = () =>
    fl.tensor(
      [
        [1, 3, 3],
        [2, 2, 0],
      ],
      { requiresGrad: true },
    );

  test("amax and max() split the gradient evenly among tied elements", () => {
    const a = x();
    a.amax(1).sum().backward();
    assert.deepEqual(a.grad!.tolistSync(), [
      [0, 0.5, 0.5],
      [0.5, 0.5, 0],
    ]);
    const b = x();
    b.max().backward();
    assert.deepEqual(b.grad!.tolistSync(), [
      [0, 0.5, 0.5],
      [0, 0, 0],
    ]);
  });

  test("max(dim) and min(dim) send it all to the index they return (the first)", () => {
    const a = x();
    const { values, indices } = a.max(1);
    assert.deepEqual(indices.tolistSync(), [1, 0]);
    values.sum().backward();
    assert.deepEqual(a.grad!.tolistSync(), [
      [0, 1, 0],
      [1, 0, 0],
    ]);
    const b = x();
    b.min(1).values.sum().backward();
    assert.deepEqual(b.grad!.tolistSync(), [
      [1, 0, 0],
      [0, 0, 1],
    ]);
  });

  test("maximum splits the gradient of a tie between its two inputs", () => {
    const a = x();
    a.maximum(fl.tensor(2)).sum().backward();
    assert.deepEqual(a.grad!.tolistSync(), [
      [0, 1, 1],
      [0.5, 0.5, 0],
    ]);
  });
});
