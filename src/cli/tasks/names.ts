// Character-level name generation (the makemore task) on the English
// first-name lists: four models of P(next char | previous chars), from
// counting to a Transformer, each scored by validation loss in nats per
// character (the end-of-name token counts as a character).
//
// Every name is lowercased, deduplicated and framed by the boundary token
// ".": "emma" is read as . e m m a and must predict e m m a . in turn.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../autograd/grad_mode.js";
import { loadFirstNames } from "../../data/datasets/text.js";
import { ArgumentError } from "../../errors.js";
import type { CheckpointValue } from "../../io/checkpoint.js";
import { saveCheckpoint } from "../../io/checkpoint.js";
import * as F from "../../nn/functional/index.js";
import { Embedding } from "../../nn/layers/embedding.js";
import { Linear } from "../../nn/layers/linear.js";
import { LSTM } from "../../nn/layers/rnn.js";
import { Module } from "../../nn/module.js";
import { AdamW } from "../../optim/adamw.js";
import { defaultGenerator, Generator } from "../../random.js";
import { randint } from "../../tensor/creation.js";
import { Tensor } from "../../tensor/tensor.js";
import { CharTokenizer } from "../../text/char_tokenizer.js";
import { decode, generate, type StepDecoder } from "../../text/generate.js";
import { GPT } from "../../text/gpt.js";
import { seededSplit, stepBar, type TaskOptions } from "./common.js";

export type NamesModel = "bigram" | "mlp" | "lstm" | "gpt";

/** The split, the tokenizer and the padded (N, blockSize) inputs and targets of each part. */
export interface NamesData {
  tokenizer: CharTokenizer;
  train: string[];
  val: string[];
  test: string[];
  /** Longest name + 1 (the boundary token). */
  blockSize: number;
}

const IGNORE = -1;

/** Lowercased, deduplicated names split 80/10/10 in torch.randperm(n, seed) order. */
export function namesData(seed = 42, limit?: number): NamesData {
  const seen = new Set<string>();
  for (const n of loadFirstNames()) seen.add(n.toLowerCase());
  let names = [...seen];
  if (limit !== undefined) names = names.slice(0, limit);
  const [train, val, test] = seededSplit(names, [0.8, 0.1, 0.1], seed) as [
    string[],
    string[],
    string[],
  ];
  const tokenizer = CharTokenizer.fromCorpus(names, { specials: ["."] });
  const blockSize = Math.max(...names.map((n) => n.length)) + 1;
  return { tokenizer, train, val, test, blockSize };
}

/** Inputs ". e m m a" and targets "e m m a .", padded to blockSize (targets with -1, ignored). */
export function encodeNames(
  names: readonly string[],
  tok: CharTokenizer,
  blockSize: number,
): [Tensor, Tensor] {
  const x = new Int32Array(names.length * blockSize);
  const y = new Int32Array(names.length * blockSize).fill(IGNORE);
  names.forEach((n, i) => {
    const ids = tok.encode(n);
    const row = i * blockSize;
    [0, ...ids].forEach((t, j) => {
      x[row + j] = t;
    });
    [...ids, 0].forEach((t, j) => {
      y[row + j] = t;
    });
  });
  const shape = [names.length, blockSize];
  return [Tensor.fromArray(x, shape, "cpu", "int32"), Tensor.fromArray(y, shape, "cpu", "int32")];
}

/** (context, next) pairs with a fixed context of `block` previous characters (the MLP's view). */
export function contextPairs(
  names: readonly string[],
  tok: CharTokenizer,
  block: number,
): [Tensor, Tensor] {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const n of names) {
    let ctx = new Array<number>(block).fill(0);
    for (const t of [...tok.encode(n), 0]) {
      xs.push(...ctx);
      ys.push(t);
      ctx = [...ctx.slice(1), t];
    }
  }
  return [
    Tensor.fromArray(Int32Array.from(xs), [ys.length, block], "cpu", "int32"),
    Tensor.fromArray(Int32Array.from(ys), [ys.length], "cpu", "int32"),
  ];
}

// ---- the models -------------------------------------------------------------

