// Grapheme-to-phoneme conversion on CMUdict: spell a word, say it. An
// encoder–decoder GRU with Bahdanau (additive) attention (Bahdanau et al.,
// 2015): a bidirectional GRU reads the letters; a GRU decoder emits one
// phoneme per step, each time attending over the letters with its
// previous state as the query (cross-attention). Trained with teacher
// forcing (the gold previous phoneme is fed), decoded greedily, scored by
// phoneme error rate: edit distance / reference length over a held-out 10%.
//
// Stress digits are dropped (AH0 → AH), leaving CMUdict's 39 phonemes;
// words are letters only and alternates are skipped.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../autograd/grad_mode.js";
import { loadCmudict } from "../../data/datasets/text.js";
import { saveCheckpoint } from "../../io/checkpoint.js";
import * as F from "../../nn/functional/index.js";
import { AdditiveAttention } from "../../nn/layers/attention.js";
import { Embedding } from "../../nn/layers/embedding.js";
import { Linear } from "../../nn/layers/linear.js";
import { GRU, GRUCell } from "../../nn/layers/rnn.js";
import { Module } from "../../nn/module.js";
import { packPaddedSequence, padPackedSequence } from "../../nn/utils/rnn.js";
import { stack } from "../../ops/join.js";
import { Adam } from "../../optim/adam.js";
import { defaultGenerator } from "../../random.js";
import { Tensor } from "../../tensor/tensor.js";
import { beamSearch, decode, type StepDecoder } from "../../text/generate.js";
import { heatmap } from "../heatmap_svg.js";
import { editDistance, seededSplit, stepBar, type TaskOptions } from "./common.js";

const PAD = 0;
const BOS = 1;
const EOS = 2;

export interface G2PData {
  letters: string[];
  phonemes: string[];
  train: { word: string; phonemes: string[] }[];
  test: { word: string; phonemes: string[] }[];
}

/** A seeded subset of `size` words, split 90/10; vocabularies with <pad> (and <s>, </s> for phonemes) first. */
export function g2pData(size: number, seed = 42): G2PData {
  const entries = loadCmudict()
    .filter((e) => /^[A-Z]{2,}$/.test(e.word))
    .map((e) => ({
      word: e.word.toLowerCase(),
      phonemes: e.phonemes.map((p) => p.replace(/\d$/, "")),
    }));
  const [subset] = seededSplit(entries, [size / entries.length, 1], seed) as [typeof entries];
  const [train, test] = seededSplit(subset, [0.9, 0.1], seed + 1) as [
    typeof entries,
    typeof entries,
  ];
  const letters = ["<pad>", ...[...new Set(entries.flatMap((e) => [...e.word]))].sort()];
  const phonemes = [
    "<pad>",
    "<s>",
    "</s>",
    ...[...new Set(entries.flatMap((e) => e.phonemes))].sort(),
  ];
  return { letters, phonemes, train, test };
}

export interface Encoded {
  /** Padding marks for the letters, true = pad. */
  src: Tensor;
  srcLengths: number[];
  /** Decoder inputs: <s> p1 … pn. */
  tgtIn: Tensor;
  /** Targets: p1 … pn </s>, padded with <pad> (ignored). */
  tgtOut: Tensor;
}

function encodeBatch(items: G2PData["train"], data: G2PData): Encoded {
  const li = new Map(data.letters.map((c, i) => [c, i]));
  const pi = new Map(data.phonemes.map((p, i) => [p, i]));
  const S = Math.max(...items.map((e) => e.word.length));
  const T = Math.max(...items.map((e) => e.phonemes.length)) + 1;
  const src = new Int32Array(items.length * S);
  const tin = new Int32Array(items.length * T);
  const tout = new Int32Array(items.length * T);
  items.forEach((e, i) => {
    [...e.word].forEach((c, j) => {
      src[i * S + j] = li.get(c)!;
    });
    const ph = e.phonemes.map((p) => pi.get(p)!);
    [BOS, ...ph].forEach((p, j) => {
      tin[i * T + j] = p;
    });
    [...ph, EOS].forEach((p, j) => {
      tout[i * T + j] = p;
    });
  });
  const t = (a: Int32Array, shape: number[]) => Tensor.fromArray(a, shape, "cpu", "int32");
  return {
    src: t(src, [items.length, S]),
    srcLengths: items.map((e) => e.word.length),
    tgtIn: t(tin, [items.length, T]),
    tgtOut: t(tout, [items.length, T]),
  };
}

/** Everything the decoder needs per hypothesis: its hidden state and the encoded letters. */
export interface G2PState {
  h: Tensor; // (B, H)
  memory: Tensor; // (B, S, 2·He)
  padding: Tensor; // (B, S) bool, true = pad
}

/**
 * Bidirectional GRU encoder, additive attention, GRUCell decoder. Submodules:
 * src_emb, encoder, bridge, tgt_emb, attention, decoder, out.
 */
export class G2PModel extends Module {
  src_emb: Embedding;
  encoder: GRU;
  bridge: Linear;
  tgt_emb: Embedding;
  attention: AdditiveAttention;
  decoder: GRUCell;
  out: Linear;

