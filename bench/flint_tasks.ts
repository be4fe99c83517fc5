// flint's side of the benchmark: each task timed as in bench/torch_bench.py
// (warm-up, then batches of calls, median per-call time).
import * as fl from "../src/index.js";

export interface Measurement {
  system: string;
  task: string;
  size: number;
  threads: number;
  median: number;
  min: number;
  max: number;
}

function now(): number {
  return performance.now() / 1000;
}

export function measure(
  fn: () => unknown,
  budget: number,
): { median: number; min: number; max: number } {
  fn();
  const start = now();
  fn();
  const one = Math.max(now() - start, 1e-9);
  const inner = Math.max(1, Math.floor(0.1 / one));
  const reps = Math.max(3, Math.min(15, Math.floor(budget / (one * inner))));
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = now();
    for (let i = 0; i < inner; i++) fn();
    times.push((now() - t0) / inner);
  }
  times.sort((a, b) => a - b);
  return {
    median: times[Math.floor(times.length / 2)]!,
    min: times[0]!,
    max: times[times.length - 1]!,
  };
}

function record(
  task: string,
  size: number,
  m: { median: number; min: number; max: number },
): Measurement {
  return { system: "flint", task, size, threads: 1, ...m };
}

export function flintTasks(tasks: string[], sizes: number[], budget: number): Measurement[] {
  const out: Measurement[] = [];
  // Recorded as threads: 1, so measured on one thread (the default is the core count).
  fl.setNumThreads(1);
  fl.manualSeed(0);
  if (tasks.includes("add16")) {
    const a = fl.randn([16]);
    const b = fl.randn([16]);
    out.push(
      record(
        "add16",
        16,
        measure(() => a.add(b), budget),
      ),
    );
  }
  if (tasks.includes("sgemm")) {
    for (const n of sizes) {
      const a = fl.randn([n, n]);
      const b = fl.randn([n, n]);
      out.push(
        record(
          "sgemm",
          n,
          measure(() => a.mm(b), budget),
        ),
      );
    }
  }
  if (tasks.includes("mlp")) out.push(record("mlp", 128, measure(mlpStep(), budget * 2)));
  if (tasks.includes("epoch")) {
    const m = fashionEpoch();
    if (m) out.push(record("epoch", 60000, m));
  }
  return out;
}

/** One training step of a 784-512-256-10 MLP, batch 128, Adam (loss read back each step). */
function mlpStep(): () => unknown {
  const model = new fl.nn.Sequential(
    new fl.nn.Linear(784, 512),
    new fl.nn.ReLU(),
    new fl.nn.Linear(512, 256),
    new fl.nn.ReLU(),
    new fl.nn.Linear(256, 10),
  );
  const opt = new fl.optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = fl.randn([128, 784]);
  const y = fl.randint(0, 10, [128]);
  return () => {
    opt.zeroGrad();
    const loss = fl.nn.functional.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss.itemSync();
  };
}

/** One epoch of the 784-256-128-10 MLP on Fashion-MNIST (batch 128, Adam), timed once. */
function fashionEpoch(): { median: number; min: number; max: number } | null {
  let images: fl.Tensor;
  let labels: fl.Tensor;
  try {
    const d = fl.data.loadFashionMnist({ train: true });
    images = d.images.flatten(1);
    labels = d.labels;
  } catch {
    console.log(
      "bench: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist); skipping the epoch task",
    );
    return null;
  }
  const model = new fl.nn.Sequential(
    new fl.nn.Linear(784, 256),
    new fl.nn.ReLU(),
    new fl.nn.Linear(256, 128),
    new fl.nn.ReLU(),
    new fl.nn.Linear(128, 10),
  );
  const opt = new fl.optim.Adam(model.parameters(), { lr: 1e-3 });
  const loader = new fl.data.DataLoader(new fl.data.TensorDataset(images, labels), {
    batchSize: 128,
    shuffle: true,
  });
  const t0 = performance.now();
  for (const [x, y] of loader) {
    opt.zeroGrad();
    const loss = fl.nn.functional.crossEntropy(model.forward(x as fl.Tensor), y as fl.Tensor);
    loss.backward();
    opt.step();
  }
  const t = (performance.now() - t0) / 1000;
  return { median: t, min: t, max: t };
}
