// flint's side of `npm run bench`, one child process per thread count:
//   node --import tsx bench/flint_bench.ts --threads 2 --tasks add16,sgemm,mlp --sizes 64,256
// Prints one JSON Measurement per line (bench/timing.ts).
import * as fl from "../src/index.js";
import { fashionEpoch, gptStep, lenetStep, mlpStep } from "./flint_tasks.js";
import { ADD16_BATCH, emit, measure, measureSteps, parseChildArgs, sgemmSweep } from "./timing.js";

const args = parseChildArgs(process.argv.slice(2), "flint");
fl.setNumThreads(args.threads);
fl.manualSeed(0);
const base = { system: args.system, threads: args.threads };

function steps(task: string, size: number, step: (() => number) | null, why: string): void {
  if (step === null) emit({ ...base, task, size, skipped: why });
  else emit({ ...base, task, size, ...measureSteps(step, args.budget * 3) });
}

for (const task of args.tasks) {
  try {
    if (task === "add16") {
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
        task,
        size: 16,
        median: t.median / k,
        min: t.min / k,
        max: t.max / k,
        reps: t.reps,
      });
    } else if (task === "sgemm") {
      sgemmSweep(args, (n) => {
        const a = fl.randn([n, n]);
        const b = fl.randn([n, n]);
        return { call: () => a.mm(b) };
      });
    } else if (task === "mlp") steps(task, 128, mlpStep(), "");
    else if (task === "lenet")
      steps(task, 64, lenetStep(), "nn.Conv2d / nn.MaxPool2d not available yet");
    else if (task === "gpt") steps(task, 16, gptStep(), "");
    else if (task === "epoch") {
      const t = fashionEpoch();
      if (t === null)
        emit({
          ...base,
          task,
          size: 60000,
          skipped: "Fashion-MNIST not installed (dataset-fashion-mnist)",
        });
      else emit({ ...base, task, size: 60000, median: t, min: t, max: t, reps: 1 });
    } else emit({ ...base, task, size: 0, skipped: "unknown task" });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    emit({ ...base, task, size: 0, error: msg.split("\n")[0] });
  }
}
// The worker pool keeps the event loop alive.
process.exit(0);
