import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const T = fl.text;
const gen = (seed: number) => new fl.Generator().manualSeed(seed);

describe("sampling", () => {
  test("greedy (doSample false, the default) picks the argmax of each row", () => {
    fl.manualSeed(3);
    const logits = fl.randn([6, 11]);
    const expected = logits.argmax(1).tolistSync();
    assert.deepEqual(T.sampleLogits(logits).tolistSync(), expected);
    assert.deepEqual(
      T.sampleLogits(logits, { doSample: false, temperature: 5 }).tolistSync(),
      expected,
    );
    assert.equal(T.sampleLogits(fl.tensor([0.1, 2, -1])).itemSync(), 1);
  });

  test("top-k never samples outside the k most likely tokens", () => {
    fl.manualSeed(4);
    const row = Array.from(fl.randn([20]).dataSync() as Float32Array);
    const best3 = new Set(
      row
        .map((v, i) => [v, i] as const)
        .sort((a, b) => b[0] - a[0])
        .slice(0, 3)
        .map(([, i]) => i),
    );
    const g = gen(0);
    const seen = new Set<number>();
    for (let i = 0; i < 600; i++) {
      const t = T.sampleRow(row, { topK: 3, temperature: 2, generator: g });
      assert.ok(best3.has(t), `token ${t} is not among the 3 best`);
      seen.add(t);
    }
    assert.equal(seen.size, 3); // and it does use all k
  });

  test("topKFilter keeps the k largest and renormalizes", () => {
    const f = T.topKFilter([0.1, 0.5, 0.4], 2);
    assert.deepEqual(
      Array.from(f).map((v) => +v.toFixed(12)),
      [0, +(0.5 / 0.9).toFixed(12), +(0.4 / 0.9).toFixed(12)],
    );
  });

  test("top-p keeps the smallest set of most likely tokens with mass ≥ p", () => {
    const probs = [0.1, 0.4, 0.2, 0.3];
    const kept = (p: number) =>
      Array.from(T.topPFilter(probs, p))
        .map((v, i) => (v > 0 ? i : -1))
        .filter((i) => i >= 0);
    assert.deepEqual(kept(0.4), [1]); // 0.4 alone reaches 0.4
    assert.deepEqual(kept(0.41), [1, 3]);
    assert.deepEqual(kept(0.7), [1, 3]);
    assert.deepEqual(kept(0.71), [1, 2, 3]);
    assert.deepEqual(kept(1), [0, 1, 2, 3]);
    const f = T.topPFilter(probs, 0.7);
    assert.ok(Math.abs(f[1]! - 0.4 / 0.7) < 1e-12 && Math.abs(f[3]! - 0.3 / 0.7) < 1e-12);
    // Sampling with topP draws only from that set.
    const g = gen(1);
    const logits = probs.map(Math.log);
    for (let i = 0; i < 300; i++)
      assert.ok([1, 3].includes(T.sampleRow(logits, { topP: 0.7, generator: g })));
    assert.throws(() => T.topPFilter(probs, 0), fl.ArgumentError);
  });

  test("draws follow softmax(logits / temperature)", () => {
    const logits = [0, Math.log(2), Math.log(5)];
    const g = gen(2);
    const counts = [0, 0, 0];
    const n = 8000;
    for (let i = 0; i < n; i++) counts[T.sampleRow(logits, { doSample: true, generator: g })]!++;
    [1 / 8, 2 / 8, 5 / 8].forEach((p, i) => {
      assert.ok(Math.abs(counts[i]! / n - p) < 0.02, `${counts}`);
    });
    // temperature 0.5 squares the odds: 1 : 4 : 25
    const hot = T.softmaxRow(logits, 0.5);
    assert.ok(Math.abs(hot[2]! - 25 / 30) < 1e-12);
  });

  test("seeded sampling is reproducible; another seed differs", () => {
    fl.manualSeed(5);
    const logits = fl.randn([4, 30]);
    const a = [gen(7), gen(7), gen(8)].map((g) =>
      Array.from({ length: 20 }, () =>
        T.sampleLogits(logits, { temperature: 1.5, topK: 10, generator: g }).tolistSync(),
      ),
    );
    assert.deepEqual(a[0], a[1]);
    assert.notDeepEqual(a[0], a[2]);
    // The default generator follows fl.manualSeed.
    fl.manualSeed(9);
    const x = T.sampleLogits(logits, { doSample: true }).tolistSync();
    fl.manualSeed(9);
    assert.deepEqual(T.sampleLogits(logits, { doSample: true }).tolistSync(), x);
  });
});
