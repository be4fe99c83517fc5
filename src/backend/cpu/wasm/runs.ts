import { type Code, F32, I32, ModuleBuilder, V128 } from "./emitter.js";
import { memoryLimits } from "./runtime.js";

// Copies and adds of "runs" (stretches of consecutive floats) inside wasm
// memory, driven by a table: the data movement of a convolution (im2col,
// its adjoint col2im, the output and gradient layouts) as data, so one pair
// of SIMD kernels serves every geometry. A scalar JS loop over runs of 8
// floats (a 5×5 conv on 12×12 planes) costs 1–3 ns a float in bounds checks
// and table reads; here a run is two vector moves.
//
// A table is int32 triples (dst, src, len): byte offsets and a length in
// floats. It is laid out for one sample and replayed for `samples` of them,
// each shifted by a source and a destination stride. In a copy table a
// negative src means "fill with zeros" (padding reads, junk grid columns).

/** Bytes per table entry. */
export const RUN_BYTES = 12;

/**
 * runs(table, count, src, srcStride, dst, dstStride, samples): for each
 * sample s and entry (d, o, n): dst + s·dstStride + d ← (or +=) the n
 * floats at src + s·srcStride + o.
 */
function emitRuns(c: Code, add: boolean): void {
  const [TABLE, COUNT, SRC, SSTRIDE, DST, DSTRIDE, SAMPLES] = [0, 1, 2, 3, 4, 5, 6];
  const s = c.local("i32");
  const e = c.local("i32");
  const t = c.local("i32");
  const d = c.local("i32");
  const o = c.local("i32");
  const n = c.local("i32");
  const sb = c.local("i32");
  const db = c.local("i32");
  c.localGet(SRC).localSet(sb);
  c.localGet(DST).localSet(db);
  c.for(
    s,
    () => c.i32Const(0),
    () => c.localGet(SAMPLES),
    1,
    () => {
      c.localGet(TABLE).localSet(t);
      c.for(
        e,
        () => c.i32Const(0),
        () => c.localGet(COUNT),
        1,
        () => {
          c.localGet(db).localGet(t).mem(I32.load, 0).op(I32.add).localSet(d);
          c.localGet(t).mem(I32.load, 4).localSet(o);
          c.localGet(t).mem(I32.load, 8).localSet(n);
          c.inc(t, RUN_BYTES);
          const body = (vector: () => void, scalar: () => void) => {
            // n ≥ 4: whole vectors, then the last 0–3 floats one by one.
            c.block(() =>
              c.loop(() => {
                c.localGet(n).i32Const(4).op(I32.ltS).brIf(1);
                vector();
                c.inc(d, 16).inc(o, 16).inc(n, -4).br(0);
              }),
            );
            c.block(() =>
              c.loop(() => {
                c.localGet(n).i32Const(1).op(I32.ltS).brIf(1);
                scalar();
                c.inc(d, 4).inc(o, 4).inc(n, -1).br(0);
              }),
            );
          };
          const copy = () => {
            c.localGet(sb).localGet(o).op(I32.add).localSet(o);
            body(
              () => c.localGet(d).localGet(o).simdMem(V128.load, 0, 2).simdMem(V128.store, 0, 2),
              () => c.localGet(d).localGet(o).mem(F32.load, 0).mem(F32.store, 0),
            );
          };
          if (add) {
            c.localGet(sb).localGet(o).op(I32.add).localSet(o);
            body(
              () =>
                c
                  .localGet(d)
                  .localGet(d)
                  .simdMem(V128.load, 0, 2)
                  .localGet(o)
                  .simdMem(V128.load, 0, 2)
                  .simd(V128.f32x4Add)
                  .simdMem(V128.store, 0, 2),
              () =>
                c
                  .localGet(d)
                  .localGet(d)
                  .mem(F32.load, 0)
                  .localGet(o)
                  .mem(F32.load, 0)
                  .op(F32.add)
                  .mem(F32.store, 0),
            );
          } else {
            c.localGet(o)
              .i32Const(0)
              .op(I32.ltS)
              .if(
                () =>
                  body(
                    () => c.localGet(d).f32x4Zero().simdMem(V128.store, 0, 2),
                    () =>
                      c
                        .localGet(d)
                        .op(...F32.const0)
                        .mem(F32.store, 0),
                  ),
                copy,
              );
          }
        },
      );
      c.inc(sb, () => c.localGet(SSTRIDE));
      c.inc(db, () => c.localGet(DSTRIDE));
    },
  );
}

/** The two kernels, over an imported memory (shared: the thread pool's). */
export function runsModule(shared = false): Uint8Array {
  const m = new ModuleBuilder();
  const params = ["i32", "i32", "i32", "i32", "i32", "i32", "i32"] as const;
  m.func("copyRuns", [...params], [], (c) => emitRuns(c, false));
  m.func("addRuns", [...params], [], (c) => emitRuns(c, true));
  return m.bytes(memoryLimits(shared));
}

const compiled = new Map<boolean, WebAssembly.Module>();

/** runsModule compiled once per kind of memory. */
export function compiledRuns(shared: boolean): WebAssembly.Module {
  let m = compiled.get(shared);
  if (!m) compiled.set(shared, (m = new WebAssembly.Module(runsModule(shared) as BufferSource)));
  return m;
}

/** The run kernels instantiated over `memory`. */
export function runsOver(memory: WebAssembly.Memory, shared: boolean): RunsExports {
  return new WebAssembly.Instance(compiledRuns(shared), { env: { memory } })
    .exports as unknown as RunsExports;
}

export interface RunsExports {
  copyRuns(
    table: number,
    count: number,
    src: number,
    srcStride: number,
    dst: number,
    dstStride: number,
    samples: number,
  ): void;
  addRuns(
    table: number,
    count: number,
    src: number,
    srcStride: number,
    dst: number,
    dstStride: number,
    samples: number,
  ): void;
}

/**
 * Collects (dst, src) element pairs, in order, into a run table: pairs
 * that continue the previous one on both sides (or zero-fills that follow
 * a zero-fill, src −1) extend its run.
 *
 * @example
 * const b = new RunTable();
 * b.add(0, 10); b.add(1, 11); b.add(2, -1);
 * b.table(); // Int32Array [0, 40, 2, 8, -4, 1]
 */
export class RunTable {
  private readonly out: number[] = [];
  private dst = -2;
  private src = -2;
  private len = 0;

  add(dst: number, src: number): void {
    const joins =
      this.len > 0 &&
      dst === this.dst + this.len &&
      (src < 0 ? this.src < 0 : this.src >= 0 && src === this.src + this.len);
    if (joins) {
      this.len++;
      return;
    }
    this.flush();
    this.dst = dst;
    this.src = src < 0 ? -1 : src;
    this.len = 1;
  }

  /** The int32 triples (dst bytes, src bytes or −4, length). */
  table(): Int32Array {
    this.flush();
    return Int32Array.from(this.out);
  }

  private flush(): void {
    if (this.len > 0) this.out.push(this.dst * 4, this.src < 0 ? -4 : this.src * 4, this.len);
    this.len = 0;
  }
}
