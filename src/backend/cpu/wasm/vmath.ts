import { copyOf } from "../../../dtype.js";
import { type Code, F32, forVectors, I32, ModuleBuilder, SELECT, V128 } from "./emitter.js";
import { Scratch, wasmFeatures } from "./runtime.js";

// Float32 GELU and its gradient on WebAssembly SIMD, four lanes at a time,
// over a vector exp (Cephes' expf: range reduction by ln 2, a degree-6
// polynomial, the power of two built in the exponent bits). exp dominates
// GELU's cost in scalar JS (Math.exp, twice per element in the backward);
// here the whole formula is a few dozen vector instructions. erf comes from
// Numerical Recipes' erfc fit (fractional error < 1.2e-7) on |x|, so no
// branch per lane is needed.

export const LOG2E = Math.LOG2E;
/** The smallest input whose exp is a normal float32 (2⁻¹²⁶ ≈ e^−87.34). */
export const EXP_MIN = -87.3;
// ln 2 split in two, so r = x − n·ln 2 keeps its low bits.
export const LN2_HI = 0.693359375;
export const LN2_LO = -2.1219444e-4;
export const EXP_POLY = [
  1.98756915e-4, 1.39819995e-3, 8.33345191e-3, 4.16657959e-2, 1.66666655e-1, 5.00000012e-1,
];
const ERFC_POLY = [
  0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196,
  1.00002368, -1.26551223,
];
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_C = 0.044715;

/** Locals the expression helpers work in. */
export interface Regs {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
}

/**
 * 2²³ + 127: an integer-valued float n in [−126, 127] plus this has n + 127
 * in its low mantissa bits, so shifting those bits left by 23 gives the
 * float 2ⁿ without a float→int conversion (i32x4.trunc_sat_f32x4_s, which
 * V8 expands into a NaN- and overflow-handling sequence on x64).
 */
export const EXP_MAGIC = 8388608 + 127;

/**
 * Pushes exp(local x). Inputs are clamped to [EXP_MIN, 88] for the
 * polynomial (no overflow to inf, no denormal scale); lanes below EXP_MIN
 * then give 0, zeroed with one v128.andnot (a bitselect against a zero
 * vector is several instructions on x64). The clamps are pmin/pmax (one
 * instruction each on x64, where min/max expand to order zeros and NaNs);
 * a NaN still passes through, as pmin(x, c) and pmax(x, c) return x when
 * the compare fails. `nonPositive` drops the upper clamp for inputs known
 * to be ≤ 0, −inf or NaN (softmax's x − max), where pmin(x, 88) is x: the
 * same bits, one instruction less in kernels whose time is mostly exp.
 */
export function vexp(c: Code, x: number, r: Regs, nonPositive = false): void {
  c.localGet(x);
  if (!nonPositive) c.f32x4Const(88).simd(V128.f32x4Pmin);
  c.f32x4Const(EXP_MIN).simd(V128.f32x4Pmax).localSet(r.a);
  // n = round(x·log2 e), t = x − n·ln 2
  c.localGet(r.a).f32x4Const(LOG2E).simd(V128.f32x4Mul).simd(V128.f32x4Nearest).localSet(r.b);
  c.localGet(r.a)
    .localGet(r.b)
    .f32x4Const(LN2_HI)
    .simd(V128.f32x4Mul)
    .simd(V128.f32x4Sub)
    .localGet(r.b)
    .f32x4Const(LN2_LO)
    .simd(V128.f32x4Mul)
    .simd(V128.f32x4Sub)
    .localSet(r.c);
  c.f32x4Const(EXP_POLY[0]!);
  for (const k of EXP_POLY.slice(1)) {
    c.localGet(r.c).simd(V128.f32x4Mul).f32x4Const(k).simd(V128.f32x4Add);
  }
  // p·t² + t + 1
  c.localGet(r.c)
    .simd(V128.f32x4Mul)
    .localGet(r.c)
    .simd(V128.f32x4Mul)
    .localGet(r.c)
    .simd(V128.f32x4Add)
    .f32x4Const(1)
    .simd(V128.f32x4Add);
  // × 2ⁿ: (n + 127) << 23 read as a float (EXP_MAGIC).
  c.localGet(r.b).f32x4Const(EXP_MAGIC).simd(V128.f32x4Add).i32Const(23).simd(V128.i32x4Shl);
  c.simd(V128.f32x4Mul);
  // Below the clamp the result is 0, as expf underflows (so inf·φ(inf) is NaN, as in PyTorch).
  c.localGet(x).f32x4Const(EXP_MIN).simd(V128.f32x4Lt).simd(V128.v128Andnot);
}

