// File access for the data set loaders: the only place in fl.data that
// touches node:fs and node:zlib, so the rest of the library stays usable
// in a browser.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { FormatError } from "../../errors.js";

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

export { existsSync };
