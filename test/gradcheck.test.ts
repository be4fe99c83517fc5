// Every differentiable op against central differences, in float64
// (fl.autograd.gradcheck), and a handful twice (gradgradcheck). On other
// devices, which lack float64, each case instead compares the device's
// float32 values and gradients with the CPU's float32 ones.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../src/index.js";
import { knownGap, onDevice, testDevices, toCpu } from "./devices.js";

const devices = (await testDevices()).filter((d) => d !== "cpu");

type Fn = (...xs: fl.Tensor[]) => fl.Tensor | fl.Tensor[];

/** A float64 leaf that requires grad, from nested numbers. */
const leaf = (data: fl.NestedArray) => fl.tensor(data, { dtype: "float64", requiresGrad: true });
const int = (data: fl.NestedArray) => fl.tensor(data, { dtype: "int32" });

/** Uniform float64 values in [lo, hi), seeded, as a leaf. */
function uniform(shape: number[], lo: number, hi: number, seed: number): fl.Tensor {
  const g = new fl.Generator().manualSeed(seed);
  return fl
    .rand(shape, { dtype: "float64", generator: g })
    .mul(hi - lo)
    .add(lo)
    .detach()
    .requiresGrad_();
}

/** Values in ±[0.2, 1.2): no element near 0, where abs/relu/sign have kinks. */
function awayFromZero(shape: number[], seed: number): fl.Tensor {
  const g = new fl.Generator().manualSeed(seed);
  const mag = fl.rand(shape, { dtype: "float64", generator: g }).add(0.2);
  const sign = fl.rand(shape, { dtype: "float64", generator: g }).gt(0.5).mul(2).sub(1);
  return mag.mul(sign).detach().requiresGrad_();
}

function check(
  name: string,
  fn: Fn,
  inputs: () => fl.Tensor[],
  opts: fl.autograd.GradcheckOptions = {},
): void {
  test(name, () => {
    assert.equal(fl.autograd.gradcheck(fn, inputs(), opts), true);
  });
  for (const device of devices) {
    test(`${name} (${device} float32 = cpu float32)`, knownGap(device, `gradcheck/${name}`), () =>
      compareWithCpu(fn, inputs(), device),
    );
  }
}

/** fn's outputs and input gradients on `device` against the CPU's, both in float32. */
async function compareWithCpu(fn: Fn, inputs: fl.Tensor[], device: string): Promise<void> {
  const f32 = inputs.map((x) => {
    const y = x.isFloatingPoint() ? x.detach().to("float32") : x.detach();
    return x.requiresGrad ? y.requiresGrad_() : y;
  });
  const runOn = (d: string) => {
    const xs = f32.map((x) =>
      d === "cpu" ? (x.requiresGrad ? x.detach().requiresGrad_() : x) : onDevice(x, d),
    );
    const out = fn(...xs);
    const outs = Array.isArray(out) ? out : [out];
    // A fixed, uneven weighting of every output element, so each gradient entry counts.
    const loss = outs
      .filter((o) => o.requiresGrad)
      .map((o) =>
        o
          .mul(fl.arange(0, o.numel()).float().mul(0.37).sin().add(1.1).reshape(o.shape).to(d))
          .sum(),
      )
      .reduce((a, b) => a.add(b));
    loss.backward();
    return { outs, xs };
  };
  const cpu = runOn("cpu");
  const dev = runOn(device);
  const close = async (g: fl.Tensor, c: fl.Tensor, what: string) => {
    assert.equal(g.device, device, `${what} left ${device}`);
    const a = await (await toCpu(g)).data();
    const b = c.dataSync();
    assert.equal(a.length, b.length, what);
    for (let i = 0; i < b.length; i++) {
      const ok = Number.isNaN(b[i]!)
        ? Number.isNaN(a[i]!)
        : Math.abs(a[i]! - b[i]!) <= 1e-4 * (1 + Math.abs(b[i]!));
      assert.ok(ok, `${what}[${i}]: ${device} ${a[i]}, cpu ${b[i]}`);
    }
  };
  for (const [i, o] of cpu.outs.entries()) await close(dev.outs[i]!, o, `output ${i}`);
  for (const [i, x] of cpu.xs.entries()) {
    if (!x.requiresGrad) continue;
    if (x.grad === null) {
      assert.equal(dev.xs[i]!.grad, null, `input ${i}: no gradient expected`);
      continue;
    }
    assert.ok(dev.xs[i]!.grad, `input ${i}: no gradient on ${device}`);
    await close(dev.xs[i]!.grad!, x.grad, `grad ${i}`);
  }
}

