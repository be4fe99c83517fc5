import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

describe("StandardScaler", () => {
  test("fit on the training split: zero mean, unit population std; test split uses the training statistics", () => {
    const { data } = fl.data.loadIris({ dtype: "float64" });
    const [train, test_] = [data.narrow(0, 0, 100), data.narrow(0, 100, 50)];
    const scaler = new fl.data.StandardScaler().fit(train);
    const z = scaler.transform(train);
    for (const m of z.mean(0).tolistSync() as number[]) assert.ok(Math.abs(m) < 1e-12);
    for (const s of z.std(0, { correction: 0 }).tolistSync() as number[])
      assert.ok(Math.abs(s - 1) < 1e-12);
    const zt = scaler.transform(test_).tolistSync() as number[][];
    const mean = train.mean(0).tolistSync() as number[];
    const std = train.std(0, { correction: 0 }).tolistSync() as number[];
    const raw = test_.tolistSync() as number[][];
    assert.ok(Math.abs(zt[3]![2]! - (raw[3]![2]! - mean[2]!) / std[2]!) < 1e-12);
    const back = scaler.inverseTransform(scaler.transform(test_));
    assert.ok((back.sub(test_).abs().max().itemSync() as number) < 1e-12);
  });

  test("a constant column keeps scale 1; misuse throws", () => {
    const x = fl.tensor([
      [1, 5],
      [3, 5],
    ]);
    const scaler = new fl.data.StandardScaler();
    assert.throws(() => scaler.transform(x), /call fit first/);
    assert.deepEqual(scaler.fitTransform(x).tolistSync(), [
      [-1, 0],
      [1, 0],
    ]);
    assert.throws(
      () => scaler.transform(fl.zeros([2, 3])),
      /expected 2 features in the last dimension, got shape \[2,3\]/,
    );
    assert.throws(() => scaler.fit(fl.zeros([4])), fl.ShapeError);
  });
});

describe("normalize", () => {
  test("per-channel (x - mean) / std on an image and on a batch", () => {
    const norm = fl.data.normalize([0.5, 1], [0.25, 2]);
    const img = fl.tensor([[[0.5, 1]], [[3, 5]]]); // [2, 1, 2]
    assert.deepEqual(norm(img).tolistSync(), [[[0, 2]], [[1, 2]]]);
    assert.deepEqual(norm(img.unsqueeze(0)).shape, [1, 2, 1, 2]);
    assert.throws(() => norm(fl.zeros([3, 2, 2])), /with 2 channels, got shape \[3,2,2\]/);
    assert.throws(() => fl.data.normalize([0], [0]), /std must not contain zeros/);
  });
});
