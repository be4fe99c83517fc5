import { type Code, F32, I32, ModuleBuilder, V128 } from "./emitter.js";

/**
 * The float32 GEMM kernels, emitted as WebAssembly SIMD128. The scheme is
 * the classic one of GotoBLAS/BLIS: the caller cuts C = A·B into blocks,
 * `packA` and `packB` copy a block of each operand into panels laid out in
 * exactly the order the inner kernel reads them (any strides in, so a
 * transposed operand costs nothing extra), and `macro` sweeps an MR×NR
 * register tile of C over the block, each tile a rank-kc update held in
 * SIMD registers.
 *
 * Panel layouts (f32 elements):
 *   A panel: slivers of MR rows; sliver s holds A[s·MR + r, k] at s·kc·MR + k·MR + r.
 *   B panel: slivers of NR columns; sliver s holds B[k, s·NR + j] at s·kc·NR + k·NR + j.
 * Ragged edges are zero-padded, so the inner kernel always runs full tiles;
 * a tile that overhangs C goes through a scratch tile.
 */
export interface GemmConfig {
  /** Rows of the register tile. */
  mr: number;
  /** Columns of the register tile, in 4-lane vectors (NR = 4·nv). */
  nv: number;
  /** Use relaxed-SIMD fused multiply-add (only when the runtime validates it). */
  fma: boolean;
}

export interface GemmExports {
  /** packA(a, samBytes, sakBytes, mc, kc, dst): pack an mc×kc block of A at byte address a. */
  packA(a: number, sam: number, sak: number, mc: number, kc: number, dst: number): void;
  /** packB(b, sbkBytes, sbnBytes, kc, nc, dst): pack a kc×nc block of B at byte address b. */
  packB(b: number, sbk: number, sbn: number, kc: number, nc: number, dst: number): void;
  /** macro(mc, nc, kc, aPanel, bPanel, c, ldcBytes, tile): C[mc×nc] += Apanel · Bpanel. */
  macro(
    mc: number,
    nc: number,
    kc: number,
    ap: number,
    bp: number,
    c: number,
    ldc: number,
    tile: number,
  ): void;
}

export function gemmModule(
  cfg: GemmConfig,
  memory: { pages: number; maxPages?: number; shared?: boolean },
): Uint8Array {
  const m = new ModuleBuilder();
  m.func("packA", ["i32", "i32", "i32", "i32", "i32", "i32"], [], (c) => emitPackA(c, cfg));
  m.func("packB", ["i32", "i32", "i32", "i32", "i32", "i32"], [], (c) => emitPackB(c, cfg));
  m.func("macro", ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"], [], (c) =>
    emitMacro(c, cfg),
  );
  return m.bytes(memory);
}

/** min(cap, limit - start) into `out`. */
function emitMin(c: Code, out: number, cap: number, limit: number, start: number): void {
  c.localGet(limit).localGet(start).op(I32.sub).localSet(out);
  c.localGet(out)
    .i32Const(cap)
    .op(I32.gtS)
    .if(() => {
      c.i32Const(cap).localSet(out);
    });
}

function emitPackA(c: Code, { mr }: GemmConfig): void {
  const [a, sam, sak, mc, kc, dst] = [0, 1, 2, 3, 4, 5];
  const i0 = c.local("i32");
  const k = c.local("i32");
  const h = c.local("i32");
  const p = c.local("i32");
  const ii = c.local("i32");
  c.for(
    i0,
    () => c.i32Const(0),
    () => c.localGet(mc),
    mr,
    () => {
      emitMin(c, h, mr, mc, i0);
      c.localGet(h)
        .i32Const(mr)
        .op(I32.eq)
        .if(
          () => {
            // Full sliver: MR strided loads per k, one after another.
            c.for(
              k,
              () => c.i32Const(0),
              () => c.localGet(kc),
              1,
              () => {
                c.localGet(a).localGet(i0).localGet(sam).op(I32.mul, I32.add);
                c.localGet(k).localGet(sak).op(I32.mul, I32.add).localSet(p);
                for (let r = 0; r < mr; r++) {
                  c.localGet(dst)
                    .localGet(p)
                    .mem(F32.load)
                    .mem(F32.store, r * 4);
                  if (r < mr - 1) c.inc(p, () => c.localGet(sam));
                }
                c.inc(dst, mr * 4);
              },
            );
          },
          () => {
            // Ragged sliver: the rows that exist, then zeros.
            c.for(
              k,
              () => c.i32Const(0),
              () => c.localGet(kc),
              1,
              () => {
                c.for(
                  ii,
                  () => c.i32Const(0),
                  () => c.i32Const(mr),
                  1,
                  () => {
                    c.localGet(dst).localGet(ii).i32Const(2).op(I32.shl, I32.add);
                    c.localGet(ii)
                      .localGet(h)
                      .op(I32.ltS)
                      .if(
                        () => {
                          c.localGet(a)
                            .localGet(i0)
                            .localGet(ii)
                            .op(I32.add)
                            .localGet(sam)
                            .op(I32.mul, I32.add);
                          c.localGet(k).localGet(sak).op(I32.mul, I32.add).mem(F32.load);
                        },
                        () => c.op(...F32.const0),
                        "f32",
                      );
                    c.mem(F32.store);
                  },
                );
                c.inc(dst, mr * 4);
              },
            );
          },
        );
    },
  );
}

