import { emptyArray } from "../../../dtype.js";
import { type Code, I32, ModuleBuilder, SELECT, V128, widenHalf } from "./emitter.js";
import { isShared, memoryLimits, wasmFeatures } from "./runtime.js";
import { regs, VMATH_MIN, vexp, vmath } from "./vmath.js";

// Attention's softmax over the score rows, forward and backward, as one
// WebAssembly SIMD call over rows that already sit in a GEMM's memory:
// the scores q·kᵀ where the GEMM wrote them, the probabilities' gradient
// dO·vᵀ likewise. Each row is a few passes over its own 4·S bytes (L1),
// four lanes at a time, where the JavaScript path made a packed copy,
// an exp call over it and a normalizing pass back.
//
// Rows are [rows, S] with row r being query i = r mod L; under a causal
// mask query i sees keys 0…min(i, S−1) (PyTorch's top-left alignment),
// the rest of its row is written as exact zeros, and the passes stop at
// the last vector holding a visible key. The row stride is S floats with
// S not necessarily a multiple of 4: a row's last vector may reach into
// the next row, so every store keeps the lanes at or past S as they were
// (a load, a select, a store), and lanes past a row's visible length are
// masked out of maxima and sums. Only the one vector straddling the
// visible length pays for masks; the full vectors before it run plain.
// The last row's last vector may read up to 12 bytes past the rows: the
// caller keeps them addressable (the attention layouts have more operands
// after them).
//
// Numerics: the scaled scores, their exponentials (vmath's Cephes-style
// expf) and the normalized probabilities are float32, rounded op by op;
// the row sums (Σ exp, and the backward's Σ g·p) accumulate in float64.
// A row whose maximum is not finite (all −inf, a NaN or a +inf) becomes
// NaN, as the composite softmax gives.

/** A v128 constant of four i32 lanes. */
function i32x4(c: Code, lanes: readonly [number, number, number, number]): Code {
  c.simd(V128.const);
  for (const v of lanes) c.op(...new Uint8Array(new Int32Array([v]).buffer));
  return c;
}

/** A v128 constant of two f64 lanes. */
function f64x2(c: Code, v: number): Code {
  c.simd(V128.const);
  const lane = new Uint8Array(new Float64Array([v]).buffer);
  return c.op(...lane, ...lane);
}

/** Local acc (f64x2) += the four float32 lanes of local v, widened. */
function accumulate(c: Code, acc: number, v: number): void {
  c.localGet(acc);
  widenHalf(c, v, 0).simd(V128.f64x2Add);
  widenHalf(c, v, 1).simd(V128.f64x2Add).localSet(acc);
}

