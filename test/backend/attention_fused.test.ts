import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import {
  fusedAttention4d,
  fusedPackedSelfAttention,
} from "../../src/nn/functional/fused_attention.js";

// The fused attention node (src/nn/functional/fused_attention.ts, CPU
// kernels in src/backend/cpu/attention.ts) against the composite it
// replaces: MultiheadAttention, TransformerEncoderLayer and
// F.scaledDotProductAttention run twice, fused kernels on and off, on odd
// sizes, every mask kind, strided inputs, float32 and float64; values,
// first gradients, and gradients of gradients (createGraph, the ops-written
// backward). gradcheck checks the fused node itself in float64.

const { nn } = fl;
const F = nn.functional;

function withFused<T>(on: boolean, fn: () => T): T {
  const was = setFusedKernels(on);
  try {
    return fn();
  } finally {
    setFusedKernels(was);
  }
}

function close(a: fl.Tensor | null, b: fl.Tensor | null, tol: number, what: string): void {
  assert.ok(a && b, `${what}: missing`);
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const u = Number(x[i]);
    const v = Number(y[i]);
    if (Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v))) continue;
    if (!(Math.abs(u - v) <= tol * (1 + Math.abs(v)))) {
      assert.fail(`${what}[${i}]: fused ${u}, composite ${v} (tol ${tol})`);
    }
  }
}

const tolOf = (dtype: fl.DType) => (dtype === "float64" ? 1e-10 : 2e-5);

interface MhaCase {
  name: string;
  N: number;
  L: number;
  E: number;
  H: number;
  batchFirst: boolean;
  opts: (dtype: fl.DType) => fl.nn.MultiheadAttentionForwardOptions;
}

const boolCausal = (L: number) => fl.ones([L, L], { dtype: "bool" }).triu(1);

const mhaCases: MhaCase[] = [
  {
    name: "causal flag",
    N: 3,
    L: 7,
    E: 12,
    H: 3,
    batchFirst: true,
    opts: () => ({ isCausal: true }),
  },
  { name: "no mask, seq-first", N: 2, L: 5, E: 8, H: 2, batchFirst: false, opts: () => ({}) },
  {
    name: "bool attnMask",
    N: 2,
    L: 9,
    E: 10,
    H: 5,
    batchFirst: true,
    opts: () => ({ attnMask: boolCausal(9) }),
  },
  {
    name: "float attnMask and key padding",
    N: 3,
    L: 6,
    E: 9,
    H: 3,
    batchFirst: true,
    opts: (dtype) => ({
      attnMask: fl.randn([6, 6], { dtype }),
      keyPaddingMask: fl
        .tensor([
          [0, 0, 0, 0, 1, 1],
          [0, 0, 0, 0, 0, 0],
          [0, 1, 0, 0, 0, 1],
        ])
        .gt(0),
    }),
  },
  {
    name: "3-d float mask (N·H, L, S)",
    N: 2,
    L: 4,
    E: 6,
    H: 2,
    batchFirst: true,
    opts: (dtype) => ({ attnMask: fl.randn([4, 4, 4], { dtype }) }),
  },
  {
    name: "causal plus key padding",
    N: 2,
    L: 5,
    E: 4,
    H: 1,
    batchFirst: true,
    opts: () => ({
      isCausal: true,
      keyPaddingMask: fl
        .tensor([
          [0, 0, 0, 1, 1],
          [0, 0, 0, 0, 0],
        ])
        .gt(0),
    }),
  },
];

