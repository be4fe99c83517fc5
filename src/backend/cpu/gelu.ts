import { copyOf } from "../../dtype.js";
import type { Storage, View } from "../backend.js";
import { registerFused } from "../fused.js";
import { type CpuStorage, dataOf, wrap } from "./storage.js";
import {
  addressOf,
  type Code,
  forVectors,
  I32,
  ModuleBuilder,
  SELECT,
  V128,
} from "./wasm/emitter.js";
import { isShared, memoryLimits, scratchKernels, wasmFeatures } from "./wasm/runtime.js";
import { EXP_MAGIC, EXP_MIN, EXP_POLY, LN2_HI, LN2_LO, LOG2E } from "./wasm/vmath.js";

// Exact (erf) GELU for float32 on WebAssembly SIMD, three kernels: GELU,
// its gradient, and GELU with a linear layer's bias added first (the
// feed-forward block's x·W₁ᵀ + b₁ → GELU in one pass, the biased input
// kept for the backward). Written for throughput, as the kernels are
// compute bound:
// - erf is a rational fit, z·P(z²)/Q(z²) on |z| ≤ 3.92 (beyond it erf
//   rounds to ±1 in float32), relative error < 2.2e-7 (least squares,
//   reweighted toward minimax, fitted for this file): about 25 vector
//   operations, with no exp and one division;
// - the backward's Gaussian e^{−x²/2} takes a Cephes-style expf whose 2ⁿ
//   comes from adding 2²³ + 127 to n and shifting (no float→int convert);
// - clamps use pmin/pmax (one instruction each on x64; wasm's min/max
//   cost several to order zeros and NaNs). NaN still propagates: pmin and
//   pmax return their first operand when the comparison fails.
// Measured on 524,288 floats (one core, CPU time): forward 1.3–1.8 ms and
// backward 1.6–2.2 ms, against 3.3–3.9 and 4.3–4.6 ms for vmath's kernels
// (erfc · exp form, float→int exponent).

/** erf(z) ≈ z·P(z²)/Q(z²); coefficients lowest first. */
const ERF_P = [
  1.1283791152535487, 0.20004348675857442, 0.050575080060708204, 0.0036998383474511187,
  0.00014126521849764425, -1.9421870222843807e-6, 1.9671923284780846e-8,
];
const ERF_Q = [
  1, 0.5106157212287196, 0.11503457187911886, 0.014354062806434045, 0.0009539218872813269,
];
const ERF_CLAMP = 3.92;
/**
 * P is scaled by 1 + 2⁻²² (adding at most 2.4e-7 relative error) so that
 * the fit reaches ±1 at the clamp, where the result is then clamped to
 * exactly ±1: far tails give Φ = 0 or 1 exactly, so GELU(−40) is −0 as in
 * PyTorch (not −40 times the fit's last ulp).
 */
const ERF_SCALE = 1 + 2 ** -22;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Pushes the polynomial Σ coef[k]·u^k of local u (Horner). */
function horner(c: Code, u: number, coef: number[]): void {
  c.f32x4Const(coef[coef.length - 1]!);
  for (let k = coef.length - 2; k >= 0; k--) {
    c.localGet(u).simd(V128.f32x4Mul).f32x4Const(coef[k]!).simd(V128.f32x4Add);
  }
}

