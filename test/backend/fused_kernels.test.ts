import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";

// The CPU backend's fused kernels (GELU, softmax/log-softmax, layer norm,
// im2col for conv2d, max pooling) against the composites they replace:
// forward values, first gradients and gradients of gradients (createGraph,
// which runs the ops-written backward), on odd shapes, strided inputs,
// float32 and float64. Each comparison runs the same function twice, with
// fused kernels on and off.

const F = fl.nn.functional;

/** Runs fn with fused kernels switched on or off. */
function withFused<T>(on: boolean, fn: () => T): T {
  const was = setFusedKernels(on);
  try {
    return fn();
  } finally {
    setFusedKernels(was);
  }
}

function close(a: fl.Tensor, b: fl.Tensor, tol: number, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    if (Object.is(Number(x[i]), Number(y[i]))) continue;
    const d = Math.abs(Number(x[i]) - Number(y[i]));
    const bound = tol * (1 + Math.abs(Number(y[i])));
    if (!(d <= bound) && !(Number.isNaN(Number(x[i])) && Number.isNaN(Number(y[i])))) {
      assert.fail(`${what}[${i}]: fused ${x[i]}, composite ${y[i]} (tol ${tol})`);
    }
  }
}

interface Case {
  name: string;
  /** Fresh inputs (leaves requiring grad where they are differentiated). */
  inputs: (dtype: fl.DType) => fl.Tensor[];
  fn: (...xs: fl.Tensor[]) => fl.Tensor;
}

/** A random leaf, made strided (a transposed copy viewed back) when asked. */
function leaf(shape: number[], dtype: fl.DType, strided = false, scale = 1): fl.Tensor {
  let t: fl.Tensor;
  if (strided && shape.length >= 2) {
    const swapped = [...shape];
    const n = shape.length;
    [swapped[n - 1], swapped[n - 2]] = [swapped[n - 2]!, swapped[n - 1]!];
    t = fl.randn(swapped, { dtype }).mul(scale).transpose(-1, -2);
  } else t = fl.randn(shape, { dtype }).mul(scale);
  // A strided leaf: the transpose of a detached tensor, still a view.
  const l = t.detach();
  l.requiresGrad = true;
  return l;
}

const cases: Case[] = [
  {
    name: "gelu (erf), odd shape",
    inputs: (dt) => [leaf([3, 7, 5], dt, false, 3)],
    fn: (x) => F.gelu(x),
  },
  {
    name: "gelu (tanh), strided",
    inputs: (dt) => [leaf([6, 9], dt, true, 3)],
    fn: (x) => F.gelu(x, { approximate: "tanh" }),
  },
  {
    name: "gelu (erf) on the SIMD path, 1057 elements",
    inputs: (dt) => [leaf([7, 151], dt, true, 4)],
    fn: (x) => F.gelu(x),
  },
  {
    name: "gelu (tanh) on the SIMD path, 1057 elements",
    inputs: (dt) => [leaf([151, 7], dt, false, 4)],
    fn: (x) => F.gelu(x, { approximate: "tanh" }),
  },
  {
    name: "softmax last dim, strided",
    inputs: (dt) => [leaf([5, 11], dt, true, 4)],
    fn: (x) => F.softmax(x, -1),
  },
  {
    name: "logSoftmax last dim, 3-d",
    inputs: (dt) => [leaf([2, 3, 13], dt, false, 4)],
    fn: (x) => F.logSoftmax(x, 2),
  },
  {
    name: "softmax on the SIMD path (603 elements), strided",
    inputs: (dt) => [leaf([9, 67], dt, true, 6)],
    fn: (x) => F.softmax(x, -1),
  },
  {
    name: "softmax on the SIMD path, long rows (3×1001), at an offset",
    inputs: (dt) => [leaf([4, 1001], dt, false, 8)],
    fn: (x) => F.softmax(x.narrow(0, 1, 3), -1),
  },
  {
    name: "logSoftmax on the SIMD path (615 elements)",
    inputs: (dt) => [leaf([5, 3, 41], dt, false, 6)],
    fn: (x) => F.logSoftmax(x, -1),
  },
  {
    name: "crossEntropy on the SIMD path",
    inputs: (dt) => [leaf([37, 11], dt, false, 3)],
    fn: (x) =>
      F.crossEntropy(
        x,
        fl.tensor(
          Array.from({ length: 37 }, (_, i) => (i * 7) % 11),
          { dtype: "int32" },
        ),
      ),
  },
  {
    name: "crossEntropy (logSoftmax inside)",
    inputs: (dt) => [leaf([9, 7], dt, false, 2)],
    fn: (x) => F.crossEntropy(x, fl.tensor([0, 6, 3, 2, 2, 1, 5, 4, 0], { dtype: "int32" })),
  },
  {
    name: "layerNorm with affine, two normalized dims",
    inputs: (dt) => [leaf([3, 4, 5], dt), leaf([4, 5], dt), leaf([4, 5], dt)],
    fn: (x, w, b) => F.layerNorm(x, [4, 5], { weight: w, bias: b }),
  },
  {
    name: "layerNorm without affine, strided",
    inputs: (dt) => [leaf([7, 9], dt, true, 2)],
    fn: (x) => F.layerNorm(x, [9], { eps: 1e-3 }),
  },
  {
    name: "layerNorm weight only",
    inputs: (dt) => [leaf([4, 6], dt), leaf([6], dt)],
    fn: (x, w) => F.layerNorm(x, 6, { weight: w }),
  },
  {
    name: "conv2d stride, padding, dilation, groups",
    inputs: (dt) => [leaf([2, 4, 9, 8], dt), leaf([6, 2, 3, 2], dt), leaf([6], dt)],
    fn: (x, w, b) =>
      F.conv2d(x, w, b, { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }),
  },
  {
    name: "conv2d stride 2 with padding (runs of one element)",
    inputs: (dt) => [leaf([2, 2, 8, 9], dt), leaf([3, 2, 3, 3], dt)],
    fn: (x, w) => F.conv2d(x, w, null, { stride: 2, padding: 1 }),
  },
  {
    name: "conv2d on a strided input",
    inputs: (dt) => [leaf([2, 3, 7, 7], dt, true), leaf([4, 3, 3, 3], dt)],
    fn: (x, w) => F.conv2d(x, w),
  },
  {
    name: "maxPool2d with padding, dilation, ceilMode",
    inputs: (dt) => [leaf([2, 3, 9, 8], dt)],
    fn: (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1, dilation: [1, 2], ceilMode: true }),
  },
  {
    name: "maxPool2d 2×2 on a strided input",
    inputs: (dt) => [leaf([3, 2, 6, 10], dt, true)],
    fn: (x) => F.maxPool2d(x, 2),
  },
];

