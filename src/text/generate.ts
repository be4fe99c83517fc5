// Autoregressive decoding: feed a token, read the next token's logits,
// choose one, repeat until an end token or a length limit.
//
// One interface serves every model: a StepDecoder turns the last token of
// each sequence and a state into logits for the next token and a new
// state. A decoder-only model's state is its tokens so far (and a KV cache
// when the model has one); an encoder–decoder model's state is its
// recurrent hidden state plus the encoder's output. Greedy decoding,
// sampling and beam search are written once against it.
import { noGrad } from "../autograd/grad_mode.js";
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import { logSoftmax } from "../nn/functional/softmax.js";
import { Tensor } from "../tensor/tensor.js";
import type { KVCache } from "./kv_cache.js";
import { logitRows, type SamplingOptions, sampleRow } from "./sampling.js";

/**
 * One step of a decoder over B sequences at once.
 * `step(tokens (B) int32, state)` returns [logits (B, V), next state];
 * `select(state, rows)` keeps the given rows of a state, in order, with
 * repeats (beam search duplicates and reorders hypotheses).
 */
export interface StepDecoder<S> {
  step(tokens: Tensor, state: S): [Tensor, S];
  select(state: S, rows: readonly number[]): S;
}

export interface DecodeOptions extends SamplingOptions {
  /** Most tokens to produce per sequence. */
  maxLength: number;
  /** Stop a sequence when it produces this token (which is not returned). */
  eos?: number;
}

const ids = (list: readonly number[]) =>
  Tensor.fromArray(Int32Array.from(list), [list.length], "cpu", "int32");

/**
 * Greedy decoding or sampling (see SamplingOptions) from one start token
 * per sequence. Returns each sequence's new tokens, without the start
 * token and without eos.
 *
 * @example
 * // a decoder whose next token is always (last + 1) mod 5
 * const dec = { step: (t, s) => [F.oneHot(t.add(1).remainder(5), 5).float(), s], select: (s) => s };
 * fl.text.decode(dec, null, [0, 3], { maxLength: 3 }); // [[1, 2, 3], [4, 0, 1]]
 */
export function decode<S>(
  decoder: StepDecoder<S>,
  state: S,
  start: readonly number[],
  opts: DecodeOptions,
): number[][] {
  return noGrad(() => {
    const B = start.length;
    const out: number[][] = Array.from({ length: B }, () => []);
    // Only unfinished rows stay in the batch, so finished ones cost nothing.
    let alive = Array.from({ length: B }, (_, i) => i);
    let last = [...start];
    let s = state;
    for (let t = 0; t < opts.maxLength && alive.length > 0; t++) {
      const [logits, next] = decoder.step(ids(last), s);
      checkLogits("decode", logits, alive.length);
      const chosen = logitRows(logits).map((row) => sampleRow(row, opts));
      const keep: number[] = [];
      chosen.forEach((tok, r) => {
        if (tok === opts.eos) return;
        out[alive[r]!]!.push(tok);
        keep.push(r);
      });
      s = keep.length === alive.length ? next : decoder.select(next, keep);
      alive = keep.map((r) => alive[r]!);
      last = keep.map((r) => chosen[r]!);
    }
    return out;
  });
}

export interface BeamSearchOptions {
  /** Hypotheses kept per step (4). */
  beamWidth?: number;
  /** Most tokens per hypothesis. */
  maxLength: number;
  /** The end token; a hypothesis that emits it is finished. */
  eos?: number;
  /** Finished scores are logP / length^lengthPenalty (1; 0 ranks by log-probability alone). */
  lengthPenalty?: number;
}

export interface Hypothesis {
  /** New tokens, without the start token and eos. */
  tokens: number[];
  /** Sum of the log-probabilities of its tokens (eos included when it ended with eos). */
  logProb: number;
  /** logProb / length^lengthPenalty, by which hypotheses are ranked. */
  score: number;
  finished: boolean;
}

