// Node-only pieces of the thread pool, imported lazily so the core stays
// free of node: imports (browsers use Web Workers instead).
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

export function cpuCount(): number {
  return availableParallelism();
}

/** A worker that does not keep the process alive once the main script ends. */
export function spawn(
  url: URL,
  init: unknown,
  onError: (e: unknown) => void,
): { terminate(): unknown } {
  const w = new Worker(url);
  w.unref();
  w.on("error", onError);
  w.postMessage(init);
  return w;
}