/** Sets local `out` to Φ(x) = ½(1 + erf(x/√2)) for local x. */
function vcdf(c: Code, x: number, out: number, r: Regs): void {
  // z = |x|/√2, t = 1/(1 + z/2)
  c.localGet(x).simd(V128.f32x4Abs).f32x4Const(Math.SQRT1_2).simd(V128.f32x4Mul).localSet(r.d);
  c.f32x4Const(1)
    .f32x4Const(1)
    .localGet(r.d)
    .f32x4Const(0.5)
    .simd(V128.f32x4Mul)
    .simd(V128.f32x4Add)
    .simd(V128.f32x4Div)
    .localSet(r.e);
  // erfc(z) = t·exp(−z² + P(t))
  c.f32x4Const(ERFC_POLY[0]!);
  for (const k of ERFC_POLY.slice(1)) {
    c.localGet(r.e).simd(V128.f32x4Mul).f32x4Const(k).simd(V128.f32x4Add);
  }
  c.localGet(r.d).localGet(r.d).simd(V128.f32x4Mul).simd(V128.f32x4Sub).localSet(out);
  vexp(c, out, r);
  c.localGet(r.e).simd(V128.f32x4Mul).f32x4Const(0.5).simd(V128.f32x4Mul).localSet(out);
  // Φ = x < 0 ? erfc/2 : 1 − erfc/2
  c.localGet(out)
    .f32x4Const(1)
    .localGet(out)
    .simd(V128.f32x4Sub)
    .localGet(x)
    .f32x4Zero()
    .simd(V128.f32x4Lt)
    .simd(V128.v128Bitselect)
    .localSet(out);
}

/** Sets local `out` to tanh(√(2/π)(x + 0.044715 x³)) for local x, as 1 − 2/(e^{2u} + 1). */
function vtanhInner(c: Code, x: number, out: number, r: Regs): void {
  c.localGet(x)
    .localGet(x)
    .localGet(x)
    .simd(V128.f32x4Mul)
    .localGet(x)
    .simd(V128.f32x4Mul)
    .f32x4Const(GELU_C)
    .simd(V128.f32x4Mul)
    .simd(V128.f32x4Add)
    .f32x4Const(2 * SQRT_2_OVER_PI)
    .simd(V128.f32x4Mul)
    .localSet(out);
  vexp(c, out, r);
  c.f32x4Const(1).simd(V128.f32x4Add).localSet(out);
  c.f32x4Const(1).f32x4Const(2).localGet(out).simd(V128.f32x4Div).simd(V128.f32x4Sub).localSet(out);
}

function load(c: Code, base: number, i: number, into: number): void {
  c.localGet(base).localGet(i).op(I32.add).simdMem(V128.load, 0, 4).localSet(into);
}

export function regs(c: Code): Regs {
  return {
    a: c.local("v128"),
    b: c.local("v128"),
    c: c.local("v128"),
    d: c.local("v128"),
    e: c.local("v128"),
  };
}

