import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { lstmSequence, lstmSequenceBackward } from "../../src/backend/cpu/rnn.js";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import {
  packBOnce,
  packedBBytes,
  runPackedB,
  scratchLayout,
} from "../../src/backend/cpu/wasm/blocked.js";
import { defaultGemm, startThreads } from "../../src/backend/cpu/wasm/matmul.js";
import { type FusedKernels, registerFused } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(19);

// The whole-layer LSTM kernels (src/backend/cpu/rnn.ts lstmSequence and its
// backward: W_hh packed once in the GEMM's memory, the wasm SIMD cell of
// src/backend/cpu/wasm/lstm_cell.ts where H is a multiple of 4, the JS cell
// otherwise) against the step-by-step fused path they replace (one matmul
// and one JS cell call per step), outputs and every gradient, on random
// sizes: odd ones, 4H past the GEMM's depth block (256), N past its row
// block (120). And the pre-packed GEMM itself against a plain product.

const { nn } = fl;

function rnd(lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

let calls = 0;
const counted: FusedKernels = {
  lstmSequence: (...a: Parameters<typeof lstmSequence>) => {
    const ran = lstmSequence(...a);
    if (ran) calls++;
    return ran;
  },
  lstmSequenceBackward: (...a: Parameters<typeof lstmSequenceBackward>) => {
    const ran = lstmSequenceBackward(...a);
    if (ran) calls++;
    return ran;
  },
};

function withSequence<T>(on: boolean, fn: () => T): T {
  registerFused("cpu", on ? counted : { lstmSequence: undefined, lstmSequenceBackward: undefined });
  try {
    return fn();
  } finally {
    registerFused("cpu", counted);
  }
}

interface Shape {
  I: number;
  H: number;
  T: number;
  N: number;
  layers: number;
  bidirectional: boolean;
}

/** Outputs, final states and the gradients of x, h0, c0 and every parameter. */
function run(s: Shape, seed: number, on: boolean): [string, fl.Tensor][] {
  return withSequence(on, () => {
    fl.manualSeed(seed);
    const m = new nn.LSTM(s.I, s.H, { numLayers: s.layers, bidirectional: s.bidirectional });
    const dirs = s.bidirectional ? 2 : 1;
    const x = fl.randn([s.T, s.N, s.I]).requiresGrad_(true);
    const h0 = fl.randn([s.layers * dirs, s.N, s.H]).requiresGrad_(true);
    const c0 = fl.randn([s.layers * dirs, s.N, s.H]).requiresGrad_(true);
    const [out, [h, c]] = m.forward(x, [h0, c0]);
    out
      .mul(fl.randn(out.shape))
      .sum()
      .add(h.mul(fl.randn(h.shape)).sum())
      .add(c.mul(fl.randn(c.shape)).sum())
      .backward();
    const named = m.namedParameters() as [string, fl.Tensor][];
    return [
      ["out", out],
      ["h", h],
      ["c", c],
      ["grad x", x.grad!],
      ["grad h0", h0.grad!],
      ["grad c0", c0.grad!],
      ...named.map(([n, p]) => [`grad ${n}`, p.grad!] as [string, fl.Tensor]),
    ];
  });
}

function close(a: fl.Tensor, b: fl.Tensor, tol: number, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i]));
    if (!(d <= tol * (1 + Math.abs(Number(y[i]))))) {
      assert.fail(`${what}[${i}]: sequence kernel ${x[i]}, step by step ${y[i]}`);
    }
  }
}

function compare(s: Shape): void {
  const seed = rnd(0, 1e6);
  calls = 0;
  const a = run(s, seed, true);
  const dirs = s.bidirectional ? 2 : 1;
  // One forward and one backward per layer and direction.
  assert.equal(calls, 2 * s.layers * dirs, `${JSON.stringify(s)}: sequence kernel not taken`);
  calls = 0;
  const b = run(s, seed, false);
  assert.equal(calls, 0);
  for (const [i, [n, t]] of a.entries()) close(t, b[i]![1], 3e-4, `${JSON.stringify(s)} ${n}`);
}

