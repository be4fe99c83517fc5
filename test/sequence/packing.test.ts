import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { gradcheckModule, leaf } from "./helpers.js";

const { nn } = fl;

describe("packed sequences", () => {
  test("packPaddedSequence lays out time step by time step", () => {
    // (T=3, B=2): a = 1 2 3, b = 10 20 (then padding)
    const x = fl.tensor([
      [1, 10],
      [2, 20],
      [3, 0],
    ]);
    const p = nn.utils.packPaddedSequence(x, [3, 2]);
    assert.deepEqual(p.data.tolistSync(), [1, 10, 2, 20, 3]);
    assert.deepEqual(p.batchSizes.tolistSync(), [2, 2, 1]);
    assert.equal(p.sortedIndices, null);
  });

  test("unsorted lengths sort, and padPackedSequence restores the caller's order", () => {
    const x = fl
      .tensor([
        [1, 2, 0, 0],
        [5, 6, 7, 8],
        [9, 0, 0, 0],
      ])
      .unsqueeze(-1); // (B, T, 1)
    const p = nn.utils.packPaddedSequence(x, [2, 4, 1], { batchFirst: true, enforceSorted: false });
    assert.deepEqual(p.sortedIndices!.tolistSync(), [1, 0, 2]);
    assert.deepEqual(p.data.squeeze(-1).tolistSync(), [5, 1, 9, 6, 2, 7, 8]);
    const [padded, lengths] = nn.utils.padPackedSequence(p, {
      batchFirst: true,
      paddingValue: -1,
      totalLength: 5,
    });
    assert.deepEqual(lengths.tolistSync(), [2, 4, 1]);
    assert.deepEqual(padded.squeeze(-1).tolistSync(), [
      [1, 2, -1, -1, -1],
      [5, 6, 7, 8, -1],
      [9, -1, -1, -1, -1],
    ]);
    assert.throws(
      () => nn.utils.packPaddedSequence(x, [2, 4, 1], { batchFirst: true }),
      /sorted in decreasing order/,
    );
  });

  test("padSequence, packSequence, unpackSequence round trip", () => {
    const seqs = [fl.randn([2, 3]), fl.randn([4, 3]), fl.randn([1, 3])];
    assert.deepEqual(nn.utils.padSequence(seqs).shape, [4, 3, 3]);
    assert.deepEqual(nn.utils.padSequence(seqs, { batchFirst: true }).shape, [3, 4, 3]);
    const back = nn.utils.unpackSequence(nn.utils.packSequence(seqs, { enforceSorted: false }));
    back.forEach((s, i) => {
      assert.deepEqual(s.tolistSync(), seqs[i]!.tolistSync());
    });
  });

  test("a packed LSTM gives each sequence what it gives that sequence alone", () => {
    const lstm = new nn.LSTM(2, 3, { batchFirst: true, bidirectional: true });
    const seqs = [fl.randn([2, 2]), fl.randn([5, 2]), fl.randn([3, 2])];
    const packed = nn.utils.packSequence(seqs, { enforceSorted: false });
    const [out, [h]] = lstm.forward(packed);
    const [padded, lengths] = nn.utils.padPackedSequence(out, { batchFirst: true });
    assert.deepEqual(lengths.tolistSync(), [2, 5, 3]);
    seqs.forEach((s, b) => {
      const [alone, [hAlone]] = lstm.forward(s.unsqueeze(0));
      const mine = padded.select(0, b).narrow(0, 0, s.shape[0]!);
      const diff = mine.sub(alone.squeeze(0)).abs().amax().itemSync() as number;
      assert.ok(diff < 1e-5, `sequence ${b} output differs by ${diff}`);
      const hd = h.select(1, b).sub(hAlone.select(1, 0)).abs().amax().itemSync() as number;
      assert.ok(hd < 1e-5, `sequence ${b} hN differs by ${hd}`);
      // Padding positions are the padding value.
      if (s.shape[0]! < 5)
        assert.equal(
          padded
            .select(0, b)
            .narrow(0, s.shape[0]!, 5 - s.shape[0]!)
            .abs()
            .sum()
            .itemSync(),
          0,
        );
    });
  });

  test("gradcheck: a GRU over a packed batch", () => {
    const gru = new nn.GRU(2, 2, { bidirectional: true });
    assert.ok(
      gradcheckModule(gru, [leaf([3, 2, 2])], (x) => {
        const [out, h] = gru.forward(
          nn.utils.packPaddedSequence(x!, [1, 3], { enforceSorted: false }),
        );
        return [nn.utils.padPackedSequence(out)[0], h];
      }),
    );
  });
});
