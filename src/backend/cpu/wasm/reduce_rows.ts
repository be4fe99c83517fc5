import type { TypedArray } from "../../../dtype.js";
import type { ReduceOp } from "../../backend.js";
import { type Code, I32, ModuleBuilder, V128, widenHalf } from "./emitter.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";
import { STREAM_CHUNK } from "./vmath.js";

// float32 sum, max and min over contiguous runs (x.sum(), x.sum(-1),
// x.amax(-1)) on WebAssembly SIMD, for reduce_plain.ts's runs walk. The
// runs stream through scratch memory a chunk at a time (rows padded to
// whole steps of 8 floats with the op's identity), so the copy stays in
// cache; measured on [1024, 1024], one thread: sum(1) 0.49 → 0.24 ms,
// amax(1) 0.86 → 0.24 ms, sum() 0.47 → 0.22 ms including the copies.
//
// Exactness against the JS loops:
// - sum widens each float32 to float64 (f64x2.promote_low_f32x4 on the
//   low half and on the high half shuffled down) into four accumulators,
//   as the JS loop adds four partial double sums: only the order of the
//   double additions differs, so a float32 result may differ in its last
//   bit, rarely.
// - max and min give the JS loops' bits. f32x4.pmax/pmin ignore a NaN
//   (a < NaN is false, so the accumulator stays), so a NaN flag ORs in
//   f32x4.ne(v, v) and makes the result NaN; a result of zero is looked up
//   again in the run, since the JS loops keep the first zero they meet
//   (−0 or +0) where pmax keeps whichever came first in its lane.

/** What each op leaves unchanged: a row's padding here, the columns' accumulators' start. */
export const IDENTITY = { sum: 0, max: -Infinity, min: Infinity } as const;

type RowOp = keyof typeof IDENTITY;

/**
 * for each of `rows` rows of rowBytes (a multiple of 32) from x: body(p)
 * for each 32 bytes at local p, then end(o) with local o at out + r·outBytes.
 */
function eachRow(
  c: Code,
  [X, ROW_BYTES, ROWS, OUT]: readonly number[],
  outBytes: number,
  begin: () => void,
  body: (p: number) => void,
  end: (o: number) => void,
): void {
  const [r, j, p] = [c.local("i32"), c.local("i32"), c.local("i32")];
  c.for(
    r,
    () => c.i32Const(0),
    () => c.localGet(ROWS!),
    1,
    () => {
      begin();
      c.for(
        j,
        () => c.i32Const(0),
        () => c.localGet(ROW_BYTES!),
        32,
        () => {
          c.localGet(X!).localGet(j).op(I32.add).localSet(p);
          body(p);
        },
      );
      c.localGet(OUT!).localGet(r).i32Const(outBytes).op(I32.mul).op(I32.add).localSet(p);
      end(p);
      c.inc(X!, () => c.localGet(ROW_BYTES!));
    },
  );
}

/**
 * The module, each function (x, rowBytes, rows, out) over rows of
 * rowBytes (a multiple of 32) from x: sum writes each row's f64x2 partial
 * sums (16 bytes a row); max and min write each row's f32x4 of lane
 * extremes and its f32x4 NaN flags (32 bytes a row).
 */
function reduceRowsModule(): Uint8Array {
  const m = new ModuleBuilder();
  const params = ["i32", "i32", "i32", "i32"] as const;
  m.func("sum", [...params], [], (c) => {
    const v = c.local("v128");
    const acc = [c.local("v128"), c.local("v128"), c.local("v128"), c.local("v128")];
    eachRow(
      c,
      [0, 1, 2, 3],
      16,
      () => {
        for (const a of acc) c.f32x4Zero().localSet(a);
      },
      (p) => {
        for (let h = 0; h < 2; h++) {
          const [lo, hi] = [acc[2 * h]!, acc[2 * h + 1]!];
          c.localGet(p)
            .simdMem(V128.load, 16 * h, 4)
            .localSet(v);
          c.localGet(lo).localGet(v).simd(V128.f64x2PromoteLowF32x4);
          c.simd(V128.f64x2Add).localSet(lo);
          c.localGet(hi);
          widenHalf(c, v, 1).simd(V128.f64x2Add).localSet(hi);
        }
      },
      (o) => {
        c.localGet(o).localGet(acc[0]!).localGet(acc[1]!).simd(V128.f64x2Add);
        c.localGet(acc[2]!).localGet(acc[3]!).simd(V128.f64x2Add).simd(V128.f64x2Add);
        c.simdMem(V128.store, 0, 4);
      },
    );
  });
  for (const op of ["max", "min"] as const) {
    const pick = op === "max" ? V128.f32x4Pmax : V128.f32x4Pmin;
    m.func(op, [...params], [], (c) => {
      const [v, nan] = [c.local("v128"), c.local("v128")];
      const acc = [c.local("v128"), c.local("v128")];
      eachRow(
        c,
        [0, 1, 2, 3],
        32,
        () => {
          for (const a of acc) c.f32x4Const(IDENTITY[op]).localSet(a);
          c.f32x4Zero().localSet(nan);
        },
        (p) => {
          for (let h = 0; h < 2; h++) {
            c.localGet(p)
              .simdMem(V128.load, 16 * h, 4)
              .localSet(v);
            c.localGet(acc[h]!).localGet(v).simd(pick).localSet(acc[h]!);
            c.localGet(nan).localGet(v).localGet(v).simd(V128.f32x4Ne).simd(V128.v128Or);
            c.localSet(nan);
          }
        },
        (o) => {
          c.localGet(o).localGet(acc[0]!).localGet(acc[1]!).simd(pick).simdMem(V128.store, 0, 4);
          c.localGet(o).localGet(nan).simdMem(V128.store, 16, 4);
        },
      );
    });
  }
  return m.bytes({ pages: 1 });
}

