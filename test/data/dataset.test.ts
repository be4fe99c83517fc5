import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { TensorDataset, Subset, ConcatDataset, Dataset, randomSplit } = fl.data;

class Squares extends Dataset<[number, number]> {
  get length(): number {
    return 5;
  }
  getItem(i: number): [number, number] {
    return [i, i * i];
  }
}

describe("Dataset", () => {
  test("a subclass has length, len() and iteration", () => {
    const ds = new Squares();
    assert.equal(ds.length, 5);
    assert.equal(ds.len(), 5);
    assert.deepEqual(
      [...ds].map(([, y]) => y),
      [0, 1, 4, 9, 16],
    );
  });
});

describe("TensorDataset", () => {
  const x = fl.arange(12, { dtype: "float32" }).reshape([4, 3]);
  const y = fl.tensor([0, 1, 2, 1], { dtype: "int32" });
  const ds = new TensorDataset(x, y);

  test("items are the rows of each tensor", () => {
    assert.equal(ds.length, 4);
    const [xi, yi] = ds.getItem(2);
    assert.deepEqual(xi!.shape, [3]);
    assert.deepEqual(xi!.tolistSync(), [6, 7, 8]);
    assert.equal(yi!.itemSync(), 2);
    assert.deepEqual(ds.getItem(-1)[0]!.tolistSync(), [9, 10, 11]);
  });

  test("out-of-range indices throw", () => {
    assert.throws(() => ds.getItem(4), /index 4 is out of range for a data set of length 4/);
    assert.throws(() => ds.getItem(-5), fl.ArgumentError);
  });

  test("first dimensions must agree, and the error names them", () => {
    assert.throws(
      () => new TensorDataset(fl.zeros([4, 2]), fl.zeros([5])),
      (e: Error) => {
        assert.ok(e instanceof fl.ShapeError);
        assert.match(e.message, /TensorDataset: size mismatch.*4, 5.*\[4,2\], \[5\]/);
        return true;
      },
    );
  });

  test("getBatch equals stacking the items", () => {
    const idx = [3, 0, 2];
    const [bx, by] = ds.getBatch(idx);
    assert.deepEqual(bx!.tolistSync(), fl.stack(idx.map((i) => ds.getItem(i)[0]!)).tolistSync());
    assert.deepEqual(by!.tolistSync(), [1, 0, 2]);
    assert.equal(by!.dtype, "int32");
  });
});

describe("Subset and ConcatDataset", () => {
  test("Subset maps indices", () => {
    const sub = new Subset(new Squares(), [4, 1]);
    assert.equal(sub.length, 2);
    assert.deepEqual(sub.getItem(0), [4, 16]);
    assert.deepEqual(sub.getItem(1), [1, 1]);
    assert.throws(() => new Subset(new Squares(), [5]), /index 5 is out of range/);
  });

  test("Subset of a TensorDataset keeps the batch path; of another data set it has none", () => {
    const ds = new TensorDataset(fl.arange(6).reshape([6, 1]));
    const sub = new Subset(ds, [5, 3, 1]);
    assert.ok(sub.getBatch);
    assert.deepEqual((sub.getBatch!([2, 0]) as fl.Tensor[])[0]!.tolistSync(), [[1], [5]]);
    assert.equal(new Subset(new Squares(), [0]).getBatch, undefined);
  });

  test("plain arrays work as data sets", () => {
    const sub = new Subset(["a", "b", "c"], [2, 0]);
    assert.deepEqual([...sub], ["c", "a"]);
  });

  test("ConcatDataset chains data sets", () => {
    const cat = new ConcatDataset<[number, number]>([new Squares(), [[10, 100]], new Squares()]);
    assert.equal(cat.length, 11);
    assert.deepEqual(cat.cumulativeSizes, [5, 6, 11]);
    assert.deepEqual(cat.getItem(4), [4, 16]);
    assert.deepEqual(cat.getItem(5), [10, 100]);
    assert.deepEqual(cat.getItem(6), [0, 0]);
    assert.deepEqual(cat.getItem(-1), [4, 16]);
    assert.throws(() => cat.getItem(11), /out of range/);
    assert.throws(() => new ConcatDataset([]), /empty/);
  });
});

