// A zip reader for PyTorch's archives: the central directory at the end
// lists every entry; each entry's data follows its local header. torch.save
// stores entries uncompressed (and pads local headers so data is aligned),
// so stored entries are returned as views; deflated ones (a .pt re-zipped
// by another tool) are inflated.
import { FormatError } from "../errors.js";
import { inflate } from "./inflate.js";

export interface ZipEntry {
  name: string;
  /** The entry's bytes (a view into the archive). */
  data(): Uint8Array;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** Lists a zip archive's entries by name. Every offset is bounds-checked. */
export function readZip(bytes: Uint8Array): Map<string, ZipEntry> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number) =>
    at + 4 <= bytes.length ? v.getUint32(at, true) : fail(`read past the end at byte ${at}`);
  const u16 = (at: number) =>
    at + 2 <= bytes.length ? v.getUint16(at, true) : fail(`read past the end at byte ${at}`);
  const u64 = (at: number) => {
    const n = u32(at) + u32(at + 4) * 2 ** 32;
    if (!Number.isSafeInteger(n)) fail(`64-bit field at byte ${at} is too large`);
    return n;
  };

  // The end record sits within the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (v.getUint32(at, true) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail("no end-of-central-directory record (truncated or not a zip)");
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== ZIP64_LOCATOR) fail("zip64 fields without a zip64 locator");
    const rec = u64(loc + 8);
    if (u32(rec) !== ZIP64_EOCD) fail("zip64 end record not found where the locator points");
    count = u64(rec + 32);
    cdSize = u64(rec + 40);
    cdOffset = u64(rec + 48);
  }
  if (cdOffset + cdSize > bytes.length)
    fail(`central directory [${cdOffset}, +${cdSize}] runs past the file (${bytes.length} bytes)`);
  // Each central record is at least 46 bytes; a larger count is a lie.
  if (count * 46 > cdSize) fail(`central directory claims ${count} entries in ${cdSize} bytes`);

  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (u32(at) !== CENTRAL) fail(`central directory entry ${i} has a bad signature`);
    const method = u16(at + 10);
    const crc = u32(at + 16);
    let compressed = u32(at + 20);
    let size = u32(at + 24);
    const nameLen = u16(at + 28);
    const extraLen = u16(at + 30);
    const commentLen = u16(at + 32);
    let local = u32(at + 42);
    if (at + 46 + nameLen + extraLen > bytes.length)
      fail(`central directory entry ${i} runs past the file`);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    // zip64: the extra field holds, in order, each field that is 0xffffffff.
    if (size === 0xffffffff || compressed === 0xffffffff || local === 0xffffffff) {
      let e = at + 46 + nameLen;
      const end = e + extraLen;
      while (e + 4 <= end && u16(e) !== 0x0001) e += 4 + u16(e + 2);
      if (e + 4 > end) fail(`entry "${name}" needs a zip64 extra field and has none`);
      let f = e + 4;
      if (size === 0xffffffff) {
        size = u64(f);
        f += 8;
      }
      if (compressed === 0xffffffff) {
        compressed = u64(f);
        f += 8;
      }
      if (local === 0xffffffff) local = u64(f);
    }
    at += 46 + nameLen + extraLen + commentLen;
    if (entries.has(name)) fail(`duplicate entry "${name}"`);
    if (u32(local) !== LOCAL) fail(`entry "${name}" has no local header at byte ${local}`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    if (start + compressed > bytes.length)
      fail(`entry "${name}" (${compressed} bytes at ${start}) runs past the file`);
    if (method === 8) {
      // DEFLATE expands at most ~1032:1; a larger claimed size is a lie (or a bomb).
      if (size > compressed * 1032 + 1024)
        fail(`entry "${name}" claims ${size} bytes from ${compressed} compressed`);
      entries.set(name, {
        name,
        data: () =>
          checked(name, inflate(bytes.subarray(start, start + compressed), size, `"${name}"`), crc),
      });
      continue;
    }
    if (method !== 0)
      fail(
        `entry "${name}" uses compression method ${method}; only stored and deflate entries can be read`,
      );
    if (compressed !== size)
      fail(`stored entry "${name}" has compressed size ${compressed} != size ${size}`);
    entries.set(name, {
      name,
      data: () => checked(name, bytes.subarray(start, start + size), crc),
    });
  }
  return entries;
}

function checked(name: string, data: Uint8Array, crc: number): Uint8Array {
  if (crc32(data) !== crc) fail(`entry "${name}" fails its CRC-32 check (corrupted)`);
  return data;
}

function fail(msg: string): never {
  throw new FormatError(`load: zip archive: ${msg}`);
}

let table: Uint32Array | null = null;

export function crc32(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
