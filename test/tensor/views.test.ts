import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fl from "../../src/index.js";
import { assertSameTensor, assertTensor, ints } from "./helpers.js";

const base = () => fl.arange(24, { dtype: "float32" }).reshape([2, 3, 4]);

/** Every view op, as (name, x → view). Each must share x's storage. */
const VIEWS: [string, (x: fl.Tensor) => fl.Tensor][] = [
  ["view", (x) => x.view([6, 4])],
  ["view -1", (x) => x.view([-1])],
  ["reshape (contiguous)", (x) => x.reshape([4, 6])],
  ["permute", (x) => x.permute([2, 0, 1])],
  ["transpose", (x) => x.transpose(0, 2)],
  ["t", (x) => x.index(0).t()],
  ["mT", (x) => x.mT],
  ["squeeze", (x) => x.unsqueeze(1).squeeze()],
  ["squeeze(dim)", (x) => x.unsqueeze(0).squeeze(0)],
  ["unsqueeze", (x) => x.unsqueeze(-1)],
  ["flatten", (x) => x.flatten(1)],
  ["unflatten", (x) => x.unflatten(2, [2, 2])],
  ["expand", (x) => x.index(":, :1").expand([2, 5, 4])],
  ["narrow", (x) => x.narrow(2, 1, 2)],
  ["select", (x) => x.select(1, -1)],
  ["index", (x) => x.index("1:, ::2, None, -1")],
  ["detach", (x) => x.detach()],
  ["split", (x) => x.split(2, 2)[1]!],
  ["chunk", (x) => x.chunk(3, 1)[2]!],
  ["unbind", (x) => x.unbind(0)[1]!],
];

describe("views never copy", () => {
  for (const [name, make] of VIEWS) {
    it(`${name} shares storage; writes show through both ways`, () => {
      const x = base();
      const y = make(x);
      assert.equal(y.storage, x.storage, "same storage object");
      // write through the view, read through the base
      fl.noGrad(() => y.copy_(fl.fullLike(y, -1)));
      const minusOnes = Array.from(x.dataSync()).filter((v) => v === -1).length;
      assert.ok(minusOnes > 0 && minusOnes <= y.numel(), `${minusOnes} base elements changed`);
      // write through the base, read through the view
      fl.noGrad(() => x.fill_(5));
      assert.ok(Array.from(y.dataSync()).every((v) => v === 5));
    });
  }

  it("view strides and offsets follow PyTorch's", () => {
    // torch: x = arange(24.).reshape(2,3,4); x.permute(2,0,1).stride() == (1, 12, 4); x[:, 1:, 2:].storage_offset() == 6
    const x = base();
    assert.deepEqual(x.permute([2, 0, 1]).stride(), [1, 12, 4]);
    assert.equal(x.index(":, 1:, 2:").storageOffset(), 6);
    assert.deepEqual(x.index(":, :1").expand([2, 5, 4]).stride(), [12, 0, 1]);
    assert.deepEqual(x.transpose(0, 1).flatten(1).shape, [3, 8]);
  });

  it("view of a non-contiguous layout throws; reshape copies instead", () => {
    const t = base().transpose(1, 2); // [2, 4, 3]
    assert.throws(
      () => t.view([-1]),
      /view: size \[24\] is not compatible with input of shape \[2,4,3\]/,
    );
    const r = t.reshape([-1]);
    assert.notEqual(r.storage, t.storage);
    assertTensor(r.index(":6"), [6], [0, 4, 8, 1, 5, 9]);
    // splitting a dim is still a view: torch gives t.view(2, 2, 2, 3).stride() == (12, 2, 1, 4)
    const split = t.view([2, 2, 2, 3]);
    assert.equal(split.storage, t.storage);
    assert.deepEqual(split.stride(), [12, 2, 1, 4]);
  });
});

describe("contiguous copies only when needed", () => {
  it("returns the tensor itself when already contiguous", () => {
    const x = base();
    assert.equal(x.contiguous(), x);
    const sel = x.index("1");
    assert.equal(sel.contiguous(), sel, "a row of a contiguous tensor is contiguous");
    const one = fl.zeros([3, 1]).expand([3, 1]);
    assert.equal(one.contiguous(), one);
  });

  it("copies transposed, stepped and expanded views into row-major order", () => {
    const x = base();
    for (const v of [
      x.transpose(0, 2),
      x.index("::, ::2"),
      x.index(":, :1").expand([2, 3, 4]),
      x.permute([1, 2, 0]),
    ]) {
      assert.equal(v.isContiguous(), false);
      const c = v.contiguous();
      assert.equal(c.isContiguous(), true);
      assert.notEqual(c.storage, x.storage);
      assert.deepEqual(c.stride(), fl.zeros(v.shape).stride());
      assertSameTensor(c, fl.tensor(v.tolistSync() as number[][][]));
    }
  });

  it("isContiguous ignores size-1 dims", () => {
    assert.equal(fl.zeros([4, 1]).t().isContiguous(), true);
    assert.equal(base().index(":, 1:2").isContiguous(), false);
    assert.equal(base().index(":1").isContiguous(), true);
  });
});

