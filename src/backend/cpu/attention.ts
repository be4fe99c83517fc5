import { allocArray } from "../../dtype.js";
import type { Storage, View } from "../backend.js";
import { registerFused } from "../fused.js";
import { type CpuStorage, dataOf, wrap } from "./storage.js";
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
      let sum = 0;
      for (let j = at; j < at + len; j++) sum += exps[j]!;
      const inv = 1 / sum;
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
  const [N, H, L, S] = shape;
  const sd = (scores as CpuStorage).data as Floats;
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
  const [N, H, L, S] = shape;
  const gd = (grad as CpuStorage).data as Floats;
  const pd = dataOf(probs) as Floats;
  const po = probs.offset;
  const rows = N * H * L;
  for (let r = 0; r < rows; r++) {
    const s = r * S;
    const len = rowLength(r % L, S, causal);
    let dot = 0;
    for (let j = 0; j < len; j++) dot += gd[s + j]! * pd[po + s + j]!;
    for (let j = 0; j < len; j++) gd[s + j] = scale * pd[po + s + j]! * (gd[s + j]! - dot);
    for (let j = len; j < S; j++) gd[s + j] = 0;
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

registerFused("cpu", { attentionSoftmax, attentionSoftmaxBackward, headsSplit, headsMerge });
