import { allocArray, copyOf } from "../../dtype.js";
import type { Storage, View } from "../backend.js";
import { registerFused } from "../fused.js";
import { type CpuStorage, dataOf, wrap } from "./storage.js";
import { align, type GemmJob } from "./wasm/blocked.js";
import { denseF32, gemmArena } from "./wasm/matmul.js";
import { softmaxRowKernels } from "./wasm/softmax_rows.js";
import { simdExpInPlace } from "./wasm/vmath.js";

// The softmax step of fused attention on the CPU: the scores q·kᵀ come
// from the GEMM as a fresh contiguous [N·H·L, S] buffer, and one pass per
// row scales them, adds the mask and normalizes them in place, where the
// composite makes four whole-tensor temporaries (scaled, masked, exp,
// probabilities). Under a causal mask only each row's first i + 1 entries
// are computed; the rest are exact zeros. Arithmetic is in JS doubles,
// rounded once by the store.

type Floats = Float32Array | Float64Array;

/**
 * The rows' valid lengths: min(i + 1, S) under a causal mask (query i
 * sees keys 0…i, PyTorch's top-left alignment), S otherwise.
 */
function rowLength(i: number, S: number, causal: boolean): number {
  return causal ? Math.min(i + 1, S) : S;
}

/**
 * Row by row (a row stays in L1): scale and mask the valid entries in
 * place, keep each row's maximum in `maxes`, and write v − max into `out`
 * packed (valid entries only). A row without a finite maximum shifts by 0
 * and is turned into NaN by normalizeRows.
 */
function shiftRows(
  sd: Floats,
  out: Floats,
  maxes: Float64Array,
  shape: readonly [number, number, number, number],
  scale: number,
  md: Floats | null,
  mo: number,
  ms: readonly number[],
  causal: boolean,
): void {
  const [N, H, L, S] = shape;
  let r = 0;
  let at = 0;
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < L; i++, r++) {
        const s = r * S;
        const len = causal ? (i + 1 < S ? i + 1 : S) : S;
        let m = Number.NEGATIVE_INFINITY;
        if (md) {
          const m3 = ms[3]!;
          let p = mo + n * ms[0]! + h * ms[1]! + i * ms[2]!;
          for (let j = 0; j < len; j++, p += m3) {
            const v = sd[s + j]! * scale + md[p]!;
            sd[s + j] = v;
            if (v > m || v !== v) m = v;
          }
        } else {
          for (let j = s; j < s + len; j++) {
            const v = sd[j]! * scale;
            sd[j] = v;
            if (v > m || v !== v) m = v;
          }
        }
        maxes[r] = m;
        if (m - m !== 0) m = 0;
        for (let j = 0; j < len; j++) out[at + j] = sd[s + j]! - m;
        at += len;
      }
    }
  }
}

/** Σ a[from…to) in doubles, four partial sums (no chain of dependent adds). */
function rowSum(a: Floats, from: number, to: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = from;
  for (; j + 4 <= to; j += 4) {
    s0 += a[j]!;
    s1 += a[j + 1]!;
    s2 += a[j + 2]!;
    s3 += a[j + 3]!;
  }
  for (; j < to; j++) s0 += a[j]!;
  return s0 + s1 + (s2 + s3);
}

/** The exponentials back into the scores, normalized by row; the hidden tail 0, non-finite rows NaN. */
function normalizeRows(
  sd: Floats,
  exps: Floats,
  maxes: Float64Array,
  rows: number,
  L: number,
  S: number,
  causal: boolean,
): void {
  let at = 0;
  for (let r = 0; r < rows; r++) {
    const s = r * S;
    const i = r % L;
    const len = causal ? (i + 1 < S ? i + 1 : S) : S;
    const m = maxes[r]!;
    if (m - m !== 0) {
      sd.fill(Number.NaN, s, s + S);
    } else {
      const inv = 1 / rowSum(exps, at, at + len);
      for (let j = 0; j < len; j++) sd[s + j] = exps[at + j]! * inv;
      if (len < S) sd.fill(0, s + len, s + S);
    }
    at += len;
  }
}

