import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { close, compareFused, leaf, withFused } from "./conv_compare.js";

// The CPU's fused max pooling (first maximum and its plane position per
// window; the backward adds at those positions) against the composite
// (gathered windows and max): geometry options, NaN, ties, float32/64.

const F = fl.nn.functional;

describe("fused maxPool2d matches the composite", () => {
  const cases: [string, number[], (x: fl.Tensor) => fl.Tensor][] = [
    ["2×2 (LeNet's)", [3, 4, 8, 8], (x) => F.maxPool2d(x, 2)],
    ["odd plane, 3×3 stride 2", [2, 3, 9, 7], (x) => F.maxPool2d(x, 3, { stride: 2 })],
    [
      "padding, dilation, ceilMode",
      [2, 2, 9, 8],
      (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1, dilation: [1, 2], ceilMode: true }),
    ],
    ["adaptive max pool", [2, 3, 7, 5], (x) => F.adaptiveMaxPool2d(x, [3, 2])],
    ["maxPool1d", [3, 2, 11], (x) => F.maxPool1d(x, 3, { stride: 2, padding: 1 })],
  ];
  for (const dtype of ["float32", "float64"] as const) {
    // Overlapping windows add gradients in another order: float32 rounding.
    const tol = dtype === "float32" ? 1e-6 : 1e-12;
    for (const [name, shape, fn] of cases) {
      test(`${name} (${dtype})`, () => compareFused(fn, [leaf(shape, dtype)], tol));
      test(`${name}, strided input (${dtype})`, () =>
        compareFused(fn, [leaf(shape, dtype, true)], tol));
    }
  }

  test("indices, ties and NaN: the first maximum wins, NaN beats everything", () => {
    const x = fl.tensor([
      [
        [
          [1, 3, 3, 0],
          [2, Number.NaN, 1, 3],
          [5, 5, -1, -2],
          [5, 4, -3, -1],
        ],
      ],
    ]);
    const ask = (on: boolean) => withFused(on, () => F.maxPool2dWithIndices(x, 2));
    const [fv, fi] = ask(true);
    const [cv, ci] = ask(false);
    close(fv, cv, 0, "values");
    assert.deepEqual(Array.from(fi.dataSync()), Array.from(ci.dataSync()));
    assert.deepEqual(Array.from(fi.dataSync()), [5, 2, 8, 10]);
  });

  test("gradcheck in float64", () => {
    // Distinct values a few eps apart would flip the argmax; spread them.
    const x = fl
      .randperm(2 * 36)
      .to("float64")
      .reshape([1, 2, 6, 6])
      .requiresGrad_();
    assert.ok(
      fl.autograd.gradcheck((a: fl.Tensor) => F.maxPool2d(a, 3, { stride: 2, padding: 1 }), [x]),
    );
  });
});
