// flint's side of the benchmark: the models and steps, built exactly like
// bench/torch_bench.py's. Each builder makes a model, its optimizer and a
// fixed random batch on a device; trainStep / trainStepAsync turn that into
// one training step (forward, loss, backward, optimizer step, loss read back).
import { SmallResNet } from "../examples/resnet.js";
import * as fl from "../src/index.js";

const { nn } = fl;

/** A model, its optimizer and one batch, all on the same device. */
export interface Setup {
  model: fl.nn.Module;
  opt: fl.optim.Optimizer<fl.optim.OptimizerOptions>;
  x: fl.Tensor;
  y: fl.Tensor;
}

type Optim = (params: fl.nn.Parameter[]) => fl.optim.Optimizer<fl.optim.OptimizerOptions>;

// The random batch is drawn on the CPU in the same order on every device, so
// the model sees the same numbers wherever it runs.
function setup(
  model: fl.nn.Module,
  optim: Optim,
  x: fl.Tensor,
  y: fl.Tensor,
  device: string,
): Setup {
  if (device !== "cpu") {
    model.to(device);
    x = x.to(device);
    y = y.to(device);
  }
  return { model, opt: optim(model.parameters()), x, y };
}

function lossOf({ model, x, y }: Setup): fl.Tensor {
  const out = model.forward(x) as fl.Tensor;
  return nn.functional.crossEntropy(out.reshape([-1, out.shape.at(-1)!]), y.reshape([-1]));
}

/** One CPU training step that returns the loss (read synchronously). */
export function trainStep(s: Setup): () => number {
  return () => {
    s.opt.zeroGrad();
    const loss = lossOf(s);
    loss.backward();
    s.opt.step();
    return Number(loss.itemSync());
  };
}

/**
 * One training step on a GPU device: the step's tensors are freed by tidy()
 * (what a GPU training loop does), and the step resolves once its loss has
 * been read back with await, which waits for every kernel submitted before
 * the read, the optimizer's included.
 */
export function trainStepAsync(s: Setup): () => Promise<number> {
  return async () => {
    const loss = fl.tidy(() => {
      s.opt.zeroGrad();
      const l = lossOf(s);
      l.backward();
      s.opt.step();
      return l.detach();
    });
    const v = Number(await loss.item());
    loss.dispose();
    return v;
  };
}

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

/** MLP, batch 128, Adam (lr 1e-3). */
export function mlpSetup(device = "cpu"): Setup {
  const adam: Optim = (p) => new fl.optim.Adam(p, { lr: 1e-3 });
  return setup(mlp(), adam, fl.randn([128, 784]), fl.randint(0, 10, [128]), device);
}

/** LeNet-5 for 1×28×28 inputs, as bench/torch_bench.py builds it. */
function lenet(): fl.nn.Module {
  return new nn.Sequential(
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
}

/** LeNet-5 (1×28×28, batch 64, SGD momentum 0.9). */
export function lenetSetup(device = "cpu"): Setup {
  const sgd: Optim = (p) => new fl.optim.SGD(p, { lr: 0.01, momentum: 0.9 });
  return setup(lenet(), sgd, fl.randn([64, 1, 28, 28]), fl.randint(0, 10, [64]), device);
}

/** examples/resnet.ts's SmallResNet (1×28×28, batch 128, Adam 3e-3): profiled, not in the bench table. */
export function resnetSetup(device = "cpu"): Setup {
  const adam: Optim = (p) => new fl.optim.Adam(p, { lr: 3e-3 });
  return setup(
    new SmallResNet(),
    adam,
    fl.randn([128, 1, 28, 28]),
    fl.randint(0, 10, [128]),
    device,
  );
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
  // A buffer, so that model.to(device) moves it with the weights.
  declare positions: fl.Tensor;

  constructor() {
    super();
    this.registerBuffer("positions", fl.arange(64), false);
  }

  override forward(idx: fl.Tensor): fl.Tensor {
    let x = this.tok.forward(idx).add(this.pos.forward(this.positions));
    for (const layer of this.layers) {
      x = (layer as fl.nn.TransformerEncoderLayer).forward(x, { isCausal: true });
    }
    return this.head.forward(this.norm.forward(x));
  }
}

/** Tiny GPT, batch 16 × context 64, AdamW (lr 3e-4, weight decay 0.01). */
export function gptSetup(device = "cpu"): Setup {
  const adamw: Optim = (p) => new fl.optim.AdamW(p, { lr: 3e-4, weightDecay: 0.01 });
  const idx = fl.randint(0, 256, [16, 64]);
  return setup(new TinyGPT(), adamw, idx, fl.randint(0, 256, [16, 64]), device);
}

/**
 * Sequence classifier: a 2-layer LSTM (input 64, hidden 128, batch first)
 * and a linear head on the last step's output, 10 classes.
 */
class LSTMClassifier extends nn.Module {
  lstm = new nn.LSTM(64, 128, { numLayers: 2, batchFirst: true });
  head = new nn.Linear(128, 10);

  override forward(x: fl.Tensor): fl.Tensor {
    const [out] = this.lstm.forward(x);
    return this.head.forward(out.select(1, -1));
  }
}

/** LSTM classifier, batch 32 × sequence 32 × 64 features, Adam (lr 1e-3). */
export function lstmSetup(device = "cpu"): Setup {
  const adam: Optim = (p) => new fl.optim.Adam(p, { lr: 1e-3 });
  return setup(new LSTMClassifier(), adam, fl.randn([32, 32, 64]), fl.randint(0, 10, [32]), device);
}

/**
 * One epoch on Fashion-MNIST (batch 128, shuffled, Adam 1e-3), in seconds: the MLP on
 * flattened images, or LeNet-5 on [N, 1, 28, 28]; null without the data.
 */
export function fashionEpoch(model: "mlp" | "lenet" = "mlp"): number | null {
  let images: fl.Tensor;
  let labels: fl.Tensor;
  try {
    const d = fl.data.loadFashionMnist({ train: true });
    images = model === "mlp" ? d.images.flatten(1) : d.images;
    labels = d.labels;
  } catch {
    return null;
  }
  const net = model === "mlp" ? mlp() : lenet();
  const opt = new fl.optim.Adam(net.parameters(), { lr: 1e-3 });
  const loader = new fl.data.DataLoader(new fl.data.TensorDataset(images, labels), {
    batchSize: 128,
    shuffle: true,
  });
  const t0 = performance.now();
  for (const [x, y] of loader)
    trainStep({ model: net, opt, x: x as fl.Tensor, y: y as fl.Tensor })();
  return (performance.now() - t0) / 1000;
}
