// `npm run bench`: flint, PyTorch (Debian's python3-torch, when installed)
// and TensorFlow.js (cpu and wasm backends) on the same work in one run. Each
// task of each system runs in a fresh child process, one at a time, so no two
// share a heap, a thread pool or the cores, and no task inherits another's
// allocator state (PyTorch's MLP step took 3.3 ms after the sgemm sweep in
// the same process, 5.2–6.7 ms in a process of its own); the table gives each
// figure's time ratio to PyTorch at the same thread count. See bench/README.md.
//
//   npm run bench                           # everything, threads 1 and 2
//   npm run bench -- --quick                # smoke run (< 1 min)
//   npm run bench -- --json out.json        # also write the measurements as JSON
//   npm run bench -- --systems flint,torch --tasks sgemm --sizes 256,1024 --threads 1
//   npm run bench -- --device webgpu        # flint on WebGPU beside PyTorch on CUDA (or CPU)
//
// tools/device/prepare.sh bundles this file and flint_bench.ts with esbuild
// for a machine without tsx; the bundled driver runs the bundled child.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Measurement } from "./timing.js";

const ALL_TASKS = ["add16", "ops", "sgemm", "mlp", "lenet", "gpt", "lstm", "epoch", "lenet-epoch"];
const ALL_SYSTEMS = ["flint", "torch", "tfjs-wasm", "tfjs-cpu"];

/** Run from the esbuild bundle (tools/device/prepare.sh) rather than from the sources under tsx. */
const HERE = dirname(fileURLToPath(import.meta.url));
const BUNDLED = !import.meta.url.endsWith(".ts");

interface Args {
  systems: string[];
  tasks: string[];
  sizes: number[];
  threads: number[];
  budget: number;
  json: string | null;
  quick: boolean;
  /** "cpu", or "webgpu": flint on WebGPU, PyTorch on CUDA when it has a GPU. */
  device: string;
  /** The Python that has torch; by default the first of /usr/bin/python3 and python3 that does. */
  python: string | null;
  /** Seconds after which a child is killed (what it measured by then is kept); 0 = no limit. */
  childTimeout: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    systems: ALL_SYSTEMS,
    tasks: ALL_TASKS,
    sizes: [64, 128, 256, 512, 1024, 2048],
    threads: [1, 2],
    budget: 2,
    json: null,
    quick: false,
    device: "cpu",
    python: null,
    childTimeout: 0,
  };
  const given = new Set<string>();
  const list = (s: string) => s.split(",").filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => argv[++i] ?? "";
    given.add(a);
    if (a === "--systems") args.systems = list(next());
    else if (a === "--tasks") args.tasks = list(next());
    else if (a === "--sizes") args.sizes = list(next()).map(Number);
    else if (a === "--threads") args.threads = list(next()).map(Number);
    else if (a === "--budget") args.budget = Number(next());
    else if (a === "--json") args.json = next();
    else if (a === "--python") args.python = next();
    else if (a === "--device") args.device = next();
    else if (a === "--child-timeout") args.childTimeout = Number(next());
    else if (a === "--quick") args.quick = true;
    else throw new Error(`bench: unknown argument ${a} (see bench/README.md)`);
  }
  if (args.device !== "cpu" && args.device !== "webgpu")
    throw new Error(`bench: --device must be cpu or webgpu, got ${args.device}`);
  // Defaults per mode; options given on the command line win.
  const preset = (flag: string, set: () => void) => {
    if (!given.has(flag)) set();
  };
  if (args.device === "webgpu") {
    // One thread count: it only sizes the CPU-side pools (and PyTorch's, when it has no GPU).
    preset("--systems", () => (args.systems = ["flint", "torch"]));
    preset("--tasks", () => (args.tasks = ["sgemm", "mlp", "lenet", "gpt", "lstm"]));
    preset("--sizes", () => (args.sizes = args.quick ? [256, 1024] : [256, 1024, 2048, 4096]));
    preset("--threads", () => (args.threads = [1]));
    if (args.quick) preset("--budget", () => (args.budget = 0.25));
  } else if (args.quick) {
    // Smoke run: one thread, small sizes, short budgets, and no
    // tfjs-cpu (a tiny-GPT step takes it ~20 s) and no epoch.
    preset("--sizes", () => (args.sizes = [64, 256]));
    preset("--threads", () => (args.threads = [1]));
    preset("--budget", () => (args.budget = 0.25));
    preset("--systems", () => (args.systems = ["flint", "torch", "tfjs-wasm"]));
    preset("--tasks", () => (args.tasks = ["add16", "sgemm", "mlp", "lenet", "gpt", "lstm"]));
  }
  return args;
}

