import { type DType, emptyArray, type TypedArray } from "../../dtype.js";
import { numel } from "../../shape.js";
import type { BinaryOp, UnaryOp, View } from "../backend.js";
import { f32RowFor, isSquare } from "./binary_f32.js";
import { forEachRow } from "./iterate.js";
import { dataOf, isContiguous } from "./storage.js";
import { BROADCAST_SIMD_MIN, simdBroadcastBinary } from "./wasm/broadcast.js";
import { COMPARE_SIMD_MIN, simdCompare, simdWhere } from "./wasm/compare.js";
import { simdRelu } from "./wasm/rows.js";
import { simdUnary } from "./wasm/unary.js";
import { simdBinary } from "./wasm/vmath.js";

// Reference elementwise kernels. Values are computed in JS doubles and
// rounded by the store into the output's typed array, so one loop serves
// every dtype. Hot ops on contiguous inputs get their own loops.

export function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse for gradcheck; use a series /
  // continued fraction split that is accurate to ~1e-15.
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  if (ax > 6) return x < 0 ? -1 : 1;
  // erfc by Lentz's continued fraction for large |x|.
  const x2 = ax * ax;
  let f = ax;
  let C = ax;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    D = ax + an * D;
    D = D === 0 ? 1e-300 : 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-x2) / (f * Math.sqrt(Math.PI));
  const r = 1 - erfc;
  return x < 0 ? -r : r;
}

/**
 * erf to float32 accuracy, several times cheaper than erf() (GELU calls it
 * on every activation): a short Maclaurin series below 0.5, where it
 * converges in a few terms, and Numerical Recipes' Chebyshev fit of erfc
 * (fractional error < 1.2e-7) above.
 */
export function erf32(x: number): number {
  const z = Math.abs(x);
  if (z < 0.5) {
    const x2 = x * x;
    // 2/√π (x − x³/3 + x⁵/10 − x⁷/42 + x⁹/216 − x¹¹/1320)
    return (
      1.1283791670955126 *
      x *
      (1 + x2 * (-1 / 3 + x2 * (1 / 10 + x2 * (-1 / 42 + x2 * (1 / 216 - x2 / 1320)))))
    );
  }
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x < 0 ? erfc - 1 : 1 - erfc;
}

export const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  reciprocal: (x) => 1 / x,
  square: (x) => x * x,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  tanh: Math.tanh,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  relu: (x) => (x > 0 ? x : x !== x ? x : 0),
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  floor: Math.floor,
  ceil: Math.ceil,
  // PyTorch rounds half to even.
  round: (x) => {
    const r = Math.round(x);
    return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
  },
  trunc: Math.trunc,
  erf,
  log1p: Math.log1p,
  expm1: Math.expm1,
  atan: Math.atan,
  asin: Math.asin,
  acos: Math.acos,
  sinh: Math.sinh,
  cosh: Math.cosh,
  logicalNot: (x) => +(x === 0),
  isnan: (x) => +(x !== x),
  isinf: (x) => (x === Infinity || x === -Infinity ? 1 : 0),
};

function powOp(a: number, b: number): number {
  return a ** b;
}

export const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: powOp,
  // PyTorch's maximum/minimum propagate NaN.
  maximum: (a, b) => (a !== a || b !== b ? Number.NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? Number.NaN : a < b ? a : b),
  atan2: Math.atan2,
  fmod: (a, b) => a % b,
  remainder: (a, b) => {
    const r = a % b;
    return r !== 0 && r < 0 !== b < 0 ? r + b : r;
  },
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
  logicalAnd: (a, b) => (a !== 0 && b !== 0 ? 1 : 0),
  logicalOr: (a, b) => (a !== 0 || b !== 0 ? 1 : 0),
  logicalXor: (a, b) => ((a !== 0) !== (b !== 0) ? 1 : 0),
};

