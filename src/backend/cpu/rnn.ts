import type { View } from "../backend.js";
import { dataOf } from "./storage.js";
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
  const [N, G] = gi.shape as [number, number];
  const H = G / 4;
  const a = floats(gi);
  const b = floats(gh);
  const cd = floats(c);
  const ho = floats(h1);
  const co = floats(c1);
  const ad = floats(act);
  if (a instanceof Float32Array && lstmCellSimd(gi, gh, c, h1, c1, act)) return;
  for (let n = 0; n < N; n++) {
    const pa = gi.offset + n * G;
    const pb = gh.offset + n * G;
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
function lstmCellSimd(gi: View, gh: View, c: View, h1: View, c1: View, act: View): boolean {
  const [N, G] = gi.shape as [number, number];
  const H = G / 4;
  const a = floats(gi);
  const b = floats(gh);
  const cd = floats(c);
  const ho = floats(h1);
  const co = floats(c1);
  const ad = floats(act);
  const gates = simdExpInPlace(
    N * G,
    (mem) => {
      for (let n = 0; n < N; n++) {
        const pa = gi.offset + n * G;
        const pb = gh.offset + n * G;
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
  const [N, H5] = act.shape as [number, number];
  const H = H5 / 5;
  const ad = floats(act);
  const cp = floats(cPrev);
  const d1 = dhOut ? floats(dhOut) : null;
  const d2 = dhNext ? floats(dhNext) : null;
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
      if (d2) dh += d2[dhNext!.offset + ph + j]!;
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
