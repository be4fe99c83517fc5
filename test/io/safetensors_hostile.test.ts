// Hand-crafted malformed and hostile safetensors files: each must be refused
// with a FormatError that names the problem, never another error, a hang or
// a huge allocation.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

/** A file from a header string (padded as given) and a data section. */
function file(
  header: string,
  data: number[] | Uint8Array = [],
  declaredLength?: number,
): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => fl.deserialize(bytes),
    (e: Error) => {
      assert.ok(e instanceof fl.FormatError, `expected a FormatError, got ${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

const T = (dtype: string, shape: number[], offsets: unknown) =>
  JSON.stringify({ dtype, shape, data_offsets: offsets });

describe("safetensors validation", () => {
  test("file shorter than 8 bytes", () => {
    rejects(new Uint8Array(0), /0 bytes, shorter than its 8-byte header length/);
    rejects(new Uint8Array([2, 0, 0]), /3 bytes/);
  });

  test("header length past the file or absurd", () => {
    rejects(file("{}", [], 4096), /header length 4096 exceeds the file/);
    rejects(file("{}", [], 200_000_000), /header length 200000000 is absurd/);
    const huge = file("{}");
    new DataView(huge.buffer).setUint32(4, 0xffffffff, true);
    rejects(huge, /absurd/);
  });

  test("header not UTF-8, not JSON, not an object", () => {
    const bad = file("{}      ");
    bad[9] = 0xff;
    rejects(bad, /not valid UTF-8/);
    rejects(file('{"a": '), /not valid JSON/);
    rejects(file("[1,2,3] "), /must start with "\{"/);
    rejects(file(" {}     "), /must start with "\{"/);
    rejects(file("{}x"), /not valid JSON/);
  });

  test("unknown dtype", () => {
    rejects(
      file(`{"w":${T("F128", [1], [0, 16])}}`, new Array(16).fill(0)),
      /tensor "w": unknown dtype "F128"/,
    );
    rejects(file(`{"w":${T("f32", [1], [0, 4])}}`, [0, 0, 0, 0]), /unknown dtype "f32"/);
  });

  test("shape entries must be non-negative integers", () => {
    for (const shape of [[-1], [1.5], ["2"], [null]]) {
      rejects(
        file(
          `{"w":${JSON.stringify({ dtype: "F32", shape, data_offsets: [0, 4] })}}`,
          [0, 0, 0, 0],
        ),
        /shape must be a list of non-negative integers/,
      );
    }
    rejects(
      file(`{"w":{"dtype":"F32","shape":4,"data_offsets":[0,16]}}`, new Array(16).fill(0)),
      /shape must be a list/,
    );
  });

  test("data_offsets must be [begin, end] integers with end >= begin", () => {
    rejects(
      file(`{"w":${T("F32", [1], [0])}}`, [0, 0, 0, 0]),
      /data_offsets must be \[begin, end\]/,
    );
    rejects(file(`{"w":${T("F32", [1], [0, 4, 8])}}`, [0, 0, 0, 0]), /data_offsets must be/);
    rejects(file(`{"w":${T("F32", [1], [0, "4"])}}`, [0, 0, 0, 0]), /data_offsets must be/);
    rejects(file(`{"w":${T("F32", [0], [4, 0])}}`, [0, 0, 0, 0]), /end before they begin/);
    rejects(file(`{"w":{"dtype":"F32","shape":[1]}}`, [0, 0, 0, 0]), /data_offsets must be/);
  });

  test("byte length must equal numel x itemsize", () => {
    rejects(
      file(`{"w":${T("F32", [2, 3], [0, 20])}}`, new Array(20).fill(0)),
      /shape \[2,3\] of F32 needs 24 bytes but data_offsets \[0,20\] span 20/,
    );
    // A shape whose product is astronomically large, with a tiny buffer: refused, nothing allocated.
    rejects(
      file(`{"w":${T("F64", [2 ** 40, 2 ** 40], [0, 8])}}`, new Array(8).fill(0)),
      /needs .* bytes/,
    );
  });

  test("offsets out of the buffer", () => {
    rejects(
      file(`{"w":${T("F32", [4], [0, 16])}}`, [0, 0, 0, 0]),
      /run past the data section \(4 bytes\)/,
    );
    rejects(
      file(`{"w":${T("F32", [1], [2 ** 52, 2 ** 52 + 4])}}`, [0, 0, 0, 0]),
      /run past the data section/,
    );
  });

  test("overlapping, gapped or incomplete coverage", () => {
    const data = new Array(8).fill(0);
    rejects(
      file(`{"a":${T("F32", [2], [0, 8])},"b":${T("F32", [1], [4, 8])}}`, data),
      /tensor "b" data_offsets \[4,8\] overlaps/,
    );
    rejects(
      file(`{"a":${T("F32", [1], [4, 8])}}`, data),
      /tensor "a" data_offsets \[4,8\] leaves a gap/,
    );
    rejects(
      file(`{"a":${T("F32", [1], [0, 4])}}`, data),
      /cover 4 bytes but the data section holds 8/,
    );
    rejects(
      file(`{"a":${T("F32", [1], [0, 4])},"b":${T("F32", [1], [0, 4])}}`, [0, 0, 0, 0]),
      /overlaps/,
    );
  });

  test("duplicate keys", () => {
    rejects(
      file(`{"a":${T("F32", [1], [0, 4])},"a":${T("F32", [1], [4, 8])}}`, new Array(8).fill(0)),
      /duplicate key "a"/,
    );
    rejects(
      file(`{"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, [0, 0, 0, 0]),
      /duplicate key "dtype"/,
    );
    // Escapes spell the same key differently.
    rejects(
      file(`{"a":${T("F32", [0], [0, 0])},"\\u0061":${T("F32", [0], [0, 0])}}`),
      /duplicate key "a"/,
    );
  });

  test("metadata values must be strings", () => {
    rejects(
      file('{"__metadata__":{"epoch":3}}'),
      /"__metadata__" value for "epoch" must be a string, got number/,
    );
    rejects(file('{"__metadata__":["a"]}'), /"__metadata__" must be an object/);
    const ok = fl.deserializeWithMetadata(file('{"__metadata__":{"epoch":"3"}}'));
    assert.deepEqual(ok.metadata, { epoch: "3" });
  });

  test("a tensor entry that is not an object", () => {
    rejects(file('{"w":[1,2]}'), /tensor "w": expected \{dtype, shape, data_offsets\}/);
    rejects(file('{"w":null}'), /tensor "w": expected/);
  });
});

