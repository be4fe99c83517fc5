// The WebAssembly SIMD matmul against the TypeScript reference kernel, on
// random shapes chosen to hit every edge: sizes that are not multiples of
// the register tile or of the cache blocks, transposed, strided, sliced and
// broadcast operands, batches (also those whose outputs pass through wasm
// memory a group at a time), and empty products.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { View } from "../../src/backend/backend.js";
import { matmulKernel } from "../../src/backend/cpu/matmul.js";
import {
  DEFAULT_BLOCKING,
  DEFAULT_TILE,
  defaultGemm,
  WasmGemm,
} from "../../src/backend/cpu/wasm/matmul.js";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(13);

const simd = wasmFeatures().simd;

/** Asserts two float32 results agree to float32 accumulation error over a depth of k. */
function assertMatches(got: Float32Array, want: ArrayLike<number>, k: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const atol = 2e-6 * (k + 1);
  for (let i = 0; i < got.length; i++) {
    const w = want[i]!;
    if (!(Math.abs(got[i]! - w) <= atol + 1e-5 * Math.abs(w))) {
      assert.fail(`${what}: element ${i} is ${got[i]}, reference ${w}`);
    }
  }
}

function check(gemm: WasmGemm, a: View, b: View, what: string): void {
  const k = a.shape[a.shape.length - 1]!;
  assertMatches(gemm.matmul(a, b), matmulKernel(a, b, "float32"), k, what);
}

// [M, K, N]: tile edges (4×8), odd primes, and sizes past the default
// blocks (mc 120, kc 256).
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 17],
  [3, 1, 5],
  [4, 8, 8],
  [5, 9, 7],
  [17, 63, 129],
  [63, 17, 3],
  [129, 5, 64],
  [2, 257, 9],
  [130, 300, 70],
];