function checkTwice(name: string, fn: Fn, inputs: () => fl.Tensor[]): void {
  test(name, () => {
    assert.equal(fl.autograd.gradgradcheck(fn, inputs()), true);
  });
}

describe("gradcheck: unary ops", () => {
  const any = () => [uniform([2, 3], -1.5, 1.5, 1)];
  const positive = () => [uniform([2, 3], 0.5, 2, 2)];
  const unit = () => [uniform([2, 3], -0.8, 0.8, 3)];
  const cases: [string, (x: fl.Tensor) => fl.Tensor, () => fl.Tensor[]][] = [
    ["neg", (x) => x.neg(), any],
    ["abs", (x) => x.abs(), () => [awayFromZero([2, 3], 4)]],
    ["exp", (x) => x.exp(), any],
    ["log", (x) => x.log(), positive],
    ["log2", (x) => x.log2(), positive],
    ["log10", (x) => x.log10(), positive],
    ["sqrt", (x) => x.sqrt(), positive],
    ["rsqrt", (x) => x.rsqrt(), positive],
    ["reciprocal", (x) => x.reciprocal(), () => [awayFromZero([2, 3], 5)]],
    ["square", (x) => x.square(), any],
    ["sin", (x) => x.sin(), any],
    ["cos", (x) => x.cos(), any],
    ["tan", (x) => x.tan(), () => [uniform([2, 3], -1.2, 1.2, 6)]],
    ["tanh", (x) => x.tanh(), any],
    ["sigmoid", (x) => x.sigmoid(), any],
    ["relu", (x) => x.relu(), () => [awayFromZero([2, 3], 7)]],
    ["erf", (x) => x.erf(), any],
    ["log1p", (x) => x.log1p(), () => [uniform([2, 3], -0.5, 2, 8)]],
    ["expm1", (x) => x.expm1(), any],
    ["atan", (x) => x.atan(), any],
    ["asin", (x) => x.asin(), unit],
    ["acos", (x) => x.acos(), unit],
    ["sinh", (x) => x.sinh(), any],
    ["cosh", (x) => x.cosh(), any],
  ];
  for (const [name, f, inputs] of cases) check(name, f, inputs);
  check(
    "function forms (fl.exp, fl.sqrt, …) on a non-contiguous input",
    (x) => fl.sqrt(fl.exp(x.t())),
    () => [uniform([3, 2], -1, 1, 9)],
  );
});

describe("gradcheck: binary ops with broadcasting", () => {
  const ab = () => [uniform([2, 3], -1, 1, 10), uniform([3], -1, 1, 11)];
  const colRow = () => [uniform([2, 1], -1, 1, 12), uniform([1, 3], -1, 1, 13)];
  const positiveDenominator = () => [uniform([2, 3], -1, 1, 14), uniform([2, 1], 0.5, 2, 15)];
  const cases: [string, Fn, () => fl.Tensor[]][] = [
    ["add [2,3] + [3]", (a, b) => a!.add(b!), ab],
    ["add with alpha", (a, b) => a!.add(b!, { alpha: -2.5 }), colRow],
    ["sub [2,1] - [1,3]", (a, b) => a!.sub(b!), colRow],
    ["sub with alpha", (a, b) => a!.sub(b!, { alpha: 3 }), ab],
    ["mul [2,3] * [3]", (a, b) => a!.mul(b!), ab],
    ["mul [2,1] * [1,3]", (a, b) => a!.mul(b!), colRow],
    ["div [2,3] / [2,1]", (a, b) => a!.div(b!), positiveDenominator],
    ["div by a 0-d tensor", (a, b) => a!.div(b!), () => [uniform([2, 3], -1, 1, 16), leaf(1.7)]],
    ["maximum [2,3], [3]", (a, b) => a!.maximum(b!), ab],
    ["minimum [2,1], [1,3]", (a, b) => a!.minimum(b!), colRow],
    ["atan2 [2,3], [3]", (a, b) => a!.atan2(b!), ab],
    [
      "scalar operands: 2 - x, x * 3, 1 / x",
      (x) => fl.sub(2, x!).mul(3).add(fl.div(1, x!)),
      () => [uniform([4], 0.5, 2, 17)],
    ],
    ["rsub", (a, b) => a!.rsub(b!), ab],
    ["lerp", (a, b) => a!.lerp(b!, 0.3), ab],
  ];
  for (const [name, f, inputs] of cases) check(name, f, inputs);
});