  constructor(
    letters: number,
    phonemes: number,
    readonly emb = 32,
    readonly hidden = 128,
  ) {
    super();
    const enc = hidden / 2;
    this.src_emb = new Embedding(letters, emb, { paddingIdx: PAD });
    this.encoder = new GRU(emb, enc, { batchFirst: true, bidirectional: true });
    this.bridge = new Linear(hidden, hidden);
    this.tgt_emb = new Embedding(phonemes, emb, { paddingIdx: PAD });
    this.attention = new AdditiveAttention(hidden, hidden, hidden / 2);
    this.decoder = new GRUCell(emb + hidden, hidden);
    this.out = new Linear(2 * hidden, phonemes);
  }

  /** Letters (B, S) → memory (B, S, hidden) and the decoder's first state. */
  encode(src: Tensor, lengths: number[]): G2PState {
    const packed = packPaddedSequence(this.src_emb.forward(src), lengths, {
      batchFirst: true,
      enforceSorted: false,
    });
    const [out, hN] = this.encoder.forward(packed); // hN (2, B, hidden/2)
    const [memory] = padPackedSequence(out, { batchFirst: true, totalLength: src.shape[1]! });
    const last = Tensor.cat([hN.select(0, 0), hN.select(0, 1)], 1); // (B, hidden)
    return { h: this.bridge.forward(last).tanh(), memory, padding: src.eq(PAD) };
  }

  /** One decoder step: attend with the previous state, update it, predict. Returns logits (B, V), the new state and the attention weights (B, S). */
  step(prev: Tensor, s: G2PState): [Tensor, G2PState, Tensor] {
    const [context, weights] = this.attention.forward(s.h, s.memory, s.memory, {
      keyPaddingMask: s.padding,
    });
    const h = this.decoder.forward(Tensor.cat([this.tgt_emb.forward(prev), context], 1), s.h);
    const logits = this.out.forward(Tensor.cat([h, context], 1));
    return [logits, { ...s, h }, weights];
  }

  /** Teacher forcing: logits (B, T, V) for the gold inputs <s> p1 … pn. */
  override forward(batch: Encoded): Tensor {
    let s = this.encode(batch.src, batch.srcLengths);
    const steps: Tensor[] = [];
    for (const prev of batch.tgtIn.unbind(1)) {
      const [logits, next] = this.step(prev, s);
      steps.push(logits);
      s = next;
    }
    return stack(steps, 1);
  }

  /** The model as a StepDecoder for fl.text.decode and beamSearch. */
  stepDecoder(): StepDecoder<G2PState> {
    return {
      step: (t, s) => {
        const [logits, next] = this.step(t, s);
        return [logits, next];
      },
      select: (s, rows) => {
        const idx = Tensor.fromArray(Int32Array.from(rows), [rows.length], "cpu", "int32");
        return {
          h: s.h.indexSelect(0, idx),
          memory: s.memory.indexSelect(0, idx),
          padding: s.padding.indexSelect(0, idx),
        };
      },
    };
  }
}

export interface G2POptions extends TaskOptions {
  /** Words used, train + test (10,000). */
  size?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** Test words decoded for the error rate (all). */
  evalLimit?: number;
}

export interface G2PResult {
  /** Phoneme error rate on the held-out words (greedy decoding). */
  per: number;
  /** Word error rate (any mistake) on the same words. */
  wer: number;
  trainWords: number;
  testWords: number;
  lossCurve: number[];
  examples: { word: string; predicted: string[]; reference: string[] }[];
  /** Attention weights (output steps × letters) of the first example. */
  attention: number[][];
  seconds: number;
  checkpoint: string | null;
}

/**
 * Trains the attention encoder–decoder on CMUdict and reports PER.
 *
 * @example
 * const r = await trainG2P({ size: 10000, epochs: 4 });
 * r.per; // phoneme error rate on 1,000 held-out words
 */
