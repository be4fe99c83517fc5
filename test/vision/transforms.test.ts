// fl.data.transforms: each transform's effect on known pixels, seeding,
// and per-sample application through a dataset and a DataLoader.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const T = fl.data.transforms;

/** [1, 3, 4] image with pixel values 0..11. */
const img = () => fl.arange(0, 12).float().reshape([1, 3, 4]);

describe("vision transforms", () => {
  test("ToTensor scales 0–255 to 0–1 and moves channels first", () => {
    const hwc = fl.tensor(
      [
        [
          [0, 255],
          [51, 102],
        ],
      ],
      { dtype: "int32" },
    ); // [1, 2, 2] as H, W, C
    const x = new T.ToTensor().apply(hwc);
    assert.deepEqual(x.shape, [2, 1, 2]);
    assert.equal(x.dtype, "float32");
    assert.deepEqual(x.tolistSync(), [[[0, Math.fround(51 / 255)]], [[1, Math.fround(102 / 255)]]]);
  });

  test("Normalize subtracts the mean and divides by the std per channel", () => {
    const x = fl.tensor([[[1, 3]], [[10, 20]]]);
    assert.deepEqual(new T.Normalize([1, 10], [2, 5]).apply(x).tolistSync(), [[[0, 1]], [[0, 2]]]);
    assert.throws(() => new T.Normalize([0], [0]), /division by zero/);
  });

  test("flips with p = 1 mirror; p = 0 is the identity", () => {
    assert.deepEqual(new T.RandomHorizontalFlip({ p: 1 }).apply(img()).tolistSync(), [
      [
        [3, 2, 1, 0],
        [7, 6, 5, 4],
        [11, 10, 9, 8],
      ],
    ]);
    assert.deepEqual(new T.RandomVerticalFlip({ p: 1 }).apply(img()).tolistSync(), [
      [
        [8, 9, 10, 11],
        [4, 5, 6, 7],
        [0, 1, 2, 3],
      ],
    ]);
    assert.deepEqual(
      new T.RandomHorizontalFlip({ p: 0 }).apply(img()).tolistSync(),
      img().tolistSync(),
    );
  });

  test("RandomCrop with padding is a shifted window with fill at the borders", () => {
    const g = new fl.Generator().manualSeed(0);
    const crop = new T.RandomCrop([3, 4], { padding: 1, fill: -1, generator: g });
    const src = img().tolistSync() as number[][][];
    const seen = new Set<string>();
    for (let k = 0; k < 40; k++) {
      const out = crop.apply(img()).tolistSync() as number[][][];
      // Find the shift (dy, dx) in [-1, 1]² that explains every pixel.
      let match = false;
      for (let dy = -1; dy <= 1 && !match; dy++)
        for (let dx = -1; dx <= 1 && !match; dx++) {
          match = out[0]!.every((row, i) =>
            row.every((v, j) => v === (src[0]![i + dy]?.[j + dx] ?? -1)),
          );
          if (match) seen.add(`${dy},${dx}`);
        }
      assert.ok(match, "the crop is a shifted copy of the padded image");
    }
    assert.ok(seen.size >= 5, `only ${seen.size} distinct shifts in 40 draws`);
  });

  test("RandomAffine: zero range is the identity; a 180° rotation reverses the pixels", () => {
    assert.deepEqual(new T.RandomRotation(0).apply(img()).tolistSync(), img().tolistSync());
    const sq = fl.arange(0, 9).float().reshape([1, 3, 3]);
    // degrees 180 draws an angle in [-180, 180]; with a generator whose first draw is 1.0 we get 180°.
    const gen = { uniform53: () => 1 - 1e-12, normalDouble: () => 0 } as unknown as fl.Generator;
    const r = new T.RandomRotation(180, { generator: gen })
      .apply(sq)
      .reshape([9])
      .tolistSync() as number[];
    assert.deepEqual(r, [8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });

  test("GaussianNoise adds noise with the requested std", () => {
    const x = fl.zeros([1, 50, 50]);
    const y = new T.GaussianNoise({ std: 0.2, generator: new fl.Generator().manualSeed(1) }).apply(
      x,
    );
    const std = y.std().itemSync() as number;
    assert.ok(Math.abs(std - 0.2) < 0.01, `std ${std}`);
  });

  test("random transforms are reproducible under fl.manualSeed", () => {
    const tf = new T.Compose([
      new T.RandomCrop(3, { padding: 1 }),
      new T.RandomHorizontalFlip(),
      new T.GaussianNoise({ std: 0.1 }),
    ]);
    fl.manualSeed(7);
    const a = tf.apply(img()).tolistSync();
    fl.manualSeed(7);
    assert.deepEqual(tf.apply(img()).tolistSync(), a);
  });

  test("a dataset applies the transform per sample as the DataLoader reads it", () => {
    class Images extends fl.data.Dataset<[fl.Tensor, number]> {
      constructor(readonly transform: (x: fl.Tensor) => fl.Tensor) {
        super();
      }
      get length() {
        return 8;
      }
      getItem(i: number): [fl.Tensor, number] {
        return [this.transform(fl.full([1, 2, 2], i)), i];
      }
    }
    let calls = 0;
    const tf = new T.Compose([
      new T.Lambda((x) => {
        calls++;
        return x;
      }),
      new T.Normalize([1], [2]),
    ]);
    const loader = new fl.data.DataLoader(new Images(tf.call), { batchSize: 4 });
    const batches = [...loader] as [fl.Tensor, fl.Tensor][];
    assert.equal(calls, 8);
    assert.deepEqual(batches[0]![0].shape, [4, 1, 2, 2]);
    assert.deepEqual(batches[1]![0].reshape([4, 4]).mean(1).tolistSync(), [1.5, 2, 2.5, 3]);
  });
});
