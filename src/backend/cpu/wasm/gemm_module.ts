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
  /**
   * macro(mc, nc, kc, aPanel, bPanel, c, ldcBytes, tile, first):
   * C[mc×nc] += Apanel · Bpanel, or C = Apanel · Bpanel when `first` is 1
   * (the first depth block: C needs no zeroing beforehand).
   */
  macro(
    mc: number,
    nc: number,
    kc: number,
    ap: number,
    bp: number,
    c: number,
    ldc: number,
    tile: number,
    first: number,
  ): void;
}

export function gemmModule(
  cfg: GemmConfig,
  memory: { pages: number; maxPages?: number; shared?: boolean },
): Uint8Array {
  const m = new ModuleBuilder();
  m.func("packA", ["i32", "i32", "i32", "i32", "i32", "i32"], [], (c) => emitPackA(c, cfg));
  m.func("packB", ["i32", "i32", "i32", "i32", "i32", "i32"], [], (c) => emitPackB(c, cfg));
  m.func("macro", ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"], [], (c) =>
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
            const strided = () =>
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
            // A transposed (Aᵀ·dY, a weight's gradient): the MR rows of a k sit side by side.
            const columns = () => {
              c.localGet(a).localGet(i0).i32Const(2).op(I32.shl, I32.add).localSet(p);
              c.for(
                k,
                () => c.i32Const(0),
                () => c.localGet(kc),
                1,
                () => {
                  for (let v = 0; v < mr / 4; v++) {
                    c.localGet(dst)
                      .localGet(p)
                      .simdMem(V128.load, v * 16, 2)
                      .simdMem(V128.store, v * 16, 2);
                  }
                  c.inc(p, () => c.localGet(sak));
                  c.inc(dst, mr * 4);
                },
              );
            };
            // A row-major (x·Wᵀ's x, or dY): 4 k of each row in one load, transposed in registers.
            const rows = () =>
              c
                .localGet(sak)
                .i32Const(4)
                .op(I32.eq)
                .if(() => emitPackARows(c, { a, sam, kc, dst, i0, k, p }), strided);
            if (mr % 4 !== 0) strided();
            else
              c.localGet(sam)
                .i32Const(4)
                .op(I32.eq)
                .if(columns, mr === 4 ? rows : strided);
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

/**
 * A full 4-row sliver of an A whose k runs contiguous: four k at a time,
 * one vector load per row, and a 4×4 transpose in registers turns 4 rows ×
 * 4 k into the sliver's 4 k × 4 rows. The k left over (kc mod 4) go one
 * float at a time.
 */
function emitPackARows(
  c: Code,
  l: { a: number; sam: number; kc: number; dst: number; i0: number; k: number; p: number },
): void {
  const row = Array.from({ length: 4 }, () => c.local("v128"));
  const lo = [c.local("v128"), c.local("v128")];
  const hi = [c.local("v128"), c.local("v128")];
  const q = c.local("i32");
  // p = a + i0·sam: row i0's first k.
  c.localGet(l.a).localGet(l.i0).localGet(l.sam).op(I32.mul, I32.add).localSet(l.p);
  c.for(
    l.k,
    () => c.i32Const(0),
    () => c.localGet(l.kc).i32Const(3).op(I32.sub),
    4,
    () => {
      c.localGet(l.p).localGet(l.k).i32Const(2).op(I32.shl, I32.add).localSet(q);
      for (let r = 0; r < 4; r++) {
        c.localGet(q).simdMem(V128.load, 0, 2).localSet(row[r]!);
        if (r < 3) c.inc(q, () => c.localGet(l.sam));
      }
      transpose4(c, row as [number, number, number, number], lo, hi, l.dst, (t) => t * 16);
      c.inc(l.dst, 64);
    },
  );
  c.for(
    l.k,
    () => c.localGet(l.k),
    () => c.localGet(l.kc),
    1,
    () => {
      c.localGet(l.p).localGet(l.k).i32Const(2).op(I32.shl, I32.add).localSet(q);
      for (let r = 0; r < 4; r++) {
        c.localGet(l.dst)
          .localGet(q)
          .mem(F32.load)
          .mem(F32.store, r * 4);
        if (r < 3) c.inc(q, () => c.localGet(l.sam));
      }
      c.inc(l.dst, 16);
    },
  );
}

/**
 * Stores the 4×4 transpose of four vectors (vector t holds lane t of each)
 * at byte offsets at(t) from the address in local `dst`.
 */
function transpose4(
  c: Code,
  [r0, r1, r2, r3]: [number, number, number, number],
  lo: number[],
  hi: number[],
  dst: number,
  at: (t: number) => number,
): void {
  // [r0₀ r1₀ r0₁ r1₁], [r0₂ r1₂ r0₃ r1₃], and the same of r2, r3.
  c.localGet(r0).localGet(r1);
  shuffle(c, [0, 4, 1, 5]).localSet(lo[0]!);
  c.localGet(r0).localGet(r1);
  shuffle(c, [2, 6, 3, 7]).localSet(hi[0]!);
  c.localGet(r2).localGet(r3);
  shuffle(c, [0, 4, 1, 5]).localSet(lo[1]!);
  c.localGet(r2).localGet(r3);
  shuffle(c, [2, 6, 3, 7]).localSet(hi[1]!);
  for (let t = 0; t < 4; t++) {
    const [x, y] = t < 2 ? [lo[0]!, lo[1]!] : [hi[0]!, hi[1]!];
    c.localGet(dst).localGet(x).localGet(y);
    shuffle(c, t % 2 === 0 ? [0, 1, 4, 5] : [2, 3, 6, 7]);
    c.simdMem(V128.store, at(t), 2);
  }
}

function emitPackB(c: Code, cfg: GemmConfig): void {
  const { nv } = cfg;
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
        .op(I32.and)
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
          () =>
            c
              .localGet(w)
              .i32Const(nr)
              .op(I32.eq)
              .localGet(sbk)
              .i32Const(4)
              .op(I32.eq)
              .op(I32.and)
              .if(
                () => emitPackBTransposed(c, cfg, { b, sbn, kc, dst, j0, k, p }),
                () => emitPackBStrided(c, cfg, { b, sbk, sbn, kc, dst, j0, w, k, jj }),
              ),
        );
    },
  );
}

