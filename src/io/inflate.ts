// A small DEFLATE decoder (RFC 1951) for zip entries someone re-compressed;
// torch.save itself stores entries uncompressed. Decoding walks canonical
// Huffman codes one bit at a time: slow next to zlib, but short, and the
// output size is fixed in advance, so a hostile stream cannot grow memory.
import { FormatError } from "../errors.js";

const LENGTH_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
  163, 195, 227, 258,
];
const LENGTH_EXTRA = [
  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
  3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  counts: Int32Array;
  symbols: Int32Array;
}

function huffman(lengths: ArrayLike<number>): Huffman {
  const counts = new Int32Array(16);
  for (let i = 0; i < lengths.length; i++) counts[lengths[i]!]!++;
  counts[0] = 0;
  const offsets = new Int32Array(16);
  for (let len = 1; len < 16; len++) offsets[len] = offsets[len - 1]! + counts[len - 1]!;
  const symbols = new Int32Array(lengths.length);
  for (let i = 0; i < lengths.length; i++) if (lengths[i]) symbols[offsets[lengths[i]!]!++] = i;
  return { counts, symbols };
}

function fixedCodes(): [Huffman, Huffman] {
  const lit = new Array<number>(288);
  for (let i = 0; i < 288; i++) lit[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
  return [huffman(lit), huffman(new Array<number>(30).fill(5))];
}

/** Inflates a raw DEFLATE stream that must produce exactly `size` bytes. */
export function inflate(src: Uint8Array, size: number, what: string): Uint8Array {
  const fail = (msg: string): never => {
    throw new FormatError(`load: zip archive: entry ${what}: bad deflate data (${msg})`);
  };
  const out = new Uint8Array(size);
  let outPos = 0;
  let bitPos = 0;
  const bits = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++, bitPos++) {
      const byte = bitPos >>> 3;
      if (byte >= src.length) fail("ran out of input");
      v |= ((src[byte]! >>> (bitPos & 7)) & 1) << i;
    }
    return v;
  };
  const decode = (h: Huffman): number => {
    // Canonical codes of one length are consecutive; walk lengths 1..15.
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      code |= bits(1);
      const count = h.counts[len]!;
      if (code - first < count) return h.symbols[index + code - first]!;
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    return fail("invalid Huffman code");
  };

  let final = 0;
  while (!final) {
    final = bits(1);
    const type = bits(2);
    if (type === 0) {
      bitPos = (bitPos + 7) & ~7;
      const len = bits(16);
      if ((bits(16) ^ 0xffff) !== len) fail("stored block length check failed");
      const start = bitPos >>> 3;
      if (start + len > src.length) fail("ran out of input");
      if (outPos + len > size) fail(`more than the declared ${size} bytes`);
      out.set(src.subarray(start, start + len), outPos);
      outPos += len;
      bitPos += len * 8;
      continue;
    }
    if (type === 3) fail("reserved block type");
    let lit: Huffman;
    let dist: Huffman;
    if (type === 1) [lit, dist] = fixedCodes();
    else {
      const nlen = bits(5) + 257;
      const ndist = bits(5) + 1;
      const ncode = bits(4) + 4;
      const codeLengths = new Array<number>(19).fill(0);
      for (let i = 0; i < ncode; i++) codeLengths[CODE_LENGTH_ORDER[i]!] = bits(3);
      const lencode = huffman(codeLengths);
      const lengths = new Array<number>(nlen + ndist).fill(0);
      for (let i = 0; i < nlen + ndist; ) {
        const sym = decode(lencode);
        if (sym < 16) lengths[i++] = sym;
        else {
          if (sym === 16 && i === 0) fail("repeat with no previous length");
          const prev = sym === 16 ? lengths[i - 1]! : 0;
          const repeat = sym === 16 ? 3 + bits(2) : sym === 17 ? 3 + bits(3) : 11 + bits(7);
          if (i + repeat > nlen + ndist) fail("code lengths overflow");
          for (let r = 0; r < repeat; r++) lengths[i++] = prev;
        }
      }
      lit = huffman(lengths.slice(0, nlen));
      dist = huffman(lengths.slice(nlen));
    }
    for (;;) {
      const sym = decode(lit);
      if (sym < 256) {
        if (outPos >= size) fail(`more than the declared ${size} bytes`);
        out[outPos++] = sym;
      } else if (sym === 256) break;
      else {
        const li = sym - 257;
        if (li >= 29) fail("invalid length symbol");
        const len = LENGTH_BASE[li]! + bits(LENGTH_EXTRA[li]!);
        const di = decode(dist);
        if (di >= 30) fail("invalid distance symbol");
        const d = DIST_BASE[di]! + bits(DIST_EXTRA[di]!);
        if (d > outPos) fail("distance reaches before the start");
        if (outPos + len > size) fail(`more than the declared ${size} bytes`);
        for (let k = 0; k < len; k++, outPos++) out[outPos] = out[outPos - d]!;
      }
    }
  }
  if (outPos !== size) fail(`produced ${outPos} bytes, declared ${size}`);
  return out;
}
