import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { compareFused, leaf, withFused } from "./conv_compare.js";

// The CPU's fused conv2d (im2col and GEMM a few samples at a time, bias on
// the way out; its backward rebuilding the columns per chunk) against the
// composite (unfold + matmul): random odd shapes, every geometry option,
// batches that split into uneven chunks, float32 and float64.

const F = fl.nn.functional;

interface Case {
  name: string;
  x: number[];
  w: number[];
  bias: boolean;
  opts?: fl.nn.functional.ConvOptions;
  strided?: boolean;
}

const cases: Case[] = [
  {
    name: "3×3 same padding with bias",
    x: [3, 4, 7, 6],
    w: [5, 4, 3, 3],
    bias: true,
    opts: { padding: 1 },
  },
  {
    name: "5×5 valid, one input channel (LeNet's first)",
    x: [5, 1, 12, 11],
    w: [6, 1, 5, 5],
    bias: true,
  },
  {
    name: "stride 2 with padding",
    x: [2, 3, 9, 8],
    w: [4, 3, 3, 3],
    bias: false,
    opts: { stride: 2, padding: 1 },
  },
  {
    name: "1×1 stride 2 (a ResNet downsample)",
    x: [3, 5, 7, 7],
    w: [6, 5, 1, 1],
    bias: false,
    opts: { stride: 2 },
  },
  {
    name: "rectangular kernel, dilation, asymmetric stride",
    x: [2, 3, 10, 9],
    w: [4, 3, 2, 3],
    bias: true,
    opts: { stride: [2, 1], padding: [1, 2], dilation: [2, 1] },
  },
  {
    name: "padding 'same' with an even kernel",
    x: [2, 2, 6, 7],
    w: [3, 2, 4, 2],
    bias: true,
    opts: { padding: "same" },
  },
  {
    name: "dilated, padded to keep the size (input gradient as a flipped conv)",
    x: [2, 3, 8, 9],
    w: [4, 3, 3, 3],
    bias: true,
    opts: { padding: 2, dilation: 2 },
  },
  {
    name: "strided (non-contiguous) input",
    x: [2, 3, 7, 7],
    w: [4, 3, 3, 3],
    bias: true,
    strided: true,
  },
  // Valid stride-1 convs on planes barely wider than the output run on a grid as wide as the input.
  { name: "valid 5×5 on 28×28 (widened grid)", x: [3, 1, 28, 28], w: [4, 1, 5, 5], bias: true },
  {
    name: "valid 3×3, several channels (widened grid)",
    x: [4, 3, 9, 14],
    w: [5, 3, 3, 3],
    bias: false,
  },
  // Tiny planes: many samples per chunk, and a batch that does not divide into chunks.
  {
    name: "many samples per chunk, uneven last chunk",
    x: [37, 2, 4, 5],
    w: [3, 2, 2, 2],
    bias: true,
  },
];

describe("fused conv2d matches the composite", () => {
  for (const dtype of ["float32", "float64"] as const) {
    const tol = dtype === "float32" ? 3e-5 : 1e-11;
    for (const c of cases) {
      test(`${c.name} (${dtype})`, () => {
        const inputs = [leaf(c.x, dtype, c.strided), leaf(c.w, dtype)];
        if (c.bias) inputs.push(leaf([c.w[0]!], dtype));
        compareFused((x, w, b) => F.conv2d(x!, w!, b ?? null, c.opts), inputs, tol);
      });
    }
  }

  test("only some inputs need gradients (a frozen weight, an input without grad)", () => {
    const x = fl.randn([3, 2, 6, 6], { dtype: "float64" });
    const w = leaf([4, 2, 3, 3], "float64");
    const b = fl.randn([4], { dtype: "float64" });
    compareFused((w2) => F.conv2d(x, w2!, b, { padding: 1 }), [w], 1e-11);
    const xl = leaf([3, 2, 6, 6], "float64");
    const wf = fl.randn([4, 2, 3, 3], { dtype: "float64" });
    compareFused((x2) => F.conv2d(x2!, wf, null), [xl], 1e-11);
  });

  test("NaN and infinity reach exactly the outputs and gradients they touch", () => {
    for (const shape of [
      [2, 2, 9, 14],
      [2, 2, 8, 8],
    ]) {
      const x = leaf(shape, "float64");
      const w = leaf([3, 2, 3, 3], "float64");
      const bad = x.detach().clone();
      const d = bad.dataSync() as Float64Array;
      d[5] = Number.NaN; // a pixel in the first row, read by few windows
      d[shape[3]! * 3 - 1] = Number.POSITIVE_INFINITY; // the end of a row
      const xb = fl.tensor(Array.from(d), { dtype: "float64" }).reshape(shape).requiresGrad_();
      compareFused((a, k) => F.conv2d(a!, k!, null), [xb, w], 1e-11);
      compareFused((a, k) => F.conv2d(a!, k!, null, { padding: 1 }), [xb, w], 1e-11);
    }
  });

  test("gradcheck and gradgradcheck in float64", () => {
    const x = leaf([2, 2, 5, 4], "float64");
    const w = leaf([3, 2, 3, 2], "float64");
    const b = leaf([3], "float64");
    const f = (a: fl.Tensor, k: fl.Tensor, c: fl.Tensor) =>
      F.conv2d(a, k, c, { stride: [1, 2], padding: 1 });
    assert.ok(fl.autograd.gradcheck(f, [x, w, b]));
    assert.ok(fl.autograd.gradgradcheck(f, [x, w, b]));
  });

  test("the fused path really runs (one ConvolutionBackward0 node)", () => {
    const x = leaf([2, 3, 6, 6], "float32");
    const w = leaf([4, 3, 3, 3], "float32");
    assert.equal(F.conv2d(x, w, null, { padding: 1 }).gradFn?.name, "ConvolutionBackward0");
    // Grouped convolutions stay on the composite.
    const wg = leaf([4, 1, 3, 3], "float32");
    assert.notEqual(
      F.conv2d(x.narrow(1, 0, 2), wg, null, { groups: 2 }).gradFn?.name,
      "ConvolutionBackward0",
    );
    withFused(false, () => {
      assert.notEqual(F.conv2d(x, w).gradFn?.name, "ConvolutionBackward0");
    });
  });

  test("conv1d and the Conv2d layer go through it and still match", () => {
    compareFused(
      (x, w) => F.conv1d(x!, w!, null, { padding: 2 }),
      [leaf([3, 4, 11], "float64"), leaf([5, 4, 5], "float64")],
      1e-11,
    );
    fl.manualSeed(1);
    const layer = new fl.nn.Conv2d(3, 4, 3, { padding: 1, dtype: "float64" });
    compareFused((x) => layer.forward(x!), [leaf([2, 3, 5, 5], "float64")], 1e-11);
  });
});
