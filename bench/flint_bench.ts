// flint's side of `npm run bench`, one child process per thread count:
//   node --import tsx bench/flint_bench.ts --threads 2 --tasks add16,sgemm,mlp --sizes 64,256
//   node --import tsx bench/flint_bench.ts --device webgpu --tasks sgemm,gpt --sizes 1024,4096
// Prints one JSON Measurement per line (bench/timing.ts).
import * as fl from "../src/index.js";
import {
  fashionEpoch,
  gptSetup,
  lenetSetup,
  lstmSetup,
  mlpSetup,
  type Setup,
  trainStep,
  trainStepAsync,
} from "./flint_tasks.js";
import {
  ADD16_BATCH,
  emit,
  type Measurement,
  measure,
  measureSteps,
  measureStepsAsync,
  OPS_SIZE,
  parseChildArgs,
  sgemmSweep,
} from "./timing.js";

const args = parseChildArgs(process.argv.slice(2), "flint");
fl.setNumThreads(args.threads);
// Workers start in the background; a synchronous timing loop would never let them, so wait.
await fl.threadsReady();
fl.manualSeed(0);
const base: Partial<Measurement> & { system: string; threads: number } = {
  system: args.system,
  threads: args.threads,
};
const onCpu = args.device === "cpu";

if (!onCpu) {
  if (args.device !== "webgpu") throw new Error(`flint_bench: unknown device ${args.device}`);
  const info = await fl.webgpu.init();
  base.device = `webgpu: ${info.adapter}`;
}

/**
 * Waits until the GPU has run everything enqueued so far: flint submits its
 * batch of kernels at the next microtask, so yield once, then wait for the
 * queue.
 */
async function gpuIdle(): Promise<void> {
  await Promise.resolve();
  await fl.webgpu.gpuDevice().queue.onSubmittedWorkDone();
}

const SETUPS: Record<string, { size: number; make: (device: string) => Setup }> = {
  mlp: { size: 128, make: mlpSetup },
  lenet: { size: 64, make: lenetSetup },
  gpt: { size: 16, make: gptSetup },
  lstm: { size: 32, make: lstmSetup },
};

async function steps(task: string): Promise<void> {
  const { size, make } = SETUPS[task]!;
  const s = make(args.device);
  const budget = args.budget * 3;
  const t = onCpu
    ? measureSteps(trainStep(s), budget)
    : await measureStepsAsync(trainStepAsync(s), gpuIdle, budget);
  emit({ ...base, task, size, ...t });
}

function add16(): void {
  // Per-op overhead: autograd off, a new output tensor each op.
  const a = fl.randn([16]);
  const b = fl.randn([16]);
  const t = fl.noGrad(() =>
    measure(
      () => {
        for (let i = 0; i < ADD16_BATCH; i++) a.add(b);
      },
      { budget: args.budget },
    ),
  );
  const k = ADD16_BATCH;
  emit({
    ...base,
    task: "add16",
    size: 16,
    median: t.median / k,
    min: t.min / k,
    max: t.max / k,
    reps: t.reps,
  });
}

/**
 * Single ops on 1M floats (bench/README.md, "Single ops"): the same list,
 * in the same order, as torch_bench.py's and tfjs_bench.ts's OPS.
 */
function ops(): void {
  const n = OPS_SIZE;
  const x = fl.randn([n, n]);
  const y = fl.randn([n, n]);
  const row = fl.randn([n]);
  const pos = x.abs().add(0.1);
  const list: [string, () => unknown][] = [
    ["x + y", () => x.add(y)],
    ["x * 2", () => x.mul(2)],
    ["x + row", () => x.add(row)],
    ["x > 0", () => x.gt(0)],
    ["x.pow(2)", () => x.pow(2)],
    ["x.exp()", () => x.exp()],
    ["x.log()", () => pos.log()],
    ["x.sum()", () => x.sum()],
    ["x.sum(1)", () => x.sum(1)],
    ["x.sum(0)", () => x.sum(0)],
    ["x.amax(1)", () => x.amax(1)],
    ["x.softmax(1)", () => x.softmax(1)],
  ];
  fl.noGrad(() => {
    for (const [name, call] of list) {
      emit({
        ...base,
        task: `ops:${name}`,
        size: n * n,
        ...measure(call, { budget: args.budget / 4 }),
      });
    }
  });
}

async function sgemm(): Promise<void> {
  await sgemmSweep(
    args,
    (n) => {
      const a = fl.randn([n, n]);
      const b = fl.randn([n, n]);
      if (onCpu) return { call: () => a.mm(b) };
      const ga = a.to(args.device);
      const gb = b.to(args.device);
      return {
        // Each product's output goes back to the pool at once, as PyTorch's caching allocator would reuse it.
        call: () => ga.mm(gb).dispose(),
        sync: gpuIdle,
        dispose: () => {
          ga.dispose();
          gb.dispose();
        },
      };
    },
    base.device ? { device: base.device } : {},
  );
}

for (const task of args.tasks) {
  try {
    if (task === "add16") {
      if (onCpu) add16();
      else
        emit({ ...base, task, size: 16, skipped: "per-op overhead is measured on the CPU only" });
    } else if (task === "sgemm") await sgemm();
    else if (task === "ops") {
      if (onCpu) ops();
      else emit({ ...base, task, size: 0, skipped: "single ops are measured on the CPU only" });
    } else if (task in SETUPS) await steps(task);
    else if (task === "epoch" || task === "lenet-epoch") {
      const t = onCpu ? fashionEpoch(task === "epoch" ? "mlp" : "lenet") : null;
      if (t === null)
        emit({
          ...base,
          task,
          size: 60000,
          skipped: onCpu
            ? "Fashion-MNIST not installed (dataset-fashion-mnist)"
            : "the epoch is measured on the CPU only",
        });
      else emit({ ...base, task, size: 60000, median: t, min: t, max: t, reps: 1 });
    } else emit({ ...base, task, size: 0, skipped: "unknown task" });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    emit({ ...base, task, size: 0, error: msg.split("\n")[0] });
  }
}
// The worker pool (and Dawn's device) keep the event loop alive.
process.exit(0);
