// A character-level tokenizer: one id per character, special tokens first.
// The classic tokenizer of character language models (names, CMUdict
// spellings), where the vocabulary is a few dozen symbols.
import { ArgumentError, FormatError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { readJSON, writeJSON } from "./files.js";

export interface CharTokenizerJSON {
  type: "char";
  /** Every token, by id: the specials, then the characters. */
  tokens: string[];
  specials: string[];
}

/**
 * Maps characters to ids and back. Specials (a boundary token such as ".",
 * a padding token) take the first ids; the corpus's characters follow in
 * code-point order, so the same corpus always gives the same ids.
 *
 * @example
 * const tok = fl.text.CharTokenizer.fromCorpus(["emma", "ava"], { specials: ["."] });
 * tok.vocabSize; // 5: ".", "a", "e", "m", "v"
 * tok.encode("ava"); // [1, 4, 1]
 * tok.decode([2, 3, 3, 1]); // "emma"
 */
export class CharTokenizer {
  readonly tokens: readonly string[];
  readonly specials: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(tokens: readonly string[], specials: readonly string[] = []) {
    this.tokens = [...tokens];
    this.specials = [...specials];
    this.ids = new Map();
    this.tokens.forEach((t, i) => {
      if (this.ids.has(t))
        throw new ArgumentError(`CharTokenizer: token ${JSON.stringify(t)} appears twice`);
      this.ids.set(t, i);
    });
    for (const s of this.specials)
      if (!this.ids.has(s))
        throw new ArgumentError(`CharTokenizer: special ${JSON.stringify(s)} is not a token`);
  }

  /** Builds the vocabulary from every character of the texts. */
  static fromCorpus(texts: Iterable<string>, opts: { specials?: string[] } = {}): CharTokenizer {
    const specials = opts.specials ?? [];
    const chars = new Set<string>();
    for (const t of texts) for (const c of t) chars.add(c);
    for (const s of specials) chars.delete(s);
    const sorted = [...chars].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer([...specials, ...sorted], specials);
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The id of one token (a character or a special). */
  tokenToId(token: string): number {
    const id = this.ids.get(token);
    if (id === undefined)
      throw new ArgumentError(
        `CharTokenizer: ${JSON.stringify(token)} is not in the vocabulary of ${this.vocabSize} tokens`,
      );
    return id;
  }

  /** One id per character (code point). */
  encode(text: string): number[] {
    return Array.from(text, (c) => this.tokenToId(c));
  }

  /** Joins the tokens of the ids; `skipSpecials` drops specials. */
  decode(ids: readonly number[] | Tensor, opts: { skipSpecials?: boolean } = {}): string {
    const list: ArrayLike<number> = Array.isArray(ids)
      ? ids
      : ((ids as Tensor).contiguous().dataSync() as ArrayLike<number>);
    const skip = new Set(opts.skipSpecials ? this.specials : []);
    let out = "";
    for (const id of Array.from(list)) {
      const t = this.tokens[id];
      if (t === undefined)
        throw new ArgumentError(`CharTokenizer.decode: id ${id} is outside [0, ${this.vocabSize})`);
      if (!skip.has(t)) out += t;
    }
    return out;
  }

  toJSON(): CharTokenizerJSON {
    return { type: "char", tokens: [...this.tokens], specials: [...this.specials] };
  }

  static fromJSON(json: CharTokenizerJSON): CharTokenizer {
    if (json?.type !== "char" || !Array.isArray(json.tokens))
      throw new FormatError(
        `CharTokenizer.fromJSON: expected {type: "char", tokens: [...]}, got ${JSON.stringify(json)?.slice(0, 80)}`,
      );
    return new CharTokenizer(json.tokens, json.specials ?? []);
  }

  /** Writes the tokenizer as JSON (Node). */
  save(path: string): void {
    writeJSON("CharTokenizer.save", path, this.toJSON());
  }

  /** Reads a tokenizer written by save (Node). */
  static load(path: string): CharTokenizer {
    return CharTokenizer.fromJSON(readJSON("CharTokenizer.load", path) as CharTokenizerJSON);
  }
}
