// `flint train`: the tutorial's loop — data, model, loss, optimizer;
// forward → loss → zeroGrad → backward → step — on real data, with a
// progress bar, validation every epoch, a checkpoint that resumes exactly,
// and the loss/accuracy curves written as SVG.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../autograd/grad_mode.js";
import { DataLoader } from "../data/dataloader.js";
import { type Subset, TensorDataset } from "../data/dataset.js";
import { loadFashionMnist } from "../data/datasets/fashion_mnist.js";
import { loadBreastCancer, loadDigits, loadIris, loadWine } from "../data/datasets/tabular.js";
import { randomSplit } from "../data/random_split.js";
import { ArgumentError } from "../errors.js";
import { loadCheckpoint, saveCheckpoint } from "../io/checkpoint.js";
import { save } from "../io/save_load.js";
import { crossEntropy } from "../nn/functional/cross_entropy.js";
import type { Module } from "../nn/module.js";
import { Adam } from "../optim/adam.js";
import type { Optimizer } from "../optim/optimizer.js";
import { SGD } from "../optim/sgd.js";
import { defaultGenerator, Generator } from "../random.js";
import { Tensor } from "../tensor/tensor.js";
import * as webgpu from "../webgpu.js";
import { buildModel, type ModelName } from "./models.js";
import { epochBar } from "./progress.js";
import { trainingCurves } from "./svg_plot.js";

export type DatasetName = "digits" | "fashion-mnist" | "iris" | "wine" | "breast-cancer";

export interface TrainOptions {
  dataset: DatasetName;
  model: ModelName;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: "adam" | "sgd";
  weightDecay: number;
  dropout: number;
  hidden: number;
  seed: number;
  out: string;
  /** Path of a checkpoint to resume from. */
  resume?: string;
  dataRoot?: string;
  /** Show the progress bar (TTY only). */
  progress: boolean;
  /** Print per-epoch lines. */
  log: (line: string) => void;
  /** "cpu" (default) or "webgpu": where the model and batches live. */
  device?: string;
}

export interface History {
  trainLoss: number[];
  trainAcc: number[];
  valLoss: number[];
  valAcc: number[];
  seconds: number[];
}

export interface TrainResult {
  history: History;
  testAccuracy: number;
  testLoss: number;
  seconds: number;
  model: Module;
  checkpoint: string;
}

interface Splits {
  train: TensorDataset;
  val: TensorDataset;
  test: TensorDataset;
  inFeatures: number;
  classes: number;
}

/** Materializes a Subset of a TensorDataset as its own TensorDataset (one gather). */
function materialize(ds: Subset<Tensor[]>): TensorDataset {
  const idx = Array.from({ length: ds.length }, (_, i) => i);
  const [x, y] = (ds as unknown as { getBatch(i: number[]): Tensor[] }).getBatch(idx) as [
    Tensor,
    Tensor,
  ];
  return new TensorDataset(x, y);
}

/** Loads a data set and splits it: 70/15/15 for the small sets; Fashion-MNIST keeps its own test set. */
function loadSplits(name: DatasetName, seed: number, root?: string): Splits {
  const gen = new Generator().manualSeed(seed);
  if (name === "fashion-mnist") {
    const train = loadFashionMnist({ root, train: true });
    const test = loadFashionMnist({ root, train: false });
    const full = new TensorDataset(train.images.flatten(1), train.labels);
    const [tr, va] = randomSplit(full, [55000, 5000], { generator: gen });
    return {
      train: materialize(tr!),
      val: materialize(va!),
      test: new TensorDataset(test.images.flatten(1), test.labels),
      inFeatures: 784,
      classes: 10,
    };
  }
  const loaders = {
    digits: loadDigits,
    iris: loadIris,
    wine: loadWine,
    "breast-cancer": loadBreastCancer,
  };
  const loader = loaders[name];
  if (!loader)
    throw new ArgumentError(
      `train: unknown dataset "${name}" (expected digits, fashion-mnist, iris, wine or breast-cancer)`,
    );
  const { data, target, targetNames } = loader();
  // Standardize with the training split's statistics only (no test leakage).
  const full = new TensorDataset(data, target);
  const [tr, va, te] = randomSplit(full, [0.7, 0.15, 0.15], { generator: gen }).map(materialize);
  const xTrain = tr!.tensors[0]!;
  const mean = xTrain.mean(0, { keepdim: true });
  const std = xTrain.std(0, { keepdim: true, correction: 0 }).clamp(1e-6);
  const scale = (ds: TensorDataset) =>
    new TensorDataset(ds.tensors[0]!.sub(mean).div(std), ds.tensors[1]!);
  return {
    train: scale(tr!),
    val: scale(va!),
    test: scale(te!),
    inFeatures: data.shape[1]!,
    classes: targetNames.length,
  };
}