export function unaryKernel(op: UnaryOp, x: View, outDtype: DType) {
  const n = numel(x.shape);
  const xd = dataOf(x);
  // float32 ReLU on SIMD (src/backend/cpu/wasm/rows.ts), before allocating the output it makes.
  if (op === "relu" && xd instanceof Float32Array && outDtype === "float32" && isContiguous(x)) {
    const fast = simdRelu(xd, x.offset, n);
    if (fast) return fast;
  }
  // exp, sigmoid, tanh (a few ulp) and the exact neg/abs/sqrt/square/reciprocal (src/backend/cpu/wasm/unary.ts).
  if (xd instanceof Float32Array && outDtype === "float32" && isContiguous(x)) {
    const fast = simdUnary(op, xd, x.offset, n);
    if (fast) return fast;
  }
  const out = emptyArray(outDtype, n);
  const f = op === "erf" && outDtype === "float32" ? erf32 : UNARY[op];
  if (isContiguous(x)) {
    const o = x.offset;
    if (op === "neg") for (let i = 0; i < n; i++) out[i] = -xd[o + i]!;
    else if (op === "relu" && xd instanceof Float32Array && out instanceof Float32Array)
      reluF32(xd, o, out, n);
    else if (op === "relu")
      for (let i = 0; i < n; i++) {
        const v = xd[o + i]!;
        out[i] = v > 0 ? v : v !== v ? v : 0;
      }
    else if (op === "exp") for (let i = 0; i < n; i++) out[i] = Math.exp(xd[o + i]!);
    else for (let i = 0; i < n; i++) out[i] = f(xd[o + i]!);
    return out;
  }
  let k = 0;
  forEachRow(x.shape, [x.strides], [x.offset], (off, len, inner) => {
    let p = off[0]!;
    const s = inner[0]!;
    for (let i = 0; i < len; i++, p += s) out[k++] = f(xd[p]!);
  });
  return out;
}

/**
 * float32 ReLU on the bits: a negative float has the sign bit set, so
 * b & ~(b >> 31) clears it to +0 without a data-dependent branch (which
 * mispredicts on half of random activations). NaN, whatever its sign bit
 * (x86 makes negative ones), is kept.
 */
function reluF32(xd: Float32Array, o: number, out: Float32Array, n: number): void {
  const xi = new Int32Array(xd.buffer, xd.byteOffset + o * 4, n);
  const oi = new Int32Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const b = xi[i]!;
    oi[i] = (b & 0x7fffffff) > 0x7f800000 ? b : b & ~(b >> 31);
  }
}

export function binaryKernel(op: BinaryOp, a: View, b: View, outDtype: DType): TypedArray {
  // x.pow(2) as x·x (src/backend/cpu/binary_f32.ts): one multiply, the same bits.
  if (op === "pow" && a.dtype === "float32" && isSquare(op, b, dataOf(b), outDtype))
    return binaryKernel("mul", a, a, outDtype);
  const n = numel(a.shape);
  const ac = isContiguous(a);
  const bc = isContiguous(b);
  // Large float32 operands: broadcasts and comparisons on SIMD. Small ones
  // skip the checks, which would cost a 16-element add a tenth of its time.
  if (n >= FLOAT32_SIMD_MIN && a.dtype === "float32" && b.dtype === "float32") {
    const fast = float32Simd(op, a, b, ac && bc, outDtype);
    if (fast) return fast;
  }
  const out = emptyArray(outDtype, n);
  const ad = dataOf(a);
  const bd = dataOf(b);
  if (ac && bc) {
    const oa = a.offset;
    const ob = b.offset;
    if (
      out instanceof Float32Array &&
      ad instanceof Float32Array &&
      bd instanceof Float32Array &&
      binaryF32(op, out, ad, oa, bd, ob, n)
    )
      return out;
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) out[i] = ad[oa + i]! + bd[ob + i]!;
        return out;
      case "sub":
        for (let i = 0; i < n; i++) out[i] = ad[oa + i]! - bd[ob + i]!;
        return out;
      case "mul":
        for (let i = 0; i < n; i++) out[i] = ad[oa + i]! * bd[ob + i]!;
        return out;
      case "div":
        for (let i = 0; i < n; i++) out[i] = ad[oa + i]! / bd[ob + i]!;
        return out;
      default: {
        const f = BINARY[op];
        for (let i = 0; i < n; i++) out[i] = f(ad[oa + i]!, bd[ob + i]!);
        return out;
      }
    }
  }
  // Everything else (broadcast rows, strided views) walks rows, with the
  // hot ops' loops written out: a call through BINARY per element costs
  // several times the arithmetic.
  let k = 0;
  // float32 operands: monomorphic loops (src/backend/cpu/binary_f32.ts).
  const f32 = ad instanceof Float32Array && bd instanceof Float32Array ? f32RowFor(op, out) : null;
  if (f32) {
    forEachRow(a.shape, [a.strides, b.strides], [a.offset, b.offset], (off, len, inner) => {
      f32(
        out as never,
        k,
        ad as Float32Array,
        off[0]!,
        inner[0]!,
        bd as Float32Array,
        off[1]!,
        inner[1]!,
        len,
        op,
      );
      k += len;
    });
    return out;
  }
  forEachRow(a.shape, [a.strides, b.strides], [a.offset, b.offset], (off, len, inner) => {
    binaryRow(op, out, k, ad, off[0]!, inner[0]!, bd, off[1]!, inner[1]!, len);
    k += len;
  });
  return out;
}

