// flint's side of the benchmark: the models and steps, built exactly like
// bench/torch_bench.py's. Each builder returns one training step (forward,
// loss, backward, optimizer step, loss read back) on a fixed random batch.
import * as fl from "../src/index.js";

const { nn } = fl;

/** The MLP: 784-512-256-10, ReLU. */
export function mlp(): fl.nn.Module {
  return new nn.Sequential(
    new nn.Linear(784, 512),
    new nn.ReLU(),
    new nn.Linear(512, 256),
    new nn.ReLU(),
    new nn.Linear(256, 10),
  );
}

function stepOf(
  model: fl.nn.Module,
  opt: fl.optim.Optimizer<fl.optim.OptimizerOptions>,
  x: fl.Tensor,
  y: fl.Tensor,
): () => number {
  return () => {
    opt.zeroGrad();
    const out = model.forward(x) as fl.Tensor;
    const loss = nn.functional.crossEntropy(out.reshape([-1, out.shape.at(-1)!]), y.reshape([-1]));
    loss.backward();
    opt.step();
    return Number(loss.itemSync());
  };
}

/** MLP step, batch 128, Adam (lr 1e-3). */
export function mlpStep(): () => number {
  const model = mlp();
  const opt = new fl.optim.Adam(model.parameters(), { lr: 1e-3 });
  return stepOf(model, opt, fl.randn([128, 784]), fl.randint(0, 10, [128]));
}

/** LeNet-5 step (1×28×28, batch 64, SGD momentum 0.9); null while nn.Conv2d is missing. */
export function lenetStep(): (() => number) | null {
  const layers = nn as unknown as Record<string, unknown>;
  if (typeof layers.Conv2d !== "function" || typeof layers.MaxPool2d !== "function") return null;
  const model = new nn.Sequential(
    new nn.Conv2d(1, 6, 5),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(6, 16, 5),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(256, 120),
    new nn.ReLU(),
    new nn.Linear(120, 84),
    new nn.ReLU(),
    new nn.Linear(84, 10),
  );
  const opt = new fl.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  return stepOf(model, opt, fl.randn([64, 1, 28, 28]), fl.randint(0, 10, [64]));
}

/**
 * Tiny GPT: token + position embeddings, two pre-norm causal
 * TransformerEncoderLayers (d_model 128, 4 heads, feed-forward 512, GELU,
 * no dropout), final LayerNorm, bias-free head to the 256-token vocabulary.
 */
class TinyGPT extends nn.Module {
  tok = new nn.Embedding(256, 128);
  pos = new nn.Embedding(64, 128);
  layers = new nn.ModuleList(
    [0, 1].map(
      () =>
        new nn.TransformerEncoderLayer(128, 4, {
          dimFeedforward: 512,
          dropout: 0,
          activation: "gelu",
          batchFirst: true,
          normFirst: true,
        }),
    ),
  );
  norm = new nn.LayerNorm(128);
  head = new nn.Linear(128, 256, { bias: false });
  positions = fl.arange(64);

  override forward(idx: fl.Tensor): fl.Tensor {
    let x = this.tok.forward(idx).add(this.pos.forward(this.positions));
    for (const layer of this.layers) {
      x = (layer as fl.nn.TransformerEncoderLayer).forward(x, { isCausal: true });
    }
    return this.head.forward(this.norm.forward(x));
  }
}

/** Tiny-GPT step, batch 16 × context 64, AdamW (lr 3e-4, weight decay 0.01). */
export function gptStep(): () => number {
  const model = new TinyGPT();
  const opt = new fl.optim.AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.01 });
  return stepOf(model, opt, fl.randint(0, 256, [16, 64]), fl.randint(0, 256, [16, 64]));
}

/** One epoch of the MLP on Fashion-MNIST (batch 128, shuffled, Adam), in seconds; null without the data. */
export function fashionEpoch(): number | null {
  let images: fl.Tensor;
  let labels: fl.Tensor;
  try {
    const d = fl.data.loadFashionMnist({ train: true });
    images = d.images.flatten(1);
    labels = d.labels;
  } catch {
    return null;
  }
  const model = mlp();
  const opt = new fl.optim.Adam(model.parameters(), { lr: 1e-3 });
  const loader = new fl.data.DataLoader(new fl.data.TensorDataset(images, labels), {
    batchSize: 128,
    shuffle: true,
  });
  const t0 = performance.now();
  for (const [x, y] of loader) stepOf(model, opt, x as fl.Tensor, y as fl.Tensor)();
  return (performance.now() - t0) / 1000;
}
