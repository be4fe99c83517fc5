import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { View } from "../../src/backend/backend.js";
import { type ConvGrid, wasmConv2d } from "../../src/backend/cpu/wasm/conv.js";
import { RunTable } from "../../src/backend/cpu/wasm/runs.js";
import { fusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { convTable } from "../../src/nn/functional/conv.js";
import { close, compareFused, leaf } from "./conv_compare.js";

// The float32 conv2d engine that keeps a convolution's data in wasm memory
// (src/backend/cpu/wasm/conv.ts: run-table im2col/col2im, bias folded into
// the GEMM) against two references: the composite conv2d (unfold + matmul,
// with gradients, createGraph and gradients of gradients), and the
// TypeScript kernels in float64 on the same numbers. The shapes are large
// enough to split into several chunks of samples with an uneven last one.

const F = fl.nn.functional;

interface Case {
  name: string;
  x: number[];
  w: number[];
  bias: boolean;
  opts?: fl.nn.functional.ConvOptions;
}

const cases: Case[] = [
  {
    name: "LeNet conv1 (widened grid, 22 chunks)",
    x: [64, 1, 28, 28],
    w: [6, 1, 5, 5],
    bias: true,
  },
  { name: "LeNet conv2 (11 chunks)", x: [64, 6, 12, 12], w: [16, 6, 5, 5], bias: true },
  {
    name: "odd plane, padding 1, no bias",
    x: [7, 5, 23, 19],
    w: [6, 5, 3, 3],
    bias: false,
    opts: { padding: 1 },
  },
  {
    name: "stride 2, dilation, asymmetric padding",
    x: [9, 3, 31, 27],
    w: [5, 3, 3, 2],
    bias: true,
    opts: { stride: [2, 1], padding: [1, 2], dilation: [2, 1] },
  },
];

describe("wasm conv2d engine matches the composite (several chunks)", () => {
  for (const c of cases) {
    test(c.name, () => {
      const inputs = [leaf(c.x, "float32"), leaf(c.w, "float32")];
      if (c.bias) inputs.push(leaf([c.w[0]!], "float32"));
      compareFused((x, w, b) => F.conv2d(x!, w!, b ?? null, c.opts ?? {}), inputs, 1e-4);
    });
  }
});

/** The CPU kernels on float32 tensors and on float64 copies of them. */
function kernelPair(c: Case) {
  const kern = fusedKernels("cpu");
  const [n, ch, h, w] = c.x as [number, number, number, number];
  const [o, , kh, kw] = c.w as [number, number, number, number];
  const stride = c.opts?.stride ?? 1;
  const s2 = typeof stride === "number" ? [stride, stride] : [...stride];
  const t = convTable("conv2d", h, w, [kh, kw], s2, [0, 0, 0, 0], [1, 1]);
  const x = fl.randn(c.x);
  const wt = fl.randn(c.w);
  const b = fl.randn([o]);
  const dy = fl.randn([n, o, t.outH, t.outW]);
  const as64 = (v: fl.Tensor) => v.to("float64");
  return {
    kern,
    t,
    n,
    ch,
    x,
    wt,
    b,
    dy,
    x64: as64(x),
    w64: as64(wt),
    b64: as64(b),
    dy64: as64(dy),
  };
}

describe("wasm conv2d engine matches the TypeScript kernels in float64", () => {
  const c: Case = { name: "", x: [13, 4, 17, 15], w: [7, 4, 4, 3], bias: true };
  test("forward and every subset of the gradients", () => {
    const p = kernelPair(c);
    const { kern, t } = p;
    const shape = [p.n, 7, t.outH, t.outW];
    const y = kern.conv2d!(p.x, p.wt, p.b, t.index, t.k, t.l);
    const y64 = kern.conv2d!(p.x64, p.w64, p.b64, t.index, t.k, t.l);
    const T = (s: unknown, sh: number[], dt: fl.DType) =>
      fl.Tensor.fromStorage(s as never, sh, dt).to("float64");
    close(T(y, shape, "float32"), T(y64, shape, "float64"), 1e-5, "y");
    for (const want of [
      { input: true, weight: true, bias: true },
      { input: true, weight: false, bias: false },
      { input: false, weight: true, bias: false },
      { input: false, weight: false, bias: true },
    ]) {
      const r = kern.conv2dBackward!(p.dy, p.x, p.wt, t.index, t.k, t.l, want);
      const r64 = kern.conv2dBackward!(p.dy64, p.x64, p.w64, t.index, t.k, t.l, want);
      for (const [name, sh] of [
        ["gx", c.x],
        ["gw", c.w],
        ["gb", [7]],
      ] as const) {
        const a = r[name];
        const e = r64[name];
        const asked = name === "gx" ? want.input : name === "gw" ? want.weight : want.bias;
        assert.equal(a !== null, asked, `${name} returned only when asked`);
        if (a && e) close(T(a, [...sh], "float32"), T(e, [...sh], "float64"), 1e-4, name);
      }
    }
  });

  test("the engine itself runs here (WebAssembly SIMD) and reads each input once", () => {
    const [n, c2, h, w] = [5, 2, 9, 8];
    const t = convTable("conv2d", h, w, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1]);
    const x = Float32Array.from({ length: n * c2 * h * w }, (_, i) => Math.sin(i));
    const wt = Float32Array.from({ length: 4 * c2 * 9 }, (_, i) => Math.cos(i));
    const grid: ConvGrid = { index: t.index, k: t.k, l: t.l };
    const y = wasmConv2d(x, wt, null, { n, c: c2, hw: h * w, o: 4, per: 2 }, grid);
    assert.ok(y, "wasm SIMD is available on Node 20");
    const view = (d: Float32Array, shape: number[]): View =>
      fl.Tensor.fromArray(d, shape, "cpu") as unknown as View;
    const ref = fusedKernels("cpu").conv2d!(
      view(Float64Array.from(x) as unknown as Float32Array, [n, c2, h, w]),
      view(Float64Array.from(wt) as unknown as Float32Array, [4, c2, 3, 3]),
      null,
      t.index,
      t.k,
      t.l,
    );
    const r = fl.Tensor.fromStorage(ref as never, [n, 4, h, w], "float64");
    close(fl.Tensor.fromArray(y!, [n, 4, h, w], "cpu").to("float64"), r, 1e-5, "y");
  });
});

describe("RunTable", () => {
  test("joins pairs that continue on both sides, and zero-fills", () => {
    const b = new RunTable();
    for (const [d, s] of [
      [0, 10],
      [1, 11],
      [2, 13],
      [3, -1],
      [4, -1],
      [6, 20],
    ] as const)
      b.add(d, s);
    assert.deepEqual(Array.from(b.table()), [0, 40, 2, 8, 52, 1, 12, -4, 2, 24, 80, 1]);
  });
});