describe("safetensors fuzz", () => {
  // A small deterministic PRNG, so a failure reproduces.
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const valid = fl.serialize(
    {
      w: fl.randn([4, 3]),
      b: fl.tensor([1, 2, 3], { dtype: "int32" }),
      d: fl.randn([2], { dtype: "float64" }),
      m: fl.tensor([true, false]),
    },
    { note: "fuzz" },
  );

  function loadOrFormatError(bytes: Uint8Array, what: string): void {
    try {
      fl.deserialize(bytes);
    } catch (e) {
      if (!(e instanceof fl.FormatError))
        throw new Error(`${what}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }

  test("every truncation throws a FormatError", () => {
    for (let n = 0; n < valid.length; n++) {
      assert.throws(
        () => fl.deserialize(valid.subarray(0, n)),
        fl.FormatError,
        `truncated to ${n}`,
      );
    }
    assert.doesNotThrow(() => fl.deserialize(valid));
  });

  test("random byte flips load or throw a FormatError, never another error", () => {
    const next = rng(1234);
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = valid.slice();
      const flips = 1 + Math.floor(next() * 4);
      for (let k = 0; k < flips; k++)
        bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      loadOrFormatError(bytes, `trial ${trial}`);
    }
  });

  test("flips confined to the header (the interesting part) behave too", () => {
    const next = rng(99);
    const headerEnd = 8 + new DataView(valid.buffer).getUint32(0, true);
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = valid.slice();
      bytes[8 + Math.floor(next() * (headerEnd - 8))] = ' {}[],:"0123456789-.eE\\'[
        Math.floor(next() * 22)
      ]!.charCodeAt(0);
      loadOrFormatError(bytes, `trial ${trial}`);
    }
  });
});
