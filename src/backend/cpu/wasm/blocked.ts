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

/** One C[M×N] += A[M×K]·B[K×N] over wasm memory: byte addresses, strides in elements. */
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
  /** Scratch of this thread: the spill tile and the two panels. */
  tile: number;
  aPanel: number;
  bPanel: number;
}

/** Field order when a job travels to a worker as 14 int32s. */
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
  "tile",
  "aPanel",
  "bPanel",
] as const;

export function runGemm(k: GemmExports, { mc: MC, kc: KC, nc: NC }: Blocking, j: GemmJob): void {
  for (let jc = 0; jc < j.N; jc += NC) {
    const nc = Math.min(NC, j.N - jc);
    for (let pc = 0; pc < j.K; pc += KC) {
      const kc = Math.min(KC, j.K - pc);
      k.packB(j.b + (pc * j.sbk + jc * j.sbn) * 4, j.sbk * 4, j.sbn * 4, kc, nc, j.bPanel);
      for (let ic = 0; ic < j.M; ic += MC) {
        const mc = Math.min(MC, j.M - ic);
        k.packA(j.a + (ic * j.sam + pc * j.sak) * 4, j.sam * 4, j.sak * 4, mc, kc, j.aPanel);
        k.macro(mc, nc, kc, j.aPanel, j.bPanel, j.c + (ic * j.ldc + jc) * 4, j.ldc * 4, j.tile);
      }
    }
  }
}

/** Bytes of per-thread scratch (tile + panels) for problems up to M×K×N. */
export function panelBytes(
  blk: Blocking,
  mr: number,
  nr: number,
  M: number,
  K: number,
  N: number,
): number {
  const kc = Math.min(blk.kc, K);
  const nc = Math.min(blk.nc, Math.ceil(N / nr) * nr);
  const mc = Math.min(blk.mc, Math.ceil(M / mr) * mr);
  return align(mr * nr * 4) + align(mc * kc * 4) + align(kc * nc * 4);
}

export function align(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}