/** Bengio et al. (2003): embed the last `block` characters, one tanh hidden layer, logits. */
export class NamesMLP extends Module {
  emb: Embedding;
  hidden: Linear;
  out: Linear;
  constructor(
    vocab: number,
    readonly block = 3,
    embDim = 10,
    hiddenSize = 200,
  ) {
    super();
    this.emb = new Embedding(vocab, embDim);
    this.hidden = new Linear(block * embDim, hiddenSize);
    this.out = new Linear(hiddenSize, vocab);
  }
  override forward(ctx: Tensor): Tensor {
    const e = this.emb.forward(ctx).flatten(1); // (N, block·embDim)
    return this.out.forward(this.hidden.forward(e).tanh()); // (N, V)
  }
}

/** Embedding → LSTM → linear head: one logit row per position, (B, T, V). */
export class NamesLSTM extends Module {
  emb: Embedding;
  lstm: LSTM;
  head: Linear;
  constructor(vocab: number, embDim = 32, hiddenSize = 128) {
    super();
    this.emb = new Embedding(vocab, embDim);
    this.lstm = new LSTM(embDim, hiddenSize, { batchFirst: true });
    this.head = new Linear(hiddenSize, vocab);
  }
  override forward(x: Tensor, state: [Tensor, Tensor] | null = null): Tensor {
    return this.run(x, state)[0];
  }
  /** Logits and the final (h, c), so sampling can feed one character at a time. */
  run(x: Tensor, state: [Tensor, Tensor] | null = null): [Tensor, [Tensor, Tensor]] {
    const [out, hc] = this.lstm.forward(this.emb.forward(x), state);
    return [this.head.forward(out), hc];
  }
}

/** The GPT used for names (and by bench/names_gpt_torch.py): 2 layers, 4 heads, 64 wide. */
export const NAMES_GPT = { nEmbd: 64, nHead: 4, nLayer: 2 };

export interface NamesOptions extends TaskOptions {
  model: NamesModel;
  /** Optimizer steps (defaults per model). */
  steps?: number;
  batchSize?: number;
  lr?: number;
  /** Use only the first `limit` names (tests). */
  limit?: number;
  /** Names to sample at the end (10). */
  samples?: number;
}

export interface NamesResult {
  model: NamesModel;
  /** Mean cross-entropy per character on the validation split, in nats. */
  valLoss: number;
  trainLoss: number;
  /** Training loss every `steps / 20` steps (first and last included). */
  lossCurve: number[];
  samples: string[];
  seconds: number;
  parameters: number;
  checkpoint: string | null;
}

const DEFAULTS: Record<NamesModel, { steps: number; batchSize: number; lr: number }> = {
  bigram: { steps: 0, batchSize: 0, lr: 0 },
  mlp: { steps: 4000, batchSize: 64, lr: 3e-3 },
  lstm: { steps: 600, batchSize: 32, lr: 1e-2 },
  gpt: { steps: 600, batchSize: 32, lr: 3e-3 },
};

/**
 * Trains one names model, reports validation nats/char and samples names.
 *
 * @example
 * const r = await trainNames({ model: "gpt", steps: 1000 });
 * r.valLoss; // ≈ 2.1 nats per character
 */
