import { copyOf } from "../../dtype.js";
import type { Storage, View } from "../backend.js";
import { registerFused } from "../fused.js";
import { type CpuStorage, dataOf, wrap } from "./storage.js";
import { align, type GemmJob } from "./wasm/blocked.js";
import { denseF32, gemmArena, splitJob, type WasmGemm, wasmMatmul } from "./wasm/matmul.js";
import { RUN_BYTES } from "./wasm/runs.js";

// A float32 linear layer's bias rides in the GEMM (addmm: C starts as the
// bias rows). Otherwise it is added in place into its fresh GEMM output, so the
// layer makes one [rows, cols] array instead of two and walks it once; and
// the bias's gradient, the output gradient summed over rows, walked row by
// row (the generic reduction over dim 0 strides down columns instead).

type Floats = Float32Array | Float64Array;

/** y[r, c] += bias[c] over contiguous y [rows, cols]. */
function addBias(y: Storage, bias: View, rows: number, cols: number): void {
  const yd = (y as CpuStorage).data as Floats;
  const bd = dataOf(bias) as Floats;
  const bo = bias.offset;
  const bs = bias.strides[0] ?? 1;
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    for (let c = 0, p = bo; c < cols; c++, p += bs) yd[s + c] = yd[s + c]! + bd[p]!;
  }
}

/**
 * Σ_r g[r, c] as [cols], for g [rows, cols] with any strides; sums in
 * doubles. Contiguous rows go four at a time, so the accumulator row is
 * loaded and stored once per four gradient rows.
 */
function sumRows(g: View, rows: number, cols: number): Storage {
  const gd = dataOf(g) as Floats;
  const [rs, cs] = g.strides as [number, number];
  const acc = new Float64Array(cols);
  let r = 0;
  let s = g.offset;
  if (cs === 1) {
    for (; r + 4 <= rows; r += 4, s += 4 * rs) {
      const s1 = s + rs;
      const s2 = s1 + rs;
      const s3 = s2 + rs;
      for (let c = 0; c < cols; c++) {
        acc[c] = acc[c]! + gd[s + c]! + gd[s1 + c]! + gd[s2 + c]! + gd[s3 + c]!;
      }
    }
  }
  for (; r < rows; r++, s += rs) {
    for (let c = 0, p = s; c < cols; c++, p += cs) acc[c] = acc[c]! + gd[p]!;
  }
  return wrap(gd instanceof Float32Array ? new Float32Array(acc) : acc);
}

/**
 * Float32 a @ b + bias on the wasm GEMM, the bias laid into C before the
 * product adds into it (no second pass over the output); null elsewhere.
 */
function addmm(a: View, b: View, bias: View): Storage | null {
  if (a.dtype !== "float32" || b.dtype !== "float32" || bias.dtype !== "float32") return null;
  const y = wasmMatmul(a, b, bias);
  return y ? wrap(y) : null;
}

/**
 * A float32 linear layer's backward on the wasm GEMM, g staged once for
 * all three: dx = g·w, dw = gᵀ·x (g read transposed in place) and db,
 * g's column sums, added up row by row by the run-add kernel (runs.ts):
 * one table entry covering a whole row, replayed once per row onto the
 * same destination. (As a one-row product 1ᵀ·g it ran at 6 GFLOP/s, a
 * GEMM's edge case, 0.7 ms of a tiny-GPT step.) Null without the wasm GEMM.
 */
function linearBackward(
  grad: View,
  input: View,
  weight: View,
  want: readonly [boolean, boolean, boolean],
): [Storage | null, Storage | null, Storage | null] | null {
  if (grad.dtype !== "float32" || input.dtype !== "float32" || weight.dtype !== "float32")
    return null;
  const [rows, out] = grad.shape as [number, number];
  const inF = weight.shape[1]!;
  const [wantX, wantW, wantB] = want;
  const macs = rows * out * inF * ((wantX ? 1 : 0) + (wantW ? 1 : 0));
  const big = Math.max(rows, out, inF);
  const arena = rows * out * inF === 0 ? null : gemmArena(big, big, big, macs);
  if (!arena) return null;
  const { gemm, T } = arena;
  // Bytes: scratch | G | X | W | row table | dx | dw | db.
  const G = arena.base;
  const X = align(G + rows * out * 4);
  const W = align(X + (wantW ? rows * inF : 0) * 4);
  const ROW = align(W + (wantX ? out * inF : 0) * 4);
  const DX = align(ROW + RUN_BYTES);
  const DW = align(DX + (wantX ? rows * inF : 0) * 4);
  const DB = align(DW + (wantW ? out * inF : 0) * 4);
  gemm.scratch.reserve(DB + out * 4);
  const mem = gemm.scratch.floats;
  mem.set(denseF32(grad), G / 4);
  if (wantW) mem.set(denseF32(input), X / 4);
  if (wantX) mem.set(denseF32(weight), W / 4);
  const g = { gemm, T, G, rows, out, inF };
  gemm.run(
    linearGradJobs(g, wantX ? { w: W, at: DX } : null, wantW ? { x: X, at: DW } : null),
    T,
    arena.layout,
  );
  if (wantB) columnSums(g, ROW, DB);
  const res = gemm.scratch.floats;
  const take = (at: number, n: number) => wrap(copyOf(res.subarray(at / 4, at / 4 + n)));
  return [
    wantX ? take(DX, rows * inF) : null,
    wantW ? take(DW, out * inF) : null,
    wantB ? take(DB, out) : null,
  ];
}

/** g [rows, out] staged at byte G of `gemm`'s memory, for a linear layer's backward products. */
export interface StagedGrad {
  gemm: WasmGemm;
  /** Threads the products are split for. */
  T: number;
  G: number;
  rows: number;
  out: number;
  inF: number;
}

/**
 * The jobs of a linear layer's backward products over a staged g: g·w into
 * `dx.at` (w [out, inF] at byte `dx.w`) and gᵀ·x into `dw.at` (x [rows,
 * inF] at byte `dw.x`, g read transposed in place); null skips one.
 */
export function linearGradJobs(
  g: StagedGrad,
  dx: { w: number; at: number } | null,
  dw: { x: number; at: number } | null,
): GemmJob[] {
  const { gemm, T, G, rows, out, inF } = g;
  const job = (a: number, b: number, c: number, M: number, K: number, N: number, s: number[]) =>
    splitJob(
      { a, b, c, M, K, N, sam: s[0]!, sak: s[1]!, sbk: s[2]!, sbn: s[3]!, ldc: N, acc: 0 },
      T,
      gemm.config.mr,
      gemm.config.nv * 4,
    );
  const jobs: GemmJob[] = [];
  if (dx) jobs.push(...job(G, dx.w, dx.at, rows, out, inF, [out, 1, inF, 1]));
  if (dw) jobs.push(...job(G, dw.x, dw.at, out, rows, inF, [1, out, inF, 1]));
  return jobs;
}

/**
 * db [out] at byte DB = the staged g's column sums: zeros, then += row r
 * of g for each r, one run-add table entry (dst 0, src 0, out floats) at
 * byte ROW (RUN_BYTES) replayed with a source stride of one row.
 */
export function columnSums({ gemm, G, rows, out }: StagedGrad, ROW: number, DB: number): void {
  const mem = gemm.scratch.floats;
  mem.fill(0, DB / 4, DB / 4 + out);
  new Int32Array(mem.buffer, ROW, 3).set([0, 0, out]);
  gemm.runs.addRuns(ROW, 1, G, out * 4, DB, 0, rows);
}

registerFused("cpu", { addmm, addBias, sumRows, linearBackward });
