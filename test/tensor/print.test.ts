import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inspect } from "node:util";
import * as fl from "../../src/index.js";
import { formatExp, formatFixed, formatTensor } from "../../src/tensor/print.js";

const nan = Number.NaN;
const inf = Number.POSITIVE_INFINITY;
const a = () => fl.tensor([1, 2, 3], { requiresGrad: true });

// Each expected string is PyTorch 1.13's repr of the same tensor, printed by
//   /usr/bin/python3 -c "import torch; T = torch.tensor; nan, inf = float('nan'), float('inf'); a = T([1., 2., 3.], requires_grad=True); print(repr(<expr>))"
// with <expr> the first column. (int32 tensors: flint has no int64, so its
// integer tensors print with dtype=torch.int32.)
const CASES: [string, () => fl.Tensor, string][] = [
  [
    "T([[1., 2.], [3., 4.]], requires_grad=True)",
    () =>
      fl.tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { requiresGrad: true },
      ),
    "tensor([[1., 2.],\n        [3., 4.]], requires_grad=True)",
  ],
  ["T(3.5)", () => fl.tensor(3.5), "tensor(3.5000)"],
  ["T(-0.25)", () => fl.tensor(-0.25), "tensor(-0.2500)"],
  ["T(1e-5)", () => fl.tensor(1e-5), "tensor(1.0000e-05)"],
  ["T(nan)", () => fl.tensor(Number.NaN), "tensor(nan)"],
  [
    "T([1, 2, 3], dtype=torch.int32)",
    () => fl.tensor([1, 2, 3], { dtype: "int32" }),
    "tensor([1, 2, 3], dtype=torch.int32)",
  ],
  [
    "T(7, dtype=torch.int32)",
    () => fl.tensor(7, { dtype: "int32" }),
    "tensor(7, dtype=torch.int32)",
  ],
  ["T([True, False])", () => fl.tensor([true, false]), "tensor([ True, False])"],
  ["T(True)", () => fl.tensor(true), "tensor(True)"],
  [
    "T([1.5, 2.], dtype=torch.float64)",
    () => fl.tensor([1.5, 2], { dtype: "float64" }),
    "tensor([1.5000, 2.0000], dtype=torch.float64)",
  ],
  ["a + 1", () => a().add(1), "tensor([2., 3., 4.], grad_fn=<AddBackward0>)"],
  ["(a * a).sum()", () => a().mul(a()).sum(), "tensor(14., grad_fn=<SumBackward0>)"],
  [
    "a[torch.tensor([0, 2])]",
    () => a().index(fl.tensor([0, 2], { dtype: "int32" })),
    "tensor([1., 3.], grad_fn=<IndexBackward0>)",
  ],
  ["a[1:]", () => a().index("1:"), "tensor([2., 3.], grad_fn=<SliceBackward0>)"],
  ["T([1e-5, 1.])", () => fl.tensor([1e-5, 1]), "tensor([1.0000e-05, 1.0000e+00])"],
  ["T([1., 1e9])", () => fl.tensor([1, 1e9]), "tensor([1.0000e+00, 1.0000e+09])"],
  ["T([1., 1001.])", () => fl.tensor([1, 1001]), "tensor([1.0000e+00, 1.0010e+03])"],
  ["T([1., 1000.])", () => fl.tensor([1, 1000]), "tensor([   1., 1000.])"],
  ["T([0.0001, 0.1])", () => fl.tensor([0.0001, 0.1]), "tensor([1.0000e-04, 1.0000e-01])"],
  ["T([123456.7, 0.5])", () => fl.tensor([123456.7, 0.5]), "tensor([1.2346e+05, 5.0000e-01])"],
  ["T([1.5, 2e8])", () => fl.tensor([1.5, 2e8]), "tensor([1.5000e+00, 2.0000e+08])"],
  ["T([1., nan, inf, -inf])", () => fl.tensor([1, nan, inf, -inf]), "tensor([1., nan, inf, -inf])"],
  ["T([0.5, nan, -inf])", () => fl.tensor([0.5, nan, -inf]), "tensor([0.5000,    nan,   -inf])"],
  ["T([1e-5, nan])", () => fl.tensor([1e-5, nan]), "tensor([1.0000e-05,        nan])"],
  ["T([0., 0.])", () => fl.tensor([0, 0]), "tensor([0., 0.])"],
  ["T([-0., 1.])", () => fl.tensor([-0, 1]), "tensor([-0., 1.])"],
  [
    "T([0.03125, 0.09375, -0.03125])",
    () => fl.tensor([0.03125, 0.09375, -0.03125]),
    "tensor([ 0.0312,  0.0938, -0.0312])",
  ],
  ["T([100005., 1.])", () => fl.tensor([100005, 1]), "tensor([1.0000e+05, 1.0000e+00])"],
  ["T([9.99996, 1.])", () => fl.tensor([9.99996, 1]), "tensor([10.0000,  1.0000])"],
  [
    "T([-1, 10, 100], dtype=torch.int32)",
    () => fl.tensor([-1, 10, 100], { dtype: "int32" }),
    "tensor([ -1,  10, 100], dtype=torch.int32)",
  ],
  ["torch.zeros(0)", () => fl.zeros([0]), "tensor([])"],
  ["torch.zeros(2, 0)", () => fl.zeros([2, 0]), "tensor([], size=(2, 0))"],
  [
    "torch.zeros(0, dtype=torch.int32)",
    () => fl.zeros([0], { dtype: "int32" }),
    "tensor([], dtype=torch.int32)",
  ],
  [
    "torch.zeros(0, 3, dtype=torch.bool)",
    () => fl.zeros([0, 3], { dtype: "bool" }),
    "tensor([], size=(0, 3), dtype=torch.bool)",
  ],
  [
    "torch.arange(30) / 7",
    () => fl.arange(30).div(7),
    "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n        3.8571, 4.0000, 4.1429])",
  ],
  [
    "(torch.arange(60) / 7).reshape(3, 20)",
    () => fl.arange(60).div(7).reshape([3, 20]),
    "tensor([[0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n         1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n         2.5714, 2.7143],\n        [2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143, 3.8571, 4.0000,\n         4.1429, 4.2857, 4.4286, 4.5714, 4.7143, 4.8571, 5.0000, 5.1429, 5.2857,\n         5.4286, 5.5714],\n        [5.7143, 5.8571, 6.0000, 6.1429, 6.2857, 6.4286, 6.5714, 6.7143, 6.8571,\n         7.0000, 7.1429, 7.2857, 7.4286, 7.5714, 7.7143, 7.8571, 8.0000, 8.1429,\n         8.2857, 8.4286]])",
  ],
  [
    "torch.arange(16).reshape(2, 2, 2, 2) / 4",
    () => fl.arange(16).reshape([2, 2, 2, 2]).div(4),
    "tensor([[[[0.0000, 0.2500],\n          [0.5000, 0.7500]],\n\n         [[1.0000, 1.2500],\n          [1.5000, 1.7500]]],\n\n\n        [[[2.0000, 2.2500],\n          [2.5000, 2.7500]],\n\n         [[3.0000, 3.2500],\n          [3.5000, 3.7500]]]])",
  ],
  [
    "torch.arange(2000).reshape(40, 50).float()",
    () => fl.arange(2000).reshape([40, 50]).float(),
    "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 4.7000e+01, 4.8000e+01,\n         4.9000e+01],\n        [5.0000e+01, 5.1000e+01, 5.2000e+01,  ..., 9.7000e+01, 9.8000e+01,\n         9.9000e+01],\n        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.4700e+02, 1.4800e+02,\n         1.4900e+02],\n        ...,\n        [1.8500e+03, 1.8510e+03, 1.8520e+03,  ..., 1.8970e+03, 1.8980e+03,\n         1.8990e+03],\n        [1.9000e+03, 1.9010e+03, 1.9020e+03,  ..., 1.9470e+03, 1.9480e+03,\n         1.9490e+03],\n        [1.9500e+03, 1.9510e+03, 1.9520e+03,  ..., 1.9970e+03, 1.9980e+03,\n         1.9990e+03]])",
  ],
  [
    "torch.arange(1001, dtype=torch.int32)",
    () => fl.arange(1001, { dtype: "int32" }),
    "tensor([   0,    1,    2,  ...,  998,  999, 1000], dtype=torch.int32)",
  ],
  [
    "torch.arange(1200) / 7",
    () => fl.arange(1200).div(7),
    "tensor([0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 1.7100e+02, 1.7114e+02,\n        1.7129e+02])",
  ],
  [
    "torch.arange(1100).reshape(11, 10, 10) / 3",
    () => fl.arange(1100).reshape([11, 10, 10]).div(3),
    "tensor([[[0.0000e+00, 3.3333e-01, 6.6667e-01,  ..., 2.3333e+00,\n          2.6667e+00, 3.0000e+00],\n         [3.3333e+00, 3.6667e+00, 4.0000e+00,  ..., 5.6667e+00,\n          6.0000e+00, 6.3333e+00],\n         [6.6667e+00, 7.0000e+00, 7.3333e+00,  ..., 9.0000e+00,\n          9.3333e+00, 9.6667e+00],\n         ...,\n         [2.3333e+01, 2.3667e+01, 2.4000e+01,  ..., 2.5667e+01,\n          2.6000e+01, 2.6333e+01],\n         [2.6667e+01, 2.7000e+01, 2.7333e+01,  ..., 2.9000e+01,\n          2.9333e+01, 2.9667e+01],\n         [3.0000e+01, 3.0333e+01, 3.0667e+01,  ..., 3.2333e+01,\n          3.2667e+01, 3.3000e+01]],\n\n        [[3.3333e+01, 3.3667e+01, 3.4000e+01,  ..., 3.5667e+01,\n          3.6000e+01, 3.6333e+01],\n         [3.6667e+01, 3.7000e+01, 3.7333e+01,  ..., 3.9000e+01,\n          3.9333e+01, 3.9667e+01],\n         [4.0000e+01, 4.0333e+01, 4.0667e+01,  ..., 4.2333e+01,\n          4.2667e+01, 4.3000e+01],\n         ...,\n         [5.6667e+01, 5.7000e+01, 5.7333e+01,  ..., 5.9000e+01,\n          5.9333e+01, 5.9667e+01],\n         [6.0000e+01, 6.0333e+01, 6.0667e+01,  ..., 6.2333e+01,\n          6.2667e+01, 6.3000e+01],\n         [6.3333e+01, 6.3667e+01, 6.4000e+01,  ..., 6.5667e+01,\n          6.6000e+01, 6.6333e+01]],\n\n        [[6.6667e+01, 6.7000e+01, 6.7333e+01,  ..., 6.9000e+01,\n          6.9333e+01, 6.9667e+01],\n         [7.0000e+01, 7.0333e+01, 7.0667e+01,  ..., 7.2333e+01,\n          7.2667e+01, 7.3000e+01],\n         [7.3333e+01, 7.3667e+01, 7.4000e+01,  ..., 7.5667e+01,\n          7.6000e+01, 7.6333e+01],\n         ...,\n         [9.0000e+01, 9.0333e+01, 9.0667e+01,  ..., 9.2333e+01,\n          9.2667e+01, 9.3000e+01],\n         [9.3333e+01, 9.3667e+01, 9.4000e+01,  ..., 9.5667e+01,\n          9.6000e+01, 9.6333e+01],\n         [9.6667e+01, 9.7000e+01, 9.7333e+01,  ..., 9.9000e+01,\n          9.9333e+01, 9.9667e+01]],\n\n        ...,\n\n        [[2.6667e+02, 2.6700e+02, 2.6733e+02,  ..., 2.6900e+02,\n          2.6933e+02, 2.6967e+02],\n         [2.7000e+02, 2.7033e+02, 2.7067e+02,  ..., 2.7233e+02,\n          2.7267e+02, 2.7300e+02],\n         [2.7333e+02, 2.7367e+02, 2.7400e+02,  ..., 2.7567e+02,\n          2.7600e+02, 2.7633e+02],\n         ...,\n         [2.9000e+02, 2.9033e+02, 2.9067e+02,  ..., 2.9233e+02,\n          2.9267e+02, 2.9300e+02],\n         [2.9333e+02, 2.9367e+02, 2.9400e+02,  ..., 2.9567e+02,\n          2.9600e+02, 2.9633e+02],\n         [2.9667e+02, 2.9700e+02, 2.9733e+02,  ..., 2.9900e+02,\n          2.9933e+02, 2.9967e+02]],\n\n        [[3.0000e+02, 3.0033e+02, 3.0067e+02,  ..., 3.0233e+02,\n          3.0267e+02, 3.0300e+02],\n         [3.0333e+02, 3.0367e+02, 3.0400e+02,  ..., 3.0567e+02,\n          3.0600e+02, 3.0633e+02],\n         [3.0667e+02, 3.0700e+02, 3.0733e+02,  ..., 3.0900e+02,\n          3.0933e+02, 3.0967e+02],\n         ...,\n         [3.2333e+02, 3.2367e+02, 3.2400e+02,  ..., 3.2567e+02,\n          3.2600e+02, 3.2633e+02],\n         [3.2667e+02, 3.2700e+02, 3.2733e+02,  ..., 3.2900e+02,\n          3.2933e+02, 3.2967e+02],\n         [3.3000e+02, 3.3033e+02, 3.3067e+02,  ..., 3.3233e+02,\n          3.3267e+02, 3.3300e+02]],\n\n        [[3.3333e+02, 3.3367e+02, 3.3400e+02,  ..., 3.3567e+02,\n          3.3600e+02, 3.3633e+02],\n         [3.3667e+02, 3.3700e+02, 3.3733e+02,  ..., 3.3900e+02,\n          3.3933e+02, 3.3967e+02],\n         [3.4000e+02, 3.4033e+02, 3.4067e+02,  ..., 3.4233e+02,\n          3.4267e+02, 3.4300e+02],\n         ...,\n         [3.5667e+02, 3.5700e+02, 3.5733e+02,  ..., 3.5900e+02,\n          3.5933e+02, 3.5967e+02],\n         [3.6000e+02, 3.6033e+02, 3.6067e+02,  ..., 3.6233e+02,\n          3.6267e+02, 3.6300e+02],\n         [3.6333e+02, 3.6367e+02, 3.6400e+02,  ..., 3.6567e+02,\n          3.6600e+02, 3.6633e+02]]])",
  ],
  [
    "(torch.arange(12.) / 7).requires_grad_()",
    () => fl.arange(12).div(7).requiresGrad_(),
    "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n        1.2857, 1.4286, 1.5714], requires_grad=True)",
  ],
  [
    "(torch.arange(1., 9.) * 1e-3).requires_grad_()",
    () => fl.arange(1, 9).mul(1e-3).requiresGrad_(),
    "tensor([0.0010, 0.0020, 0.0030, 0.0040, 0.0050, 0.0060, 0.0070, 0.0080],\n       requires_grad=True)",
  ],
  [
    "T([[True, False, True], [False, False, True]])",
    () =>
      fl.tensor([
        [true, false, true],
        [false, false, true],
      ]),
    "tensor([[ True, False,  True],\n        [False, False,  True]])",
  ],
  [
    "torch.arange(-3, 3).reshape(2, 3).double() / 2",
    () => fl.arange(-3, 3).reshape([2, 3]).double().div(2),
    "tensor([[-1.5000, -1.0000, -0.5000],\n        [ 0.0000,  0.5000,  1.0000]], dtype=torch.float64)",
  ],
];

