import { emptyArray } from "../../../dtype.js";
import { type Code, I32, ModuleBuilder, V128, widenHalf } from "./emitter.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";

// Batch norm over x [N, C, S] (float32) on WebAssembly SIMD, four lanes at
// a time. A channel is N runs of S contiguous floats, one per sample.
// Samples are copied into wasm memory a chunk at a time (about 256 KiB per
// operand, so a chunk stays in L2 while a kernel walks it channel by
// channel): the forward takes two sweeps over the chunks — the channels'
// sums, then normalize-and-affine in place, copied out into y — and the
// backward likewise (Σg and Σ g·(x − μ), then dx in place of g). Between
// sweeps, the per-channel scalars (mean, 1/std, the affine factor, the
// backward's closed-form coefficients) are computed in JS doubles by the
// same formulas as the scalar loops in ../batch_norm_kernels.ts.
//
// S need not be a multiple of four: a run's last partial vector is read
// whole and its extra lanes replaced (bitselect with a lane mask) by values
// that add nothing to the sums, and written back merged with what memory
// held there. Reductions are float64 (each float32 vector widened in two
// halves, two vectors at a time into separate accumulators): the forward's
// sums are shifted by the channel's first value, so Σd² − (Σd)²/m loses
// nothing to cancellation; the backward's products g·(x − μ) are float64
// too. The elementwise passes are float32, and subtract the mean as a
// float32 pair (hi + lo), so a large offset with a small spread keeps the
// precision of the double subtraction the scalar loops do.

/** The tail's lane mask sits at byte 0; the per-channel blocks follow. */
const MASK = 0;
const PAR = 16;
/** Per channel: four f64x2 accumulators, then the channel's scalars. */
const PAR_BYTES = 128;
const PAR_SHIFT = 7;
// Forward: Σd and Σd² (d = x − shift) as lo/hi f64x2 pairs; the shift, and
// μ (a float32 pair), a = w/σ and b as float32.
const F_SUM = 0;
const F_SQ = 32;
const F_SHIFT = 64;
const F_MU_HI = 68;
const F_MU_LO = 72;
const F_A = 76;
const F_B = 80;
// Backward: Σg and Σ g·(x − μ) as lo/hi f64x2 pairs; μ as float64 and
// float32, then a = w/σ, Σg/m and (Σ g·x̂/m)/σ as float32.
const B_SUM_G = 0;
const B_SUM_GX = 32;
const B_MU64 = 64;
const B_MU = 72;
const B_A = 76;
const B_MG = 80;
const B_K = 84;

/** Pushes the float64 at local address p + offset, in both lanes. */
function load64(c: Code, p: number, offset: number): Code {
  return c.localGet(p).simdMem(V128.load64Splat, offset, 3);
}

function zero(c: Code, ...locals: number[]): void {
  for (const l of locals) c.f32x4Zero().localSet(l);
}

/** Sets local v to the f64x2 that `push` leaves on the stack. */
function set(c: Code, v: number, push: () => void): void {
  push();
  c.localSet(v);
}

interface Walk {
  /** The chunk's sample count, bytes of a run and of a sample, the channel's byte offset. */
  n: number;
  runBytes: number;
  sampleBytes: number;
  chOff: number;
  /** A run's bytes in whole vectors, in whole pairs of vectors, and past them (a partial one). */
  full: number;
  full2: number;
  tail: number;
}

/**
 * For each of the channel's N runs (local `off` = its byte offset): `vec`
 * at each whole vector (local `j` = byte offset in the run), then `last`
 * once at the partial vector, if any.
 */
function eachRun(
  c: Code,
  w: Walk,
  off: number,
  j: number,
  vec: () => void,
  last: () => void,
): void {
  const ni = c.local("i32");
  c.localGet(w.chOff).localSet(off);
  c.for(
    ni,
    () => c.i32Const(0),
    () => c.localGet(w.n),
    1,
    () => {
      c.for(
        j,
        () => c.i32Const(0),
        () => c.localGet(w.full),
        16,
        vec,
      );
      c.localGet(w.tail).if(() => {
        c.localGet(w.full).localSet(j);
        last();
      });
      c.inc(off, () => c.localGet(w.sampleBytes));
    },
  );
}

