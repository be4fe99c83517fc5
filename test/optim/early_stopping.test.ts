import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

/** y = w·x + b, with the Module-like stateDict / loadStateDict EarlyStopping needs. */
class TinyModel {
  w = fl.tensor([0]).requiresGrad_();
  b = fl.tensor([0]).requiresGrad_();
  parameters(): fl.Tensor[] {
    return [this.w, this.b];
  }
  stateDict(): Record<string, fl.Tensor> {
    return { weight: this.w, bias: this.b };
  }
  loadStateDict(sd: Record<string, fl.Tensor>): void {
    fl.noGrad(() => {
      this.w.copy_(sd.weight!);
      this.b.copy_(sd.bias!);
    });
  }
}

describe("EarlyStopping", () => {
  test("stops after `patience` epochs without improvement (mode min)", () => {
    const es = new fl.EarlyStopping({ patience: 2 });
    const stops = [1.0, 0.8, 0.85, 0.7, 0.75, 0.71, 0.9].map((m) => es.step(m));
    assert.deepEqual(stops, [false, false, false, false, false, true, true]);
    assert.equal(es.bestScore, 0.7);
    assert.equal(es.bestEpoch, 3);
    assert.equal(es.counter, 3);
    assert.equal(es.shouldStop, true);
  });

  test("minDelta: smaller gains do not count; mode max for accuracies", () => {
    const es = new fl.EarlyStopping({ patience: 2, minDelta: 0.05, mode: "max" });
    assert.deepEqual(
      [0.5, 0.52, 0.54, 0.6].map((m) => es.step(m)),
      [false, false, true, false],
    );
    assert.equal(es.bestScore, 0.6);
    assert.equal(es.counter, 0);
  });

  test("a NaN metric stops at once; a tensor metric works", () => {
    const es = new fl.EarlyStopping({ patience: 10 });
    assert.equal(es.step(fl.tensor(1.5)), false);
    assert.equal(es.bestScore, 1.5);
    assert.equal(es.step(Number.NaN), true);
  });

  test("keeps a deep copy of the best weights and restores them", () => {
    const model = new TinyModel();
    const es = new fl.EarlyStopping({ patience: 1 });
    const opt = new fl.optim.SGD(model.parameters(), { lr: 0.1 });
    const x = fl.tensor([1, 2, 3]);
    const y = fl.tensor([2, 4, 6]);
    // A fake validation curve: best at epoch 2, worse after.
    const metric = [3, 2, 1, 4];
    let bestW = Number.NaN;
    let stoppedAt = -1;
    for (let epoch = 0; epoch < metric.length; epoch++) {
      opt.zeroGrad();
      x.mul(model.w).add(model.b).sub(y).square().mean().backward();
      opt.step();
      if (epoch === 2) bestW = Number(model.w.itemSync());
      if (es.step(metric[epoch]!, model)) {
        stoppedAt = epoch;
        break;
      }
    }
    assert.equal(stoppedAt, 3);
    assert.equal(es.bestEpoch, 2);
    assert.notEqual(Number(model.w.itemSync()), bestW, "training moved on past the best epoch");
    assert.equal(es.restoreBest(model), true);
    assert.equal(Number(model.w.itemSync()), bestW);
    // The kept copy is not the live tensor: training further does not change it.
    fl.noGrad(() => model.w.add_(1));
    assert.equal(Number(es.bestStateDict()!.weight!.itemSync()), bestW);
  });

  test("restoreBestWeights false keeps nothing; bad options throw", () => {
    const model = new TinyModel();
    const es = new fl.EarlyStopping({ restoreBestWeights: false });
    es.step(1, model);
    assert.equal(es.restoreBest(model), false);
    assert.equal(fl.train.EarlyStopping, fl.EarlyStopping);
    assert.throws(
      () => new fl.EarlyStopping({ patience: -1 }),
      /EarlyStopping: patience should be a non-negative integer, got -1/,
    );
    assert.throws(
      () => new fl.EarlyStopping({ mode: "up" as "min" }),
      /EarlyStopping: mode should be "min" or "max", got up/,
    );
  });
});