/** The first Python that can import torch, or why none can. */
function findPython(wanted: string | null): string | { why: string } {
  const candidates = wanted ? [wanted] : ["/usr/bin/python3", "python3"];
  for (const py of candidates) {
    const r = spawnSync(py, ["-c", "import torch"], { encoding: "utf8" });
    if (r.status === 0) return py;
  }
  return {
    why: `no torch in ${candidates.join(" or ")} (apt-get install python3-torch, or pass --python)`,
  };
}

/** The command that runs one system's child, or a reason it cannot run here. */
function command(system: string, args: Args): { cmd: string; argv: string[] } | string {
  const tsx = ["--import", "tsx"];
  if (system === "flint") {
    const argv = BUNDLED ? [join(HERE, "flint_bench.js")] : [...tsx, "bench/flint_bench.ts"];
    return { cmd: process.execPath, argv: [...argv, "--device", args.device] };
  }
  if (system === "tfjs-wasm" || system === "tfjs-cpu") {
    if (args.device !== "cpu") return "tfjs's webgpu backend is not part of this benchmark";
    if (BUNDLED) return "tfjs is not in the device bundle";
    return {
      cmd: process.execPath,
      argv: [...tsx, "bench/tfjs_bench.ts", "--system", system],
    };
  }
  if (system === "torch") {
    const py = findPython(args.python);
    if (typeof py !== "string") return py.why;
    const script = BUNDLED ? join(HERE, "torch_bench.py") : "bench/torch_bench.py";
    // On a GPU run PyTorch takes CUDA when it has it and says so in each line.
    return { cmd: py, argv: [script, "--device", args.device === "cpu" ? "cpu" : "auto"] };
  }
  return `unknown system ${system}`;
}

/** Thread counts a system can use: tfjs-cpu is single-threaded, tfjs-wasm cannot start threads in Node. */
function threadsFor(system: string, wanted: number[]): number[] {
  return system.startsWith("tfjs") ? wanted.filter((t) => t === 1) : wanted;
}

function runChild(system: string, threads: number, args: Args, tasks: string[]): Measurement[] {
  const c = command(system, args);
  const base = { system, threads, size: 0 };
  if (typeof c === "string") return tasks.map((task) => ({ ...base, task, skipped: c }));
  const argv = [
    ...c.argv,
    "--threads",
    String(threads),
    "--tasks",
    tasks.join(","),
    "--sizes",
    args.sizes.join(","),
    "--budget",
    String(args.budget),
  ];
  const t0 = performance.now();
  const env = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
  };
  const r = spawnSync(c.cmd, argv, {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    env,
    ...(args.childTimeout > 0 ? { timeout: args.childTimeout * 1000 } : {}),
  });
  const out = (r.stdout ?? "")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Measurement);
  const secs = ((performance.now() - t0) / 1000).toFixed(0);
  console.error(
    `  ${system} t=${threads} ${tasks.join(",")}: ${out.length} measurements in ${secs} s`,
  );
  if (r.status !== 0) {
    const why = (r.stderr ?? "").trim().split("\n").slice(-3).join(" | ");
    const how = r.signal ? `killed (${r.signal}) after ${secs} s` : `exit ${r.status}`;
    out.push({ ...base, task: "(process)", error: `${how}: ${why}` });
  }
  return out;
}

function fmtTime(s: number): string {
  if (s < 1e-3) return `${(s * 1e6).toFixed(2)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(1)} ms`;
  return `${s.toFixed(2)} s`;
}

/** What a reader compares: ops/s for add16, GFLOP/s for sgemm, time per step otherwise. */
function figure(m: Measurement | undefined): string {
  if (!m) return "-";
  if (m.median === undefined) return m.error ? "error" : "skipped";
  if (m.task === "add16") return `${(1 / m.median / 1e6).toFixed(2)} M/s`;
  if (m.task === "sgemm") return `${((2 * m.size ** 3) / m.median / 1e9).toFixed(1)} GF/s`;
  return fmtTime(m.median);
}

