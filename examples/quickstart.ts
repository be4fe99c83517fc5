// The README's first example, runnable: the tutorial's training loop on the
// bundled digits in a dozen lines.  node --import tsx examples/quickstart.ts
import * as fl from "../src/index.js";

const { nn, optim } = fl;
const F = nn.functional;

class Net extends nn.Module {
  fc1 = new nn.Linear(64, 128);
  fc2 = new nn.Linear(128, 10);
  override forward(x: fl.Tensor) {
    return this.fc2.forward(F.relu(this.fc1.forward(x)));
  }
}

export async function quickstart(epochs = 10, path = "net.safetensors"): Promise<number> {
  fl.manualSeed(0);
  const model = new Net();
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const { data, target } = fl.data.loadDigits();
  const loader = new fl.data.DataLoader(new fl.data.TensorDataset(data.div(16), target), {
    batchSize: 32,
    shuffle: true,
  });
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const [x, y] of loader) {
      const loss = F.crossEntropy(model.forward(x), y); // forward → loss
      opt.zeroGrad(); //                                   zero_grad
      loss.backward(); //                                  backward
      opt.step(); //                                       step
    }
  }
  await fl.save(model.stateDict(), path); // keys fc1.weight, fc1.bias, … as in PyTorch
  const acc = fl.noGrad(() => model.forward(data.div(16)).argmax(1).eq(target).float().mean());
  return acc.itemSync() as number;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const acc = await quickstart();
  console.log(`training accuracy after 10 epochs: ${(acc * 100).toFixed(1)}%`);
}
