import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { gradcheckModule, leaf } from "./helpers.js";

const { nn } = fl;
const F = nn.functional;

function maxDiff(a: fl.Tensor, b: fl.Tensor): number {
  return a.sub(b).abs().amax().itemSync() as number;
}

describe("MultiheadAttention", () => {
  test("PyTorch's parameter layout: in_proj_weight, or q/k/v_proj_weight when kdim/vdim differ", () => {
    assert.deepEqual(
      new nn.MultiheadAttention(8, 2)
        .namedParameters()
        .map(([k, p]) => `${k}:${p.shape.join("x")}`),
      ["in_proj_weight:24x8", "in_proj_bias:24", "out_proj.weight:8x8", "out_proj.bias:8"],
    );
    assert.deepEqual(
      Object.keys(
        new nn.MultiheadAttention(8, 2, { kdim: 5, vdim: 3, addBiasKv: true }).stateDict(),
      ),
      [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "in_proj_bias",
        "bias_k",
        "bias_v",
        "out_proj.weight",
        "out_proj.bias",
      ],
    );
    assert.throws(
      () => new nn.MultiheadAttention(10, 3),
      /embed_dim must be divisible by num_heads, got 10 and 3/,
    );
  });

  test("self-attention equals F.scaledDotProductAttention over the projected heads", () => {
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    const x = fl.randn([2, 5, 8]);
    const [out, w] = mha.forward(x, x, x);
    assert.deepEqual(
      [out.shape, w!.shape],
      [
        [2, 5, 8],
        [2, 5, 5],
      ],
    );
    const [wq, wk, wv] = mha.in_proj_weight!.chunk(3, 0);
    const [bq, bk, bv] = mha.in_proj_bias!.chunk(3, 0);
    const heads = (t: fl.Tensor) => t.reshape([2, 5, 2, 4]).transpose(1, 2);
    const q = heads(x.matmul(wq!.t()).add(bq!));
    const k = heads(x.matmul(wk!.t()).add(bk!));
    const v = heads(x.matmul(wv!.t()).add(bv!));
    const ctx = F.scaledDotProductAttention(q, k, v).transpose(1, 2).reshape([2, 5, 8]);
    assert.ok(maxDiff(out, mha.out_proj.forward(ctx)) < 1e-5);
    // Each row of weights is a distribution over keys.
    assert.ok(maxDiff(w!.sum(-1), fl.ones([2, 5])) < 1e-5);
  });

  test("cross-attention: queries of one length read keys/values of another (and another size)", () => {
    const mha = new nn.MultiheadAttention(8, 4, { kdim: 6, vdim: 3 });
    const [out, w] = mha.forward(fl.randn([3, 2, 8]), fl.randn([7, 2, 6]), fl.randn([7, 2, 3]));
    assert.deepEqual(
      [out.shape, w!.shape],
      [
        [3, 2, 8],
        [2, 3, 7],
      ],
    );
  });

  test("masked (causal) attention: a query never sees later positions", () => {
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    const x = fl.randn([1, 6, 8]);
    const mask = nn.Transformer.generateSquareSubsequentMask(6);
    const [out, w] = mha.forward(x, x, x, { attnMask: mask });
    const weights = w!.squeeze(0).tolistSync() as number[][];
    weights.forEach((row, i) => {
      for (let j = i + 1; j < row.length; j++) assert.equal(row[j], 0);
    });
    // Changing the last position leaves every earlier output unchanged.
    const x2 = fl.cat([x.narrow(1, 0, 5), fl.randn([1, 1, 8])], 1);
    const [out2] = mha.forward(x2, x2, x2, { isCausal: true });
    assert.ok(maxDiff(out.narrow(1, 0, 5), out2.narrow(1, 0, 5)) < 1e-5);
    assert.ok(maxDiff(out.narrow(1, 5, 1), out2.narrow(1, 5, 1)) > 1e-4);
  });

  test("keyPaddingMask: padded keys get zero weight; needWeights false gives null", () => {
    const mha = new nn.MultiheadAttention(4, 1, { batchFirst: true });
    const x = fl.randn([2, 3, 4]);
    const pad = fl
      .tensor([
        [0, 0, 1],
        [0, 0, 0],
      ])
      .bool();
    const [, w] = mha.forward(x, x, x, { keyPaddingMask: pad, averageAttnWeights: false });
    assert.deepEqual(w!.shape, [2, 1, 3, 3]);
    assert.deepEqual(w!.select(0, 0).select(0, 0).select(1, 2).tolistSync(), [0, 0, 0]);
    assert.equal(mha.forward(x, x, x, { needWeights: false })[1], null);
    assert.throws(
      () => mha.forward(x, x, x, { keyPaddingMask: fl.zeros([2, 4]).bool() }),
      /expecting key_padding_mask shape of \[2,3\]/,
    );
  });

  test("gradcheck (float64): masks, bias_kv, zero attention", () => {
    const mha = new nn.MultiheadAttention(4, 2, { addBiasKv: true, addZeroAttn: true });
    const mask = fl
      .tensor([
        [0, 1, 1],
        [0, 0, 1],
      ])
      .bool();
    assert.ok(
      gradcheckModule(
        mha,
        [leaf([2, 1, 4]), leaf([3, 1, 4])],
        (q, kv) => mha.forward(q!, kv!, kv!, { attnMask: mask })[0],
      ),
    );
    const cross = new nn.MultiheadAttention(4, 2, { kdim: 3, vdim: 2, batchFirst: true });
    assert.ok(
      gradcheckModule(
        cross,
        [leaf([1, 2, 4]), leaf([1, 3, 3]), leaf([1, 3, 2])],
        (q, k, v) => cross.forward(q!, k!, v!)[0],
      ),
    );
  });
});

