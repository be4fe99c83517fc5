import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fl from "../../src/index.js";
import { assertSameTensor, assertTensor, ints } from "./helpers.js";

// x[spec] against PyTorch. Expected shapes and values came from
//   /usr/bin/python3 -c "import torch; x = torch.arange(24).reshape(4,3,2); r = x[<spec>]; print(list(r.shape), r.reshape(-1).tolist())"
// (torch 1.13), one row per spec.
const CASES: [string, number[], number[]][] = [
  ["1:3, :, None", [2, 3, 1, 2], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]],
  ["..., -1", [4, 3], [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]],
  ["::2", [2, 3, 2], [0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17]],
  ["0", [3, 2], [0, 1, 2, 3, 4, 5]],
  ["-1, 1:", [2, 2], [20, 21, 22, 23]],
  [":, None, 2::3", [4, 1, 1, 2], [4, 5, 10, 11, 16, 17, 22, 23]],
  ["-4", [3, 2], [0, 1, 2, 3, 4, 5]],
  ["1:", [3, 3, 2], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]],
  [":-1", [3, 3, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]],
  ["-2:", [2, 3, 2], [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]],
  ["10:", [0, 3, 2], []],
  ["-10:2", [2, 3, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
  ["1:100", [3, 3, 2], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]],
  ["3:1", [0, 3, 2], []],
  ["::3", [2, 3, 2], [0, 1, 2, 3, 4, 5, 18, 19, 20, 21, 22, 23]],
  ["1::2, ::2, 1::2", [2, 2, 1], [7, 11, 19, 23]],
  [
    "None",
    [1, 4, 3, 2],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
  ],
  [
    "None, ..., None",
    [1, 4, 3, 2, 1],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
  ],
  [
    "...",
    [4, 3, 2],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
  ],
  ["0, 0, 0", [], [0]],
  ["-1, -1, -1", [], [23]],
  ["..., 0", [4, 3], [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]],
  ["0, ..., 1", [3], [1, 3, 5]],
  ["2, None, 1", [1, 2], [14, 15]],
  ["1:4:2, -1", [2, 2], [10, 11, 22, 23]],
  ["0,", [3, 2], [0, 1, 2, 3, 4, 5]],
  ["[0, 2]", [2, 3, 2], [0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17]],
  ["[[0], [3]], 1", [2, 1, 2], [2, 3, 20, 21]],
  [
    ":, [2, 0, 2]",
    [4, 3, 2],
    [4, 5, 0, 1, 4, 5, 10, 11, 6, 7, 10, 11, 16, 17, 12, 13, 16, 17, 22, 23, 18, 19, 22, 23],
  ],
  ["[3, -1], :, [0, 1]", [2, 3], [18, 20, 22, 19, 21, 23]],
  [":, [True, False, True]", [4, 2, 2], [0, 1, 4, 5, 6, 7, 10, 11, 12, 13, 16, 17, 18, 19, 22, 23]],
  ["0, [0, 1], [1, 0]", [2], [1, 2]],
  ["1:3, [0, 2]", [2, 2, 2], [6, 7, 10, 11, 12, 13, 16, 17]],
  ["[1, 0], None, [0, 1]", [2, 1, 2], [6, 7, 2, 3]],
  [
    "..., [1, 1, 0]",
    [4, 3, 3],
    [
      1, 1, 0, 3, 3, 2, 5, 5, 4, 7, 7, 6, 9, 9, 8, 11, 11, 10, 13, 13, 12, 15, 15, 14, 17, 17, 16,
      19, 19, 18, 21, 21, 20, 23, 23, 22,
    ],
  ],
  [
    "True",
    [1, 4, 3, 2],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
  ],
  ["False", [0, 4, 3, 2], []],
];

const x24 = () => fl.arange(24).reshape([4, 3, 2]);

