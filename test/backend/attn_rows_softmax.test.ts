// Attention's softmax rows as one wasm SIMD call over the GEMM's memory
// (src/backend/cpu/wasm/softmax_rows.ts), forward and backward: against
// the JavaScript rows they replace and the composite written with flint
// ops, on odd sizes (L not a multiple of 4, odd head sizes, a single key),
// causal and not; and the kernels directly, on rows whose last vector
// reaches into the next row or past the end, with garbage where the GEMM
// wrote nothing and with rows that must come out NaN.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import {
  setSoftmaxRowKernels,
  softmaxRowKernels,
} from "../../src/backend/cpu/wasm/softmax_rows.js";
import { fusedKernels, registerFused } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { fusedPackedSelfAttention } from "../../src/nn/functional/fused_attention.js";

const simd = wasmFeatures().simd;

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const u = Number(a[i]);
    const v = Number(b[i]);
    if (Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v))) continue;
    if (!(Math.abs(u - v) <= tol * (1 + Math.abs(v))))
      assert.fail(`${what}[${i}]: got ${u}, want ${v}`);
  }
}

/** softmax(q·kᵀ/√d, causal) v over the heads of qkv, in flint ops (dtype of qkv). */
function composite(qkv: fl.Tensor, H: number, causal: boolean): fl.Tensor {
  const [N, L, E3] = qkv.shape as [number, number, number];
  const E = E3 / 3;
  const d = E / H;
  const part = (i: number) =>
    qkv
      .narrow(-1, i * E, E)
      .reshape([N, L, H, d])
      .transpose(1, 2);
  let s = part(0)
    .matmul(part(1).transpose(-2, -1))
    .mul(1 / Math.sqrt(d));
  if (causal)
    s = s.maskedFill(fl.ones([L, L], { dtype: "bool" }).triu(1), Number.NEGATIVE_INFINITY);
  return s.softmax(-1).matmul(part(2)).transpose(1, 2).reshape([N, L, E]);
}

/** The packed attention's output and d qkv for seeded inputs, counting the packed kernel calls. */
function packed(c: Shape, kernels: boolean): { y: Float32Array; g: Float32Array; calls: number } {
  const saved = fusedKernels("cpu");
  const forward = saved.packedAttention!;
  const backward = saved.packedAttentionBackward!;
  let calls = 0;
  registerFused("cpu", {
    packedAttention: (...a) => {
      const r = forward(...a);
      if (r) calls++;
      return r;
    },
    packedAttentionBackward: (...a) => {
      const r = backward(...a);
      if (r) calls++;
      return r;
    },
  });
  const was = setSoftmaxRowKernels(kernels);
  try {
    const { qkv, dO } = inputs(c, "float32");
    const y = fusedPackedSelfAttention(qkv, c.H, { mask: null, causal: c.causal });
    assert.ok(y, "the packed path ran");
    const [g] = fl.autograd.grad(y.mul(dO).sum(), [qkv]);
    return {
      y: y.dataSync() as Float32Array,
      g: g!.dataSync() as Float32Array,
      calls,
    };
  } finally {
    setSoftmaxRowKernels(was);
    registerFused("cpu", { packedAttention: forward, packedAttentionBackward: backward });
  }
}

interface Shape {
  N: number;
  L: number;
  H: number;
  d: number;
  causal: boolean;
}

function inputs(c: Shape, dtype: "float32" | "float64") {
  fl.manualSeed(7 + c.L * 31 + c.d);
  const E = c.H * c.d;
  const qkv = fl
    .randn([c.N, c.L, 3 * E])
    .mul(1.5)
    .to(dtype)
    .requiresGrad_();
  const dO = fl.randn([c.N, c.L, E]).to(dtype);
  return { qkv, dO };
}

/** The composite in float64: the values both float32 paths should round to. */
function reference(c: Shape) {
  const { qkv, dO } = inputs(c, "float64");
  const y = composite(qkv, c.H, c.causal);
  const [g] = fl.autograd.grad(y.mul(dO).sum(), [qkv]);
  return { y: y.dataSync() as Float64Array, g: g!.dataSync() as Float64Array };
}