describe("wasm matmul", { skip: !simd && "no WebAssembly SIMD in this runtime" }, () => {
  fl.manualSeed(7);
  const gemm = defaultGemm()!;
  // Tiny blocks make small shapes cross many column, depth and row blocks.
  const tiny = new WasmGemm({ ...DEFAULT_TILE, fma: false }, { mc: 8, kc: 16, nc: 16 });

  test("contiguous operands, odd sizes", () => {
    for (const [m, k, n] of SHAPES) {
      const a = fl.randn([m, k]);
      const b = fl.randn([k, n]);
      check(gemm, a, b, `[${m},${k}]@[${k},${n}]`);
      check(tiny, a, b, `tiny blocks [${m},${k}]@[${k},${n}]`);
    }
  });

  test("transposed operands (as the backward pass hands them)", () => {
    for (const [m, k, n] of SHAPES) {
      const at = fl.randn([k, m]).transpose(0, 1);
      const bt = fl.randn([n, k]).transpose(0, 1);
      const a = fl.randn([m, k]);
      const b = fl.randn([k, n]);
      check(gemm, at, b, `A^T [${m},${k},${n}]`);
      check(gemm, a, bt, `B^T [${m},${k},${n}]`);
      check(tiny, at, bt, `tiny A^T B^T [${m},${k},${n}]`);
    }
  });

  test("strided and sliced operands", () => {
    for (const [m, k, n] of SHAPES) {
      // Every other column: a row stride of 2k, column stride 2.
      const a = fl.randn([m, 2 * k]).index(":, ::2");
      const b = fl.randn([k, 3 * n]).index(":, 1::3");
      check(gemm, a, b, `stepped [${m},${k},${n}]`);
      check(tiny, a, b, `tiny stepped [${m},${k},${n}]`);
    }
    // A thin window of a big tensor: staged through a contiguous copy.
    const big = fl.randn([300, 400]);
    const a = big.narrow(0, 5, 3).narrow(1, 7, 4);
    const b = big.narrow(0, 200, 4).narrow(1, 390, 9);
    check(gemm, a, b, "window of a big tensor");
  });

  test("batched, permuted and broadcast batch dims", () => {
    const a = fl.randn([3, 2, 13, 21]);
    const b = fl.randn([3, 2, 21, 10]);
    check(gemm, a, b, "batched");
    check(tiny, a, b, "tiny batched");
    // Batch dims out of order in memory.
    const ap = fl.randn([2, 13, 3, 21]).permute([2, 0, 1, 3]);
    check(gemm, ap, b, "permuted batch");
    // b broadcast over the batch: stride 0.
    const b1 = fl.randn([21, 10]).expand([3, 2, 21, 10]);
    check(gemm, a, b1, "broadcast B");
    const a1 = fl.randn([1, 2, 13, 21]).expand([3, 2, 13, 21]);
    check(tiny, a1, b, "tiny broadcast A");
  });

  test("a batch whose outputs pass through wasm memory a group at a time", () => {
    // 3 products' outputs (3·13·10 floats) fit in 400, so 7 products go in 3 groups.
    const grouped = new WasmGemm({ ...DEFAULT_TILE, fma: false }, DEFAULT_BLOCKING, {
      outputGroupFloats: 400,
    });
    const a = fl.randn([7, 13, 21]);
    const b = fl.randn([7, 21, 10]);
    check(grouped, a, b, "grouped batch");
    assert.deepEqual(grouped.matmul(a, b), gemm.matmul(a, b));
    // One output larger than a group still runs, alone.
    check(grouped, fl.randn([2, 30, 5]), fl.randn([2, 5, 20]), "outputs over a group");
  });

  test("empty products", () => {
    assert.deepEqual(gemm.matmul(fl.randn([3, 0]), fl.randn([0, 5])), new Float32Array(15));
    assert.equal(gemm.matmul(fl.randn([0, 4]), fl.randn([4, 5])).length, 0);
    assert.equal(gemm.matmul(fl.randn([2, 3, 4]).narrow(0, 0, 0), fl.randn([0, 4, 5])).length, 0);
  });

  test("random shapes and layouts", () => {
    const rnd = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
    for (let t = 0; t < 40; t++) {
      const [m, k, n] = [rnd(1, 70), rnd(1, 70), rnd(1, 70)];
      const a = random() < 0.5 ? fl.randn([m, k]) : fl.randn([k, m]).transpose(0, 1);
      const b = random() < 0.5 ? fl.randn([k, n]) : fl.randn([n, k]).transpose(0, 1);
      check(tiny, a, b, `random #${t} [${m},${k},${n}]`);
    }
  });

  test("relaxed-SIMD fused multiply-add variant", {
    skip: !wasmFeatures().relaxedSimd && "no relaxed SIMD",
  }, () => {
    const fma = new WasmGemm({ ...DEFAULT_TILE, fma: true }, { mc: 8, kc: 16, nc: 16 });
    for (const [m, k, n] of SHAPES)
      check(fma, fl.randn([m, k]), fl.randn([n, k]).transpose(0, 1), `fma [${m},${k},${n}]`);
  });

  test("other register tiles", () => {
    for (const [mr, nv] of [
      [1, 1],
      [3, 3],
      [6, 2],
    ] as const) {
      const g = new WasmGemm({ mr, nv, fma: false }, { mc: 12, kc: 16, nc: 24 });
      for (const [m, k, n] of SHAPES)
        check(g, fl.randn([m, k]), fl.randn([k, n]), `${mr}x${nv * 4} [${m},${k},${n}]`);
    }
  });
});

describe("routing through fl.matmul", () => {
  test("float32 products match a float64 reference, forward and backward", () => {
    fl.manualSeed(3);
    const a = fl.randn([2, 37, 45], { requiresGrad: true });
    const b = fl.randn([45, 29], { requiresGrad: true });
    const y = a.matmul(b);
    const g = fl.randn(y.shape);
    y.backward(g);
    const a64 = a.detach().double();
    const b64 = b.detach().double();
    const g64 = g.double();
    // dA = g bᵀ, dB = Σ_batch aᵀ g, as the reference computes them.
    assertMatches(y.dataSync() as Float32Array, a64.matmul(b64).dataSync(), 45, "forward");
    assertMatches(
      a.grad!.dataSync() as Float32Array,
      g64.matmul(b64.transpose(0, 1)).dataSync(),
      29,
      "dA",
    );
    assertMatches(
      b.grad!.dataSync() as Float32Array,
      a64.transpose(1, 2).matmul(g64).sum(0).dataSync(),
      74,
      "dB",
    );
  });

  test("float64 and int32 products are untouched", () => {
    const a = fl.arange(0, 12, 1).reshape([3, 4]);
    const b = fl.arange(0, 8, 1).reshape([4, 2]);
    assert.equal(a.matmul(b).dtype, "int32");
    assert.deepEqual(Array.from(a.matmul(b).dataSync()), [28, 34, 76, 98, 124, 162]);
  });
});
