// webgpu's fused scaled-dot-product attention (scores, causal mask,
// softmax and @V in one launch) against the CPU composite: odd sizes, key
// sequences longer than one workgroup, E ≠ Ev, L ≠ S, gradients of q, k
// and v, createGraph, and the cases that stay on the composite.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type FusedKernels, fusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { onDevice, webgpuSkipReason } from "../devices.js";
import { close, compareWithCpu, withFused } from "./fused_helpers.js";

const skip = await webgpuSkipReason();
const F = fl.nn.functional;

interface AttnCase {
  batch: number[];
  L: number;
  S: number;
  E: number;
  Ev: number;
}

const CASES: AttnCase[] = [
  { batch: [], L: 1, S: 1, E: 1, Ev: 1 },
  { batch: [3], L: 5, S: 5, E: 4, Ev: 4 },
  { batch: [2, 3], L: 7, S: 9, E: 5, Ev: 3 },
  { batch: [2], L: 9, S: 4, E: 8, Ev: 6 },
  { batch: [1, 2], L: 3, S: 300, E: 6, Ev: 260 },
  { batch: [2], L: 33, S: 33, E: 16, Ev: 16 },
];

describe("webgpu fused attention", { skip }, () => {
  if (skip) return;
  fl.manualSeed(31);

  for (const c of CASES) {
    for (const isCausal of [false, true]) {
      const name = `sdpa ${JSON.stringify(c)} causal=${isCausal}`;
      test(name, async () => {
        const q = fl.randn([...c.batch, c.L, c.E]);
        const k = fl.randn([...c.batch, c.S, c.E]);
        const v = fl.randn([...c.batch, c.S, c.Ev]);
        await compareWithCpu(
          name,
          ([a, b, d]) => F.scaledDotProductAttention(a!, b!, d!, { isCausal }),
          [q, k, v],
          { maxDispatches: 1, gradTol: 2e-4 },
        );
      });
    }
  }

  test("a custom scale, strided (transposed-head) inputs and createGraph", async () => {
    // (B, L, H, E) viewed as (B, H, L, E), as multi-head attention does.
    const q = fl.randn([2, 6, 3, 4]);
    const k = fl.randn([2, 6, 3, 4]);
    const v = fl.randn([2, 6, 3, 5]);
    const heads = (t: fl.Tensor) => t.transpose(1, 2);
    await compareWithCpu(
      "sdpa strided",
      ([a, b, d]) =>
        F.scaledDotProductAttention(heads(a!), heads(b!), heads(d!), {
          isCausal: true,
          scale: 0.3,
        }),
      [q, k, v],
      { gradTol: 2e-4 },
    );
    await compareWithCpu(
      "sdpa 2nd",
      ([a, b, d]) => F.scaledDotProductAttention(a!, b!, d!, { isCausal: true }),
      [q, k, v],
      { second: true, gradTol: 2e-4 },
    );
  });

  test("q, k and v at offsets in their buffers (contiguous narrows)", async () => {
    const q = fl.randn([3, 4, 6]);
    const k = fl.randn([4, 5, 6]);
    const v = fl.randn([5, 5, 3]);
    await compareWithCpu(
      "sdpa offsets",
      ([a, b, d]) =>
        F.scaledDotProductAttention(a!.narrow(0, 1, 2), b!.narrow(0, 2, 2), d!.narrow(0, 3, 2), {
          isCausal: true,
        }),
      [q, k, v],
      { gradTol: 2e-4 },
    );
  });

  test("without gradients the weights are not written: one launch, same values", async () => {
    const q = fl.randn([2, 5, 8]);
    const [a, b, d] = [q, q.mul(-1), q.mul(2)];
    const want = withFused(false, () => F.scaledDotProductAttention(a, b, d, { isCausal: true }));
    const got = fl.noGrad(() =>
      F.scaledDotProductAttention(a.to("webgpu"), b.to("webgpu"), d.to("webgpu"), {
        isCausal: true,
      }),
    );
    assert.equal(got.gradFn, null);
    await close(got, want, 2e-5, "no-grad sdpa");
  });

  test("4-d attention with a broadcast mask: GEMMs around the in-place attention softmax", async () => {
    // (N, H, L, E) with masks of (L, S) and (N, 1, 1, S): 0 strides where they broadcast.
    const q = fl.randn([2, 3, 5, 4]);
    const k = fl.randn([2, 3, 300, 4]);
    const v = fl.randn([2, 3, 300, 6]);
    const bias = fl.randn([5, 300]);
    const keep = fl.randn([2, 1, 1, 300]).gt(-1);
    for (const [name, mask] of [
      ["float mask", bias],
      ["bool mask", keep],
    ] as const) {
      const calls = await counting("attentionSoftmax", () =>
        compareWithCpu(
          `sdpa 4-d ${name}`,
          ([a, b, d], device) =>
            F.scaledDotProductAttention(a!, b!, d!, { attnMask: mask.to(device) }),
          [q, k, v],
          { gradTol: 2e-4 },
        ),
      );
      assert.equal(calls, 1, `${name}: webgpu's attentionSoftmax ran ${calls} times`);
    }
  });

  test("masks, dropout, broadcast batches and long key rows stay correct (the composite where no kernel fits)", async () => {
    const q = fl.randn([2, 3, 4]);
    const k = fl.randn([2, 5, 4]);
    const v = fl.randn([2, 5, 3]);
    const mask = fl.randn([3, 5]).gt(-0.5);
    await compareWithCpu(
      "bool mask",
      ([a, b, d], device) =>
        F.scaledDotProductAttention(a!, b!, d!, {
          attnMask: device === "cpu" ? mask : mask.to(device),
        }),
      [q, k, v],
    );
    await compareWithCpu(
      "broadcast batch",
      ([a, b, d]) => F.scaledDotProductAttention(a!, b!.narrow(0, 0, 1), d!.narrow(0, 0, 1)),
      [q, k, v],
    );
    // More keys than the kernel keeps in workgroup memory (2,048).
    const long = fl.randn([1, 2100, 2]);
    await compareWithCpu("long keys", ([a, b, d]) => F.scaledDotProductAttention(a!, b!, d!), [
      fl.randn([1, 2, 2]),
      long,
      long.mul(0.5),
    ]);
  });

  // nn.MultiheadAttention's packed self-attention path: head split/merge,
  // GEMMs and the in-place attention softmax (and its backward) on webgpu.
  const MHA: { name: string; N: number; L: number; E: number; H: number; opts: MhaOpts }[] = [
    { name: "causal", N: 2, L: 7, E: 8, H: 2, opts: { isCausal: true } },
    { name: "bool mask", N: 2, L: 5, E: 6, H: 3, opts: { attnMask: "bool" } },
    {
      name: "float mask with a fully masked row",
      N: 1,
      L: 4,
      E: 4,
      H: 1,
      opts: { attnMask: "float" },
    },
    { name: "key padding", N: 3, L: 6, E: 8, H: 4, opts: { keyPadding: true } },
    { name: "long rows", N: 1, L: 300, E: 8, H: 2, opts: { isCausal: true } },
  ];
  for (const c of MHA) {
    test(`nn.MultiheadAttention (${c.name}): output and gradients`, async () => {
      const x = fl.randn([c.N, c.L, c.E]);
      const mha = new fl.nn.MultiheadAttention(c.E, c.H, { batchFirst: true });
      const boolMask = fl.randn([c.L, c.L]).gt(0.8).logicalAnd(fl.eye(c.L).logicalNot());
      const floatMask = fl
        .randn([c.L, c.L])
        .maskedFill(fl.arange(c.L).eq(1).unsqueeze(1), Number.NEGATIVE_INFINITY);
      const pad = fl
        .arange(c.L)
        .unsqueeze(0)
        .ge(
          fl
            .tensor([c.L, c.L - 2, c.L - 1])
            .narrow(0, 0, c.N)
            .unsqueeze(1),
        );
      const run = (device: string) => {
        const m = device === "cpu" ? mha : mha.to(device);
        const on = (t: fl.Tensor) => t.to(device);
        const xs = onDevice(x.requiresGrad_(), device);
        const opts = {
          needWeights: false,
          isCausal: c.opts.isCausal,
          attnMask:
            c.opts.attnMask === "bool"
              ? on(boolMask)
              : c.opts.attnMask === "float"
                ? on(floatMask)
                : undefined,
          keyPaddingMask: c.opts.keyPadding ? on(pad) : undefined,
        };
        const marks = device === "webgpu" ? fl.webgpu.memory().dispatches : 0;
        const [y] = m.forward(xs, xs, xs, opts);
        const launches = device === "webgpu" ? fl.webgpu.memory().dispatches - marks : 0;
        const [gx, gw] = fl.autograd.grad(y.mul(y.detach().add(1)).sum(), [xs, m.in_proj_weight!]);
        return { y, gx: gx!, gw: gw!, launches };
      };
      const want = withFused(false, () => run("cpu"));
      const got = withFused(true, () => run("webgpu"));
      // (The composite's isCausal mask is built on the CPU, which webgpu refuses: compare where it runs.)
      if (!c.opts.isCausal) {
        const slow = withFused(false, () => run("webgpu"));
        assert.ok(
          got.launches < slow.launches,
          `fused MHA: ${got.launches} launches, composite ${slow.launches}`,
        );
      }
      await close(got.y, want.y, 3e-5, "output");
      await close(got.gx, want.gx, 3e-4, "input grad");
      await close(got.gw, want.gw, 3e-4, "in_proj_weight grad");
    });
  }
});

interface MhaOpts {
  isCausal?: boolean;
  attnMask?: "bool" | "float";
  keyPadding?: boolean;
}

/** How many times webgpu's fused kernel `name` runs during fn. */
async function counting(name: keyof FusedKernels, fn: () => Promise<void>): Promise<number> {
  const table = fusedKernels("webgpu") as Record<string, unknown>;
  const original = table[name] as (...args: unknown[]) => unknown;
  let calls = 0;
  table[name] = (...args: unknown[]) => {
    calls++;
    return original(...args);
  };
  try {
    await fn();
  } finally {
    table[name] = original;
  }
  return calls;
}
