// File access for the data set loaders: the only place in fl.data that
// touches node:fs and node:zlib, so the rest of the library stays usable
// in a browser.
import type * as Fs from "node:fs";
import type * as Url from "node:url";
import type * as Zlib from "node:zlib";
import { FormatError, NotImplementedError } from "../../errors.js";

// Node's modules are fetched at call time (process.getBuiltinModule), never
// imported statically, so importing flint in a browser does not fail; the
// loaders themselves then explain that they need Node.
function builtin<T>(id: string): T {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule;
  const mod = get?.(id);
  if (!mod) {
    throw new NotImplementedError(
      `data sets: reading files needs Node.js >= 20.16 (${id} is not available here); build tensors from your own data with fl.tensor() instead`,
    );
  }
  return mod as T;
}

const fileURLToPath = (u: URL) => builtin<typeof Url>("node:url").fileURLToPath(u);
const readFileSync = (p: string) => builtin<typeof Fs>("node:fs").readFileSync(p);
const gunzipSync = (b: Uint8Array) => builtin<typeof Zlib>("node:zlib").gunzipSync(b);
export const existsSync = (p: string) => builtin<typeof Fs>("node:fs").existsSync(p);

/** Absolute path of a file in the package's data/ folder (src/ and dist/ both sit two levels below the package root). */
export function bundledPath(name: string): string {
  return fileURLToPath(new URL(`../../../data/${name}`, import.meta.url));
}

/** Reads a file, gunzipping it when it starts with gzip's magic bytes. */
export function readMaybeGzip(path: string): Uint8Array {
  return gunzipIfNeeded(readFileSync(path), path);
}

export function gunzipIfNeeded(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw new FormatError(`${what}: corrupt or truncated gzip data (${(e as Error).message})`);
  }
}