describe("additive (Bahdanau) and multiplicative (Luong) attention", () => {
  test("additive attention scores queries and keys of different sizes", () => {
    const attn = new nn.AdditiveAttention(6, 4, 8);
    assert.deepEqual(Object.keys(attn.stateDict()), ["W_q.weight", "W_k.weight", "w_v.weight"]);
    const keys = fl.randn([2, 5, 4]);
    const values = fl.randn([2, 5, 3]);
    const [ctx, w] = attn.forward(fl.randn([2, 6]), keys, values);
    assert.deepEqual(
      [ctx.shape, w.shape],
      [
        [2, 3],
        [2, 5],
      ],
    );
    // The context is the weighted average of the values.
    assert.ok(maxDiff(ctx, w.unsqueeze(1).matmul(values).squeeze(1)) < 1e-5);
    const [ctx3, w3] = attn.forward(fl.randn([2, 7, 6]), keys, values, {
      keyPaddingMask: fl
        .tensor([
          [0, 0, 0, 1, 1],
          [0, 0, 0, 0, 0],
        ])
        .bool(),
    });
    assert.deepEqual(
      [ctx3.shape, w3.shape],
      [
        [2, 7, 3],
        [2, 7, 5],
      ],
    );
    assert.equal(w3.select(0, 0).narrow(1, 3, 2).abs().sum().itemSync(), 0);
    assert.strictEqual(nn.BahdanauAttention, nn.AdditiveAttention);
  });

  test("Luong dot is q·k; general is q·W_a k", () => {
    const q = fl.randn([1, 2, 4]);
    const k = fl.randn([1, 3, 4]);
    const v = fl.randn([1, 3, 2]);
    const dot = new nn.MultiplicativeAttention(4, 4, { score: "dot" });
    assert.equal(dot.namedParameters().length, 0);
    const [, w] = dot.forward(q, k, v);
    assert.ok(maxDiff(w, F.softmax(q.matmul(k.transpose(1, 2)), -1)) < 1e-6);
    const general = new nn.LuongAttention(4, 5);
    assert.deepEqual(Object.keys(general.stateDict()), ["W_a.weight"]);
    const k5 = fl.randn([1, 3, 5]);
    const [, wg] = general.forward(q, k5, v);
    assert.ok(
      maxDiff(wg, F.softmax(q.matmul(general.W_a!.weight).matmul(k5.transpose(1, 2)), -1)) < 1e-5,
    );
    assert.throws(
      () => new nn.MultiplicativeAttention(4, 5, { score: "dot" }),
      /"dot" scores need querySize == keySize/,
    );
  });

  test("gradcheck (float64)", () => {
    const add = new nn.AdditiveAttention(3, 2, 2);
    assert.ok(
      gradcheckModule(add, [leaf([2, 3]), leaf([2, 3, 2]), leaf([2, 3, 2])], (q, k, v) =>
        add.forward(q!, k!, v!),
      ),
    );
    const mul = new nn.MultiplicativeAttention(3, 2, { scale: true });
    assert.ok(
      gradcheckModule(mul, [leaf([1, 2, 3]), leaf([1, 3, 2]), leaf([1, 3, 2])], (q, k, v) =>
        mul.forward(q!, k!, v!),
      ),
    );
  });
});
