import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const {
  SequentialSampler,
  RandomSampler,
  SubsetRandomSampler,
  WeightedRandomSampler,
  BatchSampler,
} = fl.data;
// PyTorch's own orders for fixed seeds (test/data/make_torch_reference.py).
const ref = JSON.parse(
  readFileSync(new URL("./torch-data-reference.json", import.meta.url), "utf8"),
);
const seeded = (s: number) => new fl.Generator().manualSeed(s);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("samplers", () => {
  test("SequentialSampler counts up", () => {
    const s = new SequentialSampler(range(4));
    assert.deepEqual([...s], [0, 1, 2, 3]);
    assert.equal(s.length, 4);
  });

  test("RandomSampler: a permutation per iteration, PyTorch's order", () => {
    for (const c of ref.random_sampler) {
      const s = new RandomSampler(range(c.n), {
        replacement: c.replacement,
        numSamples: c.numSamples ?? undefined,
        generator: seeded(c.seed),
      });
      assert.equal(s.length, c.numSamples ?? c.n);
      assert.deepEqual([[...s], [...s]], c.epochs, JSON.stringify(c));
    }
    const perm = [...new RandomSampler(range(20))];
    assert.deepEqual(
      [...perm].sort((a, b) => a - b),
      range(20),
    );
  });

  test("RandomSampler rejects a bad numSamples", () => {
    assert.throws(
      () => new RandomSampler(range(3), { numSamples: 0 }),
      /numSamples should be a positive integer, got 0/,
    );
  });

  test("SubsetRandomSampler shuffles the given indices", () => {
    const c = ref.subset_random_sampler;
    const s = new SubsetRandomSampler(c.indices, { generator: seeded(c.seed) });
    assert.deepEqual([...s], c.order);
    assert.equal(s.length, c.indices.length);
  });

  test("WeightedRandomSampler with replacement matches PyTorch and never picks a zero weight", () => {
    const c = ref.weighted_random_sampler;
    assert.deepEqual(
      [...new WeightedRandomSampler(c.weights, c.numSamples, { generator: seeded(c.seed) })],
      c.order,
    );
    const many = [...new WeightedRandomSampler([1, 0, 3], 4000, { generator: seeded(1) })];
    assert.ok(!many.includes(1));
    const share = many.filter((i) => i === 2).length / many.length;
    assert.ok(Math.abs(share - 0.75) < 0.03, `share of index 2: ${share}`);
  });

  test("WeightedRandomSampler without replacement draws distinct indices", () => {
    const s = [
      ...new WeightedRandomSampler([1, 2, 0, 4, 8], 4, {
        replacement: false,
        generator: seeded(2),
      }),
    ];
    assert.equal(new Set(s).size, 4);
    assert.ok(!s.includes(2));
    assert.throws(
      () => new WeightedRandomSampler([1, 0], 2, { replacement: false }),
      /cannot draw 2 samples without replacement/,
    );
  });

  test("BatchSampler groups indices, with or without the last short batch", () => {
    for (const c of ref.batch_sampler) {
      const s = new BatchSampler(new SequentialSampler(range(c.n)), c.batchSize, c.dropLast);
      assert.deepEqual([...s], c.batches);
      assert.equal(s.length, c.batches.length);
    }
    assert.throws(
      () => new BatchSampler(new SequentialSampler(range(3)), 0, false),
      /batchSize should be a positive integer/,
    );
  });

  test("randomSplit equals PyTorch's random_split for the same seed", () => {
    for (const c of ref.random_split) {
      const parts = fl.data.randomSplit(range(c.n), c.lengths, { generator: seeded(c.seed) });
      assert.deepEqual(
        parts.map((p) => p.indices),
        c.indices,
        JSON.stringify(c.lengths),
      );
    }
  });
});
