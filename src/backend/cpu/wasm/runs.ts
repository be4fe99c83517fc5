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
// negative src means "fill with zeros" (padding reads, junk grid columns):
// −4 a run of zeros, −4·step zeros `step` floats apart (a padding column).

// A negative length −n marks a run with a step of two floats on one side:
// in a copy table the source (stride-2 im2col: a row of outputs reads every
// other input), in an add table the destination (its col2im). Such layers
// otherwise have runs of one float, and the per-run cost (three table
// loads, loop control) was most of their data movement.

/** Bytes per table entry. */
export const RUN_BYTES = 12;

/** f32x4 lanes of the i8x16 shuffle that picks them (0–3: first operand, 4–7: second). */
function shuffle(c: Code, lanes: [number, number, number, number]): Code {
  c.simd(V128.i8x16Shuffle);
  for (const lane of lanes) for (let byte = 0; byte < 4; byte++) c.op(lane * 4 + byte);
  return c;
}

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
  const v = c.local("v128");
  c.localGet(SRC).localSet(sb);
  c.localGet(DST).localSet(db);
  // Whole vectors (4 floats, dBytes and oBytes on each side) while at least
  // `least` floats are left, then the rest one float at a time.
  const body = (
    least: number,
    dBytes: number,
    oBytes: number,
    vector: () => void,
    scalar: () => void,
  ) => {
    c.block(() =>
      c.loop(() => {
        c.localGet(n).i32Const(least).op(I32.ltS).brIf(1);
        vector();
        c.inc(d, dBytes).inc(o, oBytes).inc(n, -4).br(0);
      }),
    );
    c.block(() =>
      c.loop(() => {
        c.localGet(n).i32Const(1).op(I32.ltS).brIf(1);
        scalar();
        c.inc(d, dBytes / 4)
          .inc(o, oBytes / 4)
          .inc(n, -1)
          .br(0);
      }),
    );
  };
  const scalarCopy = () => c.localGet(d).localGet(o).mem(F32.load, 0).mem(F32.store, 0);
  const scalarAdd = () =>
    c
      .localGet(d)
      .localGet(d)
      .mem(F32.load, 0)
      .localGet(o)
      .mem(F32.load, 0)
      .op(F32.add)
      .mem(F32.store, 0);
  const contiguous = () => {
    if (add)
      body(
        4,
        16,
        16,
        () =>
          c
            .localGet(d)
            .localGet(d)
            .simdMem(V128.load, 0, 2)
            .localGet(o)
            .simdMem(V128.load, 0, 2)
            .simd(V128.f32x4Add)
            .simdMem(V128.store, 0, 2),
        scalarAdd,
      );
    else
      body(
        4,
        16,
        16,
        () => c.localGet(d).localGet(o).simdMem(V128.load, 0, 2).simdMem(V128.store, 0, 2),
        scalarCopy,
      );
  };
  const strided = () => {
    if (add) {
      // dst every other float: the 4 source floats spread over 8 lanes with
      // −0 between them, the identity of IEEE addition (x + −0 is x, −0
      // included), so the untouched lanes keep their bits. At least 5 left:
      // the 8 lanes then stay inside the run, never touching floats (of
      // another sample, on another thread) past its end.
      const half = (offset: number, lanes: [number, number, number, number]) => {
        c.localGet(d).localGet(d).simdMem(V128.load, offset, 2);
        shuffle(c.localGet(v).f32x4Const(-0), lanes);
        c.simd(V128.f32x4Add).simdMem(V128.store, offset, 2);
      };
      body(
        5,
        32,
        16,
        () => {
          c.localGet(o).simdMem(V128.load, 0, 2).localSet(v);
          half(0, [0, 4, 1, 4]);
          half(16, [2, 4, 3, 4]);
        },
        scalarAdd,
      );
    } else {
      // src every other float: the even lanes of two vectors (reading one
      // float past the run, harmless for a read).
      body(
        4,
        16,
        32,
        () => {
          c.localGet(d).localGet(o).simdMem(V128.load, 0, 2).localGet(o).simdMem(V128.load, 16, 2);
          shuffle(c, [0, 2, 4, 6]).simdMem(V128.store, 0, 2);
        },
        scalarCopy,
      );
    }
  };
  const moveOrStride = () => {
    c.localGet(sb).localGet(o).op(I32.add).localSet(o);
    c.localGet(n)
      .i32Const(0)
      .op(I32.ltS)
      .if(() => {
        c.i32Const(0).localGet(n).op(I32.sub).localSet(n);
        strided();
      }, contiguous);
  };
  // A zero-fill (−4·step, n): n zeros `step` floats apart; step 1 in vectors.
  const zeros = () =>
    c
      .localGet(o)
      .i32Const(-4)
      .op(I32.eq)
      .if(
        () =>
          body(
            4,
            16,
            16,
            () => c.localGet(d).f32x4Zero().simdMem(V128.store, 0, 2),
            () =>
              c
                .localGet(d)
                .op(...F32.const0)
                .mem(F32.store, 0),
          ),
        () =>
          c.block(() =>
            c.loop(() => {
              c.localGet(n).i32Const(1).op(I32.ltS).brIf(1);
              c.localGet(d)
                .op(...F32.const0)
                .mem(F32.store, 0);
              c.localGet(d).localGet(o).op(I32.sub).localSet(d);
              c.inc(n, -1).br(0);
            }),
          ),
      );
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
          if (add) moveOrStride();
          else c.localGet(o).i32Const(0).op(I32.ltS).if(zeros, moveOrStride);
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

