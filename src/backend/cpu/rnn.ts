import type { View } from "../backend.js";
import { dataOf } from "./storage.js";
import {
  align,
  type GemmScratch,
  type PackedB,
  packBOnce,
  packedBBytes,
  runPackedB,
  scratchLayout,
} from "./wasm/blocked.js";
import { lstmCellKernels } from "./wasm/lstm_cell.js";
import { defaultGemm, denseF32, type WasmGemm } from "./wasm/matmul.js";
import { simdExpInPlace } from "./wasm/vmath.js";

// The pointwise part of one LSTM or GRU time step, fused: one pass over
// the batch rows instead of the composite's dozen whole-tensor ops (chunk,
// sigmoid, tanh, mul, add), each with its own output array and autograd
// node. The matmuls stay outside (src/nn/functional/rnn_fused.ts runs them
// with the backend's GEMM). Results go into the given views, rows of the
// layer's whole-sequence buffers, so nothing is stacked afterwards. All
// views are contiguous float32 or float64; arithmetic is in JS doubles,
// rounded once by the store. float32 LSTM steps take their exponentials
// from the SIMD exp (vmath), with tanh x = 2σ(2x) − 1.

type Floats = Float32Array | Float64Array;

function floats(v: View): Floats {
  return dataOf(v) as Floats;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * gates = gi + gh, both [N, 4H] in PyTorch's order i, f, g, o; c [N, H].
 * c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c'), written into h1 and c1
 * [N, H]; act [N, 5H] gets σ(i), σ(f), tanh(g), σ(o), tanh(c') for the
 * backward.
 */
export function lstmCell(gi: View, gh: View, c: View, h1: View, c1: View, act: View): void {
  lstmCellRows(gi, floats(gh), gh.offset, c, h1, c1, act);
}

/** lstmCell with gh given as an array and the offset of its first row (it may lie in wasm memory). */
function lstmCellRows(
  gi: View,
  b: Floats,
  ghOffset: number,
  c: View,
  h1: View,
  c1: View,
  act: View,
): void {
  const [N, G] = gi.shape as [number, number];
  const H = G / 4;
  const a = floats(gi);
  const cd = floats(c);
  const ho = floats(h1);
  const co = floats(c1);
  const ad = floats(act);
  if (a instanceof Float32Array && lstmCellSimd(gi, b, ghOffset, c, h1, c1, act)) return;
  for (let n = 0; n < N; n++) {
    const pa = gi.offset + n * G;
    const pb = ghOffset + n * G;
    const pc = c.offset + n * H;
    const ph = h1.offset + n * H;
    const pco = c1.offset + n * H;
    const pact = act.offset + n * 5 * H;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(a[pa + j]! + b[pb + j]!);
      const f = sigmoid(a[pa + H + j]! + b[pb + H + j]!);
      const g = Math.tanh(a[pa + 2 * H + j]! + b[pb + 2 * H + j]!);
      const o = sigmoid(a[pa + 3 * H + j]! + b[pb + 3 * H + j]!);
      const cn = f * cd[pc + j]! + i * g;
      const tc = Math.tanh(cn);
      co[pco + j] = cn;
      ho[ph + j] = o * tc;
      ad[pact + j] = i;
      ad[pact + H + j] = f;
      ad[pact + 2 * H + j] = g;
      ad[pact + 3 * H + j] = o;
      ad[pact + 4 * H + j] = tc;
    }
  }
}

/**
 * lstmCell for float32 on SIMD exp, in two passes through wasm scratch:
 * e^(−x) of the σ gates and e^(−2x) of g (σ = 1/(1 + e), tanh = 2/(1 + e) − 1),
 * then e^(−2c'). False (nothing written) without SIMD or below its size.
 */
function lstmCellSimd(
  gi: View,
  b: Floats,
  ghOffset: number,
  c: View,
  h1: View,
  c1: View,
  act: View,
): boolean {
  const [N, G] = gi.shape as [number, number];
  const H = G / 4;
  const a = floats(gi);
  const cd = floats(c);
  const ho = floats(h1);
  const co = floats(c1);
  const ad = floats(act);
  const gates = simdExpInPlace(
    N * G,
    (mem) => {
      for (let n = 0; n < N; n++) {
        const pa = gi.offset + n * G;
        const pb = ghOffset + n * G;
        const pm = n * G;
        for (let q = 0; q < G; q++) mem[pm + q] = -(a[pa + q]! + b[pb + q]!);
        for (let q = 2 * H; q < 3 * H; q++) mem[pm + q] = 2 * mem[pm + q]!;
      }
    },
    (mem) => {
      for (let n = 0; n < N; n++) {
        const pm = n * G;
        const pc = c.offset + n * H;
        const pco = c1.offset + n * H;
        const pact = act.offset + n * 5 * H;
        for (let j = 0; j < H; j++) {
          const i = 1 / (1 + mem[pm + j]!);
          const f = 1 / (1 + mem[pm + H + j]!);
          const g = 2 / (1 + mem[pm + 2 * H + j]!) - 1;
          ad[pact + j] = i;
          ad[pact + H + j] = f;
          ad[pact + 2 * H + j] = g;
          ad[pact + 3 * H + j] = 1 / (1 + mem[pm + 3 * H + j]!);
          co[pco + j] = f * cd[pc + j]! + i * g;
        }
      }
    },
  );
  if (!gates) return false;
  const cells = simdExpInPlace(
    N * H,
    (mem) => {
      for (let n = 0; n < N; n++) {
        const pco = c1.offset + n * H;
        for (let j = 0; j < H; j++) mem[n * H + j] = -2 * co[pco + j]!;
      }
    },
    (mem) => {
      for (let n = 0; n < N; n++) {
        const ph = h1.offset + n * H;
        const pact = act.offset + n * 5 * H;
        for (let j = 0; j < H; j++) {
          const tc = 2 / (1 + mem[n * H + j]!) - 1;
          ad[pact + 4 * H + j] = tc;
          ho[ph + j] = ad[pact + 3 * H + j]! * tc;
        }
      }
    },
  );
  // N·H below the SIMD size while N·4H is above: finish tanh c' in JS.
  if (!cells) {
    for (let n = 0; n < N; n++) {
      const ph = h1.offset + n * H;
      const pco = c1.offset + n * H;
      const pact = act.offset + n * 5 * H;
      for (let j = 0; j < H; j++) {
        const tc = Math.tanh(co[pco + j]!);
        ad[pact + 4 * H + j] = tc;
        ho[ph + j] = ad[pact + 3 * H + j]! * tc;
      }
    }
  }
  return true;
}

/**
 * The adjoint of lstmCell. dh = dhOut + dhNext and dc (the gradient
 * reaching c' from later steps) may each be absent (zero). Writes the
 * gradient of the gate pre-activations into dgates [N, 4H] and of the
 * previous c into dcPrev [N, H] (which may be dc itself: each element is
 * read before it is written):
 * dc' += dh·o·(1 − tanh²c'); di = dc'·g, df = dc'·c, dg = dc'·i,
 * do = dh·tanh c', each times its nonlinearity's derivative; dc = dc'·f.
 */
export function lstmCellBackward(
  dhOut: View | null,
  dhNext: View | null,
  dc: View | null,
  act: View,
  cPrev: View,
  dgates: View,
  dcPrev: View,
): void {
  const d2 = dhNext ? floats(dhNext) : null;
  lstmCellBackwardRows(dhOut, d2, dhNext?.offset ?? 0, dc, act, cPrev, dgates, dcPrev);
}

/** lstmCellBackward with dhNext given as an array (or null) and the offset of its first row. */
function lstmCellBackwardRows(
  dhOut: View | null,
  d2: Floats | null,
  d2Offset: number,
  dc: View | null,
  act: View,
  cPrev: View,
  dgates: View,
  dcPrev: View,
): void {
  const [N, H5] = act.shape as [number, number];
  const H = H5 / 5;
  const ad = floats(act);
  const cp = floats(cPrev);
  const d1 = dhOut ? floats(dhOut) : null;
  const dcd = dc ? floats(dc) : null;
  const dg = floats(dgates);
  const dco = floats(dcPrev);
  for (let n = 0; n < N; n++) {
    const pa = act.offset + n * H5;
    const ph = n * H;
    const pg = dgates.offset + n * 4 * H;
    const pc = cPrev.offset + ph;
    const pdc = dcPrev.offset + ph;
    for (let j = 0; j < H; j++) {
      let dh = 0;
      if (d1) dh += d1[dhOut!.offset + ph + j]!;
      if (d2) dh += d2[d2Offset + ph + j]!;
      const i = ad[pa + j]!;
      const f = ad[pa + H + j]!;
      const g = ad[pa + 2 * H + j]!;
      const o = ad[pa + 3 * H + j]!;
      const tc = ad[pa + 4 * H + j]!;
      const dcn = (dcd ? dcd[dc!.offset + ph + j]! : 0) + dh * o * (1 - tc * tc);
      dg[pg + j] = dcn * g * i * (1 - i);
      dg[pg + H + j] = dcn * cp[pc + j]! * f * (1 - f);
      dg[pg + 2 * H + j] = dcn * i * (1 - g * g);
      dg[pg + 3 * H + j] = dh * tc * o * (1 - o);
      dco[pdc + j] = dcn * f;
    }
  }
}

/**
 * gi = x·W_ihᵀ + b_ih and gh = h·W_hhᵀ + b_hh, both [N, 3H] in PyTorch's
 * order r, z, n; h [N, H]. r = σ(gi_r + gh_r), z = σ(gi_z + gh_z),
 * n = tanh(gi_n + r·gh_n), h' = n + z·(h − n), written into h1 [N, H];
 * act [N, 4H] gets r, z, n and gh_n for the backward.
 */
export function gruCell(gi: View, gh: View, h: View, h1: View, act: View): void {
  const [N, G] = gi.shape as [number, number];
  const H = G / 3;
  const a = floats(gi);
  const b = floats(gh);
  const hd = floats(h);
  const ho = floats(h1);
  const ad = floats(act);
  for (let n = 0; n < N; n++) {
    const pa = gi.offset + n * G;
    const pb = gh.offset + n * G;
    const ph = h.offset + n * H;
    const po = h1.offset + n * H;
    const pact = act.offset + n * 4 * H;
    for (let j = 0; j < H; j++) {
      const r = sigmoid(a[pa + j]! + b[pb + j]!);
      const z = sigmoid(a[pa + H + j]! + b[pb + H + j]!);
      const hn = b[pb + 2 * H + j]!;
      const nn = Math.tanh(a[pa + 2 * H + j]! + r * hn);
      ho[po + j] = nn + z * (hd[ph + j]! - nn);
      ad[pact + j] = r;
      ad[pact + H + j] = z;
      ad[pact + 2 * H + j] = nn;
      ad[pact + 3 * H + j] = hn;
    }
  }
}

/**
 * The adjoint of gruCell, dh = dhOut + dhNext (either may be absent).
 * Writes the gradients of gi and gh [N, 3H] (equal but for the n part,
 * where gh's is r times gi's) and the direct part of the previous h's
 * gradient, dh·z, into dhPrev [N, H] (the caller adds dgh·W_hh).
 */
export function gruCellBackward(
  dhOut: View | null,
  dhNext: View | null,
  act: View,
  hPrev: View,
  dgi: View,
  dgh: View,
  dhPrev: View,
): void {
  const [N, H4] = act.shape as [number, number];
  const H = H4 / 4;
  const ad = floats(act);
  const hp = floats(hPrev);
  const d1 = dhOut ? floats(dhOut) : null;
  const d2 = dhNext ? floats(dhNext) : null;
  const gi = floats(dgi);
  const gh = floats(dgh);
  const dhp = floats(dhPrev);
  for (let n = 0; n < N; n++) {
    const pa = act.offset + n * H4;
    const ph = n * H;
    const pgi = dgi.offset + n * 3 * H;
    const pgh = dgh.offset + n * 3 * H;
    const pp = hPrev.offset + ph;
    const pd = dhPrev.offset + ph;
    for (let j = 0; j < H; j++) {
      let dh = 0;
      if (d1) dh += d1[dhOut!.offset + ph + j]!;
      if (d2) dh += d2[dhNext!.offset + ph + j]!;
      const r = ad[pa + j]!;
      const z = ad[pa + H + j]!;
      const nn = ad[pa + 2 * H + j]!;
      const hn = ad[pa + 3 * H + j]!;
      const dan = dh * (1 - z) * (1 - nn * nn);
      const dar = dan * hn * r * (1 - r);
      const daz = dh * (hp[pp + j]! - nn) * z * (1 - z);
      gi[pgi + j] = dar;
      gi[pgi + H + j] = daz;
      gi[pgi + 2 * H + j] = dan;
      gh[pgh + j] = dar;
      gh[pgh + H + j] = daz;
      gh[pgh + 2 * H + j] = dan * r;
      dhp[pd + j] = dh * z;
    }
  }
}

// ---- a whole LSTM layer in the GEMM's memory ---------------------------------------
//
// Per step the composite path's h·W_hhᵀ copies W_hh (4H·H floats) into wasm
// memory and packs it again. Here W_hh is packed once per layer (forward)
// or per backward, and each step copies in only its A operand (h, or the
// gates' gradient, N rows) and packs that; the cell reads the GEMM's output
// where it was written (with H a multiple of 4, the wasm cell of
// wasm/lstm_cell.ts, the gates starting as gi's row so the GEMM adds the
// bias-carrying input projection for free). Always the single-thread
// kernels, also under setNumThreads(n > 1): a step's product is too small
// to repay a pool hand-off per step (the LSTM bench step at 2 threads took
// ~44 ms with threaded per-step products, ~30 ms this way). Float32 only;
// false (nothing written) otherwise, and the caller takes the
// step-by-step path.

/** The t-th slice along a view's first dim. */
function row(v: View, t: number): View {
  return {
    storage: v.storage,
    dtype: v.dtype,
    shape: v.shape.slice(1),
    strides: v.strides.slice(1),
    offset: v.offset + t * v.strides[0]!,
  };
}

function stepAt(s: number, T: number, reverse: boolean): number {
  return reverse ? T - 1 - s : s;
}

/**
 * The GEMM kernels, their scratch and W_hh packed once as B [K, Nb]
 * (element strides sbk, sbn over W's rows [4H, H]), plus room for an A
 * operand [M, K], an output [M, Nb] and `extra` more floats from `free`;
 * null where it does not apply.
 */
function recurrentArena(
  w: View,
  M: number,
  K: number,
  Nb: number,
  sbk: number,
  sbn: number,
  extra: number,
): {
  gemm: WasmGemm;
  packed: PackedB;
  scratch: GemmScratch;
  a: number;
  c: number;
  free: number;
} | null {
  if (w.dtype !== "float32") return null;
  const gemm = defaultGemm();
  if (!gemm) return null;
  const { blocking: blk, config, kernels } = gemm;
  const nr = config.nv * 4;
  const layout = scratchLayout(blk, config.mr, nr, M, K, Nb);
  const wAt = align(layout.bytes);
  const pAt = align(wAt + K * Nb * 4);
  const a = align(pAt + packedBBytes(blk, nr, K, Nb));
  const c = align(a + M * K * 4);
  const free = align(c + M * Nb * 4);
  gemm.scratch.reserve(free + extra * 4);
  gemm.scratch.floats.set(denseF32(w), wAt / 4);
  const packed = packBOnce(kernels, blk, nr, wAt, sbk, sbn, K, Nb, pAt);
  const scratch = { tile: 0, aPanel: layout.aPanel, bPanel: layout.bPanel };
  return { gemm, packed, scratch, a, c, free };
}

/** Copies the contiguous rows of `v` (numel n) into mem at byte `at`. */
function copyIn(mem: Float32Array, v: View, n: number, at: number): void {
  mem.set((floats(v) as Float32Array).subarray(v.offset, v.offset + n), at / 4);
}

/** Copies n floats at byte `at` of mem into the contiguous view v. */
function copyOut(mem: Float32Array, at: number, n: number, v: View): void {
  floats(v).set(mem.subarray(at / 4, at / 4 + n), v.offset);
}

/**
 * A whole LSTM layer's forward from gi [T, N, 4H] (input projections,
 * biases in), h0, c0 [N, H] and W_hh [4H, H], all contiguous: per step
 * h·W_hhᵀ and lstmCell, writing h_t into R[t], c_t into C[t] (the last
 * step's into R[T]) and the cell's saved activations into act[t], steps
 * in reverse order of t when `reverse`. False (nothing written) where it
 * does not apply.
 */
export function lstmSequence(
  gi: View,
  h0: View,
  c0: View,
  wHh: View,
  reverse: boolean,
  R: View,
  C: View,
  act: View,
): boolean {
  const [T, N, G] = gi.shape as [number, number, number];
  const H = G / 4;
  const NH = N * H;
  const wasmCell = H % 4 === 0;
  // B = W_hhᵀ [H, 4H]: element (k, n) is W[n, k]. With the wasm cell, A is
  // h itself and c and act live after the gates: [c | act].
  const arena = recurrentArena(wHh, N, H, G, 1, H, wasmCell ? 6 * NH + 16 : 0);
  if (!arena) return false;
  const { gemm, packed, scratch } = arena;
  const mem = gemm.scratch.floats;
  if (wasmCell) {
    const cell = lstmCellKernels(gemm.scratch.memory);
    const cAt = arena.free;
    const actAt = align(cAt + NH * 4);
    copyIn(mem, h0, NH, arena.a);
    copyIn(mem, c0, NH, cAt);
    for (let s = 0; s < T; s++) {
      const t = stepAt(s, T, reverse);
      // The gates start as gi's row; the GEMM adds h·W_hhᵀ into them.
      copyIn(mem, row(gi, t), N * G, arena.c);
      runPackedB(gemm.kernels, gemm.blocking, packed, arena.a, H, 1, N, arena.c, G, 1, scratch);
      cell.lstmCell(arena.c, cAt, arena.a, cAt, actAt, N, H * 4);
      copyOut(mem, arena.a, NH, row(R, t));
      copyOut(mem, cAt, NH, s === T - 1 ? row(R, T) : row(C, t));
      copyOut(mem, actAt, 5 * NH, row(act, t));
    }
    return true;
  }
  let h = h0;
  let c = c0;
  for (let s = 0; s < T; s++) {
    const t = stepAt(s, T, reverse);
    mem.set(denseF32(h), arena.a / 4);
    runPackedB(gemm.kernels, gemm.blocking, packed, arena.a, H, 1, N, arena.c, G, 0, scratch);
    const h1 = row(R, t);
    const c1 = s === T - 1 ? row(R, T) : row(C, t);
    lstmCellRows(row(gi, t), mem, arena.c / 4, c, h1, c1, row(act, t));
    h = h1;
    c = c1;
  }
  return true;
}

/**
 * lstmSequence's backward (BPTT) from g [T + 1, N, H] (the gradient of R),
 * its act and C, c0 and W_hh (contiguous): the gates' gradients into dgi
 * [T, N, 4H], the gradients of h0 and c0 into dh0 and dc [N, H]. False
 * (nothing written) where it does not apply.
 */
export function lstmSequenceBackward(
  g: View,
  act: View,
  c0: View,
  C: View,
  wHh: View,
  reverse: boolean,
  dgi: View,
  dh0: View,
  dc: View,
): boolean {
  const [T, N, G] = dgi.shape as [number, number, number];
  const H = G / 4;
  const NH = N * H;
  const wasmCell = H % 4 === 0;
  // B = W_hh [4H, H] as it is. With the wasm cell, A is the gates'
  // gradient and [dhOut | dc | act | cPrev] live after dh.
  const arena = recurrentArena(wHh, N, G, H, H, 1, wasmCell ? 8 * NH + 64 : 0);
  if (!arena) return false;
  const { gemm, packed, scratch } = arena;
  const mem = gemm.scratch.floats;
  if (wasmCell) {
    const cell = lstmCellKernels(gemm.scratch.memory);
    const gAt = arena.free;
    const dcAt = align(gAt + NH * 4);
    const actAt = align(dcAt + NH * 4);
    const cpAt = align(actAt + 5 * NH * 4);
    // No later step: dh·W_hh starts at 0, dc at the gradient of c_last.
    mem.fill(0, arena.c / 4, arena.c / 4 + NH);
    copyIn(mem, row(g, T), NH, dcAt);
    for (let s = T - 1; s >= 0; s--) {
      const t = stepAt(s, T, reverse);
      copyIn(mem, row(g, t), NH, gAt);
      copyIn(mem, row(act, t), 5 * NH, actAt);
      copyIn(mem, s === 0 ? c0 : row(C, stepAt(s - 1, T, reverse)), NH, cpAt);
      cell.lstmCellBackward(gAt, arena.c, dcAt, actAt, cpAt, arena.a, N, H * 4);
      copyOut(mem, arena.a, N * G, row(dgi, t));
      runPackedB(gemm.kernels, gemm.blocking, packed, arena.a, G, 1, N, arena.c, H, 0, scratch);
    }
    copyOut(mem, arena.c, NH, dh0);
    copyOut(mem, dcAt, NH, dc);
    return true;
  }
  const dgd = floats(dgi);
  for (let s = T - 1; s >= 0; s--) {
    const t = stepAt(s, T, reverse);
    const last = s === T - 1;
    const cPrev = s === 0 ? c0 : row(C, stepAt(s - 1, T, reverse));
    const dgt = row(dgi, t);
    // The previous step's dh·W_hh sits at arena.c.
    lstmCellBackwardRows(
      row(g, t),
      last ? null : mem,
      arena.c / 4,
      last ? row(g, T) : dc,
      row(act, t),
      cPrev,
      dgt,
      dc,
    );
    mem.set(dgd.subarray(dgt.offset, dgt.offset + N * G), arena.a / 4);
    runPackedB(gemm.kernels, gemm.blocking, packed, arena.a, G, 1, N, arena.c, H, 0, scratch);
  }
  floats(dh0).set(mem.subarray(arena.c / 4, arena.c / 4 + N * H), dh0.offset);
  return true;
}
