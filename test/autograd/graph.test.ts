// The recorded graph: requiresGrad propagation, leaves and non-leaves,
// PyTorch's node names and nextFunctions.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const i32 = (data: number[] | number[][]) => fl.tensor(data, { dtype: "int32" });

describe("requiresGrad propagation", () => {
  test("an op on a tensor that requires grad requires grad", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    const c = fl.tensor([4, 5, 6]);
    assert.equal(c.requiresGrad, false);
    assert.equal(c.add(1).requiresGrad, false);
    assert.equal(x.mul(c).requiresGrad, true);
    assert.equal(c.mul(x).exp().sum().requiresGrad, true);
  });

  test("comparisons and integer results never require grad", () => {
    const x = fl.tensor([1, -2, 3], { requiresGrad: true });
    assert.equal(x.gt(0).requiresGrad, false);
    assert.equal(x.argmax().requiresGrad, false);
    assert.equal(x.max(0).indices.requiresGrad, false);
    assert.equal(x.max(0).values.requiresGrad, true);
  });

  test("requiresGrad option and requiresGrad_ make leaves", () => {
    const a = fl.zeros([2], { requiresGrad: true });
    const b = fl.ones([2]).requiresGrad_();
    for (const t of [a, b]) {
      assert.equal(t.requiresGrad, true);
      assert.equal(t.isLeaf, true);
      assert.equal(t.gradFn, null);
    }
  });
});

describe("leaves and non-leaves", () => {
  test("leaves have no gradFn; op results have one and are not leaves", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    assert.equal(x.isLeaf, true);
    assert.equal(x.gradFn, null);
    assert.equal(y.isLeaf, false);
    assert.ok(y.gradFn);
    // A tensor that does not require grad is a leaf too, as in PyTorch.
    assert.equal(fl.tensor([1]).add(1).isLeaf, true);
  });

  test("only leaves get .grad; a non-leaf keeps it only after retainGrad()", () => {
    const x = fl.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(x);
    const z = y.mul(3);
    z.retainGrad();
    assert.equal(z.retainsGrad, true);
    assert.equal(y.retainsGrad, false);
    z.sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [6, 12, 18]);
    assert.equal(y.grad, null);
    assert.deepEqual(z.grad!.tolistSync(), [1, 1, 1]);
    assert.equal(z.grad!.requiresGrad, false);
  });

  test("retainGrad on an intermediate that is used twice sums both uses", () => {
    const x = fl.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    y.retainGrad();
    y.mul(y).sum().backward();
    // d(y²)/dy = 2y = [4, 8]
    assert.deepEqual(y.grad!.tolistSync(), [4, 8]);
    assert.deepEqual(x.grad!.tolistSync(), [8, 16]);
  });
});

