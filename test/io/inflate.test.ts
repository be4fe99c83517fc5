import assert from "node:assert/strict";
import { test } from "node:test";
import { deflateRawSync } from "node:zlib";
import * as fl from "../../src/index.js";
import { inflate } from "../../src/io/inflate.js";

test("inflate matches zlib on stored, fixed and dynamic blocks", () => {
  const text = new TextEncoder().encode("the quick brown fox jumps over the lazy dog ".repeat(300));
  const noise = new Uint8Array(5000).map((_, i) => (i * 2654435761) >>> 24);
  const floats = new Uint8Array(fl.randn([2000]).dataSync().buffer);
  for (const data of [new Uint8Array(0), text, noise, floats]) {
    for (const level of [0, 1, 6, 9]) {
      const packed = deflateRawSync(data, { level });
      assert.deepEqual(
        inflate(packed, data.length, "t"),
        data,
        `level ${level}, ${data.length} bytes`,
      );
    }
    // Fixed Huffman codes only.
    const fixed = deflateRawSync(data, { strategy: 4 });
    assert.deepEqual(inflate(fixed, data.length, "t"), data);
  }
});

test("inflate refuses output beyond the declared size, and short streams", () => {
  const data = new Uint8Array(1000).fill(7);
  const packed = deflateRawSync(data);
  assert.throws(() => inflate(packed, 999, "t"), /more than the declared 999 bytes/);
  assert.throws(() => inflate(packed, 1001, "t"), /produced 1000 bytes, declared 1001/);
  assert.throws(() => inflate(packed.subarray(0, 3), 1000, "t"), fl.FormatError);
});
