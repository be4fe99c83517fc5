import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { gradcheckModule, leaf } from "./helpers.js";

const { nn } = fl;

describe("positional encodings", () => {
  test("sinusoidal: PE[pos, 2i] = sin(pos/10000^(2i/d)), PE[pos, 2i+1] = cos(…)", () => {
    const table = nn.sinusoidalTable(10, 6, { dtype: "float64" }).tolistSync() as number[][];
    for (const pos of [0, 3, 9]) {
      for (let i = 0; i < 6; i += 2) {
        const angle = pos / 10000 ** (i / 6);
        assert.ok(Math.abs(table[pos]![i]! - Math.sin(angle)) < 1e-12);
        assert.ok(Math.abs(table[pos]![i + 1]! - Math.cos(angle)) < 1e-12);
      }
    }
  });

  test("PositionalEncoding adds the table along the sequence dim, in either layout", () => {
    const pe = new nn.PositionalEncoding(4, { dropout: 0, maxLen: 20 });
    assert.deepEqual(Object.keys(pe.stateDict()), [], "a non-persistent buffer");
    const table = nn.sinusoidalTable(20, 4);
    const y = pe.forward(fl.zeros([5, 2, 4]));
    assert.deepEqual(y.select(1, 1).tolistSync(), table.narrow(0, 0, 5).tolistSync());
    const bf = new nn.PositionalEncoding(4, { dropout: 0, maxLen: 20, batchFirst: true });
    assert.deepEqual(
      bf
        .forward(fl.zeros([2, 5, 4]), { offset: 3 })
        .select(0, 0)
        .tolistSync(),
      table.narrow(0, 3, 5).tolistSync(),
    );
    assert.throws(() => pe.forward(fl.zeros([21, 1, 4])), /exceed maxLen 20/);
  });

  test("LearnedPositionalEncoding: a trainable row per position", () => {
    const pe = new nn.LearnedPositionalEncoding(8, 4, { batchFirst: true });
    const y = pe.forward(fl.zeros([2, 3, 4]));
    assert.deepEqual(y.select(0, 1).tolistSync(), pe.weight.narrow(0, 0, 3).tolistSync());
    y.sum().backward();
    assert.deepEqual(pe.weight.grad!.sum(1).tolistSync(), [8, 8, 8, 0, 0, 0, 0, 0]);
    assert.ok(gradcheckModule(pe, [leaf([3, 2, 4])], (x) => pe.forward(x!)));
  });

  test("rotary: keeps norms, and q·k depends only on the distance between positions", () => {
    const rope = new nn.RotaryEmbedding(8);
    const q = fl.randn([1, 8], { dtype: "float64" });
    const k = fl.randn([1, 8], { dtype: "float64" });
    const rq = (pos: number) => rope.forward(q, { offset: pos });
    const rk = (pos: number) => rope.forward(k, { offset: pos });
    const dot = (a: fl.Tensor, b: fl.Tensor) => a.mul(b).sum().itemSync() as number;
    assert.ok(Math.abs(dot(rq(5), rq(5)) - dot(q, q)) < 1e-9, "a rotation keeps the norm");
    assert.ok(
      Math.abs(dot(rq(7), rk(3)) - dot(rq(14), rk(10))) < 1e-9,
      "same distance, same score",
    );
    assert.ok(
      Math.abs(dot(rq(7), rk(3)) - dot(rq(7), rk(5))) > 1e-6,
      "different distance, different score",
    );
    const x = leaf([2, 3, 8]);
    assert.ok(fl.autograd.gradcheck((t) => rope.forward(t), [x]));
    assert.throws(() => new nn.RotaryEmbedding(7), /positive even integer/);
  });
});
