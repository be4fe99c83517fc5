import { ArgumentError } from "../../../errors.js";
import { type Blocking, type GemmJob, JOB_FIELDS, runGemm } from "../wasm/blocked.js";
import type { GemmExports } from "../wasm/gemm_module.js";
import type { WorkerInit } from "./gemm_worker.js";
import { type ProgramKernels, runProgram } from "./program.js";
import {
  CONTROL_BYTES,
  CTL,
  claimJob,
  JOB_KIND,
  JOB_SLOT,
  MAIN_SPIN_MS,
  MAX_JOBS,
  MAX_THREADS,
} from "./protocol.js";

/**
 * The GEMM thread pool: n-1 workers (worker_threads in Node, Web Workers in
 * cross-origin-isolated browsers) plus the calling thread, all running the
 * same wasm kernels over one shared memory. The calling thread posts one
 * job per thread, runs its own, and blocks until the others are done, so
 * the backend stays synchronous. Workers start lazily and asynchronously:
 * until they are ready, matmuls run on the calling thread alone.
 */
interface Handle {
  terminate(): unknown;
}

interface Platform {
  cpuCount(): number;
  spawn(url: URL, init: WorkerInit, onError: (e: unknown) => void): Handle;
}

const isNode =
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ===
  "string";

let platform: Platform | null = null;
let requested: number | null = null;
let defaultCount = Math.max(
  1,
  (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ??
    1,
);

const platformReady: Promise<Platform | null> = loadPlatform();

async function loadPlatform(): Promise<Platform | null> {
  try {
    if (isNode) {
      platform = await import("./node_adapter.js");
      defaultCount = platform.cpuCount();
    } else if (
      (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated &&
      typeof Worker === "function"
    ) {
      platform = {
        cpuCount: () => defaultCount,
        spawn: (url, init, onError) => {
          const w = new Worker(url, { type: "module" });
          w.onerror = onError;
          w.postMessage(init);
          return w;
        },
      };
    }
  } catch {
    platform = null;
  }
  return platform;
}

/** What the pool needs to start workers that run the same kernels. */
export interface PoolKernels {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  kernels: GemmExports;
  blocking: Blocking;
  /** The run-copy kernels (wasm/runs.ts) compiled for the shared memory, for programs. */
  runsModule: WebAssembly.Module;
}

class Pool {
  private workers: Handle[] = [];
  private ctl: Int32Array | null = null;
  /** Identifies the latest start(), so a superseded one stops quietly. */
  private token: object | null = null;
  private live = 1;
  private memory: WebAssembly.Memory | null = null;

  /** Threads usable right now (1 until the workers are up). */
  get ready(): number {
    return this.live;
  }

  /** Threads that can run kernels over `memory`: the pool's memory, or only the calling thread's. */
  threadsOver(memory: WebAssembly.Memory): number {
    return memory === this.memory ? this.live : 1;
  }

  /** Jobs the workers (not the calling thread) have run since the pool started. */
  get workerJobs(): number {
    return this.ctl ? Atomics.load(this.ctl, CTL.workerJobs) : 0;
  }

  /** Starts n-1 workers over `k`'s module and memory; resolves once all are ready. */
  start(n: number, k: PoolKernels): Promise<void> {
    this.stop();
    const token = {};
    this.token = token;
    return (async () => {
      const p = await platformReady;
      if (!p || n <= 1 || this.token !== token) return;
      const control = new SharedArrayBuffer(CONTROL_BYTES);
      const ctl = new Int32Array(control);
      // From TypeScript sources (tests, tsx) the worker needs a bootstrap that registers tsx.
      const file = import.meta.url.endsWith(".ts") ? "./gemm_worker_dev.mjs" : "./gemm_worker.js";
      const url = new URL(file, import.meta.url);
      let failed: unknown = null;
      const init = {
        module: k.module,
        runsModule: k.runsModule,
        memory: k.memory,
        control,
        blocking: k.blocking,
      };
      for (let i = 1; i < n; i++) {
        this.workers.push(
          p.spawn(url, { ...init, index: i }, (e) => {
            failed = e;
          }),
        );
      }
      const deadline = Date.now() + 20_000;
      while (Atomics.load(ctl, CTL.ready) < n - 1) {
        await new Promise((r) => setTimeout(r, 2));
        if (this.token !== token) return;
        if (failed || Date.now() > deadline) {
          // No threads, then: matmuls stay on the calling thread.
          this.stop();
          return;
        }
      }
      this.ctl = ctl;
      this.memory = k.memory;
      this.live = n;
    })();
  }

  stop(): void {
    for (const w of this.workers) w.terminate();
    this.workers = [];
    this.ctl = null;
    this.memory = null;
    this.live = 1;
    this.token = null;
  }

  /**
   * Runs the jobs on this thread and the workers, returning when all are
   * done. Threads take jobs one at a time from a shared counter, so a
   * worker that is slow to wake (or busy elsewhere) just takes fewer, and
   * when none wakes in time the calling thread does them all. Thread i uses
   * scratch bytes [i·layout.bytes, (i+1)·layout.bytes) of wasm memory.
   */
  run(kernels: GemmExports, blocking: Blocking, jobs: GemmJob[], layout: ScratchLayout): void {
    const own = { tile: 0, aPanel: layout.aPanel, bPanel: layout.bPanel };
    this.dispatch(
      jobs.length,
      JOB_KIND.gemm,
      layout,
      (j, ctl, slot) => {
        JOB_FIELDS.forEach((f, i) => {
          ctl[slot + i] = jobs[j]![f] ?? 0;
        });
      },
      (j) => runGemm(kernels, blocking, jobs[j]!, own),
    );
  }

  /**
   * Runs programs (threads/program.ts; byte addresses in the pool's memory)
   * the way run() runs GEMM jobs: each on whichever thread claims it.
   */
  runPrograms(k: ProgramKernels, programs: number[], layout: ScratchLayout): void {
    const own = { tile: 0, aPanel: layout.aPanel, bPanel: layout.bPanel };
    this.dispatch(
      programs.length,
      JOB_KIND.program,
      layout,
      (j, ctl, slot) => {
        ctl[slot] = programs[j]!;
      },
      (j) => runProgram(k, programs[j]!, own),
    );
  }

  /** Posts `count` jobs in batches (write(j) fills job j's slot) and runs them with the workers. */
  private dispatch(
    count: number,
    kind: number,
    layout: ScratchLayout,
    write: (j: number, ctl: Int32Array, slot: number) => void,
    runOwn: (j: number) => void,
  ): void {
    const ctl = this.ctl;
    if (!ctl || count === 1) {
      for (let j = 0; j < count; j++) runOwn(j);
      return;
    }
    for (let first = 0; first < count; first += MAX_JOBS) {
      const size = Math.min(MAX_JOBS, count - first);
      for (let j = 0; j < size; j++) write(first + j, ctl, CTL.jobs + j * JOB_SLOT);
      ctl[CTL.kind] = kind;
      ctl[CTL.scratch] = layout.bytes;
      ctl[CTL.aPanel] = layout.aPanel;
      ctl[CTL.bPanel] = layout.bPanel;
      Atomics.store(ctl, CTL.done, 0);
      // Publishing the claim word hands the batch out; spinning workers take it from here.
      Atomics.store(ctl, CTL.claim, size << 16);
      Atomics.add(ctl, CTL.generation, 1);
      if (Atomics.load(ctl, CTL.sleepers) > 0) Atomics.notify(ctl, CTL.generation);
      for (let j = claimJob(ctl); j >= 0; j = claimJob(ctl)) {
        runOwn(first + j);
        Atomics.add(ctl, CTL.done, 1);
      }
      this.awaitDone(ctl, size);
    }
  }

  /** Waits for the workers' last jobs: polls briefly, then sleeps (where this thread may block). */
  private awaitDone(ctl: Int32Array, n: number): void {
    const until = performance.now() + MAIN_SPIN_MS;
    let spins = 0;
    for (let d = Atomics.load(ctl, CTL.done); d !== n; d = Atomics.load(ctl, CTL.done)) {
      // A browser's main thread may not block: it polls throughout.
      if (!canBlock || (++spins & 255) !== 0 || performance.now() < until) continue;
      if (Atomics.wait(ctl, CTL.done, d, 60_000) === "timed-out")
        throw new Error("matmul: a worker thread stopped answering");
    }
  }
}

/** Per-thread scratch: its size and the panels' offsets inside it, in bytes. */
export interface ScratchLayout {
  bytes: number;
  aPanel: number;
  bPanel: number;
}

const canBlock =
  isNode ||
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";

export const pool = new Pool();

/**
 * Sets the number of threads the CPU backend uses for large matmuls, like
 * `torch.set_num_threads`; the default is the number of cores. Workers
 * start in the background; until then work stays on the calling thread.
 *
 * @example
 * fl.setNumThreads(2);
 * fl.getNumThreads(); // 2
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new ArgumentError(
      `setNumThreads: expected an integer from 1 to ${MAX_THREADS}, got ${n}`,
    );
  }
  requested = n;
  onChange?.(n);
}

/**
 * The number of threads the CPU backend uses (as set by setNumThreads, or
 * the core count). Like `torch.get_num_threads`.
 *
 * @example
 * fl.getNumThreads(); // e.g. 8
 */
export function getNumThreads(): number {
  return Math.min(requested ?? defaultCount, MAX_THREADS);
}

/** Resolves once the platform (and so the default thread count) is known. */
export function threadsPlatformReady(): Promise<unknown> {
  return platformReady;
}

let onChange: ((n: number) => void) | null = null;

/** The GEMM driver's hook: called when the thread count changes. */
export function onNumThreadsChange(fn: (n: number) => void): void {
  onChange = fn;
}
