// Overfitting and underfitting, as the tutorial describes them, with numbers.
//
// A wide MLP trained on a small slice of Fashion-MNIST (1,000 images)
// memorizes it: training accuracy climbs to ~100% while validation accuracy
// stalls — overfitting, a widening train/validation gap. A model with four
// hidden units cannot even fit the training set — underfitting, both
// accuracies low. Dropout, weight decay and data augmentation narrow the
// gap; early stopping keeps the weights of the best validation epoch.
// The curves of every run go into one SVG.
//
//   node --import tsx examples/overfitting.ts [epochs] [out.svg]
//   (falls back to the bundled digits when Fashion-MNIST is not installed)
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { lineChart } from "../src/cli/svg_plot.js";
import * as fl from "../src/index.js";

const { nn, optim } = fl;
const F = nn.functional;

export interface RunSpec {
  name: string;
  hidden: number[];
  dropout?: number;
  weightDecay?: number;
  augment?: boolean;
  earlyStopping?: number;
}

export interface RunResult {
  name: string;
  trainAcc: number[];
  valAcc: number[];
  /** Final (or restored) train and validation accuracy. */
  finalTrain: number;
  finalVal: number;
  bestEpoch: number;
}

interface Split {
  images: fl.Tensor; // [N, 1, S, S]
  labels: fl.Tensor;
  valImages: fl.Tensor;
  valLabels: fl.Tensor;
  side: number;
}

export function loadSplit(trainSize: number, valSize: number, seed = 0): Split {
  let images: fl.Tensor;
  let labels: fl.Tensor;
  let side: number;
  try {
    const d = fl.data.loadFashionMnist({ train: true });
    images = d.images;
    labels = d.labels;
    side = 28;
  } catch {
    const d = fl.data.loadDigits();
    images = d.images.div(16).unsqueeze(1);
    labels = d.target;
    side = 8;
  }
  const perm = fl.randperm(images.shape[0]!, { generator: new fl.Generator().manualSeed(seed) });
  const pick = (start: number, n: number) => perm.narrow(0, start, n);
  return {
    images: images.indexSelect(0, pick(0, trainSize)),
    labels: labels.indexSelect(0, pick(0, trainSize)),
    valImages: images.indexSelect(0, pick(trainSize, valSize)),
    valLabels: labels.indexSelect(0, pick(trainSize, valSize)),
    side,
  };
}

function mlp(inFeatures: number, hidden: number[], dropout: number): fl.nn.Module {
  const layers: fl.nn.Module[] = [new nn.Flatten()];
  let prev = inFeatures;
  for (const h of hidden) {
    layers.push(new nn.Linear(prev, h), new nn.ReLU());
    if (dropout > 0) layers.push(new nn.Dropout(dropout));
    prev = h;
  }
  layers.push(new nn.Linear(prev, 10));
  return new nn.Sequential(...layers);
}

function accuracy(model: fl.nn.Module, x: fl.Tensor, y: fl.Tensor): number {
  model.eval();
  const acc = fl.noGrad(
    () => (model.forward(x) as fl.Tensor).argmax(1).eq(y).float().mean().itemSync() as number,
  );
  model.train();
  return acc;
}

/** A data set of images that applies random crops and flips as each sample is read. */
class Augmented extends fl.data.Dataset<[fl.Tensor, fl.Tensor]> {
  private readonly tf: fl.data.transforms.Compose;
  constructor(
    private readonly images: fl.Tensor,
    private readonly labels: fl.Tensor,
    side: number,
  ) {
    super();
    const T = fl.data.transforms;
    this.tf = new T.Compose([new T.RandomCrop(side, { padding: 2 }), new T.RandomHorizontalFlip()]);
  }
  get length(): number {
    return this.images.shape[0]!;
  }
  getItem(i: number): [fl.Tensor, fl.Tensor] {
    return [this.tf.apply(this.images.select(0, i)), this.labels.select(0, i)];
  }
}

