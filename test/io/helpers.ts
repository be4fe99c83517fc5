// Shared by the io tests: fixture paths, JSON tensors, temp directories.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as fl from "../../src/index.js";

export const FIXTURES = "test/fixtures/io";

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name)));
}

export function fixtureJson<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as T;
}

export interface JsonTensor {
  shape: number[];
  dtype: string;
  data: (number | boolean | string)[];
  stride?: number[];
  offset?: number;
}

function num(v: number | boolean | string): number {
  if (v === "inf" || v === "Infinity") return Number.POSITIVE_INFINITY;
  if (v === "-inf" || v === "-Infinity") return Number.NEGATIVE_INFINITY;
  return Number(v);
}

/** Asserts a tensor holds exactly torch's values (float32 compared after rounding to float32). */
export function assertTensorEqual(t: fl.Tensor, want: JsonTensor, what: string): void {
  assert.deepEqual(t.shape, want.shape, `${what}: shape`);
  const got = Array.from(t.dataSync(), Number);
  const expected = want.data.map(num).map((v) => (t.dtype === "float32" ? Math.fround(v) : v));
  assert.deepEqual(got, expected, `${what}: values`);
}

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "flint-io-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A zip of stored entries (what torch.save writes), for tests that craft archives. */
export function makeZip(
  entries: [string, Uint8Array][],
  crc: (b: Uint8Array) => number,
): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = new TextEncoder().encode(name);
    const local = new Uint8Array(30 + n.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint32(14, crc(data), true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, n.length, true);
    local.set(n, 30);
    const c = new Uint8Array(46 + n.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint32(16, crc(data), true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, n.length, true);
    cv.setUint32(42, offset, true);
    c.set(n, 46);
    parts.push(local, data);
    central.push(c);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
