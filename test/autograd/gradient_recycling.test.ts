import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SpentGradients } from "../../src/autograd/spent_gradients.js";
import { pooledArrayBytes, setArrayRecycling } from "../../src/backend/cpu/array_pool.js";
import * as fl from "../../src/index.js";

// The engine hands a spent gradient's array back for reuse (array_pool.ts):
// training must give the same bits with and without it, and no gradient
// anyone can still reach may be recycled: not one a hook saw, a
// retainGrad kept, autograd.grad returned, a second consumer shares, a
// createGraph graph holds, or a rule outside flint's own ops was given.
// Sizes are above the pool's 16 KiB floor, and after each backward a
// forward of the same sizes takes whatever the pool holds, so a wrongly
// recycled array would be overwritten before it is checked.

const F = fl.nn.functional;
const W = 4096; // floats per row: 16 KiB

/** Runs fn with recycling on or off, then restores the setting. */
function withRecycling<T>(on: boolean, fn: () => T): T {
  const was = setArrayRecycling(on);
  try {
    return fn();
  } finally {
    setArrayRecycling(was);
  }
}

function snapshot(t: fl.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

function assertIntact(t: fl.Tensor, was: Float32Array, what: string): void {
  assert.deepEqual(snapshot(t), was, `${what} was overwritten`);
}

/** A few big intermediate gradients: x → tanh(x·a) → (·b) → gelu → sum. */
function chain(x: fl.Tensor, a: fl.Tensor, b: fl.Tensor) {
  const h = x.mul(a).tanh();
  const k = h.mul(b);
  const y = F.gelu(k);
  return { h, k, y, loss: y.sum() };
}

function churn(): void {
  // Takes the pool's spare arrays of these sizes and writes into them.
  for (let i = 0; i < 4; i++) fl.randn([4, W]).mul(3).exp();
}

describe("recycling spent gradients", () => {
  test("training gives the same bits with and without it, and it does recycle", () => {
    const run = (on: boolean) =>
      withRecycling(on, () => {
        fl.manualSeed(3);
        const model = new fl.nn.Sequential(
          new fl.nn.Linear(64, 256),
          new fl.nn.GELU(),
          new fl.nn.Linear(256, 64),
          new fl.nn.LayerNorm(64),
        );
        const opt = new fl.optim.Adam(model.parameters(), { lr: 1e-2 });
        const x = fl.randn([128, 64]);
        let pooled = 0;
        for (let step = 0; step < 5; step++) {
          opt.zeroGrad();
          const out = model.forward(x) as fl.Tensor;
          out.square().mean().backward();
          pooled = Math.max(pooled, pooledArrayBytes());
          opt.step();
        }
        return { params: model.parameters().map(snapshot), pooled };
      });
    const on = run(true);
    const off = run(false);
    assert.ok(on.pooled > 0, "some gradient went back to the pool");
    assert.equal(off.pooled, 0);
    on.params.forEach((p, i) => {
      assert.deepEqual(p, off.params[i], `parameter ${i}`);
    });
  });

  test("a Transformer layer (residuals: add passes one gradient to both branches) trains the same", () => {
    const run = (on: boolean) =>
      withRecycling(on, () => {
        fl.manualSeed(4);
        const layer = new fl.nn.TransformerEncoderLayer(64, 4, {
          dimFeedforward: 128,
          dropout: 0,
          activation: "gelu",
          batchFirst: true,
          normFirst: true,
        });
        const opt = new fl.optim.AdamW(layer.parameters(), { lr: 1e-2 });
        const x = fl.randn([8, 32, 64]);
        for (let step = 0; step < 3; step++) {
          opt.zeroGrad();
          layer.forward(x, { isCausal: true }).square().mean().backward();
          opt.step();
        }
        return layer.parameters().map(snapshot);
      });
    const off = run(false);
    run(true).forEach((p, i) => {
      assert.deepEqual(p, off[i], `parameter ${i}`);
    });
  });

  test("the caller's gradient passed through to both inputs is left alone", () => {
    const a = fl.randn([4, W]).requiresGrad_();
    const b = fl.randn([4, W]).requiresGrad_();
    const y = a.tanh().add(b.sigmoid());
    // Made by a kernel (emptyArray), so only the engine stands between it and the pool.
    const gy = fl.randn([4, W]).mul(2);
    const was = snapshot(gy);
    y.backward(gy);
    churn();
    assertIntact(gy, was, "the gradient passed to backward");
  });

  test("the bookkeeping: a sole tensor is recycled when its last holder lets go, views never", () => {
    const node = new fl.autograd.Node("Own", [], () => []);
    node.ownRule = true;
    const spent = new SpentGradients(true);
    const pooled = () => pooledArrayBytes();
    // A kernel's fresh output, parked twice (one rule handing it to two inputs).
    const g = fl.randn([4, W]).mul(2);
    spent.park(g);
    spent.park(g);
    const before = pooled();
    spent.consumed(node, g, []);
    assert.equal(pooled(), before, "still held by its second place");
    spent.consumed(node, g, []);
    assert.equal(pooled(), before + 4 * W * 4, "recycled by the last");
    // Two views of one array, parked at two consumers (cat's rule does this).
    const big = fl.randn([8, W]).mul(2);
    const [v1, v2] = [big.narrow(0, 0, 4), big.narrow(0, 4, 4)];
    spent.park(v1);
    spent.park(v2);
    const mid = pooled();
    spent.consumed(node, v1, []);
    spent.consumed(node, v2, []);
    assert.equal(pooled(), mid, "views are never recycled");
    // A rule that returns a view of its gradient keeps the storage alive.
    const h = fl.randn([4, W]).mul(2);
    const last = pooled();
    spent.park(h);
    spent.consumed(node, h, [h.reshape([W, 4])]);
    assert.equal(pooled(), last, "a returned view keeps it");
  });

  test("a gradient a hook saw stays intact", () => {
    const x = fl.randn([4, W]).requiresGrad_();
    const a = fl.randn([4, W]);
    const b = fl.randn([4, W]);
    const { h, loss } = chain(x, a, b);
    let seen: fl.Tensor | null = null;
    let seenWas: Float32Array = new Float32Array(0);
    h.registerHook((g) => {
      seen = g;
      seenWas = snapshot(g);
    });
    loss.backward();
    churn();
    assertIntact(seen!, seenWas, "hooked gradient");
  });

  test("a gradient retainGrad kept stays intact", () => {
    const x = fl.randn([4, W]).requiresGrad_();
    const a = fl.randn([4, W]);
    const b = fl.randn([4, W]);
    const retained = (on: boolean) =>
      withRecycling(on, () => {
        const { k, loss } = chain(x, a, b);
        k.retainGrad();
        loss.backward();
        churn();
        return snapshot(k.grad!);
      });
    assert.deepEqual(retained(true), retained(false));
  });

  test("autograd.grad results for intermediate tensors stay intact", () => {
    const x = fl.randn([4, W]).requiresGrad_();
    const a = fl.randn([4, W]);
    const b = fl.randn([4, W]);
    const grads = (on: boolean) =>
      withRecycling(on, () => {
        const { h, k, loss } = chain(x, a, b);
        const gs = fl.autograd.grad(loss, [h, k, x]) as fl.Tensor[];
        churn();
        return gs.map(snapshot);
      });
    const want = grads(false);
    grads(true).forEach((g, i) => {
      assert.deepEqual(g, want[i], `grad ${i}`);
    });
  });

  test("a gradient handed to two consumers survives the first one", () => {
    const x = fl.randn([4, W]).requiresGrad_();
    const y = fl.randn([4, W]).requiresGrad_();
    // add's rule hands the same gradient to both of its inputs.
    const s = x.tanh().add(y.sigmoid());
    const loss = s.mul(s).sum();
    loss.backward();
    const want = { x: snapshot(x.grad!), y: snapshot(y.grad!) };
    const check = () => {
      x.grad = null;
      y.grad = null;
      const s2 = x.tanh().add(y.sigmoid());
      s2.mul(s2).sum().backward();
      churn();
      assertIntact(x.grad!, want.x, "x.grad");
      assertIntact(y.grad!, want.y, "y.grad");
    };
    check();
    withRecycling(false, check);
  });

  test("split gradients (views of one array) are not recycled by one consumer", () => {
    const x = fl.randn([8, W]).requiresGrad_();
    const [p, q] = x.mul(2).chunk(2, 0) as [fl.Tensor, fl.Tensor];
    const loss = p.exp().sum().add(q.square().sum());
    loss.backward();
    const got = snapshot(x.grad!);
    const x2 = x.detach().clone().requiresGrad_();
    withRecycling(false, () => {
      const [p2, q2] = x2.mul(2).chunk(2, 0) as [fl.Tensor, fl.Tensor];
      p2.exp().sum().add(q2.square().sum()).backward();
    });
    assert.deepEqual(got, snapshot(x2.grad!));
  });

  test("a rule outside flint's ops keeps what it is given", () => {
    const x = fl.randn([4, W]).requiresGrad_();
    const h = x.tanh().mul(3);
    let kept: fl.Tensor | null = null;
    let was: Float32Array = new Float32Array(0);
    // A hand-made node whose rule holds on to its gradient.
    const out = h.exp();
    const y = fl.Tensor.fromArray(snapshot(out), out.shape);
    y.gradFn = new fl.autograd.Node("Keeper", [h], (g) => {
      kept = g;
      was = snapshot(g);
      return [g.mul(2)];
    });
    y.requiresGrad = true;
    y.sin().sum().backward();
    churn();
    assertIntact(kept!, was, "the custom rule's gradient");
  });

  test("createGraph recycles nothing: double backward still matches", () => {
    const x = fl.randn([4, W]).requiresGrad_();
    const before = pooledArrayBytes();
    const { loss } = chain(x, fl.randn([4, W]), fl.randn([4, W]));
    const [gx] = fl.autograd.grad(loss, [x], { createGraph: true });
    assert.equal(pooledArrayBytes(), before);
    const gxWas = snapshot(gx!);
    gx!.sum().backward();
    churn();
    assertIntact(gx!, gxWas, "first-order gradient");
  });
});
