import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fusedKernels, setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { linearGelu } from "../../src/nn/functional/linear.js";

// The exact-GELU SIMD kernels (src/backend/cpu/gelu.ts), linearGelu (bias
// + GELU in one pass over the GEMM output) and the sumRows bias gradient,
// each against the composite (fused kernels off): values, gradients and
// gradients of gradients, on odd sizes (row widths not a multiple of 4
// take the addBias + GELU fallback), strided inputs and both float dtypes.

const F = fl.nn.functional;
const { nn } = fl;

function withFused<T>(on: boolean, fn: () => T): T {
  const was = setFusedKernels(on);
  try {
    return fn();
  } finally {
    setFusedKernels(was);
  }
}

function close(a: fl.Tensor, b: fl.Tensor, tol: number, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const u = Number(x[i]);
    const v = Number(y[i]);
    if (Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v))) continue;
    if (!(Math.abs(u - v) <= tol * (1 + Math.abs(v))))
      assert.fail(`${what}[${i}]: fused ${u}, composite ${v}`);
  }
}

describe("exact GELU SIMD kernels", () => {
  test("GELU and its gradient against float64 over a wide range, odd length", () => {
    fl.manualSeed(1);
    const values = Array.from(fl.randn([1037]).mul(6).dataSync() as Float32Array);
    const special = [0, -0, 1e-30, -40, 40, -5.6, 5.6, -3.9, Number.NEGATIVE_INFINITY, Number.NaN];
    special.forEach((v, i) => {
      values[i * 7] = v;
    });
    const x = fl.tensor(values);
    const g = fl.randn([1037]);
    const xg = x.detach().requiresGrad_();
    const y = F.gelu(xg);
    assert.equal(y.gradFn?.name, "GeluBackward0");
    const [dx] = fl.autograd.grad(y.mul(g).sum(), [xg]);
    const x64 = x.to("float64").requiresGrad_();
    const [y64, dx64] = withFused(false, () => {
      const r = F.gelu(x64);
      return [r, fl.autograd.grad(r.mul(g.to("float64")).sum(), [x64])[0]!];
    });
    close(y, y64!.to("float32"), 1e-6, "gelu");
    close(dx!, dx64!.to("float32"), 1e-6, "gelu'");
    // The far tails are exact: Φ is 0 or 1 there.
    assert.ok(Object.is(Number(y.dataSync()[3 * 7]), -0));
    assert.equal(Number(y.dataSync()[4 * 7]), 40);
  });
});

describe("linearGelu", () => {
  const cases = [
    { name: "[16, 64] width 32 (bias + GELU kernel)", x: [4, 16, 24], out: 32 },
    { name: "width 21 (addBias + GELU fallback)", x: [5, 13], out: 21 },
    { name: "small (below the SIMD size)", x: [2, 3], out: 4 },
    { name: "strided input", x: [6, 20, 9], out: 28, strided: true },
  ];
  for (const c of cases) {
    for (const dtype of ["float32", "float64"] as const) {
      test(`${c.name}, ${dtype}: matches gelu(linear), first and second order`, () => {
        const run = (on: boolean) =>
          withFused(on, () => {
            fl.manualSeed(7);
            let x = fl.randn(c.strided ? [c.x[0]!, c.x[2]!, c.x[1]!] : c.x, { dtype });
            if (c.strided) x = x.transpose(-1, -2);
            x = x.detach().requiresGrad_();
            const inF = x.shape[x.ndim - 1]!;
            const w = fl.randn([c.out, inF], { dtype }).requiresGrad_();
            const b = fl.randn([c.out], { dtype }).requiresGrad_();
            const y = on ? linearGelu(x, w, b) : F.gelu(x.matmul(w.t()).add(b));
            const gy = fl.randn(y.shape, { dtype });
            const gs = fl.autograd.grad(y.mul(gy).sum(), [x, w, b], { createGraph: true });
            const gg = fl.autograd.grad(gs[0]!.square().sum().add(gs[2]!.sum()), [x, w, b]);
            return [y, ...gs, ...gg] as fl.Tensor[];
          });
        const fused = run(true);
        const comp = run(false);
        // float32 second-order terms differ by rounding in GELU'' (both sides composite there).
        const tol = (i: number) => (dtype === "float64" ? 1e-10 : i < 4 ? 2e-5 : 1e-3);
        for (const [i, t] of fused.entries()) close(t, comp[i]!, tol(i), `${c.name} #${i}`);
      });
    }
  }

  test("gradcheck and gradgradcheck in float64", () => {
    const x = fl.randn([3, 5], { dtype: "float64", requiresGrad: true });
    const w = fl.randn([8, 5], { dtype: "float64", requiresGrad: true });
    const b = fl.randn([8], { dtype: "float64", requiresGrad: true });
    assert.ok(fl.autograd.gradcheck((a, m, c) => linearGelu(a, m, c), [x, w, b]));
    assert.ok(fl.autograd.gradgradcheck((a, m, c) => linearGelu(a, m, c), [x, w, b]));
  });

  test("the fused kernel really runs: biased input kept, GELU out, two nodes", () => {
    const k = fusedKernels("cpu");
    assert.ok(k.geluBias && k.sumRows);
    const x = fl.randn([70, 12], { requiresGrad: true });
    const w = fl.randn([16, 12], { requiresGrad: true });
    const b = fl.randn([16], { requiresGrad: true });
    const y = linearGelu(x, w, b);
    assert.equal(y.gradFn?.name, "GeluBackward0");
    const saved = y.gradFn!.inputs[0] as fl.Tensor;
    assert.equal(saved.gradFn?.name, "AddmmBackward0");
    const pre = withFused(false, () => x.matmul(w.t()).add(b));
    close(saved, pre, 1e-5, "saved pre-activation");
  });

  test("TransformerEncoderLayer keeps linear1's forward hooks (no fusion then)", () => {
    const layer = new nn.TransformerEncoderLayer(8, 2, {
      dimFeedforward: 16,
      dropout: 0,
      activation: "gelu",
      batchFirst: true,
    });
    let calls = 0;
    layer.linear1.registerForwardHook(() => {
      calls++;
    });
    const x = fl.randn([2, 5, 8]);
    const hooked = layer.forward(x);
    assert.equal(calls, 1);
    const plain = withFused(false, () => layer.forward(x));
    close(hooked, plain, 1e-5, "hooked layer");
  });
});

describe("sumRows (the linear bias gradient)", () => {
  test("matches sum(0) on contiguous and strided gradients", () => {
    const k = fusedKernels("cpu");
    for (const dtype of ["float32", "float64"] as const) {
      const g = fl.randn([37, 11], { dtype });
      for (const t of [g, fl.randn([11, 37], { dtype }).t()]) {
        const got = fl.Tensor.fromStorage(k.sumRows!(t, 37, 11), [11], dtype);
        close(got, t.sum(0), dtype === "float64" ? 1e-12 : 1e-5, `sumRows ${dtype}`);
      }
    }
  });
});