const shapes: Shape[] = [];
for (const causal of [true, false]) {
  shapes.push(
    { N: 1, L: 1, H: 1, d: 3, causal },
    { N: 2, L: 3, H: 3, d: 1, causal },
    { N: 2, L: 7, H: 3, d: 5, causal },
    { N: 1, L: 18, H: 2, d: 7, causal },
    { N: 2, L: 33, H: 1, d: 9, causal },
    { N: 1, L: 64, H: 4, d: 8, causal },
  );
}

describe("attention softmax rows on SIMD", { skip: !simd && "no wasm SIMD" }, () => {
  for (const c of shapes) {
    const name = `N ${c.N}, L ${c.L}, H ${c.H}, d ${c.d}, ${c.causal ? "causal" : "not causal"}`;
    test(`${name}: values and gradients match the JS rows and the float64 composite`, () => {
      const fast = packed(c, true);
      const js = packed(c, false);
      assert.equal(fast.calls, 2, "forward and backward ran in place");
      const want = reference(c);
      close(fast.y, js.y, 2e-6, "y vs JS rows");
      close(fast.g, js.g, 2e-5, "d qkv vs JS rows");
      close(fast.y, want.y, 1e-5, "y vs float64 composite");
      close(fast.g, want.g, 5e-5, "d qkv vs float64 composite");
    });
  }

  test("a gradient check of the packed path against finite differences of the float64 composite", () => {
    const c: Shape = { N: 1, L: 5, H: 1, d: 3, causal: true };
    const fast = packed(c, true);
    const { qkv, dO } = inputs(c, "float64");
    const f = (x: fl.Tensor) => Number(composite(x, c.H, c.causal).mul(dO).sum().dataSync()[0]);
    const x = qkv.detach();
    const xd = x.dataSync() as Float64Array;
    const h = 1e-6;
    for (let i = 0; i < xd.length; i++) {
      const p = Array.from(xd);
      p[i]! += h;
      const m = Array.from(xd);
      m[i]! -= h;
      const num =
        (f(fl.tensor(p, { dtype: "float64" }).reshape(x.shape)) -
          f(fl.tensor(m, { dtype: "float64" }).reshape(x.shape))) /
        (2 * h);
      assert.ok(
        Math.abs(fast.g[i]! - num) <= 1e-4 * (1 + Math.abs(num)),
        `d qkv[${i}]: got ${fast.g[i]}, finite difference ${num}`,
      );
    }
  });
});

/** A memory with rows [rows, S] at byte 64, and NaN garbage after them. */
function rowsInMemory(rows: number, S: number, values: (r: number, j: number) => number) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const f = new Float32Array(memory.buffer);
  f.fill(Number.NaN);
  for (let r = 0; r < rows; r++) for (let j = 0; j < S; j++) f[16 + r * S + j] = values(r, j);
  return { memory, f };
}

/** softmax(x·scale) of one row's first len entries, in doubles, zeros after. */
function softmaxRow(x: number[], len: number, scale: number): number[] {
  const v = x.slice(0, len).map((t) => t * scale);
  const m = Math.max(...v);
  const e = v.map((t) => Math.exp(t - m));
  const s = e.reduce((a, b) => a + b, 0);
  return x.map((_, j) => (j < len ? e[j]! / s : 0));
}