export async function trainNames(opts: NamesOptions): Promise<NamesResult> {
  const t0 = performance.now();
  const seed = opts.seed ?? 42;
  const log = opts.log ?? (() => {});
  const data = namesData(seed, opts.limit);
  const tok = data.tokenizer;
  const V = tok.vocabSize;
  const d = { ...DEFAULTS[opts.model], ...defined(opts) };
  defaultGenerator.manualSeed(seed);
  log(
    `names-${opts.model}: ${data.train.length} train / ${data.val.length} val / ${data.test.length} test names, vocabulary ${V}, context ${data.blockSize}`,
  );
  if (opts.model === "bigram") return bigram(data, opts, t0);

  let model: Module;
  let lossOf: (m: Module, x: Tensor, y: Tensor) => Tensor;
  let trainXY: [Tensor, Tensor];
  let valXY: [Tensor, Tensor];
  if (opts.model === "mlp") {
    model = new NamesMLP(V);
    trainXY = contextPairs(data.train, tok, 3);
    valXY = contextPairs(data.val, tok, 3);
    lossOf = (m, x, y) => F.crossEntropy(m.forward(x) as Tensor, y);
  } else {
    model =
      opts.model === "lstm"
        ? new NamesLSTM(V)
        : new GPT({ vocabSize: V, blockSize: data.blockSize, ...NAMES_GPT });
    trainXY = encodeNames(data.train, tok, data.blockSize);
    valXY = encodeNames(data.val, tok, data.blockSize);
    lossOf = (m, x, y) =>
      F.crossEntropy((m.forward(x) as Tensor).reshape([-1, V]), y.reshape([-1]), {
        ignoreIndex: IGNORE,
      });
  }
  const opt = new AdamW(model.parameters(), { lr: d.lr, weightDecay: 0.01 });
  const batches = new Generator().manualSeed(seed + 1);
  const [X, Y] = trainXY;
  const bar = stepBar(`names-${opts.model}`, d.steps, opts.progress ?? false);
  const curve: number[] = [];
  const every = Math.max(1, Math.floor(d.steps / 20));
  let last = Number.NaN;
  model.train();
  for (let step = 1; step <= d.steps; step++) {
    const idx = randint(0, X.shape[0]!, [d.batchSize], { generator: batches });
    const loss = lossOf(model, X.indexSelect(0, idx), Y.indexSelect(0, idx));
    opt.zeroGrad();
    loss.backward();
    opt.step();
    last = loss.itemSync() as number;
    if (step === 1 || step % every === 0 || step === d.steps) curve.push(last);
    bar.update(step, {
      loss: last.toFixed(4),
      rate: (step / ((performance.now() - t0) / 1000)).toFixed(1),
    });
    if (step % Math.max(1, Math.floor(d.steps / 5)) === 0 || step === d.steps)
      log(`  step ${step}/${d.steps}  loss ${last.toFixed(4)}`);
  }
  bar.stop();
  model.eval();
  const valLoss = noGrad(() => lossOf(model, valXY[0], valXY[1]).itemSync() as number);
  const samples = sampleNames(opts.model, model, data, opts.samples ?? 10, seed);
  const seconds = (performance.now() - t0) / 1000;
  log(
    `names-${opts.model}: val ${valLoss.toFixed(4)} nats/char after ${d.steps} steps (${seconds.toFixed(1)} s)`,
  );
  log(`  samples: ${samples.join(", ")}`);
  const checkpoint = await writeCheckpoint(opts, {
    model: model.stateDict(),
    optimizer: opt.stateDict() as never,
    step: d.steps,
    config: { task: `names-${opts.model}`, seed, ...d, blockSize: data.blockSize },
    tokenizer: tok.toJSON() as never,
    valLoss,
  });
  return {
    model: opts.model,
    valLoss,
    trainLoss: last,
    lossCurve: curve,
    samples,
    seconds,
    parameters: model.numParameters(),
    checkpoint,
  };
}

function defined(o: NamesOptions): Partial<{ steps: number; batchSize: number; lr: number }> {
  const out: Partial<{ steps: number; batchSize: number; lr: number }> = {};
  if (o.steps !== undefined) out.steps = o.steps;
  if (o.batchSize !== undefined) out.batchSize = o.batchSize;
  if (o.lr !== undefined) out.lr = o.lr;
  return out;
}

async function writeCheckpoint(
  opts: TaskOptions,
  value: Record<string, CheckpointValue>,
): Promise<string | null> {
  if (!opts.out) return null;
  mkdirSync(opts.out, { recursive: true });
  const path = join(opts.out, "checkpoint.safetensors");
  await saveCheckpoint(path, value);
  opts.log?.(`  wrote ${path}`);
  return path;
}

