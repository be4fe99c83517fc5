import { emptyArray } from "../../../dtype.js";
import type { UnaryOp } from "../../backend.js";
import { addressOf, type Code, forVectors, ModuleBuilder, V128 } from "./emitter.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";
import {
  EXP_MAGIC,
  EXP_POLY,
  LN2_HI,
  LN2_LO,
  LOG2E,
  type Regs,
  regs,
  STREAM_CHUNK,
  vexp,
} from "./vmath.js";

// Float32 unary elementwise ops on WebAssembly SIMD, four lanes at a time.
// The scalar loop calls Math.* per element (~12 ns each for exp); V8 does
// not vectorize it. Two kinds:
// - exact: neg, abs, sqrt, square, reciprocal are single IEEE float32
//   operations, the correctly rounded results the scalar loop gets by
//   rounding its double result (double rounding is innocuous for +−×÷√
//   from 53 to 24 bits), so the bits are the same;
// - approximate: exp, sigmoid, tanh and log to a few ulp (see each below).

/** exp(x) is finite for float32 x up to here (the next float rounds to inf). */
const EXP_HI = 88.72283172607422;
/** The smallest float32 x whose exp rounds to a nonzero (denormal) float32. */
const EXP_LO = -103.97207641601562;
/** Below this |x| tanh is an odd polynomial; above, (1 − e^{−2|x|})/(1 + e^{−2|x|}). */
const TANH_SPLIT = 0.625;
/**
 * tanh(x) ≈ x + x·u·Q(u), u = x², on |x| ≤ 0.625: relative error < 5e-9
 * (least squares reweighted toward minimax, fitted for this file).
 */
const TANH_Q = [
  -0.333332799693036, 0.13331398293407234, -0.05373654280063904, 0.020629854070000155,
  -0.005695605038710074,
];
const SIGN_MASK = -0x80000000;

/** Pushes the polynomial Σ coef[k]·u^k of local u (Horner). */
function horner(c: Code, u: number, coef: readonly number[]): void {
  c.f32x4Const(coef[coef.length - 1]!);
  for (let k = coef.length - 2; k >= 0; k--) {
    c.localGet(u).simd(V128.f32x4Mul).f32x4Const(coef[k]!).simd(V128.f32x4Add);
  }
}

/** A v128 with the 32-bit integer v in every lane. */
function i32x4Const(c: Code, v: number): Code {
  return c.i32Const(v).simd(V128.i32x4Splat);
}

/**
 * Pushes exp(local x) over float32's whole range, unlike vmath's vexp
 * (clamped to [−87.3, 88], so e^88.5 would be e^88 and e^89 finite): the
 * same reduction and polynomial, with 2ⁿ applied as 2ʰ·2ⁿ⁻ʰ (h = n/2
 * rounded), so n from −150 to 128 needs no special case. Denormal results
 * come from the last multiplication (rounded once); above EXP_HI inf,
 * below EXP_LO 0; NaN stays NaN.
 */
function vexpWide(c: Code, x: number, r: Regs): void {
  c.localGet(x)
    .f32x4Const(EXP_HI)
    .simd(V128.f32x4Pmin)
    .f32x4Const(EXP_LO)
    .simd(V128.f32x4Pmax)
    .localSet(r.a);
  // n = round(x·log2 e), t = x − n·ln 2 (n·LN2_HI is exact for |n| ≤ 150)
  c.localGet(r.a).f32x4Const(LOG2E).simd(V128.f32x4Mul).simd(V128.f32x4Nearest).localSet(r.b);
  c.localGet(r.a).localGet(r.b).f32x4Const(LN2_HI).simd(V128.f32x4Mul).simd(V128.f32x4Sub);
  c.localGet(r.b).f32x4Const(LN2_LO).simd(V128.f32x4Mul).simd(V128.f32x4Sub).localSet(r.c);
  horner(c, r.c, [...EXP_POLY].reverse());
  // p·t² + t + 1
  c.localGet(r.c).simd(V128.f32x4Mul).localGet(r.c).simd(V128.f32x4Mul);
  c.localGet(r.c).simd(V128.f32x4Add).f32x4Const(1).simd(V128.f32x4Add);
  // × 2ʰ × 2ⁿ⁻ʰ, each built in the exponent bits (EXP_MAGIC)
  c.localGet(r.b).f32x4Const(0.5).simd(V128.f32x4Mul).simd(V128.f32x4Nearest).localTee(r.d);
  c.f32x4Const(EXP_MAGIC).simd(V128.f32x4Add).i32Const(23).simd(V128.i32x4Shl);
  c.simd(V128.f32x4Mul);
  c.localGet(r.b).localGet(r.d).simd(V128.f32x4Sub);
  c.f32x4Const(EXP_MAGIC).simd(V128.f32x4Add).i32Const(23).simd(V128.i32x4Shl);
  c.simd(V128.f32x4Mul).localSet(r.a);
  // x < EXP_LO → 0, x > EXP_HI → inf (NaN fails both compares and stays)
  c.f32x4Zero().localGet(r.a);
  c.localGet(x).f32x4Const(EXP_LO).simd(V128.f32x4Lt).simd(V128.v128Bitselect).localSet(r.a);
  c.f32x4Const(Number.POSITIVE_INFINITY).localGet(r.a);
  c.localGet(x).f32x4Const(EXP_HI).simd(V128.f32x4Gt).simd(V128.v128Bitselect);
}

