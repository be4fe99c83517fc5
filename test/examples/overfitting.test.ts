import assert from "node:assert/strict";
import { test } from "node:test";
import { curvesSvg, loadSplit, RUNS, runOne } from "../../examples/overfitting.js";

test("the wide MLP overfits a small training set, the tiny one underfits, early stopping stops early", () => {
  const split = loadSplit(300, 600);
  const [underfit, overfit, , , , early] = RUNS;
  const u = runOne(underfit!, split, 15);
  const o = runOne(overfit!, split, 30);
  const e = runOne(early!, split, 30);
  assert.ok(o.finalTrain > 0.95, `overfit train accuracy ${o.finalTrain}`);
  assert.ok(o.finalTrain - o.finalVal > 0.08, `overfit gap ${o.finalTrain - o.finalVal}`);
  assert.ok(u.finalTrain < o.finalTrain - 0.1, `underfit train ${u.finalTrain} vs ${o.finalTrain}`);
  assert.ok(e.bestEpoch < 30, `early stopping kept epoch ${e.bestEpoch}`);
  const svg = curvesSvg([u, o, e]);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 6);
});
