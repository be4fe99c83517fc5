import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { tempDir } from "./helpers.js";

const { dir, cleanup } = tempDir();
after(cleanup);

type Obj = { [k: string]: fl.CheckpointValue };

function sample(): Obj {
  const g = new fl.Generator();
  g.manualSeed(42);
  return {
    model: { "fc1.weight": fl.randn([3, 2]), "fc1.bias": fl.randn([3], { dtype: "float64" }) },
    optimizer: {
      state: {
        "0": { step: fl.tensor(3), exp_avg: fl.zeros([3, 2]) },
        "1": { step: fl.tensor(3), momentum: null },
      },
      param_groups: [
        { lr: 1e-3, betas: [0.9, 0.999], params: [0, 1], amsgrad: false, name: "default" },
      ],
    },
    scheduler: {
      last_epoch: 4,
      base_lrs: [0.1],
      gamma: Number.NaN,
      bound: Number.POSITIVE_INFINITY,
      low: -Infinity,
      zero: -0,
    },
    epoch: 5,
    labels: fl.tensor([1, 0, 2], { dtype: "int32" }),
    mask: fl.tensor([true, false]),
    generator: g.getState(),
    tags: ["a", "b/c", ""],
    weird: {
      $tensor: "not a reference",
      "a/b": { c: fl.ones([1]) },
      __proto__x: 1,
      maybe: undefined,
    },
    nested: [[fl.ones([2]), { deep: [fl.zeros([1], { dtype: "float64" })] }]],
  };
}

/** Deep equality where tensors compare by dtype, shape and values. */
function assertSame(a: unknown, b: unknown, path = "root"): void {
  if (b instanceof fl.Tensor) {
    assert.ok(a instanceof fl.Tensor, `${path}: expected a Tensor`);
    assert.equal(a.dtype, b.dtype, `${path}: dtype`);
    assert.deepEqual(a.shape, b.shape, `${path}: shape`);
    assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()), `${path}: values`);
  } else if (Array.isArray(b)) {
    assert.ok(Array.isArray(a) && a.length === b.length, `${path}: array`);
    for (const [i, v] of b.entries()) assertSame((a as unknown[])[i], v, `${path}/${i}`);
  } else if (b !== null && typeof b === "object") {
    assert.ok(a !== null && typeof a === "object" && !Array.isArray(a), `${path}: object`);
    assert.deepEqual(Object.keys(a as object), Object.keys(b), `${path}: keys`);
    for (const k of Object.keys(b)) assertSame((a as Obj)[k], (b as Obj)[k], `${path}/${k}`);
  } else {
    assert.ok(Object.is(a, b), `${path}: ${String(a)} !== ${String(b)}`);
  }
}

describe("checkpoints", () => {
  test("round trip of a nested structure with every dtype", async () => {
    const path = join(dir, "ckpt.safetensors");
    const ckpt = sample();
    await fl.saveCheckpoint(path, ckpt);
    const back = await fl.loadCheckpoint(path);
    assertSame(back, ckpt);
    // The generator state restores the stream.
    const g = new fl.Generator().setState(
      (back as Obj).generator as Parameters<fl.Generator["setState"]>[0],
    );
    const g2 = new fl.Generator();
    g2.manualSeed(42);
    assert.deepEqual(
      fl.rand([4], { generator: g }).tolistSync(),
      fl.rand([4], { generator: g2 }).tolistSync(),
    );
  });

  test("is one safetensors file: the weights load with fl.load under path keys", async () => {
    const path = join(dir, "plain.safetensors");
    await fl.saveCheckpoint(path, { model: { w: fl.ones([2]) }, epoch: 1 });
    const sd = await fl.load(path);
    assert.deepEqual(Object.keys(sd), ["model/w"]);
    await assert.rejects(fl.loadCheckpoint(join(dir, "nope.safetensors")), /ENOENT/);
    const plain = join(dir, "just-weights.safetensors");
    await fl.save({ w: fl.ones([1]) }, plain);
    await assert.rejects(
      fl.loadCheckpoint(plain),
      (e: Error) => e instanceof fl.FormatError && /no "flint.checkpoint" metadata/.test(e.message),
    );
  });

  test("sync forms", () => {
    const path = join(dir, "sync.safetensors");
    const ckpt = sample();
    fl.saveCheckpointSync(path, ckpt);
    assertSame(fl.loadCheckpointSync(path), ckpt);
  });

  test("a non-serializable value deep inside fails before the old checkpoint is touched", async () => {
    const path = join(dir, "keep.safetensors");
    await fl.saveCheckpoint(path, { epoch: 1, model: { w: fl.ones([2]) } });
    const before = readFileSync(path);
    const bad = { ...sample(), late: { list: [1, 2, { when: new Date(0) }] } };
    await assert.rejects(
      fl.saveCheckpoint(path, bad as unknown as fl.CheckpointValue),
      (e: Error) =>
        e instanceof fl.ArgumentError && /"late\/list\/2\/when" is a Date/.test(e.message),
    );
    const cyclic: Obj = { a: 1 };
    cyclic.self = cyclic;
    await assert.rejects(fl.saveCheckpoint(path, cyclic), /circular/);
    await assert.rejects(
      fl.saveCheckpoint(path, { f: (() => 1) as unknown as fl.CheckpointValue }),
      /"f" is a function/,
    );
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
    assert.equal(((await fl.loadCheckpoint(path)) as Obj).epoch, 1);
  });

  test("a structure naming a tensor the file lacks is a FormatError", () => {
    const bytes = fl.serialize(
      {},
      { "flint.checkpoint": '{"w":{"$tensor":"model/w"}}', "flint.checkpoint.version": "1" },
    );
    assert.throws(
      () => fl.checkpointFromBytes(bytes),
      (e: Error) =>
        e instanceof fl.FormatError &&
        /tensor "model\/w", which the file does not hold/.test(e.message),
    );
    const garbage = fl.serialize(
      {},
      { "flint.checkpoint": "{not json", "flint.checkpoint.version": "1" },
    );
    assert.throws(() => fl.checkpointFromBytes(garbage), fl.FormatError);
  });
});