/** The module: gelu(src, dst, nbytes), geluBackward(g, x, dst, nbytes), and the tanh forms. */
export function vmathModule(): Uint8Array {
  const m = new ModuleBuilder();
  m.func("gelu", ["i32", "i32", "i32"], [], (c) => {
    const x = c.local("v128");
    const p = c.local("v128");
    const r = regs(c);
    forVectors(c, 2, (i) => {
      load(c, 0, i, x);
      vcdf(c, x, p, r);
      c.localGet(1).localGet(i).op(I32.add);
      c.localGet(x).localGet(p).simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
    });
  });
  m.func("geluBackward", ["i32", "i32", "i32", "i32"], [], (c) => {
    const x = c.local("v128");
    const p = c.local("v128");
    const q = c.local("v128");
    const r = regs(c);
    forVectors(c, 3, (i) => {
      load(c, 1, i, x);
      vcdf(c, x, p, r);
      // φ(x) = e^{−x²/2}/√(2π)
      c.localGet(x)
        .localGet(x)
        .simd(V128.f32x4Mul)
        .f32x4Const(-0.5)
        .simd(V128.f32x4Mul)
        .localSet(q);
      vexp(c, q, r);
      c.f32x4Const(INV_SQRT_2PI).simd(V128.f32x4Mul).localSet(q);
      c.localGet(2).localGet(i).op(I32.add);
      c.localGet(0).localGet(i).op(I32.add).simdMem(V128.load, 0, 4);
      c.localGet(p)
        .localGet(x)
        .localGet(q)
        .simd(V128.f32x4Mul)
        .simd(V128.f32x4Add)
        .simd(V128.f32x4Mul)
        .simdMem(V128.store, 0, 4);
    });
  });
  m.func("exp", ["i32", "i32", "i32"], [], (c) => {
    const x = c.local("v128");
    const r = regs(c);
    forVectors(c, 2, (i) => {
      load(c, 0, i, x);
      c.localGet(1).localGet(i).op(I32.add);
      vexp(c, x, r);
      c.simdMem(V128.store, 0, 4);
    });
  });
  // exp(x − shift) in place over the rows of a [rows, cols] block (cols a
  // multiple of 4), one pass per row after the shift is known: with
  // findMax, the row's maximum (NaN if any entry is, stored as the row's
  // shift; a non-finite one shifts by 0), else the stored shift; with
  // `scaled`, each exponential is then multiplied by the row's scale. Each
  // step rounds to float32 as the separate passes did (the subtraction as
  // a double subtraction rounded to float32), so the bits are theirs.
  m.func("shiftExpRows", ["i32", "i32", "i32", "i32", "i32", "i32", "i32"], [], (c) => {
    const [X, SHIFT, SCALES, ROWS, ROW_BYTES, FIND_MAX, SCALED] = [0, 1, 2, 3, 4, 5, 6];
    const [r, j, base] = [c.local("i32"), c.local("i32"), c.local("i32")];
    const acc = c.local("v128");
    const k = c.local("v128");
    const v = c.local("v128");
    const sh = c.local("f32");
    const rg = regs(c);
    c.localGet(X).localSet(base);
    c.for(
      r,
      () => c.i32Const(0),
      () => c.localGet(ROWS),
      1,
      () => {
        c.localGet(FIND_MAX).if(
          () => {
            c.f32x4Const(Number.NEGATIVE_INFINITY).localSet(acc);
            c.for(
              j,
              () => c.i32Const(0),
              () => c.localGet(ROW_BYTES),
              16,
              () => {
                c.localGet(base).localGet(j).op(I32.add).simdMem(V128.load, 0, 4);
                c.localGet(acc).simd(V128.f32x4Max).localSet(acc);
              },
            );
            // Fold the four lanes: halves, then neighbours.
            for (const half of [8, 4]) {
              c.localGet(acc).localGet(acc).localGet(acc).simd(V128.i8x16Shuffle);
              for (let b = 0; b < 16; b++) c.op((b + half) % 16);
              c.simd(V128.f32x4Max).localSet(acc);
            }
            c.localGet(SHIFT).localGet(r).i32Const(2).op(I32.shl).op(I32.add);
            c.localGet(acc).simd(V128.f32x4ExtractLane).op(0).localTee(sh);
            c.mem(F32.store, 0, 2);
            // A non-finite maximum (m − m ≠ 0) shifts by 0.
            c.localGet(sh).op(...F32.const0);
            c.localGet(sh)
              .localGet(sh)
              .op(F32.sub)
              .op(...F32.const0)
              .op(F32.eq);
            c.op(SELECT).localSet(sh);
          },
          () => {
            c.localGet(SHIFT).localGet(r).i32Const(2).op(I32.shl).op(I32.add);
            c.mem(F32.load, 0, 2).localSet(sh);
          },
        );
        c.localGet(sh).simd(V128.f32x4Splat).localSet(acc);
        c.localGet(SCALES).localGet(r).i32Const(2).op(I32.shl).op(I32.add);
        c.simdMem(V128.load32Splat, 0, 2).localSet(k);
        c.for(
          j,
          () => c.i32Const(0),
          () => c.localGet(ROW_BYTES),
          16,
          () => {
            c.localGet(base).localGet(j).op(I32.add).simdMem(V128.load, 0, 4);
            c.localGet(acc).simd(V128.f32x4Sub).localSet(v);
            vexp(c, v, rg);
            c.localSet(v);
            c.localGet(SCALED).if(() => c.localGet(v).localGet(k).simd(V128.f32x4Mul).localSet(v));
            c.localGet(base).localGet(j).op(I32.add).localGet(v).simdMem(V128.store, 0, 4);
          },
        );
        c.inc(base, () => c.localGet(ROW_BYTES));
      },
    );
  });
  // Adam/AdamW over p, g, m, v (float32, updated in place): the composed
  // update's order of operations, each rounded to float32 as the composed
  // ops round theirs. Scalars: shrink, sign, l2, beta1, 1−beta1, beta2,
  // 1−beta2, stepSize, √(1−beta2ᵗ), eps.
  m.func(
    "adam",
    [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "f32",
      "f32",
      "f32",
      "f32",
      "f32",
      "f32",
      "f32",
      "f32",
      "f32",
    ],
    [],
    (c) => {
      const k = Array.from({ length: 10 }, (_, j) => {
        const l = c.local("v128");
        c.localGet(5 + j)
          .simd(V128.f32x4Splat)
          .localSet(l);
        return l;
      });
      const [shrink, sign, l2, b1, a1, b2, a2, stepSize, bias2Sqrt, eps] = k as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      const pi = c.local("v128");
      const g = c.local("v128");
      const mi = c.local("v128");
      const vi = c.local("v128");
      const at = (base: number, i: number) => c.localGet(base).localGet(i).op(I32.add);
      forVectors(c, 4, (i) => {
        at(0, i).simdMem(V128.load, 0, 4).localGet(shrink).simd(V128.f32x4Mul).localSet(pi);
        at(1, i)
          .simdMem(V128.load, 0, 4)
          .localGet(sign)
          .simd(V128.f32x4Mul)
          .localGet(l2)
          .localGet(pi)
          .simd(V128.f32x4Mul)
          .simd(V128.f32x4Add)
          .localSet(g);
        at(2, i)
          .simdMem(V128.load, 0, 4)
          .localGet(b1)
          .simd(V128.f32x4Mul)
          .localGet(a1)
          .localGet(g)
          .simd(V128.f32x4Mul)
          .simd(V128.f32x4Add)
          .localSet(mi);
        at(3, i)
          .simdMem(V128.load, 0, 4)
          .localGet(b2)
          .simd(V128.f32x4Mul)
          .localGet(a2)
          .localGet(g)
          .localGet(g)
          .simd(V128.f32x4Mul)
          .simd(V128.f32x4Mul)
          .simd(V128.f32x4Add)
          .localSet(vi);
        at(2, i).localGet(mi).simdMem(V128.store, 0, 4);
        at(3, i).localGet(vi).simdMem(V128.store, 0, 4);
        // p = pi − stepSize·(m / (√v / √(1−β₂ᵗ) + eps))
        at(0, i)
          .localGet(pi)
          .localGet(stepSize)
          .localGet(mi)
          .localGet(vi)
          .simd(V128.f32x4Sqrt)
          .localGet(bias2Sqrt)
          .simd(V128.f32x4Div)
          .localGet(eps)
          .simd(V128.f32x4Add)
          .simd(V128.f32x4Div)
          .simd(V128.f32x4Mul)
          .simd(V128.f32x4Sub)
          .simdMem(V128.store, 0, 4);
      });
    },
  );
  m.func("geluTanh", ["i32", "i32", "i32"], [], (c) => {
    const x = c.local("v128");
    const t = c.local("v128");
    const r = regs(c);
    forVectors(c, 2, (i) => {
      load(c, 0, i, x);
      vtanhInner(c, x, t, r);
      c.localGet(1).localGet(i).op(I32.add);
      c.localGet(x)
        .f32x4Const(0.5)
        .simd(V128.f32x4Mul)
        .localGet(t)
        .f32x4Const(1)
        .simd(V128.f32x4Add)
        .simd(V128.f32x4Mul)
        .simdMem(V128.store, 0, 4);
    });
  });
  m.func("geluTanhBackward", ["i32", "i32", "i32", "i32"], [], (c) => {
    const x = c.local("v128");
    const t = c.local("v128");
    const r = regs(c);
    forVectors(c, 3, (i) => {
      load(c, 1, i, x);
      vtanhInner(c, x, t, r);
      c.localGet(2).localGet(i).op(I32.add);
      c.localGet(0).localGet(i).op(I32.add).simdMem(V128.load, 0, 4);
      // ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3c·x²)
      c.localGet(t)
        .f32x4Const(1)
        .simd(V128.f32x4Add)
        .f32x4Const(0.5)
        .simd(V128.f32x4Mul)
        .localGet(x)
        .f32x4Const(0.5)
        .simd(V128.f32x4Mul)
        .f32x4Const(1)
        .localGet(t)
        .localGet(t)
        .simd(V128.f32x4Mul)
        .simd(V128.f32x4Sub)
        .simd(V128.f32x4Mul)
        .localGet(x)
        .localGet(x)
        .simd(V128.f32x4Mul)
        .f32x4Const(3 * GELU_C * SQRT_2_OVER_PI)
        .simd(V128.f32x4Mul)
        .f32x4Const(SQRT_2_OVER_PI)
        .simd(V128.f32x4Add)
        .simd(V128.f32x4Mul)
        .simd(V128.f32x4Add)
        .simd(V128.f32x4Mul)
        .simdMem(V128.store, 0, 4);
    });
  });
  // dst = a op b, lane by lane: IEEE float32 arithmetic, so the same bits
  // as the scalar loops (a double result of two floats, rounded once).
  for (const [name, op] of BINARY_SIMD) {
    m.func(name, ["i32", "i32", "i32", "i32"], [], (c) => {
      const i = c.local("i32");
      c.for(
        i,
        () => c.i32Const(0),
        () => c.localGet(3),
        16,
        () => {
          c.localGet(2).localGet(i).op(I32.add);
          c.localGet(0).localGet(i).op(I32.add).simdMem(V128.load, 0, 4);
          c.localGet(1).localGet(i).op(I32.add).simdMem(V128.load, 0, 4);
          c.simd(op).simdMem(V128.store, 0, 4);
        },
      );
    });
  }
  return m.bytes({ pages: 1 });
}

