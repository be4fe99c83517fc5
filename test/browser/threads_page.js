// The page test/browser/threads.test.ts serves: runs a matmul and a
// convolution's forward and backward on one thread, then on two (Web
// Workers sharing the wasm memory, when the page is cross-origin isolated),
// and hands back the results and the pool's count of jobs the workers ran.
// The pool is imported from the same bundle as flint, so it is the pool
// flint uses.
import { pool } from "../../dist/backend/cpu/threads/pool.js";
import * as fl from "../../dist/index.js";

const F = fl.nn.functional;

function work() {
  fl.manualSeed(0);
  const a = fl.randn([256, 192]);
  const b = fl.randn([192, 160]);
  const x = fl.randn([32, 6, 14, 14]).requiresGrad_();
  const w = fl.randn([16, 6, 5, 5]).requiresGrad_();
  const y = F.conv2d(x, w);
  y.square().sum().backward();
  const list = (t) => Array.from(t.dataSync());
  return { matmul: list(a.matmul(b)), conv: list(y), gradX: list(x.grad), gradW: list(w.grad) };
}

window.run = async () => {
  fl.setNumThreads(1);
  await fl.threadsReady();
  const one = work();
  fl.setNumThreads(2);
  await fl.threadsReady();
  const before = pool.workerJobs;
  const two = work();
  return {
    isolated: self.crossOriginIsolated,
    threads: pool.ready,
    workerJobs: pool.workerJobs - before,
    one,
    two,
  };
};

window.ready = true;
