// Autograd and training on webgpu: gradients match the CPU's, and a model
// moved with model.to("webgpu") trains to the same losses. (Memory over a
// long loop is memory.test.ts's subject.)
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { webgpuSkipReason } from "../devices.js";

const skip = await webgpuSkipReason();
const { nn, optim } = fl;
const F = fl.nn.functional;

async function close(gpu: fl.Tensor, cpu: fl.Tensor, tol: number, what: string): Promise<void> {
  const g = await gpu.data();
  const c = cpu.dataSync();
  assert.equal(g.length, c.length, what);
  for (let i = 0; i < c.length; i++)
    assert.ok(
      Math.abs(g[i]! - c[i]!) <= tol * (1 + Math.abs(c[i]!)),
      `${what}[${i}]: webgpu ${g[i]}, cpu ${c[i]}`,
    );
}

function mlp(): fl.nn.Module {
  return new nn.Sequential(new nn.Linear(20, 32), new nn.ReLU(), new nn.Linear(32, 4));
}

describe("webgpu autograd and training", { skip }, () => {
  if (skip) return;

  test("gradients of a composite expression match the CPU's (float32)", async () => {
    fl.manualSeed(1);
    const a = fl.randn([5, 7]);
    const b = fl.randn([7, 3]);
    const f = (x: fl.Tensor, w: fl.Tensor) =>
      F.logSoftmax(x.matmul(w).tanh().mul(2), 1).sum(0).mul(x.sum(1).sigmoid().mean()).pow(2).sum();
    const [ca, cb] = [a.clone().requiresGrad_(), b.clone().requiresGrad_()];
    f(ca, cb).backward();
    const [ga, gb] = [a.to("webgpu").requiresGrad_(), b.to("webgpu").requiresGrad_()];
    const y = f(ga, gb);
    y.backward();
    assert.equal(ga.grad!.device, "webgpu");
    await close(ga.grad!, ca.grad!, 1e-4, "grad a");
    await close(gb.grad!, cb.grad!, 1e-4, "grad b");
  });

  test("second-order gradients run on the device", async () => {
    const x = fl.tensor([0.5, -1, 2]).to("webgpu").requiresGrad_();
    const y = x.pow(3).sum();
    const [g] = fl.autograd.grad(y, [x], { createGraph: true });
    const [h] = fl.autograd.grad(g!.sum(), [x]);
    assert.deepEqual(Array.from(await h!.data()), [3, -6, 12]); // d²/dx² x³ = 6x
  });

  test("an MLP trains on webgpu to the same losses as on cpu", async () => {
    fl.manualSeed(3);
    const X = fl.randn([64, 20]);
    const Y = fl.randint(0, 4, [64]);
    const losses: number[][] = [];
    for (const device of ["cpu", "webgpu"]) {
      fl.manualSeed(7);
      const model = mlp().to(device);
      const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
      const [x, y] = [X.to(device), Y.to(device)];
      const run: number[] = [];
      for (let step = 0; step < 15; step++) {
        opt.zeroGrad();
        const loss = F.crossEntropy(model.forward(x) as fl.Tensor, y);
        loss.backward();
        opt.step();
        run.push(Number(await loss.item()));
      }
      losses.push(run);
    }
    const [cpu, gpu] = losses as [number[], number[]];
    for (let i = 0; i < cpu.length; i++)
      assert.ok(
        Math.abs(cpu[i]! - gpu[i]!) < 1e-3 * (1 + cpu[i]!),
        `step ${i}: cpu ${cpu[i]}, webgpu ${gpu[i]}`,
      );
    assert.ok(gpu.at(-1)! < gpu[0]! * 0.8, `loss fell: ${gpu[0]} → ${gpu.at(-1)}`);
  });
});
