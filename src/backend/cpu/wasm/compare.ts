import { emptyArray } from "../../../dtype.js";
import type { BinaryOp, View } from "../../backend.js";
import { coalesce } from "../iterate.js";
import { isContiguous } from "../storage.js";
import { type Code, I32, ModuleBuilder, V128 } from "./emitter.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";
import { STREAM_CHUNK } from "./vmath.js";

// float32 comparisons into bool tensors, and where(cond, a, b) on float32,
// on WebAssembly SIMD. The JS loops store one byte per compare (~2 ns an
// element); here an f32x4 compare gives four 32-bit masks (all ones or
// zero), four of them narrow (signed, saturating: −1 stays −1) into the
// 16 bytes of 16 results, and an AND with 1 makes them 0/1. The IEEE
// compares are JavaScript's: false against NaN except `ne`, −0 equal to +0,
// so the bytes are the scalar loop's. where widens the bool bytes back
// into lane masks and bit-selects, so its floats are copied bit for bit
// (NaN payloads and −0 too). Operands stream through scratch memory in
// chunks of STREAM_CHUNK elements, so the copies and the kernel stay in cache.
// A row repeated over the tensor (x.gt(row), of any width) is laid out
// once, repeated over a chunk of whole rows, and compared as a tensor.

const COMPARES = [
  ["gt", V128.f32x4Gt],
  ["lt", V128.f32x4Lt],
  ["ge", V128.f32x4Ge],
  ["le", V128.f32x4Le],
  ["eq", V128.f32x4Eq],
  ["ne", V128.f32x4Ne],
] as const;

type CompareOp = (typeof COMPARES)[number][0];

/** s op x is x op' s: the same answer for every input, NaN and signed zeros included. */
const MIRROR: Record<CompareOp, CompareOp> = {
  gt: "lt",
  lt: "gt",
  ge: "le",
  le: "ge",
  eq: "eq",
  ne: "ne",
};

/**
 * Pushes the 16 bytes of 16 compares: x[at + 16k] op (y[at + 16k] or the
 * splat scalar) for k < 4, narrowed to bytes and masked to 0/1.
 */
function compare16(c: Code, op: number, at: number, y: (k: number) => void): void {
  for (let pair = 0; pair < 2; pair++) {
    for (let k = 2 * pair; k < 2 * pair + 2; k++) {
      c.localGet(at).simdMem(V128.load, 16 * k, 4);
      y(k);
      c.simd(op);
    }
    c.simd(V128.i16x8NarrowI32x4S);
  }
  c.simd(V128.i8x16NarrowI16x8S);
  c.i32Const(1).simd(V128.i8x16Splat).simd(V128.v128And);
}

/**
 * The module: for each op, op(x, y, out, n) sets the bytes out[i] =
 * x[i] op y[i] and opScalar(x, s, out, n) out[i] = x[i] op s, for n a
 * multiple of 16; where(cond, a, b, out, n) sets out[i] = cond[i] ? a[i] :
 * b[i] (floats, n a multiple of 16).
 */