describe("randomSplit", () => {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);

  test("counts give those sizes, disjoint and covering", () => {
    const parts = randomSplit(range(100), [60, 30, 10], {
      generator: new fl.Generator().manualSeed(1),
    });
    assert.deepEqual(
      parts.map((p) => p.length),
      [60, 30, 10],
    );
    const all = parts.flatMap((p) => [...p]);
    assert.equal(new Set(all).size, 100);
    assert.deepEqual(
      [...all].sort((a, b) => a - b),
      range(100),
    );
  });

  test("fractions: floor each, then the remainder round-robin from the first", () => {
    const sizes = (n: number, f: number[]) => randomSplit(range(n), f).map((p) => p.length);
    assert.deepEqual(sizes(11, [0.5, 0.3, 0.2]), [6, 3, 2]); // floors 5,3,2 + 1
    assert.deepEqual(sizes(7, [0.34, 0.33, 0.33]), [3, 2, 2]); // floors 2,2,2 + 1
    assert.deepEqual(sizes(5, [0.25, 0.25, 0.25, 0.25]), [2, 1, 1, 1]);
    assert.deepEqual(sizes(10, [0.8, 0.1, 0.1]), [8, 1, 1]);
  });

  test("a seeded generator makes it deterministic; the global seed too", () => {
    const a = randomSplit(range(50), [0.5, 0.5], { generator: new fl.Generator().manualSeed(42) });
    const b = randomSplit(range(50), [0.5, 0.5], { generator: new fl.Generator().manualSeed(42) });
    const c = randomSplit(range(50), [0.5, 0.5], { generator: new fl.Generator().manualSeed(43) });
    assert.deepEqual(a[0]!.indices, b[0]!.indices);
    assert.notDeepEqual(a[0]!.indices, c[0]!.indices);
    fl.manualSeed(3);
    const d = randomSplit(range(50), [25, 25]);
    fl.manualSeed(3);
    const e = randomSplit(range(50), [25, 25]);
    assert.deepEqual(d[1]!.indices, e[1]!.indices);
  });

  test("bad lengths throw, naming the sizes", () => {
    assert.throws(() => randomSplit(range(10), [5, 4]), /sum to 9, but the data set has 10 items/);
    assert.throws(() => randomSplit(range(10), [0.5, 0.2]), fl.ArgumentError);
    assert.throws(() => randomSplit(range(10), [11, -1]), /non-negative integers/);
  });

  test("splits of a TensorDataset read the right rows", () => {
    const ds = new TensorDataset(fl.arange(20).mul(10));
    const [train, val] = randomSplit(ds, [15, 5], { generator: new fl.Generator().manualSeed(0) });
    for (const part of [train!, val!]) {
      part.indices.forEach((orig, k) => {
        assert.equal(part.getItem(k)[0]!.itemSync(), orig * 10);
      });
    }
  });
});

describe("indexSelect's block copy (the batch fast path's kernel)", () => {
  test("equals stacking selected slices, on any dim, with negative and repeated indices", () => {
    const x = fl.randn([3, 5, 4, 3]);
    const idx = [4, -1, 0, 0, 2];
    for (const dim of [0, 1, 2]) {
      const size = x.shape[dim]!;
      const picks = idx.filter((i) => i < size && i >= -size);
      const got = x.indexSelect(dim, fl.tensor(picks, { dtype: "int32" }));
      const want = fl.stack(
        picks.map((i) => x.select(dim, i < 0 ? i + size : i)),
        dim,
      );
      assert.deepEqual(got.tolistSync(), want.tolistSync());
    }
    // A strided view takes the element-wise path; the answer is the same.
    const xt = x.transpose(2, 3);
    const got = xt.indexSelect(1, fl.tensor([3, 1], { dtype: "int32" }));
    assert.deepEqual(
      got.tolistSync(),
      fl.stack([xt.select(1, 3), xt.select(1, 1)], 1).tolistSync(),
    );
    assert.throws(() => x.indexSelect(0, fl.tensor([3], { dtype: "int32" })), /out of bounds/);
  });
});
