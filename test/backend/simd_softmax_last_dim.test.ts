// float32 softmax over the last dim on SIMD, streamed by rows
// (src/backend/cpu/wasm/softmax_last_dim.ts), against the path it replaces
// (attention's row kernel with scale 1, run here directly: the same
// expf and float32 reciprocal, so equal but for the order of the float64
// additions in Σ, a float32 ulp or two) and against the JavaScript loops
// (the kernel off: Math.exp of x − max in doubles, where the kernels
// round x − max to float32 first: a relative 2⁻²⁴·|x − max|); rows with NaN, +inf, all −inf,
// −0 and −inf entries; widths that are not whole steps, several chunks
// with a partial last, rows longer than a chunk, views at offsets,
// narrowed rows and empty tensors. And the exp both SIMD softmaxes use
// (vmath's vexp with `nonPositive`, no upper clamp): the clamped vexp's
// bits over inputs ≤ 0, −inf and NaN.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Code, ModuleBuilder, V128 } from "../../src/backend/cpu/wasm/emitter.js";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import {
  SOFTMAX_LAST_DIM_MIN,
  setSoftmaxLastDimKernel,
  simdSoftmaxLastDim,
} from "../../src/backend/cpu/wasm/softmax_last_dim.js";
import { softmaxRowKernels } from "../../src/backend/cpu/wasm/softmax_rows.js";
import { EXP_MIN, type Regs, regs, STREAM_CHUNK, vexp } from "../../src/backend/cpu/wasm/vmath.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const simd = wasmFeatures().simd;
const random = seededRandom(31);

/**
 * A [rows, n] float32 tensor at an offset: random rows (some entries with
 * a wide spread, some −inf), and rows 0–3 holding a NaN, a +inf, only
 * −inf, and only zeros of both signs with one −inf.
 */
function values(rows: number, n: number): fl.Tensor {
  const a = new Float32Array((rows + 1) * n);
  for (let i = 0; i < a.length; i++)
    a[i] = i % 53 === 5 ? Number.NEGATIVE_INFINITY : (random() - 0.5) * (i % 7 === 0 ? 200 : 8);
  const row = (r: number) => a.subarray((r + 1) * n, (r + 2) * n);
  if (rows >= 4) {
    row(0)[n >> 1] = Number.NaN;
    row(1)[n - 1] = Number.POSITIVE_INFINITY;
    row(2).fill(Number.NEGATIVE_INFINITY);
    for (let j = 0; j < n; j++) row(3)[j] = j % 2 ? -0 : 0;
    row(3)[0] = Number.NEGATIVE_INFINITY;
  }
  return fl
    .tensor(a)
    .reshape([rows + 1, n])
    .narrow(0, 1, rows);
}

/** f's result with the last-dim kernel set as given (and restored after). */
function withKernel(lastDim: boolean, f: () => fl.Tensor): Float32Array {
  const was = setSoftmaxLastDimKernel(lastDim);
  try {
    return f().dataSync() as Float32Array;
  } finally {
    setSoftmaxLastDimKernel(was);
  }
}

/**
 * softmax over the last dim by attention's row kernel (softmax_rows.ts)
 * with scale 1 and no mask, the path this kernel replaced, over a memory
 * of its own (the last row's last vector may read 12 bytes past the rows).
 */
function rowKernelSoftmax(t: fl.Tensor): Float32Array {
  const x = t.contiguous().dataSync() as Float32Array;
  const cols = t.shape[t.shape.length - 1]!;
  const rows = x.length / cols;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((4 * x.length + 16) / 65536) });
  const k = softmaxRowKernels(memory)!;
  const f = new Float32Array(memory.buffer);
  f.set(x);
  k.softmax(0, rows, rows, cols, 1, 0);
  return f.slice(0, x.length);
}

/** NaN where the reference has it, else |got − want| ≤ rel·|want| + abs. */
function close(
  name: string,
  want: ArrayLike<number>,
  got: ArrayLike<number>,
  rel: number,
  abs = 0,
) {
  assert.equal(got.length, want.length, name);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (Number.isNaN(w)) {
      assert.ok(Number.isNaN(g), `${name} i=${i}: ${g} != NaN`);
      continue;
    }
    if (!(Math.abs(g - w) <= rel * Math.abs(w) + abs)) assert.fail(`${name} i=${i}: ${g} vs ${w}`);
  }
}

// [rows, n]: whole steps; widths that are not; several chunks with a
// partial last; rows longer than a chunk; short rows.
const SHAPES = [
  [64, 64],
  [41, 1000],
  [3 * Math.floor(STREAM_CHUNK / 40) + 5, 37],
  [5, STREAM_CHUNK + 13],
  [300, 5],
  [70, 8],
] as const;

