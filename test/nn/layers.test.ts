// The core layers: Linear, Bilinear, Identity, Flatten/Unflatten, Dropout,
// the activation and loss modules.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { nn } = fl;
const F = fl.nn.functional;

function values(t: fl.Tensor): number[] {
  return Array.from(t.dataSync());
}

function assertAllClose(a: fl.Tensor, b: fl.Tensor, tol = 1e-6): void {
  assert.deepEqual(a.shape, b.shape);
  const x = values(a);
  const y = values(b);
  for (const [i, v] of x.entries()) {
    assert.ok(Math.abs(v - y[i]!) <= tol * (1 + Math.abs(y[i]!)), `[${i}] ${v} != ${y[i]}`);
  }
}

/** Runs fn with some of the module's parameters replaced by given tensors, so gradcheck can perturb them. */
function withParams<T>(m: fl.nn.Module, params: Record<string, fl.Tensor>, fn: () => T): T {
  const self = m as unknown as Record<string, unknown>;
  const saved = Object.fromEntries(Object.keys(params).map((k) => [k, self[k]]));
  Object.assign(self, params);
  try {
    return fn();
  } finally {
    Object.assign(self, saved);
  }
}

describe("Linear", () => {
  test("y = x Wᵀ + b, elementwise by hand", () => {
    const fc = new nn.Linear(3, 2);
    const x = fl.randn([4, 3]);
    const y = values(fc.forward(x));
    const w = values(fc.weight);
    const b = values(fc.bias!);
    const xs = values(x);
    for (let n = 0; n < 4; n++) {
      for (let o = 0; o < 2; o++) {
        let s = b[o]!;
        for (let i = 0; i < 3; i++) s += xs[n * 3 + i]! * w[o * 3 + i]!;
        assert.ok(Math.abs(y[n * 2 + o]! - s) < 1e-5);
      }
    }
  });

  test("shapes: weight [out, in], bias [out]; any leading dims; no bias", () => {
    const fc = new nn.Linear(5, 7);
    assert.deepEqual(fc.weight.shape, [7, 5]);
    assert.deepEqual(fc.bias!.shape, [7]);
    assert.deepEqual(fc.forward(fl.zeros([2, 3, 5])).shape, [2, 3, 7]);
    assert.deepEqual(fc.forward(fl.zeros([5])).shape, [7]);
    const nb = new nn.Linear(5, 7, { bias: false });
    assert.equal(nb.bias, null);
    assert.deepEqual(
      nb.namedParameters().map(([k]) => k),
      ["weight"],
    );
    assert.ok(values(nb.forward(fl.zeros([1, 5]))).every((v) => v === 0));
  });

  test("wrong input size is a ShapeError naming the layer", () => {
    const fc = new nn.Linear(4, 3);
    assert.throws(
      () => fc.forward(fl.zeros([2, 5])),
      (e: Error) =>
        e instanceof fl.ShapeError &&
        e.message === "Linear: expected input with last dimension 4 (in_features), got shape [2,5]",
    );
  });

  test("default init: weight and bias in U(-1/√in, 1/√in), spread over the range", () => {
    fl.manualSeed(0);
    const fc = new nn.Linear(64, 256);
    const bound = 1 / Math.sqrt(64);
    for (const p of [fc.weight, fc.bias!]) {
      const v = values(p);
      assert.ok(v.every((x) => Math.abs(x) <= bound));
      assert.ok(Math.max(...v) > 0.9 * bound && Math.min(...v) < -0.9 * bound);
    }
    // U(-b, b) has std b/√3.
    const w = fc.weight;
    assert.ok(Math.abs((w.std().itemSync() as number) - bound / Math.sqrt(3)) < 0.05 * bound);
  });

  test("seeded construction is reproducible; dtype option", () => {
    fl.manualSeed(3);
    const a = new nn.Linear(3, 3);
    fl.manualSeed(3);
    const b = new nn.Linear(3, 3);
    assert.deepEqual(values(a.weight), values(b.weight));
    const d = new nn.Linear(2, 2, { dtype: "float64" });
    assert.equal(d.weight.dtype, "float64");
    assert.equal(d.forward(fl.ones([1, 2], { dtype: "float64" })).dtype, "float64");
  });

  test("gradcheck in float64 with respect to input, weight and bias", () => {
    const fc = new nn.Linear(3, 2, { dtype: "float64" });
    const x = fl.randn([4, 3], { dtype: "float64", requiresGrad: true });
    const w = fc.weight.detach().clone().requiresGrad_();
    const b = fc.bias!.detach().clone().requiresGrad_();
    assert.ok(
      fl.autograd.gradcheck(
        (xi, wi, bi) => withParams(fc, { weight: wi!, bias: bi! }, () => fc.forward(xi!)),
        [x, w, b],
      ),
    );
  });
});