function compareModule(): Uint8Array {
  const m = new ModuleBuilder();
  for (const [name, op] of COMPARES) {
    m.func(name, ["i32", "i32", "i32", "i32"], [], (c) => {
      const [X, Y, OUT, N] = [0, 1, 2, 3];
      const [p, at, yAt] = [c.local("i32"), c.local("i32"), c.local("i32")];
      c.for(
        p,
        () => c.i32Const(0),
        () => c.localGet(N),
        16,
        () => {
          c.localGet(p).i32Const(2).op(I32.shl).localTee(yAt);
          c.localGet(X).op(I32.add).localSet(at);
          c.localGet(Y).localGet(yAt).op(I32.add).localSet(yAt);
          c.localGet(OUT).localGet(p).op(I32.add);
          compare16(c, op, at, (k) => c.localGet(yAt).simdMem(V128.load, 16 * k, 4));
          c.simdMem(V128.store, 0, 4);
        },
      );
    });
    m.func(`${name}Scalar`, ["i32", "f32", "i32", "i32"], [], (c) => {
      const [X, S, OUT, N] = [0, 1, 2, 3];
      const [p, at, s] = [c.local("i32"), c.local("i32"), c.local("v128")];
      c.localGet(S).simd(V128.f32x4Splat).localSet(s);
      c.for(
        p,
        () => c.i32Const(0),
        () => c.localGet(N),
        16,
        () => {
          c.localGet(p).i32Const(2).op(I32.shl).localGet(X).op(I32.add).localSet(at);
          c.localGet(OUT).localGet(p).op(I32.add);
          compare16(c, op, at, () => c.localGet(s));
          c.simdMem(V128.store, 0, 4);
        },
      );
    });
  }
  m.func("where", ["i32", "i32", "i32", "i32", "i32"], [], (c) => {
    const [COND, A, B, OUT, N] = [0, 1, 2, 3, 4];
    const [p, q, zero, half] = [c.local("i32"), c.local("i32"), c.local("v128"), c.local("v128")];
    c.for(
      p,
      () => c.i32Const(0),
      () => c.localGet(N),
      16,
      () => {
        // All ones in the bytes where cond is 0 (false), widened to lane
        // masks 4 at a time: bitselect(b, a, mask) takes b there, a elsewhere.
        c.localGet(COND).localGet(p).op(I32.add).simdMem(V128.load, 0, 4);
        c.i32Const(0).simd(V128.i8x16Splat).simd(V128.i8x16Eq).localSet(zero);
        c.localGet(p).i32Const(2).op(I32.shl).localSet(q);
        for (let h = 0; h < 2; h++) {
          c.localGet(zero)
            .simd(h === 0 ? V128.i16x8ExtendLowI8x16S : V128.i16x8ExtendHighI8x16S)
            .localSet(half);
          for (let l = 0; l < 2; l++) {
            const k = 2 * h + l;
            c.localGet(OUT).localGet(q).op(I32.add);
            c.localGet(B)
              .localGet(q)
              .op(I32.add)
              .simdMem(V128.load, 16 * k, 4);
            c.localGet(A)
              .localGet(q)
              .op(I32.add)
              .simdMem(V128.load, 16 * k, 4);
            c.localGet(half).simd(l === 0 ? V128.i32x4ExtendLowI16x8S : V128.i32x4ExtendHighI16x8S);
            c.simd(V128.v128Bitselect).simdMem(V128.store, 16 * k, 4);
          }
        }
      },
    );
  });
  return m.bytes({ pages: 1 });
}

interface CompareExports {
  [name: string]: (x: number, y: number, out: number, n: number, n2?: number) => void;
}

const compiled = scratchKernels<CompareExports>(compareModule);
let enabled = true;

function kernels(): ScratchKernels<CompareExports> | null {
  return enabled ? compiled() : null;
}

/**
 * Switches these SIMD kernels off (or back on), so tests and benchmarks can
 * compare them with the scalar loops they replace; returns the old setting.
 */
export function setCompareKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

let rowsEnabled = true;

/** Switches the repeated-row compares alone off (or back on); returns the old setting. */
export function setCompareRowKernels(on: boolean): boolean {
  const was = rowsEnabled;
  rowsEnabled = on;
  return was;
}

/** Below this many elements the copies in and out cost more than the scalar loop. */
export const COMPARE_SIMD_MIN = 1024;

/** Elements per streamed chunk: a multiple of 16 (one kernel step), at most what n needs. */
function chunkFor(n: number): number {
  return Math.min(STREAM_CHUNK, Math.ceil(n / 16) * 16);
}

/** Every stride 0: one value broadcast over the view. */
function isScalar(v: View): boolean {
  return v.strides.every((s) => s === 0);
}

/** The width of a row repeated over the view (strides [0, 1] once merged), else 0. */
function rowWidth(v: View): number {
  if (!rowsEnabled) return 0;
  const w = coalesce(v.shape, [v.strides]);
  const s = w.strides[0]!;
  return w.shape.length === 2 && s[0] === 0 && s[1] === 1 ? w.shape[1]! : 0;
}

/**
 * a op b (gt, lt, ge, le, eq, ne) for float32 views of one shape into a
 * new bool array: both contiguous, or one contiguous and the other a single
 * value or a row broadcast over it; bit-identical to the scalar loop. Null (nothing
 * allocated) for other ops and layouts, below COMPARE_SIMD_MIN elements,
 * or without SIMD.
 */
