import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fl from "../../src/index.js";
import { assertTensor } from "./helpers.js";

describe("tensor()", () => {
  it("from nested arrays: shape inferred, numbers float32, booleans bool", () => {
    const t = fl.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assertTensor(t, [2, 3], [1, 2, 3, 4, 5, 6], { dtype: "float32" });
    assertTensor(fl.tensor([[[true], [false]]]), [1, 2, 1], [1, 0], { dtype: "bool" });
    assertTensor(fl.tensor([[1, 2]], { dtype: "int32" }), [1, 2], [1, 2], { dtype: "int32" });
    assertTensor(fl.tensor([0.1], { dtype: "float64" }), [1], [0.1], {
      dtype: "float64",
      atol: 0,
      rtol: 0,
    });
    assertTensor(fl.tensor([[]]), [1, 0], []);
    assertTensor(fl.tensor([-1.7, 2.9], { dtype: "int32" }), [2], [-1, 2]);
  });

  it("from typed arrays (copied, dtype kept) and scalars (0-d)", () => {
    const src = Int32Array.from([1, 2, 3]);
    const t = fl.tensor(src);
    assertTensor(t, [3], [1, 2, 3], { dtype: "int32" });
    src[0] = 9;
    assertTensor(t, [3], [1, 2, 3]);
    assert.equal(fl.tensor(Float64Array.from([1.5])).dtype, "float64");
    assert.equal(fl.tensor(Uint8Array.from([1, 0])).dtype, "bool");
    assertTensor(fl.tensor(Float32Array.from([1, 2]), { dtype: "int32" }), [2], [1, 2], {
      dtype: "int32",
    });
    assertTensor(fl.tensor(3.5), [], [3.5]);
    assertTensor(fl.tensor(true), [], [1], { dtype: "bool" });
    assertTensor(fl.tensor(7, { dtype: "int32" }), [], [7], { dtype: "int32" });
  });

  it("fromArray shares the array; requiresGrad option makes a leaf", () => {
    const a = Float32Array.from([1, 2]);
    const t = fl.fromArray(a, [2, 1]);
    a[1] = 5;
    assertTensor(t, [2, 1], [1, 5]);
    const g = fl.tensor([1, 2], { requiresGrad: true });
    assert.equal(g.requiresGrad, true);
    assert.equal(g.isLeaf, true);
  });

  it("ragged and malformed input throws ShapeError", () => {
    assert.throws(
      () => fl.tensor([[1, 2], [3]]),
      /tensor: expected a sequence of length 2 at dimension 1 \(got 1\); nested lists must not be ragged/,
    );
    assert.throws(() => fl.tensor([[1, 2], 3] as never), fl.ShapeError);
    assert.throws(() => fl.tensor([1, [2]] as never), /too many nested lists/);
    assert.throws(() => fl.tensor(["a"] as never), fl.ArgumentError);
    assert.throws(() => fl.tensor([1], { dtype: "complex64" as never }), fl.DTypeError);
  });
});

