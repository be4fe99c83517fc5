// A word-level tokenizer with a vocabulary cap: lowercase words, numbers
// and single punctuation marks; the most frequent `maxSize` tokens get ids
// and the rest map to "<unk>". The usual tokenizer of bag-of-words and
// small RNN text classifiers.
import { ArgumentError, FormatError } from "../errors.js";
import { readJSON, writeJSON } from "./files.js";

const WORD = /\p{L}[\p{L}\p{M}']*|\p{N}+|[^\s\p{L}\p{N}]/gu;

export interface WordTokenizerJSON {
  type: "word";
  tokens: string[];
}

/**
 * Words to ids with "<pad>" = 0 and "<unk>" = 1.
 *
 * @example
 * const tok = fl.text.WordTokenizer.fromCorpus(["the cat sat", "the dog"], { maxSize: 5 });
 * tok.encode("the cat ran"); // [2, 3, 1]: "ran" is unknown
 */
export class WordTokenizer {
  static readonly PAD = 0;
  static readonly UNK = 1;
  readonly tokens: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(tokens: readonly string[]) {
    if (tokens[0] !== "<pad>" || tokens[1] !== "<unk>")
      throw new ArgumentError(
        `WordTokenizer: the first tokens must be "<pad>" and "<unk>", got ${JSON.stringify(tokens.slice(0, 2))}`,
      );
    this.tokens = [...tokens];
    this.ids = new Map(this.tokens.map((t, i) => [t, i]));
  }

  /** Splits text into lowercase words, numbers and punctuation marks. */
  static split(text: string): string[] {
    return text.toLowerCase().match(WORD) ?? [];
  }

  /**
   * Keeps the maxSize most frequent tokens (counting "<pad>" and "<unk>")
   * that occur at least minFrequency times; ties go in order of first appearance.
   */
  static fromCorpus(
    texts: Iterable<string>,
    opts: { maxSize: number; minFrequency?: number },
  ): WordTokenizer {
    const counts = new Map<string, number>();
    for (const t of texts)
      for (const w of WordTokenizer.split(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const min = opts.minFrequency ?? 1;
    const kept = [...counts.entries()]
      .filter(([, c]) => c >= min)
      .sort((a, b) => b[1] - a[1])
      .slice(0, Math.max(0, opts.maxSize - 2))
      .map(([w]) => w);
    return new WordTokenizer(["<pad>", "<unk>", ...kept]);
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  encode(text: string): number[] {
    return WordTokenizer.split(text).map((w) => this.ids.get(w) ?? WordTokenizer.UNK);
  }

  decode(ids: readonly number[]): string {
    return ids
      .filter((i) => i !== WordTokenizer.PAD)
      .map((i) => this.tokens[i] ?? "<unk>")
      .join(" ");
  }

  toJSON(): WordTokenizerJSON {
    return { type: "word", tokens: [...this.tokens] };
  }

  static fromJSON(json: WordTokenizerJSON): WordTokenizer {
    if (json?.type !== "word" || !Array.isArray(json.tokens))
      throw new FormatError(`WordTokenizer.fromJSON: expected {type: "word", tokens: [...]}`);
    return new WordTokenizer(json.tokens);
  }

  save(path: string): void {
    writeJSON("WordTokenizer.save", path, this.toJSON());
  }

  static load(path: string): WordTokenizer {
    return WordTokenizer.fromJSON(readJSON("WordTokenizer.load", path) as WordTokenizerJSON);
  }
}