async function evaluate(
  model: Module,
  ds: TensorDataset,
  device: string,
): Promise<{ loss: number; acc: number }> {
  const [x, y] = (ds.tensors as [Tensor, Tensor]).map((t) => t.to(device)) as [Tensor, Tensor];
  model.eval();
  const [loss, correct] = noGrad(() => {
    const logits = model.forward(x) as Tensor;
    return [crossEntropy(logits, y), logits.argmax(1).eq(y).sum()];
  });
  model.train();
  // Reading is asynchronous so that the same loop runs on every device.
  return {
    loss: (await loss.item()) as number,
    acc: ((await correct.item()) as number) / y.shape[0]!,
  };
}

/** A state dict's tensors (nested in objects) copied to the CPU, for saving. */
async function onCpu<T>(state: T): Promise<T> {
  if (state instanceof Tensor) return (await state.toAsync("cpu")) as T;
  if (state === null || typeof state !== "object") return state;
  if (Array.isArray(state)) return (await Promise.all(state.map(onCpu))) as T;
  const entries = await Promise.all(
    Object.entries(state).map(async ([k, v]) => [k, await onCpu(v)]),
  );
  return Object.fromEntries(entries) as T;
}

function makeOptimizer(opts: TrainOptions, model: Module): Optimizer {
  const params = model.parameters();
  if (opts.optimizer === "sgd")
    return new SGD(params, { lr: opts.lr, momentum: 0.9, weightDecay: opts.weightDecay });
  return new Adam(params, { lr: opts.lr, weightDecay: opts.weightDecay });
}

