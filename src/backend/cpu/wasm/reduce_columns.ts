import type { ReduceOp } from "../../backend.js";
import { type Code, I32, ModuleBuilder, V128, widenHalf } from "./emitter.js";
import { IDENTITY } from "./reduce_rows.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";
import { STREAM_CHUNK } from "./vmath.js";

// float32 sum, max and min over columns (x.sum(0), x.amax(0), a bias
// gradient's sum over the batch) on WebAssembly SIMD, for reduce_plain.ts's
// columns walk: input rows fold into a row of accumulators. Rows stream
// through scratch memory a chunk at a time, each padded to whole steps of
// 8 floats (the padding's columns are never read back).
//
// Both give the JS walk's bits:
// - sum adds, as the JS loop does, each four rows in doubles
//   ((x0 + x1) + (x2 + x3)) before they meet the float64 accumulator, and
//   the leftover rows one at a time; chunks hold a multiple of four rows,
//   so the groups are the JS loop's and so are the double additions.
// - max keeps acc < v ? v : acc (f32x4.pmax), the JS loop's `v > acc`: the
//   first of equal values stays, so the first zero met keeps its sign; a
//   NaN, which pmax ignores, is bit-selected into the accumulator and then
//   sticks (NaN < v is false), as the JS loop's `v !== v` does. min mirrors.

type ColumnOp = keyof typeof IDENTITY;

/**
 * The module, each function (x, rowBytes, rows, acc, width) folding `rows`
 * rows of rowBytes from x, their first `width` bytes (a multiple of 32),
 * into the accumulators at acc: sum's float64 (two bytes of acc per byte of
 * a row), max's and min's float32 (one per one).
 */
function reduceColumnsModule(): Uint8Array {
  const m = new ModuleBuilder();
  const params = ["i32", "i32", "i32", "i32", "i32"] as const;
  const [X, ROW_BYTES, ROWS, ACC, WIDTH] = [0, 1, 2, 3, 4];
  m.func("sum", [...params], [], (c) => {
    const [j, r, p, a, whole] = [
      c.local("i32"),
      c.local("i32"),
      c.local("i32"),
      c.local("i32"),
      c.local("i32"),
    ];
    const q = [c.local("i32"), c.local("i32"), c.local("i32")];
    const v = [c.local("v128"), c.local("v128"), c.local("v128"), c.local("v128")];
    // acc[2h + l]: the doubles of the 32-byte step's floats 4h + 2l, + 1.
    const acc = [c.local("v128"), c.local("v128"), c.local("v128"), c.local("v128")];
    c.localGet(ROWS).i32Const(-4).op(I32.and).localSet(whole);
    c.for(
      j,
      () => c.i32Const(0),
      () => c.localGet(WIDTH),
      32,
      () => {
        c.localGet(ACC).localGet(j).localGet(j).op(I32.add).op(I32.add).localSet(a);
        for (let k = 0; k < 4; k++)
          c.localGet(a)
            .simdMem(V128.load, 16 * k, 4)
            .localSet(acc[k]!);
        c.localGet(X).localGet(j).op(I32.add).localSet(p);
        // Four rows at a time: acc += (x0 + x1) + (x2 + x3) in doubles.
        c.for(
          r,
          () => c.i32Const(0),
          () => c.localGet(whole),
          4,
          () => {
            c.localGet(p).localGet(ROW_BYTES).op(I32.add).localTee(q[0]!);
            c.localGet(ROW_BYTES).op(I32.add).localTee(q[1]!);
            c.localGet(ROW_BYTES).op(I32.add).localSet(q[2]!);
            for (let h = 0; h < 2; h++) {
              [p, ...q].forEach((row, i) => {
                c.localGet(row)
                  .simdMem(V128.load, 16 * h, 4)
                  .localSet(v[i]!);
              });
              for (let half = 0; half < 2; half++) {
                const k = 2 * h + half;
                c.localGet(acc[k]!);
                widenHalf(c, v[0]!, half);
                widenHalf(c, v[1]!, half).simd(V128.f64x2Add);
                widenHalf(c, v[2]!, half);
                widenHalf(c, v[3]!, half).simd(V128.f64x2Add);
                c.simd(V128.f64x2Add).simd(V128.f64x2Add).localSet(acc[k]!);
              }
            }
            c.localGet(q[2]!).localGet(ROW_BYTES).op(I32.add).localSet(p);
          },
        );
        // The rows left over, one at a time.
        c.for(
          r,
          () => c.localGet(whole),
          () => c.localGet(ROWS),
          1,
          () => {
            for (let h = 0; h < 2; h++) {
              c.localGet(p)
                .simdMem(V128.load, 16 * h, 4)
                .localSet(v[0]!);
              for (let half = 0; half < 2; half++) {
                const k = 2 * h + half;
                c.localGet(acc[k]!);
                widenHalf(c, v[0]!, half).simd(V128.f64x2Add).localSet(acc[k]!);
              }
            }
            c.inc(p, () => c.localGet(ROW_BYTES));
          },
        );
        for (let k = 0; k < 4; k++)
          c.localGet(a)
            .localGet(acc[k]!)
            .simdMem(V128.store, 16 * k, 4);
      },
    );
  });
  for (const op of ["max", "min"] as const) {
    const pick = op === "max" ? V128.f32x4Pmax : V128.f32x4Pmin;
    m.func(op, [...params], [], (c) => {
      const [j, r, p, v] = [c.local("i32"), c.local("i32"), c.local("i32"), c.local("v128")];
      const acc = [c.local("v128"), c.local("v128")];
      c.for(
        j,
        () => c.i32Const(0),
        () => c.localGet(WIDTH),
        32,
        () => {
          for (let h = 0; h < 2; h++)
            c.localGet(ACC)
              .localGet(j)
              .op(I32.add)
              .simdMem(V128.load, 16 * h, 4)
              .localSet(acc[h]!);
          c.localGet(X).localGet(j).op(I32.add).localSet(p);
          c.for(
            r,
            () => c.i32Const(0),
            () => c.localGet(ROWS),
            1,
            () => {
              for (let h = 0; h < 2; h++) {
                c.localGet(p)
                  .simdMem(V128.load, 16 * h, 4)
                  .localSet(v);
                // bitselect(v, pick(acc, v), v ≠ v): a NaN lane takes v.
                c.localGet(v).localGet(acc[h]!).localGet(v).simd(pick);
                c.localGet(v).localGet(v).simd(V128.f32x4Ne);
                c.simd(V128.v128Bitselect).localSet(acc[h]!);
              }
              c.inc(p, () => c.localGet(ROW_BYTES));
            },
          );
          for (let h = 0; h < 2; h++)
            c.localGet(ACC)
              .localGet(j)
              .op(I32.add)
              .localGet(acc[h]!)
              .simdMem(V128.store, 16 * h, 4);
        },
      );
    });
  }
  return m.bytes({ pages: 1 });
}

