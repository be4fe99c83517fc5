// The whole chain: a small MLP, a loss module, backward, and hand-written
// SGD under noGrad must learn toy problems, on every device.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { knownGap, testDevices } from "../devices.js";

const { nn } = fl;

class MLP extends nn.Module {
  fc1: fl.nn.Linear;
  act = new nn.Tanh();
  fc2: fl.nn.Linear;

  constructor(inputs: number, hidden: number, outputs: number) {
    super();
    this.fc1 = new nn.Linear(inputs, hidden);
    this.fc2 = new nn.Linear(hidden, outputs);
  }

  override forward(x: fl.Tensor): fl.Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

function sgdStep(model: fl.nn.Module, lr: number): void {
  fl.noGrad(() => {
    for (const p of model.parameters()) p.sub_(p.grad!.mul(lr));
  });
  model.zeroGrad();
}

for (const device of await testDevices()) {
  describe(device, () => {
    test(
      "an MLP fits y = sin(2x) by SGD on MSELoss",
      knownGap(device, "training/sin"),
      async () => {
        fl.manualSeed(0);
        const x = fl.linspace(-1.5, 1.5, 64).unsqueeze(1).to(device);
        const y = x.mul(2).sin();
        const model = new MLP(1, 32, 1).to(device);
        const lossFn = new nn.MSELoss();
        const first = (await lossFn.forward(model.forward(x), y).item()) as number;
        let last: fl.Tensor | null = null;
        for (let step = 0; step < 1500; step++) {
          const l = lossFn.forward(model.forward(x), y);
          l.backward();
          sgdStep(model, 0.2);
          last = l;
        }
        const loss = (await last!.item()) as number;
        assert.ok(loss < 0.01, `final loss ${loss} (started at ${first})`);
        assert.ok(loss < first / 50);
      },
    );

    test(
      "a Sequential classifier separates XOR with CrossEntropyLoss",
      knownGap(device, "training/xor"),
      async () => {
        fl.manualSeed(1);
        const x = fl
          .tensor([
            [0, 0],
            [0, 1],
            [1, 0],
            [1, 1],
          ])
          .to(device);
        const labels = fl.tensor([0, 1, 1, 0], { dtype: "int32" }).to(device);
        const model = new nn.Sequential(new nn.Linear(2, 8), new nn.Tanh(), new nn.Linear(8, 2)).to(
          device,
        );
        const lossFn = new nn.CrossEntropyLoss();
        let last: fl.Tensor | null = null;
        for (let step = 0; step < 600; step++) {
          const l = lossFn.forward(model.forward(x), labels);
          l.backward();
          sgdStep(model, 0.5);
          last = l;
        }
        const loss = (await last!.item()) as number;
        assert.ok(loss < 0.05, `final loss ${loss}`);
        model.eval();
        assert.deepEqual(Array.from(await model.forward(x).argmax(1).data()), [0, 1, 1, 0]);
      },
    );
  });
}
