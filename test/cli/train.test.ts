import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { program } from "../../src/cli/main.js";
import { type TrainOptions, train } from "../../src/cli/train.js";
import * as fl from "../../src/index.js";

function options(out: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    dataset: "digits",
    model: "fcnet",
    epochs: 40,
    batchSize: 32,
    lr: 3e-3,
    optimizer: "adam",
    weightDecay: 1e-4,
    dropout: 0,
    hidden: 128,
    seed: 0,
    out,
    progress: false,
    log: () => {},
    ...over,
  };
}

describe("flint train (the README's main job)", () => {
  test("the default digits recipe reaches >= 97% test accuracy and writes its outputs", async () => {
    const out = mkdtempSync(join(tmpdir(), "flint-train-"));
    const r = await train(options(out));
    assert.ok(r.testAccuracy >= 0.97, `test accuracy ${r.testAccuracy}`);
    assert.equal(r.history.trainLoss.length, 40);
    assert.ok(r.history.trainLoss[39]! < r.history.trainLoss[0]! / 5, "training loss falls");
    for (const f of ["checkpoint.safetensors", "model.safetensors", "curves.svg", "history.json"]) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const svg = readFileSync(join(out, "curves.svg"), "utf8");
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((svg.match(/<polyline/g) ?? []).length, 4, "train/val loss and accuracy curves");
    // The saved weights load back into the same architecture with PyTorch's keys.
    const sd = await fl.load(join(out, "model.safetensors"));
    assert.deepEqual(Object.keys(sd).sort(), ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]);
    assert.deepEqual(sd["fc1.weight"]!.shape, [128, 64]);
  });

  test("resuming from a checkpoint gives exactly the run that was never interrupted", async () => {
    const a = mkdtempSync(join(tmpdir(), "flint-a-"));
    const b = mkdtempSync(join(tmpdir(), "flint-b-"));
    const whole = await train(options(a, { epochs: 4 }));
    await train(options(b, { epochs: 2 }));
    const resumed = await train(
      options(b, { epochs: 4, resume: join(b, "checkpoint.safetensors") }),
    );
    const wa = whole.model.stateDict();
    const wb = resumed.model.stateDict();
    for (const k of Object.keys(wa)) {
      assert.deepEqual(Array.from(wb[k]!.dataSync()), Array.from(wa[k]!.dataSync()), k);
    }
    assert.deepEqual(resumed.history.trainLoss, whole.history.trainLoss);
  });

  test("the command line parses options and rejects bad ones", async () => {
    const cli = program().exitOverride();
    for (const c of cli.commands) {
      c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    }
    await assert.rejects(
      cli.parseAsync(["node", "flint", "train", "--epochs", "zero"]),
      /positive integer/,
    );
    await assert.rejects(
      cli.parseAsync(["node", "flint", "train", "--dataset", "mnist"]),
      /Allowed choices/,
    );
  });
});
