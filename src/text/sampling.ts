// Choosing the next token from a model's logits: greedy (argmax), or a
// draw from softmax(logits / temperature) restricted to the k most likely
// tokens (top-k) and/or the smallest set whose probability reaches p
// (top-p, "nucleus" sampling, Holtzman et al., 2019).
//
// Runs on plain arrays: one row of V numbers per sequence is tiny next to
// the model, and exact control of ties and draws makes sampling
// reproducible from a seeded Generator.
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import { defaultGenerator, type Generator } from "../random.js";
import { Tensor } from "../tensor/tensor.js";

export interface SamplingOptions {
  /** false picks the argmax (greedy); true draws (default true when temperature, topK or topP is given). */
  doSample?: boolean;
  /** Divides the logits; < 1 sharpens, > 1 flattens (1). */
  temperature?: number;
  /** Keep only the k most likely tokens (off). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose mass is ≥ p (off). */
  topP?: number;
  /** Random source (the default generator). */
  generator?: Generator;
}

/** Index of the largest value (the first one on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** softmax(logits / temperature) as a Float64Array. */
export function softmaxRow(logits: ArrayLike<number>, temperature = 1): Float64Array {
  if (!(temperature > 0))
    throw new ArgumentError(`sampling: temperature must be > 0, got ${temperature}`);
  const out = new Float64Array(logits.length);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]! / temperature);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i]! / temperature - max);
    sum += out[i]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** Token ids by decreasing probability (lower id first on ties). */
function ranked(probs: ArrayLike<number>): number[] {
  return Array.from({ length: probs.length }, (_, i) => i).sort(
    (a, b) => probs[b]! - probs[a]! || a - b,
  );
}

/**
 * Zeroes all but the k most likely tokens and renormalizes.
 *
 * @example
 * fl.text.topKFilter([0.1, 0.5, 0.4], 2); // [0, 0.5/0.9, 0.4/0.9]
 */
export function topKFilter(probs: ArrayLike<number>, k: number): Float64Array {
  if (!Number.isInteger(k) || k < 1)
    throw new ArgumentError(`topK: k must be a positive integer, got ${k}`);
  const keep = ranked(probs).slice(0, k);
  return renormalized(probs, keep);
}

/**
 * Keeps the smallest set of most likely tokens whose total probability is
 * at least p, zeroes the rest and renormalizes.
 *
 * @example
 * fl.text.topPFilter([0.5, 0.3, 0.2], 0.7); // [0.625, 0.375, 0]
 */
export function topPFilter(probs: ArrayLike<number>, p: number): Float64Array {
  if (!(p > 0 && p <= 1)) throw new ArgumentError(`topP: p must be in (0, 1], got ${p}`);
  const order = ranked(probs);
  const keep: number[] = [];
  let mass = 0;
  for (const i of order) {
    keep.push(i);
    mass += probs[i]!;
    // A tiny tolerance so that p = 1 keeps exactly the tokens with mass.
    if (mass >= p - 1e-12) break;
  }
  return renormalized(probs, keep);
}

function renormalized(probs: ArrayLike<number>, keep: number[]): Float64Array {
  const out = new Float64Array(probs.length);
  let sum = 0;
  for (const i of keep) sum += probs[i]!;
  for (const i of keep) out[i] = probs[i]! / sum;
  return out;
}

/** One draw from a categorical distribution (inverse CDF on a 53-bit uniform). */
export function drawCategorical(
  probs: ArrayLike<number>,
  generator: Generator = defaultGenerator,
): number {
  const u = generator.uniform53();
  let acc = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! <= 0) continue;
    acc += probs[i]!;
    last = i;
    if (u < acc) return i;
  }
  return last; // rounding left u just above the total
}

/** The next token for one row of logits. */
export function sampleRow(logits: ArrayLike<number>, opts: SamplingOptions = {}): number {
  const sample =
    opts.doSample ??
    (opts.temperature !== undefined || opts.topK !== undefined || opts.topP !== undefined);
  if (!sample) return argmax(logits);
  let probs = softmaxRow(logits, opts.temperature ?? 1);
  if (opts.topK !== undefined) probs = topKFilter(probs, Math.min(opts.topK, probs.length));
  if (opts.topP !== undefined) probs = topPFilter(probs, opts.topP);
  return drawCategorical(probs, opts.generator ?? defaultGenerator);
}

/**
 * The next token of each sequence from logits (V) or (N, V): argmax when
 * doSample is false, else a draw with temperature, topK and topP.
 * Returns int32 ids: a scalar for (V), (N) for (N, V).
 *
 * @example
 * fl.text.sampleLogits(fl.tensor([[1, 3, 2]])).tolistSync(); // [1] (greedy)
 * fl.manualSeed(0);
 * fl.text.sampleLogits(fl.tensor([1, 3, 2]), { temperature: 0.8, topK: 2 }); // 1 or 2
 */
export function sampleLogits(logits: Tensor, opts: SamplingOptions = {}): Tensor {
  if (logits.ndim !== 1 && logits.ndim !== 2)
    throw new ShapeError(
      `sampleLogits: logits must be (V) or (N, V), got ${fmtShape(logits.shape)}`,
    );
  const rows = logitRows(logits);
  const ids = rows.map((r) => sampleRow(r, opts));
  const shape = logits.ndim === 1 ? [] : [ids.length];
  return Tensor.fromArray(Int32Array.from(ids), shape, "cpu", "int32");
}

/** The rows of an (N, V) (or (V)) tensor as Float64Arrays. */
export function logitRows(logits: Tensor): Float64Array[] {
  const V = logits.shape[logits.ndim - 1]!;
  const flat = Float64Array.from(logits.detach().contiguous().dataSync() as ArrayLike<number>);
  const n = flat.length / V;
  return Array.from({ length: n }, (_, i) => flat.subarray(i * V, (i + 1) * V));
}
