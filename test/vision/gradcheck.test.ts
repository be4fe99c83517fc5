// Every new vision op against central differences in float64, and the
// im2col pair (unfold/fold) and conv twice (gradgradcheck): their backward
// rules are written with flint ops, so they differentiate again.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;
const { gradcheck, gradgradcheck } = fl.autograd;

/** Seeded float64 normal values as a leaf that requires grad. */
function leaf(shape: number[], seed: number, scale = 1): fl.Tensor {
  const g = new fl.Generator().manualSeed(seed);
  return fl.randn(shape, { dtype: "float64", generator: g }).mul(scale).detach().requiresGrad_();
}

describe("gradcheck: convolution", () => {
  test("conv2d with stride, padding, dilation, groups and bias", () => {
    const x = leaf([2, 4, 5, 6], 1);
    const w = leaf([6, 2, 2, 3], 2);
    const b = leaf([6], 3);
    assert.ok(
      gradcheck(
        (x, w, b) =>
          F.conv2d(x!, w!, b!, { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }),
        [x, w, b],
      ),
    );
  });
  test("conv2d padding 'same' (even kernel)", () => {
    assert.ok(
      gradcheck(
        (x, w) => F.conv2d(x!, w!, null, { padding: "same" }),
        [leaf([1, 2, 4, 4], 4), leaf([3, 2, 2, 2], 5)],
      ),
    );
  });
  test("conv1d", () => {
    assert.ok(
      gradcheck(
        (x, w, b) => F.conv1d(x!, w!, b!, { stride: 2, padding: 1 }),
        [leaf([2, 3, 7], 6), leaf([2, 3, 3], 7), leaf([2], 8)],
      ),
    );
  });
  test("convTranspose2d with outputPadding and groups", () => {
    const x = leaf([1, 4, 3, 3], 9);
    const w = leaf([4, 1, 3, 2], 10);
    const b = leaf([2], 11);
    assert.ok(
      gradcheck(
        (x, w, b) =>
          F.convTranspose2d(x!, w!, b!, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
        [x, w, b],
      ),
    );
  });
  test("unfold and fold", () => {
    assert.ok(
      gradcheck(
        (x) => F.unfold(x!, [2, 3], { padding: 1, stride: [1, 2] }),
        [leaf([1, 2, 4, 5], 12)],
      ),
    );
    assert.ok(
      gradcheck(
        (c) => F.fold(c!, [4, 5], 2, { padding: 1, stride: 2 }),
        [leaf([1, 2 * 4, 3 * 3], 13)],
      ),
    );
  });
  test("second order: conv2d, unfold, fold", () => {
    const x = leaf([1, 2, 4, 4], 14);
    const w = leaf([2, 2, 3, 3], 15);
    assert.ok(gradgradcheck((x, w) => F.conv2d(x!, w!, null, { padding: 1, stride: 2 }), [x, w]));
    assert.ok(
      gradgradcheck((x) => F.unfold(x!, 2, { padding: 1 }).square(), [leaf([1, 1, 3, 3], 16)]),
    );
    assert.ok(gradgradcheck((c) => F.fold(c!, [3, 3], 2).square(), [leaf([1, 4, 4], 17)]));
  });
  for (const mode of ["constant", "reflect", "replicate", "circular"] as const) {
    test(`pad ${mode}`, () => {
      assert.ok(
        gradcheck((x) => F.pad(x!, [2, 1, 1, 2], { mode, value: 0.5 }), [leaf([1, 2, 3, 4], 18)]),
      );
    });
  }
});

describe("gradcheck: pooling and resizing", () => {
  test("maxPool2d with padding, dilation and ceilMode", () => {
    assert.ok(
      gradcheck(
        (x) => F.maxPool2d(x!, 3, { stride: 2, padding: 1, dilation: [1, 2], ceilMode: true }),
        [leaf([1, 2, 6, 7], 20)],
      ),
    );
  });
  test("maxPool1d and avgPool1d", () => {
    assert.ok(gradcheck((x) => F.maxPool1d(x!, 2, { stride: 1 }), [leaf([2, 2, 5], 21)]));
    assert.ok(
      gradcheck(
        (x) => F.avgPool1d(x!, 3, { padding: 1, countIncludePad: false }),
        [leaf([2, 2, 7], 22)],
      ),
    );
  });
  test("avgPool2d with ceilMode", () => {
    assert.ok(
      gradcheck(
        (x) => F.avgPool2d(x!, 3, { stride: 2, padding: 1, ceilMode: true }),
        [leaf([1, 2, 6, 5], 23)],
      ),
    );
  });
  test("adaptive average and max pooling", () => {
    assert.ok(gradcheck((x) => F.adaptiveAvgPool2d(x!, [3, 2]), [leaf([1, 2, 7, 5], 24)]));
    assert.ok(gradcheck((x) => F.adaptiveMaxPool2d(x!, [2, 3]), [leaf([1, 2, 5, 7], 25)]));
  });
  test("interpolate nearest, bilinear, bilinear alignCorners, linear", () => {
    const x = leaf([1, 2, 3, 4], 26);
    assert.ok(gradcheck((x) => F.interpolate(x!, { scaleFactor: 2 }), [x]));
    assert.ok(gradcheck((x) => F.interpolate(x!, { size: [5, 7], mode: "bilinear" }), [x]));
    assert.ok(
      gradcheck(
        (x) => F.interpolate(x!, { size: [5, 3], mode: "bilinear", alignCorners: true }),
        [x],
      ),
    );
    assert.ok(
      gradcheck(
        (x) => F.interpolate(x!, { scaleFactor: 1.5, mode: "linear" }),
        [leaf([2, 2, 4], 27)],
      ),
    );
  });
});

describe("gradcheck: normalization", () => {
  test("batchNorm in training mode (input, weight, bias)", () => {
    const x = leaf([4, 3, 2, 2], 30);
    assert.ok(
      gradcheck(
        (x, w, b) => F.batchNorm(x!, null, null, { weight: w!, bias: b!, training: true }),
        [x, leaf([3], 31), leaf([3], 32)],
      ),
    );
  });
  test("batchNorm in eval mode", () => {
    const rm = fl.randn([3], { dtype: "float64" });
    const rv = fl.rand([3], { dtype: "float64" }).add(0.5);
    assert.ok(gradcheck((x) => F.batchNorm(x!, rm, rv), [leaf([4, 3], 33)]));
  });
  test("layerNorm, groupNorm, instanceNorm, localResponseNorm", () => {
    assert.ok(
      gradcheck(
        (x, w, b) => F.layerNorm(x!, [2, 3], { weight: w!, bias: b! }),
        [leaf([2, 2, 3], 34), leaf([2, 3], 35), leaf([2, 3], 36)],
      ),
    );
    assert.ok(
      gradcheck((x, w) => F.groupNorm(x!, 2, { weight: w! }), [leaf([2, 4, 3], 37), leaf([4], 38)]),
    );
    assert.ok(gradcheck((x) => F.instanceNorm(x!), [leaf([2, 2, 3, 2], 39)]));
    assert.ok(
      gradcheck(
        (x) => F.localResponseNorm(x!, 3, { alpha: 0.1, k: 1.5 }),
        [leaf([1, 4, 2, 2], 40)],
      ),
    );
  });
  test("second order: batchNorm", () => {
    assert.ok(
      gradgradcheck((x) => F.batchNorm(x!, null, null, { training: true }), [leaf([3, 2, 2], 41)]),
    );
  });
});

describe("gradcheck: weight and spectral norm", () => {
  // The hooks read their members on every forward, so leaves swapped in
  // for them are differentiated through the layer's own code.
  type Members = Record<string, fl.Tensor>;
  test("weightNorm through weight_g and weight_v", () => {
    const conv = fl.nn.utils.weightNorm(new fl.nn.Conv2d(2, 3, 2).double());
    const m = conv as unknown as Members;
    const x = leaf([1, 2, 3, 3], 50);
    const g = m.weight_g!.detach().requiresGrad_();
    const v = m.weight_v!.detach().requiresGrad_();
    assert.ok(
      gradcheck(
        (g, v) => {
          m.weight_g = g!;
          m.weight_v = v!;
          return conv.forward(x);
        },
        [g, v],
      ),
    );
  });
  test("spectralNorm through weight_orig (eval: u, v fixed)", () => {
    fl.manualSeed(0);
    const fc = fl.nn.utils.spectralNorm(new fl.nn.Linear(3, 4).double()).eval();
    const m = fc as unknown as Members;
    const x = leaf([2, 3], 51);
    assert.ok(
      gradcheck(
        (w) => {
          m.weight_orig = w!;
          return fc.forward(x);
        },
        [m.weight_orig!.detach().clone().requiresGrad_()],
      ),
    );
  });
});