/**
 * eachRun for the reductions: `pair` at each whole pair of vectors (j and
 * j + 16, into a second set of accumulators, so that consecutive vectors'
 * float64 adds do not wait on each other), then `vec` at a last whole
 * vector, then `last` at the partial one.
 */
function eachRunPaired(
  c: Code,
  w: Walk,
  off: number,
  j: number,
  pair: () => void,
  vec: () => void,
  last: () => void,
): void {
  const ni = c.local("i32");
  c.localGet(w.chOff).localSet(off);
  c.for(
    ni,
    () => c.i32Const(0),
    () => c.localGet(w.n),
    1,
    () => {
      c.for(
        j,
        () => c.i32Const(0),
        () => c.localGet(w.full2),
        32,
        pair,
      );
      c.localGet(w.full2)
        .localGet(w.full)
        .op(I32.ne)
        .if(() => {
          c.localGet(w.full2).localSet(j);
          vec();
        });
      c.localGet(w.tail).if(() => {
        c.localGet(w.full).localSet(j);
        last();
      });
      c.inc(off, () => c.localGet(w.sampleBytes));
    },
  );
}

/** Declares n locals of one type. */
function locals(c: Code, type: "i32" | "v128", n: number): number[] {
  return Array.from({ length: n }, () => c.local(type));
}

/** Pushes local address base + off + j (a run's vector j). */
function at(c: Code, base: number, off: number, j: number): Code {
  return c.localGet(base).localGet(off).op(I32.add).localGet(j).op(I32.add);
}

/** Common set-up: the walk's run sizes, the channel block pointer, and the loop over channels. */
function channels(
  c: Code,
  p: { n: number; runBytes: number; sampleBytes: number; c: number; par: number },
  body: (w: Walk, cp: number) => void,
): void {
  const [ch, chOff, cp, full, full2, tail] = locals(c, "i32", 6) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  c.localGet(p.runBytes).i32Const(-16).op(I32.and).localSet(full);
  c.localGet(p.runBytes).i32Const(-32).op(I32.and).localSet(full2);
  c.localGet(p.runBytes).i32Const(15).op(I32.and).localSet(tail);
  const w: Walk = {
    n: p.n,
    runBytes: p.runBytes,
    sampleBytes: p.sampleBytes,
    chOff,
    full,
    full2,
    tail,
  };
  c.for(
    ch,
    () => c.i32Const(0),
    () => c.localGet(p.c),
    1,
    () => {
      c.localGet(ch).localGet(p.runBytes).op(I32.mul).localSet(chOff);
      c.localGet(ch).i32Const(PAR_SHIFT).op(I32.shl).localGet(p.par).op(I32.add).localSet(cp);
      body(w, cp);
    },
  );
}

/** Pushes the float32 at local address p + offset, in all four lanes. */
function load32(c: Code, p: number, offset: number): Code {
  return c.localGet(p).simdMem(V128.load32Splat, offset, 2);
}

/** Loads four v128 locals from local address p + offset (16 bytes apart). */
function loadAll(c: Code, p: number, offset: number, vs: readonly number[]): void {
  vs.forEach((v, i) => {
    c.localGet(p)
      .simdMem(V128.load, offset + 16 * i, 4)
      .localSet(v);
  });
}

/** Stores four v128 locals (a[i] + b[i]) at local address p + offset. */
function storeSums(c: Code, p: number, offset: number, a: readonly number[], b: readonly number[]) {
  a.forEach((v, i) => {
    c.localGet(p).localGet(v).localGet(b[i]!).simd(V128.f64x2Add);
    c.simdMem(V128.store, offset + 16 * i, 4);
  });
}