/**
 * Beam search from one start token (state of batch 1): keeps the
 * beamWidth most probable partial sequences at each step, and returns the
 * finished hypotheses best first (unfinished ones too if maxLength is hit).
 *
 * @example
 * const [best] = fl.text.beamSearch(decoder, state, bos, { beamWidth: 5, maxLength: 20, eos });
 * best.tokens; // the highest-scoring sequence found
 */
export function beamSearch<S>(
  decoder: StepDecoder<S>,
  state: S,
  start: number,
  opts: BeamSearchOptions,
): Hypothesis[] {
  const width = opts.beamWidth ?? 4;
  const alpha = opts.lengthPenalty ?? 1;
  if (!Number.isInteger(width) || width < 1)
    throw new ArgumentError(`beamSearch: beamWidth must be a positive integer, got ${width}`);
  const score = (logProb: number, length: number) => logProb / Math.max(1, length) ** alpha;
  return noGrad(() => {
    let beams = [{ tokens: [] as number[], logProb: 0, last: start }];
    let s = state;
    const finished: Hypothesis[] = [];
    for (let t = 0; t < opts.maxLength && beams.length > 0; t++) {
      const [logits, next] = decoder.step(ids(beams.map((b) => b.last)), s);
      checkLogits("beamSearch", logits, beams.length);
      const logp = logitRows(logSoftmax(logits.to("float64"), -1));
      const candidates: { parent: number; token: number; logProb: number }[] = [];
      logp.forEach((row, parent) => {
        // Each beam's width best tokens suffice: no more than width survive.
        const best = Array.from({ length: row.length }, (_, i) => i)
          .sort((a, b) => row[b]! - row[a]! || a - b)
          .slice(0, width);
        for (const token of best)
          candidates.push({ parent, token, logProb: beams[parent]!.logProb + row[token]! });
      });
      candidates.sort((a, b) => b.logProb - a.logProb || a.parent - b.parent || a.token - b.token);
      const nextBeams: typeof beams = [];
      const parents: number[] = [];
      for (const c of candidates) {
        if (nextBeams.length >= width) break;
        const tokens = beams[c.parent]!.tokens;
        if (c.token === opts.eos) {
          finished.push({
            tokens,
            logProb: c.logProb,
            score: score(c.logProb, tokens.length + 1),
            finished: true,
          });
          continue;
        }
        nextBeams.push({ tokens: [...tokens, c.token], logProb: c.logProb, last: c.token });
        parents.push(c.parent);
      }
      // Log-probabilities only fall, so with no length bonus a finished
      // hypothesis that beats every live beam cannot be overtaken.
      const bestDone = Math.max(...finished.map((h) => h.score));
      if (alpha === 0 && nextBeams.every((b) => b.logProb <= bestDone)) {
        beams = [];
        break;
      }
      beams = nextBeams;
      if (beams.length > 0) s = decoder.select(next, parents);
    }
    for (const b of beams)
      finished.push({
        tokens: b.tokens,
        logProb: b.logProb,
        score: score(b.logProb, b.tokens.length),
        finished: false,
      });
    return finished.sort((a, b) => b.score - a.score);
  });
}

function checkLogits(op: string, logits: Tensor, rows: number): void {
  if (logits.ndim !== 2 || logits.shape[0] !== rows)
    throw new ShapeError(
      `${op}: the decoder's step must return logits (${rows}, V), got ${fmtShape(logits.shape)}`,
    );
}

// ---- decoder-only language models ------------------------------------------

/** A decoder-only model: forward(idx (B, T) int32) gives logits (B, T, V). */
export interface CausalLM {
  forward(idx: Tensor, opts?: { cache?: KVCache | null }): Tensor;
  /** Longest context; longer inputs are cropped to the last blockSize tokens. */
  readonly blockSize?: number;
  /** Present when forward accepts a KVCache. */
  createCache?(): KVCache;
  eval?(): unknown;
}

/** The state of a causal LM decoder: every token fed so far, and its cache. */
export interface CausalState {
  tokens: number[][];
  cache: KVCache | null;
}

