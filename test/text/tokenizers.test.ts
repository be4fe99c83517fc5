import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { CharTokenizer, ByteBPETokenizer, WordTokenizer } = fl.text;

describe("CharTokenizer", () => {
  const tok = CharTokenizer.fromCorpus(["emma", "ava", "zoë"], { specials: ["."] });

  test("specials first, then characters in code-point order", () => {
    assert.deepEqual(tok.tokens, [".", "a", "e", "m", "o", "v", "z", "ë"]);
    assert.equal(tok.vocabSize, 8);
  });

  test("encode/decode round trip, skipSpecials drops the boundary token", () => {
    assert.deepEqual(tok.encode("emma"), [2, 3, 3, 1]);
    assert.equal(tok.decode(tok.encode("zoë")), "zoë");
    assert.equal(tok.decode([0, 2, 3, 3, 1, 0], { skipSpecials: true }), "emma");
    assert.equal(tok.decode(fl.tensor([1, 5, 1], { dtype: "int32" })), "ava");
  });

  test("unknown characters and ids are ArgumentErrors naming the problem", () => {
    assert.throws(
      () => tok.encode("bob"),
      (e: Error) => e instanceof fl.ArgumentError && /"b"/.test(e.message),
    );
    assert.throws(() => tok.decode([99]), fl.ArgumentError);
  });

  test("JSON and file round trips", () => {
    const back = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    assert.deepEqual(back.tokens, tok.tokens);
    const path = join(mkdtempSync(join(tmpdir(), "flint-tok-")), "chars.json");
    tok.save(path);
    assert.deepEqual(CharTokenizer.load(path).encode("emma"), tok.encode("emma"));
    assert.throws(() => CharTokenizer.fromJSON({ type: "bpe" } as never), fl.FormatError);
  });
});

describe("ByteBPETokenizer", () => {
  const corpus = ["low lower lowest", "low low newer newest", "wider widest"];

  test("pretokenize keeps leading spaces with words and splits numbers and punctuation", () => {
    assert.deepEqual(fl.text.pretokenize("Hi there, it's 2024!"), [
      "Hi",
      " there",
      ",",
      " it",
      "'s",
      " 2024",
      "!",
    ]);
  });

  test("the first merge is the most frequent adjacent byte pair (counted by hand)", () => {
    // Count pairs inside chunks independently of the implementation.
    const counts = new Map<string, number>();
    for (const text of corpus)
      for (const chunk of fl.text.pretokenize(text)) {
        const b = Array.from(new TextEncoder().encode(chunk));
        for (let i = 0; i + 1 < b.length; i++) {
          const k = `${b[i]},${b[i + 1]}`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
      }
    const max = Math.max(...counts.values());
    const best = [...counts.entries()]
      .filter(([, c]) => c === max)
      .map(([k]) => k.split(",").map(Number) as [number, number])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])[0]!;
    const tok = ByteBPETokenizer.train(corpus, { vocabSize: 257 });
    assert.deepEqual(tok.merges[0], best);
    assert.equal(tok.vocabSize, 257);
  });

  test("learned merges shorten text and every string round-trips exactly, unicode included", () => {
    const tok = ByteBPETokenizer.train(corpus, { vocabSize: 280 });
    const ids = tok.encode("lowest lower");
    assert.ok(ids.length < new TextEncoder().encode("lowest lower").length);
    for (const s of [
      "lowest lower",
      "naïve café 😀 日本語",
      "",
      "  spaces\n\ttabs  ",
      "unseen xyz 123",
    ])
      assert.equal(tok.decode(tok.encode(s)), s);
  });

  test("training is deterministic and stops when no pair repeats", () => {
    const a = ByteBPETokenizer.train(corpus, { vocabSize: 300 });
    const b = ByteBPETokenizer.train(corpus, { vocabSize: 300 });
    assert.deepEqual(a.merges, b.merges);
    const tiny = ByteBPETokenizer.train(["abcdef"], { vocabSize: 400 });
    assert.equal(tiny.merges.length, 0); // every pair occurs once (< minFrequency 2)
  });

  test("special tokens are single ids and never split", () => {
    const tok = ByteBPETokenizer.train(corpus, {
      vocabSize: 270,
      specialTokens: ["<|endoftext|>"],
    });
    const eot = tok.specialId("<|endoftext|>");
    assert.equal(eot, tok.vocabSize - 1);
    const ids = tok.encode("low<|endoftext|>lower");
    assert.equal(ids.filter((i) => i === eot).length, 1);
    assert.equal(tok.decode(ids), "low<|endoftext|>lower");
  });

  test("save/load and JSON keep the encoding", () => {
    const tok = ByteBPETokenizer.train(corpus, { vocabSize: 275, specialTokens: ["<pad>"] });
    const path = join(mkdtempSync(join(tmpdir(), "flint-bpe-")), "bpe.json");
    tok.save(path);
    const back = ByteBPETokenizer.load(path);
    assert.deepEqual(back.encode("the lowest newer <pad>"), tok.encode("the lowest newer <pad>"));
    assert.throws(
      () => ByteBPETokenizer.fromJSON({ type: "byte-bpe", merges: [[300, 1]] } as never),
      fl.FormatError,
    );
    assert.throws(() => ByteBPETokenizer.train(corpus, { vocabSize: 100 }), fl.ArgumentError);
  });
});

describe("WordTokenizer", () => {
  test("caps the vocabulary by frequency and maps the rest to <unk>", () => {
    const tok = WordTokenizer.fromCorpus(["the cat sat", "the dog sat", "the end"], { maxSize: 4 });
    assert.deepEqual(tok.tokens, ["<pad>", "<unk>", "the", "sat"]);
    assert.deepEqual(tok.encode("The cat SAT!"), [2, 1, 3, 1]);
    assert.deepEqual(WordTokenizer.split("Don't stop, 42x"), ["don't", "stop", ",", "42", "x"]);
    assert.deepEqual(WordTokenizer.fromJSON(tok.toJSON()).tokens, tok.tokens);
  });
});
