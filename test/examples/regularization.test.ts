import assert from "node:assert/strict";
import { test } from "node:test";
import { compareRegularization } from "../../examples/regularization.js";

test("L2 shrinks the weights, L1 zeroes many, early stopping restores an earlier epoch", () => {
  const [none, l2, l1, early] = compareRegularization({ epochs: 120 });
  assert.ok(
    none!.trainAcc > 0.99,
    `the unregularized MLP fits its 300 samples (${none!.trainAcc})`,
  );
  assert.ok(
    l2!.weightNorm < 0.6 * none!.weightNorm,
    `L2 norm ${l2!.weightNorm} vs ${none!.weightNorm}`,
  );
  assert.ok(
    l1!.nearZero > 10 * none!.nearZero + 0.1,
    `L1 near-zero ${l1!.nearZero} vs ${none!.nearZero}`,
  );
  assert.ok(early!.bestEpoch < 120, `early stopping kept epoch ${early!.bestEpoch}`);
  for (const r of [none, l2, l1, early])
    assert.ok(r!.valAcc > 0.85, `${r!.name}: val ${r!.valAcc}`);
});