/** The fewest elements any of float32Simd's kernels takes. */
const FLOAT32_SIMD_MIN = Math.min(BROADCAST_SIMD_MIN, COMPARE_SIMD_MIN);

/**
 * float32 tensor ∘ scalar and rows ∘ repeated row on SIMD
 * (src/backend/cpu/wasm/broadcast.ts), and comparisons of tensors, scalars
 * and repeated rows (src/backend/cpu/wasm/compare.ts); null where neither applies.
 */
function float32Simd(
  op: BinaryOp,
  a: View,
  b: View,
  bothContiguous: boolean,
  outDtype: DType,
): TypedArray | null {
  const ad = dataOf(a) as Float32Array;
  const bd = dataOf(b) as Float32Array;
  if (outDtype === "float32" && !bothContiguous) return simdBroadcastBinary(op, a, ad, b, bd);
  if (outDtype === "bool") return simdCompare(op, a, ad, b, bd);
  return null;
}

/**
 * The hot arithmetic on contiguous float32 operands, in loops that only
 * ever see Float32Array, so V8 keeps their element accesses monomorphic
 * (the generic loops above see every dtype: ~1.7× slower). False for
 * other ops.
 */
function binaryF32(
  op: BinaryOp,
  out: Float32Array,
  a: Float32Array,
  oa: number,
  b: Float32Array,
  ob: number,
  n: number,
): boolean {
  // Large arrays go through wasm SIMD (V8 does not vectorize these loops):
  // ~5× faster on [16, 64, 128] residual adds, and the same bits.
  if (
    (op === "add" || op === "sub" || op === "mul" || op === "div") &&
    simdBinary(op, out, a, oa, b, ob, n)
  )
    return true;
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++) out[i] = a[oa + i]! + b[ob + i]!;
      return true;
    case "sub":
      for (let i = 0; i < n; i++) out[i] = a[oa + i]! - b[ob + i]!;
      return true;
    case "mul":
      for (let i = 0; i < n; i++) out[i] = a[oa + i]! * b[ob + i]!;
      return true;
    case "div":
      for (let i = 0; i < n; i++) out[i] = a[oa + i]! / b[ob + i]!;
      return true;
    default:
      return false;
  }
}

