// The built package in a browser: dist/ is bundled into one ES module
// (esbuild), served with the digits data from 127.0.0.1, and headless
// Chromium trains the digits MLP with it (test/browser/page.js): on WebGPU
// where the browser offers it, on the CPU otherwise. The same training runs
// on the CPU in every browser, so its accuracy is checked in both modes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = new URL("../../", import.meta.url).pathname;

interface Result {
  device: string;
  adapter: string | null;
  accuracy: number;
  losses: number[];
  seconds: number;
  memory: Record<string, { tensors: number; bytes: number }>;
}

const skip = !existsSync(CHROMIUM)
  ? `browser test skipped: ${CHROMIUM} is absent (apt-get install chromium)`
  : false;
if (skip) console.log(skip);

/** The newest modification time of the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** dist/ (built now if missing or older than src/) as one browser bundle; Node-only modules stay external and are never loaded. */
async function bundle(): Promise<string> {
  const entry = join(ROOT, "dist/index.js");
  if (!existsSync(entry) || statSync(entry).mtimeMs < newest(join(ROOT, "src"))) {
    try {
      execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "pipe" });
    } catch (e) {
      // tsc still emits when it reports type errors; bundle what it wrote.
      if (!existsSync(entry)) throw e;
      console.log(
        `npm run build reported errors: ${String((e as { stdout?: Buffer }).stdout).slice(0, 500)}`,
      );
    }
  }
  const esbuild = await import("esbuild");
  const out = await esbuild.build({
    entryPoints: [join(ROOT, "dist/index.js")],
    bundle: true,
    format: "esm",
    platform: "browser",
    // The thread pool's Node adapter is loaded with import() only under Node;
    // left out of the bundle, its node: imports never reach the browser.
    external: ["node:*", "webgpu", "*/node_adapter.js"],
    write: false,
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

function serve(files: Record<string, [string, Buffer | string]>): Promise<Server> {
  const server = createServer((req, res) => {
    const f = files[(req.url ?? "/").split("?")[0]!];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": f[0] }).end(f[1]);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("the digits MLP in headless Chromium", { skip }, () => {
  if (skip) return;
  let server: Server;
  let base = "";
  const profiles: string[] = [];

  before(async () => {
    server = await serve({
      "/": ["text/html", '<!doctype html><script type="module" src="/page.js"></script>'],
      "/page.js": ["text/javascript", readFileSync(join(ROOT, "test/browser/page.js"))],
      "/flint.js": ["text/javascript", await bundle()],
      "/data/digits.csv.gz": ["application/gzip", readFileSync(join(ROOT, "data/digits.csv.gz"))],
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(() => {
    server?.close();
    for (const p of profiles) rmSync(p, { recursive: true, force: true });
  });

  async function trainInBrowser(extraFlags: string[], forceCpu: boolean): Promise<Result> {
    const { chromium } = await import("playwright-core");
    const profile = mkdtempSync(join(tmpdir(), "flint-chromium-"));
    profiles.push(profile);
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        ...extraFlags,
      ],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.goto(base);
      await page
        .waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, null, {
          timeout: 10_000,
        })
        .catch(() => {
          throw new Error(`the page did not load flint: ${errors.join("; ")}`);
        });
      return (await page.evaluate(
        (opts) => (window as unknown as { train(o: object): Promise<unknown> }).train(opts),
        { epochs: 8, forceCpu },
      )) as Result;
    } finally {
      await context.close();
    }
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
