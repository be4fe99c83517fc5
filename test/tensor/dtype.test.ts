import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fl from "../../src/index.js";
import { assertTensor, ints } from "./helpers.js";

// Result dtypes and values against PyTorch 1.13 (int32 standing in for its
// int64), from e.g.
//   /usr/bin/python3 -c "import torch; i = torch.tensor([1, 2], dtype=torch.int32); r = i + torch.tensor(1.5, dtype=torch.float64); print(r.dtype, r.tolist())"
const i = () => ints([1, 2]);
const f = () => fl.tensor([1.5, 2]);
const d = () => fl.tensor([1, 2], { dtype: "float64" });
const b = () => fl.tensor([true, false]);
const I0 = (v: number) => fl.tensor(v, { dtype: "int32" });
const D0 = (v: number) => fl.tensor(v, { dtype: "float64" });

const CASES: [string, () => fl.Tensor, fl.DType, number[]][] = [
  ["int32 + float32", () => i().add(f()), "float32", [2.5, 4]],
  ["float32 + float64", () => f().add(d()), "float64", [2.5, 4]],
  ["int32 * 2.5", () => i().mul(2.5), "float32", [2.5, 5]],
  ["int32 * 2", () => i().mul(2), "int32", [2, 4]],
  ["bool + bool", () => b().add(b()), "bool", [1, 0]],
  ["bool * bool", () => b().mul(b()), "bool", [1, 0]],
  ["bool + 1", () => b().add(1), "int32", [2, 1]],
  ["bool + 1.5", () => b().add(1.5), "float32", [2.5, 1.5]],
  ["int32 < float32", () => i().lt(f()), "bool", [1, 0]],
  ["float64 == float64", () => d().eq(d()), "bool", [1, 1]],
  ["int32 / int32 (true division)", () => i().div(ints([2, 4])), "float32", [0.5, 0.5]],
  ["int32 floor division", () => ints([-3, 3]).div(2, { roundingMode: "floor" }), "int32", [-2, 1]],
  [
    "float32 trunc division",
    () => fl.tensor([-3, 3]).div(2, { roundingMode: "trunc" }),
    "float32",
    [-1, 1],
  ],
  ["float32 + 0-d float64 (0-d does not widen)", () => f().add(D0(1)), "float32", [2.5, 3]],
  [
    "int32 + 0-d float32 (lifts the category)",
    () => i().add(fl.tensor(1.5)),
    "float32",
    [2.5, 3.5],
  ],
  ["int32 + 0-d float64 (takes the 0-d dtype)", () => i().add(D0(1.5)), "float64", [2.5, 3.5]],
  ["float32 * 0-d int32", () => f().mul(I0(2)), "float32", [3, 4]],
  ["0-d int32 + 0-d float64", () => I0(1).add(D0(2.5)), "float64", [3.5]],
  ["logicalAnd", () => b().logicalAnd(b()), "bool", [1, 0]],
  ["int32 ** 2", () => i().pow(2), "int32", [1, 4]],
  ["int32 ** 0.5", () => i().pow(0.5), "float32", [1, 1.4142135381698608]],
  ["sqrt(int32)", () => i().sqrt(), "float32", [1, 1.4142135381698608]],
  ["exp(int32)", () => i().exp(), "float32", [2.7182817459106445, 7.389056205749512]],
  ["abs / neg keep int32", () => i().neg().abs(), "int32", [1, 2]],
  ["where(bool, int32, float32)", () => fl.where(b(), i(), f()), "float32", [1, 2]],
  ["where(bool, int32, 2.5)", () => fl.where(b(), i(), 2.5), "float32", [1, 2.5]],
  ["cat(int32, float32)", () => fl.cat([i(), f()]), "float32", [1, 2, 1.5, 2]],
  ["maximum(int32, float32)", () => fl.maximum(i(), f()), "float32", [1.5, 2]],
  ["remainder(int32, 2)", () => i().remainder(2), "int32", [1, 0]],
  ["sum(int32)", () => i().sum(), "int32", [3]],
  ["sum(bool)", () => b().sum(), "int32", [1]],
];

describe("dtype promotion", () => {
  for (const [name, make, dtype, values] of CASES) {
    it(name, () => {
      const r = make();
      assert.equal(r.dtype, dtype);
      assert.deepEqual(
        Array.from(r.dataSync(), Number).map((v) => Math.fround(v)),
        values.map((v) => Math.fround(v)),
      );
    });
  }

  it("resultType", () => {
    assert.equal(fl.resultType(i(), f()), "float32");
    assert.equal(fl.resultType(i(), 2), "int32");
    assert.equal(fl.resultType(i(), 2.5), "float32");
    assert.equal(fl.resultType(b(), true), "bool");
    assert.equal(fl.resultType(f(), D0(1)), "float32");
    assert.equal(fl.resultType(D0(1), 1), "float64");
  });

  it("casts: to / float / double / int / bool (truncation toward zero, nonzero is true)", () => {
    assertTensor(fl.tensor([-1.7, 1.7]).int(), [2], [-1, 1], { dtype: "int32" });
    assertTensor(fl.tensor([0, 2, -0.5]).bool(), [3], [0, 1, 1], { dtype: "bool" });
    assertTensor(b().int(), [2], [1, 0], { dtype: "int32" });
    assertTensor(i().double(), [2], [1, 2], { dtype: "float64" });
    assertTensor(d().to("float32"), [2], [1, 2], { dtype: "float32" });
    assertTensor(i().to("int64"), [2], [1, 2], { dtype: "int32" });
    const x = f();
    assert.equal(x.to("float32"), x, "to() the same dtype is a no-op");
  });

  it("bool arithmetic that PyTorch rejects", () => {
    assert.throws(() => b().sub(b()), /sub: subtraction of bool tensors is not supported/);
    assert.throws(() => b().neg(), /neg: negation of a bool tensor is not supported/);
    assert.throws(() => i().mean(), /mean: could not infer output dtype/);
  });

  it("only floating point tensors can require grad", () => {
    assert.throws(() => i().requiresGrad_(), fl.DTypeError);
    assert.equal(d().requiresGrad_().requiresGrad, true);
  });
});

describe("matmul does not promote", () => {
  it("mixed dtypes are an error naming both, as in PyTorch", () => {
    assert.throws(() => ints([[1, 2]]).matmul(fl.tensor([[1], [2]], { dtype: "float64" })), {
      name: "DTypeError",
      message: /matmul: expected both operands to have the same dtype, got int32 and float64/,
    });
  });
});
