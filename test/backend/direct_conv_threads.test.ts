import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import {
  type DirectGeometry,
  directConv2d,
  directConv2dBackward,
  directThreadedCalls,
  type Padding4,
  setDirectThreads,
} from "../../src/backend/cpu/wasm/direct_conv.js";
import { startThreads } from "../../src/backend/cpu/wasm/matmul.js";
import { Scratch, wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(18);

// The direct conv kernels (src/backend/cpu/wasm/direct_conv.ts) on the
// thread pool: the per-geometry module travels to the workers inside the
// programs (threads/program.ts), each program takes a range of samples.
// y is computed per sample exactly as on one thread, so it must match bit
// for bit (NaN and ±inf included); grad W and grad b are summed per program
// in float64 and then across programs, so they match to float64 rounding.

const threaded = wasmFeatures().simd && Scratch.sharedAvailable();

interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  pad: Padding4;
}

// Batches large enough for the pool (≥ 2^19 multiply-adds), odd ones included.
const cases: Case[] = [
  { n: 64, c: 1, h: 28, w: 28, o: 6, kh: 5, kw: 5, pad: [0, 0, 0, 0] },
  { n: 37, c: 3, h: 13, w: 11, o: 5, kh: 3, kw: 3, pad: [1, 1, 1, 1] },
  { n: 9, c: 2, h: 17, w: 23, o: 16, kh: 5, kw: 5, pad: [0, 2, 1, 2] },
  { n: 3, c: 3, h: 32, w: 32, o: 16, kh: 3, kw: 3, pad: [1, 1, 1, 1] },
];

const label = (c: Case) =>
  `x [${c.n},${c.c},${c.h},${c.w}] w [${c.o},${c.c},${c.kh},${c.kw}] padding ${c.pad.join(",")}`;

function geometryOf(c: Case): DirectGeometry {
  const hp = c.h + c.pad[0] + c.pad[1];
  const wp = c.w + c.pad[2] + c.pad[3];
  return { c: c.c, o: c.o, kh: c.kh, kw: c.kw, hp, wp, outH: hp - c.kh + 1, outW: wp - c.kw + 1 };
}

const rand = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

function withThreads<T>(on: boolean, fn: () => T): T {
  const was = setDirectThreads(on);
  try {
    return fn();
  } finally {
    setDirectThreads(was);
  }
}

function sameBits(got: Float32Array, want: Float32Array, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

function near(got: Float64Array, want: Float64Array, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const ok =
      Object.is(got[i], want[i]) ||
      Math.abs(got[i]! - want[i]!) <= 1e-12 * (1 + Math.abs(want[i]!));
    if (!ok) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

describe("direct conv on the thread pool", { skip: !threaded && "no shared memory" }, () => {
  after(() => {
    fl.setNumThreads(1);
    pool.stop();
  });

  for (const c of cases) {
    test(`${label(c)}: two threads agree with one`, async () => {
      fl.setNumThreads(2);
      await startThreads(2);
      assert.equal(pool.ready, 2);
      const g = geometryOf(c);
      const x = rand(c.n * c.c * c.h * c.w);
      // Special values: they must land in the same outputs on every thread.
      x[3] = Number.NaN;
      x[x.length - 5] = Number.POSITIVE_INFINITY;
      x[Math.floor(x.length / 2)] = -0;
      const w = rand(c.o * c.c * c.kh * c.kw);
      const b = rand(c.o);
      const dy = rand(c.n * c.o * g.outH * g.outW);
      const one = withThreads(false, () => ({
        y: directConv2d(x, w, b, c.n, g, c.pad)!,
        r: directConv2dBackward(dy, x, c.n, g, c.pad)!,
      }));
      const calls = { ...directThreadedCalls };
      const two = withThreads(true, () => ({
        y: directConv2d(x, w, b, c.n, g, c.pad)!,
        r: directConv2dBackward(dy, x, c.n, g, c.pad)!,
      }));
      assert.equal(directThreadedCalls.forward, calls.forward + 1, "threaded forward taken");
      assert.equal(directThreadedCalls.backward, calls.backward + 1, "threaded backward taken");
      sameBits(two.y, one.y, "y");
      near(two.r.gw, one.r.gw, "grad weight");
      near(two.r.gb, one.r.gb, "grad bias");
    });
  }

  test("finite inputs: grad W and grad b agree to float64 rounding, repeatably", async () => {
    fl.setNumThreads(2);
    await startThreads(2);
    const c = cases[0]!;
    const g = geometryOf(c);
    const x = rand(c.n * c.h * c.w);
    const dy = rand(c.n * c.o * g.outH * g.outW);
    const a = directConv2dBackward(dy, x, c.n, g, c.pad)!;
    const b = directConv2dBackward(dy, x, c.n, g, c.pad)!;
    // Programs are fixed sample ranges summed in program order: the same on every run.
    assert.deepEqual(a.gw, b.gw);
    assert.deepEqual(a.gb, b.gb);
    const one = withThreads(false, () => directConv2dBackward(dy, x, c.n, g, c.pad)!);
    near(a.gw, one.gw, "grad weight");
    near(a.gb, one.gb, "grad bias");
  });

  test("small batches and one thread stay on the calling thread", async () => {
    fl.setNumThreads(2);
    await startThreads(2);
    const c = cases[0]!;
    const g = geometryOf(c);
    const calls = { ...directThreadedCalls };
    directConv2d(rand(784), rand(150), rand(6), 1, g, c.pad);
    directConv2d(rand(2 * 784), rand(150), rand(6), 2, g, c.pad);
    assert.equal(directThreadedCalls.forward, calls.forward, "below the threshold");
    fl.setNumThreads(1);
    await startThreads(1);
    directConv2d(rand(64 * 784), rand(150), rand(6), 64, g, c.pad);
    assert.equal(directThreadedCalls.forward, calls.forward, "one thread");
  });

  test("a LeNet-sized F.conv2d step gives the same y and grads on one and two threads", async () => {
    const x = fl.randn([64, 1, 28, 28]);
    const w = fl.randn([6, 1, 5, 5]);
    const b = fl.randn([6]);
    const step = () => {
      const wl = w.detach();
      wl.requiresGrad = true;
      const bl = b.detach();
      bl.requiresGrad = true;
      const y = fl.nn.functional.conv2d(x, wl, bl);
      const [gw, gb] = fl.autograd.grad([y.mul(y).sum()], [wl, bl]);
      return {
        y: y.dataSync() as Float32Array,
        gw: gw!.dataSync() as Float32Array,
        gb: gb!.dataSync() as Float32Array,
      };
    };
    fl.setNumThreads(1);
    await startThreads(1);
    const one = step();
    fl.setNumThreads(2);
    await startThreads(2);
    const calls = { ...directThreadedCalls };
    const two = step();
    assert.equal(directThreadedCalls.forward, calls.forward + 1, "threaded forward taken");
    sameBits(two.y, one.y, "y");
    const tol = (a: Float32Array, b: Float32Array, what: string) => {
      for (let i = 0; i < a.length; i++)
        assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-6 * (1 + Math.abs(b[i]!)), `${what}[${i}]`);
    };
    tol(two.gw, one.gw, "grad weight");
    tol(two.gb, one.gb, "grad bias");
  });
});
