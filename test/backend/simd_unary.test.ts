// The float32 unary SIMD kernels (src/backend/cpu/wasm/unary.ts) against
// the scalar loop's reference (UNARY, rounded to float32): neg, abs, sqrt,
// square and reciprocal bit for bit; exp, sigmoid, tanh and log within 4 ulp,
// or 1e-30 absolute where the reference is below 1e-30 (the kernels'
// exp underflows to 0 below −87.3 inside sigmoid and tanh). Measured worst
// over a sweep of float32 bit patterns: exp 1 ulp, sigmoid 2, tanh 1, log 1
// (every 7th positive pattern, denormals included, and every one near 1).
// Special values exactly; strided views (the scalar way) and autograd
// through tanh, sigmoid and exp against float64.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { UnaryOp } from "../../src/backend/backend.js";
import { UNARY } from "../../src/backend/cpu/elementwise.js";
import { setUnaryKernels, simdUnary, UNARY_SIMD_MIN } from "../../src/backend/cpu/wasm/unary.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(16);

const EXACT = ["neg", "abs", "sqrt", "square", "reciprocal"] as const;
const APPROX = ["exp", "sigmoid", "tanh", "log"] as const;
const MAX_ULP = 4;
const TINY = 1e-30;

const SPECIALS = [
  0,
  -0,
  Infinity,
  -Infinity,
  Number.NaN,
  1e-30,
  -1e-30,
  1e-45,
  -1e-40,
  87,
  -87,
  88.5,
  -88.5,
  88.72283172607422,
  88.72284,
  89,
  -89,
  100,
  -100,
  -103.97207641601562,
  -104,
  0.625,
  -0.625,
  0.62499,
  8.7,
  -9,
  3e38,
  -3e38,
];

/** Random floats over a wide range of magnitudes (and signs), specials first. */
function values(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = random();
    const s = random() < 0.5 ? -1 : 1;
    a[i] =
      r < 0.3
        ? (random() - 0.5) * 4
        : r < 0.6
          ? (random() - 0.5) * 220
          : s * Math.exp((random() - 0.5) * 180);
  }
  a.set(SPECIALS.slice(0, n));
  return a;
}

const bits = new Float32Array(1);
const bitsI = new Int32Array(bits.buffer);
/** float32 v's position on the number line in ulps (−0 and +0 both 0). */
function ordinal(v: number): number {
  bits[0] = v;
  const i = bitsI[0]!;
  return i < 0 ? -(i & 0x7fffffff) : i;
}

function reference(op: UnaryOp, v: number): number {
  return Math.fround(UNARY[op](v));
}

/** Asserts got is within the approximate ops' bound of the reference for v. */
function close(op: string, v: number, got: number, want: number): void {
  if (Number.isNaN(want) || Number.isNaN(got)) {
    if (Number.isNaN(want) !== Number.isNaN(got)) assert.fail(`${op}(${v}) = ${got}, want ${want}`);
    return;
  }
  if (Math.abs(want) < TINY && Math.abs(got - want) <= TINY) return;
  const ulps = Math.abs(ordinal(got) - ordinal(want));
  if (ulps > MAX_ULP) assert.fail(`${op}(${v}) = ${got}, want ${want} (${ulps} ulp)`);
}

