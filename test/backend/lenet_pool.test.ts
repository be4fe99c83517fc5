import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { close, compareFused, leaf, withFused } from "./conv_compare.js";

// 2×2 stride-2 max pooling on the SIMD kernel (src/backend/cpu/wasm/pool2x2.ts,
// four outputs at a time, the rest of each row and NaN planes in
// TypeScript) against the composite: rows whose width is not a multiple of
// 4, odd planes, many ties (small integers, signed zeros) and NaN.

const F = fl.nn.functional;

/** Values, indices and the gradient of maxPool2d(x, 2), fused or composite. */
function pool(x: fl.Tensor, fused: boolean) {
  return withFused(fused, () => {
    const l = x.detach().requiresGrad_();
    const [v, i] = F.maxPool2dWithIndices(l, 2);
    const w = fl.arange(v.numel()).to("float32").mul(0.37).sin().reshape(v.shape);
    v.mul(w).sum().backward();
    return { v, i, g: l.grad! };
  });
}

function same(x: fl.Tensor, what: string): void {
  const a = pool(x, true);
  const b = pool(x, false);
  close(a.v, b.v, 0, `${what} values`);
  assert.deepEqual(Array.from(a.i.dataSync()), Array.from(b.i.dataSync()), `${what} indices`);
  close(a.g, b.g, 0, `${what} grad`);
}

describe("SIMD 2×2 max pool matches the composite", () => {
  const shapes = [
    [64, 6, 24, 24], // LeNet's first pool: 12 outputs a row, 3 blocks
    [3, 4, 8, 8], // one block a row
    [2, 3, 9, 13], // 6 a row: a block and 2 left; odd height and width
    [2, 2, 15, 22], // 11 a row: 2 blocks and 3 left
    [1, 3, 6, 6], // 3 a row: no whole block
  ];
  for (const s of shapes) {
    test(`random ${JSON.stringify(s)}`, () => same(fl.randn(s), "random"));
    test(`ties ${JSON.stringify(s)}`, () => {
      // Few distinct values: most windows have a tie, and -0 meets 0.
      const x = fl
        .randint(-2, 2, s)
        .to("float32")
        .mul(0.5)
        .mul(fl.randint(0, 2, s).to("float32"));
      same(x, "ties");
      same(x.neg(), "negated ties");
    });
  }

  test("NaN anywhere wins its window, in blocks and in tails", () => {
    const d = fl.randn([2, 3, 9, 13]).dataSync() as Float32Array;
    for (const at of [0, 5, 27, 100, 117, 300, d.length - 1]) d[at] = Number.NaN;
    const x = fl.Tensor.fromArray(d, [2, 3, 9, 13], "cpu");
    assert.equal(Array.from(x.dataSync()).filter(Number.isNaN).length, 7);
    same(x, "NaN");
  });

  test("gradients, createGraph and gradients of gradients (float32 and float64)", () => {
    compareFused((x) => F.maxPool2d(x!, 2), [leaf([2, 3, 10, 18], "float32")], 1e-6);
    compareFused((x) => F.maxPool2d(x!, 2), [leaf([2, 3, 10, 18], "float64")], 1e-12);
  });
});