/** Non-contiguous views of a [3, 4] float tensor with varied values. */
function stridedViews(): [string, fl.Tensor][] {
  const m = fl.tensor([
    [0.5, -1.5, 2, 3.25],
    [-4, 5.5, 0.25, -0.75],
    [1, 2.5, -3, 4.5],
  ]);
  const big = fl.arange(40, { dtype: "float32" }).div(7).sub(2).reshape([5, 8]);
  return [
    ["transposed", m.t().contiguous().t()], // same values, column-major
    ["stepped slice", big.index("::2, 1::2")], // [3, 4], strides [16, 2]
    ["expanded", fl.tensor([[1.5, -2, 0.5, 3]]).expand([3, 4])], // stride 0
    ["offset narrow", big.index("1:4, 3:7")], // offset 11
    [
      "permuted 3-d select",
      fl
        .arange(48, { dtype: "float32" })
        .div(5)
        .reshape([4, 2, 3, 2])
        .permute([2, 0, 3, 1])
        .select(3, 1)
        .index(":, :, 0"),
    ],
  ];
}

/** Op families: each maps a [3, 4] float input to a result. */
const FAMILIES: [string, (x: fl.Tensor) => fl.Tensor][] = [
  ["unary exp/abs/neg/relu", (x) => x.exp().add(x.abs()).sub(x.neg().relu())],
  ["unary int/bool results", (x) => x.gt(0).logicalNot().int().add(x.floor().int())],
  ["binary with a broadcast row", (x) => x.mul(fl.tensor([1, -2, 3, 0.5])).div(x.abs().add(1))],
  ["binary strided · strided", (x) => x.add(x.t().contiguous().t()).pow(2)],
  ["binary with a scalar", (x) => x.sub(0.25).maximum(0.1)],
  ["comparison", (x) => x.ge(x.mean())],
  ["sum/mean/prod over dims", (x) => fl.stack([x.sum(0), x.mean(0), x.prod(0), x.amax(0)])],
  [
    "max/argmax along dims",
    (x) => fl.stack([x.max(1).values, x.argmax(1).float(), x.min(1).values]),
  ],
  ["var/std/logsumexp", (x) => fl.stack([x.var(1), x.std(1, { correction: 0 }), x.logsumexp(1)])],
  ["matmul", (x) => x.matmul(x.t())],
  ["matmul with strided right side", (x) => x.t().matmul(x)],
  ["where", (x) => fl.where(x.gt(0), x, x.mul(-3))],
  [
    "gather",
    (x) =>
      x.gather(
        1,
        ints([
          [3, 0],
          [1, 1],
          [2, 3],
        ]),
      ),
  ],
  [
    "scatter / scatterAdd",
    (x) =>
      x.scatter(1, ints([[0], [2], [3]]), 7).scatterAdd(0, ints([[2, 2, 0, 1]]), x.index(":1")),
  ],
  ["indexSelect", (x) => x.indexSelect(1, ints([3, 3, 0]))],
  ["maskedFill / maskedSelect", (x) => x.maskedFill(x.lt(0), -9).maskedSelect(x.gt(-1))],
  ["tril / triu", (x) => x.tril().add(x.triu(1).mul(2))],
  [
    "cat / stack",
    (x) =>
      fl
        .cat([x, x.index("1:")], 0)
        .sum(0)
        .add(fl.stack([x, x], 1).sum([0, 1])),
  ],
  ["index", (x) => x.index([ints([2, 0]), "1:"])],
  ["clamp / sigmoid / tanh", (x) => x.clamp(-1, 2).sigmoid().add(x.tanh())],
  ["reshape (copies)", (x) => x.reshape([2, 6]).sum(1)],
  ["clone / cast", (x) => x.clone().double().float()],
];

describe("strided inputs to every op family match contiguous ones", () => {
  for (const [viewName, view] of stridedViews()) {
    it(`${viewName} views are really strided`, () => {
      assert.deepEqual(view.shape, [3, 4]);
      assert.equal(view.isContiguous(), false);
    });
    for (const [family, op] of FAMILIES) {
      it(`${family} on a ${viewName} view`, () => {
        const got = op(view);
        const want = op(view.contiguous());
        assert.deepEqual(got.shape, want.shape);
        assert.equal(got.dtype, want.dtype);
        const g = Array.from(got.dataSync());
        const w = Array.from(want.dataSync());
        for (let i = 0; i < w.length; i++) {
          assert.ok(
            Object.is(g[i], w[i]) || Math.abs(g[i]! - w[i]!) <= 1e-6 * (1 + Math.abs(w[i]!)),
            `[${i}] ${g[i]} vs ${w[i]}`,
          );
        }
      });
    }
  }

  it("gradients through strided views match", () => {
    const run = (make: (x: fl.Tensor) => fl.Tensor) => {
      const x = fl.arange(12, { dtype: "float32" }).div(5).reshape([3, 4]).requiresGrad_();
      make(x)
        .matmul(fl.tensor([1, -1, 2]))
        .square()
        .sum()
        .backward();
      return x.grad!;
    };
    assertSameTensor(
      run((x) => x.t()),
      run((x) => x.t().contiguous()),
    );
    assertSameTensor(
      run((x) => x.t().mul(2)),
      run((x) => x.t().contiguous().mul(2)),
    );
  });
});
