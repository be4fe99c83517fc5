import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import * as fl from "../../src/index.js";

const dataDir = new URL("../../data/", import.meta.url);

/** Rows of a bundled CSV as numbers, read independently of the loader. */
function csvRows(file: string, header: boolean): number[][] {
  const lines = readFileSync(new URL(file, dataDir), "utf8").trim().split("\n");
  return lines.slice(header ? 1 : 0).map((l) => l.split(",").map(Number));
}

function classCounts(target: fl.Tensor, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const t of target.dataSync()) counts[t]!++;
  return counts;
}

describe("bundled tabular data sets", () => {
  test("digits: 1797×64 pixels 0–16, classes 0–9, first row as in the CSV", () => {
    const d = fl.data.loadDigits();
    assert.deepEqual(d.data.shape, [1797, 64]);
    assert.equal(d.data.dtype, "float32");
    assert.deepEqual(d.target.shape, [1797]);
    assert.equal(d.target.dtype, "int32");
    assert.deepEqual(d.images.shape, [1797, 8, 8]);
    assert.equal(d.data.min().itemSync(), 0);
    assert.equal(d.data.max().itemSync(), 16);
    assert.deepEqual(
      classCounts(d.target, 10).every((c) => c > 170),
      true,
    );
    const lines = gunzipSync(readFileSync(new URL("digits.csv.gz", dataDir)))
      .toString()
      .trim()
      .split("\n");
    assert.equal(lines.length, 1797);
    const first = lines[0]!.split(",").map(Number);
    assert.deepEqual(d.data.select(0, 0).tolistSync(), first.slice(0, 64));
    assert.equal(d.target.select(0, 0).itemSync(), first[64]);
    assert.deepEqual(
      d.images.select(0, 1).select(0, 3).tolistSync(),
      d.data.select(0, 1).narrow(0, 24, 8).tolistSync(),
    );
    assert.equal(d.targetNames.length, 10);
    assert.equal(d.featureNames.length, 64);
  });

  const cases = [
    {
      name: "iris",
      load: fl.data.loadIris,
      file: "iris.csv",
      n: 150,
      f: 4,
      classes: ["setosa", "versicolor", "virginica"],
    },
    {
      name: "wine",
      load: fl.data.loadWine,
      file: "wine_data.csv",
      n: 178,
      f: 13,
      classes: ["class_0", "class_1", "class_2"],
    },
    {
      name: "breast cancer",
      load: fl.data.loadBreastCancer,
      file: "breast_cancer.csv",
      n: 569,
      f: 30,
      classes: ["malignant", "benign"],
    },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.n}×${c.f}, ${c.classes.length} classes, values as in the CSV`, () => {
      const d = c.load();
      assert.deepEqual(d.data.shape, [c.n, c.f]);
      assert.deepEqual(d.target.shape, [c.n]);
      assert.equal(d.target.dtype, "int32");
      assert.deepEqual(d.targetNames, c.classes);
      assert.equal(d.featureNames.length, c.f);
      const rows = csvRows(c.file, true);
      for (const i of [0, c.n - 1]) {
        const want = rows[i]!;
        const got = d.data.select(0, i).tolistSync() as number[];
        got.forEach((g, j) => {
          assert.ok(Math.abs(g - want[j]!) <= 1e-6 * Math.abs(want[j]!), `${c.name}[${i}][${j}]`);
        });
        assert.equal(d.target.select(0, i).itemSync(), want[c.f]);
      }
      assert.ok(classCounts(d.target, c.classes.length).every((k) => k > 0));
      assert.equal(c.load({ dtype: "float64" }).data.dtype, "float64");
    });
  }

  test("iris has 50 of each class", () => {
    assert.deepEqual(classCounts(fl.data.loadIris().target, 3), [50, 50, 50]);
  });
});

/** Builds an IDX file: magic, big-endian dims, then the bytes. */
function idx(type: number, shape: number[], values: number[]): Uint8Array {
  const size = { 8: 1, 12: 4, 13: 4 }[type] ?? 1;
  const buf = new Uint8Array(4 + 4 * shape.length + values.length * size);
  const v = new DataView(buf.buffer);
  v.setUint8(2, type);
  v.setUint8(3, shape.length);
  shape.forEach((s, d) => {
    v.setUint32(4 + 4 * d, s);
  });
  const at = 4 + 4 * shape.length;
  values.forEach((x, i) => {
    if (type === 8) v.setUint8(at + i, x);
    else if (type === 12) v.setInt32(at + 4 * i, x);
    else v.setFloat32(at + 4 * i, x);
  });
  return buf;
}

describe("readIdx", () => {
  const images = idx(0x08, [2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
  const labels = idx(0x08, [2], [7, 9]);

  test("reads uint8 images and labels, raw or gzipped", () => {
    for (const buf of [images, gzipSync(images)]) {
      const r = fl.data.readIdx(buf);
      assert.deepEqual(r.shape, [2, 2, 3]);
      assert.ok(r.data instanceof Uint8Array);
      assert.deepEqual(Array.from(r.data), [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    }
    assert.deepEqual(Array.from(fl.data.readIdx(labels).data), [7, 9]);
  });

  test("reads big-endian int32 and float32", () => {
    assert.deepEqual(
      Array.from(fl.data.readIdx(idx(0x0c, [3], [-2, 65536, 7])).data),
      [-2, 65536, 7],
    );
    assert.deepEqual(Array.from(fl.data.readIdx(idx(0x0d, [2], [1.5, -0.25])).data), [1.5, -0.25]);
  });

  test("corrupt files throw FormatError", () => {
    const wrongMagic = images.slice();
    wrongMagic[2] = 0x07;
    assert.throws(
      () => fl.data.readIdx(wrongMagic),
      (e: Error) => e instanceof fl.FormatError && /bad IDX magic 0x00000703/.test(e.message),
    );
    const nonzero = images.slice();
    nonzero[0] = 1;
    assert.throws(() => fl.data.readIdx(nonzero), fl.FormatError);
    assert.throws(
      () => fl.data.readIdx(images.slice(0, images.length - 1)),
      /truncated file: shape \[2,2,3\] of uint8 needs 28 bytes, got 27/,
    );
    assert.throws(() => fl.data.readIdx(images.slice(0, 9)), /truncated header/);
    assert.throws(() => fl.data.readIdx(new Uint8Array([0, 0])), fl.FormatError);
    assert.throws(
      () => fl.data.readIdx(gzipSync(images).slice(0, 20)),
      (e: Error) => e instanceof fl.FormatError && /gzip/.test(e.message),
    );
  });

  test("loadFashionMnist reads a folder of IDX files and reports a missing one", () => {
    const dir = mkdtempSync(join(tmpdir(), "flint-fmnist-"));
    try {
      const pix = Array.from({ length: 3 * 28 * 28 }, (_, i) => i % 256);
      writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), gzipSync(idx(0x08, [3, 28, 28], pix)));
      writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), idx(0x08, [3], [9, 0, 4]));
      const d = fl.data.loadFashionMnist({ root: dir, train: false });
      assert.deepEqual(d.images.shape, [3, 1, 28, 28]);
      assert.deepEqual(d.labels.tolistSync(), [9, 0, 4]);
      assert.ok(Math.abs((d.images.flatten().select(0, 255).itemSync() as number) - 1) < 1e-6);
      assert.equal(
        fl.data
          .loadFashionMnist({ root: dir, train: false, scale: false })
          .images.flatten()
          .select(0, 200)
          .itemSync(),
        200,
      );
      const ds = new fl.data.FashionMNIST({
        root: dir,
        train: false,
        targetTransform: (y) => d.classNames[y],
      });
      assert.deepEqual(ds.getItem(0)[1], "Ankle boot");
      assert.throws(
        () => fl.data.loadFashionMnist({ root: dir, train: true }),
        (e: Error) => {
          assert.match(e.message, /apt-get install dataset-fashion-mnist/);
          assert.ok(e.message.includes(dir));
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const installed = existsSync(join(fl.data.FASHION_MNIST_ROOT, "train-images-idx3-ubyte.gz"));
describe("Fashion-MNIST (installed)", {
  skip: installed
    ? false
    : `not installed in ${fl.data.FASHION_MNIST_ROOT} (apt-get install dataset-fashion-mnist)`,
}, () => {
  test("60000 training and 10000 test images, labels 0–9, pixels 0–1", () => {
    const test_ = fl.data.loadFashionMnist({ train: false });
    assert.deepEqual(test_.images.shape, [10000, 1, 28, 28]);
    assert.equal(test_.labels.min().itemSync(), 0);
    assert.equal(test_.labels.max().itemSync(), 9);
    assert.equal(test_.images.min().itemSync(), 0);
    assert.equal(test_.images.max().itemSync(), 1);
    // The test split is balanced: 1000 per class.
    const counts = new Array<number>(10).fill(0);
    for (const l of test_.labels.dataSync()) counts[l]!++;
    assert.deepEqual(counts, new Array(10).fill(1000));
    const train = new fl.data.FashionMNIST({ train: true });
    assert.equal(train.length, 60000);
    assert.deepEqual(train.classes.slice(0, 2), ["T-shirt/top", "Trouser"]);
    const [x, y] = train.getItem(59999);
    assert.deepEqual(x.shape, [1, 28, 28]);
    assert.ok(Number.isInteger(y) && y >= 0 && y <= 9);
    const [xb, yb] = new fl.data.DataLoader(train, { batchSize: 128 })[Symbol.iterator]().next()
      .value!;
    assert.deepEqual(xb.shape, [128, 1, 28, 28]);
    assert.equal(yb.dtype, "int32");
  });
});
