import { copyOf } from "../../dtype.js";
import type { Storage, View } from "../backend.js";
import { registerFused } from "../fused.js";
import { geluKernelsOn } from "./gelu.js";
import { wrap } from "./storage.js";
import { align, type GemmJob } from "./wasm/blocked.js";
import { denseF32, fillRows, gemmArena, splitJob } from "./wasm/matmul.js";

// The feed-forward block's first half, GELU(x Wᵀ + b), in one visit to the
// GEMM's wasm memory: the bias rows laid into C, the product added into
// them, then the exact GELU kernel (gelu.ts, instantiated over the GEMM's
// memory) reading C while it is still there and cache-warm. The plain path
// copies the product out, copies it into GELU's own memory and copies the
// activation out again; here both results are copied out once each (the
// pre-activation is kept for the backward). Adding the bias in the GELU
// pass instead (geluBias, C from 0) measured no faster than the fill.

/**
 * Float32 x [rows, in] @ w [out, in]ᵀ + bias [out] (any strides) and its
 * exact GELU, both fresh contiguous [rows, out]; null without wasm SIMD or
 * for another dtype or an empty product.
 */
function addmmGelu(input: View, weight: View, bias: View): { pre: Storage; act: Storage } | null {
  if (input.dtype !== "float32" || weight.dtype !== "float32" || bias.dtype !== "float32")
    return null;
  const [rows, inF] = input.shape as [number, number];
  const out = weight.shape[0]!;
  if (rows * inF * out === 0) return null;
  const arena = gemmArena(rows, inF, out, rows * inF * out);
  if (!arena) return null;
  const { gemm, T } = arena;
  const gelu = geluKernelsOn(gemm.scratch.memory);
  if (!gelu) return null;
  const n = rows * out;
  // GELU walks whole vectors: C's last one reads into the alignment gap.
  const nb = Math.ceil(n / 4) * 16;
  // Bytes: scratch | X | W | C | act.
  const X = arena.base;
  const W = align(X + rows * inF * 4);
  const C = align(W + out * inF * 4);
  const A = align(C + nb);
  gemm.scratch.reserve(A + nb);
  const mem = gemm.scratch.floats;
  mem.set(denseF32(input), X / 4);
  mem.set(denseF32(weight), W / 4);
  fillRows(mem, C / 4, bias, rows);
  // Wᵀ read in place: B[k, n] = W[n, k].
  const job: GemmJob = {
    a: X,
    b: W,
    c: C,
    M: rows,
    K: inF,
    N: out,
    sam: inF,
    sak: 1,
    sbk: 1,
    sbn: inF,
    ldc: out,
    acc: 1,
  };
  gemm.run(splitJob(job, T, gemm.config.mr, gemm.config.nv * 4), T, arena.layout);
  gelu.gelu(C, A, nb);
  const res = gemm.scratch.floats;
  return {
    pre: wrap(copyOf(res.subarray(C / 4, C / 4 + n))),
    act: wrap(copyOf(res.subarray(A / 4, A / 4 + n))),
  };
}

registerFused("cpu", { addmmGelu });