/**
 * A StepDecoder over a decoder-only model. With useCache (the default when
 * the model has createCache) each step feeds only the new token; without,
 * each step re-runs the whole (cropped) context.
 */
export function causalLMDecoder(
  model: CausalLM,
  opts: { useCache?: boolean } = {},
): StepDecoder<CausalState> & { prime(prompt: number[][]): CausalState } {
  const cached = (opts.useCache ?? true) && typeof model.createCache === "function";
  const limit = model.blockSize ?? Number.POSITIVE_INFINITY;
  const batch = (rows: number[][]) => {
    const T = rows[0]!.length;
    return Tensor.fromArray(Int32Array.from(rows.flat()), [rows.length, T], "cpu", "int32");
  };
  const lastLogits = (logits: Tensor) => logits.select(1, logits.shape[1]! - 1); // (B, V)
  return {
    /** State after reading prompt rows (all the same length), not yet their last token. */
    prime(prompt) {
      const tokens = prompt.map((r) => r.slice(0, -1));
      if (!cached) return { tokens, cache: null };
      const cache = model.createCache!();
      const ctx = tokens.map((r) => r.slice(-(limit - 1)));
      if (ctx[0]!.length > 0) model.forward(batch(ctx), { cache });
      return { tokens, cache };
    },
    step(next, state) {
      const add = Array.from(next.contiguous().dataSync() as ArrayLike<number>);
      const tokens = state.tokens.map((r, i) => [...r, add[i]!]);
      if (!cached)
        return [
          lastLogits(model.forward(batch(tokens.map((r) => r.slice(-limit))))),
          { tokens, cache: null },
        ];
      let cache = state.cache!;
      let feed = add.map((t) => [t]);
      if (cache.length + 1 > limit) {
        // The context window is full: rebuild the cache from the newest tokens.
        cache = model.createCache!();
        feed = tokens.map((r) => r.slice(-limit));
      }
      return [lastLogits(model.forward(batch(feed), { cache })), { tokens, cache }];
    },
    select(state, rows) {
      return {
        tokens: rows.map((r) => state.tokens[r]!),
        cache: state.cache ? state.cache.select(rows) : null,
      };
    },
  };
}

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to add to each prompt. */
  maxNewTokens: number;
  /** Stop a row at this token (kept in the output). */
  eos?: number;
  /** Reuse keys and values through a KVCache when the model supports it (true). */
  useCache?: boolean;
}

/**
 * Continues each prompt row (all the same length, at least one token)
 * with a decoder-only model: greedy by default, or sampled with
 * temperature/topK/topP. Returns each row's prompt plus its new tokens.
 *
 * @example
 * const gpt = new fl.text.GPT({ vocabSize: 27, blockSize: 16, nEmbd: 32, nHead: 4, nLayer: 2 });
 * fl.text.generate(gpt, [[0], [0]], { maxNewTokens: 10, temperature: 0.8, topK: 5, eos: 0 });
 */
export function generate(
  model: CausalLM,
  prompt: number[][] | Tensor,
  opts: GenerateOptions,
): number[][] {
  const rows =
    prompt instanceof Tensor ? (prompt.tolistSync() as number[][]) : prompt.map((r) => [...r]);
  if (rows.length === 0 || rows[0]!.length === 0 || rows.some((r) => r.length !== rows[0]!.length))
    throw new ArgumentError("generate: the prompt must be non-empty rows of equal length");
  const dec = causalLMDecoder(model, { useCache: opts.useCache });
  const out = decode(
    dec,
    dec.prime(rows),
    rows.map((r) => r[r.length - 1]!),
    {
      ...opts,
      maxLength: opts.maxNewTokens,
    },
  );
  // decode drops eos; put it back where a row stopped early.
  return rows.map((r, i) => {
    const add = out[i]!;
    const stopped = opts.eos !== undefined && add.length < opts.maxNewTokens;
    return stopped ? [...r, ...add, opts.eos!] : [...r, ...add];
  });
}