/** The kernels' shared parameters: a chunk of k samples [k, C, S] at `base`. */
const PARAMS: ["i32", "i32", "i32", "i32", "i32", "i32"] = [
  "i32",
  "i32",
  "i32",
  "i32",
  "i32",
  "i32",
];

export function batchNormModule(): Uint8Array {
  const m = new ModuleBuilder();
  // fstats(x, par, k, c, runBytes, sampleBytes): the channels' shifted sums += this chunk's.
  m.func("fstats", PARAMS, [], (c) => {
    const [x, par, k, nc, runBytes, sampleBytes] = [0, 1, 2, 3, 4, 5];
    const [off, j] = locals(c, "i32", 2) as [number, number];
    const [v, v2, t, shift32, shift64, mask] = locals(c, "v128", 6) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const accA = locals(c, "v128", 4);
    const accB = locals(c, "v128", 4);
    c.i32Const(MASK).simdMem(V128.load, 0, 4).localSet(mask);
    /** Σd (s) and Σd² (q) += the shifted, widened lanes of local v. */
    const accumulate = ([sl, sh, ql, qh]: readonly number[], v: number) => {
      set(c, t, () => widenHalf(c, v, 0).localGet(shift64).simd(V128.f64x2Sub));
      c.localGet(sl!).localGet(t).simd(V128.f64x2Add).localSet(sl!);
      c.localGet(ql!).localGet(t).localGet(t).simd(V128.f64x2Mul).simd(V128.f64x2Add).localSet(ql!);
      set(c, t, () => widenHalf(c, v, 1).localGet(shift64).simd(V128.f64x2Sub));
      c.localGet(sh!).localGet(t).simd(V128.f64x2Add).localSet(sh!);
      c.localGet(qh!).localGet(t).localGet(t).simd(V128.f64x2Mul).simd(V128.f64x2Add).localSet(qh!);
    };
    channels(c, { n: k, runBytes, sampleBytes, c: nc, par }, (w, cp) => {
      load32(c, cp, F_SHIFT).localTee(shift32);
      c.simd(V128.f64x2PromoteLowF32x4).localSet(shift64);
      // [Σd lo, Σd hi, Σd² lo, Σd² hi]
      loadAll(c, cp, F_SUM, accA);
      zero(c, ...accB);
      eachRunPaired(
        c,
        w,
        off,
        j,
        () => {
          at(c, x, off, j).simdMem(V128.load, 0, 2).localSet(v);
          at(c, x, off, j).simdMem(V128.load, 16, 2).localSet(v2);
          accumulate(accA, v);
          accumulate(accB, v2);
        },
        () => {
          at(c, x, off, j).simdMem(V128.load, 0, 2).localSet(v);
          accumulate(accA, v);
        },
        () => {
          // Lanes past the run read as the shift: they add 0 to both sums.
          at(c, x, off, j).simdMem(V128.load, 0, 2).localGet(shift32).localGet(mask);
          c.simd(V128.v128Bitselect).localSet(v);
          accumulate(accA, v);
        },
      );
      storeSums(c, cp, F_SUM, accA, accB);
    });
  });
  // fnorm(x, par, k, c, runBytes, sampleBytes): x ← ((x − μhi) − μlo)·a + b, in place.
  m.func("fnorm", PARAMS, [], (c) => {
    const [x, par, k, nc, runBytes, sampleBytes] = [0, 1, 2, 3, 4, 5];
    const [off, j] = locals(c, "i32", 2) as [number, number];
    const [muHi, muLo, af, bf, mask] = locals(c, "v128", 5) as [
      number,
      number,
      number,
      number,
      number,
    ];
    c.i32Const(MASK).simdMem(V128.load, 0, 4).localSet(mask);
    const normalized = () => {
      at(c, x, off, j).simdMem(V128.load, 0, 2);
      c.localGet(muHi).simd(V128.f32x4Sub).localGet(muLo).simd(V128.f32x4Sub);
      c.localGet(af).simd(V128.f32x4Mul).localGet(bf).simd(V128.f32x4Add);
    };
    channels(c, { n: k, runBytes, sampleBytes, c: nc, par }, (w, cp) => {
      load32(c, cp, F_MU_HI).localSet(muHi);
      load32(c, cp, F_MU_LO).localSet(muLo);
      load32(c, cp, F_A).localSet(af);
      load32(c, cp, F_B).localSet(bf);
      eachRun(
        c,
        w,
        off,
        j,
        () => {
          at(c, x, off, j);
          normalized();
          c.simdMem(V128.store, 0, 2);
        },
        () => {
          // Only the run's lanes change; the next run's keep their values.
          at(c, x, off, j);
          normalized();
          at(c, x, off, j).simdMem(V128.load, 0, 2).localGet(mask).simd(V128.v128Bitselect);
          c.simdMem(V128.store, 0, 2);
        },
      );
    });
  });
  // bsums(g, x, par, k, c, runBytes, sampleBytes):
  // the channels' Σg and Σ g·(x − μ) += this chunk's.
  m.func("bsums", ["i32", ...PARAMS], [], (c) => {
    const [g, x, par, k, nc, runBytes, sampleBytes] = [0, 1, 2, 3, 4, 5, 6];
    const [off, j] = locals(c, "i32", 2) as [number, number];
    const [gv, xv, gw, d, mu, muf, mask] = locals(c, "v128", 7) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const accA = locals(c, "v128", 4);
    const accB = locals(c, "v128", 4);
    c.i32Const(MASK).simdMem(V128.load, 0, 4).localSet(mask);
    /** Σg and Σ g·(x − μ) += the widened lanes of locals gv and xv; products in float64. */
    const accumulate = ([gl, gh, pl, ph]: readonly number[]) => {
      set(c, gw, () => widenHalf(c, gv, 0));
      c.localGet(gl!).localGet(gw).simd(V128.f64x2Add).localSet(gl!);
      set(c, d, () => widenHalf(c, xv, 0).localGet(mu).simd(V128.f64x2Sub));
      c.localGet(pl!).localGet(gw).localGet(d).simd(V128.f64x2Mul);
      c.simd(V128.f64x2Add).localSet(pl!);
      set(c, gw, () => widenHalf(c, gv, 1));
      c.localGet(gh!).localGet(gw).simd(V128.f64x2Add).localSet(gh!);
      set(c, d, () => widenHalf(c, xv, 1).localGet(mu).simd(V128.f64x2Sub));
      c.localGet(ph!).localGet(gw).localGet(d).simd(V128.f64x2Mul);
      c.simd(V128.f64x2Add).localSet(ph!);
    };
    const loadAt = (offset: number) => {
      at(c, g, off, j).simdMem(V128.load, offset, 2).localSet(gv);
      at(c, x, off, j).simdMem(V128.load, offset, 2).localSet(xv);
    };
    channels(c, { n: k, runBytes, sampleBytes, c: nc, par }, (w, cp) => {
      load64(c, cp, B_MU64).localSet(mu);
      load32(c, cp, B_MU).localSet(muf);
      // [Σg lo, Σg hi, Σg(x−μ) lo, Σg(x−μ) hi]
      loadAll(c, cp, B_SUM_G, accA);
      zero(c, ...accB);
      eachRunPaired(
        c,
        w,
        off,
        j,
        () => {
          loadAt(0);
          accumulate(accA);
          loadAt(16);
          accumulate(accB);
        },
        () => {
          loadAt(0);
          accumulate(accA);
        },
        () => {
          // Lanes past the run read as g = 0, x = μ: they add 0 to both sums.
          at(c, g, off, j).simdMem(V128.load, 0, 2).localGet(mask).simd(V128.v128And);
          c.localSet(gv);
          at(c, x, off, j).simdMem(V128.load, 0, 2).localGet(muf).localGet(mask);
          c.simd(V128.v128Bitselect).localSet(xv);
          accumulate(accA);
        },
      );
      storeSums(c, cp, B_SUM_G, accA, accB);
    });
  });
  // bdx(g, x, par, k, c, runBytes, sampleBytes, train):
  // g ← a·((g − mG) − (x − μ)·k) in training, a·g in evaluation, in place.
  m.func("bdx", ["i32", ...PARAMS, "i32"], [], (c) => {
    const [g, x, par, k, nc, runBytes, sampleBytes, train] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [off, j] = locals(c, "i32", 2) as [number, number];
    const [muf, af, mG, kf, mask] = locals(c, "v128", 5) as [
      number,
      number,
      number,
      number,
      number,
    ];
    c.i32Const(MASK).simdMem(V128.load, 0, 4).localSet(mask);
    const dx = (training: boolean) => {
      at(c, g, off, j).simdMem(V128.load, 0, 2);
      if (training) {
        c.localGet(mG).simd(V128.f32x4Sub);
        at(c, x, off, j).simdMem(V128.load, 0, 2).localGet(muf).simd(V128.f32x4Sub);
        c.localGet(kf).simd(V128.f32x4Mul).simd(V128.f32x4Sub);
      }
      c.localGet(af).simd(V128.f32x4Mul);
    };
    const pass = (w: Walk, training: boolean) =>
      eachRun(
        c,
        w,
        off,
        j,
        () => {
          at(c, g, off, j);
          dx(training);
          c.simdMem(V128.store, 0, 2);
        },
        () => {
          at(c, g, off, j);
          dx(training);
          at(c, g, off, j).simdMem(V128.load, 0, 2).localGet(mask).simd(V128.v128Bitselect);
          c.simdMem(V128.store, 0, 2);
        },
      );
    channels(c, { n: k, runBytes, sampleBytes, c: nc, par }, (w, cp) => {
      load32(c, cp, B_MU).localSet(muf);
      load32(c, cp, B_A).localSet(af);
      load32(c, cp, B_MG).localSet(mG);
      load32(c, cp, B_K).localSet(kf);
      c.localGet(train).if(
        () => pass(w, true),
        () => pass(w, false),
      );
    });
  });
  return m.bytes({ pages: 1 });
}

