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

export function measure(fn: () => unknown, budget: number): { median: number; min: number; max: number } {
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
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]!, max: times[times.length - 1]! };
}

function record(task: string, size: number, m: { median: number; min: number; max: number }): Measurement {
  return { system: "flint", task, size, threads: 1, ...m };
}

export function flintTasks(tasks: string[], sizes: number[], budget: number): Measurement[] {
  const out: Measurement[] = [];
  fl.manualSeed(0);
  if (tasks.includes("add16")) {
    const a = fl.randn([16]);
    const b = fl.randn([16]);
    out.push(record("add16", 16, measure(() => a.add(b), budget)));
  }
  if (tasks.includes("sgemm")) {
    for (const n of sizes) {
      const a = fl.randn([n, n]);
      const b = fl.randn([n, n]);
      out.push(record("sgemm", n, measure(() => a.mm(b), budget)));
    }
  }
  return out;
}
