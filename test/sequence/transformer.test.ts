import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { gradcheckModule, leaf } from "./helpers.js";

const { nn } = fl;

function maxDiff(a: fl.Tensor, b: fl.Tensor): number {
  return a.sub(b).abs().amax().itemSync() as number;
}

describe("Transformer", () => {
  test("generateSquareSubsequentMask: 0 on and below the diagonal, -inf above", () => {
    const inf = Number.NEGATIVE_INFINITY;
    assert.deepEqual(nn.Transformer.generateSquareSubsequentMask(3).tolistSync(), [
      [0, inf, inf],
      [0, 0, inf],
      [0, 0, 0],
    ]);
  });

  test("encoder layer: PyTorch's state_dict keys, post-norm output normalized", () => {
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 });
    assert.deepEqual(Object.keys(layer.stateDict()), [
      "self_attn.in_proj_weight",
      "self_attn.in_proj_bias",
      "self_attn.out_proj.weight",
      "self_attn.out_proj.bias",
      "linear1.weight",
      "linear1.bias",
      "linear2.weight",
      "linear2.bias",
      "norm1.weight",
      "norm1.bias",
      "norm2.weight",
      "norm2.bias",
    ]);
    const y = layer.forward(fl.randn([5, 2, 8]));
    assert.ok((y.mean(-1).abs().amax().itemSync() as number) < 1e-5, "post-norm rows have mean 0");
  });

  test("decoder layer keys; encoder/decoder stacks copy the layer's weights", () => {
    const dec = new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16 });
    assert.deepEqual(
      Object.keys(dec.stateDict()).filter((k) => k.endsWith("weight")),
      [
        "self_attn.in_proj_weight",
        "self_attn.out_proj.weight",
        "multihead_attn.in_proj_weight",
        "multihead_attn.out_proj.weight",
        "linear1.weight",
        "linear2.weight",
        "norm1.weight",
        "norm2.weight",
        "norm3.weight",
      ],
    );
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    const enc = new nn.TransformerEncoder(layer, 3, { norm: new nn.LayerNorm(8) });
    const keys = Object.keys(enc.stateDict());
    assert.equal(keys[0], "layers.0.self_attn.in_proj_weight");
    assert.equal(keys[keys.length - 1], "norm.bias");
    const w0 = enc.getParameter("layers.0.linear1.weight");
    const w2 = enc.getParameter("layers.2.linear1.weight");
    assert.notEqual(w0, w2, "separate parameters");
    assert.equal(maxDiff(w0, layer.linear1.weight), 0, "same starting values");
  });

  test("a causal encoder: outputs before a change do not move", () => {
    const layer = new nn.TransformerEncoderLayer(8, 2, {
      dimFeedforward: 16,
      dropout: 0,
      batchFirst: true,
      normFirst: true,
      activation: "gelu",
    });
    const enc = new nn.TransformerEncoder(layer, 2);
    const x = fl.randn([1, 5, 8]);
    const x2 = fl.cat([x.narrow(1, 0, 4), fl.randn([1, 1, 8])], 1);
    const mask = nn.Transformer.generateSquareSubsequentMask(5);
    const a = enc.forward(x, { mask });
    const b = enc.forward(x2, { isCausal: true });
    assert.ok(maxDiff(a.narrow(1, 0, 4), b.narrow(1, 0, 4)) < 1e-5);
  });

  test("the full Transformer: shapes, state_dict keys, errors", () => {
    const model = new nn.Transformer({
      dModel: 8,
      nhead: 2,
      numEncoderLayers: 1,
      numDecoderLayers: 1,
      dimFeedforward: 16,
    });
    const out = model.forward(fl.randn([6, 2, 8]), fl.randn([4, 2, 8]), {
      tgtMask: nn.Transformer.generateSquareSubsequentMask(4),
    });
    assert.deepEqual(out.shape, [4, 2, 8]);
    assert.ok(
      Object.keys(model.stateDict()).includes("decoder.layers.0.multihead_attn.in_proj_weight"),
    );
    assert.ok(Object.keys(model.stateDict()).includes("encoder.norm.weight"));
    assert.throws(
      () => model.forward(fl.randn([6, 2, 8]), fl.randn([4, 3, 8])),
      /the batch number of src and tgt must be equal/,
    );
  });

  test("gradcheck (float64): encoder layer with padding, pre-norm decoder layer", () => {
    const enc = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 3, dropout: 0 });
    const pad = fl.tensor([[0, 0, 1]]).bool();
    assert.ok(
      gradcheckModule(enc, [leaf([3, 1, 4])], (x) => enc.forward(x!, { srcKeyPaddingMask: pad })),
    );
    const dec = new nn.TransformerDecoderLayer(4, 2, {
      dimFeedforward: 3,
      dropout: 0,
      normFirst: true,
      activation: "gelu",
    });
    const tgtMask = nn.Transformer.generateSquareSubsequentMask(2);
    assert.ok(
      gradcheckModule(dec, [leaf([2, 1, 4]), leaf([3, 1, 4])], (t, m) =>
        dec.forward(t!, m!, { tgtMask }),
      ),
    );
  });
});