describe("gradcheck: pow, clamp, where", () => {
  check(
    "pow with a scalar exponent 3",
    (x) => x!.pow(3),
    () => [uniform([2, 3], -1.5, 1.5, 20)],
  );
  check(
    "pow with exponent 0.5",
    (x) => x!.pow(0.5),
    () => [uniform([2, 3], 0.5, 2, 21)],
  );
  check(
    "pow with exponent -1.5",
    (x) => x!.pow(-1.5),
    () => [uniform([2, 3], 0.5, 2, 22)],
  );
  check(
    "pow with exponent 0",
    (x) => x!.pow(0),
    () => [uniform([3], -1, 1, 23)],
  );
  check(
    "pow with a tensor exponent [2,3] ** [3]",
    (a, b) => a!.pow(b!),
    () => [uniform([2, 3], 0.5, 2, 24), uniform([3], -2, 2, 25)],
  );
  check(
    "pow with a scalar base: 2 ** x",
    (x) => fl.pow(2, x!),
    () => [uniform([4], -1, 1, 26)],
  );
  check(
    "clamp(min, max)",
    (x) => x!.clamp(-0.5, 0.5),
    () => [
      leaf([
        [-0.9, -0.3, 0.1],
        [0.4, 0.8, -0.7],
      ]),
    ],
  );
  check(
    "clamp(min only)",
    (x) => x!.clamp(0.2),
    () => [leaf([-0.9, -0.3, 0.1, 0.4, 0.8])],
  );
  check(
    "clamp({ max })",
    (x) => x!.clamp({ max: 0 }),
    () => [leaf([-0.9, -0.3, 0.1, 0.4])],
  );
  check(
    "where with broadcasting, both branches differentiable",
    (a, b) => fl.where(fl.tensor([[true], [false]]), a!, b!),
    () => [uniform([2, 3], -1, 1, 27), uniform([3], -1, 1, 28)],
  );
  check(
    "where with a scalar branch",
    (a) => fl.where(a!.gt(0), a!, 0.5),
    () => [awayFromZero([2, 3], 29)],
  );
});

describe("gradcheck: reductions", () => {
  const x3 = () => [uniform([2, 3, 2], -1, 1, 30)];
  const x2 = () => [uniform([3, 4], -1, 1, 31)];
  const cases: [string, Fn, () => fl.Tensor[]][] = [
    ["sum()", (x) => x!.sum(), x3],
    ["sum(1)", (x) => x!.sum(1), x3],
    ["sum([0,2], keepdim)", (x) => x!.sum([0, 2], { keepdim: true }), x3],
    ["sum(-1) of a transposed input", (x) => x!.t().sum(-1), x2],
    ["mean()", (x) => x!.mean(), x3],
    ["mean(0)", (x) => x!.mean(0), x3],
    ["mean([1,2], keepdim)", (x) => x!.mean([1, 2], { keepdim: true }), x3],
    ["prod()", (x) => x!.prod(), () => [uniform([2, 3], 0.5, 1.5, 32)]],
    ["prod(1)", (x) => x!.prod(1), () => [uniform([2, 3], -1.5, 1.5, 33)]],
    [
      "prod() with a zero element",
      (x) => x!.prod(),
      () => [
        leaf([
          [0.5, 0, 1.5],
          [2, -1, 0.7],
        ]),
      ],
    ],
    [
      "prod(1, keepdim) with one and two zeros",
      (x) => x!.prod(1, { keepdim: true }),
      () => [
        leaf([
          [0.5, 0, 1.5],
          [0, 2, 0],
        ]),
      ],
    ],
    ["max()", (x) => x!.max(), x2],
    ["min()", (x) => x!.min(), x2],
    ["max(1).values", (x) => x!.max(1).values, x2],
    ["min(0, keepdim).values", (x) => x!.min(0, { keepdim: true }).values, x2],
    ["amax(1)", (x) => x!.amax(1), x3],
    ["amin([0,1])", (x) => x!.amin([0, 1]), x3],
    ["var()", (x) => x!.var(), x2],
    ["var(1, correction 0, keepdim)", (x) => x!.var(1, { correction: 0, keepdim: true }), x2],
    ["std()", (x) => x!.std(), x2],
    ["std(0)", (x) => x!.std(0), x2],
    ["logsumexp(1)", (x) => x!.logsumexp(1), x3],
    ["logsumexp([0,2], keepdim)", (x) => x!.logsumexp([0, 2], { keepdim: true }), x3],
    ["linalg.norm p=2 (default)", (x) => fl.linalg.norm(x!), () => [uniform([5], -1, 1, 34)]],
    ["linalg.norm p=1", (x) => fl.linalg.norm(x!, 1), () => [awayFromZero([5], 35)]],
    ["linalg.norm p=inf", (x) => fl.linalg.norm(x!, "inf"), () => [leaf([0.3, -1.4, 0.9, 0.2])]],
    ["linalg.norm p=3", (x) => fl.linalg.norm(x!, 3), () => [awayFromZero([5], 36)]],
    ["linalg.norm fro of a matrix", (x) => fl.linalg.norm(x!, "fro"), x2],
    ["linalg.vectorNorm along dim 1", (x) => fl.linalg.vectorNorm(x!, 2, 1), x2],
  ];
  for (const [name, f, inputs] of cases) check(name, f, inputs);
});

