import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { assertTensorEqual, fixture, fixtureJson, type JsonTensor } from "./helpers.js";

describe("safetensors serialize", () => {
  // Byte vectors from the safetensors reference implementation's own tests.
  test("matches the reference bytes for one F32 tensor", () => {
    const bytes = fl.serialize({ "attn.0": fl.tensor([0, 1, 2, 3, 4, 5]).reshape([1, 2, 3]) });
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    const data = [
      0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ];
    assert.deepEqual(Array.from(bytes), [64, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from(header), ...data]);
  });

  test("pads the header with spaces to a multiple of 8", () => {
    const bytes = fl.serialize({ attn0: fl.tensor([0, 1, 2, 3, 4, 5]).reshape([1, 1, 2, 3]) });
    assert.deepEqual(Array.from(bytes.subarray(0, 8)), [72, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(
      Buffer.from(bytes.subarray(8, 80)).toString(),
      '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ',
    );
  });

  test("empty dict, with and without metadata", () => {
    assert.deepEqual(
      Array.from(fl.serialize({})),
      [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32],
    );
    const withMeta = fl.serialize({}, { framework: "pt" });
    assert.equal(withMeta[0], 40);
    assert.equal(
      Buffer.from(withMeta.subarray(8)).toString(),
      '{"__metadata__":{"framework":"pt"}}     ',
    );
  });

  test("orders tensors by dtype alignment, then name", () => {
    const bytes = fl.serialize({
      b: fl.tensor([1], { dtype: "int32" }),
      a: fl.tensor([true]),
      z: fl.tensor([1]),
      c: fl.tensor([1], { dtype: "float64" }),
      y: fl.tensor([2]),
    });
    const n = new DataView(bytes.buffer).getUint32(0, true);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
    assert.deepEqual(Object.keys(header), ["c", "y", "z", "b", "a"]);
  });

  test("byte-identical to Python for the fixture dict (every dtype flint writes)", () => {
    const bytes = fixture("basic.safetensors");
    const { tensors, metadata } = fl.deserializeWithMetadata(bytes);
    assert.deepEqual(metadata, { format: "pt" });
    const want = fixtureJson<Record<string, JsonTensor>>("basic.json");
    assert.deepEqual(Object.keys(tensors).sort(), Object.keys(want).sort());
    for (const [k, w] of Object.entries(want)) {
      assert.equal(tensors[k]!.dtype, w.dtype, k);
      assertTensorEqual(tensors[k]!, w, k);
    }
    assert.deepEqual(fl.serialize(tensors, { format: "pt" }), bytes);
  });

  test("non-contiguous tensors are written in row-major order", () => {
    const x = fl.arange(0, 6, { dtype: "float32" }).reshape([2, 3]).t();
    const back = fl.deserialize(fl.serialize({ x }));
    assert.deepEqual(back.x!.tolistSync(), x.tolistSync());
  });

  test("rejects non-tensor values and non-string metadata", () => {
    assert.throws(
      () => fl.serialize({ w: [1, 2] as unknown as fl.Tensor }),
      (e: Error) => e instanceof fl.ArgumentError && /"w" must be a Tensor/.test(e.message),
    );
    assert.throws(() => fl.serialize({}, { epoch: 3 as unknown as string }), fl.ArgumentError);
  });
});

describe("safetensors deserialize", () => {
  test("round trip keeps dtype, shape and values", () => {
    const sd = {
      f32: fl.randn([3, 5]),
      f64: fl.randn([2, 2], { dtype: "float64" }),
      i32: fl.tensor([-5, 0, 2147483647], { dtype: "int32" }),
      b: fl.tensor([[true, false]]),
      s: fl.tensor(1.5),
      e: fl.zeros([2, 0]),
    };
    const back = fl.deserialize(fl.serialize(sd));
    for (const [k, t] of Object.entries(sd)) {
      assert.equal(back[k]!.dtype, t.dtype, k);
      assert.deepEqual(back[k]!.shape, t.shape, k);
      assert.deepEqual(Array.from(back[k]!.dataSync()), Array.from(t.dataSync()), k);
    }
  });

  test("reads F16, BF16, I64, I16, I8, U8 as torch sees them", () => {
    const sd = fl.deserialize(fixture("read_dtypes.safetensors"));
    const want = fixtureJson<Record<string, JsonTensor>>("read_dtypes.json");
    const dtypes: Record<string, string> = {
      f16: "float32",
      bf16: "float32",
      i64: "int32",
      i16: "int32",
      i8: "int32",
      u8: "int32",
    };
    for (const [k, w] of Object.entries(want)) {
      assert.equal(sd[k]!.dtype, dtypes[k], k);
      assertTensorEqual(sd[k]!, w, k);
    }
  });

  test("an int64 value past int32 is an error, not a wrap-around", () => {
    assert.throws(
      () => fl.deserialize(fixture("i64_overflow.safetensors")),
      (e: Error) => e instanceof fl.FormatError && /2147483648.*does not fit int32/.test(e.message),
    );
  });

  test('a tensor named "__proto__" is plain data', () => {
    const back = fl.deserialize(fl.serialize(Object.fromEntries([["__proto__", fl.ones([2])]])));
    assert.ok(Object.hasOwn(back, "__proto__"));
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepEqual(
      Array.from(
        (Object.getOwnPropertyDescriptor(back, "__proto__")!.value as fl.Tensor).dataSync(),
      ),
      [1, 1],
    );
  });

  test("loaded tensors own their data (not views of the input buffer)", () => {
    const bytes = fl.serialize({ w: fl.ones([4]) });
    const sd = fl.deserialize(bytes);
    bytes.fill(0);
    assert.deepEqual(Array.from(sd.w!.dataSync()), [1, 1, 1, 1]);
  });
});