describe("index: Python indexing against PyTorch", () => {
  for (const [spec, shape, values] of CASES) {
    it(`x[${spec}]`, () => {
      assertTensor(x24().index(spec), shape, values, { dtype: "int32" });
    });
  }

  it("array specs mix numbers, strings, null and tensors", () => {
    const x = x24();
    assertSameTensor(x.index([0, "::2", null]), x.index("0, ::2, None"));
    assertSameTensor(x.index(["...", null]), x.index("..., None"));
    assertSameTensor(x.index([null, 1]), x.index("None, 1"));
    assertSameTensor(x.index([":", ints([2, 0, 2])]), x.index(":, [2, 0, 2]"));
    assertSameTensor(x.index(["1:3", ints([0, 2])]), x.index("1:3, [0, 2]"));
    assertSameTensor(x.index([ints([3, -1]), ":", ints([0, 1])]), x.index("[3, -1], :, [0, 1]"));
    assertSameTensor(x.index(["1:3, None", -1]), x.index("1:3, None, -1"));
    assertSameTensor(x.index([]), x);
  });

  it("single numbers, null and tensors work as the whole spec", () => {
    const x = x24();
    assertSameTensor(x.index(2), x.index("2"));
    assertSameTensor(x.index(-1), x.index("-1"));
    assertTensor(
      x.index(null),
      [1, 4, 3, 2],
      Array.from({ length: 24 }, (_, i) => i),
    );
    assertSameTensor(x.index(ints([0, 2])), x.index("[0, 2]"));
  });

  it("int32 index tensors of any shape: idx.shape + x.shape[1:]", () => {
    const x = fl.arange(12).reshape([4, 3]);
    assertTensor(
      x.index(
        ints([
          [3, 0],
          [-1, 1],
        ]),
      ),
      [2, 2, 3],
      [9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5],
    );
    assertTensor(x.index(ints(1)), [3], [3, 4, 5]);
    assertTensor(x.index(fl.tensor([], { dtype: "int32" })), [0, 3], []);
  });

  it("bool masks select elements, over all or the leading dims", () => {
    const x = fl.arange(12).reshape([4, 3]);
    assertTensor(x.index(x.gt(7)), [4], [8, 9, 10, 11]);
    assertTensor(x.index(fl.tensor([true, false, false, true])), [2, 3], [0, 1, 2, 9, 10, 11]);
    assertTensor(
      x.index([":", fl.tensor([false, true, true])]),
      [4, 2],
      [1, 2, 4, 5, 7, 8, 10, 11],
    );
    assertTensor(x.index(x.lt(0)), [0], []);
  });

  it("several index tensors broadcast together; adjacent ones stay in place", () => {
    // torch: x = arange(60).reshape(5,3,4); i = tensor([0,1]); x[:, i, None, i].shape == (2, 5, 1); x[:, i, i].shape == (5, 2)
    const x = fl.arange(60).reshape([5, 3, 4]);
    const i = ints([0, 1]);
    assertTensor(x.index([":", i, null, i]), [2, 5, 1], [0, 12, 24, 36, 48, 5, 17, 29, 41, 53]);
    const adj = x.index([":", i, i]);
    assertTensor(adj, [5, 2], [0, 5, 12, 17, 24, 29, 36, 41, 48, 53]);
    assert.ok(adj.isContiguous(), "the result is laid out as PyTorch lays it (contiguous)");
    assertTensor(
      x.index([ints([[0], [4]]), ints([1, 2])]),
      [2, 2, 4],
      [4, 5, 6, 7, 8, 9, 10, 11, 52, 53, 54, 55, 56, 57, 58, 59],
    );
  });
});

describe("index: views and copies", () => {
  const BASIC = [
    "1:3, :, None",
    "..., -1",
    "::2",
    "0",
    "-1, 1:",
    ":, None, 2::3",
    "1::2, ::2, 1::2",
    "...",
    ":",
    "0, 0, 0",
  ];
  for (const spec of BASIC) {
    it(`x[${spec}] is a view sharing storage`, () => {
      const x = fl.arange(24, { dtype: "float32" }).reshape([4, 3, 2]);
      const y = x.index(spec);
      assert.equal(y.storage, x.storage);
      assert.notEqual(y, x, "a new tensor object, as PyTorch's alias");
      // Write through the view, read through the base.
      fl.noGrad(() => y.fill_(-7));
      const z = x.index(spec);
      assert.ok(Array.from(z.dataSync()).every((v) => v === -7));
      const untouched = Array.from(x.dataSync()).filter((v) => v !== -7).length;
      assert.equal(untouched, 24 - y.numel());
    });
  }

  it("strides and offset are those of PyTorch's view", () => {
    // torch: x = arange(24).reshape(4,3,2); y = x[1:4:2, None, ::2, -1]; y.shape, y.stride(), y.storage_offset() == (2,1,2), (12,6,4), 7
    const y = x24().index("1:4:2, None, ::2, -1");
    assert.deepEqual(y.shape, [2, 1, 2]);
    assert.deepEqual([y.strides[0], y.strides[2]], [12, 4]);
    assert.equal(y.offset, 7);
  });

  it("tensor indexing copies", () => {
    const x = fl.arange(6, { dtype: "float32" });
    const y = x.index(ints([0, 1]));
    assert.notEqual(y.storage, x.storage);
    fl.noGrad(() => y.fill_(9));
    assertTensor(x, [6], [0, 1, 2, 3, 4, 5]);
  });

  it("indexes strided inputs (transposed, expanded, sliced)", () => {
    const base = fl.arange(12).reshape([3, 4]);
    const t = base.t(); // [4, 3]
    assertSameTensor(t.index("1:, ::2"), t.contiguous().index("1:, ::2"));
    assertSameTensor(t.index(ints([3, 0])), t.contiguous().index(ints([3, 0])));
    assertSameTensor(
      t.index([ints([3, 0]), ints([2, 1])]),
      t.contiguous().index([ints([3, 0]), ints([2, 1])]),
    );
    const e = fl.arange(3).reshape([3, 1]).expand([3, 4]);
    assertSameTensor(e.index(":, [0, 3]"), e.contiguous().index(":, [0, 3]"));
    assertSameTensor(e.index(e.gt(0)), e.contiguous().index(e.gt(0)));
  });
});

