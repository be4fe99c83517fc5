// The float32 SIMD log (src/backend/cpu/wasm/unary.ts) against Math.log
// rounded to float32, densely where log is hardest: every float near 1
// (where log's relative error is largest), every denormal stride, and a
// stride over all positive floats; the special values exactly. Measured
// worst over every 7th positive float and every float in [0.75, 1.25): 1 ulp.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { simdUnary } from "../../src/backend/cpu/wasm/unary.js";

const MAX_ULP = 2;

const bits = new Float32Array(1);
const bitsI = new Int32Array(bits.buffer);
/** float32 v's position on the number line in ulps. */
function ordinal(v: number): number {
  bits[0] = v;
  const i = bitsI[0]!;
  return i < 0 ? -(i & 0x7fffffff) : i;
}

/** Asserts log over the float32 bit patterns from, from + step, … (n of them) is within MAX_ULP. */
function sweep(from: number, step: number, n: number): void {
  const x = new Float32Array(n);
  const xi = new Int32Array(x.buffer);
  for (let i = 0; i < n; i++) xi[i] = from + i * step;
  const y = simdUnary("log", x, 0, n)!;
  for (let i = 0; i < n; i++) {
    const want = Math.fround(Math.log(x[i]!));
    const ulps = Math.abs(ordinal(y[i]!) - ordinal(want));
    if (!(ulps <= MAX_ULP)) assert.fail(`log(${x[i]}) = ${y[i]}, want ${want} (${ulps} ulp)`);
  }
}

describe("simd log", () => {
  test(`every float in [0.875, 1.125) within ${MAX_ULP} ulp`, () => {
    sweep(0x3f600000, 1, 0x3f900000 - 0x3f600000);
  });

  test(`denormals and a stride over all positive floats within ${MAX_ULP} ulp`, () => {
    sweep(1, 61, Math.floor(0x800000 / 61));
    const n = 1 << 20;
    sweep(0x800000, Math.floor((0x7f800000 - 0x800000) / n), n);
  });

  test("special values", () => {
    const sp = [
      0,
      -0,
      -1,
      -1e-40,
      Infinity,
      -Infinity,
      Number.NaN,
      1,
      2 ** -149,
      3.4028234663852886e38,
    ];
    const x = new Float32Array(256);
    x.set(sp);
    const y = Array.from(simdUnary("log", x, 0, x.length)!.subarray(0, sp.length));
    const want = sp.map((v) => Math.fround(Math.log(v)));
    assert.deepEqual(y, want);
    assert.deepEqual(want.slice(0, 8), [-Infinity, -Infinity, NaN, NaN, Infinity, NaN, NaN, 0]);
  });
});