/** Forward and backward of one MHA with fused kernels on or off: output, input grad, parameter grads. */
function runMha(c: MhaCase, dtype: fl.DType, on: boolean, createGraph = false): fl.Tensor[] {
  return withFused(on, () => {
    fl.manualSeed(7);
    const mha = new nn.MultiheadAttention(c.E, c.H, { batchFirst: c.batchFirst, dtype });
    // Non-zero biases, so their gradients and the packed bias add are exercised.
    fl.noGrad(() => {
      mha.in_proj_bias!.copy_(fl.randn([3 * c.E], { dtype }));
      mha.out_proj.bias!.copy_(fl.randn([c.E], { dtype }));
    });
    const shape = c.batchFirst ? [c.N, c.L, c.E] : [c.L, c.N, c.E];
    const x = fl.randn(shape, { dtype }).requiresGrad_();
    const [y] = mha.forward(x, x, x, { ...c.opts(dtype), needWeights: false });
    const w = fl.randn(y.shape, { dtype });
    const loss = y.mul(w).sum();
    const params = [x, mha.in_proj_weight!, mha.in_proj_bias!, mha.out_proj.weight];
    const grads = fl.autograd.grad(loss, params, { createGraph });
    if (!createGraph) return [y, ...(grads as fl.Tensor[])];
    // A second derivative through the first-order gradient of x.
    const gg = fl.autograd.grad(grads[0]!.square().sum(), [x, mha.in_proj_weight!]);
    return [y, ...(grads as fl.Tensor[]), ...(gg as fl.Tensor[])];
  });
}

describe("fused attention: MultiheadAttention (packed self-attention)", () => {
  for (const c of mhaCases) {
    for (const dtype of ["float32", "float64"] as const) {
      test(`${c.name}, ${dtype}: values and gradients match the composite`, () => {
        const fused = runMha(c, dtype, true);
        const comp = runMha(c, dtype, false);
        const names = ["output", "dx", "d in_proj_weight", "d in_proj_bias", "d out_proj.weight"];
        fused.forEach((t, i) => {
          close(t, comp[i]!, tolOf(dtype), `${c.name} ${names[i]}`);
        });
      });
    }
  }

  test("createGraph: gradients of gradients match the composite (float64)", () => {
    for (const c of [mhaCases[0]!, mhaCases[3]!]) {
      const fused = runMha(c, "float64", true, true);
      const comp = runMha(c, "float64", false, true);
      fused.forEach((t, i) => {
        close(t, comp[i]!, 1e-9, `${c.name} createGraph [${i}]`);
      });
    }
  });

  test("the fused path is the one taken (one node for the heads)", () => {
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    const x = fl.randn([2, 5, 8]).requiresGrad_();
    const qkv = x.matmul(mha.in_proj_weight!.t());
    const y = fusedPackedSelfAttention(qkv, 2, { mask: null, causal: true });
    assert.ok(y);
    assert.equal(y.gradFn?.name, "ScaledDotProductAttentionBackward0");
    assert.deepEqual(y.shape, [2, 5, 8]);
    assert.equal(
      withFused(false, () => fusedPackedSelfAttention(qkv, 2, { mask: null, causal: true })),
      null,
    );
  });

  test("a fully masked row is NaN, as in the composite", () => {
    const c: MhaCase = {
      name: "all keys padded",
      N: 2,
      L: 3,
      E: 4,
      H: 2,
      batchFirst: true,
      opts: () => ({
        keyPaddingMask: fl
          .tensor([
            [1, 1, 1],
            [0, 0, 1],
          ])
          .gt(0),
      }),
    };
    const fused = runMha(c, "float32", true);
    const comp = runMha(c, "float32", false);
    close(fused[0]!, comp[0]!, 2e-5, "output");
    assert.ok(Number.isNaN(Number(fused[0]!.dataSync()[0])));
  });

  test("TransformerEncoderLayer (pre-norm, GELU, causal) trains the same fused and not", () => {
    const run = (on: boolean) =>
      withFused(on, () => {
        fl.manualSeed(3);
        const layer = new nn.TransformerEncoderLayer(12, 3, {
          dimFeedforward: 20,
          dropout: 0,
          activation: "gelu",
          batchFirst: true,
          normFirst: true,
        });
        const opt = new fl.optim.AdamW(layer.parameters(), { lr: 1e-2 });
        const x = fl.randn([3, 7, 12]);
        const losses: number[] = [];
        for (let i = 0; i < 3; i++) {
          opt.zeroGrad();
          const loss = layer.forward(x, { isCausal: true }).square().mean();
          loss.backward();
          opt.step();
          losses.push(Number(loss.itemSync()));
        }
        return losses;
      });
    const a = run(true);
    const b = run(false);
    for (const [i, v] of a.entries())
      assert.ok(Math.abs(v - b[i]!) < 1e-5 * (1 + Math.abs(b[i]!)), `${v} vs ${b[i]}`);
  });
});