/**
 * Pushes sigmoid(local x) = 1/(1 + t) for x ≥ 0, t/(1 + t) below, with
 * t = e^{−|x|} ≤ 1 (vmath's vexp: no overflow, and the negative tail keeps
 * its relative accuracy until t underflows below x = −87.3). ±inf give 1
 * and 0 exactly, NaN stays NaN.
 */
function vsigmoid(c: Code, x: number, t: number, r: Regs): void {
  c.localGet(x).simd(V128.f32x4Abs).simd(V128.f32x4Neg).localSet(t);
  vexp(c, t, r);
  c.localSet(t);
  c.f32x4Const(1).localGet(t);
  c.localGet(x).f32x4Zero().simd(V128.f32x4Ge).simd(V128.v128Bitselect);
  c.localGet(t).f32x4Const(1).simd(V128.f32x4Add).simd(V128.f32x4Div);
}

/**
 * Pushes tanh(local x): with a = |x|, an odd polynomial below TANH_SPLIT
 * (where 1 − e^{−2a} would cancel) and (1 − t)/(1 + t), t = e^{−2a} ≤
 * e^{−1.25}, above — exactly 1 once t is below half an ulp of 1 (a > 8.7);
 * the sign copied from x after, so −0 stays −0 and NaN stays NaN.
 */
function vtanh(c: Code, x: number, a: number, u: number, r: Regs): void {
  c.localGet(x).simd(V128.f32x4Abs).localTee(a).localGet(a).simd(V128.f32x4Mul).localSet(u);
  // big: (1 − t)/(1 + t)
  c.localGet(a).f32x4Const(-2).simd(V128.f32x4Mul).localSet(r.e);
  vexp(c, r.e, r);
  c.localSet(r.e);
  c.f32x4Const(1).localGet(r.e).simd(V128.f32x4Sub);
  c.f32x4Const(1).localGet(r.e).simd(V128.f32x4Add).simd(V128.f32x4Div);
  // small: a + a·u·Q(u)
  c.localGet(a).localGet(a).localGet(u).simd(V128.f32x4Mul);
  horner(c, u, TANH_Q);
  c.simd(V128.f32x4Mul).simd(V128.f32x4Add);
  // select(big, small, a < split): bitselect takes its first operand where the mask is set
  c.localGet(a).f32x4Const(TANH_SPLIT).simd(V128.f32x4Ge).simd(V128.v128Bitselect);
  // copysign from x
  c.localSet(r.e).localGet(x).localGet(r.e);
  i32x4Const(c, SIGN_MASK).simd(V128.v128Bitselect);
}

// log's opcodes the shared table (emitter.ts) lacks.
const I32X4_SHR_S = 0xac;
const F32X4_EQ = 0x41;
const F32X4_CONVERT_I32X4_S = 0xfa;
/** The smallest normal float32, 2⁻¹²⁶: below it log scales x by 2²³ first. */
const F32_MIN_NORMAL = 1.1754943508222875e-38;
/** Adding this to x's bits carries into the exponent exactly when the mantissa is ≥ √2. */
const LOG_SQRT2_SHIFT = 0x3f800000 - 0x3f3504f3;
// ln 2 split so that k·LN2_HI is exact for |k| ≤ 149 (musl's logf).
const LOG_LN2_HI = 6.9313812256e-1;
const LOG_LN2_LO = 9.0580006145e-6;
/** log(1+f) = f − f²/2 + s(f²/2 + R), s = f/(2+f), R ≈ Σ Lg_k s^{2k} (musl's logf). */
const LOG_LG = [0.66666662693, 0.40000972152, 0.28498786688, 0.24279078841];

