// The only file touching the file system. node:fs is fetched at call time
// (never imported statically), so the rest of flint loads in browsers,
// where these functions throw and serialize()/loadFromBytes() still work.

import type * as FsSync from "node:fs";
import type * as FsPromises from "node:fs/promises";
import { NotImplementedError } from "../errors.js";

/** The part of node:fs/promises an atomic write needs (tests substitute failing ones). */
export type AsyncFs = Pick<typeof FsPromises, "open" | "rename" | "unlink" | "readFile">;
/** The part of node:fs a synchronous atomic write needs. */
export type SyncFs = Pick<
  typeof FsSync,
  | "openSync"
  | "writeSync"
  | "fsyncSync"
  | "closeSync"
  | "renameSync"
  | "unlinkSync"
  | "readFileSync"
>;

type BuiltinGetter = (id: string) => unknown;

function builtin(id: string): unknown {
  const get = (globalThis as { process?: { getBuiltinModule?: BuiltinGetter } }).process
    ?.getBuiltinModule;
  return get ? get(id) : undefined;
}

export async function nodeFs(): Promise<AsyncFs> {
  const fs = builtin("node:fs/promises") as AsyncFs | undefined;
  if (fs) return fs;
  try {
    return await import("node:fs/promises");
  } catch {
    throw new NotImplementedError(
      "save/load: no file system here (not Node); use serialize() and loadFromBytes()",
    );
  }
}

export function nodeFsSync(): SyncFs {
  const fs = builtin("node:fs") as SyncFs | undefined;
  if (!fs) {
    throw new NotImplementedError(
      "saveSync/loadSync: synchronous file access needs Node >= 20.16 (process.getBuiltinModule); use await save()/load(), or serialize()/loadFromBytes()",
    );
  }
  return fs;
}

export async function readFileBytes(path: string, fs?: AsyncFs): Promise<Uint8Array> {
  const buf = await (fs ?? (await nodeFs())).readFile(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function readFileBytesSync(path: string, fs: SyncFs = nodeFsSync()): Uint8Array {
  const buf = fs.readFileSync(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** A fresh name beside `path`, so the final rename stays within one file system. */
export function tempPath(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = path.slice(0, cut + 1);
  const base = path.slice(cut + 1);
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return `${dir}.${base}.${tag}.tmp`;
}

/**
 * Writes `chunks` to `path` so that a reader sees the old file or the whole
 * new one, never a part: write a temp file in the same directory, fsync it,
 * rename it over `path`. On any error the temp file is removed and `path`
 * is untouched.
 */
export async function atomicWrite(
  path: string,
  chunks: Iterable<Uint8Array>,
  fs?: AsyncFs,
): Promise<void> {
  const io = fs ?? (await nodeFs());
  const tmp = tempPath(path);
  // "wx": never clobber a file someone else created under the same name.
  const handle = await io.open(tmp, "wx");
  try {
    try {
      for (const chunk of chunks) {
        let done = 0;
        while (done < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
          done += bytesWritten;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await io.rename(tmp, path);
  } catch (e) {
    await io.unlink(tmp).catch(() => {});
    throw e;
  }
}

/** atomicWrite(), synchronously. */
export function atomicWriteSync(
  path: string,
  chunks: Iterable<Uint8Array>,
  fs: SyncFs = nodeFsSync(),
): void {
  const tmp = tempPath(path);
  const fd = fs.openSync(tmp, "wx");
  try {
    try {
      for (const chunk of chunks) {
        let done = 0;
        while (done < chunk.length) done += fs.writeSync(fd, chunk, done, chunk.length - done);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
}