describe("SIMD float32 softmax over the last dim", { skip: !simd && "no wasm SIMD" }, () => {
  test("the shapes reach the kernel", () => {
    for (const [rows, n] of SHAPES) {
      assert.ok(rows * n >= SOFTMAX_LAST_DIM_MIN);
      assert.ok(simdSoftmaxLastDim(new Float32Array(rows * n + 3), 3, rows, n));
    }
  });

  test("matches attention's row kernel and the JavaScript loops, special rows included", () => {
    for (const [rows, n] of SHAPES) {
      const x = values(rows, n);
      for (const [name, v] of [
        [`[${rows},${n}]`, x],
        // Non-contiguous rows: the fused op takes its contiguous copy.
        [`[${rows},${n - 2}] narrowed`, x.narrow(1, 1, n - 2)],
      ] as const) {
        const got = withKernel(true, () => v.softmax(-1));
        close(`${name} vs row kernel`, rowKernelSoftmax(v), got, 2 ** -21);
        close(
          `${name} vs JS`,
          withKernel(false, () => v.softmax(-1)),
          got,
          2e-5,
          1e-37,
        );
      }
    }
  });

  test("special rows: NaN for a NaN, +inf or all −inf; exact zeros for −inf entries", () => {
    const y = values(64, 64).softmax(-1).dataSync();
    for (let j = 0; j < 64; j++) {
      assert.ok(Number.isNaN(y[j]!) && Number.isNaN(y[64 + j]!) && Number.isNaN(y[128 + j]!));
      // Zeros of both signs and one −inf: 1/63 each, exactly 0 at the −inf.
      if (j === 0) assert.ok(Object.is(y[192], 0));
      else assert.ok(Math.abs(y[192 + j]! - 1 / 63) < 1e-7, `zeros row j=${j}`);
    }
  });

  test("a broadcast input and a softmax over a middle dim (both made contiguous first)", () => {
    const row = values(1, 300);
    const b = row.expand([40, 300]);
    close(
      "broadcast",
      withKernel(false, () => b.softmax(-1)),
      b.softmax(-1).dataSync(),
      2e-5,
      1e-37,
    );
    const t = values(30, 40).reshape([3, 10, 40]);
    close(
      "dim 1",
      withKernel(false, () => t.softmax(1)),
      t.softmax(1).dataSync(),
      2e-5,
      1e-37,
    );
  });

  test("empty tensors", () => {
    assert.deepEqual(Array.from(fl.zeros([0, 4096]).softmax(-1).dataSync()), []);
    assert.deepEqual(Array.from(fl.zeros([4096, 0]).softmax(-1).dataSync()), []);
  });
});

describe("the shifted exp (vexp with nonPositive)", { skip: !simd && "no wasm SIMD" }, () => {
  test("equals vmath's vexp bit for bit on x ≤ 0, −inf and NaN", () => {
    const m = new ModuleBuilder();
    for (const [name, exp] of [
      ["exp", (c: Code, v: number, r: Regs) => vexp(c, v, r)],
      ["shifted", (c: Code, v: number, r: Regs) => vexp(c, v, r, true)],
    ] as const)
      m.func(name, ["i32", "i32"], [], (c) => {
        const [at, end] = [0, 1];
        const v = c.local("v128");
        const r = regs(c);
        c.for(
          at,
          () => c.localGet(at),
          () => c.localGet(end),
          16,
          () => {
            c.localGet(at).localGet(at).simdMem(V128.load, 0, 4).localSet(v);
            exp(c, v, r);
            c.simdMem(V128.store, 0, 4);
          },
        );
      });
    const memory = new WebAssembly.Memory({ initial: 4 });
    const k = new WebAssembly.Instance(
      new WebAssembly.Module(m.bytes({ pages: 4 }) as BufferSource),
      {
        env: { memory },
      },
    ).exports as { exp(at: number, end: number): void; shifted(at: number, end: number): void };
    const n = 16384;
    const x = new Float32Array(n);
    const specials = [
      0,
      -0,
      Number.NEGATIVE_INFINITY,
      Number.NaN,
      EXP_MIN,
      Math.fround(EXP_MIN) - 1e-5,
    ];
    for (let i = 0; i < n; i++)
      x[i] =
        i < specials.length ? specials[i]! : -random() * (i % 3 === 0 ? 100 : i % 3 === 1 ? 1 : 90);
    const f = new Float32Array(memory.buffer);
    f.set(x, 0);
    f.set(x, n);
    k.exp(0, 4 * n);
    k.shifted(4 * n, 8 * n);
    const bits = new Uint32Array(memory.buffer);
    for (let i = 0; i < n; i++)
      if (bits[i] !== bits[n + i]) assert.fail(`x=${x[i]}: ${f[n + i]} vs vexp's ${f[i]}`);
  });
});
