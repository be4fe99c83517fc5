import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import { type ConvGrid, wasmConv2d, wasmConv2dBackward } from "../../src/backend/cpu/wasm/conv.js";
import { startThreads } from "../../src/backend/cpu/wasm/matmul.js";
import { Scratch, wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import * as fl from "../../src/index.js";
import { convTable } from "../../src/nn/functional/conv.js";

// The conv engine on the thread pool: the batch's chunks of samples are
// dealt to programs (threads/program.ts) that the workers and the calling
// thread claim. y and grad x come from the same per-chunk products as on
// one thread, so they must match bit for bit; grad W and grad b are summed
// per program and then across programs, so only to rounding.

const threaded = wasmFeatures().simd && Scratch.sharedAvailable();

function setup(n: number, c: number, h: number, w: number, o: number, k: number, pad: number) {
  const t = convTable("conv2d", h, w, [k, k], [1, 1], [pad, pad, pad, pad], [1, 1]);
  const grid: ConvGrid = { index: t.index, k: t.k, l: t.l };
  const x = Float32Array.from({ length: n * c * h * w }, (_, i) => Math.sin(i * 0.37));
  const wt = Float32Array.from({ length: o * c * k * k }, (_, i) => Math.cos(i * 0.11));
  const b = Float32Array.from({ length: o }, (_, i) => i / o - 0.5);
  const dy = Float32Array.from({ length: n * o * t.l }, (_, i) => Math.sin(i * 0.05 + 1));
  // Small chunks, so the batch makes many programs with an uneven last chunk.
  const sh = { n, c, hw: h * w, o, per: 3 };
  return { grid, x, wt, b, dy, sh };
}

function closeTo(a: Float64Array, b: Float64Array, tol: number, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    const scale = Math.max(1, Math.abs(b[i]!));
    assert.ok(Math.abs(a[i]! - b[i]!) <= tol * scale, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

describe("conv engine on the thread pool", { skip: !threaded && "no shared memory" }, () => {
  after(() => {
    fl.setNumThreads(1);
    pool.stop();
  });

  type Args = [number, number, number, number, number, number, number];
  const shapes: { name: string; args: Args }[] = [
    { name: "LeNet conv1", args: [64, 1, 28, 28, 6, 5, 0] },
    { name: "LeNet conv2", args: [64, 6, 12, 12, 16, 5, 0] },
    { name: "odd plane, padding 1", args: [17, 5, 13, 11, 7, 3, 1] },
  ];

  for (const s of shapes) {
    test(`${s.name}: two threads agree with one`, async () => {
      const p = setup(...s.args);
      const want = { input: true, weight: true, bias: true };
      fl.setNumThreads(1);
      const y1 = wasmConv2d(p.x, p.wt, p.b, p.sh, p.grid)!;
      const g1 = wasmConv2dBackward(p.dy, p.x, p.wt, p.sh, p.grid, want)!;
      fl.setNumThreads(2);
      await startThreads(2);
      assert.equal(pool.ready, 2);
      const before = pool.workerJobs;
      let y2: Float32Array | null = null;
      let g2: ReturnType<typeof wasmConv2dBackward> = null;
      // The worker claims programs only when it is awake in time (on a loaded
      // machine it may not be): tries for up to 10 s make that sure.
      const until = Date.now() + 10_000;
      for (let i = 0; i < 2 || (pool.workerJobs === before && Date.now() < until); i++) {
        y2 = wasmConv2d(p.x, p.wt, p.b, p.sh, p.grid);
        g2 = wasmConv2dBackward(p.dy, p.x, p.wt, p.sh, p.grid, want);
      }
      assert.ok(pool.workerJobs > before, "a worker ran some of the programs");
      assert.deepEqual(y2, y1, "y");
      assert.deepEqual(g2!.gx, g1.gx, "grad x");
      closeTo(g2!.gw!, g1.gw!, 1e-5, "grad w");
      closeTo(g2!.gb!, g1.gb!, 1e-5, "grad b");
    });
  }

  test("only the gradients asked for, on two threads", async () => {
    const p = setup(40, 3, 10, 10, 8, 3, 1);
    fl.setNumThreads(2);
    await startThreads(2);
    const all = wasmConv2dBackward(p.dy, p.x, p.wt, p.sh, p.grid, {
      input: true,
      weight: true,
      bias: true,
    })!;
    const onlyW = wasmConv2dBackward(p.dy, p.x, p.wt, p.sh, p.grid, {
      input: false,
      weight: true,
      bias: false,
    })!;
    const onlyX = wasmConv2dBackward(p.dy, p.x, p.wt, p.sh, p.grid, {
      input: true,
      weight: false,
      bias: false,
    })!;
    assert.equal(onlyW.gx, null);
    assert.equal(onlyW.gb, null);
    assert.equal(onlyX.gw, null);
    closeTo(onlyW.gw!, all.gw!, 1e-6, "grad w alone");
    assert.deepEqual(onlyX.gx, all.gx);
  });

  test("a LeNet training step gives the same loss on one and two threads", async () => {
    const run = () => {
      fl.manualSeed(3);
      const net = new fl.nn.Sequential(
        new fl.nn.Conv2d(1, 6, 5),
        new fl.nn.ReLU(),
        new fl.nn.MaxPool2d(2),
        new fl.nn.Conv2d(6, 16, 5),
        new fl.nn.ReLU(),
        new fl.nn.Flatten(),
        new fl.nn.Linear(16 * 8 * 8, 10),
      );
      const opt = new fl.optim.SGD(net.parameters(), { lr: 0.05 });
      const x = fl.randn([32, 1, 28, 28]);
      const y = fl.randint(0, 10, [32]);
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) {
        opt.zeroGrad();
        const loss = fl.nn.functional.crossEntropy(net.forward(x), y);
        loss.backward();
        opt.step();
        losses.push(loss.itemSync() as number);
      }
      return losses;
    };
    fl.setNumThreads(1);
    const one = run();
    fl.setNumThreads(2);
    await startThreads(2);
    const two = run();
    closeTo(Float64Array.from(two), Float64Array.from(one), 1e-5, "losses");
    assert.ok(one[2]! < one[0]!, "the loss goes down");
  });
});
