import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { type AsyncFs, atomicWrite, atomicWriteSync } from "../../src/io/fs_node.js";
import { fixture, tempDir } from "./helpers.js";

const { dir, cleanup } = tempDir();
after(cleanup);

describe("fl.save / fl.load", () => {
  test("round trip through a file, with metadata", async () => {
    const path = join(dir, "m.safetensors");
    const sd = {
      "fc1.weight": fl.randn([4, 3]),
      "fc1.bias": fl.zeros([4]),
      steps: fl.tensor([7], { dtype: "int32" }),
    };
    await fl.save(sd, path, { metadata: { epoch: "3" } });
    assert.deepEqual(new Uint8Array(readFileSync(path)), fl.serialize(sd, { epoch: "3" }));
    const back = await fl.load(path);
    for (const [k, t] of Object.entries(sd))
      assert.deepEqual(back[k]!.tolistSync(), t.tolistSync(), k);
    assert.deepEqual(fl.deserializeWithMetadata(new Uint8Array(readFileSync(path))).metadata, {
      epoch: "3",
    });
  });

  test("saveSync / loadSync", () => {
    const path = join(dir, "sync.safetensors");
    fl.saveSync({ x: fl.arange(0, 5) }, path);
    assert.deepEqual(fl.loadSync(path).x!.tolistSync(), [0, 1, 2, 3, 4]);
  });

  test("load dispatches on content: a .pt zip under any name", async () => {
    const path = join(dir, "weights.bin");
    writeFileSync(path, fixture("mlp.pt"));
    const sd = await fl.load(path);
    assert.deepEqual(sd["0.weight"]!.shape, [16, 20]);
  });

  test("loadFromBytes takes an ArrayBuffer too", () => {
    const bytes = fl.serialize({ a: fl.ones([2]) });
    const buf = new ArrayBuffer(bytes.byteLength);
    new Uint8Array(buf).set(bytes);
    assert.deepEqual(fl.loadFromBytes(buf).a!.tolistSync(), [1, 1]);
    assert.throws(() => fl.loadFromBytes("nope" as unknown as Uint8Array), fl.ArgumentError);
  });

  test("overwrites atomically and leaves no temp files", async () => {
    const path = join(dir, "over.safetensors");
    await fl.save({ v: fl.tensor([1]) }, path);
    await fl.save({ v: fl.tensor([2]) }, path);
    assert.deepEqual((await fl.load(path)).v!.tolistSync(), [2]);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
  });

  test("a bad state dict fails before the existing file is touched", async () => {
    const path = join(dir, "keep.safetensors");
    await fl.save({ v: fl.tensor([1]) }, path);
    const before = readFileSync(path);
    await assert.rejects(
      fl.save({ v: fl.tensor([2]), bad: 3 as unknown as fl.Tensor }, path),
      fl.ArgumentError,
    );
    assert.deepEqual(readFileSync(path), before);
    await assert.rejects(fl.load(join(dir, "missing.safetensors")), /ENOENT/);
  });
});

describe("atomic writes", () => {
  // A file system whose writes fail after the first chunk, like a full disk.
  async function failingFs(): Promise<AsyncFs> {
    const real = await import("node:fs/promises");
    return {
      readFile: real.readFile,
      rename: real.rename,
      unlink: real.unlink,
      open: (async (p: string, flags: string) => {
        const handle = await real.open(p, flags);
        let writes = 0;
        const write = handle.write.bind(handle) as (
          ...a: unknown[]
        ) => Promise<{ bytesWritten: number }>;
        return Object.assign(handle, {
          write: (...a: unknown[]) =>
            ++writes > 1
              ? Promise.reject(new Error("ENOSPC: no space left on device"))
              : write(...a),
        });
      }) as AsyncFs["open"],
    };
  }

  test("a write failing midway leaves the old file intact and no temp file", async () => {
    const path = join(dir, "atomic.safetensors");
    await fl.save({ v: fl.tensor([1, 2, 3]) }, path);
    const before = readFileSync(path);
    const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6])];
    await assert.rejects(atomicWrite(path, chunks, await failingFs()), /ENOSPC/);
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
  });

  test("sync: a chunk source throwing midway leaves the old file intact and no temp file", () => {
    const path = join(dir, "atomic-sync.bin");
    writeFileSync(path, "old");
    function* chunks() {
      yield new Uint8Array([1, 2, 3]);
      throw new Error("tensor readback failed");
    }
    assert.throws(() => atomicWriteSync(path, chunks()), /tensor readback failed/);
    assert.equal(readFileSync(path, "utf8"), "old");
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
  });
});
