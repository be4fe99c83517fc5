// Batch norm's WebAssembly SIMD kernels (src/backend/cpu/wasm/batch_norm.ts,
// float32 x [N, C, S]) against the scalar fused loops they replace and a
// float64 reference: forward with batch and running statistics, backward
// (dx, dw, db; with and without affine; training and evaluation) on odd
// shapes (runs of 1, 3, 5, 49 and 784 floats, so partial vectors at every
// offset), a large offset with a small spread, NaN and infinity the same
// way as the scalar path, createGraph falling back to the composite, and
// a BatchNorm2d training step with the SIMD path on and off.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setSimdBatchNorm, simdBatchNorm } from "../../src/backend/cpu/wasm/batch_norm.js";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;

function withSimd<T>(on: boolean, fn: () => T): T {
  const was = setSimdBatchNorm(on);
  try {
    return fn();
  } finally {
    setSimdBatchNorm(was);
  }
}

interface Result {
  y: number[];
  gx: number[];
  gw: number[] | null;
  gb: number[] | null;
}

const arr = (t: fl.Tensor | null) => (t ? Array.from(t.dataSync() as ArrayLike<number>) : null);

interface Case {
  x: fl.Tensor;
  u: fl.Tensor;
  w: fl.Tensor | null;
  b: fl.Tensor | null;
  stats: { mean: fl.Tensor; var: fl.Tensor } | null;
}

/** y = batchNorm(x) and the gradients of sum(y · u), in `dtype` (the inputs converted exactly). */
function batchNormOf(k: Case, dtype: "float32" | "float64" = "float32"): Result {
  const leaf = (t: fl.Tensor) => t.to(dtype).detach().requiresGrad_();
  const x = leaf(k.x);
  const w = k.w ? leaf(k.w) : null;
  const b = k.b ? leaf(k.b) : null;
  const rm = k.stats ? k.stats.mean.to(dtype) : null;
  const rv = k.stats ? k.stats.var.to(dtype) : null;
  const y = F.batchNorm(x, rm, rv, { weight: w, bias: b, training: k.stats === null });
  y.mul(k.u.to(dtype)).sum().backward();
  return { y: arr(y)!, gx: arr(x.grad)!, gw: arr(w?.grad ?? null), gb: arr(b?.grad ?? null) };
}

/** Elementwise |got − want| <= tol·(1 + |want|); NaN matches NaN, ±inf matches itself. */
function close(got: number[] | null, want: number[] | null, tol: number, what: string): void {
  assert.equal(got === null, want === null, `${what}: presence`);
  if (!got || !want) return;
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const u: number = got[i]!;
    const v: number = want[i]!;
    if (Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v))) continue;
    if (!(Math.abs(u - v) <= tol * (1 + Math.abs(v)))) {
      assert.fail(`${what}[${i}]: got ${u}, want ${v} (tol ${tol})`);
    }
  }
}

/**
 * Against the float64 reference, the SIMD path is at most twice as far off
 * as the scalar path (plus tol): both round the saved mean and 1/std to
 * float32, which ill-conditioned cases (two values per channel, a large
 * offset) amplify.
 */
function asGoodAs(
  got: number[] | null,
  scalar: number[] | null,
  ref: number[] | null,
  tol: number,
  what: string,
): void {
  assert.equal(got === null, ref === null, `${what}: presence`);
  if (!got || !scalar || !ref) return;
  for (let i = 0; i < got.length; i++) {
    const u: number = got[i]!;
    const w: number = scalar[i]!;
    const v: number = ref[i]!;
    if (Object.is(u, v)) continue;
    const bound = 2 * Math.abs(w - v) + tol * (1 + Math.abs(v));
    if (!(Math.abs(u - v) <= bound)) {
      assert.fail(`${what}[${i}]: SIMD ${u}, scalar ${w}, float64 ${v} (bound ${bound})`);
    }
  }
}

