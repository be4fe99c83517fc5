// Common mistakes: each throws a FlintError subclass whose message names the
// op, what it got and what it expected.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../src/index.js";

type ErrorClass = new (message: string) => fl.FlintError;

function throwsFlint(fn: () => unknown, cls: ErrorClass, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof fl.FlintError, `expected a FlintError, got ${String(e)}`);
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
    assert.equal(e.name, cls.name);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

const i32 = (data: fl.NestedArray) => fl.tensor(data, { dtype: "int32" });

describe("shape mistakes", () => {
  test("matmul of shapes that do not chain", () => {
    throwsFlint(
      () => fl.ones([2, 3]).matmul(fl.ones([4, 5])),
      fl.ShapeError,
      "matmul: shapes [2,3] and [4,5] cannot be multiplied (3 != 4)",
    );
    throwsFlint(
      () => fl.matmul(fl.ones([2, 2, 3]), fl.ones([4])),
      fl.ShapeError,
      "matmul: shapes [2,2,3] and [4] cannot be multiplied (3 != 4)",
    );
    throwsFlint(
      () => fl.ones([3]).matmul(fl.ones([2, 4, 2])),
      fl.ShapeError,
      "matmul: shapes [3] and [2,4,2] cannot be multiplied (3 != 4)",
    );
  });

  test("mm with a 3-d input", () => {
    throwsFlint(
      () => fl.ones([2, 2, 3]).mm(fl.ones([3, 2])),
      fl.ShapeError,
      "mm: expects two 2-d tensors, got shapes [2,2,3] and [3,2]",
    );
  });

  test("bmm with different batch sizes", () => {
    throwsFlint(
      () => fl.bmm(fl.ones([2, 2, 3]), fl.ones([3, 3, 2])),
      fl.ShapeError,
      "bmm: batch sizes differ, got shapes [2,2,3] and [3,3,2]",
    );
  });

  test("mv with a vector of the wrong length", () => {
    throwsFlint(
      () => fl.ones([2, 3]).mv(fl.ones([4])),
      fl.ShapeError,
      "mv: shapes [2,3] and [4] cannot be multiplied (3 != 4)",
    );
  });

  test("dot of vectors of different lengths", () => {
    throwsFlint(
      () => fl.dot(fl.ones([3]), fl.ones([4])),
      fl.ShapeError,
      "dot: inconsistent tensor size, expected tensors of the same length, got 3 and 4",
    );
  });

  test("broadcasting failure", () => {
    throwsFlint(
      () => fl.ones([2, 3]).add(fl.ones([4])),
      fl.ShapeError,
      "add: shapes [2,3] and [4] cannot be broadcast together (size 3 vs 4 at dimension 1)",
    );
    throwsFlint(
      () => fl.mul(fl.ones([2, 1, 3]), fl.ones([5, 2])),
      fl.ShapeError,
      /^mul: shapes \[2,1,3\] and \[5,2\] cannot be broadcast together/,
    );
  });

  test("view to a size with another number of elements", () => {
    throwsFlint(
      () => fl.ones([2, 3]).view(4, 2),
      fl.ShapeError,
      "view: shape [4,2] is invalid for input of size 6 (shape [2,3])",
    );
  });

  test("view of a non-contiguous tensor points to reshape", () => {
    throwsFlint(
      () => fl.ones([2, 3]).t().view(6),
      fl.ShapeError,
      /^view: size \[6\] is not compatible with input of shape \[3,2\] and strides \[1,3\].*use reshape\(\) instead$/,
    );
  });

  test("reshape with two -1", () => {
    throwsFlint(
      () => fl.ones([2, 3]).reshape(-1, -1),
      fl.ArgumentError,
      "reshape: only one dimension can be inferred (-1), got [-1,-1]",
    );
  });

  test("expand to an incompatible size", () => {
    throwsFlint(
      () => fl.ones([2, 3]).expand(2, 4),
      fl.ShapeError,
      "expand: the expanded size 4 must match the existing size 3 at dimension 1 (shape [2,3] to [2,4])",
    );
  });

  test("cat with mismatched shapes", () => {
    throwsFlint(
      () => fl.cat([fl.ones([2, 3]), fl.ones([2, 4])], 0),
      fl.ShapeError,
      "cat: sizes of tensors must match except in dimension 0; tensor 0 has shape [2,3] and tensor 1 has shape [2,4]",
    );
  });

  test("cat of an empty list", () => {
    throwsFlint(() => fl.cat([]), fl.ArgumentError, "cat: expected a non-empty list of tensors");
  });

  test("stack of different shapes", () => {
    throwsFlint(
      () => fl.stack([fl.ones([2, 3]), fl.ones([3, 2])]),
      fl.ShapeError,
      "stack: expects each tensor to be equal size, but got [2,3] at entry 0 and [3,2] at entry 1",
    );
  });

  test("split sizes that do not sum to the dimension", () => {
    throwsFlint(
      () => fl.ones([5]).split([2, 2]),
      fl.ShapeError,
      "split: split sizes [2,2] sum to 4, but dimension 0 has size 5 (shape [5])",
    );
  });

  test("item on a tensor with more than one element", () => {
    throwsFlint(
      () => fl.ones([2, 3]).itemSync(),
      fl.ShapeError,
      "item: a tensor with 6 elements cannot be converted to a scalar (shape [2,3])",
    );
  });

  test("tril of a 1-d tensor", () => {
    throwsFlint(
      () => fl.ones([3]).tril(),
      fl.ShapeError,
      "tril: input must have at least 2 dimensions, got shape [3]",
    );
  });
});