/**
 * Scores [N, H, L, S] (contiguous, owned by the caller) become
 * softmax(scores · scale + mask) along S, in place. `mask` is an additive
 * float mask viewed as [N, H, L, S] (0 strides where it broadcasts).
 * A row whose maximum is not finite (all -inf, or a NaN or +inf in it)
 * becomes NaN, as the composite gives. The exponentials run on SIMD
 * (vmath's exp) for float32, over the packed valid entries only.
 */
function attentionSoftmax(
  scores: Storage,
  shape: readonly [number, number, number, number],
  scale: number,
  mask: View | null,
  causal: boolean,
): void {
  softmaxRows((scores as CpuStorage).data as Floats, shape, scale, mask, causal);
}

/** attentionSoftmax over an array (a storage's, or the scores where the GEMM left them in wasm memory). */
function softmaxRows(
  sd: Floats,
  shape: readonly [number, number, number, number],
  scale: number,
  mask: View | null,
  causal: boolean,
): void {
  const [N, H, L, S] = shape;
  const md = mask ? (dataOf(mask) as Floats) : null;
  const ms = mask ? mask.strides : [0, 0, 0, 0];
  const mo = mask?.offset ?? 0;
  const rows = N * H * L;
  const maxes = new Float64Array(rows);
  let total = 0;
  for (let i = 0; i < L; i++) total += rowLength(i, S, causal);
  total *= N * H;
  const f32 = sd instanceof Float32Array;
  if (
    f32 &&
    simdExpInPlace(
      total,
      (mem) => shiftRows(sd, mem, maxes, shape, scale, md, mo, ms, causal),
      (mem) => normalizeRows(sd, mem, maxes, rows, L, S, causal),
    )
  )
    return;
  const exps = new Float64Array(total);
  shiftRows(sd, exps, maxes, shape, scale, md, mo, ms, causal);
  for (let i = 0; i < total; i++) exps[i] = Math.exp(exps[i]!);
  normalizeRows(sd, exps, maxes, rows, L, S, causal);
}

/**
 * The gradient of attentionSoftmax with respect to the raw scores, in
 * place over `grad` [N·H·L, S] (the gradient of the probabilities, fresh
 * from the GEMM): scale · p ⊙ (g − Σ g ⊙ p) by row. Masked entries have
 * p = 0 and come out 0.
 */
function attentionSoftmaxBackward(
  grad: Storage,
  probs: View,
  shape: readonly [number, number, number, number],
  scale: number,
  causal: boolean,
): void {
  const gd = (grad as CpuStorage).data as Floats;
  softmaxBackwardRows(gd, dataOf(probs) as Floats, probs.offset, shape, scale, causal);
}

/** attentionSoftmaxBackward over arrays: gd in place, the probabilities from pd at po. */
function softmaxBackwardRows(
  gd: Floats,
  pd: Floats,
  po: number,
  shape: readonly [number, number, number, number],
  scale: number,
  causal: boolean,
): void {
  const [N, H, L, S] = shape;
  const rows = N * H * L;
  for (let r = 0; r < rows; r++) {
    const s = r * S;
    const p = po + s;
    const len = rowLength(r % L, S, causal);
    // Four partial sums: one accumulator chains every add on the last
    // (measured 0.42 → 0.33 ms CPU per [16, 4, 64, 64] causal call).
    let d0 = 0;
    let d1 = 0;
    let d2 = 0;
    let d3 = 0;
    let j = 0;
    for (; j + 4 <= len; j += 4) {
      d0 += gd[s + j]! * pd[p + j]!;
      d1 += gd[s + j + 1]! * pd[p + j + 1]!;
      d2 += gd[s + j + 2]! * pd[p + j + 2]!;
      d3 += gd[s + j + 3]! * pd[p + j + 3]!;
    }
    for (; j < len; j++) d0 += gd[s + j]! * pd[p + j]!;
    const dot = d0 + d1 + (d2 + d3);
    for (j = 0; j < len; j++) gd[s + j] = scale * pd[p + j]! * (gd[s + j]! - dot);
    if (len < S) gd.fill(0, s + len, s + S);
  }
}

