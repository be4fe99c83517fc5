/**
 * The control block shared by the main thread and the GEMM workers, an
 * Int32Array over a SharedArrayBuffer:
 *   generation  bumped by the main thread to wake the workers for a job
 *   pending     workers still running the current job (each decrements)
 *   ready       workers that have instantiated their kernels
 *   jobs        one slot per thread: the 14 job fields, then 1 if it has work
 */
export const CTL = { generation: 0, pending: 1, ready: 2, jobs: 4 } as const;
export const JOB_SLOT = 16;
export const MAX_THREADS = 64;
export const CONTROL_BYTES = (CTL.jobs + MAX_THREADS * JOB_SLOT) * 4;
