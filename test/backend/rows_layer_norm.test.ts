// Layer norm's SIMD kernels (src/backend/cpu/wasm/rows.ts: float32 rows
// whose length is a multiple of 4) against the scalar fused loops and the
// composite: outputs and the gradients of x, weight and bias on random
// shapes (row lengths 4 … 516, odd row counts, odd lengths that stay
// scalar), strided inputs, with and without the affine, large offsets
// (catastrophic-cancellation territory for a one-pass variance); float64
// goes the scalar way unchanged; createGraph falls back to the composite;
// gradcheck in float64.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setRowKernels } from "../../src/backend/cpu/wasm/rows.js";
import { setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;

type Mode = "simd" | "scalar" | "composite";

function run<T>(mode: Mode, fn: () => T): T {
  const simd = setRowKernels(mode === "simd");
  const fused = setFusedKernels(mode !== "composite");
  try {
    return fn();
  } finally {
    setRowKernels(simd);
    setFusedKernels(fused);
  }
}

interface Result {
  y: number[];
  gx: number[];
  gw: number[] | null;
  gb: number[] | null;
}

const arr = (t: fl.Tensor | null) => (t ? Array.from(t.dataSync() as ArrayLike<number>) : null);

/** y = layerNorm(view(x)) and the gradients of sum(y · u). */
function layerNormOf(
  mode: Mode,
  x0: fl.Tensor,
  u: fl.Tensor,
  cols: number,
  affine: { w: fl.Tensor; b: fl.Tensor } | null,
  view: (t: fl.Tensor) => fl.Tensor = (t) => t,
): Result {
  return run(mode, () => {
    const x = x0.detach().requiresGrad_();
    const w = affine ? affine.w.detach().requiresGrad_() : null;
    const b = affine ? affine.b.detach().requiresGrad_() : null;
    const y = F.layerNorm(view(x), [cols], { weight: w, bias: b });
    y.mul(u).sum().backward();
    return { y: arr(y)!, gx: arr(x.grad)!, gw: arr(w?.grad ?? null), gb: arr(b?.grad ?? null) };
  });
}

function close(got: number[] | null, want: number[] | null, tol: number, what: string): void {
  assert.equal(got === null, want === null, `${what}: presence`);
  if (!got || !want) return;
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= tol * (1 + Math.abs(want[i]!)))) {
      assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]} (tol ${tol})`);
    }
  }
}

function compare(got: Result, want: Result, tol: number, what: string): void {
  close(got.y, want.y, tol, `${what} y`);
  close(got.gx, want.gx, tol, `${what} gx`);
  close(got.gw, want.gw, tol, `${what} gw`);
  close(got.gb, want.gb, tol, `${what} gb`);
}

describe("SIMD layer norm", () => {
  test("matches the scalar loop and the composite on random shapes (float32)", () => {
    fl.manualSeed(11);
    const shapes: [number, number][] = [
      [64, 4],
      [37, 8],
      [9, 128],
      [3, 516],
      [129, 12],
      [50, 7], // odd row length: the scalar loop
      [100, 5],
    ];
    for (const [rows, cols] of shapes) {
      for (const withAffine of [true, false]) {
        const x = fl.randn([rows, cols]).mul(2).add(0.5);
        const u = fl.randn([rows, cols]);
        const affine = withAffine ? { w: fl.randn([cols]), b: fl.randn([cols]) } : null;
        const simd = layerNormOf("simd", x, u, cols, affine);
        const what = `[${rows}, ${cols}] affine=${withAffine}`;
        compare(simd, layerNormOf("scalar", x, u, cols, affine), 2e-5, `${what} vs scalar`);
        compare(simd, layerNormOf("composite", x, u, cols, affine), 5e-5, `${what} vs composite`);
      }
    }
  });

  test("the SIMD kernel really runs (differs in the last bits from the double loop)", () => {
    // Not a correctness claim: a guard that the switch reaches the kernel, so
    // the comparisons above compare two implementations, not one.
    fl.manualSeed(12);
    const x = fl.randn([64, 128]);
    const u = fl.randn([64, 128]);
    const a = layerNormOf("simd", x, u, 128, null);
    const b = layerNormOf("scalar", x, u, 128, null);
    assert.notDeepEqual(a.gx, b.gx);
  });

  test("strided and 3-d inputs, batch and sequence dims", () => {
    fl.manualSeed(13);
    const x = fl.randn([16, 5, 24]);
    const u = fl.randn([5, 16, 24]);
    const affine = { w: fl.randn([24]), b: fl.randn([24]) };
    const view = (t: fl.Tensor) => t.transpose(0, 1);
    const simd = layerNormOf("simd", x, u, 24, affine, view);
    compare(simd, layerNormOf("composite", x, u, 24, affine, view), 5e-5, "transposed");
    const narrow = (t: fl.Tensor) => t.narrow(0, 3, 11);
    const u2 = fl.randn([11, 5, 24]);
    compare(
      layerNormOf("simd", x, u2, 24, affine, narrow),
      layerNormOf("scalar", x, u2, 24, affine, narrow),
      2e-5,
      "narrowed (offset storage)",
    );
  });

  test("large offsets: the variance is taken about the mean (no cancellation)", () => {
    fl.manualSeed(14);
    const x = fl.randn([40, 32]).add(1e4);
    const u = fl.randn([40, 32]);
    const simd = layerNormOf("simd", x, u, 32, null);
    const x64 = x.to("float64");
    const ref = layerNormOf("composite", x64, u.to("float64"), 32, null);
    // float32 values near 1e4 are 1e-3 apart, and the mean is subtracted
    // as a float32 (as the composite does): ~1e-3 of a unit-variance row.
    // A one-pass E[x²] − E[x]² in float32 would be off by the whole variance.
    close(simd.y, ref.y, 2e-3, "y");
    close(simd.gx, ref.gx, 2e-3, "gx");
  });

  test("float64 stays on the double loop, equal with SIMD on or off", () => {
    fl.manualSeed(15);
    const x = fl.randn([33, 16], { dtype: "float64" });
    const u = fl.randn([33, 16], { dtype: "float64" });
    const affine = {
      w: fl.randn([16], { dtype: "float64" }),
      b: fl.randn([16], { dtype: "float64" }),
    };
    assert.deepEqual(
      layerNormOf("simd", x, u, 16, affine),
      layerNormOf("scalar", x, u, 16, affine),
    );
  });

  test("createGraph (second order) through the composite backward", () => {
    fl.manualSeed(16);
    const x0 = fl.randn([70, 8]);
    const w0 = fl.randn([8]);
    const second = (mode: Mode) =>
      run(mode, () => {
        const x = x0.detach().requiresGrad_();
        const w = w0.detach().requiresGrad_();
        const y = F.layerNorm(x, [8], { weight: w });
        const [g] = fl.autograd.grad([y.square().sum()], [x], { createGraph: true });
        g!.square().sum().backward();
        return [arr(x.grad)!, arr(w.grad)!];
      });
    const a = second("simd");
    const b = second("composite");
    close(a[0]!, b[0]!, 2e-4, "x second-order grad");
    close(a[1]!, b[1]!, 2e-4, "w second-order grad");
  });

  test("gradcheck in float64", () => {
    const x = fl.randn([5, 8], { dtype: "float64", requiresGrad: true });
    const w = fl.randn([8], { dtype: "float64", requiresGrad: true });
    const b = fl.randn([8], { dtype: "float64", requiresGrad: true });
    assert.ok(
      fl.autograd.gradcheck(
        (xi, wi, bi) => F.layerNorm(xi, [8], { weight: wi, bias: bi }),
        [x, w, b],
      ),
    );
  });
});
