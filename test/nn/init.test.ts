// nn.init: each distribution's statistics on a large tensor, the gains and
// fans, determinism under a seed, and the errors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { nn } = fl;
const init = nn.init;

function stats(t: fl.Tensor): { mean: number; std: number; min: number; max: number } {
  const v = Array.from(t.dataSync());
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return { mean, std, min: Math.min(...v), max: Math.max(...v) };
}

function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: ${actual} not within ${tol} of ${expected}`,
  );
}

describe("calculateGain and fans", () => {
  test("gains are PyTorch's", () => {
    assert.equal(init.calculateGain("linear"), 1);
    assert.equal(init.calculateGain("conv2d"), 1);
    assert.equal(init.calculateGain("sigmoid"), 1);
    assert.equal(init.calculateGain("tanh"), 5 / 3);
    assert.equal(init.calculateGain("relu"), Math.SQRT2);
    assert.equal(init.calculateGain("leaky_relu"), Math.sqrt(2 / (1 + 0.01 ** 2)));
    assert.equal(init.calculateGain("leaky_relu", 0.2), Math.sqrt(2 / 1.04));
    assert.equal(init.calculateGain("selu"), 0.75);
    assert.throws(
      () => init.calculateGain("swish" as fl.nn.init.Nonlinearity),
      /unsupported nonlinearity swish/,
    );
  });

  test("fan in/out include the receptive field of conv weights", () => {
    assert.deepEqual(init.calculateFanInAndFanOut(fl.zeros([16, 3, 5, 5])), [75, 400]);
    assert.deepEqual(init.calculateFanInAndFanOut(fl.zeros([7, 4])), [4, 7]);
    assert.throws(() => init.calculateFanInAndFanOut(fl.zeros([5])), /fewer than 2 dimensions/);
  });
});

describe("distributions (200×300 tensors)", () => {
  const big = () => fl.zeros([200, 300]);

  test("uniform_ stays in [a, b] with mean (a+b)/2 and std (b-a)/√12", () => {
    fl.manualSeed(0);
    const s = stats(init.uniform_(big(), -1, 3));
    assert.ok(s.min >= -1 && s.max < 3);
    near(s.mean, 1, 0.02, "mean");
    near(s.std, 4 / Math.sqrt(12), 0.01, "std");
  });

  test("normal_ has the requested mean and std", () => {
    fl.manualSeed(0);
    const s = stats(init.normal_(big(), 2, 0.5));
    near(s.mean, 2, 0.01, "mean");
    near(s.std, 0.5, 0.005, "std");
  });

  test("constant_, zeros_, ones_, eye_", () => {
    const t = fl.zeros([2, 3]);
    assert.equal(init.constant_(t, 0.25), t);
    assert.ok(Array.from(t.dataSync()).every((v) => v === 0.25));
    assert.ok(Array.from(init.ones_(t).dataSync()).every((v) => v === 1));
    assert.ok(Array.from(init.zeros_(t).dataSync()).every((v) => v === 0));
    assert.deepEqual(init.eye_(fl.zeros([2, 3])).tolistSync(), [
      [1, 0, 0],
      [0, 1, 0],
    ]);
    assert.throws(() => init.eye_(fl.zeros([2, 2, 2])), /only tensors with 2 dimensions/);
  });

  test("xavierUniform_ and xavierNormal_ scale by √(2/(fanIn+fanOut))", () => {
    fl.manualSeed(1);
    const std = 2 * Math.sqrt(2 / 500);
    const u = stats(init.xavierUniform_(big(), 2));
    assert.ok(Math.max(u.max, -u.min) <= Math.sqrt(3) * std);
    near(u.std, std, 0.02 * std, "uniform std");
    const n = stats(init.xavierNormal_(big(), 2));
    near(n.mean, 0, 0.01 * std * 5, "normal mean");
    near(n.std, std, 0.02 * std, "normal std");
  });

  test("kaimingUniform_ and kaimingNormal_ use gain/√fan for both modes", () => {
    fl.manualSeed(2);
    const fanInStd = Math.SQRT2 / Math.sqrt(300);
    const u = stats(init.kaimingUniform_(big(), { nonlinearity: "relu" }));
    assert.ok(Math.max(u.max, -u.min) <= Math.sqrt(3) * fanInStd);
    near(u.std, fanInStd, 0.02 * fanInStd, "uniform std");
    const fanOutStd = Math.SQRT2 / Math.sqrt(200);
    const n = stats(init.kaimingNormal_(big(), { mode: "fanOut", nonlinearity: "relu" }));
    near(n.std, fanOutStd, 0.02 * fanOutStd, "normal std (fanOut)");
    // Defaults: leaky_relu with a = 0, fanIn.
    const d = stats(init.kaimingNormal_(big()));
    near(d.std, fanInStd, 0.02 * fanInStd, "default std");
    assert.throws(
      () => init.kaimingNormal_(big(), { mode: "fanAvg" as fl.nn.init.FanMode }),
      /mode fanAvg is not supported/,
    );
  });

  test("truncNormal_ stays in [a, b] and matches the truncated normal's moments", () => {
    fl.manualSeed(3);
    const s = stats(init.truncNormal_(big(), 0, 1, -1, 2));
    assert.ok(s.min >= -1 && s.max <= 2);
    // Truncated N(0,1) on [-1, 2]: mean = (φ(-1) - φ(2)) / (Φ(2) - Φ(-1)).
    const phi = (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
    const Z = 0.9772498680518208 - 0.15865525393145707;
    const mean = (phi(-1) - phi(2)) / Z;
    const variance = 1 + (-1 * phi(-1) - 2 * phi(2)) / Z - mean * mean;
    near(s.mean, mean, 0.01, "mean");
    near(s.std, Math.sqrt(variance), 0.01, "std");
  });

  test("orthogonal_ gives orthonormal rows or columns, scaled by gain", () => {
    fl.manualSeed(4);
    for (const shape of [
      [6, 4],
      [4, 6],
      [5, 5],
      [3, 2, 2],
    ]) {
      const t = init.orthogonal_(fl.zeros(shape, { dtype: "float64" }), 1.5);
      const m = t.reshape([shape[0]!, -1]);
      const [r, c] = m.shape as [number, number];
      const gram = r >= c ? m.t().matmul(m) : m.matmul(m.t());
      const n = Math.min(r, c);
      const g = gram.dataSync();
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++)
          near(g[i * n + j]!, i === j ? 2.25 : 0, 1e-9, `gram[${i},${j}] for ${shape}`);
    }
  });
});

describe("determinism and in-place semantics", () => {
  test("the same seed gives the same values; a generator can be passed", () => {
    fl.manualSeed(7);
    const a = init.kaimingUniform_(fl.zeros([4, 4]));
    fl.manualSeed(7);
    const b = init.kaimingUniform_(fl.zeros([4, 4]));
    assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
    const g1 = new fl.Generator(11);
    const g2 = new fl.Generator(11);
    const c = init.normal_(fl.zeros([20]), 0, 1, { generator: g1 });
    const d = init.normal_(fl.zeros([20]), 0, 1, { generator: g2 });
    assert.deepEqual(Array.from(c.dataSync()), Array.from(d.dataSync()));
  });

  test("works on parameters that require grad, without recording a graph", () => {
    const p = new nn.Parameter(fl.zeros([3, 3]));
    const r = init.xavierNormal_(p);
    assert.equal(r, p);
    assert.ok(p.isLeaf && p.requiresGrad && p.gradFn === null);
    assert.ok(Array.from(p.dataSync()).some((v) => v !== 0));
  });

  test("bad arguments are errors", () => {
    assert.throws(() => init.uniform_(fl.zeros([2]), 1, 0), fl.ArgumentError);
    assert.throws(() => init.normal_(fl.zeros([2]), 0, -1), fl.ArgumentError);
    assert.throws(() => init.truncNormal_(fl.zeros([2]), 0, 1, 2, -2), fl.ArgumentError);
    assert.throws(() => init.orthogonal_(fl.zeros([3])), fl.ShapeError);
  });
});