// Gradients against PyTorch: x = arange(12.).reshape(3,4).requires_grad_(); y = x[<spec>];
// (y * arange(1., y.numel()+1).reshape(y.shape)).sum().backward(); x.grad, and type(y.grad_fn).__name__
const GRADS: [string, number[], number[], number[]][] = [
  [
    "[0, 0, 2]",
    [3, 4],
    [0, 1, 2, 3, 0, 1, 2, 3, 8, 9, 10, 11],
    [6, 8, 10, 12, 0, 0, 0, 0, 9, 10, 11, 12],
  ],
  [":, [1, 1, 3]", [3, 3], [1, 1, 3, 5, 5, 7, 9, 9, 11], [0, 3, 0, 3, 0, 9, 0, 6, 0, 15, 0, 9]],
  ["[0, 2, 0], [1, 1, 1]", [3], [1, 9, 1], [0, 4, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]],
  ["1:, [0, 0]", [2, 2], [4, 4, 8, 8], [0, 0, 0, 0, 3, 0, 0, 0, 7, 0, 0, 0]],
  ["0, 1:3", [2], [1, 2], [0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
  ["::2, None, -1", [2, 1], [3, 11], [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]],
  [
    "[[0, 1], [1, 1]], ::3",
    [2, 2, 2],
    [0, 3, 4, 7, 4, 7, 4, 7],
    [1, 0, 0, 2, 15, 0, 0, 18, 0, 0, 0, 0],
  ],
];

// PyTorch's grad_fn names: tensor indices give IndexBackward0, basic ones the last view's.
const GRAD_FN: Record<string, string> = {
  "0, 1:3": "SliceBackward0",
  "::2, None, -1": "SelectBackward0",
};

describe("index: gradients", () => {
  for (const [spec, shape, values, grad] of GRADS) {
    it(`d/dx of x[${spec}] (repeated indices accumulate)`, () => {
      const x = fl.arange(12, { dtype: "float32" }).reshape([3, 4]).detach().requiresGrad_();
      const y = x.index(spec);
      assertTensor(y, shape, values);
      assert.equal(y.gradFn?.name, GRAD_FN[spec] ?? "IndexBackward0");
      const w = fl.arange(1, y.numel() + 1, { dtype: "float32" }).reshape(y.shape);
      y.mul(w).sum().backward();
      assertTensor(x.grad!, [3, 4], grad);
    });
  }

  it("bool mask gradient", () => {
    const x = fl.arange(12, { dtype: "float32" }).reshape([3, 4]).detach().requiresGrad_();
    const y = x.index(x.detach().gt(5));
    y.mul(fl.arange(1, 7, { dtype: "float32" }))
      .sum()
      .backward();
    assertTensor(x.grad!, [3, 4], [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
  });

  it("gradcheck and gradgradcheck in float64 through slices and tensor indices", () => {
    const x = fl.randn([4, 3], { dtype: "float64" }).requiresGrad_();
    assert.ok(
      fl.autograd.gradgradcheck(
        (t: fl.Tensor) => t.index([ints([0, 3, 0]), ints([2, 2, 1])]).square(),
        [x],
      ),
    );
    assert.ok(fl.autograd.gradgradcheck((t: fl.Tensor) => t.index(":, [1, 1]").square(), [x]));
    assert.ok(
      fl.autograd.gradcheck((t: fl.Tensor) => t.index([ints([0, 3, 0]), "1:"]).square(), [x]),
    );
    assert.ok(fl.autograd.gradcheck((t: fl.Tensor) => t.index("::2, None, -1").exp(), [x]));
  });

  it("x[:] on a leaf records AliasBackward0 like PyTorch's x[...]", () => {
    const x = fl.ones([2]).requiresGrad_();
    const y = x.index("...");
    assert.equal(y.gradFn?.name, "AliasBackward0");
    y.sum().backward();
    assertTensor(x.grad!, [2], [1, 1]);
  });
});

describe("index: errors", () => {
  const x = fl.zeros([2, 3]);
  const cases: [string, RegExp][] = [
    [
      "0, 1, 2",
      /^index: too many indices for tensor of dimension 2 \(got 3 in "0, 1, 2"; shape \[2,3\]\)$/,
    ],
    [
      "2",
      /^index: index 2 is out of bounds for dimension 0 with size 2 \(in "2"; shape \[2,3\]\)$/,
    ],
    [":, -4", /index -4 is out of bounds for dimension 1 with size 3/],
    ["::0", /slice step cannot be zero \(in "::0"; shape \[2,3\]\)/],
    ["::-1", /slice step must be greater than zero, got -1/],
    ["a", /^index: cannot parse "a"/],
    ["1.5", /cannot parse "1.5"/],
    ["1:2:3:4", /cannot parse slice "1:2:3:4"/],
    ["x:", /cannot parse slice bound "x"/],
    ["..., ...", /single ellipsis/],
    ["0,,1", /empty index item/],
    ["", /empty index item/],
    ["[[0], [1, 2]]", /rectangular list/],
    ["[5]", /index 5 is out of bounds for dimension 0 with size 2/],
  ];
  for (const [spec, message] of cases) {
    it(`x[${spec}] throws ArgumentError`, () => {
      assert.throws(
        () => x.index(spec),
        (e: unknown) => e instanceof fl.ArgumentError && message.test(e.message),
      );
    });
  }

  it("rejects float index tensors, bad masks and non-integers", () => {
    assert.throws(() => x.index(fl.tensor([0])), fl.DTypeError);
    assert.throws(
      () => x.index(fl.tensor([true, false, true])),
      /the shape of the mask \[3\] does not match/,
    );
    assert.throws(() => x.index(0.5), fl.ArgumentError);
    assert.throws(() => x.index([ints([0, 1]), ints([0, 1, 2])]), /cannot be broadcast together/);
  });
});

describe("indexPut_", () => {
  it("writes through basic, tensor and mask indices like x[spec] = v", () => {
    // torch: x = zeros(3,4); x[0, 1:3] = 5; x[:, [3, 3]] = tensor([1., 2.]); x[x > 4] = -1
    const x = fl.zeros([3, 4]);
    x.indexPut_("0, 1:3", 5);
    x.indexPut_([":", ints([3, 3])], fl.tensor([1, 2]));
    x.indexPut_(x.gt(4), -1);
    assertTensor(x, [3, 4], [0, -1, -1, 2, 0, 0, 0, 2, 0, 0, 0, 2]);
  });

  it("accumulates repeated indices", () => {
    // torch: x.index_put_((tensor([0,0,2]),), tensor(1.), accumulate=True)
    const a = fl.zeros([3, 4]).indexPut_(ints([0, 0, 2]), 1, { accumulate: true });
    assertTensor(a, [3, 4], [2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1]);
    // torch: x.index_put_((tensor([0,0,2]), tensor([1,1,3])), tensor([1.,2.,3.]), accumulate=True)
    const b = fl
      .zeros([3, 4])
      .indexPut_([ints([0, 0, 2]), ints([1, 1, 3])], fl.tensor([1, 2, 3]), { accumulate: true });
    assertTensor(b, [3, 4], [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
  });

  it("writes into a strided view's storage", () => {
    const base = fl.zeros([3, 4]);
    const t = base.t(); // [4, 3], strides [1, 4]
    t.indexPut_([ints([1, 3]), 2], fl.tensor([7, 8]));
    assertTensor(base, [3, 4], [0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 8]);
  });

  it("refuses leaves that require grad unless under noGrad", () => {
    const w = fl.zeros([3]).requiresGrad_();
    assert.throws(() => w.indexPut_("0", 1), fl.AutogradError);
    fl.noGrad(() => w.indexPut_("0", 1));
    assertTensor(w, [3], [1, 0, 0]);
  });
});
