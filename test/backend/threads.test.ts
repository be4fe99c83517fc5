// The GEMM worker pool: threaded products equal single-thread ones on
// shapes split along M and along N, ragged splits included, and the
// thread-count API behaves like torch.set_num_threads.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { matmulKernel } from "../../src/backend/cpu/matmul.js";
import { pool } from "../../src/backend/cpu/threads/pool.js";
import { defaultGemm, startThreads } from "../../src/backend/cpu/wasm/matmul.js";
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
