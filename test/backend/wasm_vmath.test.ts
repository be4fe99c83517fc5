// The WebAssembly SIMD vector exp (src/backend/cpu/wasm/vmath.ts), which
// softmax, log-softmax and GELU use for float32, against Math.exp over its
// whole range, at sizes that are not multiples of the 4-lane vector.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import { simdExpInPlace, VMATH_MIN } from "../../src/backend/cpu/wasm/vmath.js";
import * as fl from "../../src/index.js";
import { setFusedOptimizers } from "../../src/optim/fused.js";

describe("SIMD exp", { skip: !wasmFeatures().simd && "no WebAssembly SIMD" }, () => {
  test("matches Math.exp to float32 accuracy from −87 to 88; underflows to 0 below", () => {
    for (const n of [VMATH_MIN, VMATH_MIN + 1, 1003]) {
      const xs = Float32Array.from({ length: n }, (_, i) => -100 + (190 * i) / (n - 1));
      xs[0] = Number.NaN;
      xs[1] = Number.NEGATIVE_INFINITY;
      xs[2] = 0;
      let got: Float32Array | null = null;
      const ran = simdExpInPlace(
        n,
        (mem) => mem.set(xs),
        (mem) => {
          got = mem.slice();
        },
      );
      assert.equal(ran, true);
      const out = got as unknown as Float32Array;
      assert.ok(Number.isNaN(out[0]!), "exp(NaN) is NaN");
      assert.equal(out[1], 0, "exp(-inf) is 0");
      assert.equal(out[2], 1, "exp(0) is exactly 1");
      for (let i = 3; i < n; i++) {
        const x = xs[i]!;
        const want = Math.exp(x);
        if (x < -87.3) assert.equal(out[i], 0, `exp(${x}) underflows to 0`);
        else if (x <= 88) {
          const rel = Math.abs(out[i]! - want) / want;
          assert.ok(rel < 4e-7, `exp(${x}): ${out[i]} vs ${want} (relative error ${rel})`);
        }
      }
    }
  });

  test("declines below the size where the copies pay", () => {
    assert.equal(
      simdExpInPlace(
        VMATH_MIN - 1,
        () => assert.fail("fill must not run"),
        () => {},
      ),
      false,
    );
  });
});

describe("SIMD Adam", { skip: !wasmFeatures().simd && "no WebAssembly SIMD" }, () => {
  // The fused step's SIMD path (float32, ≥ 256 elements) against the composed
  // Adam/AdamW of src/optim: a parameter spanning two chunks plus an odd
  // tail, several steps, each option that changes the update's formula.
  function trajectory(
    fused: boolean,
    make: (p: fl.Tensor[]) => fl.optim.Optimizer<fl.optim.OptimizerOptions>,
  ): Float32Array {
    const was = setFusedOptimizers(fused);
    try {
      fl.manualSeed(3);
      const p = fl.randn([16384 + 16384 + 37]);
      p.requiresGrad = true;
      const opt = make([p]);
      for (let s = 0; s < 5; s++) {
        p.grad = fl.randn(p.shape);
        opt.step();
      }
      return p.dataSync() as Float32Array;
    } finally {
      setFusedOptimizers(was);
    }
  }

  const makers: [string, (p: fl.Tensor[]) => fl.optim.Optimizer<fl.optim.OptimizerOptions>][] = [
    ["Adam", (p) => new fl.optim.Adam(p, { lr: 1e-2 })],
    [
      "Adam, L2 weight decay, maximize",
      (p) => new fl.optim.Adam(p, { lr: 1e-2, weightDecay: 0.1, maximize: true }),
    ],
    ["AdamW", (p) => new fl.optim.AdamW(p, { lr: 1e-2, weightDecay: 0.05 })],
  ];
  for (const [name, make] of makers) {
    test(`${name} follows the composed update`, () => {
      const got = trajectory(true, make);
      const want = trajectory(false, make);
      for (let i = 0; i < got.length; i++) {
        assert.ok(
          Math.abs(got[i]! - want[i]!) <= 2e-6 * (1 + Math.abs(want[i]!)),
          `${name}: element ${i}: ${got[i]} vs ${want[i]}`,
        );
      }
    });
  }
});
