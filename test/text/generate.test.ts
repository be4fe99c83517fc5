import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const T = fl.text;

/**
 * A hand-made next-token model over tokens {0: <s>, 1: A, 2: B, 3: C, 4: </s>}:
 * the state is the previous token; each row below is P(next | previous).
 * Greedy takes A (0.6) and then at best 0.4 → 0.24; the best sequence is
 * B </s> with 0.4 · 0.9 = 0.36.
 */
const P: Record<number, number[]> = {
  0: [0, 0.6, 0.4, 0, 0],
  1: [0, 0.3, 0.3, 0, 0.4],
  2: [0, 0, 0, 0.1, 0.9],
  3: [0, 0, 0, 0, 1],
  4: [0, 0, 0, 0, 1],
};
const table: fl.text.StepDecoder<null> = {
  step(tokens) {
    const rows = Array.from(tokens.dataSync() as Int32Array).map((t) =>
      P[t]!.map((p) => Math.log(p)),
    );
    return [fl.tensor(rows, { dtype: "float64" }), null];
  },
  select: (s) => s,
};

describe("decode and beamSearch", () => {
  test("greedy decoding follows the argmax and stops at eos", () => {
    const [fromStart, fromB] = T.decode(table, null, [0, 2], { maxLength: 10, eos: 4 });
    // From <s>: A (0.6), then </s> (0.4) beats A and B (0.3 each).
    assert.deepEqual(fromStart, [1]);
    // From B: </s> at once.
    assert.deepEqual(fromB, []);
    // Without eos it runs to maxLength.
    assert.equal(T.decode(table, null, [3], { maxLength: 3 })[0]!.length, 3);
  });

  test("beam search finds the best-scoring sequence where greedy is wrong", () => {
    const greedy = T.decode(table, null, [0], { maxLength: 5, eos: 4 })[0];
    assert.deepEqual(greedy, [1]); // A </s>: probability 0.24
    const hyps = T.beamSearch(table, null, 0, {
      beamWidth: 2,
      maxLength: 5,
      eos: 4,
      lengthPenalty: 0,
    });
    assert.deepEqual(hyps[0]!.tokens, [2]); // B </s>: probability 0.36
    assert.ok(Math.abs(hyps[0]!.logProb - Math.log(0.36)) < 1e-9);
    assert.ok(hyps[0]!.finished);
    // Ranked best first, and the greedy path is among them with its own probability.
    const greedyHyp = hyps.find((h) => h.tokens.length === 1 && h.tokens[0] === 1)!;
    assert.ok(Math.abs(greedyHyp.logProb - Math.log(0.24)) < 1e-9);
    for (let i = 1; i < hyps.length; i++) assert.ok(hyps[i - 1]!.score >= hyps[i]!.score);
    // A beam of one is greedy search.
    assert.deepEqual(
      T.beamSearch(table, null, 0, { beamWidth: 1, maxLength: 5, eos: 4 })[0]!.tokens,
      [1],
    );
  });

  test("beam search reorders stateful decoders through select", () => {
    // The state is each hypothesis's history; select must keep it aligned.
    const dec: fl.text.StepDecoder<number[][]> = {
      step(tokens, hist) {
        const next = hist.map((h, i) => [...h, (tokens.dataSync() as Int32Array)[i]!]);
        return [table.step(tokens, null)[0], next];
      },
      select: (hist, rows) => rows.map((r) => hist[r]!),
    };
    const [best] = T.beamSearch(dec, [[]], 0, {
      beamWidth: 3,
      maxLength: 5,
      eos: 4,
      lengthPenalty: 0,
    });
    assert.deepEqual(best!.tokens, [2]);
  });
});

describe("GPT and the KV cache", () => {
  const cfg = { vocabSize: 13, blockSize: 8, nEmbd: 16, nHead: 2, nLayer: 2 };

  test("forward gives (B, T, V) logits; positions beyond blockSize are an error", () => {
    fl.manualSeed(0);
    const gpt = new T.GPT(cfg);
    assert.deepEqual(gpt.forward(fl.randint(0, 13, [3, 5])).shape, [3, 5, 13]);
    assert.throws(() => gpt.forward(fl.zeros([1, 9], { dtype: "int32" })), fl.ArgumentError);
    assert.ok(Object.keys(gpt.stateDict()).includes("h.1.attn.c_attn.weight"));
  });

  test("cached forward, token by token, equals the full causal forward", () => {
    fl.manualSeed(1);
    const gpt = new T.GPT(cfg);
    gpt.eval();
    const idx = fl.randint(0, 13, [2, 7]);
    const full = gpt.forward(idx);
    const cache = gpt.createCache();
    const first = gpt.forward(idx.narrow(1, 0, 3), { cache }); // a 3-token prompt
    const steps = [first];
    for (let t = 3; t < 7; t++) steps.push(gpt.forward(idx.narrow(1, t, 1), { cache }));
    assert.equal(cache.length, 7);
    const inc = fl.cat(steps, 1);
    const diff = inc.sub(full).abs().max().itemSync() as number;
    assert.ok(diff < 1e-5, `max difference ${diff}`);
  });

  test("generate: the cache changes nothing, past blockSize included, and stops rows at eos", () => {
    fl.manualSeed(2);
    const gpt = new T.GPT(cfg);
    gpt.eval();
    const prompt = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    const a = T.generate(gpt, prompt, { maxNewTokens: 12 });
    const b = T.generate(gpt, prompt, { maxNewTokens: 12, useCache: false });
    assert.deepEqual(a, b);
    assert.equal(a[0]!.length, 15);
    assert.deepEqual(a[0]!.slice(0, 3), [1, 2, 3]);
    // Sampling with a seeded generator, cache or not, is the same draw sequence.
    const s1 = T.generate(gpt, prompt, {
      maxNewTokens: 6,
      temperature: 1,
      generator: new fl.Generator().manualSeed(3),
    });
    const s2 = T.generate(gpt, prompt, {
      maxNewTokens: 6,
      temperature: 1,
      useCache: false,
      generator: new fl.Generator().manualSeed(3),
    });
    assert.deepEqual(s1, s2);
    // With eos = the first greedy token of row 0, row 0 stops right there.
    const eos = a[0]![3]!;
    const c = T.generate(gpt, prompt, { maxNewTokens: 12, eos });
    assert.deepEqual(c[0], [1, 2, 3, eos]);
  });

  test("KVCache.select reorders and repeats rows", () => {
    const cache = new T.KVCache(1);
    const k = fl.arange(0, 3).float().reshape([3, 1, 1, 1]);
    cache.update(0, k, k.mul(10));
    const s = cache.select([2, 2, 0]);
    assert.deepEqual(s.keys[0]!.reshape([-1]).tolistSync() as number[], [2, 2, 0]);
    assert.deepEqual(s.values[0]!.reshape([-1]).tolistSync() as number[], [20, 20, 0]);
  });
});
