import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;

describe("dropout", () => {
  test("training: zeros or x / (1 - p), about p of them zero", () => {
    fl.manualSeed(0);
    const y = F.dropout(fl.ones([20000]), { p: 0.3 }).dataSync();
    let zeros = 0;
    for (const v of y) {
      if (v === 0) zeros++;
      else assert.ok(Math.abs(v - 1 / 0.7) < 1e-6, `survivor ${v}`);
    }
    assert.ok(Math.abs(zeros / y.length - 0.3) < 0.02, `dropped fraction ${zeros / y.length}`);
  });

  test("the mean is preserved in expectation", () => {
    fl.manualSeed(1);
    const x = fl.rand([50000]).add(1);
    const m = F.dropout(x, { p: 0.5 }).mean().itemSync() as number;
    const m0 = x.mean().itemSync() as number;
    assert.ok(Math.abs(m - m0) / m0 < 0.02, `${m} vs ${m0}`);
  });

  test("training false, and p = 0, are the identity", () => {
    const x = fl.randn([5]);
    assert.equal(F.dropout(x, { p: 0.5, training: false }), x);
    assert.equal(F.dropout(x, { p: 0 }), x);
  });

  test("p = 1 gives zeros and a zero gradient", () => {
    const x = fl.randn([4], { requiresGrad: true });
    const y = F.dropout(x, { p: 1 });
    // Compared with === so that -0 (from negative inputs) counts as zero.
    assert.ok(Array.from(y.dataSync()).every((v) => v === 0));
    y.sum().backward();
    assert.ok(Array.from(x.grad!.dataSync()).every((v) => v === 0));
  });

  test("manualSeed makes the mask reproducible", () => {
    const x = fl.ones([64]);
    fl.manualSeed(42);
    const a = F.dropout(x).dataSync();
    fl.manualSeed(42);
    const b = F.dropout(x).dataSync();
    assert.deepEqual(Array.from(a), Array.from(b));
    const c = F.dropout(x).dataSync();
    assert.notDeepEqual(Array.from(a), Array.from(c));
  });

  test("gradient is the mask times 1 / (1 - p)", () => {
    fl.manualSeed(7);
    const x = fl.randn([100], { requiresGrad: true });
    const y = F.dropout(x, { p: 0.25 });
    y.sum().backward();
    const yv = y.dataSync();
    const g = x.grad!.dataSync();
    for (let i = 0; i < 100; i++) assert.ok(Math.abs(g[i]! - (yv[i] === 0 ? 0 : 1 / 0.75)) < 1e-6);
  });

  test("p outside [0, 1] is an error naming dropout", () => {
    assert.throws(
      () => F.dropout(fl.ones([2]), { p: 1.5 }),
      (e: Error) => e instanceof fl.ArgumentError && /^dropout:/.test(e.message),
    );
  });

  test("dropout2d drops whole channels", () => {
    fl.manualSeed(3);
    const y = F.dropout2d(fl.ones([4, 8, 3, 3]), { p: 0.5 });
    const per = y.sum([2, 3]).dataSync();
    for (const v of per) assert.ok(v === 0 || Math.abs(v - 18) < 1e-5, `channel sum ${v}`);
  });

  test("alphaDropout keeps mean 0 and variance 1 of a standard normal input", () => {
    fl.manualSeed(5);
    const x = fl.randn([50000]);
    const y = F.alphaDropout(x, { p: 0.2, training: true });
    assert.ok(Math.abs(y.mean().itemSync() as number) < 0.03);
    assert.ok(Math.abs((y.std().itemSync() as number) - 1) < 0.03);
    assert.equal(F.alphaDropout(x, { p: 0.2 }), x, "training defaults to false, as in PyTorch");
  });
});