/** Pushes exp(local x) for x ≤ 0 (or NaN); x below EXP_MIN gives 0. Uses locals a, b. */
function vexpNeg(c: Code, x: number, a: number, b: number): void {
  // n = round(x·log₂e) on the clamped x, r = x − n·ln 2 in two parts
  c.localGet(x).f32x4Const(EXP_MIN).simd(V128.f32x4Pmax).localTee(a);
  c.f32x4Const(LOG2E).simd(V128.f32x4Mul).simd(V128.f32x4Nearest).localSet(b);
  c.localGet(a).localGet(b).f32x4Const(LN2_HI).simd(V128.f32x4Mul).simd(V128.f32x4Sub);
  c.localGet(b).f32x4Const(LN2_LO).simd(V128.f32x4Mul).simd(V128.f32x4Sub).localSet(a);
  // (p(r)·r² + r + 1)·2ⁿ
  horner(c, a, [...EXP_POLY].reverse());
  c.localGet(a).simd(V128.f32x4Mul).localGet(a).simd(V128.f32x4Mul);
  c.localGet(a).simd(V128.f32x4Add).f32x4Const(1).simd(V128.f32x4Add);
  c.localGet(b).f32x4Const(EXP_MAGIC).simd(V128.f32x4Add).i32Const(23).simd(V128.i32x4Shl);
  c.simd(V128.f32x4Mul);
  c.localGet(x).f32x4Const(EXP_MIN).simd(V128.f32x4Ge).simd(V128.v128And);
}

/** Sets local `out` to Φ(x) = ½(1 + erf(x/√2)) for local x, erf clamped to [−1, 1]. Uses locals z, u. */
function vcdf(c: Code, x: number, out: number, z: number, u: number): void {
  c.localGet(x).f32x4Const(Math.SQRT1_2).simd(V128.f32x4Mul);
  c.f32x4Const(ERF_CLAMP)
    .simd(V128.f32x4Pmin)
    .f32x4Const(-ERF_CLAMP)
    .simd(V128.f32x4Pmax)
    .localTee(z);
  c.localGet(z).simd(V128.f32x4Mul).localSet(u);
  c.localGet(z);
  horner(
    c,
    u,
    ERF_P.map((p) => p * ERF_SCALE),
  );
  c.simd(V128.f32x4Mul);
  horner(c, u, ERF_Q);
  c.simd(V128.f32x4Div).f32x4Const(1).simd(V128.f32x4Pmin).f32x4Const(-1).simd(V128.f32x4Pmax);
  c.f32x4Const(0.5).simd(V128.f32x4Mul).f32x4Const(0.5).simd(V128.f32x4Add).localSet(out);
}

/**
 * The module: gelu(x, out, nbytes), geluBackward(g, x, out, nbytes),
 * geluBias(x, bias, out, nbytes, rowBytes), over an imported memory of
 * these limits (a GEMM's shared memory needs `shared` and `maxPages`).
 */