/** Part p of x [N, L, P·H·d] (strides s0, s1, s2) into o as contiguous [N, H, L, d]. */
function splitPart(
  xd: Floats,
  o: Floats,
  x0: number,
  [s0, s1, s2]: readonly number[],
  N: number,
  L: number,
  H: number,
  d: number,
): void {
  let k = 0;
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < L; l++) {
        const at = x0 + n * s0! + l * s1! + h * d * s2!;
        if (s2 === 1) for (let j = at; j < at + d; j++) o[k++] = xd[j]!;
        else for (let j = 0; j < d; j++) o[k++] = xd[at + j * s2!]!;
      }
    }
  }
}

/**
 * The heads of a packed projection x [N, L, P·H·d] (any strides): P
 * contiguous arrays [N, H, L, d], part p from columns p·H·d … (p+1)·H·d.
 */
function headsSplit(x: View, parts: number, heads: number): Storage[] {
  const [N, L, W] = x.shape as [number, number, number];
  const d = W / parts / heads;
  const xd = dataOf(x) as Floats;
  const out: Storage[] = [];
  for (let p = 0; p < parts; p++) {
    const o = allocArray(x.dtype, N * heads * L * d) as Floats;
    const x0 = x.offset + p * heads * d * x.strides[2]!;
    splitPart(xd, o, x0, x.strides, N, L, heads, d);
    out.push(wrap(o));
  }
  return out;
}

/** Contiguous src [N, H, L, d] into columns c0 … c0 + H·d of out [N, L, W]. */
function mergePart(
  src: Floats,
  out: Floats,
  c0: number,
  W: number,
  N: number,
  H: number,
  L: number,
  d: number,
): void {
  let k = 0;
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      let at = n * L * W + c0 + h * d;
      for (let l = 0; l < L; l++, at += W) {
        for (let j = at; j < at + d; j++) out[j] = src[k++]!;
      }
    }
  }
}

/** The inverse of headsSplit: contiguous parts [N, H, L, d] side by side as [N, L, P·H·d]. */
function headsMerge(parts: Storage[], shape: readonly [number, number, number, number]): Storage {
  const [N, H, L, d] = shape;
  const W = parts.length * H * d;
  const first = (parts[0] as CpuStorage).data as Floats;
  const out = (
    first instanceof Float32Array ? new Float32Array(N * L * W) : new Float64Array(N * L * W)
  ) as Floats;
  for (let p = 0; p < parts.length; p++) {
    mergePart((parts[p] as CpuStorage).data as Floats, out, p * H * d, W, N, H, L, d);
  }
  return wrap(out);
}

// Packed self-attention on the wasm GEMM, every product reading its heads
// in place from qkv [N, L, 3E] staged once in the GEMM's memory (strided
// operands: no head split), the scores softmaxed where the GEMM wrote
// them, and the heads' outputs written straight into the merged [N, L, E]
// layout through the jobs' row stride (no head merge). The backward stages
// qkv, the probabilities and the output gradient once, and its four
// products write dq, dk and dv side by side into one [N, L, 3E] gradient.
// Per layer that is two copies into wasm memory and three out, where
// separate products make ten and six.

/**
 * Which part of a product a causal mask leaves live, by row block [r0, r1)
 * of its output (query i sees keys j ≤ i, L = S):
 *   cols   the output is needed left of the diagonal only (q·kᵀ, dO·vᵀ): N = r1;
 *   depth  A is zero right of the diagonal (P·v, dS·k): K = r1;
 *   tail   A is zero left of the diagonal (Pᵀ·dO, dSᵀ·q): K runs r0 … L.
 */
type Causal = "cols" | "depth" | "tail";

/**
 * Rows per causal block: 4 blocks for L = 64 do 5/8 of the full product;
 * smaller blocks save more multiply-adds but re-pack the shared operand
 * once per block.
 */
const CAUSAL_BLOCK = 16;

/** Where an operand of head (n, h) lies: at + n·perN + h·perH bytes. */
type Place = readonly [at: number, perN: number, perH: number];