describe("Bilinear", () => {
  test("y_k = x1ᵀ A_k x2 + b_k, by hand", () => {
    const bil = new nn.Bilinear(2, 3, 4);
    const x1 = fl.randn([5, 2]);
    const x2 = fl.randn([5, 3]);
    const y = values(bil.forward(x1, x2));
    const [a, b, u, v] = [values(bil.weight), values(bil.bias!), values(x1), values(x2)];
    for (let n = 0; n < 5; n++) {
      for (let k = 0; k < 4; k++) {
        let s = b[k]!;
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 3; j++) s += u[n * 2 + i]! * a[k * 6 + i * 3 + j]! * v[n * 3 + j]!;
        assert.ok(Math.abs(y[n * 4 + k]! - s) < 1e-5);
      }
    }
  });

  test("leading dims, init bound 1/√in1, and shape errors", () => {
    const bil = new nn.Bilinear(9, 2, 3);
    assert.deepEqual(bil.forward(fl.zeros([2, 4, 9]), fl.zeros([2, 4, 2])).shape, [2, 4, 3]);
    assert.ok(values(bil.weight).every((x) => Math.abs(x) <= 1 / 3));
    assert.throws(
      () => bil.forward(fl.zeros([2, 8]), fl.zeros([2, 2])),
      /Bilinear: expected input1 with last dimension 9/,
    );
    assert.throws(() => bil.forward(fl.zeros([2, 9]), fl.zeros([3, 2])), /same batch dims/);
  });

  test("gradcheck in float64 with respect to both inputs, weight and bias", () => {
    const bil = new nn.Bilinear(2, 3, 2, { dtype: "float64" });
    const x1 = fl.randn([3, 2], { dtype: "float64", requiresGrad: true });
    const x2 = fl.randn([3, 3], { dtype: "float64", requiresGrad: true });
    const w = bil.weight.detach().clone().requiresGrad_();
    const b = bil.bias!.detach().clone().requiresGrad_();
    assert.ok(
      fl.autograd.gradcheck(
        (u, v, wi, bi) => withParams(bil, { weight: wi!, bias: bi! }, () => bil.forward(u!, v!)),
        [x1, x2, w, b],
      ),
    );
  });
});

describe("shape layers", () => {
  test("Identity returns its input", () => {
    const x = fl.randn([2]);
    assert.equal(new nn.Identity(1, "ignored").forward(x), x);
  });

  test("Flatten and Unflatten", () => {
    assert.deepEqual(new nn.Flatten().forward(fl.zeros([2, 3, 4, 5])).shape, [2, 60]);
    assert.deepEqual(new nn.Flatten(0, 2).forward(fl.zeros([2, 3, 4, 5])).shape, [24, 5]);
    assert.deepEqual(
      new nn.Flatten({ startDim: 2 }).forward(fl.zeros([2, 3, 4, 5])).shape,
      [2, 3, 20],
    );
    assert.deepEqual(new nn.Unflatten(1, [2, -1]).forward(fl.zeros([3, 10])).shape, [3, 2, 5]);
  });
});

describe("Dropout", () => {
  test("training: zeros and 1/(1-p) scaling; eval: identity", () => {
    fl.manualSeed(1);
    const drop = new nn.Dropout(0.25);
    const y = values(drop.forward(fl.ones([4000])));
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
    const zeros = y.filter((v) => v === 0).length / y.length;
    assert.ok(Math.abs(zeros - 0.25) < 0.03, `dropped fraction ${zeros}`);
    drop.eval();
    const x = fl.randn([10]);
    assert.deepEqual(values(drop.forward(x)), values(x));
  });

  test("p outside [0, 1] is an ArgumentError", () => {
    assert.throws(
      () => new nn.Dropout(1.5),
      (e: Error) => e instanceof fl.ArgumentError && /between 0 and 1, but got 1.5/.test(e.message),
    );
    assert.throws(() => new nn.Dropout(-0.1), fl.ArgumentError);
    assert.equal(new nn.Dropout({ p: 0.3 }).p, 0.3);
  });

  test("the model's eval() switches its dropouts off", () => {
    const model = new nn.Sequential(new nn.Linear(4, 4), new nn.Dropout(0.9));
    model.eval();
    const x = fl.randn([2, 4]);
    assert.deepEqual(values(model.forward(x)), values(model.forward(x)));
  });
});