describe("dims and indices out of range", () => {
  test("a reduction over a dim the tensor does not have", () => {
    throwsFlint(
      () => fl.ones([2, 3]).sum(2),
      fl.ArgumentError,
      "sum: dimension 2 is out of range for a 2-d tensor (expected in [-2, 1])",
    );
    throwsFlint(
      () => fl.ones([2, 3]).mean(-3),
      fl.ArgumentError,
      "mean: dimension -3 is out of range for a 2-d tensor (expected in [-2, 1])",
    );
  });

  test("permute with the wrong number of dims, a repeated dim, or one out of range", () => {
    throwsFlint(
      () => fl.ones([2, 3]).permute(0, 1, 2),
      fl.ArgumentError,
      "permute: number of dims [0,1,2] does not match the 2-d input of shape [2,3]",
    );
    throwsFlint(
      () => fl.ones([2, 3]).permute(0, 0),
      fl.ArgumentError,
      "permute: repeated dim in [0,0]",
    );
    throwsFlint(
      () => fl.ones([2, 3]).permute(0, 2),
      fl.ArgumentError,
      "permute: dimension 2 is out of range for a 2-d tensor (expected in [-2, 1])",
    );
  });

  test("select with an index past the end", () => {
    throwsFlint(
      () => fl.ones([2, 3]).select(1, 3),
      fl.ArgumentError,
      "select: index 3 is out of range for dimension 1 of size 3 (shape [2,3])",
    );
  });

  test("narrow past the end", () => {
    throwsFlint(
      () => fl.ones([4]).narrow(0, 2, 3),
      fl.ArgumentError,
      "narrow: start 2 + length 3 exceeds dimension 0 of size 4 (shape [4])",
    );
  });

  test("string indexing past the end", () => {
    throwsFlint(
      () => fl.ones([2, 3]).index("5"),
      fl.ArgumentError,
      'index: index 5 is out of bounds for dimension 0 with size 2 (in "5"; shape [2,3])',
    );
  });

  test("t() of a 3-d tensor", () => {
    throwsFlint(
      () => fl.ones([2, 2, 2]).t(),
      fl.ArgumentError,
      "t: expects a tensor with <= 2 dimensions, got 3-d; use transpose()",
    );
  });
});

describe("dtype mistakes", () => {
  test("gather with a float index", () => {
    throwsFlint(
      () => fl.ones([2, 3]).gather(1, fl.tensor([[0], [1]])),
      fl.DTypeError,
      "gather: index must be an int32 tensor, got float32",
    );
  });

  test("indexSelect with a float index", () => {
    throwsFlint(
      () => fl.ones([3]).indexSelect(0, fl.tensor([0])),
      fl.DTypeError,
      "indexSelect: index must be an int32 tensor, got float32",
    );
  });

  test("where with a non-bool condition", () => {
    throwsFlint(
      () => fl.where(fl.ones([2]), fl.ones([2]), fl.zeros([2])),
      fl.DTypeError,
      "where: condition must be a bool tensor, got float32",
    );
  });

  test("maskedFill with a non-bool mask", () => {
    throwsFlint(
      () => fl.ones([3]).maskedFill(i32([1, 0, 1]), 0),
      fl.DTypeError,
      "maskedFill: mask must be a bool tensor, got int32",
    );
  });

  test("mean of an int tensor", () => {
    throwsFlint(
      () => i32([1, 2]).mean(),
      fl.ArgumentError,
      "mean: could not infer output dtype; input dtype int32 must be a floating point type (cast with .float())",
    );
  });

  test("an unknown dtype", () => {
    const expected = "(expected one of float32, float64, int32, bool)";
    throwsFlint(
      () => fl.zeros([2], { dtype: "float8" as fl.DType }),
      fl.DTypeError,
      `zeros: unknown dtype "float8" ${expected}`,
    );
    throwsFlint(
      () => fl.tensor([1, 2], { dtype: "uint8" as fl.DType }),
      fl.DTypeError,
      `tensor: unknown dtype "uint8" ${expected}`,
    );
    throwsFlint(
      () => fl.full([2], 1, { dtype: "complex64" as fl.DType }),
      fl.DTypeError,
      `full: unknown dtype "complex64" ${expected}`,
    );
  });

  test("randn with an integer dtype", () => {
    throwsFlint(
      () => fl.randn([2], { dtype: "int32" }),
      fl.ArgumentError,
      "randn: dtype must be float32 or float64, got int32",
    );
  });

  test("negating a bool tensor", () => {
    throwsFlint(
      () => fl.tensor([true, false]).neg(),
      fl.DTypeError,
      "neg: negation of a bool tensor is not supported; use logicalNot()",
    );
  });
});

