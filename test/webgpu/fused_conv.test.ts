// webgpu's fused im2col/col2im (conv2d and its backward as GEMMs on the
// device) and max pooling with indices, against the CPU composites: odd
// sizes, stride, padding, dilation, groups, overlapping windows, NaN.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { invertTable } from "../../src/backend/webgpu/fused.js";
import * as fl from "../../src/index.js";
import { webgpuSkipReason } from "../devices.js";
import { close, compareWithCpu, withFused } from "./fused_helpers.js";

const skip = await webgpuSkipReason();
const F = fl.nn.functional;

interface ConvCase {
  x: number[];
  w: number[];
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

const CONVS: ConvCase[] = [
  { x: [1, 1, 5, 5], w: [1, 1, 3, 3] },
  { x: [2, 3, 11, 9], w: [4, 3, 3, 3], padding: 1 },
  { x: [3, 2, 13, 7], w: [5, 2, 4, 2], stride: [2, 3], padding: [2, 1] },
  { x: [2, 4, 9, 10], w: [6, 2, 3, 3], dilation: 2, padding: 2, groups: 2 },
  { x: [1, 1, 28, 28], w: [6, 1, 5, 5], padding: 2 },
  { x: [5, 3, 1, 17], w: [2, 3, 1, 4], stride: 3 },
];

describe("webgpu fused conv and pooling kernels", { skip }, () => {
  if (skip) return;
  fl.manualSeed(21);

  for (const c of CONVS) {
    const name = `conv2d x${JSON.stringify(c.x)} w${JSON.stringify(c.w)} s${c.stride ?? 1} p${c.padding ?? 0} d${c.dilation ?? 1} g${c.groups ?? 1}`;
    test(name, async () => {
      const x = fl.randn(c.x);
      const w = fl.randn(c.w).mul(0.5);
      const b = fl.randn([c.w[0]!]);
      const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
      await compareWithCpu(name, ([t, ww, bb]) => F.conv2d(t!, ww!, bb, opts), [x, w, b], {
        tol: 1e-4,
        gradTol: 2e-4,
      });
    });
  }

  test("conv2d: gradients of gradients fall back to the composite adjoint", async () => {
    const x = fl.randn([2, 2, 6, 5]);
    const w = fl.randn([3, 2, 3, 2]);
    await compareWithCpu("conv 2nd", ([t, ww]) => F.conv2d(t!, ww!, null, { padding: 1 }), [x, w], {
      second: true,
      gradTol: 2e-4,
    });
  });

  test("conv2d and maxPool2d on inputs at an offset in their buffer", async () => {
    const x = fl.randn([4, 2, 7, 6]);
    const w = fl.randn([3, 2, 3, 3]);
    const part = (t: fl.Tensor) => t.narrow(0, 1, 2);
    await compareWithCpu(
      "conv offset",
      ([t, ww]) => F.conv2d(part(t!), ww!, null, { padding: 1 }),
      [x, w],
      {
        gradTol: 2e-4,
      },
    );
    await compareWithCpu("pool offset", ([t]) => F.maxPool2d(part(t!), 2), [x]);
  });

  test("conv2d forward is im2col plus one GEMM on the device", async () => {
    const x = fl.randn([2, 3, 12, 12]).to("webgpu");
    const w = fl.randn([8, 3, 3, 3]).to("webgpu");
    const marks = fl.webgpu.memory().dispatches;
    const y = F.conv2d(x, w, null, { padding: 1 });
    const launches = fl.webgpu.memory().dispatches - marks;
    const slow = withFused(false, () => {
      const m = fl.webgpu.memory().dispatches;
      F.conv2d(x, w, null, { padding: 1 });
      return fl.webgpu.memory().dispatches - m;
    });
    assert.ok(launches < slow, `fused conv launched ${launches} kernels, the composite ${slow}`);
    assert.deepEqual(y.shape, [2, 8, 12, 12]);
  });

  test("col2im's inverse table lists each position's readers in window order", () => {
    // 2 window elements × 3 positions over a plane of 4; -1 is padding.
    const index = Int32Array.from([0, 1, -1, 1, 2, 3]);
    const inv = invertTable(index, 2, 3, 4);
    // starts: position 0 ← slot 0; 1 ← slots 1, 3; 2 ← slot 4; 3 ← slot 5.
    assert.deepEqual(Array.from(inv), [0, 1, 3, 4, 5, 0, 1, 3, 4, 5]);
  });

  const POOLS: { x: number[]; k: number | [number, number]; opts: F_PoolOpts }[] = [
    { x: [2, 3, 8, 8], k: 2, opts: {} },
    { x: [1, 2, 9, 7], k: 3, opts: { stride: 2, padding: 1 } },
    { x: [3, 1, 11, 13], k: [3, 2], opts: { stride: [1, 2], dilation: [2, 1] } },
    { x: [2, 2, 7, 7], k: 2, opts: { ceilMode: true } },
  ];
  for (const p of POOLS) {
    const name = `maxPool2d x${JSON.stringify(p.x)} k${JSON.stringify(p.k)} ${JSON.stringify(p.opts)}`;
    test(name, async () => {
      const x = fl.randn(p.x);
      await compareWithCpu(name, ([t]) => F.maxPool2d(t!, p.k, p.opts), [x], { maxDispatches: 1 });
      const [, want] = withFused(false, () => F.maxPool2dWithIndices(x, p.k, p.opts));
      const [, got] = withFused(true, () => F.maxPool2dWithIndices(x.to("webgpu"), p.k, p.opts));
      assert.equal(got.dtype, "int32");
      await close(got, want, 0, `${name}: indices`);
    });
  }

  test("maxPool2d: ties take the first maximum, NaN wins, overlapping windows add gradients", async () => {
    const x = fl
      .tensor([
        [1, 1, 0, 2, 2],
        [1, Number.NaN, 0, 2, 2],
        [3, 3, 3, 3, 3],
        [0, 0, 0, 0, 0],
      ])
      .reshape([1, 1, 4, 5]);
    const opts = { stride: 1 };
    const [wv, wi] = withFused(false, () => F.maxPool2dWithIndices(x, 2, opts));
    const [gv, gi] = withFused(true, () => F.maxPool2dWithIndices(x.to("webgpu"), 2, opts));
    await close(gv, wv, 0, "values");
    await close(gi, wi, 0, "indices");
    // Integer-valued inputs with many ties: overlapping windows share maxima.
    const ties = fl.randint(0, 3, [2, 2, 9, 9]).to("float32");
    await compareWithCpu(
      "pool ties",
      ([t]) => F.maxPool2d(t!, 3, { stride: 1, padding: 1 }),
      [ties],
      {
        gradTol: 1e-6,
      },
    );
  });

  test("LeNet-style block: conv, relu, pool, conv, pool, gradients of every parameter", async () => {
    const x = fl.randn([3, 1, 20, 20]);
    const w1 = fl.randn([4, 1, 5, 5]).mul(0.3);
    const w2 = fl.randn([6, 4, 3, 3]).mul(0.3);
    await compareWithCpu(
      "lenet block",
      ([t, a, b]) =>
        F.maxPool2d(
          F.conv2d(F.maxPool2d(F.conv2d(t!, a!, null, { padding: 2 }).relu(), 2), b!, null).relu(),
          2,
        ),
      [x, w1, w2],
      { tol: 1e-4, gradTol: 3e-4 },
    );
  });
});

type F_PoolOpts = Parameters<typeof F.maxPool2d>[2];
