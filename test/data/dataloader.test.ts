import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { DataLoader, TensorDataset, defaultCollate } = fl.data;
// PyTorch's own orders for fixed seeds (test/data/make_torch_reference.py).
const ref = JSON.parse(
  readFileSync(new URL("./torch-data-reference.json", import.meta.url), "utf8"),
);
const seeded = (s: number) => new fl.Generator().manualSeed(s);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function epochs(loader: Iterable<fl.Tensor[]>, n = 3): number[][][] {
  return Array.from({ length: n }, () => [...loader].map(([b]) => b!.tolistSync() as number[]));
}

describe("DataLoader batching", () => {
  const x = fl.randn([10, 3]);
  const y = fl.arange(10);
  const ds = new TensorDataset(x, y);

  test("batch shapes, the last partial batch, and length", () => {
    const loader = new DataLoader(ds, { batchSize: 4 });
    assert.equal(loader.length, 3);
    const batches = [...loader];
    assert.deepEqual(
      batches.map(([xb]) => xb!.shape),
      [
        [4, 3],
        [4, 3],
        [2, 3],
      ],
    );
    assert.deepEqual(
      batches.map(([, yb]) => yb!.tolistSync()),
      [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
      ],
    );
    assert.deepEqual(batches[2]![0]!.tolistSync(), x.narrow(0, 8, 2).tolistSync());
  });

  test("dropLast drops the short batch", () => {
    const loader = new DataLoader(ds, { batchSize: 4, dropLast: true });
    assert.equal(loader.length, 2);
    assert.deepEqual(
      [...loader].map(([, yb]) => yb!.shape[0]),
      [4, 4],
    );
  });

  test("batchSize defaults to 1", () => {
    const loader = new DataLoader(ds);
    assert.equal(loader.length, 10);
    assert.deepEqual([...loader][3]![1]!.tolistSync(), [3]);
  });

  test("the TensorDataset fast path equals the generic stacking path", () => {
    const big = new TensorDataset(
      fl.randn([37, 2, 5]),
      fl.randint(0, 10, [37]),
      fl.rand([37]).lt(0.5),
    );
    const fast = new DataLoader(big, { batchSize: 8, shuffle: true, generator: seeded(5) });
    const slow = new DataLoader(big, {
      batchSize: 8,
      shuffle: true,
      generator: seeded(5),
      collateFn: (items) => defaultCollate(items),
    });
    const a = [...fast];
    const b = [...slow];
    assert.equal(a.length, 5);
    a.forEach((batch, k) => {
      batch.forEach((t, j) => {
        assert.equal(t.dtype, b[k]![j]!.dtype);
        assert.deepEqual(t.shape, b[k]![j]!.shape);
        assert.deepEqual(t.tolistSync(), b[k]![j]!.tolistSync());
      });
    });
  });

  test("a TensorDataset batch is one getBatch call, never one getItem per row", () => {
    // The fast path's speed is measured by the benchmark; here we check that
    // the loader takes it: one gather per batch and no per-row items.
    const big = new TensorDataset(fl.rand([1000, 784]), fl.randint(0, 10, [1000]));
    let items = 0;
    let batches = 0;
    const getItem = big.getItem.bind(big);
    const getBatch = big.getBatch.bind(big);
    big.getItem = (i: number) => {
      items++;
      return getItem(i);
    };
    big.getBatch = (indices: readonly number[]) => {
      batches++;
      return getBatch(indices);
    };
    let rows = 0;
    for (const [xb] of new DataLoader(big, { batchSize: 64, shuffle: true })) rows += xb!.shape[0]!;
    assert.equal(rows, 1000);
    assert.equal(batches, 16);
    assert.equal(items, 0);
    // A collateFn asks for the items themselves.
    for (const _ of new DataLoader(big, { batchSize: 64, collateFn: (b) => b.length })) void _;
    assert.equal(items, 1000);
  });

  test("a custom collateFn gets the list of items", () => {
    const loader = new DataLoader(range(7), {
      batchSize: 3,
      collateFn: (items: number[]) => items.reduce((a, b) => a + b, 0),
    });
    assert.deepEqual([...loader], [3, 12, 6]);
  });

  test("for await iterates the same batches", async () => {
    const loader = new DataLoader(ds, { batchSize: 3 });
    const seen: number[][] = [];
    for await (const [, yb] of loader) seen.push(yb!.tolistSync() as number[]);
    assert.deepEqual(seen, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
  });

  test("an explicit sampler or batchSampler sets the order", () => {
    const loader = new DataLoader(range(6), { batchSize: 2, sampler: [5, 4, 3, 2, 1, 0] });
    assert.deepEqual(
      [...loader].map((b) => b.tolistSync()),
      [
        [5, 4],
        [3, 2],
        [1, 0],
      ],
    );
    const bs = new DataLoader(range(6), { batchSampler: [[0, 5], [1], [2, 3, 4]] });
    assert.equal(bs.length, 3);
    assert.deepEqual(
      [...bs].map((b) => b.tolistSync()),
      [[0, 5], [1], [2, 3, 4]],
    );
  });

  test("conflicting options throw", () => {
    assert.throws(
      () => new DataLoader(range(6), { shuffle: true, sampler: [0] }),
      /mutually exclusive with shuffle/,
    );
    assert.throws(
      () => new DataLoader(range(6), { batchSampler: [[0]], batchSize: 2 }),
      /batchSampler option is mutually exclusive/,
    );
    assert.throws(
      () => new DataLoader(range(6), { batchSize: 0 }),
      /batchSize should be a positive integer, got 0/,
    );
  });
});

describe("DataLoader shuffling", () => {
  test("seeded: reproducible, different each epoch, and PyTorch's order", () => {
    for (const key of ["shuffle_generator", "shuffle_generator_droplast"]) {
      const c = ref[key];
      const make = () =>
        new DataLoader(new TensorDataset(fl.arange(c.n)), {
          batchSize: c.batchSize,
          shuffle: true,
          dropLast: key.endsWith("droplast"),
          generator: seeded(c.seed),
        });
      const got = epochs(make());
      assert.deepEqual(got, c.epochs);
      assert.deepEqual(epochs(make()), got);
      assert.notDeepEqual(got[0], got[1]);
      // Every epoch is a permutation.
      if (!key.endsWith("droplast"))
        for (const e of got)
          assert.deepEqual(
            e.flat().sort((a, b) => a - b),
            range(c.n),
          );
    }
  });

  test("with the global seed it follows torch.manual_seed, and leaves the stream where PyTorch does", () => {
    const c = ref.shuffle_global;
    fl.manualSeed(c.seed);
    assert.deepEqual(
      epochs(
        new DataLoader(new TensorDataset(fl.arange(c.n)), {
          batchSize: c.batchSize,
          shuffle: true,
        }),
      ),
      c.epochs,
    );
    assertClose(fl.rand([3]).tolistSync() as number[], c.after);
    // Even an unshuffled epoch draws PyTorch's base seed.
    fl.manualSeed(ref.sequential_consumes_base_seed.seed);
    [...new DataLoader(range(10), { batchSize: 5 })];
    assertClose(fl.rand([3]).tolistSync() as number[], ref.sequential_consumes_base_seed.after);
  });
});

describe("defaultCollate", () => {
  test("stacks tensors and turns numbers into int32 or float32 tensors", () => {
    const [xs, labels, weights, flags] = defaultCollate([
      [fl.ones([2]), 0, 0.5, true],
      [fl.zeros([2]), 3, 1, false],
    ]);
    assert.deepEqual(xs.tolistSync(), [
      [1, 1],
      [0, 0],
    ]);
    assert.equal(labels.dtype, "int32");
    assert.deepEqual(labels.tolistSync(), [0, 3]);
    assert.equal(weights.dtype, "float32");
    assert.deepEqual(weights.tolistSync(), [0.5, 1]);
    assert.equal(flags.dtype, "bool");
  });

  test("recurses into objects, keeps strings", () => {
    const out = defaultCollate([
      { image: fl.full([1, 2], 1), meta: { id: 7, name: "a" } },
      { image: fl.full([1, 2], 2), meta: { id: 8, name: "b" } },
    ]);
    assert.deepEqual(out.image.shape, [2, 1, 2]);
    assert.deepEqual(out.meta.id.tolistSync(), [7, 8]);
    assert.deepEqual(out.meta.name, ["a", "b"]);
  });

  test("mismatched items throw", () => {
    assert.throws(
      () => defaultCollate([[1, 2], [3]]),
      /equal size, got 2 at entry 0 and 1 at entry 1/,
    );
    assert.throws(() => defaultCollate([fl.ones([2]), fl.ones([3])]), fl.ShapeError);
    assert.throws(() => defaultCollate<unknown>([1, "a"]), /items of different kinds/);
  });
});

function assertClose(got: number[], want: number[]): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    assert.ok(Math.abs(g - want[i]!) < 1e-6, `${g} != ${want[i]}`);
  });
}
