// Limits and faults on webgpu: tensors too large for one buffer are refused
// before any dispatch with a typed error naming op and size, validation
// errors surface as DeviceErrors on the next op, and a lost device rejects
// pending reads and can be replaced with a new one by init().
// (Its own file: the last test destroys the process's device.)
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { values, webgpuSkipReason } from "../devices.js";

const skip = await webgpuSkipReason();

describe("webgpu limits and faults", { skip }, () => {
  if (skip) return;

  test("a tensor larger than one binding is refused before dispatch, naming op and size", async () => {
    const { maxStorageBufferBindingSize: limit } = fl.webgpu.info();
    const n = Math.floor(limit / 4) + 1024;
    const small = fl.ones([1]).to("webgpu");
    const dispatches = fl.webgpu.memory().dispatches;
    const big = small.expand([n]); // a view: no memory yet
    assert.throws(
      () => big.contiguous(),
      (e: Error) =>
        e instanceof fl.DeviceError &&
        e.message.startsWith("copy:") &&
        e.message.includes(`${n} elements`) &&
        e.message.includes(`${n * 4} bytes`) &&
        e.message.includes("maxStorageBufferBindingSize"),
    );
    assert.throws(
      () => big.exp(),
      (e: Error) => e instanceof fl.DeviceError && e.message.startsWith("exp:"),
    );
    assert.equal(fl.webgpu.memory().dispatches, dispatches, "nothing was launched");
    // The device is still fine afterwards.
    assert.deepEqual(await values(small.add(1)), [2]);
  });

  test("a WebGPU validation error surfaces as a DeviceError on the next op", async () => {
    const dev = fl.webgpu.gpuDevice();
    // MAP_READ may only be combined with COPY_DST: an invalid buffer.
    dev.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    await new Promise((r) => setTimeout(r, 50));
    let err: unknown = null;
    try {
      await fl.ones([4]).to("webgpu").mul(2).data();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof fl.DeviceError, `got ${err}`);
    assert.match((err as Error).message, /an earlier webgpu kernel failed: GPUValidationError/);
    // Reported once; the device keeps working.
    assert.deepEqual(await values(fl.ones([4]).to("webgpu").mul(3)), [3, 3, 3, 3]);
  });

  test("mixing a CPU tensor (other than 0-d) with webgpu tensors is a DeviceError", async () => {
    const a = fl.ones([2, 3]).to("webgpu");
    const mask = fl.tensor([[true], [false]]);
    assert.throws(
      () => fl.where(mask, a, 0),
      (e: Error) =>
        e instanceof fl.DeviceError && /where: .*same device.*cpu and webgpu/.test(e.message),
    );
    assert.throws(() => a.maskedFill(mask, 1), fl.DeviceError);
    // A 0-d CPU condition is allowed, as in PyTorch, and runs on the device.
    const r = fl.where(fl.tensor(true), a, a.neg());
    assert.equal(r.device, "webgpu");
    assert.deepEqual(await values(r), [1, 1, 1, 1, 1, 1]);
  });

  test("an out-of-range embedding index is reported when a result is read", async () => {
    const emb = new fl.nn.Embedding(5, 3).to("webgpu");
    const out = emb.forward(fl.tensor([1, 7], { dtype: "int32" }).to("webgpu"));
    await assert.rejects(
      out.data(),
      (e: Error) => e instanceof fl.ArgumentError && /index 7 is out of bounds/.test(e.message),
    );
  });

  test("a lost device rejects pending and later work; init() gives a new one", async () => {
    const x = fl.randn([256, 256]).to("webgpu");
    const y = x.matmul(x);
    const pending = y.data();
    fl.webgpu.destroy();
    await assert.rejects(pending, (e: Error) => e instanceof fl.DeviceError);
    assert.equal(fl.webgpu.isInitialized(), false);
    assert.throws(
      () => x.add(1),
      (e: Error) => e instanceof fl.DeviceError && /lost .*fl\.webgpu\.init\(\)/.test(e.message),
    );
    await fl.webgpu.init();
    assert.equal(fl.webgpu.isInitialized(), true);
    const z = fl.tensor([1, 2, 3]).to("webgpu").mul(2);
    assert.deepEqual(await values(z), [2, 4, 6]);
    // Tensors of the old device say so rather than compute garbage.
    assert.throws(
      () => x.add(z.sum()),
      (e: Error) => e instanceof fl.DeviceError && /device that has been replaced/.test(e.message),
    );
  });
});