/** out[k + i] = op(a[pa + i·sa], b[pb + i·sb]) for i < n. */
function binaryRow(
  op: BinaryOp,
  out: TypedArray,
  k: number,
  ad: TypedArray,
  pa: number,
  sa: number,
  bd: TypedArray,
  pb: number,
  sb: number,
  n: number,
): void {
  const end = k + n;
  switch (op) {
    case "add":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = ad[pa]! + bd[pb]!;
      return;
    case "sub":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = ad[pa]! - bd[pb]!;
      return;
    case "mul":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = ad[pa]! * bd[pb]!;
      return;
    case "div":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = ad[pa]! / bd[pb]!;
      return;
    // Comparisons store +(bool): a data-dependent `? 1 : 0` mispredicts on
    // random inputs and costs ~5× more (measured: 6.3 vs 1.4 ns/element).
    case "gt":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(ad[pa]! > bd[pb]!);
      return;
    case "lt":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(ad[pa]! < bd[pb]!);
      return;
    case "ge":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(ad[pa]! >= bd[pb]!);
      return;
    case "le":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(ad[pa]! <= bd[pb]!);
      return;
    case "eq":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(ad[pa]! === bd[pb]!);
      return;
    case "ne":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(ad[pa]! !== bd[pb]!);
      return;
    case "maximum":
      for (; k < end; k++, pa += sa, pb += sb) {
        const x = ad[pa]!;
        const y = bd[pb]!;
        out[k] = x !== x || y !== y ? Number.NaN : x > y ? x : y;
      }
      return;
    default: {
      const f = BINARY[op];
      for (; k < end; k++, pa += sa, pb += sb) out[k] = f(ad[pa]!, bd[pb]!);
    }
  }
}

export function whereKernel(cond: View, a: View, b: View, outDtype: DType) {
  const cd = dataOf(cond);
  const ad = dataOf(a);
  const bd = dataOf(b);
  // float32 select on SIMD (src/backend/cpu/wasm/compare.ts).
  if (cd instanceof Uint8Array && ad instanceof Float32Array && bd instanceof Float32Array) {
    const fast = outDtype === "float32" ? simdWhere(cond, cd, a, ad, b, bd) : null;
    if (fast) return fast;
  }
  const n = numel(cond.shape);
  const out = emptyArray(outDtype, n);
  let k = 0;
  forEachRow(
    cond.shape,
    [cond.strides, a.strides, b.strides],
    [cond.offset, a.offset, b.offset],
    (off, len, inner) => {
      let pc = off[0]!;
      let pa = off[1]!;
      let pb = off[2]!;
      for (let i = 0; i < len; i++, pc += inner[0]!, pa += inner[1]!, pb += inner[2]!) {
        out[k++] = cd[pc]! !== 0 ? ad[pa]! : bd[pb]!;
      }
    },
  );
  return out;
}

export function copyKernel(x: View, outDtype: DType) {
  const n = numel(x.shape);
  const out = emptyArray(outDtype, n);
  const xd = dataOf(x);
  const toBool = outDtype === "bool" && x.dtype !== "bool";
  if (isContiguous(x) && !toBool) {
    if (x.dtype === outDtype) {
      out.set(xd.subarray(x.offset, x.offset + n) as never);
    } else {
      for (let i = 0; i < n; i++) out[i] = xd[x.offset + i]!;
    }
    return out;
  }
  let k = 0;
  forEachRow(x.shape, [x.strides], [x.offset], (off, len, inner) => {
    let p = off[0]!;
    const s = inner[0]!;
    if (toBool) for (let i = 0; i < len; i++, p += s) out[k++] = +(xd[p]! !== 0);
    else for (let i = 0; i < len; i++, p += s) out[k++] = xd[p]!;
  });
  return out;
}

export function assignKernel(dst: View, src: View): void {
  const dd = dataOf(dst);
  const sd = dataOf(src);
  const toBool = dst.dtype === "bool" && src.dtype !== "bool";
  forEachRow(dst.shape, [dst.strides, src.strides], [dst.offset, src.offset], (off, len, inner) => {
    let pd = off[0]!;
    let ps = off[1]!;
    const a = inner[0]!;
    const b = inner[1]!;
    if (toBool) for (let i = 0; i < len; i++, pd += a, ps += b) dd[pd] = +(sd[ps]! !== 0);
    else for (let i = 0; i < len; i++, pd += a, ps += b) dd[pd] = sd[ps]!;
  });
}