/** Pushes 1 / (the sum of local acc's two f64 lanes), as a float32 in all four lanes. */
function reciprocal32(c: Code, acc: number): Code {
  f64x2(c, 1);
  c.localGet(acc).localGet(acc).localGet(acc).simd(V128.i8x16Shuffle);
  c.op(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  c.simd(V128.f64x2Add).simd(V128.f64x2Div);
  return c.simd(V128.f32x4DemoteF64x2Zero).simd(V128.f32x4ExtractLane).op(0).simd(V128.f32x4Splat);
}

/** Pushes the sum of local acc's two f64 lanes, as a float32 in all four lanes. */
function sum32(c: Code, acc: number): Code {
  c.localGet(acc).localGet(acc).localGet(acc).simd(V128.i8x16Shuffle);
  c.op(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  c.simd(V128.f64x2Add);
  return c.simd(V128.f32x4DemoteF64x2Zero).simd(V128.f32x4ExtractLane).op(0).simd(V128.f32x4Splat);
}

/** Local acc's four lanes folded by max (NaN wins), in all four lanes. */
function foldMax(c: Code, acc: number): void {
  for (const half of [8, 4]) {
    c.localGet(acc).localGet(acc).localGet(acc).simd(V128.i8x16Shuffle);
    for (let b = 0; b < 16; b++) c.op((b + half) % 16);
    c.simd(V128.f32x4Max).localSet(acc);
  }
}

/**
 * The per-row frame both kernels share: locals for the row's address, its
 * visible length and vector end, the lane columns and the two lane masks,
 * and a loop over rows (query index i wrapping at L).
 */
interface Frame {
  /** Byte offset of the row from each base. */
  off: number;
  /** Bytes of the vectors that hold visible keys: min(4·S, 16·⌈len/4⌉). */
  end: number;
  /** Bytes of the vectors whose lanes are all visible: 16·⌊len/4⌋. */
  full: number;
  /** Byte offset of the current vector within the row. */
  j: number;
  /** The current vector's lane columns, as i32x4. */
  col: number;
  /** Splats of len and S (i32x4). */
  lenV: number;
  sV: number;
}

function rowLoop(
  c: Code,
  p: { rows: number; L: number; S: number; causal: number },
  body: (f: Frame) => void,
): void {
  const [r, i, len, off, end, full, j] = Array.from({ length: 7 }, () => c.local("i32")) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [col, lenV, sV] = [c.local("v128"), c.local("v128"), c.local("v128")];
  c.localGet(p.S).simd(V128.i32x4Splat).localSet(sV);
  c.i32Const(0).localSet(i);
  c.i32Const(0).localSet(off);
  c.for(
    r,
    () => c.i32Const(0),
    () => c.localGet(p.rows),
    1,
    () => {
      // len = causal ? min(i + 1, S) : S
      c.localGet(i).i32Const(1).op(I32.add);
      c.localGet(p.S);
      c.localGet(p.causal)
        .localGet(i)
        .i32Const(1)
        .op(I32.add)
        .localGet(p.S)
        .op(I32.ltS)
        .op(I32.and);
      c.op(SELECT).localSet(len);
      c.localGet(len).simd(V128.i32x4Splat).localSet(lenV);
      // end = min(4·S, 16·⌈len/4⌉)
      c.localGet(len).i32Const(3).op(I32.add).i32Const(2).op(I32.shrU).i32Const(4).op(I32.shl);
      c.localTee(end).localGet(p.S).i32Const(2).op(I32.shl).localTee(j);
      c.localGet(end).localGet(j).op(I32.ltS).op(SELECT).localSet(end);
      c.localGet(len).i32Const(2).op(I32.shrU).i32Const(4).op(I32.shl).localSet(full);
      body({ off, end, full, j, col, lenV, sV });
      c.inc(off, () => c.localGet(p.S).i32Const(2).op(I32.shl));
      c.inc(i, 1);
      c.localGet(i)
        .localGet(p.L)
        .op(I32.eq)
        .if(() => c.i32Const(0).localSet(i));
    },
  );
}

/**
 * for (j = from; j < to; j += 16) body(), with col = the lane columns of
 * vector j when `cols` (the masked loops need them, the full ones not).
 */
function vectors(
  c: Code,
  f: Frame,
  from: () => void,
  to: () => void,
  body: () => void,
  cols = true,
): void {
  from();
  if (cols) {
    c.localGet(f.j).i32Const(2).op(I32.shrU).simd(V128.i32x4Splat);
    i32x4(c, [0, 1, 2, 3]).simd(V128.i32x4Add).localSet(f.col);
  }
  c.for(
    f.j,
    () => c.localGet(f.j),
    to,
    16,
    () => {
      body();
      if (cols) {
        c.localGet(f.col);
        i32x4(c, [4, 4, 4, 4]).simd(V128.i32x4Add).localSet(f.col);
      }
    },
  );
}

/**
 * The visible part of a row: its full vectors with body(false) (no lane
 * masks), then the one straddling the visible length, if any, with body(true).
 */
function span(c: Code, f: Frame, body: (masked: boolean) => void): void {
  vectors(
    c,
    f,
    () => c.i32Const(0).localSet(f.j),
    () => c.localGet(f.full),
    () => body(false),
    false,
  );
  vectors(
    c,
    f,
    () => c.localGet(f.full).localSet(f.j),
    () => c.localGet(f.end),
    () => body(true),
  );
}

/** Pushes the lane mask col < len. */
const visible = (c: Code, f: Frame) => c.localGet(f.col).localGet(f.lenV).simd(V128.i32x4LtS);
/** Pushes the lane mask col < S (lanes this row owns). */
const owned = (c: Code, f: Frame) => c.localGet(f.col).localGet(f.sV).simd(V128.i32x4LtS);

/** The vector on the stack where visible, the value `other` pushes elsewhere. */
function visibleOr(c: Code, f: Frame, other: () => void): void {
  other();
  visible(c, f).simd(V128.v128Bitselect);
}

/** The vector on the stack where visible, 0 elsewhere. */
const visibleOrZero = (c: Code, f: Frame) => visibleOr(c, f, () => c.f32x4Zero());

/** Stores local v at addr, keeping the lanes of local old past the row's end. */
function storeOwned(c: Code, f: Frame, addr: () => void, v: number, old: number): void {
  addr();
  c.localGet(v).localGet(old);
  owned(c, f).simd(V128.v128Bitselect).simdMem(V128.store, 0, 2);
}

/** Writes `value` (pushed by fill) over the row's lanes from vector `from` to its end. */
function fillRow(
  c: Code,
  f: Frame,
  addr: () => void,
  S: number,
  from: () => void,
  v: number,
  old: number,
  fill: () => void,
) {
  vectors(
    c,
    f,
    from,
    () => c.localGet(S).i32Const(2).op(I32.shl),
    () => {
      addr();
      c.simdMem(V128.load, 0, 2).localSet(old);
      fill();
      c.localSet(v);
      storeOwned(c, f, addr, v, old);
    },
  );
}

export function softmaxRowsModule(memory: { shared: boolean }): Uint8Array {
  const m = new ModuleBuilder();
  // softmax(base, rows, L, S, scale, causal): rows of [rows, S] floats at
  // byte `base` become softmax(x·scale) over their visible keys, in place.
  m.func("softmax", ["i32", "i32", "i32", "i32", "f32", "i32"], [], (c) => {
    const [base, rows, L, S, scale, causal] = [0, 1, 2, 3, 4, 5];
    const at = c.local("i32");
    const [raw, v, acc, sum, k] = Array.from({ length: 5 }, () => c.local("v128")) as [
      number,
      number,
      number,
      number,
      number,
    ];
    const r = regs(c);
    const NEG_INF = Number.NEGATIVE_INFINITY;
    rowLoop(c, { rows, L, S, causal }, (f) => {
      const addr = () => c.localGet(at).localGet(f.j).op(I32.add);
      /** Stores local v, keeping the lanes past the row (masked vectors only). */
      const store = (masked: boolean) => {
        if (masked) storeOwned(c, f, addr, v, raw);
        else addr().localGet(v).simdMem(V128.store, 0, 2);
      };
      c.localGet(base).localGet(f.off).op(I32.add).localSet(at);
      // Pass 1: x·scale over the visible lanes (−inf elsewhere), stored, and the row's maximum.
      c.localGet(scale).simd(V128.f32x4Splat).localSet(k);
      c.f32x4Const(NEG_INF).localSet(acc);
      span(c, f, (masked) => {
        addr().simdMem(V128.load, 0, 2).localTee(raw);
        c.localGet(k).simd(V128.f32x4Mul);
        if (masked) visibleOr(c, f, () => c.f32x4Const(NEG_INF));
        c.localTee(v).localGet(acc).simd(V128.f32x4Max).localSet(acc);
        store(masked);
      });
      foldMax(c, acc);
      // A maximum that is not finite (m − m ≠ 0) makes the whole row NaN.
      c.localGet(acc).localGet(acc).simd(V128.f32x4Sub).f32x4Zero().simd(V128.f32x4Ne);
      c.simd(V128.v128AnyTrue);
      c.if(
        () =>
          fillRow(
            c,
            f,
            addr,
            S,
            () => c.i32Const(0).localSet(f.j),
            v,
            raw,
            () => c.f32x4Const(Number.NaN),
          ),
        () => {
          // Pass 2: exp(x − max) over the visible lanes (0 elsewhere), stored, summed in f64.
          f64x2(c, 0).localSet(sum);
          span(c, f, (masked) => {
            addr().simdMem(V128.load, 0, 2).localTee(raw);
            c.localGet(acc).simd(V128.f32x4Sub).localSet(v);
            vexp(c, v, r);
            if (masked) visibleOrZero(c, f);
            c.localSet(v);
            accumulate(c, sum, v);
            store(masked);
          });
          // Pass 3: scaled by 1/Σ.
          reciprocal32(c, sum).localSet(k);
          span(c, f, (masked) => {
            addr().simdMem(V128.load, 0, 2).localTee(raw);
            c.localGet(k).simd(V128.f32x4Mul).localSet(v);
            store(masked);
          });
          // The keys past the visible ones: exact zeros.
          fillRow(
            c,
            f,
            addr,
            S,
            () => c.localGet(f.end).localSet(f.j),
            v,
            raw,
            () => c.f32x4Zero(),
          );
        },
      );
    });
  });
  // softmaxBackward(g, p, rows, L, S, scale, causal): g (the probabilities'
  // gradient, [rows, S] at byte g) becomes scale·p·(g − Σ g·p) by row, in
  // place; p the probabilities in the same layout at byte p. Lanes past the
  // visible keys come out 0 whatever g held there.
  m.func("softmaxBackward", ["i32", "i32", "i32", "i32", "i32", "f32", "i32"], [], (c) => {
    const [g, p, rows, L, S, scale, causal] = [0, 1, 2, 3, 4, 5, 6];
    const [ga, pa] = [c.local("i32"), c.local("i32")];
    const [raw, v, dot, k, sc] = Array.from({ length: 5 }, () => c.local("v128")) as [
      number,
      number,
      number,
      number,
      number,
    ];
    rowLoop(c, { rows, L, S, causal }, (f) => {
      const gAddr = () => c.localGet(ga).localGet(f.j).op(I32.add);
      const pAddr = () => c.localGet(pa).localGet(f.j).op(I32.add);
      c.localGet(g).localGet(f.off).op(I32.add).localSet(ga);
      c.localGet(p).localGet(f.off).op(I32.add).localSet(pa);
      // Pass 1: Σ g·p over the visible lanes, in f64.
      f64x2(c, 0).localSet(dot);
      span(c, f, (masked) => {
        gAddr().simdMem(V128.load, 0, 2);
        pAddr().simdMem(V128.load, 0, 2).simd(V128.f32x4Mul);
        if (masked) visibleOrZero(c, f);
        c.localSet(v);
        accumulate(c, dot, v);
      });
      sum32(c, dot).localSet(k);
      c.localGet(scale).simd(V128.f32x4Splat).localSet(sc);
      // Pass 2: p·(g − Σ)·scale over the visible lanes, 0 elsewhere.
      span(c, f, (masked) => {
        if (masked) gAddr();
        pAddr().simdMem(V128.load, 0, 2);
        gAddr().simdMem(V128.load, 0, 2).localTee(raw);
        c.localGet(k).simd(V128.f32x4Sub).simd(V128.f32x4Mul);
        c.localGet(sc).simd(V128.f32x4Mul);
        if (masked) {
          visibleOrZero(c, f);
          c.localGet(raw);
          owned(c, f).simd(V128.v128Bitselect).simdMem(V128.store, 0, 2);
        } else {
          c.localSet(v);
          gAddr().localGet(v).simdMem(V128.store, 0, 2);
        }
      });
      fillRow(
        c,
        f,
        gAddr,
        S,
        () => c.localGet(f.end).localSet(f.j),
        v,
        raw,
        () => c.f32x4Zero(),
      );
    });
  });
  return m.bytes(memoryLimits(memory.shared));
}

interface SoftmaxRowsExports {
  softmax(base: number, rows: number, L: number, S: number, scale: number, causal: number): void;
  softmaxBackward(
    g: number,
    p: number,
    rows: number,
    L: number,
    S: number,
    scale: number,
    causal: number,
  ): void;
}

/** The kernels instantiated over each memory they have been asked to run on. */
const instances = new WeakMap<WebAssembly.Memory, SoftmaxRowsExports>();
let enabled = true;

/**
 * Switches these kernels off (or back on), so tests and benchmarks can
 * compare them with the JavaScript rows they replace; returns the old setting.
 */
export function setSoftmaxRowKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** The kernels over `memory` (a GEMM's scratch, shared or not), or null without SIMD or when switched off. */
export function softmaxRowKernels(memory: WebAssembly.Memory): SoftmaxRowsExports | null {
  if (!enabled || !wasmFeatures().simd) return null;
  let k = instances.get(memory);
  if (!k) {
    const mod = new WebAssembly.Module(
      softmaxRowsModule({ shared: isShared(memory) }) as BufferSource,
    );
    k = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as SoftmaxRowsExports;
    instances.set(memory, k);
  }
  return k;
}

/**
 * softmax's backward over the last dim, y·(g − Σ g·y) by row, for
 * contiguous float32 g and y [rows, cols] (from their offsets), into a new
 * array, with the kernel above (scale 1, no mask). Null (nothing allocated)
 * without SIMD, when switched off, or below VMATH_MIN elements.
 */
export function simdSoftmaxBackward(
  g: Float32Array,
  gOffset: number,
  y: Float32Array,
  yOffset: number,
  rows: number,
  cols: number,
): Float32Array | null {
  const n = rows * cols;
  const vm = n >= VMATH_MIN ? vmath() : null;
  const k = vm ? softmaxRowKernels(vm.scratch.memory) : null;
  if (!vm || !k) return null;
  // g | y, each padded to whole vectors (a row's last vector may read past it).
  const at = Math.ceil(n / 4) * 4 + 4;
  vm.scratch.reserve(4 * (2 * at));
  const mem = vm.scratch.floats;
  mem.set(g.subarray(gOffset, gOffset + n), 0);
  mem.set(y.subarray(yOffset, yOffset + n), at);
  k.softmaxBackward(0, 4 * at, rows, rows, cols, 1, 0);
  const out = emptyArray("float32", n) as Float32Array;
  out.set(vm.scratch.floats.subarray(0, n));
  return out;
}