describe("formatTensor prints as PyTorch 1.13", () => {
  for (const [expr, make, expected] of CASES) {
    it(expr, () => {
      assert.equal(make().toString(), expected);
    });
  }

  it("console.log / util.inspect use the same string", () => {
    const t = fl.tensor([
      [1, 2],
      [3, 4],
    ]);
    assert.equal(inspect(t), "tensor([[1., 2.],\n        [3., 4.]])");
    assert.equal(`${t}`, t.toString());
  });

  it("prints strided views by their values", () => {
    const t = fl.arange(6).reshape([2, 3]).t();
    assert.equal(
      t.toString(),
      "tensor([[0, 3],\n        [1, 4],\n        [2, 5]], dtype=torch.int32)",
    );
    assert.equal(fl.tensor([1.5]).expand([3]).toString(), "tensor([1.5000, 1.5000, 1.5000])");
  });

  it("names the device off the CPU, with values passed in", () => {
    const storage = { device: "webgpu", size: 2 };
    const t = new fl.Tensor(storage, [2], [1], 0, "float32");
    assert.equal(formatTensor(t, Float32Array.from([1, 2])), "tensor([1., 2.], device='webgpu')");
    assert.match(formatTensor(t), /^tensor\(<\[2\] on webgpu: [^>]*>,\s+device='webgpu'\)$/);
  });
});

