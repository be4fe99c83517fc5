// The built package in a browser: dist/ is bundled into one ES module
// (esbuild), served with the digits data from 127.0.0.1, and headless
// Chromium trains the digits MLP with it (test/browser/page.js): on WebGPU
// where the browser offers it, on the CPU otherwise. The same training runs
// on the CPU in every browser, so its accuracy is checked in both modes.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bundle, ROOT, serve, skipWithoutChromium as skip, withPage } from "./harness.js";

interface Result {
  device: string;
  adapter: string | null;
  accuracy: number;
  losses: number[];
  seconds: number;
  memory: Record<string, { tensors: number; bytes: number }>;
}

if (skip) console.log(skip);

describe("the digits MLP in headless Chromium", { skip }, () => {
  if (skip) return;
  let server: Server;
  let base = "";

  before(async () => {
    ({ server, base } = await serve({
      "/": ["text/html", '<!doctype html><script type="module" src="/page.js"></script>'],
      "/page.js": ["text/javascript", readFileSync(join(ROOT, "test/browser/page.js"))],
      "/flint.js": ["text/javascript", await bundle("dist/index.js")],
      "/data/digits.csv.gz": ["application/gzip", readFileSync(join(ROOT, "data/digits.csv.gz"))],
    }));
  });

  after(() => server?.close());

  function trainInBrowser(extraFlags: string[], forceCpu: boolean): Promise<Result> {
    return withPage(
      base,
      extraFlags,
      async (page) =>
        (await page.evaluate(
          (opts) => (window as unknown as { train(o: object): Promise<unknown> }).train(opts),
          { epochs: 8, forceCpu },
        )) as Result,
    );
  }

  let best: Result | null = null;

  test("trains on the browser's best device (WebGPU if offered, else CPU)", async () => {
    const r = await trainInBrowser(["--enable-unsafe-webgpu"], false);
    best = r;
    console.log(
      `browser: trained on ${r.device}${r.adapter ? ` (${r.adapter})` : ""}: accuracy ${r.accuracy.toFixed(4)} in ${r.seconds.toFixed(1)} s`,
    );
    assert.ok(["cpu", "webgpu"].includes(r.device));
    assert.ok(r.accuracy > 0.93, `test accuracy ${r.accuracy}`);
    assert.ok(r.losses.at(-1)! < r.losses[0]!, `loss fell: ${r.losses.join(", ")}`);
    if (r.device === "webgpu") {
      // tidy() kept the loop's device memory to the model, optimizer state and data.
      assert.ok(r.memory.webgpu!.bytes < 4 * 1024 * 1024, JSON.stringify(r.memory));
    }
  });

  test("trains on the CPU in the browser too, to the same accuracy", async () => {
    const r = await trainInBrowser([], true);
    assert.equal(r.device, "cpu");
    assert.ok(r.accuracy > 0.93, `test accuracy ${r.accuracy}`);
    if (best) {
      // Same seed, same batches: the devices differ only by float32 rounding.
      assert.ok(
        Math.abs(best.accuracy - r.accuracy) <= 0.02,
        `${best.device} ${best.accuracy}, cpu ${r.accuracy}`,
      );
    }
  });
});
