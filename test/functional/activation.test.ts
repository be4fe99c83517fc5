// Activations: gradcheck in float64 (values kept away from each kink) and
// the behaviour PyTorch documents at the edges.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;

// Away from 0, ±0.5, ±1, ±3 and 6, where some activations have kinks.
const VALUES = [-3.7, -2.2, -0.8, -0.3, 0.2, 0.7, 1.4, 2.6, 3.5, 6.8];
const x64 = () => fl.tensor(VALUES, { dtype: "float64" }).reshape([2, 5]).requiresGrad_();

function close(a: fl.Tensor, b: number[], tol = 1e-6): void {
  const got = Array.from(a.dataSync(), Number);
  assert.equal(got.length, b.length);
  got.forEach((g, i) => {
    assert.ok(Math.abs(g - b[i]!) <= tol * (1 + Math.abs(b[i]!)), `[${i}] ${g} != ${b[i]}`);
  });
}

const CASES: [string, (x: fl.Tensor) => fl.Tensor][] = [
  ["relu", (x) => F.relu(x)],
  ["relu6", (x) => F.relu6(x)],
  ["leakyRelu", (x) => F.leakyRelu(x, { negativeSlope: 0.2 })],
  ["elu", (x) => F.elu(x, { alpha: 0.7 })],
  ["selu", (x) => F.selu(x)],
  ["celu", (x) => F.celu(x, { alpha: 1.5 })],
  ["gelu", (x) => F.gelu(x)],
  ["geluTanh", (x) => F.gelu(x, { approximate: "tanh" })],
  ["silu", (x) => F.silu(x)],
  ["mish", (x) => F.mish(x)],
  ["sigmoid", (x) => F.sigmoid(x)],
  ["tanh", (x) => F.tanh(x)],
  ["softplus", (x) => F.softplus(x)],
  ["softplusBeta", (x) => F.softplus(x, { beta: 2, threshold: 5 })],
  ["softsign", (x) => F.softsign(x)],
  ["hardtanh", (x) => F.hardtanh(x, { minVal: -2, maxVal: 2 })],
  ["hardsigmoid", (x) => F.hardsigmoid(x)],
  ["hardswish", (x) => F.hardswish(x)],
  ["logsigmoid", (x) => F.logsigmoid(x)],
  ["tanhshrink", (x) => F.tanhshrink(x)],
  ["softshrink", (x) => F.softshrink(x)],
  ["hardshrink", (x) => F.hardshrink(x)],
  ["glu", (x) => F.glu(x, 0)],
  ["normalize", (x) => F.normalize(x)],
];

describe("activation gradcheck (float64)", () => {
  for (const [name, fn] of CASES) {
    test(name, () => assert.ok(fl.autograd.gradcheck(fn, [x64()])));
  }
  test("prelu (input and weight)", () => {
    const x = fl.tensor(VALUES, { dtype: "float64" }).reshape([1, 2, 5]).requiresGrad_();
    const w = fl.tensor([0.25, -0.1], { dtype: "float64" }).requiresGrad_();
    assert.ok(fl.autograd.gradcheck((a, b) => F.prelu(a!, b!), [x, w]));
  });
  test("second order: gelu, mish, softplus, elu", () => {
    for (const fn of [F.gelu, F.mish, F.softplus, F.elu]) {
      assert.ok(fl.autograd.gradgradcheck((a) => fn(a!), [x64()]));
    }
  });
});

describe("activation values", () => {
  test("relu6, hardtanh, hardsigmoid clip", () => {
    close(F.relu6(fl.tensor([-1, 3, 7])), [0, 3, 6]);
    close(F.hardtanh(fl.tensor([-2, 0.5, 3])), [-1, 0.5, 1]);
    close(F.hardsigmoid(fl.tensor([-4, 0, 4])), [0, 0.5, 1]);
  });
  test("gelu exact uses erf: gelu(1) = Φ(1)", () => {
    close(F.gelu(fl.tensor([1], { dtype: "float64" })), [0.8413447460685429]);
  });
  test("softplus and logsigmoid stay finite for large inputs", () => {
    close(F.softplus(fl.tensor([-800, 800])), [0, 800]);
    close(F.logsigmoid(fl.tensor([-800, 800])), [-800, 0]);
    const x = fl.tensor([-800, 0, 800], { requiresGrad: true });
    F.softplus(x).sum().backward();
    close(x.grad!, [0, 0.5, 1]);
  });
  test("elu gradient is finite where exp would overflow", () => {
    const x = fl.tensor([100, -1], { requiresGrad: true });
    F.elu(x).sum().backward();
    close(x.grad!, [1, Math.exp(-1)]);
  });
  test("hardtanh passes gradient strictly inside the range only", () => {
    const x = fl.tensor([-1, 0, 1], { requiresGrad: true });
    F.hardtanh(x).sum().backward();
    close(x.grad!, [0, 1, 0]);
  });
  test("glu halves the dim; odd size is an error naming glu", () => {
    assert.deepEqual(F.glu(fl.randn([4, 6])).shape, [4, 3]);
    assert.throws(
      () => F.glu(fl.randn([4, 5])),
      (e: Error) => e instanceof fl.FlintError && /^glu:/.test(e.message),
    );
  });
  test("gelu rejects an unknown approximation", () => {
    assert.throws(
      () => F.gelu(fl.randn([2]), { approximate: "fast" as unknown as "tanh" }),
      fl.ArgumentError,
    );
  });
  test("normalize doc example", () => {
    close(F.normalize(fl.tensor([[3, 4]])), [0.6, 0.8]);
  });
  test("oneHot", () => {
    const y = F.oneHot(fl.tensor([0, 2, 1], { dtype: "int32" }));
    assert.equal(y.dtype, "int32");
    assert.deepEqual(y.tolistSync(), [
      [1, 0, 0],
      [0, 0, 1],
      [0, 1, 0],
    ]);
    assert.deepEqual(F.oneHot(fl.tensor([[1]], { dtype: "int32" }), 4).shape, [1, 1, 4]);
    assert.throws(() => F.oneHot(fl.tensor([3], { dtype: "int32" }), 3), /oneHot:/);
    assert.throws(() => F.oneHot(fl.tensor([1.0]), 3), fl.DTypeError);
  });
});