describe("LSTM layer in the GEMM's memory against the step-by-step path", () => {
  after(() => pool.stop());

  test("H a multiple of 4 (wasm cell), random sizes", () => {
    for (let k = 0; k < 4; k++) {
      compare({
        I: rnd(1, 9),
        H: 4 * rnd(1, 20),
        T: rnd(1, 6),
        N: rnd(1, 9),
        layers: rnd(1, 2),
        bidirectional: k % 2 === 0,
      });
    }
  });

  test("other H (JS cell), random sizes", () => {
    for (let k = 0; k < 4; k++) {
      const H = 4 * rnd(1, 20) + rnd(1, 3);
      compare({
        I: rnd(1, 9),
        H,
        T: rnd(1, 6),
        N: rnd(1, 9),
        layers: rnd(1, 2),
        bidirectional: k % 2 === 1,
      });
    }
  });

  test("past the GEMM's blocks: depth 4H > 256, H > 256, N > 120", () => {
    compare({ I: 5, H: 68, T: 3, N: 7, layers: 1, bidirectional: true });
    compare({ I: 3, H: 67, T: 2, N: 5, layers: 1, bidirectional: false });
    compare({ I: 3, H: 260, T: 2, N: 3, layers: 1, bidirectional: false });
    compare({ I: 4, H: 8, T: 3, N: 130, layers: 2, bidirectional: false });
  });

  test("with the thread pool on (the layer keeps to one thread; the big GEMMs split)", async () => {
    fl.setNumThreads(2);
    await startThreads(2);
    try {
      compare({ I: 64, H: 32, T: 5, N: 33, layers: 2, bidirectional: true });
    } finally {
      fl.setNumThreads(1);
    }
  });

  test("createGraph still takes the ops backward (gradients of gradients)", () => {
    const m = new nn.LSTM(3, 8);
    const x = fl.randn([4, 2, 3]).requiresGrad_(true);
    const [out] = m.forward(x);
    const [gx] = fl.autograd.grad([out.square().sum()], [x], { createGraph: true });
    const [ggx] = fl.autograd.grad([gx!.square().sum()], [x]);
    assert.ok(ggx && Number(ggx.abs().sum().itemSync()) > 0);
  });
});

describe("GEMM with B packed once", () => {
  test("runPackedB (=, +=) against a plain product on random shapes", () => {
    const gemm = defaultGemm();
    if (!gemm) return; // no wasm SIMD: nothing to check
    const { blocking: blk, config, kernels } = gemm;
    const nr = config.nv * 4;
    for (const [M, K, N] of [
      [1, 1, 1],
      [5, 7, 3],
      [33, 129, 70],
      [130, 300, 9],
      [3, 17, 4200],
    ] as const) {
      const a = Float32Array.from({ length: M * K }, () => random() - 0.5);
      const b = Float32Array.from({ length: K * N }, () => random() - 0.5);
      const c0 = Float32Array.from({ length: M * N }, () => random() - 0.5);
      const layout = scratchLayout(blk, config.mr, nr, M, K, N);
      const bAt = Math.ceil(layout.bytes / 64) * 64;
      const pAt = bAt + Math.ceil((K * N * 4) / 64) * 64;
      const aAt = pAt + packedBBytes(blk, nr, K, N);
      const cAt = aAt + Math.ceil((M * K * 4) / 64) * 64;
      gemm.scratch.reserve(cAt + M * N * 4);
      const mem = gemm.scratch.floats;
      // B stored transposed ([N, K] rows), read through strides as [K, N].
      for (let k = 0; k < K; k++)
        for (let n = 0; n < N; n++) mem[bAt / 4 + n * K + k] = b[k * N + n]!;
      const packed = packBOnce(kernels, blk, nr, bAt, 1, K, K, N, pAt);
      mem.set(a, aAt / 4);
      const s = { tile: 0, aPanel: layout.aPanel, bPanel: layout.bPanel };
      for (const acc of [0, 1]) {
        mem.set(c0, cAt / 4);
        runPackedB(kernels, blk, packed, aAt, K, 1, M, cAt, N, acc, s);
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let want = acc ? c0[m * N + n]! : 0;
            for (let k = 0; k < K; k++) want += a[m * K + k]! * b[k * N + n]!;
            const got = mem[cAt / 4 + m * N + n]!;
            assert.ok(
              Math.abs(got - want) <= 1e-4 * (1 + Math.abs(want)),
              `${M}x${K}x${N} acc ${acc} [${m},${n}]: ${got} vs ${want}`,
            );
          }
        }
      }
    }
  });
});