export function simdCompare(
  op: BinaryOp,
  a: View,
  ad: Float32Array,
  b: View,
  bd: Float32Array,
): Uint8Array | null {
  if (!(op in MIRROR)) return null;
  let n = 1;
  for (const d of a.shape) n *= d;
  if (n < COMPARE_SIMD_MIN) return null;
  const ac = isContiguous(a);
  const bc = isContiguous(b);
  // The contiguous one is x; a scalar on the left mirrors the op.
  let kind: "tensors" | "scalar" | "mirrored" | "row" | "mirroredRow";
  let cols = 0;
  if (ac && bc) kind = "tensors";
  else if (ac && isScalar(b)) kind = "scalar";
  else if (bc && isScalar(a)) kind = "mirrored";
  else if (ac && (cols = rowWidth(b)) > 0) kind = "row";
  else if (bc && (cols = rowWidth(a)) > 0) kind = "mirroredRow";
  else return null;
  const ck = kernels();
  if (!ck) return null;
  const mirrored = kind === "mirrored" || kind === "mirroredRow";
  const [x, xd, y, yd] = mirrored ? [b, bd, a, ad] : [a, ad, b, bd];
  const name = mirrored ? MIRROR[op as CompareOp] : (op as CompareOp);
  const scalar = kind === "scalar" || kind === "mirrored";
  // A row's chunks are whole rows, so each starts at the row's start.
  const chunk = cols > 0 ? Math.max(1, Math.floor(STREAM_CHUNK / cols)) * cols : chunkFor(n);
  const span = Math.ceil(chunk / 16) * 16;
  // x's chunk | y's chunk | the result's bytes
  const outAt = 8 * span;
  ck.scratch.reserve(outAt + span);
  const mem = ck.scratch.floats;
  const bytes = new Uint8Array(ck.scratch.memory.buffer);
  const out = emptyArray("bool", n) as Uint8Array;
  const kernel = ck.k[scalar ? `${name}Scalar` : name]!;
  const s = scalar ? yd[y.offset]! : 4 * span;
  if (cols > 0)
    for (let r = 0; r < chunk; r += cols) mem.set(yd.subarray(y.offset, y.offset + cols), span + r);
  for (let at = 0; at < n; at += chunk) {
    const m = Math.min(chunk, n - at);
    mem.set(xd.subarray(x.offset + at, x.offset + at + m), 0);
    if (kind === "tensors") mem.set(yd.subarray(y.offset + at, y.offset + at + m), span);
    kernel(0, s, outAt, Math.ceil(m / 16) * 16);
    out.set(bytes.subarray(outAt, outAt + m), at);
  }
  return out;
}

/**
 * where(cond, a, b) for a bool cond and float32 a, b of one shape into a
 * new float32 array: cond contiguous, a and b each contiguous or a single
 * value; the bits of the scalar loop. Null (nothing allocated) for other
 * layouts, below COMPARE_SIMD_MIN elements, or without SIMD.
 */
export function simdWhere(
  cond: View,
  cd: Uint8Array,
  a: View,
  ad: Float32Array,
  b: View,
  bd: Float32Array,
): Float32Array | null {
  let n = 1;
  for (const d of cond.shape) n *= d;
  if (n < COMPARE_SIMD_MIN || !isContiguous(cond)) return null;
  const aScalar = !isContiguous(a);
  const bScalar = !isContiguous(b);
  if ((aScalar && !isScalar(a)) || (bScalar && !isScalar(b))) return null;
  const wk = kernels();
  if (!wk) return null;
  const chunk = chunkFor(n);
  // cond's bytes | a's chunk | b's chunk | the result's chunk; a single
  // value fills its chunk once and stays.
  const [aAt, bAt, outAt] = [chunk, 5 * chunk, 9 * chunk];
  wk.scratch.reserve(outAt + 4 * chunk);
  const mem = wk.scratch.floats;
  const bytes = new Uint8Array(wk.scratch.memory.buffer);
  if (aScalar) mem.fill(ad[a.offset]!, aAt / 4, aAt / 4 + chunk);
  if (bScalar) mem.fill(bd[b.offset]!, bAt / 4, bAt / 4 + chunk);
  const out = emptyArray("float32", n) as Float32Array;
  for (let at = 0; at < n; at += chunk) {
    const m = Math.min(chunk, n - at);
    bytes.set(cd.subarray(cond.offset + at, cond.offset + at + m), 0);
    if (!aScalar) mem.set(ad.subarray(a.offset + at, a.offset + at + m), aAt / 4);
    if (!bScalar) mem.set(bd.subarray(b.offset + at, b.offset + at + m), bAt / 4);
    wk.k.where!(0, aAt, bAt, outAt, Math.ceil(m / 16) * 16);
    out.set(mem.subarray(outAt / 4, outAt / 4 + m), at);
  }
  return out;
}
