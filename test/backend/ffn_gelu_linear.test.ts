import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import { startThreads } from "../../src/backend/cpu/wasm/matmul.js";
import { Scratch, wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import { fusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { geluFeedForward, geluLinear, setGeluLinear } from "../../src/nn/functional/gelu_linear.js";
import { close } from "./conv_compare.js";

// The feed-forward block's second half, GELU(pre) W₂ᵀ + b₂, as one node
// whose backward (the geluLinearBackward kernel, src/backend/cpu/
// gelu_linear.ts) does g·W₂, GELU's backward, dW₂ and db₂ in one visit to
// the GEMM's memory: against the unfused path (setGeluLinear(false)) in a
// TransformerEncoderLayer, on odd and 3-d shapes, under createGraph, with
// float64 gradcheck / gradgradcheck, and on the thread pool.

const F = fl.nn.functional;

function withGeluLinear<T>(on: boolean, fn: () => T): T {
  const was = setGeluLinear(on);
  try {
    return fn();
  } finally {
    setGeluLinear(was);
  }
}

/** The residual branch ff(x) of a pre-norm layer's output x + ff(·): y's gradFn inputs[1]. */
function ffNode(y: fl.Tensor) {
  const ff = y.gradFn!.inputs[1] as fl.Tensor;
  return ff.gradFn!;
}

describe("geluLinear (linear2 and GELU in one backward)", () => {
  test("the CPU backend registers the kernel", () => {
    assert.ok(fusedKernels("cpu").geluLinearBackward);
  });

  test("TransformerEncoderLayer (d 64, 4 heads, ff 128, causal): output and every gradient match", () => {
    const run = (on: boolean) =>
      withGeluLinear(on, () => {
        fl.manualSeed(7);
        const layer = new fl.nn.TransformerEncoderLayer(64, 4, {
          dimFeedforward: 128,
          dropout: 0,
          activation: "gelu",
          batchFirst: true,
          normFirst: true,
        });
        const x = fl.randn([3, 11, 64]).requiresGrad_();
        const y = layer.forward(x, { isCausal: true });
        const node = ffNode(y);
        const below = (node.inputs[0] as fl.Tensor).gradFn!.name;
        y.mul(fl.randn(y.shape)).sum().backward();
        const grads = layer.namedParameters().map(([name, p]) => [name, p.grad!] as const);
        return { y, dx: x.grad!, grads, node: node.name, below };
      });
    const on = run(true);
    const off = run(false);
    assert.equal(on.node, "AddmmBackward0");
    assert.equal(on.below, "AddmmBackward0", "fused: linear2's node sits right on linear1's");
    assert.equal(off.below, "GeluBackward0", "unfused: a GELU node between them");
    close(on.y, off.y, 1e-5, "output");
    close(on.dx, off.dx, 1e-5, "input gradient");
    assert.equal(on.grads.length, off.grads.length);
    assert.ok(on.grads.length >= 12);
    for (const [i, [name, g]] of on.grads.entries()) close(g, off.grads[i]![1], 1e-5, name);
  });

  test("not used in training mode with dropout, nor in eval mode it is", () => {
    fl.manualSeed(2);
    const layer = new fl.nn.TransformerEncoderLayer(8, 2, {
      dimFeedforward: 16,
      dropout: 0.1,
      activation: "gelu",
      batchFirst: true,
      normFirst: true,
    });
    const x = fl.randn([2, 5, 8]);
    assert.notEqual(ffNode(layer.forward(x)).name, "AddmmBackward0", "dropout's node on top");
    layer.eval();
    const node = ffNode(layer.forward(x));
    assert.equal(node.name, "AddmmBackward0");
    assert.equal((node.inputs[0] as fl.Tensor).gradFn!.name, "AddmmBackward0");
  });

  const shapes = [
    { name: "2-d, 37 rows (not a multiple of 4), hid 13", x: [37, 9], hid: 13, out: 5 },
    { name: "3-d [3, 7, 11], hid 30", x: [3, 7, 11], hid: 30, out: 6 },
    { name: "3-d [2, 5, 16], hid 64", x: [2, 5, 16], hid: 64, out: 16 },
    { name: "one row", x: [1, 1, 3], hid: 7, out: 1 },
  ];
  for (const c of shapes) {
    test(`${c.name}: values, gradients and second order match the composite`, () => {
      const run = (on: boolean) => {
        fl.manualSeed(13);
        const x = fl.randn(c.x).mul(1.5).requiresGrad_();
        const inF = c.x[c.x.length - 1]!;
        const w1 = fl.randn([c.hid, inF]).mul(0.6).requiresGrad_();
        const b1 = fl.randn([c.hid]).requiresGrad_();
        const w2 = fl.randn([c.out, c.hid]).mul(0.4).requiresGrad_();
        const b2 = fl.randn([c.out]).requiresGrad_();
        const ps = [x, w1, b1, w2, b2];
        const f = () =>
          on ? geluFeedForward(x, w1, b1, w2, b2)! : F.linear(F.gelu(F.linear(x, w1, b1)), w2, b2);
        const y = f();
        if (on) assert.equal((y.gradFn!.inputs[0] as fl.Tensor).gradFn!.name, "AddmmBackward0");
        const gy = fl.randn(y.shape);
        // Plain backward: the fused kernel on.
        y.backward(gy);
        const plain = ps.map((p) => p.grad!);
        // createGraph and a second order.
        const gs = fl.autograd.grad(f().mul(gy).sum(), ps, { createGraph: true });
        const s = gs[0]!.square().sum().add(gs[3]!.mul(gs[3]!).sum()).add(gs[4]!.sum());
        const gg = fl.autograd.grad(s, ps.slice(0, 4));
        return [y, ...plain, ...gs, ...gg].map((t) => t!);
      };
      const fused = run(true);
      const comp = run(false);
      // Second-order terms go through GELU'' (composite on both sides, summed differently).
      const tol = (i: number) => (i >= 11 ? 1e-4 : 1e-5);
      for (const [i, t] of fused.entries()) close(t, comp[i]!, tol(i), `${c.name} #${i}`);
    });
  }

  test("float64 gradcheck and gradgradcheck as a function of (pre, w, b)", () => {
    fl.manualSeed(4);
    const opts = { dtype: "float64" as const };
    const pre = fl.randn([2, 3, 5], opts).mul(1.5).requiresGrad_();
    const w = fl.randn([4, 5], opts).requiresGrad_();
    const b = fl.randn([4], opts).requiresGrad_();
    const fn = (p: fl.Tensor, ww: fl.Tensor, bb: fl.Tensor) =>
      geluLinear(p, F.gelu(p).detach(), ww, bb);
    assert.equal(fn(pre, w, b).gradFn!.name, "AddmmBackward0");
    assert.ok(fl.autograd.gradcheck(fn, [pre, w, b]));
    assert.ok(fl.autograd.gradgradcheck(fn, [pre, w, b]));
  });

  test("the kernel called directly: strided inputs and a partial want", () => {
    fl.manualSeed(9);
    const k = fusedKernels("cpu");
    const pre = fl.randn([19, 10]).mul(2);
    const act = F.gelu(pre);
    const w = fl.randn([10, 7]).t(); // [7, 10], strided
    const g = fl.randn([7, 19]).t(); // [19, 7], strided
    const want = withGeluLinear(false, () => {
      const dAct = g.matmul(w);
      const p = pre.detach().requiresGrad_();
      const dPre = fl.autograd.grad(F.gelu(p), [p], { gradOutputs: [dAct] })[0]!;
      return [dPre, g.t().matmul(act), g.sum(0)];
    });
    const t = (s: unknown, shape: number[]) =>
      fl.Tensor.fromStorage(s as fl.Tensor["storage"], shape, "float32");
    const r = k.geluLinearBackward!(g, pre, act, w, [true, true, true])!;
    close(t(r[0], [19, 10]), want[0]!, 1e-5, "dPre");
    close(t(r[1], [7, 10]), want[1]!, 1e-5, "dW");
    close(t(r[2], [7]), want[2]!, 1e-5, "db");
    const only = k.geluLinearBackward!(g, pre, act, w, [true, false, false])!;
    assert.equal(only[1], null);
    assert.equal(only[2], null);
    close(t(only[0], [19, 10]), want[0]!, 1e-5, "dPre alone");
    const wb = k.geluLinearBackward!(g, pre, act, w, [false, true, true])!;
    assert.equal(wb[0], null);
    close(t(wb[1], [7, 10]), want[1]!, 1e-5, "dW without dPre");
    close(t(wb[2], [7]), want[2]!, 1e-5, "db without dPre");
    assert.equal(
      k.geluLinearBackward!(g.double(), pre.double(), act.double(), w.double(), [true, true, true]),
      null,
    );
  });
});

const threads = wasmFeatures().simd && Scratch.sharedAvailable();

describe("geluLinearBackward on the thread pool", { skip: !threads && "no shared memory" }, () => {
  after(() => {
    fl.setNumThreads(1);
    pool.stop();
  });

  test("two threads: same as one thread", async () => {
    fl.manualSeed(21);
    const pre = fl.randn([301, 517]);
    const act = F.gelu(pre);
    const w = fl.randn([129, 517]).mul(0.3);
    const g = fl.randn([301, 129]);
    const k = fusedKernels("cpu");
    const one = k.geluLinearBackward!(g, pre, act, w, [true, true, true])!;
    fl.setNumThreads(2);
    await startThreads(2);
    assert.equal(pool.ready, 2);
    const two = k.geluLinearBackward!(g, pre, act, w, [true, true, true])!;
    const shapes = [[301, 517], [129, 517], [129]];
    for (let i = 0; i < 3; i++) {
      const t = (s: unknown) =>
        fl.Tensor.fromStorage(s as fl.Tensor["storage"], shapes[i]!, "float32");
      close(t(two[i]), t(one[i]), 1e-5, `output ${i}`);
    }
  });
});