function compareRef(got: Result, scalar: Result, ref: Result, tol: number, what: string): void {
  for (const key of ["y", "gx", "gw", "gb"] as const) {
    asGoodAs(got[key], scalar[key], ref[key], tol, `${what} ${key}`);
  }
}

function compare(got: Result, want: Result, tol: number, what: string): void {
  close(got.y, want.y, tol, `${what} y`);
  close(got.gx, want.gx, tol, `${what} dx`);
  close(got.gw, want.gw, tol, `${what} dw`);
  close(got.gb, want.gb, tol, `${what} db`);
}

/** A random case; x spread and offset per channel, so channels differ. */
function makeCase(shape: number[], affine: boolean, evaluation: boolean): Case {
  const c = shape[1]!;
  const cs = [1, c, ...shape.slice(2).map(() => 1)];
  const x = fl.randn(shape).mul(fl.rand(cs).mul(3).add(0.1)).add(fl.randn(cs).mul(4));
  return {
    x,
    u: fl.randn(shape),
    w: affine ? fl.randn([c]) : null,
    b: affine ? fl.randn([c]) : null,
    stats: evaluation ? { mean: fl.randn([c]), var: fl.rand([c]).add(0.2) } : null,
  };
}

describe("SIMD batch norm matches the scalar path and float64", () => {
  test("the SIMD kernels are available and taken for float32", () => {
    const x = new Float32Array(2 * 3 * 5).map((_, i) => Math.sin(i));
    const r = withSimd(true, () =>
      simdBatchNorm({ data: x, offset: 0 }, [2, 3, 5], null, null, 1e-5, null),
    );
    assert.ok(r, "simdBatchNorm ran");
    assert.equal(
      withSimd(false, () =>
        simdBatchNorm({ data: x, offset: 0 }, [2, 3, 5], null, null, 1e-5, null),
      ),
      null,
    );
  });

  for (const n of [1, 2, 7]) {
    for (const c of [1, 3, 16]) {
      for (const s of [1, 3, 5, 49, 784]) {
        const shape = s === 1 ? [n, c] : s === 49 ? [n, c, 7, 7] : [n, c, s];
        for (const mode of ["train", "train, no affine", "eval"] as const) {
          if (mode !== "eval" && n * s <= 1) continue;
          test(`${mode} ${JSON.stringify(shape)}`, () => {
            const k = makeCase(shape, mode !== "train, no affine", mode === "eval");
            const simd = withSimd(true, () => batchNormOf(k));
            const scalar = withSimd(false, () => batchNormOf(k));
            const ref = batchNormOf(k, "float64");
            compare(simd, scalar, 2e-5, "SIMD vs scalar");
            compareRef(simd, scalar, ref, 2e-5, "SIMD vs float64");
          });
        }
      }
    }
  }

  test("strided input (made contiguous before the kernel)", () => {
    const x = fl.randn([6, 9, 5, 3]).transpose(1, 2);
    const k: Case = {
      x,
      u: fl.randn([6, 5, 9, 3]),
      w: fl.randn([5]),
      b: fl.randn([5]),
      stats: null,
    };
    compare(
      withSimd(true, () => batchNormOf(k)),
      withSimd(false, () => batchNormOf(k)),
      2e-5,
      "strided",
    );
  });

  test("a large offset with a small spread: no cancellation (mean, variance, normalize)", () => {
    for (const s of [49, 784]) {
      const x = fl.randn([5, 3, s], { dtype: "float64" }).mul(0.01).add(1e4).to("float32");
      const k: Case = { x, u: fl.randn([5, 3, s]), w: null, b: null, stats: null };
      const ref = batchNormOf(k, "float64");
      const simd = withSimd(true, () => batchNormOf(k));
      const scalar = withSimd(false, () => batchNormOf(k));
      close(simd.y, ref.y, 1e-4, `normalized (S=${s})`);
      compareRef(simd, scalar, ref, 1e-4, `S=${s}`);
    }
  });

  test("float64 stays on the scalar path, bit for bit", () => {
    const k = makeCase([3, 4, 7], true, false);
    const on = withSimd(true, () => batchNormOf(k, "float64"));
    const off = withSimd(false, () => batchNormOf(k, "float64"));
    assert.deepEqual(on, off);
  });

  test("NaN and infinity propagate as in the scalar path", () => {
    for (const evaluation of [false, true]) {
      for (const s of [5, 49]) {
        const shape = [3, 4, s];
        const k = makeCase(shape, true, evaluation);
        const xv = k.x.dataSync() as Float32Array;
        const xs = Float32Array.from(xv);
        xs[0 * s + 2] = Number.NaN; // channel 0
        xs[4 * s + 1 * s + 3] = Number.POSITIVE_INFINITY; // channel 1, sample 1
        xs[2 * 4 * s + 2 * s + s - 1] = Number.NEGATIVE_INFINITY; // channel 2, last of a run
        xs[3 * s] = Number.POSITIVE_INFINITY; // channel 3's first value (the sums' shift)
        const us = Float32Array.from(k.u.dataSync() as Float32Array);
        us[3 * s + 1] = Number.NaN; // the gradient of channel 3
        const kk: Case = { ...k, x: fl.tensor(xs).reshape(shape), u: fl.tensor(us).reshape(shape) };
        const simd = withSimd(true, () => batchNormOf(kk));
        const scalar = withSimd(false, () => batchNormOf(kk));
        const what = `${evaluation ? "eval" : "train"} S=${s}`;
        compare(simd, scalar, 2e-5, what);
        // The non-finite values are really there (not all-finite by accident).
        assert.ok(simd.y.some(Number.isNaN), `${what}: y has NaN`);
        assert.ok(simd.gx.some(Number.isNaN), `${what}: dx has NaN`);
      }
    }
  });

  test("createGraph: gradients of gradients agree with the SIMD path on and off", () => {
    const x0 = fl.randn([4, 3, 5]);
    const w0 = fl.randn([3]);
    const run = (on: boolean) =>
      withSimd(on, () => {
        const x = x0.detach().requiresGrad_();
        const w = w0.detach().requiresGrad_();
        const y = F.batchNorm(x, null, null, { weight: w, training: true });
        const [gx] = fl.autograd.grad(y.square().mul(x0.sin()).sum(), [x], {
          createGraph: true,
        }) as fl.Tensor[];
        const [ggw] = fl.autograd.grad(gx!.square().sum(), [w]) as fl.Tensor[];
        return [arr(gx!)!, arr(ggw!)!];
      });
    const [a, b] = [run(true), run(false)];
    close(a[0]!, b[0]!, 2e-5, "dx");
    close(a[1]!, b[1]!, 2e-5, "d(|dx|²)/dw");
  });

  test("a BatchNorm2d training step gives the same loss with SIMD on and off", () => {
    const losses = (on: boolean) =>
      withSimd(on, () => {
        fl.manualSeed(11);
        const model = new fl.nn.Sequential(
          new fl.nn.Conv2d(3, 8, 3, { padding: 1 }),
          new fl.nn.BatchNorm2d(8),
          new fl.nn.ReLU(),
          new fl.nn.Conv2d(8, 4, 3),
          new fl.nn.BatchNorm2d(4),
          new fl.nn.Flatten(),
          new fl.nn.Linear(4 * 5 * 5, 5),
        );
        const opt = new fl.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
        const x = fl.randn([6, 3, 7, 7]);
        const t = fl.randint(0, 5, [6]);
        const out: number[] = [];
        for (let step = 0; step < 4; step++) {
          opt.zeroGrad();
          const loss = F.crossEntropy(model.forward(x) as fl.Tensor, t);
          loss.backward();
          opt.step();
          out.push(Number(loss.dataSync()[0]));
        }
        model.eval();
        out.push(Number(F.crossEntropy(model.forward(x) as fl.Tensor, t).dataSync()[0]));
        return out;
      });
    const a = losses(true);
    const b = losses(false);
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-5, `loss ${i}: SIMD ${a[i]}, scalar ${b[i]}`);
    }
  });
});