type ColumnExports = Record<
  ColumnOp,
  (x: number, rowBytes: number, rows: number, acc: number, width: number) => void
>;

const compiled = scratchKernels<ColumnExports>(reduceColumnsModule);
let enabled = true;

function kernels(): ScratchKernels<ColumnExports> | null {
  return enabled ? compiled() : null;
}

/**
 * Switches these SIMD kernels off (or back on), so tests and benchmarks can
 * compare them with the JS loops they replace; returns the old setting.
 */
export function setReduceColumnKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Below these sizes (elements read, columns) the copies and calls cost more than the JS loops. */
export const REDUCE_COLUMNS_MIN = 4096;
export const REDUCE_COLUMNS_WIDTH_MIN = 16;

/** The widest segment of columns folded at once: a chunk then holds at least 8 rows. */
const SEGMENT = STREAM_CHUNK / 8;

/**
 * out[a·B + b] = op over xd[rows[a] + inner[r] + b], r < R (sum, max or
 * min, float32 in and out), with the bits of reduce_plain.ts's columns
 * walk. False (nothing written) for other ops and arrays, small sizes, or
 * without SIMD.
 */
export function simdReduceColumns(
  op: ReduceOp,
  out: unknown,
  xd: unknown,
  rows: Int32Array,
  inner: Int32Array,
  B: number,
): boolean {
  if (op !== "sum" && op !== "max" && op !== "min") return false;
  if (!(out instanceof Float32Array && xd instanceof Float32Array)) return false;
  const R = inner.length;
  if (B < REDUCE_COLUMNS_WIDTH_MIN || rows.length * R * B < REDUCE_COLUMNS_MIN) return false;
  const ck = kernels();
  if (!ck) return false;
  // Segments of W columns (whole steps of 8); k rows a chunk, a multiple
  // of four so that sum's groups of four rows are the JS loop's.
  const W = Math.min(Math.ceil(B / 8) * 8, SEGMENT);
  const k = Math.floor(STREAM_CHUNK / W / 4) * 4;
  const accAt = 4 * k * W;
  ck.scratch.reserve(accAt + 8 * W);
  const mem = ck.scratch.floats;
  const f64 = new Float64Array(ck.scratch.memory.buffer);
  let backToBack = true;
  for (let r = 1; r < R && backToBack; r++) backToBack = inner[r]! - inner[r - 1]! === B;
  const kernel = ck.k[op];
  for (let a = 0; a < rows.length; a++) {
    for (let b0 = 0; b0 < B; b0 += W) {
      const w = Math.min(W, B - b0);
      const stride = Math.ceil(w / 8) * 8;
      if (op === "sum") f64.fill(0, accAt / 8, accAt / 8 + stride);
      else mem.fill(IDENTITY[op], accAt / 4, accAt / 4 + stride);
      for (let r0 = 0; r0 < R; r0 += k) {
        const m = Math.min(k, R - r0);
        const start = rows[a]! + inner[r0]! + b0;
        // Whole rows of whole steps, back to back, copy in one piece.
        if (backToBack && stride === B) mem.set(xd.subarray(start, start + m * B), 0);
        else
          for (let r = 0; r < m; r++) {
            const at = rows[a]! + inner[r0 + r]! + b0;
            mem.set(xd.subarray(at, at + w), r * stride);
          }
        kernel(0, 4 * stride, m, accAt, 4 * stride);
      }
      const acc =
        op === "sum"
          ? f64.subarray(accAt / 8, accAt / 8 + w)
          : mem.subarray(accAt / 4, accAt / 4 + w);
      out.set(acc, a * B + b0);
    }
  }
  return true;
}
