// A GEMM worker: instantiates the kernels over the shared wasm memory, then
// sleeps on the control word until the main thread posts a job; runs it,
// counts itself done and sleeps again. Works as a Node worker_threads
// worker and as a Web Worker (the message arrives the same way).
import { type Blocking, type GemmJob, JOB_FIELDS, runGemm } from "../wasm/blocked.js";
import type { GemmExports } from "../wasm/gemm_module.js";
import { CTL, JOB_SLOT } from "./protocol.js";

export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  blocking: Blocking;
  /** This worker's index (1…n-1; the main thread is 0). */
  index: number;
}

function serve(init: WorkerInit): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const kernels = instance.exports as unknown as GemmExports;
  const ctl = new Int32Array(init.control);
  const slot = CTL.jobs + init.index * JOB_SLOT;
  let seen = Atomics.load(ctl, CTL.generation);
  Atomics.add(ctl, CTL.ready, 1);
  Atomics.notify(ctl, CTL.ready);
  for (;;) {
    Atomics.wait(ctl, CTL.generation, seen);
    seen = Atomics.load(ctl, CTL.generation);
    if (ctl[slot + JOB_FIELDS.length] === 1) {
      const job = {} as GemmJob;
      JOB_FIELDS.forEach((f, i) => {
        job[f] = ctl[slot + i]!;
      });
      runGemm(kernels, init.blocking, job);
    }
    if (Atomics.sub(ctl, CTL.pending, 1) === 1) Atomics.notify(ctl, CTL.pending);
  }
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