export function runOne(spec: RunSpec, split: Split, epochs: number, seed = 0): RunResult {
  fl.manualSeed(seed);
  const model = mlp(split.side * split.side, spec.hidden, spec.dropout ?? 0);
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: spec.weightDecay ?? 0 });
  const ds = spec.augment
    ? new Augmented(split.images, split.labels, split.side)
    : new fl.data.TensorDataset(split.images, split.labels);
  const loader = new fl.data.DataLoader(ds, {
    batchSize: 64,
    shuffle: true,
    generator: new fl.Generator().manualSeed(seed),
  });
  const stopper = spec.earlyStopping
    ? new fl.EarlyStopping({ patience: spec.earlyStopping, mode: "max" })
    : null;
  const trainAcc: number[] = [];
  const valAcc: number[] = [];
  let bestEpoch = epochs;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    for (const [x, y] of loader) {
      const loss = F.crossEntropy(model.forward(x as fl.Tensor) as fl.Tensor, y as fl.Tensor);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    }
    trainAcc.push(accuracy(model, split.images, split.labels));
    valAcc.push(accuracy(model, split.valImages, split.valLabels));
    if (stopper?.step(valAcc[valAcc.length - 1]!, model)) {
      stopper.restoreBest(model);
      bestEpoch = stopper.bestEpoch + 1;
      break;
    }
  }
  const restored = stopper?.shouldStop ?? false;
  return {
    name: spec.name,
    trainAcc,
    valAcc,
    finalTrain: restored ? trainAcc[bestEpoch - 1]! : trainAcc[trainAcc.length - 1]!,
    finalVal: restored ? valAcc[bestEpoch - 1]! : valAcc[valAcc.length - 1]!,
    bestEpoch,
  };
}

export const RUNS: RunSpec[] = [
  { name: "underfit: 4 hidden units", hidden: [4] },
  { name: "overfit: 512-512, no regularization", hidden: [512, 512] },
  { name: "+ dropout 0.5", hidden: [512, 512], dropout: 0.5 },
  { name: "+ weight decay 0.5 (AdamW)", hidden: [512, 512], weightDecay: 0.5 },
  { name: "+ augmentation (crop, flip)", hidden: [512, 512], augment: true },
  { name: "+ early stopping (patience 5)", hidden: [512, 512], earlyStopping: 5 },
];

/** One small chart per run, train vs validation accuracy, in a grid. */
export function curvesSvg(results: RunResult[]): string {
  const cols = 3;
  const w = 420;
  const h = 260;
  const cells = results.map((r, i) => {
    const svg = lineChart(
      [
        { name: "train", values: r.trainAcc },
        { name: "validation", values: r.valAcc },
      ],
      { title: r.name, xLabel: "epoch", yLabel: "accuracy", width: w, height: h },
    );
    const inner = svg.replace(/^<svg[^>]*>/, "").replace(/<\/svg>$/, "");
    return `<g transform="translate(${(i % cols) * w} ${Math.floor(i / cols) * h})">${inner}</g>`;
  });
  const rows = Math.ceil(results.length / cols);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * w}" height="${rows * h}" font-family="sans-serif" font-size="11">\n${cells.join("\n")}\n</svg>`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const epochs = Number(process.argv[2] ?? 40);
  const out = process.argv[3] ?? "overfitting.svg";
  const split = loadSplit(1000, 5000);
  console.log(
    `${split.side === 28 ? "Fashion-MNIST" : "digits"}: 1000 training images, 5000 validation images, ${epochs} epochs, AdamW 1e-3, batch 64\n`,
  );
  console.log("run                                   train acc  val acc   gap    best epoch");
  const results: RunResult[] = [];
  for (const spec of RUNS) {
    const r = runOne(spec, split, epochs);
    results.push(r);
    console.log(
      `${r.name.padEnd(37)} ${(r.finalTrain * 100).toFixed(1).padStart(8)}%  ${(r.finalVal * 100).toFixed(1).padStart(6)}%  ` +
        `${((r.finalTrain - r.finalVal) * 100).toFixed(1).padStart(5)}  ${String(r.bestEpoch).padStart(6)}`,
    );
  }
  writeFileSync(out, curvesSvg(results));
  console.log(`\nwrote ${out}`);
}