describe("gradcheck: matrix products", () => {
  const u = (shape: number[], seed: number) => uniform(shape, -1, 1, seed);
  const cases: [string, number[], number[]][] = [
    ["1d @ 1d", [3], [3]],
    ["2d @ 2d", [2, 3], [3, 4]],
    ["2d @ 1d", [2, 3], [3]],
    ["1d @ 2d", [3], [3, 2]],
    ["3d @ 3d", [2, 2, 3], [2, 3, 2]],
    ["3d @ 2d", [2, 2, 3], [3, 2]],
    ["2d @ 3d (batch broadcast)", [2, 3], [2, 3, 2]],
    ["4d @ 3d (batch broadcast)", [2, 1, 2, 3], [3, 3, 2]],
    ["1d @ 3d", [3], [2, 3, 2]],
    ["3d @ 1d", [2, 2, 3], [3]],
  ];
  cases.forEach(([name, sa, sb], k) => {
    check(
      `matmul ${name}`,
      (a, b) => a!.matmul(b!),
      () => [u(sa, 40 + 2 * k), u(sb, 41 + 2 * k)],
    );
  });
  check(
    "matmul of a transposed (non-contiguous) operand",
    (a, b) => a!.t().matmul(b!),
    () => [u([3, 2], 60), u([3, 2], 61)],
  );
  check(
    "mm",
    (a, b) => a!.mm(b!),
    () => [u([2, 3], 62), u([3, 2], 63)],
  );
  check(
    "bmm",
    (a, b) => a!.bmm(b!),
    () => [u([2, 2, 3], 64), u([2, 3, 2], 65)],
  );
  check(
    "mv",
    (a, b) => a!.mv(b!),
    () => [u([2, 3], 66), u([3], 67)],
  );
  check(
    "dot",
    (a, b) => a!.dot(b!),
    () => [u([4], 68), u([4], 69)],
  );
  check(
    "outer",
    (a, b) => a!.outer(b!),
    () => [u([3], 70), u([2], 71)],
  );
  check(
    "matmul with only the second operand differentiable",
    (b) => fl.tensor([[1, 2, 3]], { dtype: "float64" }).matmul(b!),
    () => [u([3, 2], 72)],
  );
});

describe("gradcheck: views and copies", () => {
  const x = () => [uniform([2, 3, 2], -1, 1, 80)];
  const cases: [string, (t: fl.Tensor) => fl.Tensor][] = [
    ["view", (t) => t.view(3, 4)],
    ["view with -1", (t) => t.view([-1, 2])],
    ["reshape (copy of a non-contiguous input)", (t) => t.transpose(0, 2).reshape([6, 2])],
    ["permute", (t) => t.permute([2, 0, 1])],
    ["transpose", (t) => t.transpose(0, 2)],
    ["t", (t) => t.select(2, 0).t()],
    ["mT", (t) => t.mT],
    ["squeeze", (t) => t.narrow(1, 0, 1).squeeze()],
    ["squeeze(dim)", (t) => t.narrow(1, 0, 1).squeeze(1)],
    ["unsqueeze", (t) => t.unsqueeze(1)],
    ["flatten", (t) => t.flatten()],
    ["flatten(1)", (t) => t.flatten(1)],
    ["unflatten", (t) => t.flatten().unflatten(0, [3, 4])],
    ["expand", (t) => t.narrow(1, 0, 1).expand(3, 2, 4, 2)],
    ["narrow", (t) => t.narrow(1, 1, 2)],
    ["select", (t) => t.select(1, -1)],
    ["slice with a step (index '::2')", (t) => t.index(":, ::2")],
    ["index with an int32 tensor (repeats)", (t) => t.index(int([1, 1, 0]))],
    [
      "index with a bool mask",
      (t) =>
        t.select(2, 0).index(
          fl.tensor([
            [true, false, true],
            [false, true, true],
          ]),
        ),
    ],
    ["contiguous", (t) => t.transpose(0, 1).contiguous()],
    ["clone", (t) => t.clone()],
  ];
  for (const [name, f] of cases) check(name, f, x);
});