describe("simdUnary", () => {
  for (const op of EXACT) {
    test(`${op} matches the scalar loop bit for bit (odd sizes, offsets)`, () => {
      for (const n of [UNARY_SIMD_MIN, 4097, 10001, 40003]) {
        const o = n % 7;
        const x = values(n + o);
        const y = simdUnary(op, x, o, n);
        assert.ok(y);
        assert.equal(y.length, n);
        for (let i = 0; i < n; i++) {
          const want = reference(op, x[o + i]!);
          if (!Object.is(y[i], want)) assert.fail(`${op}(${x[o + i]}) = ${y[i]}, want ${want}`);
        }
      }
    });
  }

  for (const op of APPROX) {
    test(`${op} is within ${MAX_ULP} ulp of the scalar loop (odd sizes, offsets)`, () => {
      for (const n of [UNARY_SIMD_MIN + 1, 4097, 10001, 65537]) {
        const o = n % 5;
        const x = values(n + o);
        const y = simdUnary(op, x, o, n);
        assert.ok(y);
        assert.equal(y.length, n);
        for (let i = 0; i < n; i++) close(op, x[o + i]!, y[i]!, reference(op, x[o + i]!));
      }
    });
  }

  test("approximate ops near their splits and clamps, densely", () => {
    const x = new Float32Array(1 << 16);
    for (let i = 0; i < x.length; i++) {
      const t = i / x.length;
      // exp's ends, sigmoid's underflow, tanh's polynomial/exp split and saturation
      x[i] =
        i % 4 === 0
          ? 88 + t
          : i % 4 === 1
            ? -104 + 20 * t
            : i % 4 === 2
              ? (t - 0.5) * 1.5
              : (t - 0.5) * 20;
    }
    for (const op of APPROX) {
      const y = simdUnary(op, x, 0, x.length)!;
      for (let i = 0; i < x.length; i++) close(op, x[i]!, y[i]!, reference(op, x[i]!));
    }
  });

  test("special values", () => {
    const x = new Float32Array(UNARY_SIMD_MIN);
    const sp = [0, -0, Infinity, -Infinity, Number.NaN, 89, -89, 100, -100, 1e-30, -1e-30];
    x.set(sp);
    const run = (op: UnaryOp) => Array.from(simdUnary(op, x, 0, x.length)!.subarray(0, sp.length));
    // Denormal results too (e^−89, e^−100), as the scalar loop rounds them.
    const e = [
      1,
      1,
      Infinity,
      0,
      Number.NaN,
      Infinity,
      Math.exp(-89),
      Infinity,
      Math.exp(-100),
      1,
      1,
    ];
    assert.deepEqual(run("exp"), e.map(Math.fround));
    const sig = run("sigmoid");
    assert.deepEqual(sig.slice(0, 5), [0.5, 0.5, 1, 0, Number.NaN]);
    assert.deepEqual(sig.slice(5, 11), [1, sig[6], 1, sig[8], 0.5, 0.5]);
    assert.ok(sig[6]! >= 0 && sig[6]! < 1e-30 && sig[8]! >= 0 && sig[8]! < 1e-30);
    const th = run("tanh");
    assert.ok(Object.is(th[0], 0) && Object.is(th[1], -0), "tanh keeps the sign of zero");
    assert.deepEqual(
      th.slice(2),
      [1, -1, Number.NaN, 1, -1, 1, -1, 1e-30, -1e-30].map(Math.fround),
    );
    // Saturation is exact: ±1, never above.
    const big = new Float32Array(UNARY_SIMD_MIN).map((_, i) => (i % 2 ? -1 : 1) * (9 + i));
    for (const [i, v] of simdUnary("tanh", big, 0, big.length)!.entries())
      assert.equal(v, i % 2 ? -1 : 1);
  });

  test("declines other ops and small arrays", () => {
    const x = values(UNARY_SIMD_MIN);
    assert.equal(simdUnary("log1p", x, 0, x.length), null);
    assert.equal(simdUnary("sin", x, 0, x.length), null);
    assert.equal(simdUnary("exp", x, 0, UNARY_SIMD_MIN - 1), null);
  });

  test("tensor ops take it on contiguous views and agree with strided ones (the scalar way)", () => {
    const n = 4099;
    const a = fl.randn([2, n]).mul(3);
    // Row 1 is contiguous at an offset; the transposed-back copy is strided.
    const fast = a.select(0, 1);
    const strided = a.t().contiguous().t().select(0, 1);
    for (const op of [...EXACT, ...APPROX]) {
      const x = fast.dataSync() as Float32Array;
      const y = (fast[op]() as fl.Tensor).dataSync() as Float32Array;
      const z = (strided[op]() as fl.Tensor).dataSync() as Float32Array;
      const k = simdUnary(op, x, 0, n)!;
      for (let i = 0; i < n; i++) {
        // The contiguous view went through the kernel; the strided one did not.
        if (!Object.is(y[i], k[i])) assert.fail(`${op} i=${i}: ${y[i]} != ${k[i]}`);
        if ((EXACT as readonly string[]).includes(op)) {
          if (!Object.is(y[i], z[i])) assert.fail(`${op} i=${i}: ${y[i]} != ${z[i]}`);
        } else close(op, x[i]!, y[i]!, z[i]!);
        if (!Object.is(z[i], reference(op, x[i]!)))
          assert.fail(`${op} strided i=${i}: ${z[i]} != ${reference(op, x[i]!)}`);
      }
    }
  });

  test("switched off, tensor ops give the scalar loop's bits", () => {
    const x = fl.randn([1024]);
    const was = setUnaryKernels(false);
    try {
      const xd = x.dataSync() as Float32Array;
      const y = x.tanh().dataSync() as Float32Array;
      for (let i = 0; i < xd.length; i++) assert.ok(Object.is(y[i], reference("tanh", xd[i]!)));
    } finally {
      setUnaryKernels(was);
    }
  });

  test("autograd through tanh, sigmoid and exp matches float64", () => {
    const n = 3001;
    const x0 = fl.randn([n]).mul(2);
    const w = fl.randn([n]);
    const xd = x0.dataSync() as Float32Array;
    const wd = w.dataSync() as Float32Array;
    const cases: [string, (t: fl.Tensor) => fl.Tensor, (v: number) => number][] = [
      ["tanh", (t) => t.tanh(), (v) => 1 - Math.tanh(v) ** 2],
      ["sigmoid", (t) => t.sigmoid(), (v) => Math.exp(-v) / (1 + Math.exp(-v)) ** 2],
      ["exp", (t) => t.exp(), (v) => Math.exp(v)],
    ];
    for (const [name, f, d] of cases) {
      const x = x0.detach().requiresGrad_();
      const y = f(x);
      y.mul(w).sum().backward();
      const g = x.grad!.dataSync() as Float32Array;
      for (let i = 0; i < n; i++) {
        const want = wd[i]! * d(xd[i]!);
        const err = Math.abs(g[i]! - want);
        if (err > 1e-5 * Math.abs(want) + 1e-6)
          assert.fail(`${name}' at ${xd[i]}: ${g[i]} != ${want}`);
      }
    }
  });
});
