// Device memory: dispose() and `using` free at once, tidy() frees what a
// scope created except what it returns or keeps, modules and optimizers
// keep their own tensors through tidy, fl.memory() counts it all, and a
// training loop written without any freeing stays flat for 2,000 steps.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { testDevices, values, webgpuSkipReason } from "../devices.js";

const skip = await webgpuSkipReason();
const { nn, optim } = fl;
const F = fl.nn.functional;

const live = () => fl.memory().webgpu!.tensors;
const bytes = () => fl.memory().webgpu!.bytes;

describe("webgpu memory", { skip }, () => {
  if (skip) return;

  test("fl.memory() counts tensors and bytes; dispose() frees at once", async () => {
    const before = live();
    const beforeBytes = bytes();
    const x = fl.ones([1000]).to("webgpu");
    assert.equal(live(), before + 1);
    assert.ok(bytes() - beforeBytes >= 4000, `bytes grew by ${bytes() - beforeBytes}`);
    const v = x.view([10, 100]); // a view shares the storage: no new tensor memory
    assert.equal(live(), before + 1);
    assert.equal(x.isDisposed, false);
    x.dispose();
    assert.equal(live(), before);
    assert.equal(bytes(), beforeBytes);
    assert.ok(x.isDisposed && v.isDisposed);
    assert.throws(() => fl.tidy(() => v.add(1)), /used after its memory was freed/);
    x.dispose(); // twice is harmless
    assert.equal(live(), before);
  });

  test("`using` disposes at the end of the block", () => {
    const before = live();
    let inside = 0;
    {
      using y = fl.ones([64]).to("webgpu").mul(2);
      assert.equal(y.isDisposed, false);
      inside = live();
      assert.ok(inside > before);
    }
    assert.equal(live(), inside - 1, "the product is freed; the upload waits for the collector");
  });

  test("dispose() on a CPU tensor does nothing", () => {
    const x = fl.ones([3]);
    x.dispose();
    assert.deepEqual(Array.from(x.dataSync()), [1, 1, 1]);
    assert.equal(x.isDisposed, false);
  });

  test("tidy frees everything made inside except what it returns", async () => {
    const a = fl.randn([32, 32]).to("webgpu");
    const before = live();
    const inner: fl.Tensor[] = [];
    const out = fl.tidy(() => {
      const b = a.matmul(a).relu();
      const c = b.sum(1);
      inner.push(b, c);
      return { mean: c.mean(), pair: [c.max(), 3] as const };
    });
    assert.equal(live(), before + 2, "only the two returned tensors are left");
    assert.ok(inner.every((t) => t.isDisposed));
    assert.equal(out.mean.isDisposed, false);
    assert.equal(a.isDisposed, false, "tensors from before the scope are untouched");
    const want = a.matmul(a).relu().sum(1);
    assert.ok(Math.abs(Number(await out.mean.item()) - Number(await want.mean().item())) < 1e-3);
  });

  test("tidy: nesting, keep, errors, and a returned view keeps its storage", async () => {
    const before = live();
    let kept: fl.Tensor | null = null;
    const outer = fl.tidy(() => {
      const x = fl.arange(0, 6).to("webgpu").float();
      const inner = fl.tidy(() => x.mul(10).view([2, 3]));
      kept = fl.keep(x.add(100));
      x.neg();
      return inner.select(0, 1); // a view into the inner scope's result
    });
    assert.equal(live(), before + 2, "the returned view's storage and the kept tensor");
    assert.deepEqual(await values(outer), [30, 40, 50]);
    assert.deepEqual(await values(kept!), [100, 101, 102, 103, 104, 105]);
    kept!.dispose();
    assert.equal(live(), before + 1);
    assert.throws(() =>
      fl.tidy(() => {
        fl.ones([4]).to("webgpu").exp();
        throw new Error("boom");
      }),
    );
    assert.equal(live(), before + 1, "a scope that throws still frees");
    assert.throws(
      () => fl.tidy(() => Promise.resolve(1) as unknown as number),
      (e: Error) => e instanceof fl.ArgumentError && /synchronous/.test(e.message),
    );
  });

  test("a training step inside tidy keeps gradients, optimizer state and parameters; memory is exactly flat", async () => {
    fl.manualSeed(2);
    const model = new nn.Sequential(new nn.Linear(8, 16), new nn.Tanh(), new nn.Linear(16, 3));
    const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
    const x = fl.randn([16, 8]).to("webgpu");
    const y = fl.randint(0, 3, [16]).to("webgpu");
    const counts: number[] = [];
    const losses: number[] = [];
    fl.tidy(() => model.to("webgpu")); // parameters moved inside a scope are kept
    for (let step = 0; step < 30; step++) {
      const loss = fl.tidy(() => {
        opt.zeroGrad();
        const loss = F.crossEntropy(model.forward(x) as fl.Tensor, y);
        loss.backward();
        opt.step();
        return loss.detach();
      });
      losses.push(Number(await loss.item()));
      loss.dispose();
      counts.push(live());
    }
    for (const p of model.parameters()) {
      assert.equal(p.isDisposed, false);
      assert.ok(p.grad && !p.grad.isDisposed, "the last gradient survives its scope");
      const s = opt.state.get(p)!;
      assert.ok(!(s.exp_avg as fl.Tensor).isDisposed);
    }
    // After the first step (which makes the optimizer state), zeroGrad frees
    // the gradients autograd made and state is updated in place: the live
    // count never grows (it may fall, when the collector frees what earlier
    // tests left behind).
    for (let i = 2; i < counts.length; i++)
      assert.ok(counts[i]! <= counts[i - 1]!, `live tensors per step: ${counts.join(", ")}`);
    assert.ok(losses.at(-1)! < losses[0]! * 0.8, `loss fell: ${losses[0]} → ${losses.at(-1)}`);
  });

  test("a loop written without tidy or dispose runs 2,000 steps with flat device memory", async () => {
    fl.manualSeed(5);
    fl.webgpu.setMemoryPressure(2 * 1024 * 1024);
    const model = new nn.Sequential(new nn.Linear(10, 16), new nn.ReLU(), new nn.Linear(16, 2));
    model.to("webgpu");
    const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const x = fl.randn([16, 10]).to("webgpu");
    const y = fl.randint(0, 2, [16]).to("webgpu");
    const liveBytes: number[] = [];
    const created: number[] = [];
    const footprint: number[] = [];
    for (let step = 0; step < 2000; step++) {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(x) as fl.Tensor, y);
      loss.backward();
      opt.step();
      if (step % 100 === 99) {
        await loss.item();
        await new Promise((r) => setTimeout(r, 0));
        liveBytes.push(bytes());
        const m = fl.memory().webgpu!;
        created.push(m.created!);
        footprint.push(m.bytes + m.pooledBytes!);
      }
    }
    fl.webgpu.setMemoryPressure(64 * 1024 * 1024);
    // The pool recycles: what the device holds in all (live plus pooled)
    // stops growing once a few collection periods' worth is pooled.
    assert.ok(
      Math.max(...footprint.slice(10)) <= 1.5 * Math.max(...footprint.slice(0, 10)),
      `device memory kept growing: ${footprint.join(", ")}`,
    );
    // Live memory stays under the pressure threshold plus one step's worth.
    assert.ok(Math.max(...liveBytes) < 4 * 1024 * 1024, `live bytes: ${liveBytes.join(", ")}`);
    const firstHalf = Math.max(...liveBytes.slice(0, 10));
    const secondHalf = Math.max(...liveBytes.slice(10));
    assert.ok(secondHalf <= firstHalf * 1.5, `live bytes grew: ${liveBytes.join(", ")}`);
  });
});

describe("memory on every device", () => {
  test("tidy and dispose are harmless on the CPU", async () => {
    for (const device of await testDevices()) {
      const r = fl.tidy(() => fl.ones([3]).to(device).mul(2));
      assert.deepEqual(await values(r), [2, 2, 2], device);
    }
    assert.deepEqual(Object.keys(fl.memory()).includes("cpu"), false);
  });
});
