// The CPU backend's thread pool in a browser: Web Workers over one shared
// wasm memory, which browsers allow only on cross-origin-isolated pages
// (COOP and COEP headers). The bundle is served with the worker script
// (dist's gemm_worker.js, bundled on its own) beside it, as an app would
// ship it; the page's own thread polls while the workers run, since a
// browser's main thread may not block. Without isolation the same page
// must still work, on one thread.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { bundle, type Files, serve, skipWithoutChromium as skip, withPage } from "./harness.js";

type Results = Record<"matmul" | "conv" | "gradX" | "gradW", number[]>;

interface Run {
  isolated: boolean;
  threads: number;
  workerJobs: number;
  one: Results;
  two: Results;
}

const ISOLATED = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
};

function closeTo(a: number[], b: number[], what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    const tol = 1e-4 * Math.max(1, Math.abs(b[i]!));
    assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

describe("the CPU thread pool in headless Chromium", { skip }, () => {
  if (skip) return;
  const servers: Server[] = [];
  let isolated = "";
  let plain = "";

  before(async () => {
    const files: Files = {
      "/": ["text/html", '<!doctype html><script type="module" src="/flint.js"></script>'],
      "/flint.js": ["text/javascript", await bundle("test/browser/threads_page.js")],
      "/gemm_worker.js": [
        "text/javascript",
        await bundle("dist/backend/cpu/threads/gemm_worker.js"),
      ],
      // Chromium asks for it; a 404 would show up as a console error.
      "/favicon.ico": ["image/x-icon", ""],
    };
    const a = await serve(files, ISOLATED);
    const b = await serve(files);
    servers.push(a.server, b.server);
    isolated = a.base;
    plain = b.base;
  });

  after(() => {
    for (const s of servers) s.close();
  });

  function runPage(url: string): Promise<{ run: Run; workers: string[]; errors: string[] }> {
    return withPage(url, [], async (page, errors) => {
      const workers: string[] = [];
      page.on("worker", (w) => workers.push(w.url()));
      const run = (await page.evaluate(() =>
        (window as unknown as { run(): Promise<unknown> }).run(),
      )) as Run;
      return { run, workers, errors };
    });
  }

  test("a cross-origin-isolated page runs matmul and convolution on a Web Worker", async () => {
    const { run, workers, errors } = await runPage(isolated);
    assert.deepEqual(errors, []);
    assert.equal(run.isolated, true);
    assert.equal(run.threads, 2, "the worker came up");
    assert.ok(
      workers.some((u) => u.endsWith("/gemm_worker.js")),
      workers.join(", "),
    );
    assert.ok(run.workerJobs > 0, "the worker ran jobs");
    // Threads split the products by blocks of the output: same bits.
    assert.deepEqual(run.two.matmul, run.one.matmul);
    assert.deepEqual(run.two.conv, run.one.conv);
    assert.deepEqual(run.two.gradX, run.one.gradX);
    // grad W sums per-thread blocks, so only the order of additions differs.
    closeTo(run.two.gradW, run.one.gradW, "grad W");
  });

  test("without isolation the page stays on one thread and gives the same results", async () => {
    const { run, workers, errors } = await runPage(plain);
    assert.deepEqual(errors, []);
    assert.equal(run.isolated, false);
    assert.equal(run.threads, 1);
    assert.equal(run.workerJobs, 0);
    assert.deepEqual(workers, []);
    assert.deepEqual(run.two, run.one);
  });
});