/** Trains, evaluates on the test split, saves the checkpoint, weights, history and curves. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const start = performance.now();
  const splits = loadSplits(opts.dataset, opts.seed, opts.dataRoot);
  defaultGenerator.manualSeed(opts.seed);
  const model = buildModel(opts.model, splits.inFeatures, splits.classes, {
    hidden: opts.hidden,
    dropout: opts.dropout,
  });
  const device = opts.device ?? "cpu";
  if (device === "webgpu") await webgpu.init();
  model.to(device);
  const optimizer = makeOptimizer(opts, model);
  const shuffle = new Generator().manualSeed(opts.seed + 1);
  const loader = new DataLoader(splits.train, {
    batchSize: opts.batchSize,
    shuffle: true,
    generator: shuffle,
  });
  let history: History = { trainLoss: [], trainAcc: [], valLoss: [], valAcc: [], seconds: [] };
  let firstEpoch = 1;
  if (opts.resume) {
    const ckpt = (await loadCheckpoint(opts.resume)) as Record<string, unknown>;
    model.loadStateDict(ckpt.model as Record<string, Tensor>);
    optimizer.loadStateDict(ckpt.optimizer as never);
    // The checkpoint's optimizer state was saved from the CPU; it lives beside its parameters.
    for (const st of optimizer.state.values())
      for (const [k, v] of Object.entries(st)) if (v instanceof Tensor) st[k] = v.to(device);
    shuffle.setState(ckpt.shuffleGenerator as never);
    defaultGenerator.setState(ckpt.globalGenerator as never);
    history = ckpt.history as History;
    firstEpoch = (ckpt.epoch as number) + 1;
    opts.log(`resumed from ${opts.resume} after epoch ${ckpt.epoch}`);
  }
  mkdirSync(opts.out, { recursive: true });
  const checkpoint = join(opts.out, "checkpoint.safetensors");
  opts.log(
    `training ${opts.model} on ${opts.dataset}: ${splits.train.length} train / ${splits.val.length} val / ${splits.test.length} test samples, ` +
      `${model.numParameters()} parameters, ${opts.optimizer} lr ${opts.lr}, batch ${opts.batchSize}, on ${device}`,
  );
  model.train();
  for (let epoch = firstEpoch; epoch <= opts.epochs; epoch++) {
    const t0 = performance.now();
    const bar = epochBar(epoch, opts.epochs, loader.length, opts.progress);
    let seen = 0;
    let lossSum = 0;
    let correct = 0;
    let batches = 0;
    for (const [xb, yb] of loader) {
      const [x, y] = [xb!.to(device), yb!.to(device)];
      const logits = model.forward(x) as Tensor;
      const loss = crossEntropy(logits, y);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      const n = y.shape[0]!;
      seen += n;
      lossSum += ((await loss.item()) as number) * n;
      correct += (await noGrad(() => logits.argmax(1).eq(y).sum()).item()) as number;
      batches++;
      bar.update(batches, {
        loss: lossSum / seen,
        acc: correct / seen,
        rate: seen / ((performance.now() - t0) / 1000),
      });
    }
    bar.stop();
    const val = await evaluate(model, splits.val, device);
    const secs = (performance.now() - t0) / 1000;
    history.trainLoss.push(lossSum / seen);
    history.trainAcc.push(correct / seen);
    history.valLoss.push(val.loss);
    history.valAcc.push(val.acc);
    history.seconds.push(secs);
    opts.log(
      `epoch ${String(epoch).padStart(String(opts.epochs).length)}/${opts.epochs}  ` +
        `loss ${(lossSum / seen).toFixed(4)}  acc ${((correct / seen) * 100).toFixed(2)}%  ` +
        `val_loss ${val.loss.toFixed(4)}  val_acc ${(val.acc * 100).toFixed(2)}%  ` +
        `${Math.round(seen / secs)} samples/s  ${secs.toFixed(1)} s`,
    );
    await saveCheckpoint(checkpoint, {
      model: await onCpu(model.stateDict()),
      optimizer: (await onCpu(optimizer.stateDict())) as never,
      epoch,
      shuffleGenerator: shuffle.getState() as never,
      globalGenerator: defaultGenerator.getState() as never,
      history: history as never,
      config: {
        dataset: opts.dataset,
        model: opts.model,
        lr: opts.lr,
        batchSize: opts.batchSize,
        seed: opts.seed,
      },
    });
  }
  const test = await evaluate(model, splits.test, device);
  const seconds = (performance.now() - start) / 1000;
  await save(await onCpu(model.stateDict()), join(opts.out, "model.safetensors"));
  writeFileSync(
    join(opts.out, "history.json"),
    `${JSON.stringify({ ...history, test }, null, 2)}\n`,
  );
  writeFileSync(
    join(opts.out, "curves.svg"),
    trainingCurves(history, `${opts.model} on ${opts.dataset}`),
  );
  opts.log(
    `test accuracy ${(test.acc * 100).toFixed(2)}%  test loss ${test.loss.toFixed(4)}  (${seconds.toFixed(1)} s in all)`,
  );
  opts.log(
    `wrote ${checkpoint}, ${join(opts.out, "model.safetensors")}, ${join(opts.out, "curves.svg")}`,
  );
  return { history, testAccuracy: test.acc, testLoss: test.loss, seconds, model, checkpoint };
}