/** Forward, first gradients and a gradient of a gradient, on fresh copies of the same inputs. */
function run(c: Case, inputs: fl.Tensor[], on: boolean) {
  return withFused(on, () => {
    const xs = inputs.map((t) => {
      const l = t.detach();
      l.requiresGrad = true;
      return l;
    });
    const y = c.fn(...xs);
    // A fixed, non-uniform upstream gradient.
    const w = fl.arange(y.numel()).to(y.dtype).mul(0.37).sin().reshape(y.shape);
    const grads = fl.autograd.grad(y.mul(w).sum(), xs, { createGraph: true }) as fl.Tensor[];
    const total = grads.reduce((s, g) => s.add(g.square().sum()), fl.zeros([], { dtype: y.dtype }));
    // A gradient independent of the inputs (max pooling's) has no second derivative.
    const gg = total.requiresGrad
      ? fl.autograd.grad(total, xs, { allowUnused: true })
      : xs.map(() => null);
    const plain = fl.autograd.grad(
      c
        .fn(...xs)
        .mul(w)
        .sum(),
      xs,
    );
    return { y: y.detach(), grads, gg, plain };
  });
}

describe("fused CPU kernels match their composites", () => {
  for (const dtype of ["float32", "float64"] as const) {
    const tol = dtype === "float32" ? 2e-5 : 1e-11;
    for (const c of cases) {
      test(`${c.name} (${dtype})`, () => {
        const inputs = c.inputs(dtype);
        const fused = run(c, inputs, true);
        const ref = run(c, inputs, false);
        close(fused.y, ref.y, tol, "forward");
        fused.grads.forEach((g, i) => {
          close(g, ref.grads[i]!, tol, `grad ${i} (createGraph)`);
        });
        fused.plain.forEach((g, i) => {
          close(g!, ref.plain[i]!, tol, `grad ${i}`);
        });
        fused.gg.forEach((g, i) => {
          const r = ref.gg[i];
          if (g && r) close(g, r, tol * 10, `grad of grad ${i}`);
          else assert.equal(g === null || g === undefined, r === null || r === undefined);
        });
      });
    }
  }

  test("the fused paths really run (one node each, no composite ops)", () => {
    const x = leaf([4, 8], "float32");
    assert.equal(F.gelu(x).gradFn?.name, "GeluBackward0");
    assert.equal(F.softmax(x, -1).gradFn?.name, "SoftmaxBackward0");
    assert.equal(F.logSoftmax(x, 1).gradFn?.name, "LogSoftmaxBackward0");
    assert.equal(F.layerNorm(x, 8).gradFn?.name, "NativeLayerNormBackward0");
    const img = leaf([1, 2, 6, 6], "float32");
    assert.equal(F.maxPool2d(img, 2).gradFn?.name, "MaxPool2DWithIndicesBackward0");
    // Off, the same calls build composites.
    withFused(false, () => assert.notEqual(F.gelu(x).gradFn?.name, "GeluBackward0"));
  });

  test("SIMD GELU over the whole float32 range, against the double-precision formula", () => {
    // Every regime: tiny, the erf series/fit crossover, tails, ±inf, NaN.
    const xs: number[] = [0, -0, 1e-30, -1e-8, 0.3, -0.7, 1.4, -2.9, 5.5, -9, 13, -40, 90, -90];
    for (let i = 0; i < 997; i++) xs.push((i - 498) / 37);
    xs.push(Number.POSITIVE_INFINITY, Number.NaN);
    const x = fl.tensor(xs, { dtype: "float32" });
    const x64 = x.to("float64");
    for (const approximate of ["none", "tanh"] as const) {
      const got = F.gelu(x, { approximate });
      const want = withFused(false, () => F.gelu(x64, { approximate }));
      close(got, want.to("float32"), 3e-6, `gelu ${approximate}`);
      const g = fl.linspace(-1, 1, xs.length);
      const xg = x.detach();
      xg.requiresGrad = true;
      const [dx] = fl.autograd.grad(F.gelu(xg, { approximate }).mul(g).sum(), [xg]);
      const x64g = x64.detach();
      x64g.requiresGrad = true;
      const [dx64] = withFused(false, () =>
        fl.autograd.grad(F.gelu(x64g, { approximate }).mul(g.to("float64")).sum(), [x64g]),
      );
      close(dx!, dx64!.to("float32"), 3e-6, `gelu ${approximate} backward`);
    }
  });

  test("maxPool2dWithIndices returns the same indices fused and composite", () => {
    const x = fl.randn([2, 3, 7, 9]);
    const [, a] = F.maxPool2dWithIndices(x, 3, { stride: 2, padding: 1 });
    const [, b] = withFused(false, () => F.maxPool2dWithIndices(x, 3, { stride: 2, padding: 1 }));
    assert.equal(a.dtype, "int32");
    assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  });

  test("softmax keeps NaN and -inf rows like the composite (scalar and SIMD paths)", () => {
    const special = [
      [1, Number.NaN, 2],
      [Number.NEGATIVE_INFINITY, 0, 1],
      [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
      [-200, 0, 100],
      [0, Number.POSITIVE_INFINITY, 1],
    ];
    // The same rows alone (below the SIMD size) and among 200 random rows.
    const big = fl.cat([fl.tensor(special), fl.randn([200, 3]).mul(5)], 0);
    for (const x of [fl.tensor(special), big]) {
      for (const log of [false, true]) {
        const f = (t: fl.Tensor) => (log ? F.logSoftmax(t, -1) : F.softmax(t, -1));
        close(
          f(x),
          withFused(false, () => f(x)),
          1e-6,
          log ? "logSoftmax" : "softmax",
        );
      }
    }
  });

  test("gradcheck in float64 through the fused kernels", () => {
    const opts = { atol: 1e-6, rtol: 1e-4 };
    const x = leaf([3, 5], "float64");
    const w = leaf([5], "float64");
    const b = leaf([5], "float64");
    assert.equal(
      fl.autograd.gradcheck((t) => F.gelu(t), [x], opts),
      true,
    );
    assert.equal(
      fl.autograd.gradcheck((t) => F.gelu(t, { approximate: "tanh" }), [x], opts),
      true,
    );
    assert.equal(
      fl.autograd.gradcheck((t) => F.softmax(t, 1), [x], opts),
      true,
    );
    assert.equal(
      fl.autograd.gradcheck((t) => F.logSoftmax(t, -1), [x], opts),
      true,
    );
    assert.equal(
      fl.autograd.gradcheck(
        (t, ww, bb) => F.layerNorm(t, 5, { weight: ww, bias: bb }),
        [x, w, b],
        opts,
      ),
      true,
    );
    const img = leaf([1, 2, 5, 6], "float64");
    const k = leaf([3, 2, 2, 3], "float64");
    assert.equal(
      fl.autograd.gradcheck((t, kk) => F.conv2d(t, kk, null, { padding: 1 }), [img, k], opts),
      true,
    );
    assert.equal(
      fl.autograd.gradcheck((t) => F.maxPool2d(t, 2), [img], opts),
      true,
    );
    assert.equal(
      fl.autograd.gradgradcheck((t) => F.gelu(t), [x]),
      true,
    );
    assert.equal(
      fl.autograd.gradgradcheck((t) => F.softmax(t, 1), [x]),
      true,
    );
  });
});
