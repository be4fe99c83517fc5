// The GEMM worker pool: threaded products equal single-thread ones on
// shapes split along M and along N, ragged splits included, split into
// more parts than threads, and batches of many products (more jobs than
// one round of the control block holds); the workers really take jobs;
// and the thread-count API behaves like torch.set_num_threads.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { matmulKernel } from "../../src/backend/cpu/matmul.js";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import { defaultGemm, startThreads, threadedGemm } from "../../src/backend/cpu/wasm/matmul.js";
import { Scratch, wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import * as fl from "../../src/index.js";

const usable = wasmFeatures().simd && Scratch.sharedAvailable();

describe("thread pool", { skip: !usable && "no wasm SIMD or shared memory" }, () => {
  after(() => pool.stop());

  test("threaded matmul matches the reference, split along M and N", async () => {
    await startThreads(3);
    assert.equal(pool.ready, 3);
    fl.setNumThreads(3);
    await startThreads(3);
    fl.manualSeed(11);
    // M ≥ N splits rows, M < N splits columns; odd sizes leave ragged parts.
    for (const [m, k, n] of [
      [301, 67, 129],
      [61, 130, 517],
      [97, 300, 97],
    ] as const) {
      const a = fl.randn([k, m]).transpose(0, 1);
      const b = fl.randn([k, n]);
      const got = a.matmul(b).dataSync() as Float32Array;
      const want = matmulKernel(a, b, "float32");
      for (let i = 0; i < want.length; i++) {
        assert.ok(
          Math.abs(got[i]! - want[i]!) <= 2e-6 * (k + 1) + 1e-5 * Math.abs(want[i]!),
          `[${m},${k},${n}] element ${i}`,
        );
      }
    }
    // Threaded and single-thread kernels sum in the same order: equal bits.
    const a = fl.randn([2, 200, 150]);
    const b = fl.randn([2, 150, 180]);
    assert.deepEqual(a.matmul(b).dataSync(), defaultGemm()!.matmul(a, b));
  });

  test("more parts than threads, and batches of many small products", async () => {
    fl.setNumThreads(2);
    await startThreads(2);
    assert.equal(pool.ready, 2);
    fl.manualSeed(12);
    // 2100 rows: four parts of whole register tiles for two threads, the last one ragged.
    const a = fl.randn([2100, 16]);
    const b = fl.randn([24, 16]).transpose(0, 1);
    assert.deepEqual(a.matmul(b).dataSync(), defaultGemm()!.matmul(a, b));
    // 600 products of 16×16: one job each, in three rounds of the control block.
    const x = fl.randn([600, 16, 17]);
    const y = fl.randn([600, 17, 15]);
    const got = x.matmul(y).dataSync() as Float32Array;
    assert.deepEqual(got, defaultGemm()!.matmul(x, y));
    const want = matmulKernel(x, y, "float32");
    for (let i = 0; i < want.length; i += 97) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-4);
  });

  test("threaded products reuse the shared scratch memory", async () => {
    fl.setNumThreads(2);
    await startThreads(2);
    // The largest product first (3 MB of operands, more than earlier tests): the memory grows to it, then no more.
    const a = fl.randn([600, 400]);
    const b = fl.randn([400, 500]);
    a.matmul(b);
    const bytes = threadedGemm()!.scratch.bytes;
    for (let i = 0; i < 100; i++) {
      const n = 100 + (i % 7) * 20;
      fl.randn([n, 200]).matmul(fl.randn([200, n]));
    }
    a.matmul(b);
    assert.equal(threadedGemm()!.scratch.bytes, bytes, "shared wasm memory grew");
  });

  test("the workers take part", async () => {
    fl.setNumThreads(2);
    await startThreads(2);
    const a = fl.randn([256, 256]);
    const b = fl.randn([256, 256]);
    // The calling thread takes every job a late worker leaves, so give the
    // worker a few products to wake up for.
    for (let i = 0; i < 200 && pool.workerJobs === 0; i++) a.matmul(b);
    assert.ok(pool.workerJobs > 0, "no job ran on a worker");
  });
});

test("setNumThreads / getNumThreads", () => {
  const before = fl.getNumThreads();
  assert.ok(before >= 1);
  fl.setNumThreads(1);
  assert.equal(fl.getNumThreads(), 1);
  assert.throws(
    () => fl.setNumThreads(0),
    /setNumThreads: expected an integer from 1 to 64, got 0/,
  );
  assert.throws(() => fl.setNumThreads(1.5), fl.ArgumentError);
  pool.stop();
});
