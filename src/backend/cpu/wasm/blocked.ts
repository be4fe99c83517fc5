import type { GemmExports } from "./gemm_module.js";

/**
 * Blocking (GotoBLAS): C is swept in column blocks of nc, each split into
 * depth blocks of kc (one packed B panel, kc·nc floats, shared by all row
 * blocks) and row blocks of mc (one packed A panel, mc·kc floats, kept hot
 * in L2 while every NR-wide sliver of the B panel passes over it).
 */
export interface Blocking {
  mc: number;
  kc: number;
  nc: number;
}

/**
 * One C[M×N] = A[M×K]·B[K×N] over wasm memory (byte addresses, strides in
 * elements); with `acc` 1, C += A·B instead (C holds a bias, or a sum to extend).
 */
export interface GemmJob {
  a: number;
  b: number;
  c: number;
  M: number;
  N: number;
  K: number;
  sam: number;
  sak: number;
  sbk: number;
  sbn: number;
  /** Row stride of C, in elements. */
  ldc: number;
  /** 1: add into C's current values; 0 or absent: overwrite C. */
  acc?: number;
}

/** Where a thread's own scratch lies: the spill tile and the two packed panels (byte addresses). */
export interface GemmScratch {
  tile: number;
  aPanel: number;
  bPanel: number;
}

/** Field order when a job travels to a worker as int32s. */
export const JOB_FIELDS = [
  "a",
  "b",
  "c",
  "M",
  "N",
  "K",
  "sam",
  "sak",
  "sbk",
  "sbn",
  "ldc",
  "acc",
] as const;

export function runGemm(k: GemmExports, blk: Blocking, j: GemmJob, s: GemmScratch): void {
  // Even blocks: K = 784 runs as 4 × 196 rather than 3 × 256 + 16, whose
  // thin last block pays a full sweep of C for little work.
  const KC = evenBlock(j.K, blk.kc, 4);
  const MC = evenBlock(j.M, blk.mc, 4);
  const NC = blk.nc;
  const overwrite = j.acc ? 0 : 1;
  for (let jc = 0; jc < j.N; jc += NC) {
    const nc = Math.min(NC, j.N - jc);
    for (let pc = 0; pc < j.K; pc += KC) {
      const kc = Math.min(KC, j.K - pc);
      k.packB(j.b + (pc * j.sbk + jc * j.sbn) * 4, j.sbk * 4, j.sbn * 4, kc, nc, s.bPanel);
      for (let ic = 0; ic < j.M; ic += MC) {
        const mc = Math.min(MC, j.M - ic);
        k.packA(j.a + (ic * j.sam + pc * j.sak) * 4, j.sam * 4, j.sak * 4, mc, kc, s.aPanel);
        const c = j.c + (ic * j.ldc + jc) * 4;
        k.macro(mc, nc, kc, s.aPanel, s.bPanel, c, j.ldc * 4, s.tile, pc === 0 ? overwrite : 0);
      }
    }
  }
}

/**
 * A B operand [K, N] packed once into panels that stay in wasm memory, for
 * a caller that multiplies many A's by the same B (a recurrent layer's
 * weight, once per time step): each product then packs only its A.
 */
export interface PackedB {
  K: number;
  N: number;
  /** Depth and column block sizes the panels were packed with. */
  kc: number;
  nc: number;
  /** Byte address of the panel of column block jc, depth block pc: panels[jc][pc]. */
  panels: number[][];
}

/** Bytes packBOnce needs for a [K, N] operand (panels end to end). */
export function packedBBytes(blk: Blocking, nr: number, K: number, N: number): number {
  const kc = evenBlock(K, blk.kc, 4);
  let bytes = 0;
  for (let jc = 0; jc < N; jc += blk.nc) {
    const nc = Math.ceil(Math.min(blk.nc, N - jc) / nr) * nr;
    for (let pc = 0; pc < K; pc += kc) bytes += align(Math.min(kc, K - pc) * nc * 4);
  }
  return bytes;
}

/** Packs B [K, N] at byte address b (element strides sbk, sbn) into panels from byte `at`. */
export function packBOnce(
  k: GemmExports,
  blk: Blocking,
  nr: number,
  b: number,
  sbk: number,
  sbn: number,
  K: number,
  N: number,
  at: number,
): PackedB {
  const kc = evenBlock(K, blk.kc, 4);
  const panels: number[][] = [];
  for (let jc = 0; jc < N; jc += blk.nc) {
    const nc = Math.min(blk.nc, N - jc);
    const row: number[] = [];
    for (let pc = 0; pc < K; pc += kc) {
      const depth = Math.min(kc, K - pc);
      k.packB(b + (pc * sbk + jc * sbn) * 4, sbk * 4, sbn * 4, depth, nc, at);
      row.push(at);
      at += align(depth * Math.ceil(nc / nr) * nr * 4);
    }
    panels.push(row);
  }
  return { K, N, kc, nc: blk.nc, panels };
}

/**
 * C [M, N] (=, or += with acc 1) A [M, K] · B for a B packed by packBOnce:
 * runGemm's loop without its packB. Single thread, scratch `s` (its B
 * panel is not used).
 */
export function runPackedB(
  k: GemmExports,
  blk: Blocking,
  p: PackedB,
  a: number,
  sam: number,
  sak: number,
  M: number,
  c: number,
  ldc: number,
  acc: number,
  s: GemmScratch,
): void {
  const MC = evenBlock(M, blk.mc, 4);
  const overwrite = acc ? 0 : 1;
  for (let jc = 0, bj = 0; jc < p.N; jc += p.nc, bj++) {
    const nc = Math.min(p.nc, p.N - jc);
    for (let pc = 0, bp = 0; pc < p.K; pc += p.kc, bp++) {
      const kc = Math.min(p.kc, p.K - pc);
      const panel = p.panels[bj]![bp]!;
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        k.packA(a + (ic * sam + pc * sak) * 4, sam * 4, sak * 4, mc, kc, s.aPanel);
        k.macro(
          mc,
          nc,
          kc,
          s.aPanel,
          panel,
          c + (ic * ldc + jc) * 4,
          ldc * 4,
          s.tile,
          pc === 0 ? overwrite : 0,
        );
      }
    }
  }
}

/** The size of ⌈n / max⌉ equal blocks covering n, rounded up to a multiple of `unit` (never above max). */
function evenBlock(n: number, max: number, unit: number): number {
  if (n <= max) return n;
  const even = Math.ceil(Math.ceil(n / Math.ceil(n / max)) / unit) * unit;
  return Math.min(even, max);
}

/**
 * Per-thread scratch for jobs up to M×K×N: its size in bytes and where the
 * two panels start inside it.
 */
export function scratchLayout(
  blk: Blocking,
  mr: number,
  nr: number,
  M: number,
  K: number,
  N: number,
): { bytes: number; aPanel: number; bPanel: number } {
  const kc = Math.min(blk.kc, K);
  const nc = Math.min(blk.nc, Math.ceil(N / nr) * nr);
  const mc = Math.min(blk.mc, Math.ceil(M / mr) * mr);
  const aPanel = align(mr * nr * 4);
  const bPanel = aPanel + align(mc * kc * 4);
  return { bytes: bPanel + align(kc * nc * 4), aPanel, bPanel };
}

export function align(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}
