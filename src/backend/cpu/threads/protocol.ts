/**
 * The control block shared by the main thread and the GEMM workers, an
 * Int32Array over a SharedArrayBuffer:
 *   generation  bumped by the main thread to wake sleeping workers for a batch
 *   claim       the batch's job count (high 16 bits) and the next unclaimed
 *               job (low 16 bits); every thread takes jobs from it with
 *               compareExchange, so a late worker just takes fewer
 *   done        jobs of the batch finished
 *   ready       workers that have instantiated their kernels
 *   scratch     bytes of wasm scratch per thread; thread i's starts at i·scratch
 *   aPanel      offset of the packed A panel inside a thread's scratch
 *   bPanel      offset of the packed B panel inside a thread's scratch
 *   sleepers    workers asleep on generation (the main thread notifies only then)
 *   workerJobs  jobs the workers have run since the pool started (a statistic)
 *   kind        what the batch's jobs are: GEMM jobs or programs (JOB_KIND)
 *   jobs        one slot per job: a GEMM job's JOB_FIELDS, or a program's
 *               byte address in wasm memory
 */
export const CTL = {
  generation: 0,
  claim: 1,
  done: 2,
  ready: 3,
  scratch: 4,
  aPanel: 5,
  bPanel: 6,
  sleepers: 7,
  workerJobs: 8,
  kind: 9,
  jobs: 10,
} as const;
export const JOB_KIND = { gemm: 0, program: 1 } as const;
export const JOB_SLOT = 12;
export const MAX_THREADS = 64;
/** Jobs per batch; a call with more runs in several batches. */
export const MAX_JOBS = 256;
export const CONTROL_BYTES = (CTL.jobs + MAX_JOBS * JOB_SLOT) * 4;

/**
 * How long an idle worker keeps polling for the next batch before it
 * sleeps, in ms. Waking a sleeping thread goes through the OS (and, in a
 * VM, the hypervisor) and costs tens of µs or more, a good part of a small
 * network's product; the products of a training step come a fraction of a
 * ms apart, so polling that long keeps the worker at hand within a step.
 * Polling longer would take CPU time from other processes on a busy
 * machine (and, where the OS shares it per process, from this one's main
 * thread).
 */
export const SPIN_MS = 0.5;

/**
 * How long the calling thread polls for the workers' last jobs before it
 * sleeps: parts are cut even, so they usually finish within this of its own.
 */
export const MAIN_SPIN_MS = 0.2;

/** Takes the next job of the current batch, or -1 when none is left. */
export function claimJob(ctl: Int32Array): number {
  for (;;) {
    const word = Atomics.load(ctl, CTL.claim);
    const next = word & 0xffff;
    if (next >= word >>> 16) return -1;
    if (Atomics.compareExchange(ctl, CTL.claim, word, word + 1) === word) return next;
  }
}
