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
  /** Where it ran when not the CPU: "webgpu: <adapter>", "cuda: <GPU name>". */
  device?: string;
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

export interface MeasureOptions {
  budget: number;
  minRepTime?: number;
  minReps?: number;
  maxReps?: number;
}

/**
 * Warm-up before timing: calls go on until WARM_UP_S has passed (at least
 * two calls, one if a call takes over 5 s; at most WARM_UP_MAX_CALLS), so
 * what is timed is the steady state. A JIT runtime needs it: V8 first
 * compiles WebAssembly with its baseline compiler and moves hot kernels to
 * optimized code while they run, and flint's LeNet-5 step takes 5–13 ms
 * for its first 20 calls against 3–4 ms after 100. Every system gets the
 * same warm-up (bench/torch_bench.py does the same).
 */
export const WARM_UP_S = 1;
export const WARM_UP_MAX_CALLS = 200;

/** Runs the warm-up calls (once() times one call); returns the last call's time. */
function warmUp(once: () => number): number {
  const start = now();
  let last = once();
  if (last >= 5) return last;
  for (
    let calls = 1;
    calls < 2 || (now() - start < WARM_UP_S && calls < WARM_UP_MAX_CALLS);
    calls++
  )
    last = once();
  return last;
}

/**
 * Per-call seconds of fn: the warm-up (warmUp), then `reps` repetitions of
 * `inner` calls, where inner makes a repetition last about minRepTime (1
 * for training steps: minRepTime 0) and reps fits the budget, clamped to
 * [minReps, maxReps].
 */
export function measure(fn: () => unknown, opts: MeasureOptions): Timing {
  const second = warmUp(() => {
    const t0 = now();
    fn();
    return now() - t0;
  });
  const { inner, reps } = plan(second, opts);
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const s = now();
    for (let i = 0; i < inner; i++) fn();
    times.push((now() - s) / inner);
  }
  return summarize(times);
}

/**
 * measure() for work that finishes asynchronously (a GPU): fn enqueues one
 * call, and `sync` waits until everything enqueued so far has run. A
 * repetition is `inner` calls back to back and one sync, as PyTorch's side
 * does with torch.cuda.synchronize().
 */
export async function measureAsync(
  fn: () => unknown,
  sync: () => Promise<unknown>,
  opts: MeasureOptions,
): Promise<Timing> {
  const once = async () => {
    const t0 = now();
    await fn();
    await sync();
    return now() - t0;
  };
  // warmUp's rule, awaited.
  const start = now();
  let second = await once();
  if (second < 5) {
    for (
      let calls = 1;
      calls < 2 || (now() - start < WARM_UP_S && calls < WARM_UP_MAX_CALLS);
      calls++
    )
      second = await once();
  }
  const { inner, reps } = plan(second, opts);
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const s = now();
    for (let i = 0; i < inner; i++) await fn();
    await sync();
    times.push((now() - s) / inner);
  }
  return summarize(times);
}

/** Calls per repetition and repetitions, from one warm call's time. */
function plan(one: number, opts: MeasureOptions): { inner: number; reps: number } {
  const { budget, minRepTime = 0.1, minReps = 3, maxReps = 15 } = opts;
  const t = Math.max(one, 1e-9);
  const inner = Math.max(1, Math.ceil(minRepTime / t));
  const reps = Math.max(minReps, Math.min(maxReps, Math.floor(budget / (t * inner))));
  return { inner, reps };
}

function summarize(times: number[]): Timing {
  times.sort((a, b) => a - b);
  const m = times.length;
  const median = m % 2 ? times[(m - 1) / 2]! : (times[m / 2 - 1]! + times[m / 2]!) / 2;
  return { median, min: times[0]!, max: times[m - 1]!, reps: m };
}

/** Training steps: one call per repetition, 3–15 repetitions within the budget. */
export function measureSteps(fn: () => unknown, budget: number): Timing {
  return measure(fn, stepReps(budget));
}

/** measureSteps() for a step that resolves once its loss is read back and the queue is idle. */
export function measureStepsAsync(
  fn: () => Promise<unknown>,
  sync: () => Promise<unknown>,
  budget: number,
): Promise<Timing> {
  return measureAsync(fn, sync, stepReps(budget));
}

function stepReps(budget: number): MeasureOptions {
  return { budget, minRepTime: 0, minReps: 3, maxReps: 15 };
}

/** Ops per call of the per-op-overhead loop (so the timer's own cost is negligible). */
export const ADD16_BATCH = 1000;

/** The single-op task works on [OPS_SIZE, OPS_SIZE] float32 tensors (1M elements). */
export const OPS_SIZE = 1024;

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
  /** "cpu" (default), "webgpu" (flint), "auto"/"cuda" (torch_bench.py). */
  device: string;
}

/** The command line every child takes: --threads --tasks --sizes --budget [--system] [--device]. */
export function parseChildArgs(argv: string[], system: string): ChildArgs {
  const a: ChildArgs = {
    threads: 1,
    tasks: [],
    sizes: [64, 256],
    budget: 2,
    system,
    device: "cpu",
  };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1] ?? "";
    if (argv[i] === "--threads") a.threads = Number(v);
    else if (argv[i] === "--tasks") a.tasks = v.split(",").filter(Boolean);
    else if (argv[i] === "--sizes") a.sizes = v.split(",").map(Number);
    else if (argv[i] === "--budget") a.budget = Number(v);
    else if (argv[i] === "--system") a.system = v;
    else if (argv[i] === "--device") a.device = v;
    else continue;
    i++;
  }
  return a;
}

/** One sgemm point: `call` runs (or enqueues) one product; `sync` waits for enqueued GPU work. */
export interface SgemmCall {
  call: () => unknown;
  dispose?: () => void;
  sync?: () => Promise<unknown>;
}

/** sgemm over the sizes, skipping those predicted too slow; `mm(n)` returns one call. */
export async function sgemmSweep(
  args: ChildArgs,
  mm: (n: number) => SgemmCall,
  extra: Partial<Measurement> = {},
): Promise<void> {
  let prevT = 0;
  let prevN = 0;
  for (const n of args.sizes) {
    const base = { system: args.system, task: "sgemm", size: n, threads: args.threads, ...extra };
    const predicted = prevT * (n / Math.max(prevN, 1)) ** 3;
    if (prevT > 0 && predicted > MAX_SGEMM_CALL_S) {
      emit({
        ...base,
        skipped: `predicted ${predicted.toFixed(0)} s per call from n=${prevN}`,
      });
      continue;
    }
    const { call, dispose, sync } = mm(n);
    const opts = { budget: n >= 1024 ? args.budget * 2 : args.budget };
    const t = sync ? await measureAsync(call, sync, opts) : measure(call, opts);
    dispose?.();
    emit({ ...base, ...t });
    prevT = t.median;
    prevN = n;
  }
}
