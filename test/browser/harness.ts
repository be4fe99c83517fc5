// What the browser tests share: the built package bundled for the browser
// (esbuild), a local HTTP server, and headless Chromium driven by
// playwright-core. Chromium comes from Debian's package; without it the
// tests skip, saying so.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHROMIUM = "/usr/bin/chromium";
export const ROOT = new URL("../../", import.meta.url).pathname;

export const skipWithoutChromium = !existsSync(CHROMIUM)
  ? `browser test skipped: ${CHROMIUM} is absent (apt-get install chromium)`
  : false;

/** The newest modification time of the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds dist/ when it is missing or older than src/. */
function ensureDist(): void {
  const entry = join(ROOT, "dist/index.js");
  if (existsSync(entry) && statSync(entry).mtimeMs >= newest(join(ROOT, "src"))) return;
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

/**
 * One ES module for the browser from `entry` (a path under the repository):
 * dist/ is built first if stale. Node-only modules stay external and are
 * never loaded: the thread pool's Node adapter is imported only under Node.
 */
export async function bundle(entry: string): Promise<string> {
  ensureDist();
  const esbuild = await import("esbuild");
  const out = await esbuild.build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    format: "esm",
    platform: "browser",
    external: ["node:*", "webgpu", "*/node_adapter.js"],
    write: false,
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

/** path → [content type, body]. */
export type Files = Record<string, [string, Buffer | string]>;

/** Serves `files` on 127.0.0.1 with `headers` on every answer; resolves to the base URL. */
export async function serve(
  files: Files,
  headers: Record<string, string> = {},
): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const f = files[(req.url ?? "/").split("?")[0]!];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { ...headers, "content-type": f[0] }).end(f[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/**
 * Opens `url` in a fresh headless Chromium profile, waits for the page to
 * set `window.ready`, runs `call` on it and closes the browser. Page errors
 * are collected into `errors` as they happen.
 */
export async function withPage<T>(
  url: string,
  extraFlags: string[],
  call: (page: import("playwright-core").Page, errors: string[]) => Promise<T>,
): Promise<T> {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "flint-chromium-"));
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
    await page.goto(url);
    await page
      .waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, null, {
        timeout: 10_000,
      })
      .catch(() => {
        throw new Error(`the page did not load flint: ${errors.join("; ")}`);
      });
    return await call(page, errors);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