export async function trainG2P(opts: G2POptions = {}): Promise<G2PResult> {
  const t0 = performance.now();
  const seed = opts.seed ?? 42;
  const log = opts.log ?? (() => {});
  const data = g2pData(opts.size ?? 10000, seed);
  defaultGenerator.manualSeed(seed);
  const model = new G2PModel(data.letters.length, data.phonemes.length);
  const epochs = opts.epochs ?? 4;
  const B = opts.batchSize ?? 128;
  const opt = new Adam(model.parameters(), { lr: opts.lr ?? 3e-3 });
  log(
    `g2p: ${data.train.length} train / ${data.test.length} test words, ${data.letters.length - 1} letters, ${data.phonemes.length - 3} phonemes, ${model.numParameters()} parameters`,
  );
  const perEpoch = Math.ceil(data.train.length / B);
  const bar = stepBar("g2p", epochs * perEpoch, opts.progress ?? false);
  const curve: number[] = [];
  let step = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const [order] = seededSplit(data.train, [1], seed + 10 + epoch) as [G2PData["train"]];
    let sum = 0;
    model.train();
    for (let i = 0; i < order.length; i += B) {
      const batch = encodeBatch(order.slice(i, i + B), data);
      const logits = model.forward(batch);
      const loss = F.crossEntropy(
        logits.reshape([-1, data.phonemes.length]),
        batch.tgtOut.reshape([-1]),
        {
          ignoreIndex: PAD,
        },
      );
      opt.zeroGrad();
      loss.backward();
      opt.step();
      const l = loss.itemSync() as number;
      sum += l;
      step++;
      if (step === 1 || step % 10 === 0) curve.push(l);
      bar.update(step, {
        loss: l.toFixed(4),
        rate: (step / ((performance.now() - t0) / 1000)).toFixed(1),
      });
    }
    log(
      `  epoch ${epoch}/${epochs}  loss ${(sum / perEpoch).toFixed(4)}  ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
  bar.stop();
  model.eval();
  const test = data.test.slice(0, opts.evalLimit ?? data.test.length);
  const predicted = greedyPhonemes(model, test, data);
  let errors = 0;
  let total = 0;
  let wrongWords = 0;
  test.forEach((e, i) => {
    const d = editDistance(predicted[i]!, e.phonemes);
    errors += d;
    total += e.phonemes.length;
    if (d > 0) wrongWords++;
  });
  const per = errors / total;
  const wer = wrongWords / test.length;
  const attention = attentionMatrix(model, test[0]!, data);
  const seconds = (performance.now() - t0) / 1000;
  log(
    `g2p: PER ${(per * 100).toFixed(2)}%  WER ${(wer * 100).toFixed(2)}% on ${test.length} held-out words (${seconds.toFixed(1)} s)`,
  );
  const examples = test
    .slice(0, 8)
    .map((e, i) => ({ word: e.word, predicted: predicted[i]!, reference: e.phonemes }));
  for (const x of examples)
    log(`  ${x.word}: ${x.predicted.join(" ")}  (reference ${x.reference.join(" ")})`);
  let checkpoint: string | null = null;
  if (opts.out) {
    mkdirSync(opts.out, { recursive: true });
    checkpoint = join(opts.out, "checkpoint.safetensors");
    await saveCheckpoint(checkpoint, {
      model: model.stateDict(),
      optimizer: opt.stateDict() as never,
      epoch: epochs,
      config: {
        task: "g2p",
        seed,
        size: opts.size ?? 10000,
        letters: data.letters,
        phonemes: data.phonemes,
      },
      per,
    });
    const svg = join(opts.out, "attention.svg");
    writeFileSync(
      svg,
      heatmap(attention, {
        title: `attention: "${test[0]!.word}" → ${predicted[0]!.join(" ")}`,
        rowLabels: [...predicted[0]!, "</s>"],
        colLabels: [...test[0]!.word],
        xLabel: "letters (keys)",
        yLabel: "phonemes (queries)",
      }),
    );
    log(`  wrote ${checkpoint}, ${svg}`);
  }
  return {
    per,
    wer,
    trainWords: data.train.length,
    testWords: test.length,
    lossCurve: curve,
    examples,
    attention,
    seconds,
    checkpoint,
  };
}

/** Greedy decoding in batches of 256. */
export function greedyPhonemes(
  model: G2PModel,
  items: G2PData["train"],
  data: G2PData,
): string[][] {
  const out: string[][] = [];
  noGrad(() => {
    for (let i = 0; i < items.length; i += 256) {
      const chunk = items.slice(i, i + 256);
      const batch = encodeBatch(chunk, data);
      const state = model.encode(batch.src, batch.srcLengths);
      const ids = decode(model.stepDecoder(), state, new Array(chunk.length).fill(BOS), {
        maxLength: 30,
        eos: EOS,
      });
      out.push(...ids.map((r) => r.map((t) => data.phonemes[t]!)));
    }
  });
  return out;
}

/** Beam-search pronunciation of one word. */
export function beamPhonemes(
  model: G2PModel,
  word: string,
  data: G2PData,
  beamWidth = 4,
): string[] {
  return noGrad(() => {
    const batch = encodeBatch([{ word, phonemes: [] }], data);
    const state = model.encode(batch.src, batch.srcLengths);
    const [best] = beamSearch(model.stepDecoder(), state, BOS, {
      beamWidth,
      maxLength: 30,
      eos: EOS,
    });
    return best!.tokens.map((t) => data.phonemes[t]!);
  });
}

/** The attention weights of greedy decoding for one word: (output steps incl. </s>) × letters. */
function attentionMatrix(
  model: G2PModel,
  item: G2PData["train"][number],
  data: G2PData,
): number[][] {
  return noGrad(() => {
    const batch = encodeBatch([item], data);
    let s = model.encode(batch.src, batch.srcLengths);
    let prev = Tensor.fromArray(Int32Array.of(BOS), [1], "cpu", "int32");
    const rows: number[][] = [];
    for (let t = 0; t < 30; t++) {
      const [logits, next, w] = model.step(prev, s);
      rows.push(Array.from(w.reshape([-1]).dataSync() as Float32Array));
      const tok = logits.argmax(1);
      if ((tok.itemSync() as number) === EOS) break;
      prev = tok.to("int32");
      s = next;
    }
    return rows;
  });
}