/**
 * Pushes log(local x), musl's logf lane by lane: x = 2ᵏ·m with m in
 * [√½, √2) from the bits (denormals scaled by 2²³ first), f = m − 1,
 * log m from s = f/(2+f) (a degree-8 polynomial in s, < 1 ulp), and
 * k·ln 2 added in two parts. log 0 = −inf, log of a negative NaN,
 * log inf = inf, NaN stays NaN (as the scalar loop's Math.log).
 */
function vlog(c: Code, x: number, h: number, u: number, r: Regs): void {
  // denormal lanes: x·2²³, and 23 more off k
  c.localGet(x).f32x4Const(F32_MIN_NORMAL).simd(V128.f32x4Lt).localSet(u);
  c.localGet(x)
    .f32x4Const(2 ** 23)
    .simd(V128.f32x4Mul);
  c.localGet(x).localGet(u).simd(V128.v128Bitselect);
  i32x4Const(c, LOG_SQRT2_SHIFT).simd(V128.i32x4Add).localSet(r.a);
  // k = (bits >> 23) − 127 (− 23), as a float
  c.localGet(r.a).i32Const(23).simd(I32X4_SHR_S).simd(F32X4_CONVERT_I32X4_S);
  c.f32x4Const(150).f32x4Const(127).localGet(u).simd(V128.v128Bitselect);
  c.simd(V128.f32x4Sub).localSet(r.b);
  // f = m − 1, m's bits the mantissa over √½'s exponent
  c.localGet(r.a).i32Const(0x7fffff).simd(V128.i32x4Splat).simd(V128.v128And);
  i32x4Const(c, 0x3f3504f3).simd(V128.i32x4Add).f32x4Const(1).simd(V128.f32x4Sub).localSet(r.a);
  // s = f/(2 + f), z = s², w = z²
  c.localGet(r.a).localGet(r.a).f32x4Const(2).simd(V128.f32x4Add).simd(V128.f32x4Div);
  c.localTee(r.c).localGet(r.c).simd(V128.f32x4Mul).localTee(r.d);
  c.localGet(r.d).simd(V128.f32x4Mul).localSet(r.e);
  // R = w(Lg2 + w·Lg4) + z(Lg1 + w·Lg3)
  c.localGet(r.e).f32x4Const(LOG_LG[3]!).simd(V128.f32x4Mul).f32x4Const(LOG_LG[1]!);
  c.simd(V128.f32x4Add).localGet(r.e).simd(V128.f32x4Mul);
  c.localGet(r.e).f32x4Const(LOG_LG[2]!).simd(V128.f32x4Mul).f32x4Const(LOG_LG[0]!);
  c.simd(V128.f32x4Add).localGet(r.d).simd(V128.f32x4Mul).simd(V128.f32x4Add).localSet(r.d);
  // h = f²/2; s(h + R) + k·ln2_lo − h + f + k·ln2_hi
  c.localGet(r.a).f32x4Const(0.5).simd(V128.f32x4Mul).localGet(r.a).simd(V128.f32x4Mul);
  c.localTee(h).localGet(r.d).simd(V128.f32x4Add).localGet(r.c).simd(V128.f32x4Mul);
  c.localGet(r.b).f32x4Const(LOG_LN2_LO).simd(V128.f32x4Mul).simd(V128.f32x4Add);
  c.localGet(h).simd(V128.f32x4Sub).localGet(r.a).simd(V128.f32x4Add);
  c.localGet(r.b).f32x4Const(LOG_LN2_HI).simd(V128.f32x4Mul).simd(V128.f32x4Add);
  // outside (0, inf): 0 → −inf, inf → inf, negative or NaN → NaN
  c.f32x4Const(Number.NEGATIVE_INFINITY);
  c.f32x4Const(Number.POSITIVE_INFINITY).f32x4Const(Number.NaN);
  c.localGet(x).f32x4Const(Number.POSITIVE_INFINITY).simd(F32X4_EQ).simd(V128.v128Bitselect);
  c.localGet(x).f32x4Zero().simd(F32X4_EQ).simd(V128.v128Bitselect);
  c.localGet(x).f32x4Zero().simd(V128.f32x4Gt);
  c.localGet(x).f32x4Const(Number.POSITIVE_INFINITY).simd(V128.f32x4Lt).simd(V128.v128And);
  c.simd(V128.v128Bitselect);
}

