// Losses: gradcheck in float64 for every loss and reduction, the mean's
// denominator rules, and the errors for bad targets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;
type T = fl.Tensor;

const f64 = (shape: number[], grad = true) => {
  const t = fl.randn(shape, { dtype: "float64" });
  return grad ? t.requiresGrad_() : t;
};
const labels = (values: number[], shape = [values.length]) =>
  fl.tensor(values, { dtype: "int32" }).reshape(shape);
const check = (fn: (...xs: T[]) => T, inputs: T[]) =>
  assert.ok(fl.autograd.gradcheck((...xs) => fn(...xs), inputs));
const REDUCTIONS = ["mean", "sum", "none"] as const;
const num = (t: T) => t.itemSync() as number;

function throwsNaming(
  fn: () => unknown,
  op: string,
  kind: new (...a: never[]) => Error = fl.FlintError,
): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e.constructor.name}: ${e.message}`);
    assert.match(e.message, new RegExp(`^${op}:`));
    return true;
  });
}

describe("loss gradcheck (float64)", () => {
  fl.manualSeed(11);
  for (const reduction of REDUCTIONS) {
    test(`regression losses, ${reduction}`, () => {
      check((a, b) => F.mseLoss(a!, b!, { reduction }), [f64([3, 4]), f64([3, 4])]);
      check((a, b) => F.l1Loss(a!, b!, { reduction }), [f64([3, 4]), f64([3, 4])]);
      check((a, b) => F.smoothL1Loss(a!, b!, { reduction, beta: 0.8 }), [f64([3, 4]), f64([3, 4])]);
      check((a, b) => F.huberLoss(a!, b!, { reduction, delta: 0.6 }), [f64([3, 4]), f64([3, 4])]);
    });

    test(`crossEntropy and nllLoss, ${reduction}`, () => {
      const t = labels([0, 3, 1, 2]);
      const weight = fl.tensor([0.5, 1, 2, 0.3], { dtype: "float64" });
      check((x) => F.crossEntropy(x!, t, { reduction }), [f64([4, 4])]);
      check(
        (x) => F.crossEntropy(x!, t, { reduction, weight, labelSmoothing: 0.2, ignoreIndex: 1 }),
        [f64([4, 4])],
      );
      check((x) => F.nllLoss(x!, t, { reduction, weight }), [f64([4, 4])]);
      const probs = F.softmax(f64([4, 4], false), 1);
      check(
        (x) => F.crossEntropy(x!, probs, { reduction, weight, labelSmoothing: 0.1 }),
        [f64([4, 4])],
      );
      // (N, C, d) against (N, d)
      check(
        (x) => F.crossEntropy(x!, labels([0, 2, 1, 1, 0, 2], [2, 3]), { reduction }),
        [f64([2, 3, 3])],
      );
    });

    test(`binary losses, ${reduction}`, () => {
      const y = fl.tensor(
        [
          [1, 0, 1],
          [0, 0.3, 1],
        ],
        { dtype: "float64" },
      );
      const weight = fl.tensor([0.5, 1, 2], { dtype: "float64" });
      const p = fl.rand([2, 3], { dtype: "float64" }).mul(0.8).add(0.1).requiresGrad_();
      check((a) => F.binaryCrossEntropy(a!, y, { reduction, weight }), [p]);
      const posWeight = fl.tensor([2, 0.5, 1], { dtype: "float64" });
      check(
        (a, b) => F.binaryCrossEntropyWithLogits(a!, b!, { reduction, weight, posWeight }),
        [f64([2, 3]), y.clone().requiresGrad_()],
      );
    });

    test(`margin and embedding losses, ${reduction}`, () => {
      const s = fl.tensor([1, -1, -1, 1], { dtype: "float64" });
      check(
        (a, b) => F.marginRankingLoss(a!, b!, s, { reduction, margin: 0.1 }),
        [f64([4]), f64([4])],
      );
      check(
        (a, b) => F.cosineEmbeddingLoss(a!, b!, s, { reduction, margin: -0.9 }),
        [f64([4, 3]), f64([4, 3])],
      );
      check((a) => F.hingeEmbeddingLoss(a!, s, { reduction, margin: 5 }), [f64([4])]);
      check((a) => F.softMarginLoss(a!, s, { reduction }), [f64([4])]);
      check(
        (a, p, n) => F.tripletMarginLoss(a!, p!, n!, { reduction, margin: 10, swap: true }),
        [f64([4, 3]), f64([4, 3]), f64([4, 3])],
      );
      check(
        (a, p, n) => F.tripletMarginLoss(a!, p!, n!, { reduction, margin: 10, p: 3 }),
        [f64([4, 3]), f64([4, 3]), f64([4, 3])],
      );
    });

    test(`likelihood losses, ${reduction}`, () => {
      const q = F.softmax(f64([3, 4], false), 1).requiresGrad_();
      check(
        (a, b) => F.klDiv(a!, b!, { reduction }),
        [F.logSoftmax(f64([3, 4], false), 1).requiresGrad_(), q],
      );
      check((a, b) => F.klDiv(a!, b!, { reduction, logTarget: true }), [f64([3, 4]), f64([3, 4])]);
      const counts = fl.tensor([0, 1, 3, 5, 2, 7], { dtype: "float64" });
      check((a) => F.poissonNllLoss(a!, counts, { reduction }), [f64([6])]);
      const rate = fl.rand([6], { dtype: "float64" }).add(0.5).requiresGrad_();
      check(
        (a) => F.poissonNllLoss(a!, counts, { reduction, logInput: false, full: true }),
        [rate],
      );
      const v = fl.rand([3], { dtype: "float64" }).add(0.5).requiresGrad_();
      check(
        (a, b, c) => F.gaussianNllLoss(a!, b!, c!, { reduction, full: true }),
        [f64([3, 2]), f64([3, 2]), v],
      );
    });
  }

  test("distances", () => {
    check((a, b) => F.cosineSimilarity(a!, b!, { dim: 1 }), [f64([3, 4]), f64([3, 4])]);
    check((a, b) => F.pairwiseDistance(a!, b!, { p: 1.5 }), [f64([3, 4]), f64([3, 4])]);
  });

  test("second order: crossEntropy and bceWithLogits", () => {
    const t = labels([2, 0, 1]);
    assert.ok(
      fl.autograd.gradgradcheck(
        (x) => F.crossEntropy(x!, t, { labelSmoothing: 0.1 }),
        [f64([3, 3])],
      ),
    );
    const y = fl.tensor([1, 0, 1], { dtype: "float64" });
    assert.ok(fl.autograd.gradgradcheck((x) => F.binaryCrossEntropyWithLogits(x!, y), [f64([3])]));
  });
});

describe("loss semantics", () => {
  test("crossEntropy equals nllLoss of logSoftmax", () => {
    fl.manualSeed(4);
    const x = fl.randn([5, 3]);
    const t = labels([0, 1, 2, 1, 0]);
    assert.ok(Math.abs(num(F.crossEntropy(x, t)) - num(F.nllLoss(F.logSoftmax(x, 1), t))) < 1e-6);
  });

  test("weighted mean divides by the weights of counted targets; ignored targets count nowhere", () => {
    const x = fl
      .tensor([
        [0.1, 0.2],
        [0.3, 0.4],
        [0.5, 0.6],
      ])
      .log();
    const w = fl.tensor([2, 3]);
    const t = labels([0, 1, -100]);
    // -(2 log 0.1 + 3 log 0.4) / (2 + 3)
    const want = -(2 * Math.log(0.1) + 3 * Math.log(0.4)) / 5;
    assert.ok(Math.abs(num(F.nllLoss(x, t, { weight: w })) - want) < 1e-5);
    assert.deepEqual(F.nllLoss(x, t, { reduction: "none" }).shape, [3]);
    assert.equal(F.nllLoss(x, t, { reduction: "none" }).dataSync()[2], 0);
  });

  test("all targets ignored gives NaN for the mean, as PyTorch", () => {
    assert.ok(Number.isNaN(num(F.crossEntropy(fl.randn([2, 3]), labels([-100, -100])))));
  });

  test("probability targets: one-hot probabilities equal class indices", () => {
    fl.manualSeed(5);
    const x = fl.randn([4, 3]);
    const t = labels([2, 0, 1, 2]);
    const probs = F.oneHot(t, 3).float();
    assert.ok(Math.abs(num(F.crossEntropy(x, probs)) - num(F.crossEntropy(x, t))) < 1e-6);
  });

  test("bceWithLogits is stable for huge logits and equals bce(sigmoid) for moderate ones", () => {
    const big = F.binaryCrossEntropyWithLogits(fl.tensor([1000, -1000]), fl.tensor([0, 1]), {
      reduction: "none",
    });
    assert.deepEqual(Array.from(big.dataSync()), [1000, 1000]);
    fl.manualSeed(6);
    const z = fl.randn([5]);
    const y = fl.rand([5]);
    assert.ok(
      Math.abs(
        num(F.binaryCrossEntropyWithLogits(z, y)) - num(F.binaryCrossEntropy(z.sigmoid(), y)),
      ) < 1e-5,
    );
  });

  test("bce clamps its logs at -100", () => {
    const l = F.binaryCrossEntropy(fl.tensor([0, 1]), fl.tensor([1, 0]), { reduction: "none" });
    assert.deepEqual(Array.from(l.dataSync()), [100, 100]);
  });

  test("klDiv batchmean divides the sum by the batch size", () => {
    fl.manualSeed(8);
    const lp = F.logSoftmax(fl.randn([4, 5]), 1);
    const q = F.softmax(fl.randn([4, 5]), 1);
    const sum = num(F.klDiv(lp, q, { reduction: "sum" }));
    assert.ok(Math.abs(num(F.klDiv(lp, q, { reduction: "batchmean" })) - sum / 4) < 1e-6);
    assert.ok(Math.abs(num(F.klDiv(lp, q, { reduction: "mean" })) - sum / 20) < 1e-6);
    assert.ok(
      Math.abs(num(F.klDiv(lp, q.log(), { reduction: "sum", logTarget: true })) - sum) < 1e-5,
    );
  });
});

describe("loss errors name the function", () => {
  test("crossEntropy: float target of the wrong shape", () => {
    throwsNaming(
      () => F.crossEntropy(fl.randn([4, 3]), fl.rand([4, 2])),
      "crossEntropy",
      fl.ShapeError,
    );
  });
  test("crossEntropy: target out of range", () => {
    throwsNaming(
      () => F.crossEntropy(fl.randn([2, 3]), labels([0, 3])),
      "crossEntropy",
      fl.ArgumentError,
    );
    throwsNaming(
      () => F.crossEntropy(fl.randn([2, 3]), labels([-1, 0])),
      "crossEntropy",
      fl.ArgumentError,
    );
    throwsNaming(() => F.nllLoss(fl.randn([2, 3]), labels([0, 5])), "nllLoss", fl.ArgumentError);
  });
  test("mismatched batch sizes", () => {
    throwsNaming(
      () => F.crossEntropy(fl.randn([4, 3]), labels([0, 1, 2])),
      "crossEntropy",
      fl.ShapeError,
    );
    throwsNaming(() => F.nllLoss(fl.randn([4, 3]), labels([0, 1])), "nllLoss", fl.ShapeError);
    throwsNaming(
      () => F.crossEntropy(fl.randn([2, 3, 4]), labels([0, 1, 2, 0, 1, 2], [2, 3])),
      "crossEntropy",
      fl.ShapeError,
    );
  });
  test("bad dtypes, weights and reductions", () => {
    throwsNaming(
      () => F.crossEntropy(fl.randn([2, 3]), fl.tensor([true, false])),
      "crossEntropy",
      fl.DTypeError,
    );
    throwsNaming(
      () => F.crossEntropy(fl.randn([2, 3]), labels([0, 1]), { weight: fl.ones([2]) }),
      "crossEntropy",
      fl.ShapeError,
    );
    throwsNaming(
      () => F.mseLoss(fl.randn([2]), fl.randn([2]), { reduction: "avg" as unknown as "mean" }),
      "mseLoss",
      fl.ArgumentError,
    );
    throwsNaming(
      () => F.binaryCrossEntropy(fl.rand([2, 3]), fl.rand([3, 2])),
      "binaryCrossEntropy",
      fl.ShapeError,
    );
    throwsNaming(
      () => F.binaryCrossEntropyWithLogits(fl.rand([2, 3]), fl.rand([3])),
      "binaryCrossEntropyWithLogits",
      fl.ShapeError,
    );
  });
});
