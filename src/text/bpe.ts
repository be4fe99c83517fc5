// Byte-level byte-pair encoding (Sennrich et al., 2016; GPT-2's byte-level
// variant). Text is UTF-8 bytes, so every string encodes and nothing is
// ever unknown. The 256 byte values are the first ids; training then
// repeatedly merges the most frequent adjacent pair into a new token, and
// encoding replays those merges in the order they were learned.
//
// Before counting, text is split into chunks (words with their leading
// space, numbers, punctuation runs, whitespace) so merges never cross a
// word boundary, as in GPT-2.
import { ArgumentError, FormatError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { readJSON, writeJSON } from "./files.js";

const CHUNK = /'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const MAX_VOCAB = 0x10000;

const utf8 = new TextEncoder();

// A pair (a, b) of token ids as one number, so it can key a Map.
const pairKey = (a: number, b: number) => a * MAX_VOCAB + b;

/** Splits text into the chunks BPE merges within (exported for tests). */
export function pretokenize(text: string): string[] {
  return text.match(CHUNK) ?? [];
}

export interface BPETrainOptions {
  /** Final vocabulary size: 256 bytes + merges + special tokens. */
  vocabSize: number;
  /** Tokens never split or merged, such as "<|endoftext|>"; they get the last ids. */
  specialTokens?: string[];
  /** Stop merging when the best pair occurs fewer times than this (2). */
  minFrequency?: number;
}

export interface ByteBPEJSON {
  type: "byte-bpe";
  /** Merge i joins tokens [a, b] into token 256 + i. */
  merges: [number, number][];
  specialTokens: string[];
}

/**
 * A byte-level BPE tokenizer: train it on a corpus, then encode text to
 * ids and decode ids back to the same text.
 *
 * @example
 * const tok = fl.text.ByteBPETokenizer.train(["low lower lowest", "low low"], { vocabSize: 260 });
 * const ids = tok.encode("lower");
 * tok.decode(ids); // "lower"
 * ids.length < 5; // true: "low" became one token
 */
export class ByteBPETokenizer {
  readonly merges: readonly [number, number][];
  readonly specialTokens: readonly string[];
  private readonly ranks = new Map<number, number>();
  private readonly vocab: Uint8Array[] = [];
  private readonly cache = new Map<string, number[]>();
  private readonly specialIds = new Map<string, number>();
  private readonly specialPattern: RegExp | null;

  constructor(merges: readonly [number, number][], specialTokens: readonly string[] = []) {
    this.merges = merges.map(([a, b]) => [a, b] as [number, number]);
    this.specialTokens = [...specialTokens];
    for (let i = 0; i < 256; i++) this.vocab.push(Uint8Array.of(i));
    this.merges.forEach(([a, b], i) => {
      const id = 256 + i;
      if (!(a < id && b < id && a >= 0 && b >= 0))
        throw new FormatError(
          `ByteBPETokenizer: merge ${i} joins [${a}, ${b}], which are not earlier tokens`,
        );
      const bytes = new Uint8Array(this.vocab[a]!.length + this.vocab[b]!.length);
      bytes.set(this.vocab[a]!, 0);
      bytes.set(this.vocab[b]!, this.vocab[a]!.length);
      this.vocab.push(bytes);
      this.ranks.set(pairKey(a, b), i);
    });
    this.specialTokens.forEach((s, i) => {
      this.specialIds.set(s, 256 + this.merges.length + i);
      this.vocab.push(utf8.encode(s));
    });
    if (this.vocab.length > MAX_VOCAB)
      throw new ArgumentError(
        `ByteBPETokenizer: at most ${MAX_VOCAB} tokens, got ${this.vocab.length}`,
      );
    const escaped = this.specialTokens.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    this.specialPattern = escaped.length ? new RegExp(`(${escaped.join("|")})`, "u") : null;
  }

  /**
   * Learns merges from a corpus until the vocabulary reaches vocabSize (or
   * no pair occurs minFrequency times). Ties go to the pair with the
   * smaller ids, so training is deterministic.
   */
  static train(corpus: Iterable<string>, opts: BPETrainOptions): ByteBPETokenizer {
    const specials = opts.specialTokens ?? [];
    const target = opts.vocabSize - 256 - specials.length;
    if (!Number.isInteger(opts.vocabSize) || target < 0 || opts.vocabSize > MAX_VOCAB)
      throw new ArgumentError(
        `ByteBPETokenizer.train: vocabSize must be an integer in [${256 + specials.length}, ${MAX_VOCAB}], got ${opts.vocabSize}`,
      );
    const minFrequency = opts.minFrequency ?? 2;
    // Distinct chunks with their counts: merges are counted once per chunk type.
    const counts = new Map<string, number>();
    for (const text of corpus)
      for (const piece of splitSpecials(text, specials))
        if (!specials.includes(piece))
          for (const c of pretokenize(piece)) counts.set(c, (counts.get(c) ?? 0) + 1);
    const words = [...counts.keys()].map((w) => Array.from(utf8.encode(w)));
    const freq = [...counts.values()];
    const merges: [number, number][] = [];
    for (let m = 0; m < target; m++) {
      const pairs = new Map<number, number>();
      words.forEach((w, i) => {
        for (let j = 0; j + 1 < w.length; j++) {
          const k = pairKey(w[j]!, w[j + 1]!);
          pairs.set(k, (pairs.get(k) ?? 0) + freq[i]!);
        }
      });
      let best = -1;
      let bestCount = 0;
      for (const [k, c] of pairs)
        if (c > bestCount || (c === bestCount && k < best)) [best, bestCount] = [k, c];
      if (best < 0 || bestCount < minFrequency) break;
      const a = Math.floor(best / MAX_VOCAB);
      const b = best % MAX_VOCAB;
      const id = 256 + merges.length;
      merges.push([a, b]);
      for (let i = 0; i < words.length; i++) words[i] = mergePair(words[i]!, a, b, id);
    }
    return new ByteBPETokenizer(merges, specials);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** The id of a special token. */
  specialId(token: string): number {
    const id = this.specialIds.get(token);
    if (id === undefined)
      throw new ArgumentError(
        `ByteBPETokenizer: ${JSON.stringify(token)} is not a special token (${this.specialTokens.join(", ") || "none"})`,
      );
    return id;
  }

  /** Text to ids; special tokens in the text become their single id. */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const piece of splitSpecials(text, this.specialTokens, this.specialPattern)) {
      const special = this.specialIds.get(piece);
      if (special !== undefined) {
        out.push(special);
        continue;
      }
      for (const chunk of pretokenize(piece)) out.push(...this.encodeChunk(chunk));
    }
    return out;
  }

  /** Ids back to text (invalid UTF-8, from a cut-off sequence, becomes U+FFFD). */
  decode(ids: readonly number[] | Tensor): string {
    const list: ArrayLike<number> = Array.isArray(ids)
      ? ids
      : ((ids as Tensor).contiguous().dataSync() as ArrayLike<number>);
    const parts: Uint8Array[] = [];
    let n = 0;
    for (const id of Array.from(list)) {
      const bytes = this.vocab[id];
      if (!bytes)
        throw new ArgumentError(
          `ByteBPETokenizer.decode: id ${id} is outside [0, ${this.vocabSize})`,
        );
      parts.push(bytes);
      n += bytes.length;
    }
    const all = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return new TextDecoder().decode(all);
  }

  /** The bytes of a token as text (for inspecting the vocabulary). */
  idToToken(id: number): string {
    return new TextDecoder().decode(this.vocab[id]);
  }

  private encodeChunk(chunk: string): number[] {
    const hit = this.cache.get(chunk);
    if (hit) return hit;
    let ids = Array.from(utf8.encode(chunk));
    // Replay merges by rank: the earliest-learned pair present goes first.
    for (;;) {
      let bestRank = Number.POSITIVE_INFINITY;
      for (let j = 0; j + 1 < ids.length; j++) {
        const r = this.ranks.get(pairKey(ids[j]!, ids[j + 1]!));
        if (r !== undefined && r < bestRank) bestRank = r;
      }
      if (bestRank === Number.POSITIVE_INFINITY) break;
      const [a, b] = this.merges[bestRank]!;
      ids = mergePair(ids, a, b, 256 + bestRank);
    }
    if (this.cache.size < 100_000) this.cache.set(chunk, ids);
    return ids;
  }

  toJSON(): ByteBPEJSON {
    return {
      type: "byte-bpe",
      merges: this.merges.map(([a, b]) => [a, b]),
      specialTokens: [...this.specialTokens],
    };
  }

  static fromJSON(json: ByteBPEJSON): ByteBPETokenizer {
    if (json?.type !== "byte-bpe" || !Array.isArray(json.merges))
      throw new FormatError(
        `ByteBPETokenizer.fromJSON: expected {type: "byte-bpe", merges: [...]}, got ${JSON.stringify(json)?.slice(0, 80)}`,
      );
    return new ByteBPETokenizer(json.merges, json.specialTokens ?? []);
  }

  /** Writes the tokenizer as JSON (Node). */
  save(path: string): void {
    writeJSON("ByteBPETokenizer.save", path, this.toJSON());
  }

  /** Reads a tokenizer written by save (Node). */
  static load(path: string): ByteBPETokenizer {
    return ByteBPETokenizer.fromJSON(readJSON("ByteBPETokenizer.load", path) as ByteBPEJSON);
  }
}

/** Replaces each non-overlapping (a, b), left to right, with id. */
function mergePair(ids: number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < ids.length; j++) {
    if (j + 1 < ids.length && ids[j] === a && ids[j + 1] === b) {
      out.push(id);
      j++;
    } else out.push(ids[j]!);
  }
  return out;
}

/** Splits text around special tokens, keeping them as their own pieces. */
function splitSpecials(
  text: string,
  specials: readonly string[],
  pattern: RegExp | null = null,
): string[] {
  if (specials.length === 0) return [text];
  const re =
    pattern ??
    new RegExp(`(${specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})`, "u");
  return text.split(re).filter((p) => p.length > 0);
}