function ratio(m: Measurement | undefined, torch: Measurement | undefined): string {
  if (m?.median === undefined || torch?.median === undefined) return "";
  return ` (${(m.median / torch.median).toFixed(2)}×)`;
}

const TASK_LABEL: Record<string, string> = {
  add16: "add16 (per-op)",
  sgemm: "sgemm n=",
  mlp: "MLP step",
  lenet: "LeNet-5 step",
  gpt: "tiny-GPT step",
  lstm: "LSTM step",
  epoch: "MLP epoch (F-MNIST)",
  "lenet-epoch": "LeNet-5 epoch (F-MNIST)",
};

function table(results: Measurement[], args: Args): string[] {
  const find = (system: string, task: string, size: number, t: number) =>
    results.find(
      (r) => r.system === system && r.task === task && r.size === size && r.threads === t,
    );
  const systems = args.systems;
  const header = ["task", "threads", ...systems];
  const rows: string[][] = [];
  // "ops" is one child that reports each op as its own task, "ops:<op>".
  const tasks = args.tasks.flatMap((task) =>
    task === "ops"
      ? [...new Set(results.filter((r) => r.task.startsWith("ops:")).map((r) => r.task))]
      : [task],
  );
  for (const task of tasks) {
    const sizes =
      task === "sgemm"
        ? args.sizes
        : [...new Set(results.filter((r) => r.task === task && r.size > 0).map((r) => r.size))];
    for (const size of sizes) {
      for (const t of args.threads) {
        const torch = find("torch", task, size, t);
        const cells = systems.map((s) => {
          const m = find(s, task, size, t);
          return s === "torch" ? figure(m) : `${figure(m)}${ratio(m, torch)}`;
        });
        if (cells.every((c) => c === "-")) continue;
        const label =
          task === "sgemm"
            ? `${TASK_LABEL[task]}${size}`
            : task.startsWith("ops:")
              ? `${task.slice(4)}, 1024²`
              : (TASK_LABEL[task] ?? task);
        rows.push([label, String(t), ...cells]);
      }
    }
  }
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)];
}

/**
 * Issue 6's targets for a GPU run: sgemm n=4096 at ≥ 40% of PyTorch's
 * float32 CUDA GFLOP/s, the tiny-GPT step within 3× of PyTorch's CUDA time.
 */
function gpuTargets(results: Measurement[]): string[] {
  const find = (system: string, task: string, size?: number) =>
    results.find(
      (r) =>
        r.system === system &&
        r.task === task &&
        r.median !== undefined &&
        (size === undefined || r.size === size),
    );
  const torchDevice = results.find((r) => r.system === "torch" && r.device)?.device ?? "";
  const out: string[] = [];
  if (!torchDevice.startsWith("cuda"))
    out.push(
      `- PyTorch ran on ${torchDevice || "nothing"}, not CUDA: the targets below are meant against CUDA`,
    );
  const f = find("flint", "sgemm", 4096)?.median;
  const p = find("torch", "sgemm", 4096)?.median;
  if (f !== undefined && p !== undefined) {
    const share = p / f;
    out.push(
      `- sgemm n=4096: ${(share * 100).toFixed(0)}% of PyTorch's GFLOP/s (target ≥ 40%): ${share >= 0.4 ? "met" : "NOT met"}`,
    );
  } else out.push("- sgemm n=4096: not measured by both");
  for (const task of ["mlp", "lenet", "gpt", "lstm"]) {
    const ft = find("flint", task)?.median;
    const pt = find("torch", task)?.median;
    if (ft === undefined || pt === undefined) continue;
    const r = ft / pt;
    const goal = task === "gpt" ? ` (target ≤ 3): ${r <= 3 ? "met" : "NOT met"}` : "";
    out.push(`- ${TASK_LABEL[task]}: ${r.toFixed(2)}× PyTorch's time${goal}`);
  }
  return out;
}

