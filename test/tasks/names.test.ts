import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { contextPairs, encodeNames, namesData, trainNames } from "../../src/cli/tasks/names.js";
import * as fl from "../../src/index.js";

describe("names data", () => {
  test("the first-name lists load, lowercase, dedupe and split 80/10/10 without overlap", () => {
    assert.equal(fl.data.loadFirstNames().length, 8849);
    assert.equal(fl.data.loadFirstNames({ sex: "male" }).length, 3898);
    const d = namesData(42);
    const n = d.train.length + d.val.length + d.test.length;
    assert.equal(n, new Set(fl.data.loadFirstNames().map((s) => s.toLowerCase())).size);
    assert.equal(d.train.length, Math.floor(0.8 * n));
    assert.equal(new Set([...d.train, ...d.val, ...d.test]).size, n);
    assert.equal(d.tokenizer.tokens[0], ".");
    assert.equal(d.blockSize, 16);
  });

  test("sequences are . + name → name + ., padded targets ignored; MLP contexts slide", () => {
    const d = namesData(42);
    const [x, y] = encodeNames(["ab"], d.tokenizer, 4);
    const a = d.tokenizer.encode("a")[0]!;
    const b = d.tokenizer.encode("b")[0]!;
    assert.deepEqual(x.tolistSync(), [[0, a, b, 0]]);
    assert.deepEqual(y.tolistSync(), [[a, b, 0, -1]]);
    const [cx, cy] = contextPairs(["ab"], d.tokenizer, 3);
    assert.deepEqual(cx.tolistSync(), [
      [0, 0, 0],
      [0, 0, a],
      [0, a, b],
    ]);
    assert.deepEqual(cy.tolistSync(), [a, b, 0]);
  });
});

describe("names models (a few steps on a slice)", () => {
  for (const model of ["mlp", "lstm", "gpt"] as const) {
    test(`${model}: the loss falls, validation loss is finite, 10 names are sampled`, async () => {
      const r = await trainNames({ model, steps: 30, limit: 400, lr: 1e-2, samples: 10 });
      assert.ok(
        r.lossCurve.at(-1)! < r.lossCurve[0]! - 0.3,
        `loss ${r.lossCurve[0]} → ${r.lossCurve.at(-1)}`,
      );
      assert.ok(Number.isFinite(r.valLoss) && r.valLoss < Math.log(28) + 0.5);
      assert.equal(r.samples.length, 10);
      for (const s of r.samples) assert.match(s, /^[a-z-]*$/);
    });
  }

  test("bigram: add-one smoothed counts beat the uniform model; checkpoint written", async () => {
    const out = mkdtempSync(join(tmpdir(), "flint-names-"));
    const r = await trainNames({ model: "bigram", limit: 2000, out });
    assert.ok(r.valLoss < Math.log(28) - 0.5, `${r.valLoss}`);
    assert.ok(r.checkpoint && existsSync(r.checkpoint));
    const ckpt = (await fl.loadCheckpoint(r.checkpoint!)) as { model: { logP: fl.Tensor } };
    // Each row of the table is a distribution.
    const rowSums = ckpt.model.logP.exp().sum(1).tolistSync() as number[];
    for (const s of rowSums) assert.ok(Math.abs(s - 1) < 1e-4);
  });
});
