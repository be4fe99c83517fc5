// webgpu's fused row kernels (softmax, log-softmax, layer norm) and GELU
// against the CPU composites: forward values, gradients and gradients of
// gradients, on odd shapes, rows longer than one workgroup (256), strided
// and offset inputs, and special values.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fusedKernels } from "../../src/backend/fused.js";
import { gridLimit } from "../../src/backend/webgpu/fused.js";
import * as fl from "../../src/index.js";
import { onDevice, webgpuSkipReason } from "../devices.js";
import { close, compareWithCpu, withFused } from "./fused_helpers.js";

const skip = await webgpuSkipReason();
const F = fl.nn.functional;

// Columns: one element, odd, the longest row one invocation walks (32), just past
// it, exactly one workgroup (256), just past it, several workgroups.
const SHAPES: number[][] = [
  [1],
  [3, 1],
  [4, 7],
  [6, 32],
  [2, 3, 33],
  [5, 256],
  [3, 257],
  [2, 1000],
];

describe("webgpu fused row kernels", { skip }, () => {
  if (skip) return;
  fl.manualSeed(11);

  test("webgpu registers every fused kernel", () => {
    const k = fusedKernels("webgpu");
    for (const name of [
      "gelu",
      "geluBackward",
      "softmax",
      "softmaxBackward",
      "layerNorm",
      "layerNormBackward",
      "im2col",
      "col2im",
      "maxPool",
      "maxPoolBackward",
      "attention",
    ] as const) {
      assert.equal(typeof k[name], "function", `webgpu lacks fused ${name}`);
    }
  });

  for (const shape of SHAPES) {
    test(`softmax and log-softmax over ${JSON.stringify(shape)}`, async () => {
      const x = fl.randn(shape).mul(4);
      await compareWithCpu(`softmax ${shape}`, ([t]) => F.softmax(t!, -1), [x], {
        maxDispatches: 1,
      });
      await compareWithCpu(`logSoftmax ${shape}`, ([t]) => F.logSoftmax(t!, -1), [x], {
        maxDispatches: 1,
      });
    });
  }

  test("rows folded into a 2-d grid when they pass the grid limit", async () => {
    // With a limit of 5 workgroups per dimension, 23 rows run as a 5×5 grid
    // with two idle workgroups: the layout 65,535+ rows get, at a small size.
    const was = gridLimit.maxDim;
    gridLimit.maxDim = 5;
    try {
      const x = fl.randn([23, 40]);
      await compareWithCpu("softmax folded", ([t]) => F.logSoftmax(t!, -1), [x]);
      await compareWithCpu(
        "layer norm folded",
        ([t, w, b]) => F.layerNorm(t!, [20], { weight: w, bias: b }),
        [x.narrow(1, 0, 20), fl.randn([20]), fl.randn([20])],
        { gradTol: 2e-4 },
      );
      await compareWithCpu(
        "attention folded",
        ([q, k, v]) => F.scaledDotProductAttention(q!, k!, v!, { isCausal: true }),
        [fl.randn([23, 6]), fl.randn([9, 6]), fl.randn([9, 4])],
        { gradTol: 2e-4 },
      );
      assert.throws(
        () => F.softmax(fl.zeros([26, 40]).to("webgpu"), -1),
        (e: Error) =>
          e instanceof fl.DeviceError && /26 rows is more than one webgpu launch/.test(e.message),
      );
    } finally {
      gridLimit.maxDim = was;
    }
  });

  test("inputs at an offset in their buffer (a contiguous narrow)", async () => {
    const x = fl.randn([5, 40]);
    const w = fl.randn([40]);
    const b = fl.randn([40]);
    const part = (t: fl.Tensor) => t.narrow(0, 2, 3);
    await compareWithCpu("softmax offset", ([t]) => F.softmax(part(t!), -1), [x]);
    await compareWithCpu("gelu offset", ([t]) => F.gelu(part(t!)), [x]);
    await compareWithCpu(
      "ln offset",
      ([t, ww, bb]) =>
        F.layerNorm(part(t!), [20], {
          weight: ww!.narrow(0, 20, 20),
          bias: bb!.narrow(0, 5, 20),
        }),
      [x.reshape([10, 20]), w, b],
      { gradTol: 2e-4 },
    );
  });

  test("softmax: second derivatives (createGraph) and an earlier dim", async () => {
    const x = fl.randn([3, 300]);
    await compareWithCpu("softmax 2nd", ([t]) => F.softmax(t!, -1), [x], { second: true });
    await compareWithCpu("logSoftmax 2nd", ([t]) => F.logSoftmax(t!, -1), [x], { second: true });
    // Not the last dim: the composite, on the device.
    await compareWithCpu("softmax dim 0", ([t]) => F.softmax(t!, 0), [fl.randn([5, 6])]);
  });

  test("softmax: strided and offset inputs, extreme values, -inf and NaN rows", async () => {
    const base = fl.randn([9, 300]).mul(30);
    await compareWithCpu("softmax strided", ([t]) => F.softmax(t!.t().narrow(0, 3, 290), -1), [
      base,
    ]);
    const special = fl.tensor([
      [1, 2, 3, 4],
      [1e30, -1e30, 0, 5],
      [Number.NEGATIVE_INFINITY, 0, 1, Number.NEGATIVE_INFINITY],
      [Number.NaN, 0, 1, 2],
    ]);
    for (const log of [false, true]) {
      const f = (x: fl.Tensor) => (log ? F.logSoftmax(x, -1) : F.softmax(x, -1));
      const want = withFused(false, () => f(special));
      const got = withFused(true, () => f(special.to("webgpu")));
      await close(got, want, 1e-6, `special log=${log}`);
    }
  });

  for (const shape of SHAPES) {
    test(`layer norm over ${JSON.stringify(shape)}, with and without affine`, async () => {
      const cols = shape[shape.length - 1]!;
      const x = fl.randn(shape).mul(3).add(2);
      const w = fl.randn([cols]);
      const b = fl.randn([cols]);
      const opts = { maxDispatches: 1, gradTol: 2e-4 };
      await compareWithCpu(`ln ${shape}`, ([t]) => F.layerNorm(t!, [cols]), [x], opts);
      await compareWithCpu(
        `ln affine ${shape}`,
        ([t, ww, bb]) => F.layerNorm(t!, [cols], { weight: ww, bias: bb }),
        [x, w, b],
        opts,
      );
      await compareWithCpu(
        `ln weight ${shape}`,
        ([t, ww]) => F.layerNorm(t!, [cols], { weight: ww }),
        [x, w],
        opts,
      );
      await compareWithCpu(
        `ln bias ${shape}`,
        ([t, bb]) => F.layerNorm(t!, [cols], { bias: bb }),
        [x, b],
        opts,
      );
    });
  }

  test("layer norm over several trailing dims, strided input, eps, createGraph", async () => {
    const x = fl.randn([4, 5, 7]);
    const w = fl.randn([5, 7]);
    const b = fl.randn([5, 7]);
    await compareWithCpu(
      "ln 2 dims",
      ([t, ww, bb]) => F.layerNorm(t!, [5, 7], { weight: ww, bias: bb, eps: 1e-2 }),
      [x, w, b],
      { maxDispatches: 1, gradTol: 2e-4 },
    );
    await compareWithCpu(
      "ln strided",
      ([t, ww, bb]) =>
        F.layerNorm(t!.transpose(0, 2).narrow(0, 1, 6), [5, 4], { weight: ww, bias: bb }),
      [x, fl.randn([5, 4]), fl.randn([5, 4])],
      { gradTol: 2e-4 },
    );
    await compareWithCpu(
      "ln 2nd",
      ([t, ww, bb]) => F.layerNorm(t!, [7], { weight: ww, bias: bb }),
      [x, fl.randn([7]), fl.randn([7])],
      { second: true, gradTol: 2e-4 },
    );
  });

  test("nn.LayerNorm's weight and bias gradients over many rows", async () => {
    const x = fl.randn([700, 9]);
    const w = fl.randn([9]);
    const b = fl.randn([9]);
    await compareWithCpu(
      "ln 700 rows",
      ([t, ww, bb]) => F.layerNorm(t!, [9], { weight: ww, bias: bb }),
      [x, w, b],
      {
        gradTol: 3e-4,
      },
    );
  });

  for (const approximate of ["none", "tanh"] as const) {
    test(`GELU (${approximate}): values, gradients, createGraph`, async () => {
      // Wide range: both tails, and near zero where erf's series takes over.
      const x = fl.cat([fl.randn([3, 301]).mul(3), fl.linspace(-9, 9, 301).reshape([1, 301])]);
      await compareWithCpu(`gelu ${approximate}`, ([t]) => F.gelu(t!, { approximate }), [x], {
        maxDispatches: 1,
      });
      await compareWithCpu(
        `gelu ${approximate} strided`,
        ([t]) => F.gelu(t!.t().narrow(0, 1, 299), { approximate }),
        [x],
      );
      await compareWithCpu(`gelu ${approximate} 2nd`, ([t]) => F.gelu(t!, { approximate }), [x], {
        second: true,
      });
    });
  }

  test("the backward kernels are the ones that ran: fused on and off agree on webgpu", async () => {
    // Same device, fused on vs off, so any difference is the fused kernels'.
    const x = onDevice(fl.randn([6, 270]).requiresGrad_(), "webgpu");
    const w = fl.randn([270]).to("webgpu");
    const grads = (on: boolean) =>
      withFused(on, () => {
        const y = F.layerNorm(F.gelu(F.logSoftmax(x, -1).mul(30)), [270], { weight: w });
        const marks = fl.webgpu.memory().dispatches;
        const [g] = fl.autograd.grad(y.mul(y).sum(), [x]);
        return { g: g!, launches: fl.webgpu.memory().dispatches - marks };
      });
    const fused = grads(true);
    const composite = grads(false);
    assert.ok(
      fused.launches < composite.launches,
      `fused backward launched ${fused.launches} kernels, the composite ${composite.launches}`,
    );
    await close(fused.g, await composite.g.toAsync("cpu"), 1e-4, "gradient");
  });
});