/** The issue's targets, checked on this run's figures. */
function targets(results: Measurement[]): string[] {
  const med = (system: string, task: string, t: number, size?: number) =>
    results.find(
      (r) =>
        r.system === system &&
        r.task === task &&
        r.threads === t &&
        (size === undefined || r.size === size),
    )?.median;
  const out: string[] = [];
  const threads = [...new Set(results.filter((r) => r.system === "flint").map((r) => r.threads))];
  for (const t of threads) {
    for (const task of ["mlp", "lenet", "gpt", "lstm"]) {
      const f = med("flint", task, t);
      const p = med("torch", task, t);
      const tfBest = Math.min(
        med("tfjs-wasm", task, 1) ?? Infinity,
        med("tfjs-cpu", task, 1) ?? Infinity,
      );
      if (f === undefined) continue;
      const vsTorch =
        p === undefined
          ? "no torch figure"
          : `${(f / p).toFixed(2)}× PyTorch's time (target ≤ 2): ${f / p <= 2 ? "met" : "NOT met"}`;
      const vsTf = Number.isFinite(tfBest)
        ? `${(tfBest / f).toFixed(1)}× faster than tfjs's best (target ≥ 5): ${tfBest / f >= 5 ? "met" : "NOT met"}`
        : "no tfjs figure";
      out.push(`- ${TASK_LABEL[task]}, t=${t}: ${vsTorch}; ${vsTf}`);
    }
    const f = med("flint", "sgemm", t, 1024);
    const p = med("torch", "sgemm", t, 1024);
    if (f !== undefined && p !== undefined) {
      const share = p / f;
      out.push(
        `- sgemm n=1024, t=${t}: ${(share * 100).toFixed(0)}% of PyTorch's GFLOP/s (target ≥ 40%): ${share >= 0.4 ? "met" : "NOT met"}`,
      );
    }
    const a = med("flint", "add16", t);
    if (a !== undefined)
      out.push(
        `- add16, t=${t}: ${(1 / a / 1e6).toFixed(2)} M ops/s (target ≥ 2): ${1 / a >= 2e6 ? "met" : "NOT met"}`,
      );
  }
  return out;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date().toISOString();
  console.log(
    `flint bench — ${started} — node ${process.version} — ${cpus().length} cores (${cpus()[0]?.model ?? "?"})`,
  );
  const results: Measurement[] = [];
  for (const system of args.systems) {
    for (const t of threadsFor(system, args.threads)) {
      for (const task of args.tasks) results.push(...runChild(system, t, args, [task]));
    }
  }
  console.log("");
  const devices = new Map<string, string>();
  for (const r of results) if (r.device && !devices.has(r.system)) devices.set(r.system, r.device);
  if (args.device !== "cpu") {
    for (const s of args.systems) console.log(`${s}: ${devices.get(s) ?? "cpu"}`);
    console.log("");
  }
  for (const l of table(results, args)) console.log(l);
  console.log("");
  console.log(
    "Figures: median over repetitions. add16 in million ops/s, sgemm in GFLOP/s; single ops on [1024, 1024] float32, training steps and the epoch in time.",
  );
  console.log(
    "(N×) = that system's time / PyTorch's time at the same thread count: < 1 faster than PyTorch, > 1 slower.",
  );
  if (args.device === "cpu")
    console.log(
      "tfjs runs at threads=1 only: tfjs-cpu is single-threaded and tfjs-wasm cannot start its threads under Node.",
    );
  else
    console.log(
      "GPU timings include the GPU's work: flint awaits the loss and the queue every step; PyTorch on CUDA calls torch.cuda.synchronize().",
    );
  const notes = results.filter((r) => r.skipped || r.error);
  if (notes.length > 0) {
    console.log("");
    for (const n of notes)
      console.log(
        `- ${n.system} t=${n.threads} ${n.task}${n.size ? ` ${n.size}` : ""}: ${n.skipped ? `skipped, ${n.skipped}` : `error: ${n.error}`}`,
      );
  }
  const goals = args.device === "cpu" ? targets(results) : gpuTargets(results);
  if (goals.length > 0) {
    console.log(`\nTargets (issue ${args.device === "cpu" ? 7 : 6}):`);
    for (const g of goals) console.log(g);
  }
  if (args.json) {
    writeFileSync(
      args.json,
      `${JSON.stringify({ date: started, node: process.version, cpus: cpus().length, args, results }, null, 2)}\n`,
    );
    console.log(`\nwrote ${args.json}`);
  }
}

main();