/** Bigram counts with add-one smoothing: P(b | a) = (count(a, b) + 1) / (count(a) + V). */
async function bigram(data: NamesData, opts: NamesOptions, t0: number): Promise<NamesResult> {
  const tok = data.tokenizer;
  const V = tok.vocabSize;
  const counts = new Float64Array(V * V).fill(1);
  const pairs = (names: readonly string[]) =>
    names.flatMap((n) => {
      const ids = [0, ...tok.encode(n), 0];
      return ids.slice(1).map((b, i) => [ids[i]!, b] as const);
    });
  for (const [a, b] of pairs(data.train)) counts[a * V + b]! += 1;
  const logP = new Float64Array(V * V);
  for (let a = 0; a < V; a++) {
    let row = 0;
    for (let b = 0; b < V; b++) row += counts[a * V + b]!;
    for (let b = 0; b < V; b++) logP[a * V + b] = Math.log(counts[a * V + b]! / row);
  }
  const nll = (names: readonly string[]) => {
    const ps = pairs(names);
    return -ps.reduce((s, [a, b]) => s + logP[a * V + b]!, 0) / ps.length;
  };
  const valLoss = nll(data.val);
  const trainLoss = nll(data.train);
  const table = Tensor.fromArray(Float32Array.from(logP), [V, V], "cpu", "float32");
  const decoder: StepDecoder<null> = {
    step: (t, s) => [table.indexSelect(0, t), s],
    select: (s) => s,
  };
  const gen = new Generator().manualSeed((opts.seed ?? 42) + 2);
  const n = opts.samples ?? 10;
  const samples = decode(decoder, null, new Array(n).fill(0), {
    maxLength: 30,
    eos: 0,
    doSample: true,
    generator: gen,
  }).map((ids) => tok.decode(ids));
  const seconds = (performance.now() - t0) / 1000;
  opts.log?.(
    `names-bigram: val ${valLoss.toFixed(4)} nats/char (train ${trainLoss.toFixed(4)}), ${seconds.toFixed(1)} s`,
  );
  opts.log?.(`  samples: ${samples.join(", ")}`);
  const checkpoint = await writeCheckpoint(opts, {
    model: { logP: table },
    config: { task: "names-bigram", seed: opts.seed ?? 42 },
    tokenizer: tok.toJSON() as never,
    valLoss,
  });
  return {
    model: "bigram",
    valLoss,
    trainLoss,
    lossCurve: [trainLoss],
    samples,
    seconds,
    parameters: V * V,
    checkpoint,
  };
}

/** Samples names (temperature 1) from a trained model, one character at a time. */
export function sampleNames(
  kind: NamesModel,
  model: Module,
  data: NamesData,
  n: number,
  seed: number,
): string[] {
  const tok = data.tokenizer;
  const gen = new Generator().manualSeed(seed + 2);
  const sampling = { doSample: true, generator: gen } as const;
  const maxLength = data.blockSize + 10;
  const names = (rows: number[][]) => rows.map((r) => tok.decode(r.filter((t) => t !== 0)));
  if (kind === "gpt") {
    const rows = generate(
      model as GPT,
      new Array(n).fill(0).map(() => [0]),
      {
        maxNewTokens: data.blockSize - 1,
        eos: 0,
        ...sampling,
      },
    );
    return names(rows.map((r) => r.slice(1)));
  }
  if (kind === "lstm") {
    const lstm = model as NamesLSTM;
    type S = [Tensor, Tensor] | null;
    const decoder: StepDecoder<S> = {
      step(t, s) {
        const [logits, hc] = lstm.run(t.unsqueeze(1), s);
        return [logits.select(1, 0), hc];
      },
      select(s, rows) {
        if (!s) return s;
        const idx = Tensor.fromArray(Int32Array.from(rows), [rows.length], "cpu", "int32");
        return [s[0].indexSelect(1, idx), s[1].indexSelect(1, idx)];
      },
    };
    return names(decode(decoder, null, new Array(n).fill(0), { maxLength, eos: 0, ...sampling }));
  }
  if (kind === "mlp") {
    const mlp = model as NamesMLP;
    const decoder: StepDecoder<number[][]> = {
      step(t, ctx) {
        const last = Array.from(t.dataSync() as Int32Array);
        const next = ctx.map((c, i) => [...c.slice(1), last[i]!]);
        const x = Tensor.fromArray(
          Int32Array.from(next.flat()),
          [next.length, mlp.block],
          "cpu",
          "int32",
        );
        return [mlp.forward(x), next];
      },
      select: (ctx, rows) => rows.map((r) => ctx[r]!),
    };
    // The first step shifts in the start token, so contexts begin one short.
    const start = new Array(n).fill(0).map(() => new Array<number>(mlp.block).fill(0));
    return names(decode(decoder, start, new Array(n).fill(0), { maxLength, eos: 0, ...sampling }));
  }
  throw new ArgumentError(`sampleNames: unknown model ${kind}`);
}
