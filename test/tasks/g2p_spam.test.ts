import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { editDistance } from "../../src/cli/tasks/common.js";
import { beamPhonemes, G2PModel, g2pData, trainG2P } from "../../src/cli/tasks/g2p.js";
import { binaryMetrics, mailText, trainSpam } from "../../src/cli/tasks/spam.js";
import * as fl from "../../src/index.js";

describe("g2p", () => {
  test("CMUdict loads; the subset drops stress and splits 90/10", () => {
    const dict = fl.data.loadCmudict();
    assert.deepEqual(dict.find((e) => e.word === "CAT")?.phonemes, ["K", "AE1", "T"]);
    assert.ok(fl.data.loadCmudict({ alternates: true }).length > dict.length);
    const d = g2pData(500, 1);
    assert.equal(d.train.length + d.test.length, 500);
    assert.equal(d.test.length, 50);
    assert.equal(d.phonemes.length - 3, 39);
    for (const e of d.train) assert.ok(e.phonemes.every((p) => !/\d/.test(p)));
  });

  test("edit distance", () => {
    assert.equal(editDistance(["K", "AE", "T"], ["K", "AE", "T"]), 0);
    assert.equal(editDistance(["K", "AE", "T"], ["B", "AE", "T", "S"]), 2);
    assert.equal(editDistance([], ["A"]), 1);
  });

  test("training lowers the loss; PER, attention rows and checkpoint/SVG come out", async () => {
    const out = mkdtempSync(join(tmpdir(), "flint-g2p-"));
    const r = await trainG2P({ size: 180, epochs: 3, batchSize: 32, lr: 1e-2, evalLimit: 10, out });
    assert.ok(r.lossCurve.at(-1)! < r.lossCurve[0]! - 0.5, `loss ${r.lossCurve}`);
    assert.ok(r.per >= 0 && r.per <= 2);
    // One attention row per output step, each a distribution over the word's letters.
    const word = r.examples[0]!.word;
    assert.equal(r.attention.length, r.examples[0]!.predicted.length + 1);
    for (const row of r.attention) {
      assert.equal(row.length, word.length);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    }
    assert.ok(existsSync(r.checkpoint!));
    assert.match(
      readFileSync(join(out, "attention.svg"), "utf8"),
      /^<svg[\s\S]*<rect[\s\S]*<\/svg>$/,
    );
  });

  test("beam search and greedy agree in shape on an untrained model", () => {
    fl.manualSeed(0);
    const d = g2pData(100, 2);
    const m = new G2PModel(d.letters.length, d.phonemes.length, 8, 16);
    m.eval();
    const ph = beamPhonemes(m, "cat", d, 3);
    assert.ok(ph.length <= 30 && ph.every((p) => d.phonemes.includes(p)));
  });
});

describe("spam", () => {
  test("the corpus loads: 6,046 e-mails, 1,896 spam", () => {
    const mails = fl.data.loadSpamAssassin({ groups: ["spam-1", "hard-ham-1"] });
    assert.equal(mails.length, 750);
    assert.equal(mails.filter((m) => m.spam).length, 500);
    assert.match(mailText(mails[0]!.text), /\S/);
  });

  test("mailText keeps the subject and the body without HTML", () => {
    const t = mailText("From: a@b\nSubject: Win cash\n\n<p>Click <b>here</b>&nbsp;now</p>");
    assert.match(t, /^Win cash\n/);
    assert.doesNotMatch(t, /<|&nbsp;/);
  });

  test("metrics: accuracy, precision, recall and F1 of the spam class", () => {
    const m = binaryMetrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]);
    assert.equal(m.accuracy, 3 / 5);
    assert.equal(m.precision, 2 / 3);
    assert.equal(m.recall, 2 / 3);
    assert.ok(Math.abs(m.f1 - 2 / 3) < 1e-12);
  });

  test("a few steps on a slice lower the loss; metrics are in range", async () => {
    const r = await trainSpam({ limit: 400, epochs: 2, batchSize: 32, maxLen: 24, lr: 1e-2 });
    assert.ok(r.lossCurve.at(-1)! < r.lossCurve[0]!, `loss ${r.lossCurve}`);
    for (const v of Object.values(r.test)) assert.ok(v >= 0 && v <= 1);
    assert.equal(r.sizes.train + r.sizes.val + r.sizes.test, 400);
  });
});