function geluModule(memory: { pages: number; maxPages?: number; shared?: boolean }): Uint8Array {
  const m = new ModuleBuilder();
  m.func("gelu", ["i32", "i32", "i32"], [], (c) => {
    const [x, p, z, u] = [c.local("v128"), c.local("v128"), c.local("v128"), c.local("v128")];
    forVectors(c, 2, (i) => {
      addressOf(c, 0, i).simdMem(V128.load, 0, 4).localSet(x);
      vcdf(c, x, p, z, u);
      addressOf(c, 1, i).localGet(x).localGet(p).simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
    });
  });
  m.func("geluBackward", ["i32", "i32", "i32", "i32"], [], (c) => {
    const [x, p, q, z, u] = [
      c.local("v128"),
      c.local("v128"),
      c.local("v128"),
      c.local("v128"),
      c.local("v128"),
    ];
    forVectors(c, 3, (i) => {
      addressOf(c, 1, i).simdMem(V128.load, 0, 4).localSet(x);
      vcdf(c, x, p, z, u);
      // φ(x) = e^{−x²/2}/√(2π)
      c.localGet(x).localGet(x).simd(V128.f32x4Mul).f32x4Const(-0.5).simd(V128.f32x4Mul);
      c.localSet(q);
      vexpNeg(c, q, z, u);
      c.f32x4Const(INV_SQRT_2PI).simd(V128.f32x4Mul).localSet(q);
      // g·(Φ + x·φ)
      addressOf(c, 2, i);
      addressOf(c, 0, i).simdMem(V128.load, 0, 4);
      c.localGet(p).localGet(x).localGet(q).simd(V128.f32x4Mul).simd(V128.f32x4Add);
      c.simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
    });
  });
  // The same gradient given the forward's output y = x·Φ(x) too: Φ = y / x
  // (½ where |x| < 1e-20, as 0/0 at x = 0; Φ − ½ is below ½'s ulp there),
  // one division instead of erf's rational fit.
  m.func("geluBackwardOut", ["i32", "i32", "i32", "i32", "i32"], [], (c) => {
    const [x, p, q, z, u] = [
      c.local("v128"),
      c.local("v128"),
      c.local("v128"),
      c.local("v128"),
      c.local("v128"),
    ];
    forVectors(c, 4, (i) => {
      addressOf(c, 1, i).simdMem(V128.load, 0, 4).localSet(x);
      c.f32x4Const(0.5);
      addressOf(c, 2, i).simdMem(V128.load, 0, 4).localGet(x).simd(V128.f32x4Div);
      c.localGet(x).simd(V128.f32x4Abs).f32x4Const(1e-20).simd(V128.f32x4Lt);
      c.simd(V128.v128Bitselect).localSet(p);
      c.localGet(x).localGet(x).simd(V128.f32x4Mul).f32x4Const(-0.5).simd(V128.f32x4Mul);
      c.localSet(q);
      vexpNeg(c, q, z, u);
      c.f32x4Const(INV_SQRT_2PI).simd(V128.f32x4Mul).localSet(q);
      addressOf(c, 3, i);
      addressOf(c, 0, i).simdMem(V128.load, 0, 4);
      c.localGet(p).localGet(x).localGet(q).simd(V128.f32x4Mul).simd(V128.f32x4Add);
      c.simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
    });
  });
  // The bias's byte offset b wraps to 0 at each row's end.
  m.func("geluBias", ["i32", "i32", "i32", "i32", "i32"], [], (c) => {
    const [x, p, z, u] = [c.local("v128"), c.local("v128"), c.local("v128"), c.local("v128")];
    const b = c.local("i32");
    c.i32Const(0).localSet(b);
    forVectors(c, 3, (i) => {
      addressOf(c, 0, i);
      addressOf(c, 0, i).simdMem(V128.load, 0, 4);
      addressOf(c, 1, b).simdMem(V128.load, 0, 4);
      c.simd(V128.f32x4Add).localTee(x).simdMem(V128.store, 0, 4);
      vcdf(c, x, p, z, u);
      addressOf(c, 2, i).localGet(x).localGet(p).simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
      // b = b + 16 === rowBytes ? 0 : b + 16
      c.localGet(b).i32Const(16).op(I32.add).localTee(b).i32Const(0);
      c.localGet(b).localGet(4).op(I32.ne).op(SELECT).localSet(b);
    });
  });
  return m.bytes(memory);
}

export interface GeluExports {
  gelu(x: number, out: number, nbytes: number): void;
  geluBackward(g: number, x: number, out: number, nbytes: number): void;
  geluBias(x: number, bias: number, out: number, nbytes: number, rowBytes: number): void;
  geluBackwardOut(g: number, x: number, y: number, out: number, nbytes: number): void;
}

function instantiate(
  memory: WebAssembly.Memory,
  limits: { pages: number; maxPages?: number; shared?: boolean },
): GeluExports {
  const mod = new WebAssembly.Module(geluModule(limits) as BufferSource);
  return new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as GeluExports;
}

const onMemory = new WeakMap<WebAssembly.Memory, GeluExports>();

/**
 * The GELU kernels over another kernel's memory (a GEMM's, so a product
 * still sitting there goes through GELU without leaving it), compiled once
 * per memory; null without SIMD.
 */
export function geluKernelsOn(memory: WebAssembly.Memory): GeluExports | null {
  if (!wasmFeatures().simd) return null;
  let k = onMemory.get(memory);
  if (!k) {
    k = instantiate(memory, memoryLimits(isShared(memory)));
    onMemory.set(memory, k);
  }
  return k;
}

/** The kernels over their own scratch memory (reused call to call). */
const kernels = scratchKernels<GeluExports>(() => geluModule(memoryLimits(false)));

/** Below this many elements the copies in and out cost more than the scalar loop. */
const MIN_ELEMENTS = 256;

