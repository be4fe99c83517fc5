// The timing protocol shared by flint's and TensorFlow.js's sides of the
// benchmark (bench/torch_bench.py does the same in Python): warm up, then
// time repetitions of back-to-back calls and keep the median per-call time.

/** One measured point, one JSON line on a child's stdout. Times are seconds per call. */
export interface Measurement {
  system: string;
  task: string;
  size: number;
  threads: number;
  median?: number;
  min?: number;
  max?: number;
  reps?: number;
  /** Set instead of the times when the point was not run, with the reason. */
  skipped?: string;
  error?: string;
  note?: string;
}

export interface Timing {
  median: number;
  min: number;
  max: number;
  reps: number;
}

function now(): number {
  return performance.now() / 1000;
}

/**
 * Per-call seconds of fn: at least two warm-up calls (one if a call takes
 * over 5 s), then `reps` repetitions of `inner` calls, where inner makes a
 * repetition last about minRepTime (1 for training steps: minRepTime 0)
 * and reps fits the budget, clamped to [minReps, maxReps].
 */
export function measure(
  fn: () => unknown,
  opts: { budget: number; minRepTime?: number; minReps?: number; maxReps?: number },
): Timing {
  const { budget, minRepTime = 0.1, minReps = 3, maxReps = 15 } = opts;
  let t0 = now();
  fn();
  const first = now() - t0;
  if (first < 5) {
    t0 = now();
    fn();
  }
  const one = Math.max(first < 5 ? now() - t0 : first, 1e-9);
  const inner = Math.max(1, Math.ceil(minRepTime / one));
  const reps = Math.max(minReps, Math.min(maxReps, Math.floor(budget / (one * inner))));
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const s = now();
    for (let i = 0; i < inner; i++) fn();
    times.push((now() - s) / inner);
  }
  times.sort((a, b) => a - b);
  const m = times.length;
  const median = m % 2 ? times[(m - 1) / 2]! : (times[m / 2 - 1]! + times[m / 2]!) / 2;
  return { median, min: times[0]!, max: times[m - 1]!, reps: m };
}

/** Training steps: one call per repetition, 3–15 repetitions within the budget. */
export function measureSteps(fn: () => unknown, budget: number): Timing {
  return measure(fn, { budget, minRepTime: 0, minReps: 3, maxReps: 15 });
}

/** Ops per call of the per-op-overhead loop (so the timer's own cost is negligible). */
export const ADD16_BATCH = 1000;

/** sgemm sizes whose call time, predicted from the previous size (×(n/prev)³), exceeds this are skipped. */
export const MAX_SGEMM_CALL_S = 20;

export function emit(m: Measurement): void {
  console.log(JSON.stringify(m));
}

export interface ChildArgs {
  threads: number;
  tasks: string[];
  sizes: number[];
  budget: number;
  system: string;
}

/** The command line every child takes: --threads --tasks --sizes --budget [--system]. */
export function parseChildArgs(argv: string[], system: string): ChildArgs {
  const a: ChildArgs = { threads: 1, tasks: [], sizes: [64, 256], budget: 2, system };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1] ?? "";
    if (argv[i] === "--threads") a.threads = Number(v);
    else if (argv[i] === "--tasks") a.tasks = v.split(",").filter(Boolean);
    else if (argv[i] === "--sizes") a.sizes = v.split(",").map(Number);
    else if (argv[i] === "--budget") a.budget = Number(v);
    else if (argv[i] === "--system") a.system = v;
    else continue;
    i++;
  }
  return a;
}

/** sgemm over the sizes, skipping those predicted too slow; `mm(n)` returns one call. */
export function sgemmSweep(
  args: ChildArgs,
  mm: (n: number) => { call: () => unknown; dispose?: () => void },
): void {
  let prevT = 0;
  let prevN = 0;
  for (const n of args.sizes) {
    const base = { system: args.system, task: "sgemm", size: n, threads: args.threads };
    const predicted = prevT * (n / Math.max(prevN, 1)) ** 3;
    if (prevT > 0 && predicted > MAX_SGEMM_CALL_S) {
      emit({
        ...base,
        skipped: `predicted ${predicted.toFixed(0)} s per call from n=${prevN}`,
      });
      continue;
    }
    const { call, dispose } = mm(n);
    const t = measure(call, { budget: n >= 1024 ? args.budget * 2 : args.budget });
    dispose?.();
    emit({ ...base, ...t });
    prevT = t.median;
    prevN = n;
  }
}