describe("Python's number formatting", () => {
  it("{:.4f} rounds exactly, ties to even", () => {
    // python3 -c "print(['{:.4f}'.format(v) for v in [0.03125, 0.09375, 2.5e-5, -0.0, 1/3, 2.675, 1e16, 0.00015]])"
    const got = [0.03125, 0.09375, 2.5e-5, -0, 1 / 3, 2.675, 1e16, 0.00015].map((v) =>
      formatFixed(v, 4),
    );
    assert.deepEqual(got, [
      "0.0312",
      "0.0938",
      "0.0000",
      "-0.0000",
      "0.3333",
      "2.6750",
      "10000000000000000.0000",
      "0.0001",
    ]);
    // python3 -c "print(['{:.0f}'.format(v) for v in [0.5, 1.5, 2.5, -0.5, 123.0]])"
    assert.deepEqual(
      [0.5, 1.5, 2.5, -0.5, 123].map((v) => formatFixed(v, 0)),
      ["0", "2", "2", "-0", "123"],
    );
  });

  it("{:.4e}", () => {
    // python3 -c "print(['{:.4e}'.format(v) for v in [0.0, 1e-5, 100005.0, 9.99996, -123456.7, 5e-324, 1.7976931348623157e308, 1e100]])"
    const got = [0, 1e-5, 100005, 9.99996, -123456.7, 5e-324, 1.7976931348623157e308, 1e100].map(
      (v) => formatExp(v, 4),
    );
    assert.deepEqual(got, [
      "0.0000e+00",
      "1.0000e-05",
      "1.0000e+05",
      "1.0000e+01",
      "-1.2346e+05",
      "4.9407e-324",
      "1.7977e+308",
      "1.0000e+100",
    ]);
    assert.deepEqual(
      [nan, inf, -inf].map((v) => formatExp(v, 4)),
      ["nan", "inf", "-inf"],
    );
  });
});