describe("PyTorch 1.13's node names", () => {
  const x = fl.randn([2, 3], { requiresGrad: true });
  const y = fl.randn([2, 3], { requiresGrad: true });
  const w = fl.randn([3, 4], { requiresGrad: true });
  const v = fl.randn([3], { requiresGrad: true });
  const b3 = fl.randn([2, 3, 4], { requiresGrad: true });
  // Names printed by `type(t.grad_fn).__name__` in PyTorch 1.13 for the same calls.
  const cases: [string, () => fl.Tensor, string][] = [
    ["add", () => x.add(y), "AddBackward0"],
    ["add scalar", () => x.add(2), "AddBackward0"],
    ["sub", () => x.sub(y), "SubBackward0"],
    ["mul", () => x.mul(y), "MulBackward0"],
    ["div", () => x.div(y), "DivBackward0"],
    ["neg", () => x.neg(), "NegBackward0"],
    ["exp", () => x.exp(), "ExpBackward0"],
    ["log", () => x.abs().log(), "LogBackward0"],
    ["sqrt", () => x.abs().sqrt(), "SqrtBackward0"],
    ["tanh", () => x.tanh(), "TanhBackward0"],
    ["sigmoid", () => x.sigmoid(), "SigmoidBackward0"],
    ["relu", () => x.relu(), "ReluBackward0"],
    ["square", () => x.square(), "PowBackward0"],
    ["pow scalar", () => x.pow(2), "PowBackward0"],
    ["pow tensor", () => x.abs().pow(y), "PowBackward1"],
    ["clamp", () => x.clamp(-1, 1), "ClampBackward1"],
    ["where", () => fl.where(x.gt(0), x, y), "WhereBackward0"],
    ["maximum", () => x.maximum(y), "MaximumBackward0"],
    ["mm", () => x.mm(w), "MmBackward0"],
    ["matmul 2d@2d", () => x.matmul(w), "MmBackward0"],
    ["matmul 1d@1d", () => v.matmul(v), "DotBackward0"],
    ["matmul 2d@1d", () => x.matmul(v), "MvBackward0"],
    ["matmul 3d@2d", () => b3.transpose(1, 2).matmul(fl.randn([3, 5])), "UnsafeViewBackward0"],
    ["matmul 3d@3d", () => b3.matmul(fl.randn([2, 4, 5])), "UnsafeViewBackward0"],
    ["bmm", () => b3.bmm(fl.randn([2, 4, 5])), "BmmBackward0"],
    ["mv", () => x.mv(v), "MvBackward0"],
    ["dot", () => v.dot(v), "DotBackward0"],
    ["sum", () => x.sum(), "SumBackward0"],
    ["sum(dim)", () => x.sum(1), "SumBackward1"],
    ["mean", () => x.mean(), "MeanBackward0"],
    ["mean(dim)", () => x.mean(1), "MeanBackward1"],
    ["prod", () => x.prod(), "ProdBackward0"],
    ["prod(dim)", () => x.prod(1), "ProdBackward1"],
    ["max", () => x.max(), "MaxBackward1"],
    ["max(dim)", () => x.max(1).values, "MaxBackward0"],
    ["min", () => x.min(), "MinBackward1"],
    ["amax", () => x.amax(1), "AmaxBackward0"],
    ["view", () => x.view(6), "ViewBackward0"],
    ["reshape of a non-contiguous tensor", () => x.t().reshape(6), "UnsafeViewBackward0"],
    ["permute", () => x.permute(1, 0), "PermuteBackward0"],
    ["transpose", () => x.transpose(0, 1), "TransposeBackward0"],
    ["t", () => x.t(), "TBackward0"],
    ["squeeze", () => x.unsqueeze(0).squeeze(), "SqueezeBackward0"],
    ["squeeze(dim)", () => x.unsqueeze(0).squeeze(0), "SqueezeBackward1"],
    ["unsqueeze", () => x.unsqueeze(0), "UnsqueezeBackward0"],
    ["expand", () => x.narrow(1, 0, 1).expand(2, 3), "ExpandBackward0"],
    ["narrow", () => x.narrow(1, 0, 2), "SliceBackward0"],
    ["select", () => x.select(0, 1), "SelectBackward0"],
    ["contiguous", () => x.t().contiguous(), "CloneBackward0"],
    ["clone", () => x.clone(), "CloneBackward0"],
    ["cat", () => fl.cat([x, y]), "CatBackward0"],
    ["stack", () => fl.stack([x, y]), "StackBackward0"],
    ["gather", () => x.gather(1, i32([[0], [1]])), "GatherBackward0"],
    ["scatter", () => x.scatter(1, i32([[0], [1]]), y), "ScatterBackward0"],
    ["scatterAdd", () => x.scatterAdd(1, i32([[0], [1]]), y), "ScatterAddBackward0"],
    ["indexSelect", () => x.indexSelect(1, i32([0, 2])), "IndexSelectBackward0"],
    ["maskedFill", () => x.maskedFill(x.gt(0), 0), "MaskedFillBackward0"],
    ["tril", () => x.tril(), "TrilBackward0"],
    ["triu", () => x.triu(), "TriuBackward0"],
    ["to float64", () => x.double(), "ToCopyBackward0"],
  ];
  for (const [what, make, name] of cases) {
    test(`${what} → ${name}`, () => {
      const out = make();
      assert.equal(out.gradFn?.name, name);
      assert.equal(String(out.gradFn), `<${name}>`);
    });
  }
});

describe("gradFn.nextFunctions", () => {
  test("points at the producing nodes, at leaves, and null for constants", () => {
    const a = fl.tensor([1, 2], { requiresGrad: true });
    const b = fl.tensor([3, 4], { requiresGrad: true });
    const c = fl.tensor([5, 6]);
    const e = a.exp();
    const y = e.mul(b).add(c);
    const add = y.gradFn!;
    assert.equal(add.name, "AddBackward0");
    const [first, second] = add.nextFunctions;
    assert.equal((first as fl.autograd.Node).name, "MulBackward0");
    assert.equal(second, null);
    const mul = first as fl.autograd.Node;
    assert.equal(mul.nextFunctions[0], e.gradFn);
    assert.equal(mul.nextFunctions[1], b);
    assert.equal((mul.nextFunctions[0] as fl.autograd.Node).nextFunctions[0], a);
  });
});
