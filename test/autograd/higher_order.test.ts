// Gradients of gradients (createGraph), checked against closed forms.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const grad1 = (y: fl.Tensor, x: fl.Tensor, createGraph = true): fl.Tensor =>
  fl.autograd.grad(y, [x], { createGraph })[0]!;

function assertAllClose(actual: fl.Tensor, expected: number[], tol = 1e-10, what = "value"): void {
  const got = Array.from(actual.contiguous().dataSync());
  assert.equal(got.length, expected.length, `${what}: length`);
  got.forEach((g, i) => {
    const e = expected[i]!;
    assert.ok(Math.abs(g - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: got ${g}, expected ${e}`);
  });
}

/** f' and f'' of an elementwise f at xs, by differentiating twice. */
function derivatives(
  f: (x: fl.Tensor) => fl.Tensor,
  xs: number[],
): { d1: fl.Tensor; d2: fl.Tensor } {
  const x = fl.tensor(xs, { dtype: "float64", requiresGrad: true });
  const d1 = grad1(f(x).sum(), x);
  const d2 = grad1(d1.sum(), x, false);
  return { d1, d2 };
}

describe("second derivatives match closed forms", () => {
  const xs = [-1.5, -0.3, 0.2, 0.9, 2.1];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const cases: [
    string,
    (x: fl.Tensor) => fl.Tensor,
    (v: number) => number,
    (v: number) => number,
    number[],
  ][] = [
    // tanh' = 1 - tanh², tanh'' = -2 tanh (1 - tanh²)
    [
      "tanh",
      (x) => x.tanh(),
      (v) => 1 - Math.tanh(v) ** 2,
      (v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2),
      xs,
    ],
    // σ' = σ(1-σ), σ'' = σ(1-σ)(1-2σ)
    [
      "sigmoid",
      (x) => x.sigmoid(),
      (v) => sig(v) * (1 - sig(v)),
      (v) => sig(v) * (1 - sig(v)) * (1 - 2 * sig(v)),
      xs,
    ],
    ["exp", (x) => x.exp(), Math.exp, Math.exp, xs],
    // log' = 1/x, log'' = -1/x²
    ["log", (x) => x.log(), (v) => 1 / v, (v) => -1 / (v * v), [0.2, 0.9, 2.1, 5]],
    ["sin", (x) => x.sin(), Math.cos, (v) => -Math.sin(v), xs],
    ["cos", (x) => x.cos(), (v) => -Math.sin(v), (v) => -Math.cos(v), xs],
    // (x³)' = 3x², (x³)'' = 6x
    ["x³ as pow(3)", (x) => x.pow(3), (v) => 3 * v * v, (v) => 6 * v, xs],
    ["x³ as x·x·x", (x) => x.mul(x).mul(x), (v) => 3 * v * v, (v) => 6 * v, xs],
    [
      "sqrt",
      (x) => x.sqrt(),
      (v) => 0.5 / Math.sqrt(v),
      (v) => -0.25 * v ** -1.5,
      [0.2, 0.9, 2.1, 5],
    ],
    [
      "reciprocal",
      (x) => x.reciprocal(),
      (v) => -1 / v ** 2,
      (v) => 2 / v ** 3,
      [0.2, 0.9, 2.1, -3],
    ],
  ];
  for (const [name, f, f1, f2, at] of cases) {
    test(name, () => {
      const { d1, d2 } = derivatives(f, at);
      assertAllClose(d1, at.map(f1), 1e-10, `${name}'`);
      assertAllClose(d2, at.map(f2), 1e-10, `${name}''`);
    });
  }
});

test("third derivative of a polynomial: p = 2x⁴ - 3x³ + x - 5, p''' = 48x - 18", () => {
  const xs = [-2, -0.5, 0, 1, 3];
  const x = fl.tensor(xs, { dtype: "float64", requiresGrad: true });
  const p = x.pow(4).mul(2).sub(x.pow(3).mul(3)).add(x).sub(5);
  const d1 = grad1(p.sum(), x);
  const d2 = grad1(d1.sum(), x);
  const d3 = grad1(d2.sum(), x, false);
  assertAllClose(
    d1,
    xs.map((v) => 8 * v ** 3 - 9 * v ** 2 + 1),
    1e-12,
    "p'",
  );
  assertAllClose(
    d2,
    xs.map((v) => 24 * v ** 2 - 18 * v),
    1e-12,
    "p''",
  );
  assertAllClose(
    d3,
    xs.map((v) => 48 * v - 18),
    1e-12,
    "p'''",
  );
});

