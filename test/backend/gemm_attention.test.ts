// Packed self-attention on the wasm GEMM (packedAttention in
// src/backend/cpu/attention.ts: heads read in place from qkv in wasm
// memory, outputs written merged, causal row blocks that skip the masked
// part of all six products) against the head-split path it replaces and
// the composite: values, gradients and gradients of gradients, on odd
// sizes (L below, at and past the causal block, ragged last blocks),
// strided qkv and output gradients, an additive mask, and the thread pool.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import { startThreads } from "../../src/backend/cpu/wasm/matmul.js";
import { Scratch, wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import { fusedKernels, registerFused, setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { fusedPackedSelfAttention } from "../../src/nn/functional/fused_attention.js";

const simd = wasmFeatures().simd;

function close(a: fl.Tensor, b: fl.Tensor, tol: number, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const u = Number(x[i]);
    const v = Number(y[i]);
    if (Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v))) continue;
    if (!(Math.abs(u - v) <= tol * (1 + Math.abs(v))))
      assert.fail(`${what}[${i}]: got ${u}, want ${v}`);
  }
}

type Path = "packed" | "split" | "composite";

/** Runs fn with the in-place kernels (packed), without them (split heads), or with no fused kernels. */
function via<T>(path: Path, fn: () => T): T {
  const k = fusedKernels("cpu");
  const saved = {
    packedAttention: k.packedAttention,
    packedAttentionBackward: k.packedAttentionBackward,
  };
  let calls = 0;
  if (path === "packed") {
    registerFused("cpu", {
      packedAttention: (...args) => {
        calls++;
        return saved.packedAttention!(...args);
      },
      packedAttentionBackward: (...args) => {
        calls++;
        return saved.packedAttentionBackward!(...args);
      },
    });
  } else if (path === "split") {
    registerFused("cpu", { packedAttention: undefined, packedAttentionBackward: undefined });
  }
  const was = setFusedKernels(path !== "composite");
  try {
    const out = fn();
    if (path === "packed") assert.equal(calls, 2, "forward and backward kernels both ran");
    return out;
  } finally {
    setFusedKernels(was);
    registerFused("cpu", saved);
  }
}

/** The reference, written with flint ops: heads split by views, softmax(q·kᵀ/√d + mask) v, merged. */
function composite(qkv: fl.Tensor, H: number, mask: fl.Tensor | null, causal: boolean): fl.Tensor {
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
  if (mask) s = s.add(mask);
  if (causal)
    s = s.maskedFill(fl.ones([L, L], { dtype: "bool" }).triu(1), Number.NEGATIVE_INFINITY);
  return s.softmax(-1).matmul(part(2)).transpose(1, 2).reshape([N, L, E]);
}

/** qkv [N, L, 3E], contiguous or a transposed view; the attention's output and d qkv for a random dO. */
function attend(
  path: Path,
  c: {
    N: number;
    L: number;
    E: number;
    H: number;
    causal: boolean;
    mask?: boolean;
    strided?: boolean;
  },
): fl.Tensor[] {
  return via(path, () => {
    fl.manualSeed(91);
    const { N, L, E, H } = c;
    let qkv = c.strided ? fl.randn([N, 3 * E, L]).transpose(1, 2) : fl.randn([N, L, 3 * E]);
    qkv = qkv.detach().requiresGrad_();
    const mask = c.mask ? fl.randn([L, L]) : null;
    const y =
      path === "composite"
        ? composite(qkv, H, mask, c.causal)
        : fusedPackedSelfAttention(qkv, H, { mask, causal: c.causal });
    assert.ok(y);
    let dO = fl.randn(c.strided ? [N, E, L] : [N, L, E]);
    if (c.strided) dO = dO.transpose(1, 2);
    const [g] = fl.autograd.grad(y.mul(dO).sum(), [qkv]);
    return [y, g!];
  });
}

const cases = [
  { name: "GPT-like heads, causal, 4 blocks", N: 2, L: 64, E: 32, H: 4, causal: true },
  { name: "L below the block", N: 2, L: 5, E: 6, H: 3, causal: true },
  { name: "ragged last block", N: 1, L: 37, E: 10, H: 2, causal: true },
  { name: "not causal, additive mask", N: 2, L: 19, E: 12, H: 3, causal: false, mask: true },
  {
    name: "causal and a mask, strided qkv and dO",
    N: 2,
    L: 33,
    E: 8,
    H: 2,
    causal: true,
    mask: true,
    strided: true,
  },
];

describe("packed attention on the wasm GEMM", { skip: !simd && "no wasm SIMD" }, () => {
  for (const c of cases) {
    test(`${c.name}: matches the split-heads path and the composite`, () => {
      const got = attend("packed", c);
      const split = attend("split", c);
      const comp = attend("composite", c);
      got.forEach((t, i) => {
        close(t, split[i]!, 2e-5, `vs split [${i}]`);
        close(t, comp[i]!, 2e-5, `vs composite [${i}]`);
      });
    });
  }

  test("createGraph falls back to the ops-written rule: gradients of gradients match", () => {
    const run = (attention: (qkv: fl.Tensor) => fl.Tensor) => {
      fl.manualSeed(92);
      const qkv = fl.randn([2, 17, 18]).requiresGrad_();
      const y = attention(qkv);
      const [g] = fl.autograd.grad(y.square().sum(), [qkv], { createGraph: true });
      const [gg] = fl.autograd.grad(g!.square().sum(), [qkv]);
      return [y, g!, gg!];
    };
    const forward = fusedKernels("cpu").packedAttention!;
    let calls = 0;
    registerFused("cpu", {
      packedAttention: (...args) => {
        calls++;
        return forward(...args);
      },
    });
    let got: fl.Tensor[];
    try {
      got = run((qkv) => fusedPackedSelfAttention(qkv, 3, { mask: null, causal: true })!);
    } finally {
      registerFused("cpu", { packedAttention: forward });
    }
    assert.equal(calls, 1, "the forward ran in place");
    const want = run((qkv) => composite(qkv, 3, null, true));
    got.forEach((t, i) => {
      close(t, want[i]!, 5e-5, `createGraph [${i}]`);
    });
  });
});

const threaded = simd && Scratch.sharedAvailable();

describe("packed attention on the thread pool", { skip: !threaded && "no shared memory" }, () => {
  after(() => {
    fl.setNumThreads(1);
    pool.stop();
  });

  test("two threads give the same bits as one", async () => {
    const c = { N: 4, L: 64, E: 64, H: 4, causal: true };
    fl.setNumThreads(1);
    const one = attend("packed", c);
    fl.setNumThreads(2);
    await startThreads(2);
    assert.equal(pool.ready, 2);
    const two = attend("packed", c);
    one.forEach((t, i) => {
      assert.deepEqual(two[i]!.dataSync(), t.dataSync(), `[${i}]`);
    });
  });
});
