import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { gradcheckModule, leaf } from "./helpers.js";

const { nn } = fl;
const ints = (data: number[] | number[][]) => fl.tensor(data, { dtype: "int32" });

describe("Embedding", () => {
  test("looks up rows for indices of any shape", () => {
    const emb = new nn.Embedding(5, 3);
    const out = emb.forward(
      ints([
        [4, 0],
        [1, 4],
      ]),
    );
    assert.deepEqual(out.shape, [2, 2, 3]);
    const w = emb.weight.tolistSync() as number[][];
    assert.deepEqual(out.tolistSync(), [
      [w[4], w[0]],
      [w[1], w[4]],
    ]);
  });

  test("paddingIdx: starts at zero and gets no gradient", () => {
    fl.manualSeed(0);
    const emb = new nn.Embedding(6, 2, { paddingIdx: -1 });
    assert.equal(emb.paddingIdx, 5);
    assert.deepEqual(emb.weight.select(0, 5).tolistSync(), [0, 0]);
    emb
      .forward(ints([5, 1, 5, 1]))
      .sum()
      .backward();
    const g = emb.weight.grad!.tolistSync() as number[][];
    assert.deepEqual(g[5], [0, 0]);
    assert.deepEqual(g[1], [2, 2]);
    assert.deepEqual(g[0], [0, 0]);
  });

  test("maxNorm renormalizes the rows looked up, in place", () => {
    const emb = nn.Embedding.fromPretrained(
      fl.tensor([
        [3, 4],
        [0.3, 0.4],
        [6, 8],
      ]),
      { maxNorm: 1 },
    );
    emb.forward(ints([0, 1]));
    const w = emb.weight.tolistSync() as number[][];
    assert.ok(Math.abs(Math.hypot(w[0]![0]!, w[0]![1]!) - 1) < 1e-5);
    assert.deepEqual(
      w[1]!.map((v) => Math.round(v * 1e6) / 1e6),
      [0.3, 0.4],
    );
    assert.deepEqual(w[2], [6, 8], "rows not looked up stay");
  });

  test("fromPretrained freezes by default; freeze: false trains", () => {
    const w = fl.tensor([
      [1, 2.5],
      [3, 4],
    ]);
    const frozen = nn.Embedding.fromPretrained(w);
    assert.equal(frozen.weight.requiresGrad, false);
    assert.deepEqual(frozen.forward(ints([1])).tolistSync(), [[3, 4]]);
    const live = nn.Embedding.fromPretrained(w, { freeze: false });
    assert.equal(live.weight.requiresGrad, true);
  });

  test("scaleGradByFreq divides each row's gradient by its count", () => {
    const emb = nn.Embedding.fromPretrained(fl.ones([3, 2]), {
      freeze: false,
      scaleGradByFreq: true,
    });
    emb
      .forward(ints([1, 1, 1, 2]))
      .sum()
      .backward();
    assert.deepEqual(emb.weight.grad!.tolistSync(), [
      [0, 0],
      [1, 1],
      [1, 1],
    ]);
  });

  test("bad indices and dtypes are errors naming the op", () => {
    const emb = new nn.Embedding(4, 2);
    assert.throws(
      () => emb.forward(ints([4])),
      /embedding: index 4 is out of range for an embedding of 4 rows/,
    );
    assert.throws(
      () => emb.forward(fl.tensor([1])),
      /embedding: indices must be an int32 tensor, got float32/,
    );
  });

  test("gradcheck (float64)", () => {
    // No paddingIdx: its zero gradient is by design, not the derivative.
    const emb = new nn.Embedding(4, 3);
    const idx = ints([
      [0, 1],
      [3, 0],
    ]);
    assert.ok(gradcheckModule(emb, [], () => emb.forward(idx)));
  });
});

describe("EmbeddingBag", () => {
  test("sum/mean/max over bags given by offsets match an explicit loop", () => {
    fl.manualSeed(1);
    const idx = ints([1, 2, 4, 5, 4, 3, 2, 9]);
    const offsets = ints([0, 3, 3]);
    for (const mode of ["sum", "mean", "max"] as const) {
      const bag = new nn.EmbeddingBag(10, 3, { mode });
      const out = bag.forward(idx, { offsets }).tolistSync() as number[][];
      const w = bag.weight.tolistSync() as number[][];
      const bags = [[1, 2, 4], [], [5, 4, 3, 2, 9]];
      bags.forEach((b, i) => {
        for (let d = 0; d < 3; d++) {
          const vals = b.map((j) => w[j]![d]!);
          const want =
            vals.length === 0
              ? 0
              : mode === "sum"
                ? vals.reduce((a, v) => a + v, 0)
                : mode === "mean"
                  ? vals.reduce((a, v) => a + v, 0) / vals.length
                  : Math.max(...vals);
          assert.ok(Math.abs(out[i]![d]! - want) < 1e-5, `${mode} bag ${i}`);
        }
      });
    }
  });

  test("perSampleWeights scale each row (sum mode)", () => {
    const bag = nn.EmbeddingBag.fromPretrained(
      fl.tensor([
        [1, 1],
        [2, 2],
        [3, 3],
      ]),
      { mode: "sum" },
    );
    const out = bag.forward(
      ints([
        [0, 2],
        [1, 1],
      ]),
      {
        perSampleWeights: fl.tensor([
          [1, 0.5],
          [2, -1],
        ]),
      },
    );
    assert.deepEqual(out.tolistSync(), [
      [2.5, 2.5],
      [2, 2],
    ]);
    assert.throws(
      () => new nn.EmbeddingBag(3, 2).forward(ints([[0]]), { perSampleWeights: fl.ones([1, 1]) }),
      /only supported for mode "sum"/,
    );
  });

  test("gradcheck (float64), with perSampleWeights", () => {
    const bag = new nn.EmbeddingBag(5, 2, { mode: "sum" });
    const idx = ints([0, 3, 3, 1, 4]);
    const offsets = ints([0, 2]);
    assert.ok(
      gradcheckModule(bag, [leaf([5])], (psw) =>
        bag.forward(idx, { offsets, perSampleWeights: psw }),
      ),
    );
    const mean = new nn.EmbeddingBag(5, 2, { mode: "mean" });
    assert.ok(gradcheckModule(mean, [], () => mean.forward(idx, { offsets })));
  });
});