function emitPackB(c: Code, { nv }: GemmConfig): void {
  const nr = nv * 4;
  const [b, sbk, sbn, kc, nc, dst] = [0, 1, 2, 3, 4, 5];
  const j0 = c.local("i32");
  const k = c.local("i32");
  const w = c.local("i32");
  const p = c.local("i32");
  const jj = c.local("i32");
  c.for(
    j0,
    () => c.i32Const(0),
    () => c.localGet(nc),
    nr,
    () => {
      emitMin(c, w, nr, nc, j0);
      c.localGet(w)
        .i32Const(nr)
        .op(I32.eq)
        .localGet(sbn)
        .i32Const(4)
        .op(I32.eq)
        .op(0x71) // i32.and
        .if(
          () => {
            // Row-major B: each sliver row is NR contiguous floats.
            c.localGet(b).localGet(j0).i32Const(2).op(I32.shl, I32.add).localSet(p);
            c.for(
              k,
              () => c.i32Const(0),
              () => c.localGet(kc),
              1,
              () => {
                for (let v = 0; v < nv; v++) {
                  c.localGet(dst)
                    .localGet(p)
                    .simdMem(V128.load, v * 16, 2)
                    .simdMem(V128.store, v * 16, 2);
                }
                c.inc(p, () => c.localGet(sbk));
                c.inc(dst, nr * 4);
              },
            );
          },
          () => {
            c.for(
              k,
              () => c.i32Const(0),
              () => c.localGet(kc),
              1,
              () => {
                c.for(
                  jj,
                  () => c.i32Const(0),
                  () => c.i32Const(nr),
                  1,
                  () => {
                    c.localGet(dst).localGet(jj).i32Const(2).op(I32.shl, I32.add);
                    c.localGet(jj)
                      .localGet(w)
                      .op(I32.ltS)
                      .if(
                        () => {
                          c.localGet(b)
                            .localGet(j0)
                            .localGet(jj)
                            .op(I32.add)
                            .localGet(sbn)
                            .op(I32.mul, I32.add);
                          c.localGet(k).localGet(sbk).op(I32.mul, I32.add).mem(F32.load);
                        },
                        () => c.op(...F32.const0),
                        "f32",
                      );
                    c.mem(F32.store);
                  },
                );
                c.inc(dst, nr * 4);
              },
            );
          },
        );
    },
  );
}