describe("gradcheck: joining and splitting", () => {
  const a = () => [uniform([2, 3], -1, 1, 90), uniform([1, 3], -1, 1, 91)];
  check("cat(0)", (p, q) => fl.cat([p!, q!], 0), a);
  check("cat(-1)", (p, q) => fl.cat([p!, q!.expand(2, 3), p!], -1), a);
  check("stack(0)", (p, q) => fl.stack([p!, q!.expand(2, 3)]), a);
  check("stack(2)", (p, q) => fl.stack([p!, q!.expand(2, 3)], 2), a);
  check(
    "split into sizes",
    (p) => fl.split(p!, [1, 2], 1),
    () => [uniform([2, 3], -1, 1, 92)],
  );
  check(
    "split by size",
    (p) => p!.split(2, 1),
    () => [uniform([2, 3], -1, 1, 93)],
  );
  check(
    "chunk",
    (p) => p!.chunk(2, 0),
    () => [uniform([3, 2], -1, 1, 94)],
  );
  check(
    "unbind",
    (p) => p!.unbind(1),
    () => [uniform([2, 3], -1, 1, 95)],
  );
});

describe("gradcheck: gather, scatter and masks", () => {
  const x = () => [uniform([3, 4], -1, 1, 100)];
  check(
    "gather(1) with repeated indices",
    (t) =>
      t!.gather(
        1,
        int([
          [0, 0],
          [3, 1],
          [2, 2],
        ]),
      ),
    x,
  );
  check("gather(0)", (t) => t!.gather(0, int([[2, 0, 1, 1]])), x);
  check(
    "scatter(1) into both input and src",
    (t, s) =>
      t!.scatter(
        1,
        int([
          [1, 3],
          [0, 2],
          [2, 1],
        ]),
        s!,
      ),
    () => [uniform([3, 4], -1, 1, 101), uniform([3, 2], -1, 1, 102)],
  );
  check("scatter of a scalar value", (t) => t!.scatter(0, int([[2, 0, 1, 0]]), 0.5), x);
  check(
    "scatterAdd with repeated indices",
    (t, s) =>
      t!.scatterAdd(
        1,
        int([
          [1, 1],
          [0, 0],
          [3, 2],
        ]),
        s!,
      ),
    () => [uniform([3, 4], -1, 1, 103), uniform([3, 2], -1, 1, 104)],
  );
  check("indexSelect(0) with repeats", (t) => t!.indexSelect(0, int([2, 0, 2])), x);
  check("indexSelect(1)", (t) => t!.indexSelect(1, int([3, 1])), x);
  check(
    "maskedFill with a broadcast mask",
    (t) => t!.maskedFill(fl.tensor([true, false, false, true]), -2),
    x,
  );
  check("maskedSelect", (t) => t!.maskedSelect(fl.tensor([[true], [false], [true]])), x);
  check("tril", (t) => t!.tril(), x);
  check("triu(1)", (t) => t!.triu(1), x);
  check(
    "tril(-1) of a batch",
    (t) => t!.tril(-1),
    () => [uniform([2, 3, 3], -1, 1, 105)],
  );
});

describe("gradcheck: casts", () => {
  // float32 keeps ~7 digits, so the finite differences need a large step.
  check(
    "float64 → float32 → float64",
    (t) => t!.float().mul(t!.float()).double(),
    () => [uniform([2, 3], -1, 1, 110)],
    {
      eps: 1e-2,
      atol: 1e-4,
    },
  );
  check(
    "to('float32').to('float64') via to()",
    (t) => t!.to("float32").exp().to("float64"),
    () => [uniform([4], -1, 1, 111)],
    {
      eps: 1e-2,
      atol: 1e-3,
      rtol: 1e-3,
    },
  );
  test("a float32 leaf used in float64 math gets a float32 gradient", () => {
    const x = fl.tensor([0.5, 1.5], { requiresGrad: true });
    x.double().square().sum().backward();
    assert.equal(x.grad!.dtype, "float32");
    assert.deepEqual(x.grad!.tolistSync(), [1, 3]);
  });
});

