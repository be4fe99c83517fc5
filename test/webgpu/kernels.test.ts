// The webgpu primitives against the CPU reference kernels (the oracle), on
// strided, broadcast and offset views, for float32, int32 and bool.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { BinaryOp, UnaryOp } from "../../src/backend/backend.js";
import * as fl from "../../src/index.js";
import { webgpuSkipReason } from "../devices.js";

const skip = await webgpuSkipReason();

/** Compares a webgpu result with the CPU one: same shape, dtype and values within tol·(1+|cpu|). */
async function same(gpu: fl.Tensor, cpu: fl.Tensor, what: string, tol = 1e-5): Promise<void> {
  assert.equal(gpu.device, "webgpu", `${what}: not on webgpu`);
  assert.deepEqual(gpu.shape, cpu.shape, `${what}: shape`);
  assert.equal(gpu.dtype, cpu.dtype, `${what}: dtype`);
  const g = await gpu.data();
  const c = cpu.dataSync();
  for (let i = 0; i < c.length; i++) {
    const a = g[i]!;
    const b = c[i]!;
    if (Number.isNaN(b)) assert.ok(Number.isNaN(a), `${what}[${i}]: expected NaN, got ${a}`);
    else if (!Number.isFinite(b)) assert.equal(a, b, `${what}[${i}]`);
    else
      assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${what}[${i}]: webgpu ${a}, cpu ${b}`);
  }
}

const gpu = (t: fl.Tensor) => t.to("webgpu");

describe("webgpu kernels", { skip }, () => {
  if (skip) return;
  fl.manualSeed(0);
  // A non-contiguous float input: transposed, offset by a narrow, values with both signs.
  const base = fl.randn([7, 6]).mul(2);
  const x = base.t().narrow(1, 1, 5); // [6,5], strides [1,6], offset 6
  const xi = fl.randint(-9, 9, [6, 5]);

  test("unary ops on strided float32 views", async () => {
    const ops: UnaryOp[] = [
      "neg",
      "abs",
      "exp",
      "sqrt",
      "rsqrt",
      "reciprocal",
      "square",
      "sin",
      "cos",
      "tanh",
      "sigmoid",
      "relu",
      "sign",
      "floor",
      "ceil",
      "round",
      "trunc",
      "erf",
      "log1p",
      "expm1",
      "atan",
      "sinh",
      "cosh",
      "logicalNot",
      "isnan",
      "isinf",
    ];
    const gx = gpu(base).t().narrow(1, 1, 5);
    assert.equal(gx.isContiguous(), false);
    for (const op of ops) {
      const tol = op === "erf" ? 3e-6 : 2e-5;
      // biome-ignore lint/suspicious/noExplicitAny: method by name
      const f = (t: fl.Tensor) => (t as any)[op]() as fl.Tensor;
      await same(f(gx), f(x), op, tol);
    }
    // Domains that need positive inputs.
    const pos = x.abs().add(0.1);
    for (const op of ["log", "sqrt", "log1p", "tan"] as const)
      await same(gpu(pos)[op](), pos[op](), op);
    const unit = x.tanh().mul(0.9);
    for (const op of ["asin", "acos"] as const) await same(gpu(unit)[op](), unit[op](), op);
  });

  test("unary ops on int32 keep integer results", async () => {
    for (const op of ["neg", "abs", "square", "relu", "sign", "floor"] as const)
      await same(gpu(xi)[op](), xi[op](), `int ${op}`);
    await same(gpu(xi).exp(), xi.exp(), "exp of int32 is float32", 2e-5);
  });

  test("special values: NaN and infinities survive", async () => {
    const s = fl.tensor([
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      0,
      -0.5,
      50,
      -50,
    ]);
    for (const op of ["relu", "sign", "isnan", "isinf", "tanh", "sigmoid", "exp", "abs"] as const)
      await same(gpu(s)[op](), s[op](), op);
    await same(
      gpu(s).maximum(gpu(fl.zerosLike(s))),
      s.maximum(fl.zerosLike(s)),
      "maximum propagates NaN",
    );
    await same(gpu(s).amax(0), s.amax(0), "amax propagates NaN");
    await same(gpu(s).argmax(), s.argmax(), "argmax picks NaN");
  });

  test("binary ops broadcast over strided operands", async () => {
    const y = fl.randn([5]).add(0.5); // broadcast along rows
    const ops: BinaryOp[] = [
      "add",
      "sub",
      "mul",
      "div",
      "maximum",
      "minimum",
      "atan2",
      "fmod",
      "remainder",
      "eq",
      "ne",
      "lt",
      "le",
      "gt",
      "ge",
      "logicalAnd",
      "logicalOr",
      "logicalXor",
    ];
    const gx = gpu(base).t().narrow(1, 1, 5);
    const gy = gpu(y);
    for (const op of ops) {
      // biome-ignore lint/suspicious/noExplicitAny: method by name
      const f = (a: fl.Tensor, b: fl.Tensor) => (a as any)[op](b) as fl.Tensor;
      await same(f(gx, gy), f(x, y), op, 1e-5);
    }
    await same(gx.add(2.5), x.add(2.5), "tensor + scalar");
    await same(gx.add(fl.tensor(3)), x.add(fl.tensor(3)), "webgpu tensor + cpu 0-d tensor");
    await same(fl.tensor(3).sub(gx), fl.tensor(3).sub(x), "cpu 0-d tensor - webgpu tensor");
  });

  test("pow: integer, fractional and negative bases", async () => {
    const b = fl.tensor([-2, -1.5, 0, 0.5, 3]);
    for (const e of [0, 1, 2, 3, -1, 0.5, 2.5, -2])
      await same(gpu(b).pow(e), b.pow(e), `pow ${e}`, 1e-5);
    const e = fl.tensor([2, 3, 0.5, -1, 1.5]);
    await same(gpu(b.abs()).pow(gpu(e)), b.abs().pow(e), "tensor pow");
  });

  test("int32 arithmetic stays exact past 2^24", async () => {
    const a = fl.tensor([16777217, -5, 7, 2147483000], { dtype: "int32" });
    const b = fl.tensor([1, 3, -2, 600], { dtype: "int32" });
    for (const op of ["add", "sub", "mul", "maximum", "remainder", "fmod"] as const)
      await same(gpu(a)[op](gpu(b)), a[op](b), `int ${op}`);
    await same(gpu(a).div(gpu(b)), a.div(b), "int / int is float");
    const p = fl.tensor([46000, -3, 0, 1], { dtype: "int32" });
    await same(gpu(p).pow(2), p.pow(2), "int pow");
    await same(
      gpu(p).pow(gpu(fl.tensor([2, 3, 0, 5], { dtype: "int32" }))),
      p.pow(fl.tensor([2, 3, 0, 5], { dtype: "int32" })),
      "int pow tensor",
    );
  });

  test("casts between float32, int32 and bool", async () => {
    const v = fl.tensor([-2.7, -0.5, 0, 0.4, 3.9]);
    await same(gpu(v).to("int32"), v.to("int32"), "float→int truncates");
    await same(gpu(v).to("bool"), v.to("bool"), "float→bool");
    await same(gpu(v).to("bool").to("float32"), v.to("bool").to("float32"), "bool→float");
    await same(gpu(xi).float(), xi.float(), "int→float");
    const m = fl.tensor([true, false, true]);
    assert.deepEqual(Array.from(await gpu(m).data()), [1, 0, 1]);
    assert.equal(await gpu(m).sum().item(), 2);
  });

  test("float64 is refused with a typed error", () => {
    assert.throws(() => fl.zeros([2], { dtype: "float64" }).to("webgpu"), fl.NotImplementedError);
    assert.throws(() => gpu(x).double(), /float64 is not supported on webgpu/);
  });

  test("reductions along any dims, with keepdim", async () => {
    const t = fl.randn([3, 4, 5, 6]).permute([2, 0, 3, 1]); // [5,3,6,4] non-contiguous
    const g = gpu(fl.randn([1]))
      .mul(0)
      .add(gpu(t)); // same values, on the device
    for (const dims of [[0], [1], [3], [0, 2], [1, 3], [0, 1, 2, 3]]) {
      await same(g.sum(dims), t.sum(dims), `sum ${dims}`, 1e-5);
      await same(g.amax(dims, { keepdim: true }), t.amax(dims, { keepdim: true }), `amax ${dims}`);
      await same(g.amin(dims), t.amin(dims), `amin ${dims}`);
      await same(g.mean(dims), t.mean(dims), `mean ${dims}`, 1e-5);
    }
    await same(g.prod(2), t.prod(2), "prod", 1e-4);
    for (const d of [0, 1, 2, 3]) {
      await same(g.argmax(d), t.argmax(d), `argmax ${d}`);
      await same(g.argmin(d), t.argmin(d), `argmin ${d}`);
    }
    // Long reductions take the workgroup path.
    const long = fl.randn([3, 5000]);
    await same(gpu(long).sum(1), long.sum(1), "long sum", 1e-4);
    await same(gpu(long).max(1).indices, long.max(1).indices, "long argmax");
    await same(gpu(long).sum(), long.sum(), "full sum", 1e-4);
  });

  test("argmax ties take the first index", async () => {
    const t = fl.tensor([
      [1, 3, 3, 0],
      [2, 2, 2, 2],
    ]);
    assert.deepEqual(Array.from(await gpu(t).argmax(1).data()), [1, 0]);
    const long = fl.ones([1, 300]);
    assert.deepEqual(Array.from(await gpu(long).argmax(1).data()), [0]);
  });

  test("integer and bool reductions", async () => {
    await same(gpu(xi).sum(0), xi.sum(0), "int sum");
    await same(gpu(xi).amax(1), xi.amax(1), "int max");
    const m = xi.gt(0);
    await same(gpu(m).sum(1), m.sum(1), "bool sum");
    await same(gpu(m).any(1), m.any(1), "any");
    await same(gpu(m).all(0), m.all(0), "all");
  });

  test("matmul: tiles, edges, transposed and batched-broadcast operands", async () => {
    for (const [m, k, n] of [
      [1, 1, 1],
      [3, 5, 2],
      [64, 64, 64],
      [65, 17, 130],
      [129, 200, 33],
    ]) {
      const a = fl.randn([m!, k!]);
      const b = fl.randn([k!, n!]);
      await same(gpu(a).matmul(gpu(b)), a.matmul(b), `mm ${m}x${k}x${n}`, 1e-4);
    }
    const a = fl.randn([20, 30]);
    const b = fl.randn([40, 30]);
    await same(gpu(a).matmul(gpu(b).t()), a.matmul(b.t()), "a @ b.T", 1e-4);
    await same(gpu(b).t().t().matmul(gpu(a).t()), b.matmul(a.t()), "strided", 1e-4);
    const ba = fl.randn([2, 1, 7, 9]);
    const bb = fl.randn([3, 9, 4]);
    await same(gpu(ba).matmul(gpu(bb)), ba.matmul(bb), "broadcast batch", 1e-4);
    const ia = fl.randint(-5, 5, [4, 6]);
    const ib = fl.randint(-5, 5, [6, 3]);
    await same(gpu(ia).matmul(gpu(ib)), ia.matmul(ib), "int matmul");
    const v = fl.randn([9]);
    await same(gpu(ba).matmul(gpu(v)), ba.matmul(v), "matrix @ vector", 1e-4);
  });

  test("where, maskedFill, tril and triu", async () => {
    const c = x.gt(0);
    const y = fl.randn([6, 5]);
    await same(fl.where(gpu(c), gpu(x), gpu(y)), fl.where(c, x, y), "where");
    await same(fl.where(gpu(c), gpu(xi), 0.5), fl.where(c, xi, 0.5), "where promotes");
    await same(gpu(x).maskedFill(gpu(c), -1), x.maskedFill(c, -1), "maskedFill");
    await same(gpu(x).tril(-1), x.tril(-1), "tril");
    await same(gpu(x).triu(1), x.triu(1), "triu");
  });

  test("gather, indexSelect, scatter and scatterAdd with repeated indices", async () => {
    const idx = fl.randint(0, 5, [6, 8]);
    await same(gpu(x).gather(1, gpu(idx)), x.gather(1, idx), "gather dim 1");
    const rows = fl.tensor([5, 0, 0, 2], { dtype: "int32" });
    await same(gpu(x).indexSelect(0, gpu(rows)), x.indexSelect(0, rows), "indexSelect");
    const neg = fl.tensor([[-1], [0]], { dtype: "int32" });
    await same(
      gpu(x).narrow(0, 0, 2).gather(1, gpu(neg)),
      x.narrow(0, 0, 2).gather(1, neg),
      "negative index wraps",
    );
    const z = fl.zeros([6, 5]);
    const src = fl.randn([6, 8]);
    await same(
      gpu(z).scatterAdd(1, gpu(idx), gpu(src)),
      z.scatterAdd(1, idx, src),
      "scatterAdd sums duplicates",
      1e-5,
    );
    const once = fl.tensor([[4, 0, 2]], { dtype: "int32" });
    const s1 = fl.tensor([[1, 2, 3]]);
    await same(
      gpu(fl.zeros([1, 5])).scatter(1, gpu(once), gpu(s1)),
      fl.zeros([1, 5]).scatter(1, once, s1),
      "scatter",
    );
    const ii = fl.tensor([0, 0, 1], { dtype: "int32" });
    const iv = fl.tensor([5, 6, 7], { dtype: "int32" });
    await same(
      gpu(fl.zeros([2], { dtype: "int32" })).scatterAdd(0, gpu(ii), gpu(iv)),
      fl.zeros([2], { dtype: "int32" }).scatterAdd(0, ii, iv),
      "int scatterAdd",
    );
  });

  test("an out-of-range index surfaces as an ArgumentError on the next read", async () => {
    const bad = gpu(fl.tensor([[7]], { dtype: "int32" }));
    const y = gpu(x).gather(1, bad);
    await assert.rejects(
      y.data(),
      (e: Error) =>
        e instanceof fl.ArgumentError &&
        /gather: index 7 is out of bounds .* size 5/.test(e.message),
    );
    // The fault is cleared once reported.
    assert.deepEqual(Array.from(await gpu(fl.tensor([1, 2])).data()), [1, 2]);
  });

  test("views, cat, stack, in-place writes into strided windows", async () => {
    const a = fl.randn([4, 6]);
    const g = gpu(a);
    await same(g.t().contiguous(), a.t().contiguous(), "contiguous");
    await same(fl.cat([g, g.mul(2)], 1), fl.cat([a, a.mul(2)], 1), "cat");
    await same(
      fl.stack([g.select(1, 2), g.select(1, 4)]),
      fl.stack([a.select(1, 2), a.select(1, 4)]),
      "stack",
    );
    const w = fl.zeros([4, 6]);
    const gw = gpu(w);
    w.narrow(1, 2, 3).copy_(a.narrow(1, 0, 3).t().t());
    gw.narrow(1, 2, 3).copy_(g.narrow(1, 0, 3).t().t());
    await same(gw, w, "copy_ into a window");
    gw.add_(1).mul_(gpu(fl.tensor([2])));
    w.add_(1).mul_(fl.tensor([2]));
    await same(gw, w, "in-place ops");
    const sq = fl.randn([3, 3]);
    const gs = gpu(sq);
    gs.copy_(gs.t());
    await same(gs, sq.t().contiguous(), "copy_ from a view of itself");
    await same(
      gpu(fl.arange(0, 4).float()).index("1:"),
      fl.arange(1, 4).float(),
      "index on device",
    );
  });

  test("reading: dataSync throws, data/item/tolist/toAsync work", async () => {
    const g = gpu(
      fl.tensor([
        [1, 2],
        [3, 4],
      ]),
    );
    assert.throws(
      () => g.dataSync(),
      (e: Error) => e instanceof fl.DeviceError && /await x.data\(\)/.test(e.message),
    );
    assert.throws(
      () => g.to("cpu"),
      (e: Error) => e instanceof fl.DeviceError && /toAsync\("cpu"\)/.test(e.message),
    );
    assert.deepEqual(await g.tolist(), [
      [1, 2],
      [3, 4],
    ]);
    assert.equal(await g.sum().item(), 10);
    const back = await g.t().toAsync("cpu");
    assert.equal(back.device, "cpu");
    assert.deepEqual(back.tolistSync(), [
      [1, 3],
      [2, 4],
    ]);
    assert.equal(String(g).includes("webgpu"), true);
  });

  test("empty tensors", async () => {
    const e = gpu(fl.zeros([0, 3]));
    assert.deepEqual(Array.from(await e.exp().data()), []);
    assert.deepEqual(Array.from(await e.sum(0).data()), [0, 0, 0]);
  });
});