/** The binary ops with a SIMD kernel, by the name the module exports. */
const BINARY_SIMD = [
  ["add", V128.f32x4Add],
  ["sub", V128.f32x4Sub],
  ["mul", V128.f32x4Mul],
  ["div", V128.f32x4Div],
] as const;

export interface VmathExports {
  add(a: number, b: number, dst: number, nbytes: number): void;
  sub(a: number, b: number, dst: number, nbytes: number): void;
  mul(a: number, b: number, dst: number, nbytes: number): void;
  div(a: number, b: number, dst: number, nbytes: number): void;
  adam(p: number, g: number, m: number, v: number, nbytes: number, ...scalars: number[]): void;
  exp(src: number, dst: number, nbytes: number): void;
  shiftExpRows(
    x: number,
    shift: number,
    scales: number,
    rows: number,
    rowBytes: number,
    findMax: number,
    scaled: number,
  ): void;
  gelu(src: number, dst: number, nbytes: number): void;
  geluBackward(g: number, x: number, dst: number, nbytes: number): void;
  geluTanh(src: number, dst: number, nbytes: number): void;
  geluTanhBackward(g: number, x: number, dst: number, nbytes: number): void;
}

/** The compiled kernels over their own scratch memory (reused call to call: flat memory). */
class Vmath {
  readonly scratch = new Scratch(false, 1);
  readonly k: VmathExports;
  constructor() {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(vmathModule() as BufferSource), {
      env: { memory: this.scratch.memory },
    });
    this.k = inst.exports as unknown as VmathExports;
  }

  /**
   * Runs a kernel over one or two float32 inputs of n elements: they are
   * copied in (padded to whole vectors), the result copied out into a new array.
   */
  run(inputs: Float32Array[], call: (ptrs: number[], out: number, nbytes: number) => void) {
    const n = inputs[0]!.length;
    const padded = Math.ceil(n / 4) * 4 * 4;
    this.scratch.reserve(padded * (inputs.length + 1));
    const mem = this.scratch.floats;
    const ptrs = inputs.map((a, j) => {
      mem.set(a, (j * padded) / 4);
      return j * padded;
    });
    const out = inputs.length * padded;
    call(ptrs, out, padded);
    return copyOf(this.scratch.floats.subarray(out / 4, out / 4 + n));
  }
}

