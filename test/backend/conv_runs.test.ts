import assert from "node:assert/strict";
import { after, afterEach, describe, test } from "node:test";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import {
  type ConvGrid,
  setDirectMoves,
  wasmConv2d,
  wasmConv2dBackward,
} from "../../src/backend/cpu/wasm/conv.js";
import { startThreads } from "../../src/backend/cpu/wasm/matmul.js";
import { RunTable, runsOver, setRunMerging } from "../../src/backend/cpu/wasm/runs.js";
import { Scratch, wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import * as fl from "../../src/index.js";
import { convTable } from "../../src/nn/functional/conv.js";

// The conv engine's cheaper data movement against the plain one it
// replaces: step-2 runs and copies across padding (runs.ts), and one-sample
// chunks whose GEMM writes y (reads dY) in place (conv.ts). Both do the
// same float operations in the same order, so every result must match bit
// for bit, NaN, ±inf and −0 included.

const simd = wasmFeatures().simd;

interface Geometry {
  name: string;
  c: number;
  h: number;
  w: number;
  k: [number, number];
  stride: [number, number];
  pad: [number, number, number, number];
  dilation: [number, number];
}

const geometries: Geometry[] = [
  {
    name: "3×3 pad 1",
    c: 3,
    h: 9,
    w: 7,
    k: [3, 3],
    stride: [1, 1],
    pad: [1, 1, 1, 1],
    dilation: [1, 1],
  },
  {
    name: "3×3 stride 2 pad 1",
    c: 2,
    h: 11,
    w: 10,
    k: [3, 3],
    stride: [2, 2],
    pad: [1, 1, 1, 1],
    dilation: [1, 1],
  },
  {
    name: "1×1 stride 2",
    c: 4,
    h: 9,
    w: 13,
    k: [1, 1],
    stride: [2, 2],
    pad: [0, 0, 0, 0],
    dilation: [1, 1],
  },
  {
    name: "5×5 pad 2",
    c: 2,
    h: 12,
    w: 13,
    k: [5, 5],
    stride: [1, 1],
    pad: [2, 2, 2, 2],
    dilation: [1, 1],
  },
  {
    name: "3×3 stride 3 pad 2",
    c: 2,
    h: 13,
    w: 14,
    k: [3, 3],
    stride: [3, 3],
    pad: [2, 2, 2, 2],
    dilation: [1, 1],
  },
  {
    name: "uneven: stride (2, 1), pad (0, 1, 2, 1)",
    c: 3,
    h: 10,
    w: 9,
    k: [3, 2],
    stride: [2, 1],
    pad: [0, 1, 2, 1],
    dilation: [1, 1],
  },
  {
    name: "dilated 2",
    c: 2,
    h: 11,
    w: 12,
    k: [3, 3],
    stride: [1, 1],
    pad: [2, 2, 2, 2],
    dilation: [2, 2],
  },
  {
    name: "valid 3×3",
    c: 2,
    h: 8,
    w: 8,
    k: [3, 3],
    stride: [1, 1],
    pad: [0, 0, 0, 0],
    dilation: [1, 1],
  },
  {
    name: "1-wide plane",
    c: 2,
    h: 9,
    w: 1,
    k: [3, 1],
    stride: [2, 1],
    pad: [1, 1, 0, 0],
    dilation: [1, 1],
  },
];

function gridOf(g: Geometry): ConvGrid {
  const t = convTable("conv2d", g.h, g.w, g.k, g.stride, g.pad, g.dilation);
  return { index: t.index, k: t.k, l: t.l };
}

/** Floats with NaN, ±inf and −0 sprinkled in. */
function special(length: number, seed: number): Float32Array {
  const a = Float32Array.from({ length }, (_, i) => Math.sin(i * 0.71 + seed) * 3);
  const odd = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0];
  for (let i = seed % 7; i < length; i += 13) a[i] = odd[i % odd.length]!;
  return a;
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ia.length; i++)
    assert.equal(ia[i], ib[i], `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

/** im2col and col2im run tables for `s` samples, laid out as conv.ts lays them. */
function tables(g: ConvGrid, c: number, hw: number, s: number) {
  const { k, l, index } = g;
  const im2col = new RunTable();
  const col2im = new RunTable("add");
  for (let ci = 0; ci < c; ci++)
    for (let j = 0; j < k; j++) {
      const row = (ci * k + j) * s * l;
      for (let p = 0; p < l; p++) {
        const i = index[j * l + p]!;
        im2col.add(row + p, i >= 0 ? ci * hw + i : -1);
        if (i >= 0) col2im.add(ci * hw + i, row + p);
        else col2im.skip(row + p);
      }
    }
  return { im2col: im2col.table(), col2im: col2im.table(), crossed: col2im.crossed() };
}

describe("run tables: step-2 runs and copies across padding", {
  skip: !simd && "no wasm SIMD",
}, () => {
  afterEach(() => setRunMerging(true));

  test("RunTable: step-2 runs, crossed padding patched after the runs, in columns", () => {
    const copy = new RunTable();
    for (const [d, o] of [
      [0, 10],
      [1, 12],
      [2, 14],
      [3, -1],
      [4, 20],
      [5, 21],
      [6, -1],
      [7, 23],
    ])
      copy.add(d!, o!);
    // [0, 3) reads 10, 12, 14; [4, 8) reads 20–23 with a zero patched at 6; 3 is a zero-fill.
    assert.deepEqual(Array.from(copy.table()), [0, 40, -3, 12, -4, 1, 16, 80, 4, 24, -4, 1]);
    const column = new RunTable();
    for (const [d, o] of [
      [0, 10],
      [1, -1],
      [2, 12],
      [3, -1],
      [4, 14],
      [5, 15],
    ])
      column.add(d!, o!);
    // One run reads 10–15; the zeros at 1 and 3 are one fill, two floats apart.
    assert.deepEqual(Array.from(column.table()), [0, 40, 6, 4, -8, 2]);
    const add = new RunTable("add");
    for (const [d, o] of [
      [0, 5],
      [2, 6],
      [4, 7],
      [5, 8],
    ])
      add.add(d!, o!);
    assert.deepEqual(Array.from(add.table()), [0, 20, -3, 20, 32, 1]);
    setRunMerging(false);
    const plain = new RunTable();
    for (const [d, o] of [
      [0, 10],
      [1, 12],
      [2, -1],
      [3, 13],
    ])
      plain.add(d!, o!);
    assert.deepEqual(Array.from(plain.table()), [0, 40, 1, 4, 48, 1, 8, -4, 1, 12, 52, 1]);
  });

  for (const g of geometries)
    for (const s of [1, 3]) {
      test(`${g.name}, ${s} sample(s) a chunk: im2col and col2im match the plain tables`, () => {
        const grid = gridOf(g);
        const hw = g.h * g.w;
        const ck = g.c * grid.k;
        const sl = s * grid.l;
        const n = 2 * s;
        const memory = new WebAssembly.Memory({ initial: 64 });
        const runs = runsOver(memory, false);
        const f = new Float32Array(memory.buffer);
        const tableAt = 0;
        // A margin of NaNs around each region: runs must not write outside the floats they own.
        const margin = 64;
        const xAt = 1 << 20;
        const colsAt = xAt + (n * g.c * hw + 2 * margin) * 4;
        const gxAt = colsAt + (ck * sl + 2 * margin) * 4;
        const x = special(n * g.c * hw, 3);
        const cols = special(ck * sl, 5);
        const result = (on: boolean) => {
          setRunMerging(on);
          const t = tables(grid, g.c, hw, s);
          new Int32Array(memory.buffer).set(t.im2col, tableAt / 4);
          const col2imAt = tableAt + t.im2col.length * 4;
          new Int32Array(memory.buffer).set(t.col2im, col2imAt / 4);
          const crossedAt = col2imAt + t.col2im.length * 4;
          new Int32Array(memory.buffer).set(t.crossed, crossedAt / 4);
          f.fill(Number.NaN, xAt / 4 - margin, gxAt / 4 + n * g.c * hw + margin);
          f.set(x, xAt / 4);
          // Copies: two chunks of s samples into the same columns (the second overwrites).
          const out: Float32Array[] = [];
          for (let chunk = 0; chunk < 2; chunk++) {
            runs.copyRuns(
              tableAt,
              t.im2col.length / 3,
              xAt + chunk * s * g.c * hw * 4,
              g.c * hw * 4,
              colsAt,
              grid.l * 4,
              s,
            );
            out.push(f.slice(colsAt / 4 - margin, colsAt / 4 + ck * sl + margin));
          }
          // Adds: columns into grad x, which starts with special values but
          // no −0 (the engine's starts at +0): crossed padding adds +0.
          f.set(cols, colsAt / 4);
          f.set(
            special(n * g.c * hw, 11).map((v) => (Object.is(v, -0) ? 0 : v)),
            gxAt / 4,
          );
          for (let chunk = 0; chunk < 2; chunk++) {
            runs.copyRuns(crossedAt, t.crossed.length / 3, 0, 0, colsAt, grid.l * 4, s);
            runs.addRuns(
              col2imAt,
              t.col2im.length / 3,
              colsAt,
              grid.l * 4,
              gxAt + chunk * s * g.c * hw * 4,
              g.c * hw * 4,
              s,
            );
          }
          out.push(f.slice(gxAt / 4 - margin, gxAt / 4 + n * g.c * hw + margin));
          return out;
        };
        const plain = result(false);
        const merged = result(true);
        sameBits(merged[0]!, plain[0]!, "cols, chunk 0");
        sameBits(merged[1]!, plain[1]!, "cols, chunk 1");
        sameBits(merged[2]!, plain[2]!, "grad x");
      });
    }
});

describe("conv engine: cheaper moves match the plain ones", {
  skip: !simd && "no wasm SIMD",
}, () => {
  afterEach(() => {
    setRunMerging(true);
    setDirectMoves(true);
  });

  for (const g of geometries)
    for (const per of [1, 3]) {
      test(`${g.name}, chunks of ${per}: y, grad x, grad W and grad b bit for bit`, () => {
        const grid = gridOf(g);
        const n = 7;
        const o = 5;
        const sh = { n, c: g.c, hw: g.h * g.w, o, per };
        const x = special(n * g.c * g.h * g.w, 1);
        const w = Float32Array.from({ length: o * g.c * grid.k }, (_, i) => Math.cos(i * 0.3));
        const b = Float32Array.from({ length: o }, (_, i) => i - 2);
        const dy = special(n * o * grid.l, 2);
        const want = { input: true, weight: true, bias: true };
        const run = (on: boolean) => {
          setRunMerging(on);
          setDirectMoves(on);
          return {
            y: wasmConv2d(x, w, b, sh, grid)!,
            g: wasmConv2dBackward(dy, x, w, sh, grid, want)!,
          };
        };
        const plain = run(false);
        const lean = run(true);
        sameBits(lean.y, plain.y, "y");
        sameBits(lean.g.gx!, plain.g.gx!, "grad x");
        assert.deepEqual(lean.g.gw, plain.g.gw);
        assert.deepEqual(lean.g.gb, plain.g.gb);
      });
    }
});

describe("conv engine: cheaper moves on two threads", {
  skip: !(simd && Scratch.sharedAvailable()) && "no shared memory",
}, () => {
  after(() => {
    setRunMerging(true);
    setDirectMoves(true);
    fl.setNumThreads(1);
    pool.stop();
  });

  // Programs of one-sample chunks write y and read dY in place, side by side.
  for (const [g, per] of [
    [geometries[0]!, 1],
    [geometries[1]!, 2],
  ] as const) {
    test(`${g.name}, chunks of ${per}: match one thread's plain moves`, async () => {
      const grid = gridOf(g);
      const n = 64;
      const o = 16;
      const c = 8;
      const sh = { n, c, hw: g.h * g.w, o, per };
      const x = special(n * c * g.h * g.w, 4);
      const w = Float32Array.from({ length: o * c * grid.k }, (_, i) => Math.cos(i * 0.3));
      const dy = special(n * o * grid.l, 6);
      const want = { input: true, weight: false, bias: false };
      setRunMerging(false);
      setDirectMoves(false);
      fl.setNumThreads(1);
      const y1 = wasmConv2d(x, w, null, sh, grid)!;
      const g1 = wasmConv2dBackward(dy, x, w, sh, grid, want)!;
      setRunMerging(true);
      setDirectMoves(true);
      fl.setNumThreads(2);
      await startThreads(2);
      const before = pool.workerJobs;
      let y2: Float32Array | null = null;
      let g2: ReturnType<typeof wasmConv2dBackward> = null;
      // A worker on a loaded machine may wake too late to claim programs: tries for up to 10 s.
      const until = Date.now() + 10_000;
      for (let i = 0; i < 2 || (pool.workerJobs === before && Date.now() < until); i++) {
        y2 = wasmConv2d(x, w, null, sh, grid);
        g2 = wasmConv2dBackward(dy, x, w, sh, grid, want);
      }
      assert.ok(pool.workerJobs > before, "a worker ran some of the programs");
      sameBits(y2!, y1, "y");
      sameBits(g2!.gx!, g1.gx!, "grad x");
    });
  }
});
