// Reading and writing tokenizer files. Node's fs is fetched at call time
// (process.getBuiltinModule), never imported, so fl.text stays usable in a
// browser; there, toJSON/fromJSON do the same job.
import type * as Fs from "node:fs";
import { NotImplementedError } from "../errors.js";

function fs(op: string): typeof Fs {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule;
  const mod = get?.("node:fs");
  if (!mod)
    throw new NotImplementedError(
      `${op}: writing files needs Node.js >= 20.16; use toJSON()/fromJSON() elsewhere`,
    );
  return mod as typeof Fs;
}

export function writeJSON(op: string, path: string, value: unknown): void {
  fs(op).writeFileSync(path, `${JSON.stringify(value)}\n`);
}

export function readJSON(op: string, path: string): unknown {
  return JSON.parse(fs(op).readFileSync(path, "utf8"));
}