/**
 * exp in place over scratch memory: `fill` writes n float32 values into the
 * view it is given; `use` then reads their exponentials from the same view
 * (valid only during the call). Lanes below −87.3 give 0, above 88 e^88.
 * False (and nothing called) without SIMD or below the size where it pays.
 */
export function simdExpInPlace(
  n: number,
  fill: (mem: Float32Array) => void,
  use: (mem: Float32Array) => void,
): boolean {
  const vm = n >= VMATH_MIN ? vmath() : null;
  if (!vm) return false;
  const padded = Math.ceil(n / 4) * 16;
  vm.scratch.reserve(padded);
  const view = vm.scratch.floats.subarray(0, n);
  fill(view);
  vm.k.exp(0, 0, padded);
  use(view);
  return true;
}

/**
 * exp(x − shift) row by row over scratch memory, for float32 rows [rows,
 * cols] (cols a multiple of 4): with `shift` null each row's shift is its
 * maximum (0 where that is not finite); `use` then reads the exponentials
 * and the shifts used (the maxima, as found) from views valid only during
 * the call. With `scales`, each row's exponentials are then multiplied
 * by its scale (the shifts' view then holds the scales). The shift, exp
 * and scale all run on SIMD; the values match
 * computing x − shift in doubles and rounding to float32. False (nothing
 * called) without SIMD, below VMATH_MIN elements, or for other widths.
 */
