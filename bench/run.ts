// `npm run bench`: flint and PyTorch (Debian's python3-torch, when installed)
// on the same work in one run, one process at a time, printed as ratios.
//
//   npm run bench                    # default tasks, PyTorch with 1 thread
//   npm run bench -- --quick         # smaller sizes, shorter budgets
//   npm run bench -- --json out.json # also write the table as JSON
//   npm run bench -- --tasks add16,sgemm --sizes 64,256,512,1024
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { flintTasks, type Measurement } from "./flint_tasks.js";

interface Args {
  tasks: string[];
  sizes: number[];
  threads: number[];
  budget: number;
  json: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    tasks: ["add16", "sgemm", "mlp", "epoch"],
    sizes: [64, 128, 256, 512],
    threads: [1],
    budget: 2,
    json: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => argv[++i] ?? "";
    if (a === "--tasks") args.tasks = next().split(",");
    else if (a === "--sizes") args.sizes = next().split(",").map(Number);
    else if (a === "--threads") args.threads = next().split(",").map(Number);
    else if (a === "--budget") args.budget = Number(next());
    else if (a === "--json") args.json = next();
    else if (a === "--quick") {
      args.sizes = [64, 256];
      args.budget = 0.5;
    } else throw new Error(`bench: unknown argument ${a}`);
  }
  return args;
}

const PYTHON = "/usr/bin/python3";

function torchAvailable(): boolean {
  if (!existsSync(PYTHON)) return false;
  const r = spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" });
  return r.status === 0;
}

function runTorch(args: Args, threads: number): Measurement[] {
  const tasks = args.tasks;
  const r = spawnSync(
    PYTHON,
    [
      "bench/torch_bench.py",
      "--threads",
      String(threads),
      "--tasks",
      tasks.join(","),
      "--sizes",
      args.sizes.join(","),
      "--budget",
      String(args.budget),
    ],
    { encoding: "utf8", maxBuffer: 1 << 24 },
  );
  if (r.status !== 0) {
    console.error(`bench: PyTorch run failed:\n${r.stderr}`);
    return [];
  }
  return r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      const o = JSON.parse(l);
      return {
        system: "torch",
        task: o.task,
        size: o.size,
        threads: o.threads,
        median: o.median,
        min: o.min,
        max: o.max,
      };
    });
}

function fmtTime(s: number): string {
  if (s < 1e-6) return `${(s * 1e9).toFixed(0)} ns`;
  if (s < 1e-3) return `${(s * 1e6).toFixed(2)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(2)} ms`;
  return `${s.toFixed(2)} s`;
}

/** The figure a reader compares: ops/s for add16, GFLOP/s for sgemm, time otherwise. */
function figure(m: Measurement): string {
  if (m.task === "add16") return `${(1 / m.median / 1e6).toFixed(2)} M ops/s`;
  if (m.task === "sgemm") return `${((2 * m.size ** 3) / m.median / 1e9).toFixed(2)} GFLOP/s`;
  return fmtTime(m.median);
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const results: Measurement[] = [];
  console.log(`flint bench — ${new Date().toISOString()} — node ${process.version}`);
  results.push(...flintTasks(args.tasks, args.sizes, args.budget));
  const haveTorch = torchAvailable();
  if (haveTorch) {
    for (const t of args.threads) results.push(...runTorch(args, t));
  } else {
    console.log(
      "PyTorch not found (apt-get install python3-torch): printing flint's figures only.",
    );
  }
  const rows: string[][] = [
    [
      "task",
      "size",
      "flint",
      ...args.threads.map((t) => `torch t=${t}`),
      "flint / torch t=1 (time ratio)",
    ],
  ];
  const flint = results.filter((r) => r.system === "flint");
  for (const f of flint) {
    const torch = args.threads.map((t) =>
      results.find(
        (r) => r.system === "torch" && r.task === f.task && r.size === f.size && r.threads === t,
      ),
    );
    const t1 = torch[0];
    const ratio = t1 ? `${(f.median / t1.median).toFixed(2)}x` : "-";
    rows.push([
      f.task,
      String(f.size),
      figure(f),
      ...torch.map((t) => (t ? figure(t) : "-")),
      ratio,
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(" | ")} |`;
  console.log(line(rows[0]!));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows.slice(1)) console.log(line(r));
  console.log("time ratio < 1 means flint is faster; > 1 means PyTorch is faster.");
  if (args.json) {
    writeFileSync(
      args.json,
      JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2),
    );
    console.log(`wrote ${args.json}`);
  }
}

main();