/** Each kernel works on one chunk of k samples already copied into its region(s). */
interface BatchNormExports {
  fstats(x: number, par: number, k: number, c: number, runBytes: number, sampleBytes: number): void;
  fnorm(x: number, par: number, k: number, c: number, runBytes: number, sampleBytes: number): void;
  bsums(
    g: number,
    x: number,
    par: number,
    k: number,
    c: number,
    runBytes: number,
    sampleBytes: number,
  ): void;
  bdx(
    g: number,
    x: number,
    par: number,
    k: number,
    c: number,
    runBytes: number,
    sampleBytes: number,
    train: number,
  ): void;
}

/** The compiled kernels over their own scratch memory (reused call to call). */
const compiled = scratchKernels<BatchNormExports>(batchNormModule);
let enabled = true;

function kernels(): ScratchKernels<BatchNormExports> | null {
  return enabled ? compiled() : null;
}

/**
 * Switches the SIMD batch norm off (or back on), so tests and benchmarks
 * can compare it with the scalar loops it replaces; returns the old setting.
 *
 * @example
 * const was = setSimdBatchNorm(false);
 * try { F.batchNorm(x, null, null, { training: true }); } finally { setSimdBatchNorm(was); }
 */
export function setSimdBatchNorm(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** A contiguous float32 operand: its array and first element. */
export interface F32Run {
  data: Float32Array;
  offset: number;
}

/**
 * Samples are copied into wasm memory a chunk at a time, about this many
 * bytes per operand: the kernels' two passes over a chunk then read it
 * from L2 rather than from memory.
 */
const CHUNK_BYTES = 1 << 18;

/** Bytes of n floats rounded up to whole vectors, plus one vector a partial read may run into. */
function region(n: number): number {
  return Math.ceil(n / 4) * 16 + 16;
}

/** The memory laid out for one call: mask, channel blocks, then `operands` chunk regions. */
function layout(
  bk: ScratchKernels<BatchNormExports>,
  [n, c, s]: readonly [number, number, number],
  operands: number,
) {
  const row = c * s;
  const k = Math.max(1, Math.min(n, Math.floor(CHUNK_BYTES / (4 * row))));
  const chunk = region(k * row);
  const base = PAR + c * PAR_BYTES;
  bk.scratch.reserve(base + operands * chunk);
  const buffer = bk.scratch.memory.buffer;
  const mask = new Int32Array(buffer, MASK, 4);
  for (let l = 0; l < 4; l++) mask[l] = l < s % 4 ? -1 : 0;
  const par = new Float64Array(buffer, PAR, (c * PAR_BYTES) / 8);
  par.fill(0);
  return {
    row,
    k,
    mem: bk.scratch.floats,
    par,
    par32: new Float32Array(buffer, PAR, (c * PAR_BYTES) / 4),
    regions: Array.from({ length: operands }, (_, i) => base + i * chunk),
  };
}

/** For each chunk of samples [n0, n0 + kk): copies the operands in, then runs `body`. */
function eachChunk(
  n: number,
  k: number,
  row: number,
  mem: Float32Array,
  ins: readonly { src: F32Run; at: number }[],
  body: (n0: number, kk: number) => void,
): void {
  for (let n0 = 0; n0 < n; n0 += k) {
    const kk = Math.min(k, n - n0);
    for (const { src, at } of ins) {
      const o = src.offset + n0 * row;
      mem.set(src.data.subarray(o, o + kk * row), at / 4);
    }
    body(n0, kk);
  }
}

/** A channel operand's value, or `dflt` when absent. */
function valueAt(v: F32Run | null, ch: number, dflt: number): number {
  return v ? v.data[v.offset + ch]! : dflt;
}

/** Index (in float64 slots) of channel ch's block plus a byte offset. */
const slot64 = (ch: number, byte: number) => (ch * PAR_BYTES + byte) / 8;
const slot32 = (ch: number, byte: number) => (ch * PAR_BYTES + byte) / 4;

/** The four lanes of a lo/hi f64x2 pair at `byte` in channel ch's block, summed. */
function lanes(par: Float64Array, ch: number, byte: number): number {
  const i = slot64(ch, byte);
  return par[i]! + par[i + 1]! + (par[i + 2]! + par[i + 3]!);
}

/**
 * Batch norm of contiguous float32 x [N, C, S]: y and each channel's mean
 * and 1/std (as float32), plus the batch variance when `stats` is null
 * (training); with `stats`, the given mean and variance are used. The
 * per-channel scalars are computed in doubles exactly as the scalar loops
 * do. Null when SIMD is off or unavailable.
 */
export function simdBatchNorm(
  x: F32Run,
  dims: readonly [number, number, number],
  weight: F32Run | null,
  bias: F32Run | null,
  eps: number,
  stats: { mean: F32Run; var: F32Run } | null,
): { y: Float32Array; mean: Float32Array; invstd: Float32Array; var: Float32Array | null } | null {
  const bk = kernels();
  if (!bk) return null;
  const [n, c, s] = dims;
  const { row, k, mem, par, par32, regions } = layout(bk, dims, 1);
  const X = regions[0]!;
  const m = n * s;
  const chunks = Math.ceil(n / k);
  if (!stats) {
    for (let ch = 0; ch < c; ch++) par32[slot32(ch, F_SHIFT)] = x.data[x.offset + ch * s]!;
    eachChunk(n, k, row, mem, [{ src: x, at: X }], (_, kk) => {
      bk.k.fstats(X, PAR, kk, c, s * 4, row * 4);
    });
  }
  const mean = new Float32Array(c);
  const invstd = new Float32Array(c);
  const variance = stats ? null : new Float32Array(c);
  for (let ch = 0; ch < c; ch++) {
    let mu: number;
    let v: number;
    if (stats) {
      mu = valueAt(stats.mean, ch, 0);
      v = valueAt(stats.var, ch, 0);
    } else {
      const sum = lanes(par, ch, F_SUM);
      mu = par32[slot32(ch, F_SHIFT)]! + sum / m;
      v = Math.max(0, (lanes(par, ch, F_SQ) - (sum * sum) / m) / m);
      variance![ch] = v;
    }
    const rs = 1 / Math.sqrt(v + eps);
    mean[ch] = mu;
    invstd[ch] = rs;
    const hi = Math.fround(mu);
    par32[slot32(ch, F_MU_HI)] = hi;
    par32[slot32(ch, F_MU_LO)] = mu - hi;
    par32[slot32(ch, F_A)] = weight ? rs * valueAt(weight, ch, 1) : rs;
    par32[slot32(ch, F_B)] = valueAt(bias, ch, 0);
  }
  const y = emptyArray("float32", n * row) as Float32Array;
  // With one chunk, x is still in place from the statistics pass.
  const again = stats || chunks > 1 ? [{ src: x, at: X }] : [];
  eachChunk(n, k, row, mem, again, (n0, kk) => {
    bk.k.fnorm(X, PAR, kk, c, s * 4, row * 4);
    y.set(mem.subarray(X / 4, X / 4 + kk * row), n0 * row);
  });
  return { y, mean, invstd, var: variance };
}

/**
 * Batch norm's closed-form gradients for contiguous float32 x and grad
 * [N, C, S], given the forward's mean and 1/std: gx, and with `affine` the
 * weight and bias gradients. Null when SIMD is off or unavailable.
 */
export function simdBatchNormBackward(
  grad: F32Run,
  x: F32Run,
  dims: readonly [number, number, number],
  mean: F32Run,
  invstd: F32Run,
  weight: F32Run | null,
  training: boolean,
  affine: boolean,
): { gx: Float32Array; gw: Float32Array | null; gb: Float32Array | null } | null {
  const bk = kernels();
  if (!bk) return null;
  const [n, c, s] = dims;
  const { row, k, mem, par, par32, regions } = layout(bk, dims, 2);
  const [G, X] = regions as [number, number];
  const m = n * s;
  const chunks = Math.ceil(n / k);
  for (let ch = 0; ch < c; ch++) {
    const mu = valueAt(mean, ch, 0);
    par[slot64(ch, B_MU64)] = mu;
    par32[slot32(ch, B_MU)] = mu;
  }
  const sums = training || affine;
  if (sums) {
    const ins = [
      { src: grad, at: G },
      { src: x, at: X },
    ];
    eachChunk(n, k, row, mem, ins, (_, kk) => {
      bk.k.bsums(G, X, PAR, kk, c, s * 4, row * 4);
    });
  }
  const gw = affine ? new Float32Array(c) : null;
  const gb = affine ? new Float32Array(c) : null;
  for (let ch = 0; ch < c; ch++) {
    const rs = valueAt(invstd, ch, 0);
    const sumG = sums ? lanes(par, ch, B_SUM_G) : 0;
    // Σ g·x̂ = r·Σ g·(x − μ)
    const sumGX = sums ? lanes(par, ch, B_SUM_GX) * rs : 0;
    if (gw && gb) {
      gw[ch] = sumGX;
      gb[ch] = sumG;
    }
    par32[slot32(ch, B_A)] = weight ? rs * valueAt(weight, ch, 1) : rs;
    par32[slot32(ch, B_MG)] = sumG / m;
    par32[slot32(ch, B_K)] = (sumGX / m) * rs;
  }
  const gx = emptyArray("float32", n * row) as Float32Array;
  // With one chunk, g and x are still in place from the sums.
  const again =
    sums && chunks === 1
      ? []
      : training
        ? [
            { src: grad, at: G },
            { src: x, at: X },
          ]
        : [{ src: grad, at: G }];
  eachChunk(n, k, row, mem, again, (n0, kk) => {
    bk.k.bdx(G, X, PAR, kk, c, s * 4, row * 4, training ? 1 : 0);
    gx.set(mem.subarray(G / 4, G / 4 + kk * row), n0 * row);
  });
  return { gx, gw, gb };
}
