import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { directConvCalls, setDirectConv } from "../../src/backend/cpu/conv_kernels.js";
import {
  type DirectGeometry,
  directConv2d,
  directConv2dBackward,
} from "../../src/backend/cpu/wasm/direct_conv.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";
import { close } from "./conv_compare.js";

// The direct SIMD convolution for few input taps (src/backend/cpu/wasm/
// direct_conv.ts), checked three ways: its kernels against float64 loops on
// the same numbers (odd planes, output widths not a multiple of 4, every
// padding side), F.conv2d with the direct path on against off (the
// im2col + GEMM engine) and against the composite, gradients included,
// and a few LeNet training steps with the path on and off.

const F = fl.nn.functional;

interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  /** [top, bottom, left, right] */
  pad: [number, number, number, number];
}

const p4 = (p: number): [number, number, number, number] => [p, p, p, p];

const cases: Case[] = [
  { n: 5, c: 1, h: 28, w: 28, o: 6, kh: 5, kw: 5, pad: p4(0) },
  { n: 3, c: 1, h: 13, w: 11, o: 5, kh: 3, kw: 3, pad: p4(1) },
  { n: 2, c: 2, h: 9, w: 15, o: 16, kh: 5, kw: 5, pad: p4(2) },
  { n: 4, c: 3, h: 7, w: 10, o: 1, kh: 3, kw: 2, pad: p4(0) },
  { n: 3, c: 3, h: 11, w: 9, o: 6, kh: 1, kw: 1, pad: p4(0) },
  { n: 2, c: 2, h: 6, w: 17, o: 5, kh: 3, kw: 3, pad: [0, 2, 1, 2] },
  { n: 1, c: 1, h: 5, w: 4, o: 16, kh: 1, kw: 1, pad: p4(0) },
  { n: 2, c: 3, h: 32, w: 32, o: 16, kh: 3, kw: 3, pad: p4(1) },
];

const label = (c: Case) =>
  `x [${c.n},${c.c},${c.h},${c.w}] w [${c.o},${c.c},${c.kh},${c.kw}] padding ${c.pad.join(",")}`;

function geometryOf(c: Case): DirectGeometry {
  const hp = c.h + c.pad[0] + c.pad[1];
  const wp = c.w + c.pad[2] + c.pad[3];
  return { c: c.c, o: c.o, kh: c.kh, kw: c.kw, hp, wp, outH: hp - c.kh + 1, outW: wp - c.kw + 1 };
}

const next = seededRandom(20261129);
const rand = (n: number) => Float32Array.from({ length: n }, () => next() * 2 - 1);

/** conv2d and its weight/bias gradients by plain loops in float64. */
function reference(c: Case, x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array) {
  const g = geometryOf(c);
  const { outH, outW } = g;
  const y = new Float64Array(c.n * c.o * outH * outW);
  const gw = new Float64Array(w.length);
  const gb = new Float64Array(c.o);
  // Σ|term| of each sum: float32 partial sums may err by a small multiple of
  // the unit roundoff times this, whatever the result's own size.
  const yAbs = new Float64Array(y.length);
  const gwAbs = new Float64Array(w.length);
  const gbAbs = new Float64Array(c.o);
  const at = (ni: number, ci: number, i: number, j: number) => {
    const r = i - c.pad[0];
    const s = j - c.pad[2];
    return r < 0 || s < 0 || r >= c.h || s >= c.w ? 0 : x[((ni * c.c + ci) * c.h + r) * c.w + s]!;
  };
  for (let ni = 0; ni < c.n; ni++) {
    for (let oc = 0; oc < c.o; oc++) {
      for (let i = 0; i < outH; i++) {
        for (let j = 0; j < outW; j++) {
          const p = ((ni * c.o + oc) * outH + i) * outW + j;
          let sum = b[oc]!;
          let abs = Math.abs(b[oc]!);
          for (let ci = 0; ci < c.c; ci++) {
            for (let a = 0; a < c.kh; a++) {
              for (let e = 0; e < c.kw; e++) {
                const wi = ((oc * c.c + ci) * c.kh + a) * c.kw + e;
                const xv = at(ni, ci, i + a, j + e);
                sum += xv * w[wi]!;
                abs += Math.abs(xv * w[wi]!);
                gw[wi] = gw[wi]! + xv * dy[p]!;
                gwAbs[wi] = gwAbs[wi]! + Math.abs(xv * dy[p]!);
              }
            }
          }
          y[p] = sum;
          yAbs[p] = abs;
          gb[oc] = gb[oc]! + dy[p]!;
          gbAbs[oc] = gbAbs[oc]! + Math.abs(dy[p]!);
        }
      }
    }
  }
  return { y, gw, gb, yAbs, gwAbs, gbAbs };
}

