// A small ResNet on Fashion-MNIST with augmentation. A residual block
// learns a correction F(x) added to its input (out = relu(F(x) + x)), so
// gradients reach early layers through the identity path; BatchNorm keeps
// each layer's activations in range. Augmentation (random crops with
// padding, horizontal flips) shows the network a slightly different image
// every epoch, which fights overfitting.
//
// The recipe matches bench/resnet_torch.py (PyTorch's side): inputs
// standardized with Fashion-MNIST's mean and std, Adam with the learning
// rate annealed along a cosine over the whole run, batch 128.
//
//   node --import tsx examples/resnet.ts [epochs] [trainLimit]
import { pathToFileURL } from "node:url";
import * as fl from "../src/index.js";
import { evaluate, FASHION_MNIST_MEAN as MEAN, FASHION_MNIST_STD as STD } from "./lenet.js";

const { nn, optim } = fl;
const F = nn.functional;
const T = fl.data.transforms;

/**
 * torchvision's BasicBlock: two 3×3 convs with BatchNorm, plus the input
 * (through a 1×1 conv + BatchNorm "downsample" when the shape changes).
 * [N, inC, H, W] → [N, outC, H/stride, W/stride].
 */
export class BasicBlock extends nn.Module {
  conv1: fl.nn.Conv2d;
  bn1: fl.nn.BatchNorm2d;
  conv2: fl.nn.Conv2d;
  bn2: fl.nn.BatchNorm2d;
  downsample: fl.nn.Sequential | null;

  constructor(inC: number, outC: number, stride = 1) {
    super();
    this.conv1 = new nn.Conv2d(inC, outC, 3, { stride, padding: 1, bias: false });
    this.bn1 = new nn.BatchNorm2d(outC);
    this.conv2 = new nn.Conv2d(outC, outC, 3, { padding: 1, bias: false });
    this.bn2 = new nn.BatchNorm2d(outC);
    this.downsample =
      stride !== 1 || inC !== outC
        ? new nn.Sequential(
            new nn.Conv2d(inC, outC, 1, { stride, bias: false }),
            new nn.BatchNorm2d(outC),
          )
        : null;
  }

  override forward(x: fl.Tensor): fl.Tensor {
    let out = F.relu(this.bn1.forward(this.conv1.forward(x)));
    out = this.bn2.forward(this.conv2.forward(out));
    const identity = this.downsample ? (this.downsample.forward(x) as fl.Tensor) : x; // the skip connection
    return F.relu(out.add(identity));
  }
}

/**
 * A ResNet for 28×28 grey images: stem conv (16) → stages of BasicBlocks
 * at 16, 32, 64 channels (the last two halve the resolution) → global
 * average pool → fc. [N, 1, 28, 28] → [N, 16, 28, 28] → [N, 32, 14, 14]
 * → [N, 64, 7, 7] → [N, 64] → [N, classes].
 */
export class SmallResNet extends nn.Module {
  conv1: fl.nn.Conv2d;
  bn1: fl.nn.BatchNorm2d;
  layer1: fl.nn.Sequential;
  layer2: fl.nn.Sequential;
  layer3: fl.nn.Sequential;
  fc: fl.nn.Linear;

  constructor(opts: { blocks?: number; classes?: number; width?: number } = {}) {
    super();
    const n = opts.blocks ?? 1;
    const w = opts.width ?? 16;
    this.conv1 = new nn.Conv2d(1, w, 3, { padding: 1, bias: false });
    this.bn1 = new nn.BatchNorm2d(w);
    const stage = (inC: number, outC: number, stride: number) =>
      new nn.Sequential(
        ...Array.from(
          { length: n },
          (_, i) => new BasicBlock(i === 0 ? inC : outC, outC, i === 0 ? stride : 1),
        ),
      );
    this.layer1 = stage(w, w, 1);
    this.layer2 = stage(w, 2 * w, 2);
    this.layer3 = stage(2 * w, 4 * w, 2);
    this.fc = new nn.Linear(4 * w, opts.classes ?? 10);
  }

  override forward(x: fl.Tensor): fl.Tensor {
    let h = x.ndim === 2 ? x.view([-1, 1, 28, 28]) : x;
    h = F.relu(this.bn1.forward(this.conv1.forward(h)));
    h = this.layer3.forward(this.layer2.forward(this.layer1.forward(h))) as fl.Tensor;
    h = F.adaptiveAvgPool2d(h, 1).flatten(1); // [N, 64]
    return this.fc.forward(h);
  }
}

/**
 * The training-time augmentation: random 28×28 crops of the image padded by
 * 2 (with the background, before standardizing), flips, then standardizing.
 */
export function augmentation(): fl.data.transforms.Compose {
  return new T.Compose([
    new T.RandomCrop(28, { padding: 2 }),
    new T.RandomHorizontalFlip(),
    new T.Normalize([MEAN], [STD]),
  ]);
}

/** Trains SmallResNet with augmentation (Adam, cosine-annealed from lr, batch 128). */
export function trainResNet(
  opts: {
    epochs?: number;
    trainLimit?: number;
    augment?: boolean;
    seed?: number;
    lr?: number;
    width?: number;
    log?: (s: string) => void;
  } = {},
) {
  const log = opts.log ?? console.log;
  const epochs = opts.epochs ?? 10;
  fl.manualSeed(opts.seed ?? 0);
  const tf = opts.augment === false ? new T.Normalize([MEAN], [STD]) : augmentation();
  const full = new fl.data.FashionMNIST({ train: true, transform: tf.call });
  const train = opts.trainLimit
    ? new fl.data.Subset(
        full,
        Array.from({ length: opts.trainLimit }, (_, i) => i),
      )
    : full;
  const rawTest = fl.data.loadFashionMnist({ train: false });
  const test = { images: rawTest.images.sub(MEAN).div(STD), labels: rawTest.labels };
  const loader = new fl.data.DataLoader(train, { batchSize: 128, shuffle: true });
  const model = new SmallResNet({ width: opts.width });
  const opt = new optim.Adam(model.parameters(), { lr: opts.lr ?? 3e-3 });
  const sched = new optim.lrScheduler.CosineAnnealingLR(opt, epochs * loader.length);
  const history: { epoch: number; trainLoss: number; testAcc: number; seconds: number }[] = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const t0 = performance.now();
    let total = 0;
    let batches = 0;
    for (const [x, y] of loader) {
      const loss = F.crossEntropy(model.forward(x as fl.Tensor), y as fl.Tensor);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      sched.step();
      total += loss.itemSync() as number;
      batches++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const testAcc = evaluate(model, test.images, test.labels, 500);
    history.push({ epoch, trainLoss: total / batches, testAcc, seconds });
    log(
      `epoch ${epoch}: train loss ${(total / batches).toFixed(4)}, test accuracy ${(testAcc * 100).toFixed(2)}%, ${seconds.toFixed(1)} s`,
    );
  }
  return { model, history };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  trainResNet({
    epochs: Number(process.argv[2] ?? 10),
    trainLimit: process.argv[3] ? Number(process.argv[3]) : undefined,
  });
}
