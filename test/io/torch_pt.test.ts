import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { crc32, readZip } from "../../src/io/zip.js";
import {
  assertTensorEqual,
  FIXTURES,
  fixture,
  fixtureJson,
  type JsonTensor,
  makeZip,
} from "./helpers.js";

interface MlpFixture {
  state: Record<string, JsonTensor>;
  input: JsonTensor;
  output: JsonTensor;
}

function jsonTensor(t: JsonTensor): fl.Tensor {
  return fl.tensor(t.data as number[]).reshape(t.shape);
}

describe("PyTorch .pt state_dict files", () => {
  test("loads the MLP's state_dict exactly as torch saved it", () => {
    const sd = fl.loadTorchStateDict(fixture("mlp.pt"));
    const want = fixtureJson<MlpFixture>("mlp.json");
    assert.deepEqual(Object.keys(sd), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    for (const [k, w] of Object.entries(want.state)) {
      assert.equal(sd[k]!.dtype, "float32");
      assert.equal(sd[k]!.requiresGrad, false);
      assertTensorEqual(sd[k]!, w, k);
    }
  });

  test("a protocol-4 pickle (FRAME, MEMOIZE, STACK_GLOBAL) loads the same tensors", () => {
    const p2 = fl.loadTorchStateDict(fixture("mlp.pt"));
    const p4 = fl.loadTorchStateDict(fixture("mlp_protocol4.pt"));
    assert.deepEqual(Object.keys(p4), Object.keys(p2));
    for (const k of Object.keys(p2))
      assert.deepEqual(Array.from(p4[k]!.dataSync()), Array.from(p2[k]!.dataSync()), k);
  });

  test("the same architecture in flint reproduces torch's output", () => {
    const sd = fl.loadTorchStateDict(fixture("mlp.pt"));
    const want = fixtureJson<MlpFixture>("mlp.json");
    const x = jsonTensor(want.input);
    // nn.Sequential(Linear(20,16), ReLU(), Linear(16,10)) as plain tensor math.
    const h = x.matmul(sd["0.weight"]!.t()).add(sd["0.bias"]!).relu();
    const y = h.matmul(sd["2.weight"]!.t()).add(sd["2.bias"]!);
    assert.deepEqual(y.shape, want.output.shape);
    const got = y.dataSync();
    for (const [i, v] of want.output.data.entries()) {
      assert.ok(Math.abs(got[i]! - (v as number)) <= 1e-5, `output[${i}]: ${got[i]} vs ${v}`);
    }
  });

  test("torch.save(net.state_dict()) loads into the same nn.Sequential and gives torch's outputs", async () => {
    const net = new fl.nn.Sequential(
      new fl.nn.Linear(20, 16),
      new fl.nn.ReLU(),
      new fl.nn.Linear(16, 10),
    );
    const loaded = await fl.load(`${FIXTURES}/mlp.pt`);
    const { missingKeys, unexpectedKeys } = net.loadStateDict(loaded);
    assert.deepEqual([missingKeys, unexpectedKeys], [[], []]);
    const want = fixtureJson<MlpFixture>("mlp.json");
    const y = fl.noGrad(() => net.forward(jsonTensor(want.input)));
    const got = y.dataSync();
    for (const [i, v] of want.output.data.entries()) {
      assert.ok(Math.abs(got[i]! - (v as number)) <= 1e-5, `output[${i}]: ${got[i]} vs ${v}`);
    }
  });

  test("fl.load's byte dispatch reads .pt, and re-saving gives Python's safetensors bytes", async () => {
    const sd = fl.loadFromBytes(fixture("mlp.pt"));
    assert.deepEqual(fl.serialize(sd), fixture("mlp.safetensors"));
  });

  test("int64, float64, float16, bfloat16, uint8, bool; strided and shared views", () => {
    const sd = fl.loadTorchStateDict(fixture("mixed.pt"));
    const want = fixtureJson<Record<string, JsonTensor>>("mixed.json");
    const dtypes: Record<string, string> = {
      long: "int32",
      double: "float64",
      half: "float32",
      bf16: "float32",
      byte: "int32",
      flag: "bool",
      transposed: "float32",
      shared_a: "float32",
      shared_b: "float32",
      scalar: "float32",
    };
    for (const [k, w] of Object.entries(want)) {
      const t = sd[k]!;
      assert.equal(t.dtype, dtypes[k], k);
      assertTensorEqual(t, w, k);
      assert.deepEqual(t.stride(), w.stride, `${k}: stride`);
      assert.equal(t.storageOffset(), w.offset, `${k}: offset`);
    }
    assert.equal(sd.transposed!.isContiguous(), false);
    // One storage in PyTorch stays one storage: a write through one view shows in the other.
    assert.equal(sd.shared_a!.storage, sd.shared_b!.storage);
    sd.shared_a!.select(0, 0).fill_(-1);
    assert.deepEqual(Array.from(sd.shared_b!.dataSync()), [-1, -1, 4, 5, 6, 7]);
  });

  test("an int64 value past int32 is refused", () => {
    assert.throws(
      () => fl.loadTorchStateDict(fixture("i64_overflow.pt")),
      (e: Error) =>
        e instanceof fl.FormatError && /1099511627776.*does not fit int32/.test(e.message),
    );
  });
});

describe("hostile .pt files", () => {
  const marker = "/tmp/flint-pwned-by-pickle";

  for (const [file, global] of [
    ["hostile_system.pt", "posix.system"],
    ["hostile_eval.pt", "builtins.eval"],
    ["hostile_load_from_bytes.pt", "torch.storage._load_from_bytes"],
  ] as const) {
    test(`${file}: refuses ${global} without running anything`, () => {
      rmSync(marker, { force: true });
      assert.throws(
        () => fl.loadFromBytes(fixture(file)),
        (e: Error) =>
          e instanceof fl.FormatError &&
          e.message.includes(
            `refusing to load global ${global}: only tensor rebuild functions are allowed`,
          ),
      );
      assert.equal(existsSync(marker), false);
    });
  }

  test("a re-zipped, deflate-compressed .pt loads the same tensors", () => {
    const stored = fl.loadTorchStateDict(fixture("mlp.pt"));
    const deflated = fl.loadTorchStateDict(fixture("deflated.pt"));
    for (const k of Object.keys(stored))
      assert.deepEqual(Array.from(deflated[k]!.dataSync()), Array.from(stored[k]!.dataSync()), k);
  });

  test("corrupted deflate streams throw FormatError, never another error or a hang", () => {
    const valid = fixture("deflated.pt");
    let s = 3;
    const next = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
    for (let trial = 0; trial < 300; trial++) {
      const bytes = valid.slice();
      // Hit the compressed data (the first ~2.5 KB), not the directory at the end.
      bytes[Math.floor(next() * 2400)] = Math.floor(next() * 256);
      try {
        fl.loadFromBytes(bytes);
      } catch (e) {
        if (!(e instanceof fl.FormatError))
          throw new Error(`trial ${trial}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  });

  test("pre-1.6 (non-zip) pickles are refused", () => {
    assert.throws(
      () => fl.loadTorchStateDict(new Uint8Array([0x80, 0x02, 0x8a, 0x0a])),
      (e: Error) => e instanceof fl.FormatError && /not a zip archive/.test(e.message),
    );
  });

  test("truncations and byte flips throw FormatError, never another error", () => {
    const valid = fixture("mixed.pt");
    const check = (bytes: Uint8Array, what: string) => {
      try {
        fl.loadFromBytes(bytes);
      } catch (e) {
        if (!(e instanceof fl.FormatError))
          throw new Error(`${what}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    };
    for (let n = 0; n < valid.length; n += 7) check(valid.subarray(0, n), `truncated to ${n}`);
    let s = 7;
    const next = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
    for (let trial = 0; trial < 1500; trial++) {
      const bytes = valid.slice();
      bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      check(bytes, `trial ${trial}`);
    }
  });

  test("mutated pickle programs (valid zip, valid CRC) throw FormatError, never another error", () => {
    const entries = [...readZip(fixture("mixed.pt")).values()].map((e): [string, Uint8Array] => [
      e.name,
      e.data().slice(),
    ]);
    const pkl = entries.findIndex(([n]) => n.endsWith("data.pkl"));
    const original = entries[pkl]![1];
    assert.doesNotThrow(() => fl.loadFromBytes(makeZip(entries, crc32)));
    let s = 11;
    const next = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
    for (let trial = 0; trial < 1500; trial++) {
      const program = original.slice();
      for (let k = 0; k < 1 + Math.floor(next() * 3); k++)
        program[Math.floor(next() * program.length)] = Math.floor(next() * 256);
      entries[pkl] = [
        entries[pkl]![0],
        trial % 10 === 0 ? program.subarray(0, Math.floor(next() * program.length)) : program,
      ];
      try {
        fl.loadFromBytes(makeZip(entries, crc32));
      } catch (e) {
        if (!(e instanceof fl.FormatError))
          throw new Error(`trial ${trial}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  });

  test("a storage reference to a missing entry, or too few bytes, is refused", () => {
    const entries = [...readZip(fixture("mlp.pt")).values()].map((e): [string, Uint8Array] => [
      e.name,
      e.data().slice(),
    ]);
    const without = entries.filter(([n]) => !n.endsWith("data/0"));
    assert.throws(
      () => fl.loadFromBytes(makeZip(without, crc32)),
      /storage "0" is missing from the archive/,
    );
    const short = entries.map(([n, d]): [string, Uint8Array] => [
      n,
      n.endsWith("data/0") ? d.subarray(4) : d,
    ]);
    assert.throws(
      () => fl.loadFromBytes(makeZip(short, crc32)),
      /storage "0" \(torch.FloatStorage\) holds 1276 bytes, expected 320 elements = 1280 bytes/,
    );
  });

  test("a view reaching past its storage is refused", () => {
    // _rebuild_tensor_v2((storage FloatStorage "0" cpu 2), 1, (4,), (1,), False, OrderedDict())
    const g = (m: string, n: string) => [0x63, ...new TextEncoder().encode(`${m}\n${n}\n`)];
    const u = (s: string) => [0x58, s.length, 0, 0, 0, ...new TextEncoder().encode(s)];
    const pkl = new Uint8Array([
      0x80,
      2,
      0x7d,
      0x28,
      ...u("w"),
      ...g("torch._utils", "_rebuild_tensor_v2"),
      0x28,
      0x28,
      ...u("storage"),
      ...g("torch", "FloatStorage"),
      ...u("0"),
      ...u("cpu"),
      0x4b,
      2,
      0x74,
      0x51,
      0x4b,
      1,
      0x4b,
      4,
      0x85,
      0x4b,
      1,
      0x85,
      0x89,
      ...g("collections", "OrderedDict"),
      0x29,
      0x52,
      0x74,
      0x52,
      0x75,
      0x2e,
    ]);
    const zip = makeZip(
      [
        ["archive/data.pkl", pkl],
        ["archive/data/0", new Uint8Array(8)],
      ],
      crc32,
    );
    assert.throws(
      () => fl.loadFromBytes(zip),
      (e: Error) =>
        e instanceof fl.FormatError &&
        /size \[4\], stride \[1\], offset 1 reaches element 4 of a storage of 2/.test(e.message),
    );
    // The same program with a size that fits loads.
    pkl[pkl.indexOf(0x4b, pkl.indexOf(0x51) + 3) + 1] = 1;
    assert.deepEqual(
      fl.loadFromBytes(
        makeZip(
          [
            ["archive/data.pkl", pkl],
            ["archive/data/0", new Uint8Array(8)],
          ],
          crc32,
        ),
      ).w!.shape,
      [1],
    );
  });
});
