import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const S = fl.optim.lrScheduler;

function sgd(lr = 0.1, opts: Partial<fl.optim.SGDOptions> = {}) {
  return new fl.optim.SGD([fl.zeros([1]).requiresGrad_()], { lr, ...opts });
}

function near(got: number, want: number, what = ""): void {
  assert.ok(Math.abs(got - want) <= 1e-12 * (1 + Math.abs(want)), `${what}: ${got} != ${want}`);
}

/** lrs seen at each of n epochs, stepping after each. */
function lrs(opt: fl.optim.Optimizer, s: { step(): void }, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(opt.paramGroups[0]!.lr);
    opt.step();
    s.step();
  }
  return out;
}

describe("lrScheduler", () => {
  test("the constructor records initialLr and takes epoch 0; getLastLr follows each step", () => {
    const opt = sgd(0.2);
    const s = new S.ExponentialLR(opt, 0.5);
    assert.equal(opt.paramGroups[0]!.initialLr, 0.2);
    assert.equal(s.lastEpoch, 0);
    assert.deepEqual(s.getLastLr(), [0.2]);
    s.step();
    assert.equal(s.lastEpoch, 1);
    assert.deepEqual(s.getLastLr(), [0.1]);
    assert.deepEqual(s.baseLrs, [0.2]);
  });

  test("each group is scheduled from its own lr", () => {
    const a = fl.zeros([1]).requiresGrad_();
    const b = fl.zeros([1]).requiresGrad_();
    const opt = new fl.optim.SGD([{ params: [a] }, { params: [b], lr: 1 }], { lr: 0.1 });
    const s = new S.StepLR(opt, 2, { gamma: 0.5 });
    s.step();
    s.step();
    const [x, y] = s.getLastLr();
    near(x!, 0.05);
    near(y!, 0.5);
  });

  test("step(epoch) jumps using the closed form", () => {
    const opt = sgd(1);
    const s = new S.MultiStepLR(opt, [3, 6], { gamma: 0.1 });
    s.step(7);
    near(opt.paramGroups[0]!.lr, 0.01);
    const opt2 = sgd(1);
    const c = new S.CosineAnnealingLR(opt2, 10, { etaMin: 0.1 });
    c.step(5);
    near(opt2.paramGroups[0]!.lr, 0.1 + 0.9 * 0.5);
  });

  test("stateDict / loadStateDict resume a schedule where it left off", () => {
    const make = (opt: fl.optim.Optimizer) => new S.CosineAnnealingLR(opt, 6, { etaMin: 0.01 });
    const refOpt = sgd();
    const want = lrs(refOpt, make(refOpt), 10);

    const opt = sgd();
    const s = make(opt);
    const first = lrs(opt, s, 4);
    const sd = s.stateDict();
    const osd = opt.stateDict();
    assert.equal(sd.lastEpoch, 4);
    assert.equal("optimizer" in sd, false);

    const opt2 = sgd();
    opt2.loadStateDict(osd);
    const s2 = make(opt2);
    s2.loadStateDict(sd);
    const rest = lrs(opt2, s2, 6);
    [...first, ...rest].forEach((v, i) => {
      near(v, want[i]!, `epoch ${i}`);
    });
  });

  test("LambdaLR leaves its functions out of the state dict; one per group is allowed", () => {
    const a = fl.zeros([1]).requiresGrad_();
    const b = fl.zeros([1]).requiresGrad_();
    const opt = new fl.optim.SGD([{ params: [a] }, { params: [b] }], { lr: 1 });
    const s = new S.LambdaLR(opt, [(e) => 1 / (e + 1), (e) => 2 ** -e]);
    s.step();
    s.step();
    assert.deepEqual(s.getLastLr(), [1 / 3, 0.25]);
    assert.equal("lrLambdas" in s.stateDict(), false);
    assert.throws(
      () => new S.LambdaLR(opt, [(e) => e]),
      /LambdaLR: expected 2 lrLambdas \(one per group\), got 1/,
    );
  });

  test("OneCycleLR: maxLr positional or in the options; momentum cycling follows the optimizer", () => {
    const a = sgd(0.1, { momentum: 0.9 });
    const s1 = new S.OneCycleLR(a, 1.0, { totalSteps: 10 });
    const b = sgd(0.1, { momentum: 0.9 });
    const s2 = new S.OneCycleLR(b, { maxLr: 1.0, totalSteps: 10 });
    assert.deepEqual(lrs(a, s1, 10), lrs(b, s2, 10));
    assert.equal(a.paramGroups[0]!.maxLr, 1);
    near(a.paramGroups[0]!.initialLr!, 0.04);

    // Adagrad has neither momentum nor betas: cycling is off by default, an error when asked for.
    const ada = new fl.optim.Adagrad([fl.zeros([1]).requiresGrad_()]);
    const s3 = new S.OneCycleLR(ada, { maxLr: 0.5, totalSteps: 5 });
    assert.equal(s3.cycleMomentum, false);
    assert.throws(
      () => new S.OneCycleLR(ada, { maxLr: 0.5, totalSteps: 5, cycleMomentum: true }),
      /OneCycleLR: the optimizer has no momentum or betas to cycle/,
    );
    // Adam's beta1 cycles, beta2 stays.
    const adam = new fl.optim.Adam([fl.zeros([1]).requiresGrad_()], { betas: [0.9, 0.99] });
    new S.OneCycleLR(adam, { maxLr: 0.5, totalSteps: 5 });
    assert.deepEqual(adam.paramGroups[0]!.betas, [0.95, 0.99]);
  });

  test("OneCycleLR refuses to step past totalSteps and checks its options", () => {
    const opt = sgd();
    const s = new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 3 });
    s.step();
    s.step();
    s.step();
    assert.throws(
      () => s.step(),
      /OneCycleLR: tried to step 4 times; the specified number of total steps is 3/,
    );
    assert.throws(
      () => new S.OneCycleLR(sgd(), { maxLr: 1 }),
      /give either totalSteps or epochs and stepsPerEpoch/,
    );
    assert.throws(
      () => new S.OneCycleLR(sgd(), { maxLr: 1, totalSteps: 0 }),
      /positive integer totalSteps, got 0/,
    );
    assert.throws(
      () => new S.OneCycleLR(sgd(), { maxLr: 1, totalSteps: 5, pctStart: 2 }),
      /pctStart should be in \[0, 1\], got 2/,
    );
  });

  test("ReduceLROnPlateau: patience, cooldown, minLr, state dict", () => {
    const opt = sgd(1);
    const s = new S.ReduceLROnPlateau(opt, { patience: 1, factor: 0.5, cooldown: 1, minLr: 0.3 });
    const seen: number[] = [];
    for (const m of [5, 4, 4, 4, 4, 4, 4, 4, 4]) {
      s.step(m);
      seen.push(opt.paramGroups[0]!.lr);
    }
    // Two bad epochs reduce; one cooldown epoch; then two more; floors at minLr.
    assert.deepEqual(seen, [1, 1, 1, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3]);
    assert.equal(s.best, 4);
    const sd = s.stateDict();
    const s2 = new S.ReduceLROnPlateau(sgd(1), { patience: 1 });
    s2.loadStateDict(sd);
    assert.equal(s2.best, 4);
    assert.equal(s2.numBadEpochs, s.numBadEpochs);
    assert.equal(s2.factor, 0.5);
    // A one-element tensor works as a metric.
    s2.step(fl.tensor(1));
    assert.equal(s2.best, 1);
    assert.throws(
      () => new S.ReduceLROnPlateau(sgd(), { factor: 1 }),
      /ReduceLROnPlateau: factor should be < 1, got 1/,
    );
  });

  test("SequentialLR warms up then decays, and round-trips its children's state", () => {
    const opt = sgd(1);
    const warm = new S.LinearLR(opt, { startFactor: 0.25, totalIters: 2 });
    const decay = new S.ExponentialLR(opt, 0.5);
    const s = new S.SequentialLR(opt, [warm, decay], { milestones: [2] });
    const got = lrs(opt, s, 5);
    [0.25, 0.625, 1, 0.5, 0.25].forEach((v, i) => {
      near(got[i]!, v, `epoch ${i}`);
    });
    const sd = s.stateDict() as { schedulers: Record<string, unknown>[] };
    assert.equal(sd.schedulers.length, 2);
    assert.equal(sd.schedulers[1]!.lastEpoch, 3);
    const other = sgd();
    assert.throws(
      () => new S.SequentialLR(other, [warm, decay], { milestones: [2] }),
      /SequentialLR: scheduler 0 belongs to a different optimizer/,
    );
    assert.throws(
      () => new S.SequentialLR(opt, [warm, decay], { milestones: [] }),
      /one milestone fewer than schedulers/,
    );
  });

  test("invalid scheduler arguments", () => {
    assert.throws(
      () => new S.StepLR(sgd(), 0),
      /StepLR: stepSize should be a positive integer, got 0/,
    );
    assert.throws(
      () => new S.LinearLR(sgd(), { startFactor: 0 }),
      /LinearLR: startFactor should be in \(0, 1\], got 0/,
    );
    assert.throws(
      () => new S.CosineAnnealingLR(sgd(), 0),
      /CosineAnnealingLR: tMax should be positive/,
    );
    assert.throws(
      () => new S.StepLR(sgd(), 2, { lastEpoch: 5 }),
      /initialLr is not set in paramGroups\[0\] when resuming/,
    );
  });
});