/** One product per (n, h), cut into causal row blocks when `causal` is given. */
function headJobs(
  N: number,
  H: number,
  dims: Omit<GemmJob, "a" | "b" | "c">,
  causal: Causal | null,
  [a0, aN, aH]: Place,
  [b0, bN, bH]: Place,
  [c0, cN, cH]: Place,
): GemmJob[] {
  const jobs: GemmJob[] = [];
  const L = dims.M;
  const block = causal ? CAUSAL_BLOCK : L;
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      const a = a0 + n * aN + h * aH;
      const b = b0 + n * bN + h * bH;
      const c = c0 + n * cN + h * cH;
      for (let r0 = 0; r0 < L; r0 += block) {
        const r1 = Math.min(L, r0 + block);
        const k0 = causal === "tail" ? r0 : 0;
        // A literal of one fixed shape (as the GEMM's own jobs): a spread makes slow dictionary objects.
        jobs.push({
          a: a + (r0 * dims.sam + k0 * dims.sak) * 4,
          b: b + k0 * dims.sbk * 4,
          c: c + r0 * dims.ldc * 4,
          M: r1 - r0,
          N: causal === "cols" ? r1 : dims.N,
          K: causal === "depth" ? r1 : causal === "tail" ? dims.K - r0 : dims.K,
          sam: dims.sam,
          sak: dims.sak,
          sbk: dims.sbk,
          sbn: dims.sbn,
          ldc: dims.ldc,
          acc: 0,
        });
      }
    }
  }
  return jobs;
}

/** The places of heads in the layouts the attention kernels use, for H heads of size L×d per n. */
function places(H: number, L: number, d: number) {
  const E = H * d;
  return {
    /** Part p (q, k, v) of a packed [N, L, 3E] at byte `base`. */
    packed: (base: number, p: number): Place => [base + p * E * 4, L * 3 * E * 4, d * 4],
    /** A merged [N, L, E]. */
    merged: (base: number): Place => [base, L * E * 4, d * 4],
    /** An [N, H, L, L] of scores or probabilities. */
    square: (base: number): Place => [base, H * L * L * 4, L * L * 4],
  };
}

/**
 * softmax(q·kᵀ·scale + mask) v for the heads of qkv [N, L, 3E] (float32),
 * as the merged output [N, L, E] and the probabilities [N, H, L, L]; null
 * without the wasm GEMM.
 */
function packedAttention(
  qkv: View,
  heads: number,
  scale: number,
  mask: View | null,
  causal: boolean,
): { out: Storage; probs: Storage } | null {
  if (qkv.dtype !== "float32" || (mask && mask.dtype !== "float32")) return null;
  const [N, L, W] = qkv.shape as [number, number, number];
  const E = W / 3;
  const H = heads;
  const d = E / H;
  const g = gemmArena(L, Math.max(d, L), Math.max(d, L), 2 * N * H * L * L * d);
  if (!g) return null;
  // Bytes: scratch | X = qkv [N, L, W] | S = scores [N, H, L, L] | O = out [N, L, E].
  const X = g.base;
  const S = align(X + N * L * W * 4);
  const O = align(S + N * H * L * L * 4);
  g.gemm.scratch.reserve(O + N * L * E * 4);
  g.gemm.scratch.floats.set(denseF32(qkv), X / 4);
  const { packed, merged, square } = places(H, L, d);
  // S = q·kᵀ: q rows of stride W, kᵀ with k contiguous.
  const qk = { M: L, K: d, N: L, sam: W, sak: 1, sbk: 1, sbn: W, ldc: L };
  const mode = (m: Causal) => (causal ? m : null);
  g.gemm.run(
    headJobs(N, H, qk, mode("cols"), packed(X, 0), packed(X, 1), square(S)),
    g.T,
    g.layout,
  );
  // One SIMD call over every row where the scores lie (softmax_rows.ts);
  // the JavaScript rows remain for an additive mask, which that kernel does not read.
  const rows = mask ? null : softmaxRowKernels(g.gemm.scratch.memory);
  if (rows) rows.softmax(S, N * H * L, L, L, scale, causal ? 1 : 0);
  else {
    const mem = g.gemm.scratch.floats;
    softmaxRows(mem.subarray(S / 4, S / 4 + N * H * L * L), [N, H, L, L], scale, mask, causal);
  }
  // O = P·v, each head written into its d columns of the merged rows.
  const pv = { M: L, K: L, N: d, sam: L, sak: 1, sbk: W, sbn: 1, ldc: E };
  g.gemm.run(headJobs(N, H, pv, mode("depth"), square(S), packed(X, 2), merged(O)), g.T, g.layout);
  const out = g.gemm.scratch.floats;
  return {
    out: wrap(copyOf(out.subarray(O / 4, O / 4 + N * L * E))),
    probs: wrap(copyOf(out.subarray(S / 4, S / 4 + N * H * L * L))),
  };
}

