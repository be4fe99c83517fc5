import type { Code } from "./emitter.js";
import { V128 } from "./emitter.js";
import { EXP_MAGIC, EXP_MIN, EXP_POLY, LN2_HI, LN2_LO, LOG2E, type Regs } from "./vmath.js";

// vmath's vexp for the shifted inputs of softmax and log-softmax, x − max,
// which are ≤ 0, −inf or NaN: the same steps and so the same bits, less
// what those inputs never need. The upper clamp (pmin with 88) is dropped,
// as pmin(x, 88) is x for all of them (a NaN included), and the lanes below
// EXP_MIN are zeroed with one v128.andnot instead of a bitselect against a
// zero vector (several instructions on x64). The exp pass is most of these
// kernels' time, so the few instructions count.

/** Pushes exp(local x) for x ≤ 0 (or −inf, or NaN), bit for bit vmath's vexp. */
export function vexpShifted(c: Code, x: number, r: Regs): void {
  c.localGet(x).f32x4Const(EXP_MIN).simd(V128.f32x4Pmax).localSet(r.a);
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
  // Below the clamp the result is 0, as expf underflows.
  c.localGet(x).f32x4Const(EXP_MIN).simd(V128.f32x4Lt).simd(V128.v128Andnot);
}
