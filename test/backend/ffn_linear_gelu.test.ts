import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import { startThreads, threadedGemm } from "../../src/backend/cpu/wasm/matmul.js";
import { Scratch, wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import { fusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { linearGelu } from "../../src/nn/functional/linear.js";
import { close, withFused } from "./conv_compare.js";

// The feed-forward block's GELU(x Wᵀ + b) in one visit to the GEMM's wasm
// memory (the addmmGelu kernel, src/backend/cpu/linear_gelu.ts), against
// the composite F.gelu(F.linear(...)) with fused kernels off: values,
// gradients and gradients of gradients, on odd sizes (product lengths not
// a multiple of 4, so GELU's last vector reads past C), 2-d and [B, T, C]
// inputs, strided inputs and strided weights; and on the worker pool's
// shared memory (GELU then runs in the threaded GEMM's memory).

const F = fl.nn.functional;

describe("addmmGelu (GELU in the GEMM's memory)", () => {
  test("the CPU backend registers it, and a direct call matches the composite", () => {
    const k = fusedKernels("cpu");
    assert.ok(k.addmmGelu, "addmmGelu registered");
    fl.manualSeed(3);
    const x = fl.randn([37, 19]).mul(2);
    const w = fl.randn([23, 19]);
    const b = fl.randn([23]);
    const r = k.addmmGelu(x, w, b);
    assert.ok(r, "the kernel takes float32 [37, 19] x [23, 19]");
    const pre = fl.Tensor.fromStorage(r.pre, [37, 23], "float32");
    const act = fl.Tensor.fromStorage(r.act, [37, 23], "float32");
    const [pre0, act0] = withFused(false, () => {
      const p = F.linear(x, w, b);
      return [p, F.gelu(p)];
    });
    close(pre, pre0!, 1e-5, "pre-activation");
    close(act, act0!, 1e-5, "activation");
    assert.equal(k.addmmGelu(x.to("float64"), w.to("float64"), b.to("float64")), null);
  });

  test("its backward (Φ read off the output) against float64 over a wide range and special values", () => {
    fl.manualSeed(1);
    const values = Array.from(fl.randn([1037]).mul(6).dataSync() as Float32Array);
    const special = [
      0,
      -0,
      1e-30,
      -1e-30,
      3e-20,
      -40,
      40,
      -5.6,
      5.6,
      -3.9,
      -0.7518,
      1e-38,
      Number.NaN,
    ];
    special.forEach((v, i) => {
      values[i * 7] = v;
    });
    // x · [[1]] + 0 is x exactly, so the pre-activation is these values.
    const x = fl.tensor(values).reshape([-1, 1]).requiresGrad_();
    const w = fl.ones([1, 1]).requiresGrad_();
    const b = fl.zeros([1]).requiresGrad_();
    const g = fl.randn([1037, 1]);
    const y = linearGelu(x, w, b);
    y.backward(g);
    const x64 = x.detach().to("float64").requiresGrad_();
    const [y64, dx64] = withFused(false, () => {
      const r = F.gelu(x64);
      return [r, fl.autograd.grad(r.mul(g.to("float64")).sum(), [x64])[0]!];
    });
    close(y.detach(), y64!.to("float32"), 1e-6, "gelu");
    close(x.grad!, dx64!.to("float32"), 1e-6, "gelu'");
    // The kernel itself, given GELU's output from the fused forward.
    const k = fusedKernels("cpu");
    const flat = x.detach().reshape([-1]);
    const act = F.gelu(flat);
    const r = k.geluBackwardOut!(g.reshape([-1]), flat, act);
    assert.ok(r, "the kernel takes 1037 float32 elements");
    close(
      fl.Tensor.fromStorage(r, [1037], "float32"),
      dx64!.reshape([-1]).to("float32"),
      1e-6,
      "kernel",
    );
  });

  const cases = [
    { name: "2-d, odd [37, 19] → 23", x: [37, 19], out: 23 },
    { name: "[B, T, C] = [3, 11, 13] → 29", x: [3, 11, 13], out: 29 },
    {
      name: "[B, T, C] = [2, 64, 32] → 128 (the tiny GPT's shape, smaller)",
      x: [2, 64, 32],
      out: 128,
    },
    { name: "[B, T, C] = [5, 13, 9] → 44 (width of whole vectors)", x: [5, 13, 9], out: 44 },
    { name: "one row, one output", x: [1, 7], out: 1 },
    { name: "1-d input [19] → 301", x: [19], out: 301 },
    { name: "empty batch [0, 5] → 6", x: [0, 5], out: 6 },
    { name: "strided [B, T, C] input", x: [4, 9, 15], out: 17, strided: true },
    { name: "strided weight", x: [5, 21], out: 10, stridedW: true },
  ];
  for (const c of cases) {
    test(`${c.name}: values, gradients and second order match gelu(linear)`, () => {
      const run = (on: boolean) =>
        withFused(on, () => {
          fl.manualSeed(11);
          let x = fl.randn(c.strided ? [c.x[0]!, c.x[2]!, c.x[1]!] : c.x).mul(1.5);
          if (c.strided) x = x.transpose(-1, -2);
          x = x.detach().requiresGrad_();
          const inF = x.shape[x.ndim - 1]!;
          let w = c.stridedW ? fl.randn([inF, c.out]).t() : fl.randn([c.out, inF]);
          w = w.mul(0.5).detach().requiresGrad_();
          const b = fl.randn([c.out]).requiresGrad_();
          const y = on ? linearGelu(x, w, b) : F.gelu(F.linear(x, w, b));
          if (on) {
            assert.equal(y.gradFn?.name, "GeluBackward0");
            assert.equal((y.gradFn!.inputs[0] as fl.Tensor).gradFn?.name, "AddmmBackward0");
          }
          const gy = fl.randn(y.shape);
          const gs = fl.autograd.grad(y.mul(gy).sum(), [x, w, b], { createGraph: true });
          const gg = fl.autograd.grad(gs[0]!.square().sum().add(gs[2]!.sum()), [x, w, b]);
          // A plain backward (no createGraph) goes through the fused backward kernels.
          const y2 = on ? linearGelu(x, w, b) : F.gelu(F.linear(x, w, b));
          y2.backward(gy);
          const plain = [x.grad!, w.grad!, b.grad!];
          return [y, ...gs, ...gg, ...plain] as fl.Tensor[];
        });
      const fused = run(true);
      const comp = run(false);
      // Second-order float32 terms differ by rounding in GELU'' (both sides composite there).
      const tol = (i: number) => (i >= 4 && i < 7 ? 1e-3 : 2e-5);
      for (const [i, t] of fused.entries()) close(t, comp[i]!, tol(i), `${c.name} #${i}`);
    });
  }

  test("nn.TransformerEncoderLayer with GELU: output and parameter gradients match", () => {
    const run = (on: boolean) =>
      withFused(on, () => {
        fl.manualSeed(5);
        const layer = new fl.nn.TransformerEncoderLayer(12, 3, {
          dimFeedforward: 37,
          dropout: 0,
          activation: "gelu",
          batchFirst: true,
          normFirst: true,
        });
        const x = fl.randn([3, 7, 12]);
        const y = layer.forward(x);
        y.mul(fl.randn(y.shape)).sum().backward();
        return [
          y,
          layer.linear1.weight.grad!,
          layer.linear1.bias!.grad!,
          layer.linear2.weight.grad!,
        ];
      });
    const fused = run(true);
    const comp = run(false);
    for (const [i, t] of fused.entries()) close(t, comp[i]!, 1e-4, `layer #${i}`);
  });
});

const threads = wasmFeatures().simd && Scratch.sharedAvailable();

describe("addmmGelu on the thread pool", { skip: !threads && "no shared memory" }, () => {
  after(() => {
    fl.setNumThreads(1);
    pool.stop();
  });

  test("two threads: same as one thread and as the composite", async () => {
    fl.manualSeed(21);
    // 301 · 129 · 517 multiply-adds: large enough to be split across threads.
    const x = fl.randn([301, 129]);
    const w = fl.randn([517, 129]).mul(0.3);
    const b = fl.randn([517]);
    const k = fusedKernels("cpu");
    const one = k.addmmGelu!(x, w, b)!;
    fl.setNumThreads(2);
    await startThreads(2);
    assert.equal(pool.ready, 2);
    const two = k.addmmGelu!(x, w, b)!;
    assert.ok(threadedGemm(), "the shared-memory GEMM exists");
    const t = (s: typeof one.act) => fl.Tensor.fromStorage(s, [301, 517], "float32");
    const want = withFused(false, () => F.gelu(F.linear(x, w, b)));
    close(t(two.act), want, 1e-5, "threaded activation");
    close(t(two.pre), t(one.pre), 1e-6, "threaded pre-activation");
    close(t(two.act), t(one.act), 1e-6, "threaded activation vs one thread");
    // A width of whole vectors, on shared memory too.
    const w4 = w.narrow(0, 0, 516);
    const b4 = b.narrow(0, 0, 516);
    const four = k.addmmGelu!(x, w4, b4)!;
    const want4 = withFused(false, () => [F.linear(x, w4, b4), F.gelu(F.linear(x, w4, b4))]);
    const t4 = (s: typeof one.act) => fl.Tensor.fromStorage(s, [301, 516], "float32");
    close(t4(four.pre), want4[0]!, 1e-5, "threaded pre-activation, width 516");
    close(t4(four.act), want4[1]!, 1e-5, "threaded activation, width 516");
  });
});