/**
 * The gradient of packedAttention: d qkv [N, L, 3E] from the output's
 * gradient g [N, L, E] (any strides), qkv and the saved probabilities.
 */
function packedAttentionBackward(
  grad: View,
  qkv: View,
  probs: Storage,
  heads: number,
  scale: number,
  causal: boolean,
): Storage | null {
  const pd = (probs as CpuStorage).data;
  if (qkv.dtype !== "float32" || grad.dtype !== "float32" || !(pd instanceof Float32Array))
    return null;
  const [N, L, W] = qkv.shape as [number, number, number];
  const E = W / 3;
  const H = heads;
  const d = E / H;
  const g = gemmArena(L, Math.max(d, L), Math.max(d, L), 4 * N * H * L * L * d);
  if (!g) return null;
  // Bytes: scratch | X = qkv | P = probs | G = grad [N, L, E] | D = dP, then dS | DX = d qkv.
  const X = g.base;
  const P = align(X + N * L * W * 4);
  const G = align(P + N * H * L * L * 4);
  const D = align(G + N * L * E * 4);
  const DX = align(D + N * H * L * L * 4);
  g.gemm.scratch.reserve(DX + N * L * W * 4);
  const mem = g.gemm.scratch.floats;
  mem.set(denseF32(qkv), X / 4);
  mem.set(pd.subarray(0, N * H * L * L), P / 4);
  mem.set(denseF32(grad), G / 4);
  const { packed, merged, square } = places(H, L, d);
  const mode = (m: Causal) => (causal ? m : null);
  // dv = Pᵀ dO and dP = dO vᵀ.
  const dv = { M: L, K: L, N: d, sam: 1, sak: L, sbk: E, sbn: 1, ldc: W };
  const dp = { M: L, K: d, N: L, sam: E, sak: 1, sbk: 1, sbn: W, ldc: L };
  g.gemm.run(
    [
      ...headJobs(N, H, dv, mode("tail"), square(P), merged(G), packed(DX, 2)),
      ...headJobs(N, H, dp, mode("cols"), merged(G), packed(X, 2), square(D)),
    ],
    g.T,
    g.layout,
  );
  // dS in place over dP, reading P where it was staged (softmax_rows.ts).
  const rows = softmaxRowKernels(g.gemm.scratch.memory);
  if (rows) rows.softmaxBackward(D, P, N * H * L, L, L, scale, causal ? 1 : 0);
  else {
    const m = g.gemm.scratch.floats;
    const size = N * H * L * L;
    softmaxBackwardRows(m.subarray(D / 4, D / 4 + size), m, P / 4, [N, H, L, L], scale, causal);
  }
  // dq = dS k and dk = dSᵀ q.
  const dq = { M: L, K: L, N: d, sam: L, sak: 1, sbk: W, sbn: 1, ldc: W };
  const dk = { M: L, K: L, N: d, sam: 1, sak: L, sbk: W, sbn: 1, ldc: W };
  g.gemm.run(
    [
      ...headJobs(N, H, dq, mode("depth"), square(D), packed(X, 1), packed(DX, 0)),
      ...headJobs(N, H, dk, mode("tail"), square(D), packed(X, 0), packed(DX, 1)),
    ],
    g.T,
    g.layout,
  );
  return wrap(copyOf(g.gemm.scratch.floats.subarray(DX / 4, DX / 4 + N * L * W)));
}

registerFused("cpu", {
  attentionSoftmax,
  attentionSoftmaxBackward,
  headsSplit,
  headsMerge,
  packedAttention,
  packedAttentionBackward,
});