test("mixed partials of f(x, y) = x² y³ are equal: ∂²f/∂x∂y = 6 x y²", () => {
  const x = fl.tensor(1.5, { dtype: "float64", requiresGrad: true });
  const y = fl.tensor(-2, { dtype: "float64", requiresGrad: true });
  const f = x.square().mul(y.pow(3));
  const [fx, fy] = fl.autograd.grad(f, [x, y], { createGraph: true });
  const [fxy] = fl.autograd.grad(fx!, [y], { retainGraph: true });
  const [fyx] = fl.autograd.grad(fy!, [x]);
  const expected = 6 * 1.5 * 4;
  assert.ok(Math.abs((fxy!.itemSync() as number) - expected) < 1e-12);
  assert.ok(Math.abs((fyx!.itemSync() as number) - expected) < 1e-12);
});

test("Hessian of a small MLP f(x) = v · tanh(W x + b) equals Wᵀ diag(-2 v t (1 - t²)) W", () => {
  const W = [
    [0.5, -1.2, 0.3],
    [0.8, 0.1, -0.7],
    [-0.4, 0.9, 1.1],
    [0.2, -0.3, 0.6],
  ];
  const b = [0.1, -0.2, 0.05, 0.3];
  const v = [1.5, -0.7, 0.9, -1.1];
  const x0 = [0.3, -0.6, 0.8];
  const w = fl.tensor(W, { dtype: "float64" });
  const bt = fl.tensor(b, { dtype: "float64" });
  const vt = fl.tensor(v, { dtype: "float64" });
  const x = fl.tensor(x0, { dtype: "float64", requiresGrad: true });
  const f = vt.dot(w.mv(x).add(bt).tanh());
  const g = grad1(f, x);
  // Each row is one more backward through the same graph, so it must be retained.
  const rows = [0, 1, 2].map((i) =>
    fl.autograd.grad(g.select(0, i), [x], { retainGraph: true })[0]!.dataSync(),
  );

  // Closed form, in plain numbers.
  const t = W.map((row, j) => Math.tanh(row.reduce((s, wji, i) => s + wji * x0[i]!, b[j]!)));
  const gradExpected = [0, 1, 2].map((i) =>
    W.reduce((s, row, j) => s + row[i]! * v[j]! * (1 - t[j]! ** 2), 0),
  );
  assertAllClose(g, gradExpected, 1e-12, "∇f");
  for (let i = 0; i < 3; i++) {
    for (let k = 0; k < 3; k++) {
      const h = W.reduce(
        (s, row, j) => s + row[i]! * -2 * v[j]! * t[j]! * (1 - t[j]! ** 2) * row[k]!,
        0,
      );
      assert.ok(
        Math.abs(rows[i]![k]! - h) < 1e-12,
        `H[${i}][${k}]: got ${rows[i]![k]}, expected ${h}`,
      );
    }
  }
});

test("the gradient of a gradient w.r.t. the weights of a 2-layer MLP passes gradgradcheck", () => {
  fl.manualSeed(0);
  const x = fl.randn([3, 2], { dtype: "float64" });
  const w1 = fl.randn([2, 4], { dtype: "float64", requiresGrad: true });
  const w2 = fl.randn([4, 1], { dtype: "float64", requiresGrad: true });
  const mlp = (a: fl.Tensor, b: fl.Tensor) => x.matmul(a).sigmoid().matmul(b).square().mean();
  assert.equal(fl.autograd.gradgradcheck(mlp, [w1, w2]), true);
});

test("createGraph backward accumulates a differentiable .grad", () => {
  const x = fl.tensor([0.5, 2], { dtype: "float64", requiresGrad: true });
  x.pow(3).sum().backward(null, { createGraph: true });
  const g = x.grad!;
  assert.equal(g.requiresGrad, true);
  assertAllClose(g, [0.75, 12]);
  const [gg] = fl.autograd.grad(g.sum(), [x]);
  assertAllClose(gg!, [3, 12]);
});