describe("factories", () => {
  it("zeros / ones / full / empty with dtypes", () => {
    assertTensor(fl.zeros([2, 3]), [2, 3], new Array(6).fill(0), { dtype: "float32" });
    assertTensor(fl.ones(3, { dtype: "int32" }), [3], [1, 1, 1], { dtype: "int32" });
    assertTensor(fl.full([2], 7), [2], [7, 7], { dtype: "float32" });
    assertTensor(fl.full([2], true), [2], [1, 1], { dtype: "bool" });
    assertTensor(fl.full([1, 2], 2.5, { dtype: "float64" }), [1, 2], [2.5, 2.5], {
      dtype: "float64",
    });
    assertTensor(fl.empty([0, 4]), [0, 4], []);
    assertTensor(fl.zeros([]), [], [0]);
    assert.throws(() => fl.zeros([-1]), /zeros: sizes must be non-negative integers/);
  });

  it("eye", () => {
    assertTensor(fl.eye(3), [3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    assertTensor(fl.eye(2, 3), [2, 3], [1, 0, 0, 0, 1, 0]);
    assertTensor(fl.eye(3, 2, { dtype: "int32" }), [3, 2], [1, 0, 0, 1, 0, 0], { dtype: "int32" });
  });

  it("arange: integer arguments give int32, fractional float32; negative steps", () => {
    // /usr/bin/python3 -c "import torch; print(torch.arange(0, 1, 0.1).tolist(), torch.arange(1, 0, -0.3).tolist())"
    assertTensor(fl.arange(5), [5], [0, 1, 2, 3, 4], { dtype: "int32" });
    assertTensor(fl.arange(2, 11, 3), [3], [2, 5, 8], { dtype: "int32" });
    assertTensor(fl.arange(5, 0, -1), [5], [5, 4, 3, 2, 1], { dtype: "int32" });
    assertTensor(fl.arange(-1, -7, -2), [3], [-1, -3, -5], { dtype: "int32" });
    assertTensor(fl.arange(0, 2.5, 0.5), [5], [0, 0.5, 1, 1.5, 2], { dtype: "float32" });
    const tenths = [
      0, 0.10000000149011612, 0.20000000298023224, 0.30000001192092896, 0.4000000059604645, 0.5,
      0.6000000238418579, 0.699999988079071, 0.800000011920929, 0.8999999761581421,
    ];
    assertTensor(fl.arange(0, 1, 0.1), [10], tenths, { atol: 0, rtol: 0 });
    assertTensor(
      fl.arange(1, 0, -0.3),
      [4],
      [1, 0.699999988079071, 0.4000000059604645, 0.10000000149011612],
      { atol: 0, rtol: 0 },
    );
    assertTensor(fl.arange(3, { dtype: "float64" }), [3], [0, 1, 2], { dtype: "float64" });
    assertTensor(fl.arange(3, 3), [0], []);
    assert.throws(() => fl.arange(0, 5, -1), fl.ArgumentError);
    assert.throws(() => fl.arange(0, 5, 0), /arange: step must be nonzero/);
  });

  it("linspace matches PyTorch's float32 arithmetic", () => {
    // /usr/bin/python3 -c "import torch; print(torch.linspace(-1, 1, 4).tolist(), torch.linspace(0, 10, 7).tolist(), torch.linspace(3, 5, 1).tolist())"
    assertTensor(fl.linspace(0, 1, 5), [5], [0, 0.25, 0.5, 0.75, 1], { atol: 0, rtol: 0 });
    assertTensor(fl.linspace(-1, 1, 4), [4], [-1, -0.3333333134651184, 0.3333333134651184, 1], {
      atol: 0,
      rtol: 0,
    });
    const sevenths = [
      0, 1.6666666269302368, 3.3333332538604736, 5, 6.6666669845581055, 8.333333015441895, 10,
    ];
    assertTensor(fl.linspace(0, 10, 7), [7], sevenths, { atol: 0, rtol: 0 });
    assertTensor(fl.linspace(3, 5, 1), [1], [3]);
    assertTensor(fl.linspace(0, 1, 0), [0], []);
    assertTensor(fl.linspace(0, 1, 3, { dtype: "float64" }), [3], [0, 0.5, 1], {
      dtype: "float64",
    });
    assertTensor(fl.logspace(0, 2, 3), [3], [1, 10, 100]);
  });

  it("*Like factories keep shape, dtype and device unless overridden", () => {
    const x = fl.zeros([2, 3], { dtype: "float64" });
    assertTensor(fl.zerosLike(x), [2, 3], new Array(6).fill(0), { dtype: "float64" });
    assertTensor(fl.onesLike(x, { dtype: "int32" }), [2, 3], new Array(6).fill(1), {
      dtype: "int32",
    });
    assertTensor(fl.fullLike(x, 4), [2, 3], new Array(6).fill(4), { dtype: "float64" });
    assertTensor(fl.emptyLike(x), [2, 3], new Array(6).fill(0));
    assert.equal(fl.randLike(x).dtype, "float64");
    assert.deepEqual(fl.randnLike(x).shape, [2, 3]);
    const ri = fl.randintLike(fl.zeros([50], { dtype: "int32" }), 3, 6);
    assert.equal(ri.dtype, "int32");
    assert.ok(Array.from(ri.dataSync()).every((v) => v >= 3 && v < 6));
    assert.equal(fl.onesLike(x, { requiresGrad: true }).requiresGrad, true);
  });
});

describe("random numbers follow PyTorch's CPU streams", () => {
  // /usr/bin/python3 -c "import torch; torch.manual_seed(0); print(torch.rand(5).tolist())" and likewise below.
  // Uniforms and integers match bit for bit; normals to float32 rounding
  // (PyTorch's vectorised float Box–Muller rounds differently in the last bit).
  it("rand after manualSeed(0) and manualSeed(42)", () => {
    fl.manualSeed(0);
    const want = [
      0.49625658988952637, 0.7682217955589294, 0.08847743272781372, 0.13203048706054688,
      0.30742281675338745,
    ];
    assertTensor(fl.rand([5]), [5], want, { atol: 0, rtol: 0 });
    fl.manualSeed(42);
    assertTensor(fl.rand([3]), [3], [0.8822692632675171, 0.9150039553642273, 0.38286375999450684], {
      atol: 0,
      rtol: 0,
    });
    fl.manualSeed(0);
    assertTensor(
      fl.rand([3], { dtype: "float64" }),
      [3],
      [0.9700530018065531, 0.707819864399788, 0.45938294312745087],
      { atol: 0, rtol: 0 },
    );
  });

  it("randn: the 16-block path (n >= 16) and the scalar path (n < 16)", () => {
    fl.manualSeed(0);
    const r20 = [
      -1.1258398294448853, -1.152360200881958, -0.2505785822868347, -0.4338788092136383,
      0.5988394618034363, -1.5550950765609741, -0.3413603901863098, 1.85300612449646,
      0.46809640526771545, -0.1577124446630478, 1.4436601400375366, 0.26604941487312317,
      1.3893661499023438, 1.586334228515625, 0.946298360824585, -0.843676745891571,
      0.9318265914916992, 1.2590092420578003, 2.0049805641174316, 0.05373690277338028,
    ];
    assertTensor(fl.randn([20]), [20], r20, { atol: 1e-6, rtol: 0 });
    fl.manualSeed(0);
    assertTensor(
      fl.randn([5]),
      [5],
      [
        1.5409960746765137, -0.293428897857666, -2.1787893772125244, 0.5684312582015991,
        -1.0845223665237427,
      ],
      { atol: 1e-6, rtol: 0 },
    );
    // n = 17: the last block is redrawn; torch.randn(17)[-3:]
    fl.manualSeed(0);
    assertTensor(
      fl.randn([17]).index("-3:"),
      [3],
      [0.946298360824585, -0.843676745891571, 0.9318265914916992],
      { atol: 1e-6, rtol: 0 },
    );
  });

  it("streams continue across calls; Generator objects are independent", () => {
    fl.manualSeed(0);
    assertTensor(fl.rand([2]), [2], [0.49625658988952637, 0.7682217955589294], {
      atol: 0,
      rtol: 0,
    });
    assertTensor(
      fl.randn([3]),
      [3],
      [-0.29050925374031067, -1.0703703165054321, 1.2644586563110352],
      { atol: 1e-6, rtol: 0 },
    );
    const g = new fl.Generator(7); // torch.Generator().manual_seed(7)
    assertTensor(
      fl.rand([3], { generator: g }),
      [3],
      [0.5349225401878357, 0.19880318641662598, 0.6592116951942444],
      { atol: 0, rtol: 0 },
    );
  });

  it("randint and randperm", () => {
    fl.manualSeed(0);
    assertTensor(fl.randint(0, 10, [8]), [8], [4, 9, 3, 0, 3, 9, 7, 3], { dtype: "int32" });
    fl.manualSeed(0);
    assertTensor(fl.randint(-5, 5, [2, 3]), [2, 3], [-1, 4, -2, -5, -2, 4]);
    fl.manualSeed(0);
    assertTensor(fl.randint(10, [8]), [8], [4, 9, 3, 0, 3, 9, 7, 3]);
    fl.manualSeed(0);
    assertTensor(fl.randint(0, 2 ** 31 - 1, [3]), [3], [209652397, 398764592, 924231286], {
      atol: 0,
      rtol: 0,
    });
    fl.manualSeed(0);
    assertTensor(fl.randperm(10), [10], [4, 1, 7, 5, 3, 9, 0, 8, 6, 2], { dtype: "int32" });
    fl.manualSeed(0);
    const p = fl.randperm(1000);
    assertTensor(p.index(":10"), [10], [44, 37, 675, 775, 947, 209, 719, 500, 561, 264]);
    assertTensor(p.index("-5:"), [5], [206, 932, 745, 263, 354]);
    assert.deepEqual(
      Array.from(p.dataSync()).sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it("uniform_ / normal_ in place", () => {
    fl.manualSeed(0);
    assertTensor(
      fl.zeros([4]).uniform_(-2, 2),
      [4],
      [-0.014973640441894531, 1.0728871822357178, -1.6460902690887451, -1.4718780517578125],
      { atol: 1e-6, rtol: 0 },
    );
    fl.manualSeed(0);
    assertTensor(
      fl.zeros([4]).normal_(1, 3),
      [4],
      [5.622988224029541, 0.11971328407526016, -5.536368370056152, 2.705293893814087],
      { atol: 1e-5, rtol: 0 },
    );
  });

  it("manualSeed makes every factory deterministic", () => {
    const draw = () => [
      fl.rand([7]),
      fl.randn([33]),
      fl.randint(0, 100, [5]),
      fl.randperm(9),
      fl.rand([2], { dtype: "float64" }),
    ];
    fl.manualSeed(123);
    const first = draw();
    fl.manualSeed(123);
    const second = draw();
    for (const [k, t] of first.entries())
      assert.deepEqual(Array.from(t.dataSync()), Array.from(second[k]!.dataSync()));
  });

  it("rand / randn reject integer dtypes; randint checks its range", () => {
    assert.throws(() => fl.rand([2], { dtype: "int32" }), /rand: dtype must be float32 or float64/);
    assert.throws(() => fl.randint(5, 5, [2]), /randint: expected low < high/);
  });
});

describe("reading values", () => {
  it("item / itemSync give a number (or boolean) from one element", async () => {
    assert.equal(await fl.tensor([[2.5]]).item(), 2.5);
    assert.equal(fl.tensor(7, { dtype: "int32" }).itemSync(), 7);
    assert.equal(fl.tensor(true).itemSync(), true);
    assert.throws(
      () => fl.tensor([1, 2]).itemSync(),
      /item: a tensor with 2 elements cannot be converted to a scalar/,
    );
  });

  it("tolist / tolistSync nest like PyTorch's tolist, in logical order for views", async () => {
    const t = fl.arange(6).reshape([2, 3]);
    assert.deepEqual(await t.tolist(), [
      [0, 1, 2],
      [3, 4, 5],
    ]);
    assert.deepEqual(t.t().tolistSync(), [
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    assert.deepEqual(fl.tensor([true, false]).tolistSync(), [true, false]);
    assert.equal(fl.tensor(1.5).tolistSync(), 1.5);
    assert.deepEqual(fl.zeros([2, 0]).tolistSync(), [[], []]);
  });

  it("data / dataSync return a fresh row-major typed array of the dtype", async () => {
    const x = fl.arange(6, { dtype: "float32" }).reshape([2, 3]);
    const d = await x.data();
    assert.ok(d instanceof Float32Array);
    d[0] = 100;
    assertTensor(x, [2, 3], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(Array.from(x.t().dataSync()), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(Array.from(x.index("1, 1:").dataSync()), [4, 5]);
    assert.ok(fl.tensor([1], { dtype: "int32" }).dataSync() instanceof Int32Array);
    assert.ok(fl.tensor([1], { dtype: "float64" }).dataSync() instanceof Float64Array);
    assert.ok(fl.tensor([true]).dataSync() instanceof Uint8Array);
    assert.deepEqual(Array.from(fl.tensor([2]).expand([3]).dataSync()), [2, 2, 2]);
  });

  it("metadata", () => {
    const x = fl.zeros([2, 3, 4]);
    assert.equal(x.ndim, 3);
    assert.equal(x.dim(), 3);
    assert.equal(x.numel(), 24);
    assert.deepEqual(x.size(), [2, 3, 4]);
    assert.equal(x.size(-1), 4);
    assert.deepEqual(x.stride(), [12, 4, 1]);
    assert.equal(x.device, "cpu");
    assert.equal(x.elementSize(), 4);
    assert.equal(x.isFloatingPoint(), true);
    assert.throws(() => x.size(3), fl.ArgumentError);
  });
});