type RowExports = Record<RowOp, (x: number, rowBytes: number, rows: number, out: number) => void>;

const compiled = scratchKernels<RowExports>(reduceRowsModule);
let enabled = true;

function kernels(): ScratchKernels<RowExports> | null {
  return enabled ? compiled() : null;
}

/**
 * Switches these SIMD kernels off (or back on), so tests and benchmarks can
 * compare them with the JS loops they replace; returns the old setting.
 */
export function setReduceRowKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Below these sizes the copies and calls cost more than the JS loops. */
export const REDUCE_ROWS_MIN = 4096;
export const REDUCE_RUN_MIN = 32;

/**
 * out[o] = op over xd[outer[o] .. outer[o] + n) (sum, max or min, float32
 * in and out), as reduce_plain.ts's runs walk with one run per output
 * computes it (see above for the bits). False (nothing written) for other
 * ops and arrays, small sizes, or without SIMD.
 */
export function simdReduceRuns(
  op: ReduceOp,
  out: unknown,
  xd: unknown,
  outer: Int32Array,
  n: number,
): boolean {
  if (op !== "sum" && op !== "max" && op !== "min") return false;
  if (!(out instanceof Float32Array && xd instanceof Float32Array)) return false;
  const rows = outer.length;
  if (n < REDUCE_RUN_MIN || rows * n < REDUCE_ROWS_MIN) return false;
  const rk = kernels();
  if (!rk) return false;
  // A run longer than a chunk goes in segments of whole chunks; shorter
  // runs go several to a chunk, each padded to a stride of whole steps.
  const seg = Math.min(n, STREAM_CHUNK);
  const stride = Math.ceil(seg / 8) * 8;
  const perChunk = Math.max(1, Math.floor(STREAM_CHUNK / stride));
  const outBytes = op === "sum" ? 16 : 32;
  // rows' floats | each row's partial results
  const resultAt = 4 * perChunk * stride;
  rk.scratch.reserve(resultAt + outBytes * perChunk);
  const mem = rk.scratch.floats;
  const f64 = new Float64Array(rk.scratch.memory.buffer);
  const flags = new Int32Array(rk.scratch.memory.buffer);
  const pad = IDENTITY[op];
  if (stride !== seg)
    for (let r = 0; r < perChunk; r++) mem.fill(pad, r * stride + seg, (r + 1) * stride);
  // The runs in [start, end) of each output, seg elements at a time.
  const kernel = rk.k[op];
  let acc = 0;
  let nan = false;
  const fold = (r: number): void => {
    if (op === "sum") {
      const q = resultAt / 8 + 2 * r;
      acc += f64[q]! + f64[q + 1]!;
      return;
    }
    const q = resultAt / 4 + 8 * r;
    const m =
      op === "max"
        ? Math.max(mem[q]!, mem[q + 1]!, mem[q + 2]!, mem[q + 3]!)
        : Math.min(mem[q]!, mem[q + 1]!, mem[q + 2]!, mem[q + 3]!);
    acc = op === "max" ? Math.max(acc, m) : Math.min(acc, m);
    nan ||= (flags[q + 4]! | flags[q + 5]! | flags[q + 6]! | flags[q + 7]!) !== 0;
  };
  const finish = (o: number): void => {
    out[o] = nan ? Number.NaN : acc === 0 && op !== "sum" ? firstZero(xd, outer[o]!) : acc;
  };
  if (n <= STREAM_CHUNK) {
    for (let r0 = 0; r0 < rows; r0 += perChunk) {
      const m = Math.min(perChunk, rows - r0);
      const start = outer[r0]!;
      // Back-to-back runs of whole steps copy in one piece.
      if (stride === n && outer[r0 + m - 1]! === start + (m - 1) * n)
        mem.set(xd.subarray(start, start + m * n), 0);
      else
        for (let r = 0; r < m; r++)
          mem.set(xd.subarray(outer[r0 + r]!, outer[r0 + r]! + n), r * stride);
      kernel(0, 4 * stride, m, resultAt);
      for (let r = 0; r < m; r++) {
        acc = pad;
        nan = false;
        fold(r);
        finish(r0 + r);
      }
    }
    return true;
  }
  for (let o = 0; o < rows; o++) {
    acc = pad;
    nan = false;
    for (let at = 0; at < n; at += seg) {
      const m = Math.min(seg, n - at);
      const start = outer[o]! + at;
      mem.set(xd.subarray(start, start + m), 0);
      // A partial last segment: its tail padded up to whole steps.
      const steps = Math.ceil(m / 8) * 8;
      if (steps !== m) mem.fill(pad, m, steps);
      kernel(0, 4 * steps, 1, resultAt);
      fold(0);
    }
    finish(o);
  }
  return true;
}

/** The first zero (−0 or +0) from `start`, which the JS loops keep as the extreme. */
export function firstZero(xd: TypedArray, start: number): number {
  let i = start;
  while (xd[i] !== 0) i++;
  return xd[i]!;
}
