// CPU tensors are garbage-collected and the wasm kernels reuse one scratch
// memory, so a long training loop must run at flat memory: the wasm memory
// stops growing after the first step, and the JS heap does not creep.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { defaultGemm } from "../../src/backend/cpu/wasm/matmul.js";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import * as fl from "../../src/index.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test("10,000 training steps on the wasm matmul keep memory flat", {
  skip: !wasmFeatures().simd && "no WebAssembly SIMD",
}, () => {
  fl.manualSeed(0);
  const x = fl.randn([8, 24]);
  const target = fl.randn([8, 12]);
  let w = fl.randn([24, 12], { requiresGrad: true });
  const step = () => {
    // forward and backward both run matmuls (y = x w; dW = xᵀ g).
    const loss = x.matmul(w).sub(target).square().mean();
    loss.backward();
    w = fl.noGrad(() => w.sub(w.grad!.mul(0.05))).requiresGrad_();
    return loss;
  };
  const first = Number(step().itemSync());
  for (let i = 0; i < 999; i++) step();
  const wasmBytes = defaultGemm()!.scratch.bytes;
  const heap = heapAfterGc();
  let last = 0;
  for (let i = 0; i < 9000; i++) last = Number(step().itemSync());
  assert.ok(last < first, `the loop trains (loss ${first} -> ${last})`);
  assert.equal(defaultGemm()!.scratch.bytes, wasmBytes, "wasm scratch memory grew");
  const growth = heapAfterGc() - heap;
  assert.ok(
    growth < 2 * 2 ** 20,
    `JS heap grew by ${(growth / 2 ** 20).toFixed(2)} MiB over 9,000 steps`,
  );
});

test("scratch memory is reused across shapes: it grows to the largest call only", {
  skip: !wasmFeatures().simd && "no WebAssembly SIMD",
}, () => {
  const big = [fl.randn([200, 150]), fl.randn([150, 100])] as const;
  big[0].matmul(big[1]);
  const bytes = defaultGemm()!.scratch.bytes;
  for (let i = 0; i < 200; i++) {
    const n = 1 + (i % 97);
    fl.randn([n, 50]).matmul(fl.randn([50, n]));
  }
  big[0].matmul(big[1]);
  assert.equal(defaultGemm()!.scratch.bytes, bytes);
});