describe("activation modules call nn.functional", () => {
  const x = fl.randn([3, 5]).mul(3);
  const cases: [fl.nn.Module, fl.Tensor][] = [
    [new nn.ReLU(), F.relu(x)],
    [new nn.ReLU6(), F.relu6(x)],
    [new nn.LeakyReLU(0.2), F.leakyRelu(x, { negativeSlope: 0.2 })],
    [new nn.LeakyReLU({ negativeSlope: 0.3 }), F.leakyRelu(x, { negativeSlope: 0.3 })],
    [new nn.ELU(0.5), F.elu(x, { alpha: 0.5 })],
    [new nn.SELU(), F.selu(x)],
    [new nn.GELU(), F.gelu(x)],
    [new nn.GELU({ approximate: "tanh" }), F.gelu(x, { approximate: "tanh" })],
    [new nn.SiLU(), F.silu(x)],
    [new nn.Mish(), F.mish(x)],
    [new nn.Sigmoid(), F.sigmoid(x)],
    [new nn.Tanh(), F.tanh(x)],
    [new nn.Softplus({ beta: 2, threshold: 4 }), F.softplus(x, { beta: 2, threshold: 4 })],
    [new nn.Softmax(1), F.softmax(x, 1)],
    [new nn.LogSoftmax(0), F.logSoftmax(x, 0)],
    [new nn.Softsign(), F.softsign(x)],
    [new nn.Hardtanh(-2, 2), F.hardtanh(x, { minVal: -2, maxVal: 2 })],
    [new nn.Hardswish(), F.hardswish(x)],
  ];
  for (const [m, want] of cases) {
    test(m.toString(), () => assertAllClose(m.forward(x) as fl.Tensor, want));
  }

  test("Softmax without dim uses PyTorch's implicit dim (1 for 2-d input)", () => {
    assertAllClose(new nn.Softmax().forward(x), F.softmax(x, 1));
  });
});

describe("loss modules", () => {
  const input = fl.randn([4, 3]);
  const target = fl.randn([4, 3]);
  const labels = fl.tensor([0, 2, 1, 2], { dtype: "int32" });
  const w = fl.tensor([1, 2, 0.5]);

  test("options reach the functional form", () => {
    assertAllClose(new nn.MSELoss().forward(input, target), F.mseLoss(input, target));
    assertAllClose(
      new nn.L1Loss({ reduction: "none" }).forward(input, target),
      F.l1Loss(input, target, { reduction: "none" }),
    );
    assertAllClose(
      new nn.SmoothL1Loss({ beta: 0.3 }).forward(input, target),
      F.smoothL1Loss(input, target, { beta: 0.3 }),
    );
    assertAllClose(
      new nn.HuberLoss({ delta: 0.4, reduction: "sum" }).forward(input, target),
      F.huberLoss(input, target, { delta: 0.4, reduction: "sum" }),
    );
    assertAllClose(
      new nn.CrossEntropyLoss({ weight: w, labelSmoothing: 0.1, ignoreIndex: 1 }).forward(
        input,
        labels,
      ),
      F.crossEntropy(input, labels, { weight: w, labelSmoothing: 0.1, ignoreIndex: 1 }),
    );
    const logp = F.logSoftmax(input, 1);
    assertAllClose(
      new nn.NLLLoss({ weight: w }).forward(logp, labels),
      F.nllLoss(logp, labels, { weight: w }),
    );
    const p = input.sigmoid();
    const t01 = target.gt(0).float();
    assertAllClose(new nn.BCELoss().forward(p, t01), F.binaryCrossEntropy(p, t01));
    assertAllClose(
      new nn.BCEWithLogitsLoss({ posWeight: w }).forward(input, t01),
      F.binaryCrossEntropyWithLogits(input, t01, { posWeight: w }),
    );
    const q = F.softmax(target, 1);
    assertAllClose(
      new nn.KLDivLoss({ reduction: "batchmean" }).forward(logp, q),
      F.klDiv(logp, q, { reduction: "batchmean" }),
    );
    const y = fl.tensor([1, -1, 1, -1]);
    const a = input.select(1, 0);
    const b = input.select(1, 1);
    assertAllClose(
      new nn.MarginRankingLoss({ margin: 0.2 }).forward(a, b, y),
      F.marginRankingLoss(a, b, y, { margin: 0.2 }),
    );
    assertAllClose(
      new nn.CosineEmbeddingLoss({ margin: 0.1 }).forward(input, target, y),
      F.cosineEmbeddingLoss(input, target, y, { margin: 0.1 }),
    );
    const neg = fl.randn([4, 3]);
    assertAllClose(
      new nn.TripletMarginLoss({ margin: 2 }).forward(input, target, neg),
      F.tripletMarginLoss(input, target, neg, { margin: 2 }),
    );
    assertAllClose(
      new nn.CosineSimilarity({ dim: 0 }).forward(input, target),
      F.cosineSimilarity(input, target, { dim: 0 }),
    );
  });

  test("class weights are buffers under PyTorch's names", () => {
    assert.deepEqual(Object.keys(new nn.CrossEntropyLoss({ weight: w }).stateDict()), ["weight"]);
    assert.deepEqual(Object.keys(new nn.CrossEntropyLoss().stateDict()), []);
    assert.deepEqual(
      Object.keys(new nn.BCEWithLogitsLoss({ weight: w, posWeight: w }).stateDict()),
      ["weight", "pos_weight"],
    );
    const loss = new nn.NLLLoss({ weight: w }).to("float64");
    assert.equal(loss.weight!.dtype, "float64");
  });

  test("a loss module trains a parameter", () => {
    const fc = new nn.Linear(3, 3);
    new nn.CrossEntropyLoss().forward(fc.forward(input), labels).backward();
    assert.ok(fc.weight.grad && fc.bias!.grad);
  });
});
