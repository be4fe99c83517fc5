// A few optimizer steps on a toy next-character task: the loss of an
// LSTM language model and of a tiny decoder-only Transformer must fall.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { nn } = fl;
const F = nn.functional;

// Sequences that repeat "abcab…": next-character prediction is learnable.
const VOCAB = 5;
function batch(n: number, len: number): [fl.Tensor, fl.Tensor] {
  const xs: number[][] = [];
  const ys: number[][] = [];
  for (let b = 0; b < n; b++) {
    const start = b % VOCAB;
    const seq = Array.from({ length: len + 1 }, (_, t) => (start + t) % VOCAB);
    xs.push(seq.slice(0, len));
    ys.push(seq.slice(1));
  }
  return [fl.tensor(xs, { dtype: "int32" }), fl.tensor(ys, { dtype: "int32" })];
}

class CharLSTM extends nn.Module {
  emb = new nn.Embedding(VOCAB, 8);
  lstm = new nn.LSTM(8, 16, { batchFirst: true });
  head = new nn.Linear(16, VOCAB);
  override forward(x: fl.Tensor): fl.Tensor {
    const [h] = this.lstm.forward(this.emb.forward(x));
    return this.head.forward(h);
  }
}

class TinyGPT extends nn.Module {
  tok = new nn.Embedding(VOCAB, 16);
  pos = new nn.LearnedPositionalEncoding(16, 16, { batchFirst: true });
  blocks = new nn.TransformerEncoder(
    new nn.TransformerEncoderLayer(16, 2, {
      dimFeedforward: 32,
      dropout: 0,
      batchFirst: true,
      normFirst: true,
      activation: "gelu",
    }),
    1,
  );
  head = new nn.Linear(16, VOCAB);
  override forward(x: fl.Tensor): fl.Tensor {
    const h = this.blocks.forward(this.pos.forward(this.tok.forward(x)), { isCausal: true });
    return this.head.forward(h);
  }
}

function trainLosses(model: fl.nn.Module, steps: number): number[] {
  fl.manualSeed(0);
  const opt = new fl.optim.AdamW(model.parameters(), { lr: 0.02 });
  const [x, y] = batch(10, 8);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const logits = model.forward(x) as fl.Tensor; // (N, L, V)
    const loss = F.crossEntropy(logits.reshape([-1, VOCAB]), y.reshape([-1]));
    opt.zeroGrad();
    loss.backward();
    opt.step();
    losses.push(loss.itemSync() as number);
  }
  return losses;
}

describe("training sequence models", () => {
  test("an LSTM language model's loss falls", () => {
    fl.manualSeed(0);
    const losses = trainLosses(new CharLSTM(), 25);
    assert.ok(
      losses[losses.length - 1]! < 0.6 * losses[0]!,
      `loss ${losses[0]} -> ${losses[losses.length - 1]}`,
    );
  });

  test("a tiny GPT's loss falls", () => {
    fl.manualSeed(0);
    const losses = trainLosses(new TinyGPT(), 25);
    assert.ok(
      losses[losses.length - 1]! < 0.6 * losses[0]!,
      `loss ${losses[0]} -> ${losses[losses.length - 1]}`,
    );
  });
});