function emitMacro(c: Code, { mr, nv, fma }: GemmConfig): void {
  const nr = nv * 4;
  const [mc, nc, kc, ap, bp, cp, ldc, tile] = [0, 1, 2, 3, 4, 5, 6, 7];
  const jr = c.local("i32");
  const ir = c.local("i32");
  const pa = c.local("i32");
  const pb = c.local("i32");
  const kk = c.local("i32");
  const h = c.local("i32");
  const w = c.local("i32");
  const pc = c.local("i32");
  const ii = c.local("i32");
  const jj = c.local("i32");
  const acc: number[][] = [];
  for (let r = 0; r < mr; r++) acc.push(Array.from({ length: nv }, () => c.local("v128")));
  const bv = Array.from({ length: nv }, () => c.local("v128"));
  const av = c.local("v128");

  c.for(
    jr,
    () => c.i32Const(0),
    () => c.localGet(nc),
    nr,
    () => {
      emitMin(c, w, nr, nc, jr);
      c.for(
        ir,
        () => c.i32Const(0),
        () => c.localGet(mc),
        mr,
        () => {
          emitMin(c, h, mr, mc, ir);
          // pa = ap + ir·kc·4, pb = bp + jr·kc·4: the two slivers of this tile.
          c.localGet(ap)
            .localGet(ir)
            .localGet(kc)
            .op(I32.mul)
            .i32Const(2)
            .op(I32.shl, I32.add)
            .localSet(pa);
          c.localGet(bp)
            .localGet(jr)
            .localGet(kc)
            .op(I32.mul)
            .i32Const(2)
            .op(I32.shl, I32.add)
            .localSet(pb);
          for (const row of acc) for (const x of row) c.f32x4Zero().localSet(x);
          c.localGet(kc).localSet(kk);
          // The register tile: per k, NV vectors of B times MR broadcasts of A.
          c.loop(() => {
            for (let v = 0; v < nv; v++)
              c.localGet(pb)
                .simdMem(V128.load, v * 16, 2)
                .localSet(bv[v]!);
            for (let r = 0; r < mr; r++) {
              c.localGet(pa)
                .simdMem(V128.load32Splat, r * 4, 2)
                .localSet(av);
              for (let v = 0; v < nv; v++) {
                if (fma) {
                  c.localGet(av).localGet(bv[v]!).localGet(acc[r]![v]!).simd(V128.f32x4RelaxedMadd);
                } else {
                  c.localGet(acc[r]![v]!)
                    .localGet(av)
                    .localGet(bv[v]!)
                    .simd(V128.f32x4Mul)
                    .simd(V128.f32x4Add);
                }
                c.localSet(acc[r]![v]!);
              }
            }
            c.inc(pa, mr * 4).inc(pb, nr * 4);
            c.localGet(kk).i32Const(1).op(I32.sub).localTee(kk).brIf(0);
          });
          // pc = c + ir·ldc + jr·4: the tile's corner in C.
          c.localGet(cp).localGet(ir).localGet(ldc).op(I32.mul, I32.add);
          c.localGet(jr).i32Const(2).op(I32.shl, I32.add).localSet(pc);
          c.localGet(h)
            .i32Const(mr)
            .op(I32.eq)
            .localGet(w)
            .i32Const(nr)
            .op(I32.eq)
            .op(0x71)
            .if(
              () => {
                for (let r = 0; r < mr; r++) {
                  for (let v = 0; v < nv; v++) {
                    c.localGet(pc)
                      .localGet(pc)
                      .simdMem(V128.load, v * 16, 2)
                      .localGet(acc[r]![v]!)
                      .simd(V128.f32x4Add);
                    c.simdMem(V128.store, v * 16, 2);
                  }
                  if (r < mr - 1) c.inc(pc, () => c.localGet(ldc));
                }
              },
              () => {
                // Overhanging tile: spill to scratch, add the part inside C.
                for (let r = 0; r < mr; r++) {
                  for (let v = 0; v < nv; v++) {
                    c.localGet(tile)
                      .localGet(acc[r]![v]!)
                      .simdMem(V128.store, (r * nr + v * 4) * 4, 2);
                  }
                }
                c.for(
                  ii,
                  () => c.i32Const(0),
                  () => c.localGet(h),
                  1,
                  () => {
                    c.for(
                      jj,
                      () => c.i32Const(0),
                      () => c.localGet(w),
                      1,
                      () => {
                        c.localGet(pc).localGet(jj).i32Const(2).op(I32.shl, I32.add);
                        c.localGet(pc).localGet(jj).i32Const(2).op(I32.shl, I32.add).mem(F32.load);
                        c.localGet(tile)
                          .localGet(ii)
                          .i32Const(nr)
                          .op(I32.mul)
                          .localGet(jj)
                          .op(I32.add);
                        c.i32Const(2).op(I32.shl, I32.add).mem(F32.load);
                        c.op(F32.add).mem(F32.store);
                      },
                    );
                    c.inc(pc, () => c.localGet(ldc));
                  },
                );
              },
            );
        },
      );
    },
  );
}