describe("fused attention: F.scaledDotProductAttention (4-d)", () => {
  /** Strided q, k, v (transposed copies viewed back) of (N, H, ·, ·). */
  const strided = (shape: number[], dtype: fl.DType) =>
    fl
      .randn([shape[0]!, shape[1]!, shape[3]!, shape[2]!], { dtype })
      .transpose(-1, -2)
      .detach()
      .requiresGrad_();

  const sdpaCases: {
    name: string;
    opts: (dtype: fl.DType) => { attnMask?: fl.Tensor; isCausal?: boolean; scale?: number };
  }[] = [
    { name: "causal, L != S", opts: () => ({ isCausal: true }) },
    {
      name: "broadcast float mask",
      opts: (dtype) => ({ attnMask: fl.randn([1, 3, 5, 6], { dtype }) }),
    },
    { name: "bool mask", opts: () => ({ attnMask: fl.rand([5, 6]).gt(0.3) }) },
    { name: "custom scale, no mask", opts: () => ({ scale: 0.7 }) },
  ];

  for (const c of sdpaCases) {
    for (const dtype of ["float32", "float64"] as const) {
      test(`${c.name}, ${dtype}`, () => {
        const run = (on: boolean) =>
          withFused(on, () => {
            fl.manualSeed(11);
            const q = strided([2, 3, 5, 4], dtype);
            const k = strided([2, 3, 6, 4], dtype);
            const v = strided([2, 3, 6, 7], dtype);
            const y = F.scaledDotProductAttention(q, k, v, c.opts(dtype));
            const w = fl.randn(y.shape, { dtype });
            const g = fl.autograd.grad(y.mul(w).sum(), [q, k, v]);
            return [y, ...(g as fl.Tensor[])];
          });
        const fused = run(true);
        const comp = run(false);
        fused.forEach((t, i) => {
          close(t, comp[i]!, tolOf(dtype), `${c.name} [${i}]`);
        });
      });
    }
  }

  test("gradcheck in float64: fusedAttention4d with a mask, and causal", () => {
    const mk = (s: number[]) => fl.randn(s, { dtype: "float64" }).requiresGrad_();
    const [q, k, v] = [mk([2, 2, 3, 4]), mk([2, 2, 5, 4]), mk([2, 2, 5, 3])];
    const mask = fl.randn([3, 5], { dtype: "float64" });
    assert.ok(
      fl.autograd.gradcheck(
        (a: fl.Tensor, b: fl.Tensor, c: fl.Tensor) => {
          const y = fusedAttention4d(a, b, c, { mask, causal: false, scale: 0.5 });
          assert.ok(y, "fused path taken");
          return y;
        },
        [q, k, v],
      ),
    );
    assert.ok(
      fl.autograd.gradcheck(
        (a: fl.Tensor, b: fl.Tensor, c: fl.Tensor) =>
          fusedAttention4d(a, b, c, { mask: null, causal: true, scale: 0.5 })!,
        [q, k, v],
      ),
    );
  });

  test("gradcheck in float64: packed self-attention, odd sizes", () => {
    const qkv = fl.randn([2, 5, 9], { dtype: "float64" }).requiresGrad_();
    const mask = fl.randn([2, 1, 1, 5], { dtype: "float64" });
    assert.ok(
      fl.autograd.gradcheck(
        (t: fl.Tensor) => fusedPackedSelfAttention(t, 3, { mask, causal: true })!,
        [qkv],
      ),
    );
  });
});
