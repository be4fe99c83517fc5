// Where a training step's time goes: runs one of the bench's flint steps
// under V8's sampling profiler (node:inspector, in this process) and prints
// self time grouped by source file, then the top functions. WebAssembly
// frames are charged to the TypeScript file that called into them, so the
// GEMM shows up as src/backend/cpu/wasm/blocked.ts (wasm) and the SIMD math
// as the file that asked for it.
//
// Above the tables, a summary splits the measured ms per step (share of the
// samples × ms per step) into matmul (samples with runGemm on their stack:
// the GEMM kernels and their packing, wherever called from), the garbage
// collector, allocate+copy out of wasm memory (self frame copyOf or
// emptyArray in src/dtype.ts, or Node's createUnsafeBuffer) and other; the
// same split as bench/torch_profile.py prints for PyTorch. The profiler
// samples the main thread only: with --threads > 1 the GEMM work of the
// worker threads shows up as the main thread's waits.
//
//   node --import tsx bench/profile.ts [mlp|lenet|gpt|lstm|resnet] [--steps 30] [--threads 1] [--top 15]
//   npm run bench:profile -- lenet
import { Session } from "node:inspector/promises";
import * as fl from "../src/index.js";
import {
  gptSetup,
  lenetSetup,
  lstmSetup,
  mlpSetup,
  resnetSetup,
  type Setup,
  trainStep,
} from "./flint_tasks.js";

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const setups: Record<string, () => Setup> = {
  mlp: () => mlpSetup(),
  lenet: () => lenetSetup(),
  gpt: () => gptSetup(),
  lstm: () => lstmSetup(),
  resnet: () => resnetSetup(),
};

function parseArgs(argv: string[]) {
  const out = { task: "gpt", steps: 30, threads: 1, top: 15 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--steps") out.steps = Number(argv[++i]);
    else if (a === "--threads") out.threads = Number(argv[++i]);
    else if (a === "--top") out.top = Number(argv[++i]);
    else if (a in setups) out.task = a;
    else
      throw new Error(
        `bench/profile: unknown argument ${a} (tasks: ${Object.keys(setups).join(", ")})`,
      );
  }
  return out;
}

/** A source location as the project names it: src/… or bench/…, else the raw URL. */
function fileOf(url: string): string {
  const at = url.search(/\/(src|bench|node_modules)\//);
  return at >= 0 ? url.slice(at + 1) : url;
}

// js-to-wasm wrappers have no source; they count as wasm, so their time goes to the real caller.
const isWasm = (f: CallFrame) =>
  f.url.startsWith("wasm://") || /^(\$|wasm-function|js-to-wasm)/.test(f.functionName);

/**
 * Self time (µs) per group and per function. A node's group is its file;
 * wasm nodes take the file of their nearest JavaScript ancestor, marked
 * "(wasm)"; V8's own entries ("(garbage collector)", "(program)") stand alone.
 */
function attribute(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const groupOf = new Map<number, { group: string; fn: string }>();
  const resolve = (id: number): { group: string; fn: string } => {
    const known = groupOf.get(id);
    if (known) return known;
    const f = byId.get(id)!.callFrame;
    let out: { group: string; fn: string };
    if (f.functionName.startsWith("(")) out = { group: f.functionName, fn: f.functionName };
    else if (isWasm(f)) {
      let p = parent.get(id);
      while (p !== undefined && isWasm(byId.get(p)!.callFrame)) p = parent.get(p);
      const caller = p === undefined ? null : byId.get(p)!.callFrame;
      const file = caller ? fileOf(caller.url) : "?";
      out = {
        group: `${file} (wasm)`,
        fn: `wasm called by ${caller?.functionName || "?"} (${file})`,
      };
    } else {
      const file = fileOf(f.url) || "(native)";
      out = { group: file, fn: `${f.functionName || "(anonymous)"} (${file})` };
    }
    groupOf.set(id, out);
    return out;
  };
  // The summary's buckets: GEMM anywhere on the stack, GC, allocate+copy out.
  const bucketOf = new Map<number, Bucket>();
  const bucket = (id: number): Bucket => {
    const known = bucketOf.get(id);
    if (known) return known;
    let out: Bucket = "other";
    const self = byId.get(id)!.callFrame;
    if (self.functionName === "(garbage collector)") out = "gc";
    else if (
      self.functionName === "createUnsafeBuffer" ||
      (/\/src\/dtype\.ts$/.test(self.url) &&
        (self.functionName === "copyOf" || self.functionName === "emptyArray"))
    )
      out = "copy";
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p))
      if (byId.get(p)!.callFrame.functionName === "runGemm") out = "matmul";
    bucketOf.set(id, out);
    return out;
  };
  const buckets = new Map<Bucket, number>(BUCKETS.map((b) => [b, 0]));
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  // The first sample's delta spans the gap before sampling began (it lands on
  // the inspector's own dispatch), so it is left out.
  for (let i = 1; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    const { group, fn } = resolve(profile.samples[i]!);
    if (group === "(idle)") continue;
    groups.set(group, (groups.get(group) ?? 0) + dt);
    fns.set(fn, (fns.get(fn) ?? 0) + dt);
    const b = bucket(profile.samples[i]!);
    buckets.set(b, buckets.get(b)! + dt);
    total += dt;
  }
  return { groups, fns, buckets, total };
}

type Bucket = "matmul" | "gc" | "copy" | "other";
const BUCKETS: Bucket[] = ["matmul", "gc", "copy", "other"];
const BUCKET_NAMES: Record<Bucket, string> = {
  matmul: "matmul (runGemm on the stack)",
  gc: "garbage collector",
  copy: "allocate+copy out (copyOf, emptyArray, createUnsafeBuffer)",
  other: "other",
};

/** The summary block: each bucket's share of the samples, as ms of the measured step. */
function summary(buckets: Map<Bucket, number>, total: number, msPerStep: number): string {
  const lines = BUCKETS.map((b) => {
    const share = buckets.get(b)! / total;
    const ms = (share * msPerStep).toFixed(2).padStart(8);
    return `  ${ms} ms  ${(100 * share).toFixed(1).padStart(5)}%  ${BUCKET_NAMES[b]}`;
  });
  return `per step (share of samples × ms per step):\n${lines.join("\n")}`;
}

function table(title: string, rows: Map<string, number>, total: number, top: number): string {
  const sorted = [...rows].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = sorted.map(([k, v]) => `  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  return `${title}\n${lines.join("\n")}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  fl.setNumThreads(args.threads);
  await fl.threadsReady();
  const step = trainStep(setups[args.task]!());
  for (let i = 0; i < 5; i++) step(); // warm-up: JIT, wasm compilation, optimizer state
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  const t0 = performance.now();
  for (let i = 0; i < args.steps; i++) step();
  const ms = (performance.now() - t0) / args.steps;
  const { profile } = (await session.post("Profiler.stop")) as { profile: Profile };
  session.disconnect();
  const { groups, fns, buckets, total } = attribute(profile);
  console.log(
    `${args.task} step, ${args.threads} thread(s): ${ms.toFixed(1)} ms per step under the profiler (${args.steps} steps)`,
  );
  console.log(summary(buckets, total, ms));
  console.log(table("self time by file:", groups, total, args.top));
  console.log(table("self time by function:", fns, total, args.top));
  await fl.setNumThreads(1);
  process.exit(0);
}

await main();