export function simdShiftExpRows(
  x: Float32Array,
  rows: number,
  cols: number,
  shift: Float32Array | null,
  use: (exps: Float32Array, shifts: Float32Array) => void,
  scales: Float32Array | null = null,
): boolean {
  const n = rows * cols;
  const vm = n >= VMATH_MIN && cols % 4 === 0 && x.length >= n ? vmath() : null;
  if (!vm) return false;
  // x | shifts | scales
  vm.scratch.reserve(4 * (n + 2 * rows));
  const mem = vm.scratch.floats;
  mem.set(x.subarray(0, n), 0);
  if (shift) mem.set(shift.subarray(0, rows), n);
  if (scales) mem.set(scales.subarray(0, rows), n + rows);
  vm.k.shiftExpRows(0, 4 * n, 4 * (n + rows), rows, 4 * cols, shift ? 0 : 1, scales ? 1 : 0);
  use(mem.subarray(0, n), mem.subarray(scales ? n + rows : n, scales ? n + 2 * rows : n + rows));
  return true;
}

/** Below this many elements the scalar loop beats the copies through wasm memory. */
export const BINARY_SIMD_MIN = 4096;

/**
 * Elements per pass of the streaming kernels: operands go through scratch
 * memory a chunk at a time, so the copies in, the kernel and the copy out
 * all hit the L2 cache instead of making three trips to DRAM over whole
 * megabyte arrays (1M-element add: 0.66–0.83 → 0.42–0.45 ms).
 */