describe("creation mistakes", () => {
  test("a ragged nested array", () => {
    throwsFlint(
      () => fl.tensor([[1, 2], [3]]),
      fl.ShapeError,
      "tensor: expected a sequence of length 2 at dimension 1 (got 1); nested lists must not be ragged",
    );
  });

  test("a non-number in tensor()", () => {
    throwsFlint(
      () => fl.tensor([1, "a" as unknown as number]),
      fl.ArgumentError,
      "tensor: expected numbers or booleans, got string (a)",
    );
    throwsFlint(
      () => fl.tensor([1, null as unknown as number]),
      fl.ArgumentError,
      "tensor: expected numbers or booleans, got object (null)",
    );
  });

  test("a typed array that does not fill the shape", () => {
    throwsFlint(
      () => fl.fromArray(new Float32Array(5), [2, 3]),
      fl.ShapeError,
      "tensor: 5 values do not fill shape [2,3]",
    );
  });

  test("a negative size", () => {
    throwsFlint(
      () => fl.zeros([2, -1]),
      fl.ArgumentError,
      "zeros: sizes must be non-negative integers, got [2,-1]",
    );
  });

  test("arange with a step of the wrong sign", () => {
    throwsFlint(
      () => fl.arange(0, 10, -1),
      fl.ArgumentError,
      "arange: step -1 goes away from end 10 starting at 0 (expected a positive step)",
    );
    throwsFlint(
      () => fl.arange(5, 1, 2),
      fl.ArgumentError,
      "arange: step 2 goes away from end 1 starting at 5 (expected a negative step)",
    );
    throwsFlint(() => fl.arange(0, 10, 0), fl.ArgumentError, "arange: step must be nonzero");
  });

  test("randint with low >= high", () => {
    throwsFlint(
      () => fl.randint(5, 5, [2]),
      fl.ArgumentError,
      "randint: expected low < high, got low 5 and high 5",
    );
    throwsFlint(
      () => fl.randint(6, 2, [2]),
      fl.ArgumentError,
      "randint: expected low < high, got low 6 and high 2",
    );
  });
});

describe("device mistakes", () => {
  test("to() a device that is not registered", () => {
    // webgpu registers itself only where it exists; fall back to a surely-absent name.
    const device = fl.registeredDevices().includes("webgpu") ? "nosuchdevice" : "webgpu";
    throwsFlint(
      () => fl.ones([2]).to(device),
      fl.DeviceError,
      `to: device "${device}" is not available (registered: ${fl.registeredDevices().join(", ")})` +
        (device === "webgpu" ? "; call await fl.webgpu.init() first" : ""),
    );
  });
});

describe("autograd mistakes", () => {
  test("requiresGrad_ on an int tensor", () => {
    throwsFlint(
      () => i32([1, 2]).requiresGrad_(),
      fl.DTypeError,
      "requiresGrad_: only floating point tensors can require gradients, got int32",
    );
    throwsFlint(
      () => fl.tensor([1, 2], { dtype: "int32", requiresGrad: true }),
      fl.DTypeError,
      /got int32$/,
    );
  });

  test("backward on a non-scalar without a gradient", () => {
    throwsFlint(
      () => fl.ones([2, 3], { requiresGrad: true }).mul(2).backward(),
      fl.AutogradError,
      "backward: grad can be implicitly created only for scalar outputs, got shape [2,3]; pass a gradient of that shape",
    );
  });

  test("backward on a tensor that does not require grad", () => {
    throwsFlint(
      () => fl.ones([2]).sum().backward(),
      fl.AutogradError,
      "backward: element 0 of tensors does not require grad and does not have a gradFn (did you create it under noGrad, or detach it?)",
    );
  });

  test("an in-place op on a leaf that requires grad", () => {
    throwsFlint(
      () => fl.ones([2], { requiresGrad: true }).add_(1),
      fl.AutogradError,
      "add_: a leaf tensor that requires grad is being used in an in-place operation; wrap it in fl.noGrad(() => …)",
    );
    // The advice works.
    const w = fl.ones([2], { requiresGrad: true });
    fl.noGrad(() => w.mul_(3));
    assert.deepEqual(w.tolistSync(), [3, 3]);
  });

  test("an in-place op on a non-leaf of the graph", () => {
    throwsFlint(
      () => fl.ones([2], { requiresGrad: true }).mul(2).mul_(3),
      fl.AutogradError,
      "mul_: in-place operations on tensors that are part of a graph are not supported; use the out-of-place mul()",
    );
  });

  test("backward twice through a graph that saved tensors", () => {
    const y = fl.ones([2], { requiresGrad: true }).exp().sum();
    y.backward();
    throwsFlint(
      () => y.backward(),
      fl.AutogradError,
      /^ExpBackward0: Trying to backward through the graph a second time/,
    );
  });
});