let merging = true;

/**
 * Whether new RunTables use step-2 runs and copy across padding (on by
 * default; off gives the plain one-step runs, for tests and A/B timing).
 */
export function setRunMerging(on: boolean): void {
  merging = on;
}

export function runMerging(): boolean {
  return merging;
}

/**
 * Collects (dst, src) element pairs, in order, into a run table: pairs
 * that continue the previous one on both sides (or zero-fills that follow
 * a zero-fill, src −1) extend its run. Two pairs that step by two floats on
 * the strided side (the source of a "copy" table, the destination of an
 * "add" one) start a step-2 run.
 *
 * A copy run also continues across zero-fills when the source it would
 * read there lies on its line: a stride-1 padded convolution then reads a
 * whole shifted plane as one run, and the padding columns it crossed are
 * zeroed by entries after the run ("patches": the table keeps them last,
 * so every sample's copies come before its patches). The run only writes
 * where the table writes anyway, and only reads between sources it reads.
 *
 * @example
 * const b = new RunTable();
 * b.add(0, 10); b.add(1, 11); b.add(2, -1);
 * b.table(); // Int32Array [0, 40, 2, 8, -4, 1]
 */
export class RunTable {
  private readonly out: number[] = [];
  private readonly patches: number[] = [];
  private readonly merge = merging;
  private dst = -2;
  private src = -2;
  private len = 0;
  /** 1, or 2: a step-2 run (on the strided side). */
  private step = 1;
  /** Zero-fills pending after a copy run, which it may still cross. */
  private gap = 0;

  constructor(private readonly kind: "copy" | "add" = "copy") {}

  add(dst: number, src: number): void {
    const { len, step } = this;
    if (len > 0) {
      if (src < 0) {
        if (this.src < 0 && dst === this.dst + len) {
          this.len++;
          return;
        }
        if (this.merge && this.kind === "copy" && step === 1 && dst === this.dst + len + this.gap) {
          this.gap++;
          return;
        }
      } else if (this.src >= 0) {
        const span = len + this.gap;
        if (step === 1 && dst === this.dst + span && src === this.src + span) {
          // A copy patches the crossed destinations; an add, the crossed sources.
          const at = this.kind === "copy" ? this.dst + len : this.src + len;
          if (this.gap > 0) this.patches.push(at, this.gap);
          this.len = span + 1;
          this.gap = 0;
          return;
        }
        if (this.merge && this.gap === 0) {
          const [ds, ss] = this.kind === "copy" ? [1, 2] : [2, 1];
          if (
            (len === 1 || step === 2) &&
            dst === this.dst + ds * len &&
            src === this.src + ss * len
          ) {
            this.step = 2;
            this.len++;
            return;
          }
        }
      }
    }
    this.flush();
    this.dst = dst;
    this.src = src < 0 ? -1 : src;
    this.len = 1;
  }

  /**
   * An add table's source element that adds nowhere (a padding read of
   * col2im): an add run may cross such sources, once they are zeroed.
   */
  skip(src: number): void {
    const adjacent = this.len > 0 && this.step === 1 && src === this.src + this.len + this.gap;
    if (this.merge && this.kind === "add" && adjacent) this.gap++;
  }

  /** The int32 triples (dst bytes, src bytes or −4·step, length; −length: a step-2 run). */
  table(): Int32Array {
    this.flush();
    if (this.kind === "copy") this.out.push(...zeroFills(this.patches));
    return Int32Array.from(this.out);
  }

  /**
   * An add table's crossed sources as a copy table of zero-fills, to run
   * over the source before the adds. Adding +0 changes no bits of a sum
   * that started at +0 (col2im's grad x): such a sum is never −0.
   */
  crossed(): Int32Array {
    this.flush();
    return Int32Array.from(this.kind === "add" ? zeroFills(this.patches) : []);
  }

  private flush(): void {
    if (this.len > 0) {
      const src = this.src < 0 ? -4 : this.src * 4;
      this.out.push(this.dst * 4, src, this.step === 2 ? -this.len : this.len);
      if (this.gap > 0 && this.kind === "copy")
        this.out.push((this.dst + this.len) * 4, -4, this.gap);
    }
    this.len = 0;
    this.step = 1;
    this.gap = 0;
  }
}

/** (at, length) patches as zero-fills; single floats evenly apart (a padding column) make one. */
function zeroFills(ps: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < ps.length; ) {
    let count = 1;
    const step = ps[i + 1] === 1 && ps[i + 3] === 1 ? ps[i + 2]! - ps[i]! : 0;
    if (step > 0)
      while (ps[i + 2 * count + 1] === 1 && ps[i + 2 * count]! - ps[i + 2 * count - 2]! === step)
        count++;
    if (count > 1) out.push(ps[i]! * 4, -4 * step, count);
    else out.push(ps[i]! * 4, -4, ps[i + 1]!);
    i += 2 * count;
  }
  return out;
}
