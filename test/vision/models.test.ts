// The CNN examples: PyTorch-style state_dict keys, and a few optimizer
// steps on a small batch of real Fashion-MNIST images that lower the loss.
// (The full training runs are examples, not tests.)
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import { LeNet5 } from "../../examples/lenet.js";
import { augmentation, BasicBlock, SmallResNet } from "../../examples/resnet.js";
import { buildModel } from "../../src/cli/models.js";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;
const haveData = existsSync(fl.data.FASHION_MNIST_ROOT);

function batch(n: number): [fl.Tensor, fl.Tensor] {
  if (!haveData) {
    fl.manualSeed(0);
    return [fl.rand([n, 1, 28, 28]), fl.randint(0, 10, [n])];
  }
  const d = fl.data.loadFashionMnist({ train: false });
  return [d.images.narrow(0, 0, n), d.labels.narrow(0, 0, n)];
}

/** Loss before and after `steps` Adam steps on one batch. */
function fit(model: fl.nn.Module, x: fl.Tensor, y: fl.Tensor, steps: number): [number, number] {
  const opt = new fl.optim.Adam(model.parameters(), { lr: 3e-3 });
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = F.crossEntropy(model.forward(x) as fl.Tensor, y);
    losses.push(loss.itemSync() as number);
    opt.zeroGrad();
    loss.backward();
    opt.step();
  }
  return [losses[0]!, losses[losses.length - 1]!];
}

describe("LeNet-5", () => {
  test("state_dict keys as a PyTorch LeNet, in the example and in `flint train`", () => {
    const keys = [
      "conv1.weight",
      "conv1.bias",
      "conv2.weight",
      "conv2.bias",
      "fc1.weight",
      "fc1.bias",
      "fc2.weight",
      "fc2.bias",
      "fc3.weight",
      "fc3.bias",
    ];
    assert.deepEqual(Object.keys(new LeNet5().stateDict()), keys);
    assert.deepEqual(Object.keys(buildModel("lenet", 784, 10).stateDict()), keys);
    assert.equal(new LeNet5().numParameters(), 61706);
    assert.throws(() => buildModel("lenet", 64, 10), /lenet needs 28×28 images/);
  });

  test("a few steps on 64 images lower the loss (flat rows accepted)", () => {
    fl.manualSeed(0);
    const [x, y] = batch(64);
    const [first, last] = fit(new LeNet5(), x.flatten(1), y, 12);
    assert.ok(last < first * 0.8, `loss ${first} → ${last}`);
  });
});

describe("SmallResNet", () => {
  test("BasicBlock has a downsample path only when the shape changes", () => {
    assert.equal(new BasicBlock(16, 16).downsample, null);
    const b = new BasicBlock(16, 32, 2);
    assert.deepEqual(b.forward(fl.randn([2, 16, 8, 8])).shape, [2, 32, 4, 4]);
    const keys = Object.keys(new SmallResNet().stateDict());
    for (const k of [
      "conv1.weight",
      "bn1.running_mean",
      "layer1.0.conv1.weight",
      "layer2.0.downsample.0.weight",
      "layer2.0.downsample.1.num_batches_tracked",
      "fc.bias",
    ]) {
      assert.ok(keys.includes(k), `missing ${k}`);
    }
  });

  test("a few steps with augmented images lower the loss and move BatchNorm's statistics", () => {
    fl.manualSeed(1);
    const [x0, y] = batch(16);
    const tf = augmentation();
    const x = fl.stack(
      x0.unbind(0).map((im) => tf.apply(im)),
      0,
    );
    const model = new SmallResNet();
    const [first, last] = fit(model, x, y, 6);
    assert.ok(last < first, `loss ${first} → ${last}`);
    assert.equal(model.bn1.num_batches_tracked!.itemSync(), 6);
    assert.ok((model.bn1.running_mean!.abs().sum().itemSync() as number) > 0);
  });
});