/**
 * |got − want| ≤ tol·(1 + |want|), or ≤ 1e-6·Σ|term| where `abs` gives the
 * sums of absolute terms: a long float32 sum that cancels to a small result
 * keeps the rounding error of its large terms (about 2e-8 of Σ|term| seen).
 */
function assertNear(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
  what: string,
  abs?: ArrayLike<number>,
) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    const allowed = Math.max(tol * (1 + Math.abs(want[i]!)), abs ? 1e-6 * abs[i]! : 0);
    if (!(d <= allowed)) {
      assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]} (allowed ${allowed})`);
    }
  }
}

describe("direct conv kernels match float64 loops", () => {
  for (const c of cases) {
    test(label(c), () => {
      const g = geometryOf(c);
      const x = rand(c.n * c.c * c.h * c.w);
      const w = rand(c.o * c.c * c.kh * c.kw);
      const b = rand(c.o);
      const dy = rand(c.n * c.o * g.outH * g.outW);
      const want = reference(c, x, w, b, dy);
      const y = directConv2d(x, w, b, c.n, g, c.pad);
      assert.ok(y, "the direct kernel applies");
      assertNear(y, want.y, 1e-5, "y", want.yAbs);
      const noBias = directConv2d(x, w, null, c.n, g, c.pad)!;
      assertNear(
        noBias,
        want.y.map((v, i) => v - b[Math.floor(i / (g.outH * g.outW)) % c.o]!),
        1e-5,
        "y without bias",
        want.yAbs,
      );
      const r = directConv2dBackward(dy, x, c.n, g, c.pad);
      assert.ok(r, "the direct backward applies");
      assertNear(r.gw, want.gw, 1e-5, "grad weight", want.gwAbs);
      assertNear(r.gb, want.gb, 1e-5, "grad bias", want.gbAbs);
    });
  }

  test("NaN in the input stays where it is read, not in masked tail lanes", () => {
    // outW 6: the tail block overlaps columns 2–3; x's last column feeds only output column 5.
    const c: Case = { n: 1, c: 1, h: 3, w: 8, o: 2, kh: 3, kw: 3, pad: p4(0) };
    const g = geometryOf(c);
    const x = rand(24);
    const w = rand(18);
    const dy = rand(2 * g.outW);
    x[0] = Number.NaN; // read only by output column 0
    const y = directConv2d(x, w, null, 1, g, c.pad)!;
    assert.ok(Number.isNaN(y[0]!) && Number.isNaN(y[6]!));
    for (const i of [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]) assert.ok(Number.isFinite(y[i]!), `y[${i}]`);
    const r = directConv2dBackward(dy, x, 1, g, c.pad)!;
    // Only tap (0, 0) reads x[0].
    assert.ok(Number.isNaN(r.gw[0]!) && Number.isNaN(r.gw[9]!));
    for (let i = 1; i < 9; i++) assert.ok(Number.isFinite(r.gw[i]!), `gw[${i}]`);
  });

  test("too many taps or outputs narrower than 4: null, for the engine", () => {
    const wide: Case = { n: 1, c: 16, h: 8, w: 8, o: 4, kh: 3, kw: 3, pad: p4(0) };
    assert.equal(directConv2d(rand(1024), rand(576), null, 1, geometryOf(wide), wide.pad), null);
    const narrow: Case = { n: 1, c: 1, h: 8, w: 5, o: 4, kh: 3, kw: 3, pad: p4(0) };
    assert.equal(directConv2d(rand(40), rand(36), null, 1, geometryOf(narrow), narrow.pad), null);
  });
});

function withDirect<T>(on: boolean, fn: () => T): T {
  const was = setDirectConv(on);
  try {
    return fn();
  } finally {
    setDirectConv(was);
  }
}

/** F.conv2d of fresh leaves (x without grad, as a first layer's input) and its w/b gradients. */
function run(c: Case, x: fl.Tensor, w: fl.Tensor, b: fl.Tensor, on: boolean) {
  return withDirect(on, () => {
    const wl = w.detach();
    wl.requiresGrad = true;
    const bl = b.detach();
    bl.requiresGrad = true;
    const [pt, pb, pl, pr] = c.pad;
    const xin = pt === pb && pl === pr ? x : F.pad(x, [pl, pr, pt, pb]);
    const padding: [number, number] = pt === pb && pl === pr ? [pt, pl] : [0, 0];
    const y = F.conv2d(xin, wl, bl, { padding });
    const up = fl.arange(y.numel()).to("float32").mul(0.37).sin().reshape(y.shape);
    const [gw, gb] = fl.autograd.grad([y.mul(up).sum()], [wl, bl]);
    return { y, gw: gw!, gb: gb! };
  });
}

describe("F.conv2d with the direct path matches the engine", () => {
  for (const c of cases) {
    test(label(c), () => {
      const x = fl.randn([c.n, c.c, c.h, c.w]);
      const w = fl.randn([c.o, c.c, c.kh, c.kw]);
      const b = fl.randn([c.o]);
      const calls = { ...directConvCalls };
      const on = run(c, x, w, b, true);
      // Symmetric padding goes through conv2d's own padding, asymmetric through F.pad.
      assert.equal(directConvCalls.forward, calls.forward + 1, "direct forward taken");
      assert.equal(directConvCalls.backward, calls.backward + 1, "direct backward taken");
      const off = run(c, x, w, b, false);
      assert.equal(directConvCalls.forward, calls.forward + 1, "switched off");
      close(on.y, off.y, 1e-4, "y");
      close(on.gw, off.gw, 1e-4, "grad weight");
      close(on.gb, off.gb, 1e-4, "grad bias");
      // Against float64: the composite on float64 copies.
      const ref = run(c, x.to("float64"), w.to("float64"), b.to("float64"), false);
      close(on.y, ref.y.to("float32"), 1e-4, "y vs float64");
      close(on.gw, ref.gw.to("float32"), 1e-4, "grad weight vs float64");
      close(on.gb, ref.gb.to("float32"), 1e-4, "grad bias vs float64");
    });
  }

  // Grad x through col2im (padding 0): the engine computes all gradients.
  // A same-size convolution (padding 1) gets grad x as a forward conv of dY
  // on the engine, so its weight gradient alone is the direct kernel's.
  for (const [padding, direct] of [
    [0, 0],
    [1, 1],
  ] as const) {
    test(`grad x asked for (padding ${padding}); createGraph works`, () => {
      const x = fl.randn([3, 2, 9, 11]);
      x.requiresGrad = true;
      const w = fl.randn([5, 2, 3, 3]);
      w.requiresGrad = true;
      const grads = (on: boolean, createGraph: boolean) =>
        withDirect(on, () => {
          const y = F.conv2d(x, w, null, { padding });
          const [gx, gw] = fl.autograd.grad([y.pow(2).sum()], [x, w], { createGraph });
          // A gradient of the gradient (createGraph runs the composite formulas).
          const gg = createGraph ? fl.autograd.grad([gx!.sum().add(gw!.sum())], [w])[0]! : null;
          return { y, gx: gx!, gw: gw!, gg };
        });
      const calls = directConvCalls.backward;
      const on = grads(true, false);
      assert.equal(directConvCalls.backward, calls + direct, "direct backward calls");
      const off = grads(false, false);
      close(on.gx, off.gx, 1e-4, "grad x");
      close(on.gw, off.gw, 1e-4, "grad w");
      const onG = grads(true, true);
      const offG = grads(false, true);
      close(onG.gw, offG.gw, 1e-4, "grad w (createGraph)");
      close(onG.gg!, offG.gg!, 1e-4, "grad of grad");
    });
  }
});

/** LeNet-5's losses over a few SGD-momentum steps on a fixed batch. */
function lenetLosses(on: boolean): { losses: number[]; conv1: fl.Tensor } {
  return withDirect(on, () => {
    fl.manualSeed(7);
    const nn = fl.nn;
    const model = new nn.Sequential(
      new nn.Conv2d(1, 6, 5),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Conv2d(6, 16, 5),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Flatten(),
      new nn.Linear(256, 120),
      new nn.ReLU(),
      new nn.Linear(120, 84),
      new nn.ReLU(),
      new nn.Linear(84, 10),
    );
    const opt = new fl.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const x = fl.randn([16, 1, 28, 28]);
    const target = fl.randint(0, 10, [16]);
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(x), target);
      loss.backward();
      opt.step();
      losses.push(Number(loss.itemSync()));
    }
    return { losses, conv1: model.stateDict()["0.weight"]! };
  });
}

test("LeNet training steps: direct path on and off agree", () => {
  const calls = { ...directConvCalls };
  const on = lenetLosses(true);
  assert.equal(directConvCalls.forward - calls.forward, 4, "conv1 forward direct each step");
  assert.equal(directConvCalls.backward - calls.backward, 4, "conv1 backward direct each step");
  const off = lenetLosses(false);
  assert.ok(on.losses[3]! < on.losses[0]!, "the loss goes down");
  for (let i = 0; i < on.losses.length; i++) {
    assert.ok(
      Math.abs(on.losses[i]! - off.losses[i]!) <= 1e-4 * (1 + Math.abs(off.losses[i]!)),
      `step ${i}: ${on.losses[i]} vs ${off.losses[i]}`,
    );
  }
  close(on.conv1, off.conv1, 1e-4, "conv1 weight after training");
});