describe("gradgradcheck", () => {
  const x = () => [uniform([2, 3], -1, 1, 120)];
  checkTwice("tanh", (t) => t!.tanh(), x);
  checkTwice("sigmoid", (t) => t!.sigmoid(), x);
  checkTwice("exp", (t) => t!.exp(), x);
  checkTwice(
    "mul of two tensors",
    (a, b) => a!.mul(b!),
    () => [uniform([2, 3], -1, 1, 121), uniform([3], -1, 1, 122)],
  );
  checkTwice(
    "matmul",
    (a, b) => a!.matmul(b!),
    () => [uniform([2, 3], -1, 1, 123), uniform([3, 2], -1, 1, 124)],
  );
  checkTwice(
    "div",
    (a, b) => a!.div(b!),
    () => [uniform([2, 3], -1, 1, 125), uniform([3], 0.5, 2, 126)],
  );
  checkTwice(
    "softmax as exp(x) / Σ exp(x)",
    (t) => t!.exp().div(t!.exp().sum(-1, { keepdim: true })),
    x,
  );
  checkTwice(
    "log-softmax as x - logsumexp(x)",
    (t) => t!.sub(t!.logsumexp(-1, { keepdim: true })),
    x,
  );
  checkTwice(
    "a tanh layer: tanh(x W + b)",
    (a, w, b) => a!.matmul(w!).add(b!).tanh(),
    () => [uniform([2, 3], -1, 1, 127), uniform([3, 2], -1, 1, 128), uniform([2], -1, 1, 129)],
  );
  checkTwice("var and std", (t) => t!.var(1).add(t!.std(0).sum()), x);
  checkTwice(
    "prod with a zero",
    (t) => t!.prod(1),
    () => [
      leaf([
        [0.5, 0, 1.5],
        [2, -1, 0.7],
      ]),
    ],
  );
});

describe("gradcheck itself", () => {
  /** y = 2x, but with a deliberately wrong backward of 3g. */
  function wrongDouble(x: fl.Tensor): fl.Tensor {
    const y = fl.noGrad(() => x.mul(2));
    if (fl.isGradEnabled() && x.requiresGrad) {
      y.gradFn = new fl.autograd.Node("WrongBackward", [x], (g) => [g.mul(3)]);
      y.requiresGrad = true;
    }
    return y;
  }

  /** y = x², with a backward that is right once but hides x from the second derivative. */
  function flatSecond(x: fl.Tensor): fl.Tensor {
    const y = fl.noGrad(() => x.square());
    if (fl.isGradEnabled() && x.requiresGrad) {
      y.gradFn = new fl.autograd.Node("FlatBackward", [x], (g) => [g.mul(x.detach()).mul(2)]);
      y.requiresGrad = true;
    }
    return y;
  }

  test("catches a wrong first derivative", () => {
    const x = uniform([3], -1, 1, 130);
    assert.equal(fl.autograd.gradcheck(wrongDouble, [x], { raiseException: false }), false);
    assert.throws(() => fl.autograd.gradcheck(wrongDouble, [x]), {
      name: "AutogradError",
      message:
        /^gradcheck: Jacobian mismatch for output element 0 with respect to input 0, element 0: numerical 2\.\d*, analytical 3/,
    });
  });

  test("catches a wrong second derivative that gradcheck misses", () => {
    const x = uniform([3], -1, 1, 131);
    assert.equal(fl.autograd.gradcheck(flatSecond, [x]), true);
    assert.equal(fl.autograd.gradgradcheck(flatSecond, [x], { raiseException: false }), false);
  });

  test("needs at least one input that requires grad", () => {
    assert.throws(
      () => fl.autograd.gradcheck((t) => t.exp(), [fl.ones([2], { dtype: "float64" })]),
      {
        name: "AutogradError",
        message: "gradcheck: at least one input must require grad",
      },
    );
  });

  test("inputs that do not require grad are held constant", () => {
    const c = fl.tensor([1, 2, 3], { dtype: "float64" });
    assert.equal(
      fl.autograd.gradcheck((a, b) => a!.mul(b!).sin(), [uniform([3], -1, 1, 132), c]),
      true,
    );
  });
});