/**
 * A full sliver of a B whose k runs contiguous (x·Wᵀ with W stored
 * [out, in]): four k at a time, one vector load per column, and two 4×4
 * transposes in registers turn NR columns × 4 k into 4 rows of the sliver.
 * The k left over (kc mod 4) go one float at a time.
 */
function emitPackBTransposed(
  c: Code,
  { nv }: GemmConfig,
  l: { b: number; sbn: number; kc: number; dst: number; j0: number; k: number; p: number },
): void {
  const nr = nv * 4;
  const col = Array.from({ length: nr }, () => c.local("v128"));
  const lo = [c.local("v128"), c.local("v128")];
  const hi = [c.local("v128"), c.local("v128")];
  const q = c.local("i32");
  // p = b + j0·sbn: column j0's first k.
  c.localGet(l.b).localGet(l.j0).localGet(l.sbn).op(I32.mul, I32.add).localSet(l.p);
  c.for(
    l.k,
    () => c.i32Const(0),
    () => c.localGet(l.kc).i32Const(3).op(I32.sub),
    4,
    () => {
      c.localGet(l.p).localGet(l.k).i32Const(2).op(I32.shl, I32.add).localSet(q);
      for (let j = 0; j < nr; j++) {
        c.localGet(q).simdMem(V128.load, 0, 2).localSet(col[j]!);
        if (j < nr - 1) c.inc(q, () => c.localGet(l.sbn));
      }
      for (let v = 0; v < nv; v++) {
        const four = col.slice(v * 4, v * 4 + 4) as [number, number, number, number];
        // Row t of the sliver (k + t) gets lane t of the four columns.
        transpose4(c, four, lo, hi, l.dst, (t) => (t * nr + v * 4) * 4);
      }
      c.inc(l.dst, 4 * nr * 4);
    },
  );
  // The last kc mod 4 rows; k already stands at the first of them.
  c.for(
    l.k,
    () => c.localGet(l.k),
    () => c.localGet(l.kc),
    1,
    () => {
      c.localGet(l.p).localGet(l.k).i32Const(2).op(I32.shl, I32.add).localSet(q);
      for (let j = 0; j < nr; j++) {
        c.localGet(l.dst)
          .localGet(q)
          .mem(F32.load)
          .mem(F32.store, j * 4);
        if (j < nr - 1) c.inc(q, () => c.localGet(l.sbn));
      }
      c.inc(l.dst, nr * 4);
    },
  );
}

/** i8x16.shuffle picking four f32 lanes from the two operands (lanes 0–3 the first, 4–7 the second). */
function shuffle(c: Code, lanes: [number, number, number, number]): Code {
  c.simd(V128.i8x16Shuffle);
  for (const lane of lanes) for (let byte = 0; byte < 4; byte++) c.op(lane * 4 + byte);
  return c;
}

/** Any strides, ragged slivers zero-padded: one float at a time. */
function emitPackBStrided(
  c: Code,
  { nv }: GemmConfig,
  l: {
    b: number;
    sbk: number;
    sbn: number;
    kc: number;
    dst: number;
    j0: number;
    w: number;
    k: number;
    jj: number;
  },
): void {
  const nr = nv * 4;
  const { b, sbk, sbn, kc, dst, j0, w, k, jj } = l;
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
}

function emitMacro(c: Code, { mr, nv, fma }: GemmConfig): void {
  const nr = nv * 4;
  const [mc, nc, kc, ap, bp, cp, ldc, tile, first] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
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
            .op(I32.and)
            .if(
              () => {
                // The first depth block writes C; later ones add to it.
                c.localGet(first).if(
                  () => {
                    for (let r = 0; r < mr; r++) {
                      for (let v = 0; v < nv; v++) {
                        c.localGet(pc)
                          .localGet(acc[r]![v]!)
                          .simdMem(V128.store, v * 16, 2);
                      }
                      if (r < mr - 1) c.inc(pc, () => c.localGet(ldc));
                    }
                  },
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
                );
              },
              () => {
                // Overhanging tile: spill to scratch, add the part inside C (to 0 when first).
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
                        c.localGet(first).if(
                          () => c.op(...F32.const0),
                          () =>
                            c
                              .localGet(pc)
                              .localGet(jj)
                              .i32Const(2)
                              .op(I32.shl, I32.add)
                              .mem(F32.load),
                          "f32",
                        );
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
