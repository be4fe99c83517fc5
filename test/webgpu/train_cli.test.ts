// `flint train --device webgpu`: the digits MLP trains on the GPU to the
// accuracy it reaches on the CPU (same seed, same batches, float32 on both),
// and LeNet's convolutions and pooling run there too.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { program } from "../../src/cli/main.js";
import { type TrainOptions, train } from "../../src/cli/train.js";
import * as fl from "../../src/index.js";
import { webgpuSkipReason } from "../devices.js";

const skip = await webgpuSkipReason();

function options(device: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    dataset: "digits",
    model: "fcnet",
    epochs: 3,
    batchSize: 32,
    lr: 3e-3,
    optimizer: "adam",
    weightDecay: 1e-4,
    dropout: 0,
    hidden: 64,
    seed: 0,
    out: mkdtempSync(join(tmpdir(), `flint-${device}-`)),
    progress: false,
    log: () => {},
    device,
    ...over,
  };
}

describe("flint train --device webgpu", { skip }, () => {
  if (skip) return;

  test("the digits MLP reaches the CPU's accuracy on webgpu", async () => {
    const cpu = await train(options("cpu"));
    const gpu = await train(options("webgpu"));
    assert.ok(cpu.testAccuracy > 0.9, `cpu accuracy ${cpu.testAccuracy}`);
    assert.ok(
      Math.abs(gpu.testAccuracy - cpu.testAccuracy) <= 0.02,
      `webgpu ${gpu.testAccuracy}, cpu ${cpu.testAccuracy}`,
    );
    for (let e = 0; e < 3; e++) {
      const [c, g] = [cpu.history.trainLoss[e]!, gpu.history.trainLoss[e]!];
      assert.ok(Math.abs(c - g) < 1e-2 * (1 + c), `epoch ${e + 1} loss: cpu ${c}, webgpu ${g}`);
    }
    assert.equal(gpu.model.parameters()[0]!.device, "webgpu");
    // The saved weights are ordinary CPU tensors.
    const sd = await fl.load(join(gpu.checkpoint, "..", "model.safetensors"));
    assert.equal(sd["fc1.weight"]!.device, "cpu");
  });

  test("--device is an option of `flint train`", () => {
    const opt = program()
      .commands.find((c) => c.name() === "train")!
      .options.find((o) => o.long === "--device");
    assert.ok(opt, "no --device option");
    assert.deepEqual(opt.argChoices, ["cpu", "webgpu"]);
  });
});

describe("LeNet-5 on webgpu", { skip }, () => {
  if (skip) return;

  test("conv, pooling and linear layers train to the CPU's losses", async () => {
    const { LeNet5 } = await import("../../src/cli/models.js");
    fl.manualSeed(11);
    const x = fl.rand([16, 784]);
    const y = fl.randint(0, 10, [16]);
    const losses: Record<string, number[]> = {};
    for (const device of ["cpu", "webgpu"]) {
      fl.manualSeed(12);
      const model = new LeNet5(10).to(device);
      const opt = new fl.optim.Adam(model.parameters(), { lr: 1e-3 });
      const [xd, yd] = [x.to(device), y.to(device)];
      losses[device] = [];
      for (let step = 0; step < 4; step++) {
        opt.zeroGrad();
        const loss = fl.nn.functional.crossEntropy(model.forward(xd) as fl.Tensor, yd);
        loss.backward();
        opt.step();
        losses[device]!.push(Number(await loss.item()));
      }
    }
    const { cpu, webgpu } = losses as { cpu: number[]; webgpu: number[] };
    for (let i = 0; i < cpu.length; i++)
      assert.ok(
        Math.abs(cpu[i]! - webgpu[i]!) < 1e-3 * (1 + cpu[i]!),
        `step ${i}: cpu ${cpu[i]}, webgpu ${webgpu[i]}`,
      );
    assert.ok(webgpu.at(-1)! < webgpu[0]!, `loss fell: ${webgpu.join(", ")}`);
  });
});