describe("the softmax row kernels in a memory", { skip: !simd && "no wasm SIMD" }, () => {
  for (const [L, S] of [
    [5, 5],
    [6, 6],
    [9, 7],
    [4, 13],
  ] as const) {
    for (const causal of [true, false]) {
      test(`L ${L}, S ${S}, ${causal ? "causal" : "not causal"}: rows, the lanes past them untouched`, () => {
        const rows = 2 * L;
        const x = (r: number, j: number) => Math.sin(r * 7.1 + j * 1.3) * 4;
        const { memory, f } = rowsInMemory(rows, S, x);
        const k = softmaxRowKernels(memory)!;
        k.softmax(64, rows, L, S, 0.7, causal ? 1 : 0);
        for (let r = 0; r < rows; r++) {
          const i = r % L;
          const len = causal ? Math.min(i + 1, S) : S;
          const row = Array.from({ length: S }, (_, j) => x(r, j));
          const want = softmaxRow(row, len, 0.7);
          close(f.subarray(16 + r * S, 16 + (r + 1) * S), want, 2e-6, `row ${r}`);
        }
        assert.ok(Number.isNaN(f[15]!), "before the rows untouched");
        for (let j = 16 + rows * S; j < 16 + rows * S + 8; j++)
          assert.ok(Number.isNaN(f[j]!), `past the rows untouched [${j}]`);
      });

      test(`L ${L}, S ${S}, ${causal ? "causal" : "not causal"}: backward ignores garbage past the visible keys`, () => {
        const rows = 2 * L;
        const len = (r: number) => (causal ? Math.min((r % L) + 1, S) : S);
        // Probabilities at byte 64; the gradient rows after them, NaN where the GEMM wrote nothing.
        const p = (r: number, j: number) => (j < len(r) ? 0.05 + ((r * 3 + j * 5) % 7) / 10 : 0);
        const g = (r: number, j: number) => (j < len(r) ? Math.cos(r + j * 2.3) : Number.NaN);
        const { memory, f } = rowsInMemory(2 * rows, S, (r, j) =>
          r < rows ? p(r, j) : g(r - rows, j),
        );
        const k = softmaxRowKernels(memory)!;
        const G = 64 + rows * S * 4;
        k.softmaxBackward(G, 64, rows, L, S, 0.5, causal ? 1 : 0);
        for (let r = 0; r < rows; r++) {
          let dot = 0;
          for (let j = 0; j < len(r); j++) dot += g(r, j) * p(r, j);
          const want = Array.from({ length: S }, (_, j) =>
            j < len(r) ? 0.5 * p(r, j) * (g(r, j) - dot) : 0,
          );
          close(f.subarray(G / 4 + r * S, G / 4 + (r + 1) * S), want, 2e-6, `row ${r}`);
        }
        for (let j = 16 + 2 * rows * S; j < 16 + 2 * rows * S + 8; j++)
          assert.ok(Number.isNaN(f[j]!), `past the rows untouched [${j}]`);
      });
    }
  }

  test("a row without a finite maximum becomes NaN, as the composite gives", () => {
    const S = 6;
    const rowsOf = [
      [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, 1, 2, 3, 4],
      [0, Number.POSITIVE_INFINITY, 1, 2, 3, 4],
      [0, 1, Number.NaN, 2, 3, 4],
      [0, 1, 2, 3, 4, 5],
    ];
    const { memory, f } = rowsInMemory(4, S, (r, j) => rowsOf[r]![j]!);
    softmaxRowKernels(memory)!.softmax(64, 4, 4, S, 1, 0);
    const got = (r: number) => Array.from(f.subarray(16 + r * S, 16 + (r + 1) * S));
    // Row 0 is causal-free here: -inf entries are just zero probabilities.
    close(got(0), softmaxRow(rowsOf[0]!, S, 1), 2e-6, "row 0");
    assert.ok(got(1).every(Number.isNaN), "a +inf makes the row NaN");
    assert.ok(got(2).every(Number.isNaN), "a NaN makes the row NaN");
    close(got(3), softmaxRow(rowsOf[3]!, S, 1), 2e-6, "row 3");
    // Under a causal mask, row 0 sees only its first key (-inf): all NaN, the tail included.
    const again = rowsInMemory(4, S, (r, j) => rowsOf[r]![j]!);
    softmaxRowKernels(again.memory)!.softmax(64, 4, 4, S, 1, 1);
    assert.ok(
      Array.from(again.f.subarray(16, 16 + S)).every(Number.isNaN),
      "an all -inf visible row is NaN",
    );
  });

  test("kernels instantiate over a shared memory (the thread pool's GEMM)", () => {
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: 1, maximum: 32768, shared: true });
    } catch {
      return;
    }
    const f = new Float32Array(memory.buffer);
    f.set([1, 2, 3, 4], 16);
    softmaxRowKernels(memory)!.softmax(64, 1, 1, 4, 1, 0);
    close(f.subarray(16, 20), softmaxRow([1, 2, 3, 4], 4, 1), 2e-6, "shared");
  });
});
