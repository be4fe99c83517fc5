import { copyOf } from "../../dtype.js";
import type { Storage, View } from "../backend.js";
import { registerFused } from "../fused.js";
import { geluKernelsOn } from "./gelu.js";
import { columnSums, linearGradJobs } from "./linear.js";
import { wrap } from "./storage.js";
import { align } from "./wasm/blocked.js";
import { denseF32, gemmArena } from "./wasm/matmul.js";
import { RUN_BYTES } from "./wasm/runs.js";

// The feed-forward block's second half backward, y = GELU(pre) Wᵀ + b, in
// one visit to the GEMM's wasm memory: g, W, act = GELU(pre) and pre staged
// once; dAct = g·W left where the GEMM wrote it, GELU's backward (gelu.ts,
// over the GEMM's memory, Φ read off act / pre) turning it into dPre in
// place; dW = gᵀ·act and db (g's column sums), by linear.ts's
// linearGradJobs and columnSums. Only dPre, dW and db are copied out: the
// plain path copies dAct out, then in again with pre and act for GELU's
// backward, and dPre out.

/**
 * Float32 g [rows, out], pre and act [rows, hid] (act = GELU(pre) from
 * gelu.ts's kernels), w [out, hid] (any strides): the wanted ones of
 * dPre = (g·w)·GELU'(pre) [rows, hid], dW = gᵀ·act [out, hid] and
 * db = Σ_rows g [out], contiguous. Null without wasm SIMD, for another
 * dtype or an empty product.
 */
function geluLinearBackward(
  grad: View,
  pre: View,
  act: View,
  weight: View,
  want: readonly [boolean, boolean, boolean],
): [Storage | null, Storage | null, Storage | null] | null {
  for (const v of [grad, pre, act, weight]) if (v.dtype !== "float32") return null;
  const [rows, out] = grad.shape as [number, number];
  const hid = weight.shape[1]!;
  const [wantP, wantW, wantB] = want;
  const macs = rows * out * hid * ((wantP ? 1 : 0) + (wantW ? 1 : 0));
  const big = Math.max(rows, out, hid);
  const arena = rows * out * hid === 0 ? null : gemmArena(big, big, big, macs);
  if (!arena) return null;
  const { gemm, T } = arena;
  const gelu = wantP ? geluKernelsOn(gemm.scratch.memory) : null;
  if (wantP && !gelu) return null;
  const n = rows * hid;
  // GELU walks whole vectors: the last one reads into the alignment gap.
  const nb = Math.ceil(n / 4) * 16;
  // Bytes: scratch | G | A | P | W | row table | dAct → dPre | dW | db.
  const G = arena.base;
  const A = align(G + rows * out * 4);
  const P = align(A + (wantW || wantP ? nb : 0));
  const W = align(P + (wantP ? nb : 0));
  const ROW = align(W + (wantP ? out * hid : 0) * 4);
  const DP = align(ROW + RUN_BYTES);
  const DW = align(DP + (wantP ? nb : 0));
  const DB = align(DW + (wantW ? out * hid : 0) * 4);
  gemm.scratch.reserve(DB + out * 4);
  const mem = gemm.scratch.floats;
  mem.set(denseF32(grad), G / 4);
  if (wantW || wantP) mem.set(denseF32(act), A / 4);
  if (wantP) {
    mem.set(denseF32(pre), P / 4);
    mem.set(denseF32(weight), W / 4);
  }
  const g = { gemm, T, G, rows, out, inF: hid };
  const jobs = linearGradJobs(g, wantP ? { w: W, at: DP } : null, wantW ? { x: A, at: DW } : null);
  gemm.run(jobs, T, arena.layout);
  // dPre = dAct · GELU'(pre), written over dAct (element by element, so in place is safe).
  if (gelu) gelu.geluBackwardOut(DP, P, A, DP, nb);
  if (wantB) columnSums(g, ROW, DB);
  const res = gemm.scratch.floats;
  const take = (at: number, len: number) => wrap(copyOf(res.subarray(at / 4, at / 4 + len)));
  return [
    wantP ? take(DP, n) : null,
    wantW ? take(DW, out * hid) : null,
    wantB ? take(DB, out) : null,
  ];
}

registerFused("cpu", { geluLinearBackward });