/** n floats rounded up to whole vectors, in bytes. */
function padded(n: number): number {
  return Math.ceil(n / 4) * 16;
}

function f32(v: View): Float32Array | null {
  const d = dataOf(v);
  if (!(d instanceof Float32Array)) return null;
  const n = v.shape.reduce((a, b) => a * b, 1);
  return d.subarray(v.offset, v.offset + n);
}

/** GELU (erf) of a contiguous float32 view on SIMD, or null (another dtype, too small, no SIMD). */
export function simdGeluExact(x: View): Storage | null {
  const xd = f32(x);
  const g = xd && xd.length >= MIN_ELEMENTS ? kernels() : null;
  if (!g || !xd) return null;
  const nb = padded(xd.length);
  g.scratch.reserve(2 * nb);
  const mem = g.scratch.floats;
  mem.set(xd, 0);
  g.k.gelu(0, nb, nb);
  return wrap(copyOf(g.scratch.floats.subarray(nb / 4, nb / 4 + xd.length)));
}

/** grad · GELU'(x) (erf) for contiguous float32 views on SIMD, or null. */
export function simdGeluExactBackward(grad: View, x: View): Storage | null {
  const xd = f32(x);
  const gd = f32(grad);
  const g = xd && gd && xd.length >= MIN_ELEMENTS ? kernels() : null;
  if (!g || !xd || !gd) return null;
  const nb = padded(xd.length);
  g.scratch.reserve(3 * nb);
  const mem = g.scratch.floats;
  mem.set(gd, 0);
  mem.set(xd, nb / 4);
  g.k.geluBackward(0, nb, 2 * nb, nb);
  return wrap(copyOf(g.scratch.floats.subarray((2 * nb) / 4, (2 * nb) / 4 + xd.length)));
}

/**
 * grad · GELU'(x) (erf) given y = GELU(x) as this file's kernels made it,
 * for contiguous float32 views on SIMD, or null.
 */
export function simdGeluExactBackwardOut(grad: View, x: View, y: View): Storage | null {
  const xd = f32(x);
  const yd = f32(y);
  const gd = f32(grad);
  const g = xd && yd && gd && xd.length >= MIN_ELEMENTS ? kernels() : null;
  if (!g || !xd || !yd || !gd) return null;
  const nb = padded(xd.length);
  g.scratch.reserve(4 * nb);
  const mem = g.scratch.floats;
  mem.set(gd, 0);
  mem.set(xd, nb / 4);
  mem.set(yd, (2 * nb) / 4);
  g.k.geluBackwardOut(0, nb, 2 * nb, 3 * nb, nb);
  return wrap(copyOf(g.scratch.floats.subarray((3 * nb) / 4, (3 * nb) / 4 + xd.length)));
}

/**
 * y = x + bias (rows of `cols`), written back into y's storage (fresh,
 * contiguous, owned by the caller), and GELU(y) returned; null (nothing
 * touched) when the SIMD kernel does not apply (cols not a multiple of 4 too).
 */
function geluBias(y: Storage, bias: View, rows: number, cols: number): Storage | null {
  const yd = (y as CpuStorage).data;
  const bd = f32(bias);
  const n = rows * cols;
  const g = n >= MIN_ELEMENTS && cols % 4 === 0 ? kernels() : null;
  if (!g || !bd || !(yd instanceof Float32Array) || (bias.strides[0] ?? 1) !== 1) return null;
  const nb = n * 4;
  const bb = cols * 4;
  g.scratch.reserve(2 * nb + bb);
  const mem = g.scratch.floats;
  mem.set(yd.subarray(0, n), 0);
  mem.set(bd, (2 * nb) / 4);
  g.k.geluBias(0, 2 * nb, nb, nb, bb);
  const out = g.scratch.floats;
  yd.set(out.subarray(0, n));
  return wrap(copyOf(out.subarray(nb / 4, nb / 4 + n)));
}

registerFused("cpu", { geluBias, geluBackwardOut: simdGeluExactBackwardOut });
