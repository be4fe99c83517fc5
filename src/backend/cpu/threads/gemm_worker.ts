// A GEMM worker: instantiates the kernels over the shared wasm memory, then
// takes jobs (single GEMMs, or programs of kernel calls: threads/program.ts)
// from the control block whenever the main thread posts a batch.
// Between batches it polls for SPIN_MS before it sleeps, so the products of
// a training step, a fraction of a ms apart, find it awake. Works as a Node
// worker_threads worker and as a Web Worker (the message arrives the same way).
import { type Blocking, type GemmJob, JOB_FIELDS, runGemm } from "../wasm/blocked.js";
import type { GemmExports } from "../wasm/gemm_module.js";
import type { RunsExports } from "../wasm/runs.js";
import { type ProgramKernels, runProgram } from "./program.js";
import { CTL, claimJob, JOB_KIND, JOB_SLOT, SPIN_MS } from "./protocol.js";

export interface WorkerInit {
  module: WebAssembly.Module;
  /** The run-copy kernels (wasm/runs.ts), which programs call. */
  runsModule: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  blocking: Blocking;
  /** This worker's index (1…n-1; the main thread is 0). */
  index: number;
}

function serve(init: WorkerInit): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const kernels = instance.exports as unknown as GemmExports;
  const runs = new WebAssembly.Instance(init.runsModule, { env: { memory: init.memory } })
    .exports as unknown as RunsExports;
  const programs: ProgramKernels = {
    gemm: kernels,
    runs,
    blocking: init.blocking,
    memory: init.memory,
  };
  const ctl = new Int32Array(init.control);
  const job = {} as GemmJob;
  Atomics.add(ctl, CTL.ready, 1);
  Atomics.notify(ctl, CTL.ready);
  for (;;) {
    const seen = Atomics.load(ctl, CTL.generation);
    if (runJobs(ctl, init, programs, job)) continue;
    // Idle: poll, then sleep until the next batch is posted.
    const until = performance.now() + SPIN_MS;
    let spins = 0;
    while (Atomics.load(ctl, CTL.generation) === seen) {
      if ((++spins & 255) === 0 && performance.now() > until) {
        Atomics.add(ctl, CTL.sleepers, 1);
        Atomics.wait(ctl, CTL.generation, seen);
        Atomics.sub(ctl, CTL.sleepers, 1);
      }
    }
  }
}

/** Runs jobs of the current batch until none is left; whether it ran any. */
function runJobs(ctl: Int32Array, init: WorkerInit, k: ProgramKernels, job: GemmJob): boolean {
  let ran = false;
  for (let j = claimJob(ctl); j >= 0; j = claimJob(ctl)) {
    const slot = CTL.jobs + j * JOB_SLOT;
    const base = init.index * ctl[CTL.scratch]!;
    const scratch = {
      tile: base,
      aPanel: base + ctl[CTL.aPanel]!,
      bPanel: base + ctl[CTL.bPanel]!,
    };
    if (ctl[CTL.kind] === JOB_KIND.program) runProgram(k, ctl[slot]!, scratch);
    else {
      JOB_FIELDS.forEach((f, i) => {
        job[f] = ctl[slot + i]!;
      });
      runGemm(k.gemm, init.blocking, job, scratch);
    }
    Atomics.add(ctl, CTL.workerJobs, 1);
    const n = Atomics.load(ctl, CTL.claim) >>> 16;
    if (Atomics.add(ctl, CTL.done, 1) + 1 === n) Atomics.notify(ctl, CTL.done);
    ran = true;
  }
  return ran;
}

type Port = { once(event: "message", fn: (m: WorkerInit) => void): void };

// Node: the init message comes on parentPort; browsers: on self.
const g = globalThis as unknown as {
  onmessage?: (e: { data: WorkerInit }) => void;
  process?: { versions?: { node?: string } };
};
if (g.process?.versions?.node) {
  const { parentPort } = (await import("node:worker_threads")) as unknown as { parentPort: Port };
  parentPort.once("message", serve);
} else {
  g.onmessage = (e) => serve(e.data);
}
