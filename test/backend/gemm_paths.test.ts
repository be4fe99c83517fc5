// The wasm GEMM's packing paths and its bias-first products against the
// TypeScript reference kernel, on random odd shapes: row-major A (the SIMD
// row-transposing pack, full and ragged slivers, kc not a multiple of 4,
// several depth blocks), transposed and doubly strided A, the three B
// packs; the bias laid into C before the product (strided bias, batches,
// output groups, K = 0, the thread pool); and F.linear's addmm path
// (float32, GPT-sized and with a transposed weight) against matmul + add,
// gradients included.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { View } from "../../src/backend/backend.js";
import { matmulKernel } from "../../src/backend/cpu/matmul.js";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import {
  DEFAULT_TILE,
  defaultGemm,
  startThreads,
  threadedGemm,
  WasmGemm,
} from "../../src/backend/cpu/wasm/matmul.js";
import { Scratch, wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import { fusedKernels, registerFused, setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { linear, linearGelu } from "../../src/nn/functional/linear.js";
import { slice } from "../../src/ops/view.js";

const simd = wasmFeatures().simd;

/** |got − want| within float32 rounding of a K-term sum. */
function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, K: number, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const tol = 3e-6 * (K + 1) + 1e-5 * Math.abs(want[i]!);
    if (!(Math.abs(got[i]! - want[i]!) <= tol))
      assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/** x [..., M, K] laid out per `layout`: row-major, transposed (M contiguous) or strided both ways. */
function operand(shape: number[], layout: "rows" | "cols" | "strided"): fl.Tensor {
  const nd = shape.length;
  const [r, c] = [shape[nd - 2]!, shape[nd - 1]!];
  const lead = shape.slice(0, -2);
  if (layout === "rows") return fl.randn(shape);
  if (layout === "cols") return fl.randn([...lead, c, r]).transpose(-1, -2);
  // Every other row and column of a bigger tensor: no unit stride at all.
  return slice(slice(fl.randn([...lead, 2 * r, 2 * c]), -2, 0, 2 * r, 2), -1, 0, 2 * c, 2);
}

/** reference a @ b (+ bias on every row), as float32. */
function reference(a: View, b: View, bias: fl.Tensor | null): Float32Array {
  const want = matmulKernel(a, b, "float32") as Float32Array;
  if (!bias) return want;
  const bd = bias.dataSync() as Float32Array;
  const N = bd.length;
  for (let i = 0; i < want.length; i++) want[i] = want[i]! + bd[i % N]!;
  return want;
}

describe("wasm GEMM packing paths", { skip: !simd && "no wasm SIMD" }, () => {
  test("random odd shapes, every A and B layout, against the reference kernel", () => {
    const g = defaultGemm()!;
    fl.manualSeed(71);
    const layouts = ["rows", "cols", "strided"] as const;
    let cases = 0;
    for (const [M, K, N] of [
      [1, 1, 1],
      [3, 5, 7],
      [4, 4, 8],
      [13, 31, 9],
      [64, 32, 64],
      [37, 258, 41], // two depth blocks, kc not a multiple of 4
      [130, 67, 23], // two row blocks, ragged last sliver
    ] as const) {
      for (const la of layouts) {
        for (const lb of layouts) {
          const a = operand([M, K], la);
          const b = operand([K, N], lb);
          assertNear(g.matmul(a, b), reference(a, b, null), K, `[${M},${K},${N}] A ${la}, B ${lb}`);
          cases++;
        }
      }
    }
    assert.equal(cases, 63);
  });

  test("batched row-major products with broadcast batches (attention-like)", () => {
    const g = defaultGemm()!;
    fl.manualSeed(72);
    const q = fl.randn([2, 3, 17, 9]);
    const k = fl.randn([2, 3, 19, 9]);
    const kt = k.transpose(-1, -2);
    assertNear(g.matmul(q, kt), reference(q, kt, null), 9, "q·kᵀ");
    // b broadcast over the first batch dim (0 stride).
    const v = fl.randn([1, 3, 17, 6]).expand([2, 3, 17, 6]);
    const p = fl.randn([2, 3, 5, 17]);
    assertNear(g.matmul(p, v), reference(p, v, null), 17, "p·v, v broadcast");
  });
});

describe("bias-first GEMM (addmm)", { skip: !simd && "no wasm SIMD" }, () => {
  test("bias rows then the product: 2-d, folded batch, strided bias, K = 0", () => {
    const g = defaultGemm()!;
    fl.manualSeed(73);
    for (const [lead, M, K, N] of [
      [[], 5, 7, 9],
      [[], 33, 130, 47],
      [[3], 11, 13, 17],
    ] as [number[], number, number, number][]) {
      const a = operand([...lead, M, K], "rows");
      const w = fl.randn([N, K]);
      const b = broadcastT(w, lead);
      const bias = fl.randn([N]);
      assertNear(g.matmul(a, b, 1, bias), reference(a, b, bias), K, `[${lead},${M},${K},${N}]`);
      // A bias read with a stride (every other element of a longer vector).
      const sb = slice(fl.randn([2 * N]), 0, 0, 2 * N, 2);
      assertNear(g.matmul(a, b, 1, sb), reference(a, b, sb), K, `strided bias, N=${N}`);
    }
    const bias = fl.randn([6]);
    const none = g.matmul(fl.zeros([4, 0]), fl.zeros([0, 6]), 1, bias);
    assert.deepEqual(
      Array.from(none),
      Array.from(reference(fl.zeros([4, 0]), fl.zeros([0, 6]), bias)),
    );
  });

  test("unfoldable batches through several output groups get the bias in every product", () => {
    // Groups of 2 products: C is refilled with the bias rows for each group.
    const g = new WasmGemm({ ...DEFAULT_TILE, fma: wasmFeatures().relaxedSimd }, undefined, {
      outputGroupFloats: 2 * 7 * 10,
    });
    fl.manualSeed(74);
    const a = fl.randn([5, 7, 11]);
    const b = fl.randn([5, 11, 10]);
    const bias = fl.randn([10]);
    assertNear(g.matmul(a, b, 1, bias), reference(a, b, bias), 11, "grouped batch");
  });
});

/** Wᵀ of w [N, K] as [..., K, N] shared by every batch (0 strides), as F.linear passes it. */
function broadcastT(w: fl.Tensor, lead: number[]): View {
  const t = w.t();
  return {
    storage: t.storage,
    dtype: t.dtype,
    shape: [...lead, ...t.shape],
    strides: [...lead.map(() => 0), ...t.strides],
    offset: t.offset,
  };
}

/** dx = g w, dw = gᵀ x, db = Σ_rows g by the reference kernel and plain sums. */
function linearGrads(g: fl.Tensor, x: fl.Tensor, w: fl.Tensor): Float32Array[] {
  const gt = g.t();
  const db = new Float32Array(g.shape[1]!);
  const gd = g.contiguous().dataSync() as Float32Array;
  for (let i = 0; i < gd.length; i++) db[i % db.length] = db[i % db.length]! + gd[i]!;
  return [
    matmulKernel(g, w, "float32") as Float32Array,
    matmulKernel(gt, x, "float32") as Float32Array,
    db,
  ];
}

describe("linear backward on one staging of g", { skip: !simd && "no wasm SIMD" }, () => {
  test("dx, dw, db (the run-add column sums) against the reference, odd and strided shapes, any subset wanted", () => {
    const k = fusedKernels("cpu");
    fl.manualSeed(77);
    for (const [rows, inF, out] of [
      [1, 1, 1],
      [5, 7, 9],
      [300, 13, 33],
    ] as const) {
      const g = operand([rows, out], "strided");
      const x = operand([rows, inF], "cols");
      const w = fl.randn([out, inF]);
      const want = linearGrads(g, x, w);
      for (const wanted of [
        [true, true, true],
        [true, false, false],
        [false, true, true],
        [false, false, true],
      ] as const) {
        const got = k.linearBackward!(g, x, w, wanted)!;
        got.forEach((s, i) => {
          if (!wanted[i]) {
            assert.equal(s, null);
            return;
          }
          assertNear(
            (s as unknown as { data: Float32Array }).data,
            want[i]!,
            i === 0 ? out : rows,
            `[${rows},${inF},${out}] grad ${i}`,
          );
        });
      }
    }
  });
});

const threaded = simd && Scratch.sharedAvailable();

describe("bias-first GEMM on the thread pool", { skip: !threaded && "no shared memory" }, () => {
  after(() => pool.stop());

  test("split jobs all add into the bias rows: same bits as one thread", async () => {
    fl.setNumThreads(2);
    await startThreads(2);
    assert.equal(pool.ready, 2);
    fl.manualSeed(75);
    const a = fl.randn([517, 130]);
    const b = fl.randn([61, 130]).t();
    const bias = fl.randn([61]);
    const t = threadedGemm()!;
    const got = t.matmul(a, b, 2, bias);
    assert.deepEqual(got, defaultGemm()!.matmul(a, b, 1, bias));
    assertNear(got, reference(a, b, bias), 130, "threaded");
    fl.setNumThreads(1);
  });

  test("linear backward: parts on two threads give the same bits as one", async () => {
    fl.manualSeed(78);
    const g = fl.randn([700, 96]);
    const x = fl.randn([700, 64]);
    const w = fl.randn([96, 64]);
    const k = fusedKernels("cpu");
    fl.setNumThreads(1);
    const one = k.linearBackward!(g, x, w, [true, true, true])!;
    fl.setNumThreads(2);
    await startThreads(2);
    const two = k.linearBackward!(g, x, w, [true, true, true])!;
    fl.setNumThreads(1);
    const data = (s: unknown) => (s as { data: Float32Array }).data;
    linearGrads(g, x, w).forEach((want, i) => {
      assert.deepEqual(data(two[i]), data(one[i]), `grad ${i}`);
      assertNear(data(two[i]), want, i === 0 ? 96 : 700, `threaded grad ${i}`);
    });
  });
});

function withFused<T>(on: boolean, fn: () => T): T {
  const was = setFusedKernels(on);
  try {
    return fn();
  } finally {
    setFusedKernels(was);
  }
}

describe("F.linear through addmm", { skip: !simd && "no wasm SIMD" }, () => {
  for (const c of [
    { name: "GPT's QKV projection [4,64,128] → 384", x: [4, 64, 128], out: 384, wT: false },
    { name: "a transposed weight, odd sizes [3,5,7] → 9", x: [3, 5, 7], out: 9, wT: true },
  ]) {
    test(`${c.name}: values and gradients match matmul + add`, () => {
      const run = (on: boolean, gelu: boolean) =>
        withFused(on, () => {
          fl.manualSeed(76);
          const inF = c.x[c.x.length - 1]!;
          const x = fl.randn(c.x).requiresGrad_();
          const w = (c.wT ? fl.randn([inF, c.out]).t() : fl.randn([c.out, inF])).detach();
          w.requiresGrad_();
          const b = fl.randn([c.out]).requiresGrad_();
          const y = gelu ? linearGelu(x, w, b) : linear(x, w, b);
          y.mul(fl.randnLike(y)).sum().backward();
          return [y, x.grad!, w.grad!, b.grad!];
        });
      // Count the addmm kernel's calls, so the test knows the fused path ran.
      const addmm = fusedKernels("cpu").addmm!;
      // linearGelu's product goes through addmmGelu (the GELU in the GEMM's memory).
      const addmmGelu = fusedKernels("cpu").addmmGelu!;
      let calls = 0;
      registerFused("cpu", {
        addmm: (a, b, bias) => {
          calls++;
          return addmm(a, b, bias);
        },
        addmmGelu: (a, b, bias) => {
          calls++;
          return addmmGelu(a, b, bias);
        },
      });
      try {
        for (const gelu of [false, true]) {
          const before = calls;
          const fused = run(true, gelu);
          assert.equal(calls, before + 1, "addmm ran once");
          const comp = run(false, gelu);
          const inF = c.x[c.x.length - 1]!;
          fused.forEach((t, i) => {
            assert.deepEqual(t.shape, comp[i]!.shape);
            assertNear(
              t.dataSync() as Float32Array,
              comp[i]!.dataSync() as Float32Array,
              i === 2 ? c.x.slice(0, -1).reduce((p, q) => p * q, 1) : Math.max(inF, c.out),
              `${gelu ? "linearGelu" : "linear"} [${i}]`,
            );
          });
        }
      } finally {
        registerFused("cpu", { addmm, addmmGelu });
      }
    });
  }
});