/** The ops with a kernel, by the name the module exports. */
const OPS = [
  "neg",
  "abs",
  "sqrt",
  "square",
  "reciprocal",
  "exp",
  "sigmoid",
  "tanh",
  "log",
] as const;
type SimdUnaryOp = (typeof OPS)[number];

/** The module: op(src, dst, nbytes) for each op in OPS (src and dst may be the same). */
function unaryModule(): Uint8Array {
  const m = new ModuleBuilder();
  const simple: [SimdUnaryOp, (c: Code, x: number) => void][] = [
    ["neg", (c, x) => c.localGet(x).simd(V128.f32x4Neg)],
    ["abs", (c, x) => c.localGet(x).simd(V128.f32x4Abs)],
    ["sqrt", (c, x) => c.localGet(x).simd(V128.f32x4Sqrt)],
    ["square", (c, x) => c.localGet(x).localGet(x).simd(V128.f32x4Mul)],
    ["reciprocal", (c, x) => c.f32x4Const(1).localGet(x).simd(V128.f32x4Div)],
  ];
  for (const [name, body] of simple) {
    m.func(name, ["i32", "i32", "i32"], [], (c) => {
      const x = c.local("v128");
      forVectors(c, 2, (i) => {
        addressOf(c, 0, i).simdMem(V128.load, 0, 4).localSet(x);
        addressOf(c, 1, i);
        body(c, x);
        c.simdMem(V128.store, 0, 4);
      });
    });
  }
  const approx: [SimdUnaryOp, (c: Code, x: number, s: number, u: number, r: Regs) => void][] = [
    ["exp", (c, x, _s, _u, r) => vexpWide(c, x, r)],
    ["sigmoid", (c, x, s, _u, r) => vsigmoid(c, x, s, r)],
    ["tanh", (c, x, s, u, r) => vtanh(c, x, s, u, r)],
    ["log", (c, x, s, u, r) => vlog(c, x, s, u, r)],
  ];
  for (const [name, body] of approx) {
    m.func(name, ["i32", "i32", "i32"], [], (c) => {
      const [x, s, u] = [c.local("v128"), c.local("v128"), c.local("v128")];
      const r = regs(c);
      forVectors(c, 2, (i) => {
        addressOf(c, 0, i).simdMem(V128.load, 0, 4).localSet(x);
        addressOf(c, 1, i);
        body(c, x, s, u, r);
        c.simdMem(V128.store, 0, 4);
      });
    });
  }
  return m.bytes({ pages: 1 });
}

type UnaryExports = Record<SimdUnaryOp, (src: number, dst: number, nbytes: number) => void>;

const compiled = scratchKernels<UnaryExports>(unaryModule);
let enabled = true;

function kernels(): ScratchKernels<UnaryExports> | null {
  return enabled ? compiled() : null;
}

/**
 * Switches these SIMD kernels off (or back on), so tests and benchmarks can
 * compare them with the scalar loops they replace; returns the old setting.
 */
export function setUnaryKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Below this many elements the copies in and out cost more than the scalar loop. */
export const UNARY_SIMD_MIN = 256;

const COVERED = new Set<UnaryOp>(OPS);

/** Whether `op` has a SIMD kernel here. */
export function hasSimdUnary(op: UnaryOp): boolean {
  return COVERED.has(op);
}

/**
 * op of n contiguous floats of x from `offset`, into a new array, on SIMD:
 * neg, abs, sqrt, square and reciprocal bit-identical to the scalar loop;
 * exp, sigmoid, tanh and log within a few ulp (see the kernels). Null (nothing
 * allocated) for other ops, below UNARY_SIMD_MIN elements or without SIMD.
 */
export function simdUnary(
  op: UnaryOp,
  x: Float32Array,
  offset: number,
  n: number,
): Float32Array | null {
  const uk = n >= UNARY_SIMD_MIN && COVERED.has(op) ? kernels() : null;
  if (!uk) return null;
  const chunk = Math.min(STREAM_CHUNK, Math.ceil(n / 4) * 4);
  uk.scratch.reserve(4 * chunk);
  const mem = uk.scratch.floats;
  const kernel = uk.k[op as SimdUnaryOp];
  const out = emptyArray("float32", n) as Float32Array;
  // A chunk at a time, in place: the copies and the kernel stay in cache.
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    mem.set(x.subarray(offset + s, offset + s + m), 0);
    kernel(0, 0, Math.ceil(m / 4) * 16);
    out.set(mem.subarray(0, m), s);
  }
  return out;
}