export const STREAM_CHUNK = 16384;

/**
 * out[i] = a[oa + i] op b[ob + i] for i < n on SIMD, through scratch
 * memory a chunk at a time (two copies in, one out: still ~2.5× faster
 * than the scalar loop on large arrays, which V8 does not vectorize).
 * Bit-identical to the scalar loop. False (nothing written) without SIMD
 * or below BINARY_SIMD_MIN.
 */
export function simdBinary(
  op: "add" | "sub" | "mul" | "div",
  out: Float32Array,
  a: Float32Array,
  oa: number,
  b: Float32Array,
  ob: number,
  n: number,
): boolean {
  const vm = n >= BINARY_SIMD_MIN ? vmath() : null;
  if (!vm) return false;
  const chunk = Math.min(STREAM_CHUNK, Math.ceil(n / 4) * 4);
  // a's chunk | b's chunk; the result overwrites a's.
  vm.scratch.reserve(8 * chunk);
  const mem = vm.scratch.floats;
  const kernel = vm.k[op];
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    mem.set(a.subarray(oa + s, oa + s + m), 0);
    mem.set(b.subarray(ob + s, ob + s + m), chunk);
    kernel(0, 4 * chunk, 0, Math.ceil(m / 4) * 16);
    out.set(mem.subarray(0, m), s);
  }
  return true;
}

let instance: Vmath | null | undefined;

/** The SIMD GELU kernels, or null without WebAssembly SIMD. */
export function vmath(): Vmath | null {
  if (instance === undefined) instance = wasmFeatures().simd ? new Vmath() : null;
  return instance;
}

/** Below this many elements the copies in and out cost more than the scalar loop. */
export const VMATH_MIN = 256;

/** GELU of a float32 array on SIMD, or null without it. */
export function simdGelu(x: Float32Array, approximate: "none" | "tanh"): Float32Array | null {
  const vm = x.length >= VMATH_MIN ? vmath() : null;
  if (!vm) return null;
  const f = approximate === "tanh" ? vm.k.geluTanh : vm.k.gelu;
  return vm.run([x], ([p], out, nb) => f(p!, out, nb));
}

/** grad · GELU'(x) for float32 arrays on SIMD, or null without it. */
export function simdGeluBackward(
  g: Float32Array,
  x: Float32Array,
  approximate: "none" | "tanh",
): Float32Array | null {
  const vm = x.length >= VMATH_MIN ? vmath() : null;
  if (!vm) return null;
  const f = approximate === "tanh" ? vm.k.geluTanhBackward : vm.k.geluBackward;
  return vm.run([g, x], ([pg, px], out, nb) => f(pg!, px!, out, nb));
}
