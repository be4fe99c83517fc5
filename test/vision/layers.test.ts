// Behaviour of the vision layers beyond the PyTorch fixtures: state_dict
// keys, train/eval, running statistics over several batches, errors,
// indices, weight/spectral norm bookkeeping, and the attention modules.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { nn } = fl;
const F = nn.functional;

function close(a: fl.Tensor, b: fl.Tensor, tol = 1e-5): void {
  const x = a.dataSync();
  const y = b.dataSync();
  assert.deepEqual(a.shape, b.shape);
  for (let i = 0; i < x.length; i++)
    assert.ok(Math.abs(x[i]! - y[i]!) <= tol * (1 + Math.abs(y[i]!)), `[${i}] ${x[i]} vs ${y[i]}`);
}

describe("convolution", () => {
  test("conv2d equals a direct sum over the window", () => {
    fl.manualSeed(1);
    const x = fl.randn([1, 2, 4, 5]);
    const w = fl.randn([3, 2, 2, 3]);
    const y = F.conv2d(x, w, null, { stride: [2, 1], padding: 1 });
    const xd = x.tolistSync() as number[][][][];
    const wd = w.tolistSync() as number[][][][];
    const yd = y.tolistSync() as number[][][][];
    assert.deepEqual(y.shape, [1, 3, 3, 5]);
    for (let o = 0; o < 3; o++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 5; j++) {
          let s = 0;
          for (let c = 0; c < 2; c++)
            for (let a = 0; a < 2; a++)
              for (let b = 0; b < 3; b++) {
                const ih = i * 2 - 1 + a;
                const iw = j - 1 + b;
                if (ih >= 0 && ih < 4 && iw >= 0 && iw < 5)
                  s += xd[0]![c]![ih]![iw]! * wd[o]![c]![a]![b]!;
              }
          assert.ok(Math.abs(yd[0]![o]![i]![j]! - s) < 1e-5);
        }
  });

  test("fold is the adjoint of unfold: <unfold(x), c> = <x, fold(c)>", () => {
    fl.manualSeed(2);
    const x = fl.randn([2, 3, 5, 6], { dtype: "float64" });
    const opts = { padding: 1, stride: 2, dilation: [1, 2] };
    const u = F.unfold(x, 3, opts);
    const c = fl.randnLike(u);
    const lhs = u.mul(c).sum().itemSync() as number;
    const rhs = x
      .mul(F.fold(c, [5, 6], 3, opts))
      .sum()
      .itemSync() as number;
    assert.ok(Math.abs(lhs - rhs) < 1e-9 * (1 + Math.abs(lhs)));
  });

  test("Conv2d keeps PyTorch's parameter shapes and keys; unbatched input works", () => {
    const conv = new nn.Conv2d(4, 6, [3, 2], { groups: 2, bias: false });
    assert.deepEqual(Object.keys(conv.stateDict()), ["weight"]);
    assert.deepEqual(conv.weight.shape, [6, 2, 3, 2]);
    assert.deepEqual(conv.forward(fl.randn([4, 5, 5])).shape, [6, 3, 4]);
    const t = new nn.ConvTranspose2d(4, 6, 3, { groups: 2 });
    assert.deepEqual(t.weight.shape, [4, 3, 3, 3]);
    assert.match(
      new nn.Conv2d(1, 6, 5, { padding: 2 }).toString(),
      /Conv2d\(1, 6, kernel_size=\(5, 5\), stride=\(1, 1\), padding=\(2, 2\)\)/,
    );
  });

  test("ConvTranspose2d inverts the shape of a strided Conv2d", () => {
    const down = new nn.Conv2d(3, 8, 3, { stride: 2, padding: 1 });
    const up = new nn.ConvTranspose2d(8, 3, 3, { stride: 2, padding: 1, outputPadding: 1 });
    const x = fl.randn([2, 3, 8, 8]);
    assert.deepEqual(up.forward(down.forward(x)).shape, [2, 3, 8, 8]);
  });

  test("errors name the op, the shapes and what was expected", () => {
    const conv = new nn.Conv2d(3, 4, 3);
    assert.throws(
      () => conv.forward(fl.randn([1, 2, 5, 5])),
      (e: Error) =>
        e instanceof fl.ShapeError &&
        /conv2d: input \[1,2,5,5\] has 2 channels but weight \[4,3,3,3\]/.test(e.message),
    );
    assert.throws(() => F.conv2d(fl.randn([1, 3, 2, 2]), fl.randn([4, 3, 3, 3])), fl.ShapeError);
    assert.throws(
      () => new nn.Conv2d(3, 4, 3, { groups: 2 }),
      /in_channels \(3\) must be divisible by groups \(2\)/,
    );
    assert.throws(
      () => new nn.Conv2d(3, 4, 3, { padding: "same", stride: 2 }),
      /padding='same' is not supported for strided/,
    );
    assert.throws(() => F.pad(fl.randn([1, 1, 3]), [3, 0], { mode: "reflect" }), fl.ShapeError);
  });
});

describe("pooling", () => {
  test("maxPool2d returns the first maximum's flat position", () => {
    const x = fl.tensor([
      [
        [
          [1, 5, 2, 2],
          [3, 5, 0, 9],
          [7, 1, 4, 4],
          [0, 8, 4, 1],
        ],
      ],
    ]);
    const [y, idx] = new nn.MaxPool2d(2, { returnIndices: true }).forward(x) as [
      fl.Tensor,
      fl.Tensor,
    ];
    assert.deepEqual(y.tolistSync(), [
      [
        [
          [5, 9],
          [8, 4],
        ],
      ],
    ]);
    assert.deepEqual(idx.tolistSync(), [
      [
        [
          [1, 7],
          [13, 10],
        ],
      ],
    ]);
    assert.equal(idx.dtype, "int32");
  });

  test("the max gradient goes to one element per window", () => {
    const x = fl.tensor(
      [
        [
          [
            [1, 2],
            [4, 3],
          ],
        ],
      ],
      { requiresGrad: true },
    );
    F.maxPool2d(x, 2).sum().backward();
    assert.deepEqual(x.grad!.tolistSync(), [
      [
        [
          [0, 0],
          [1, 0],
        ],
      ],
    ]);
  });

  test("adaptive pooling to 1×1 is the global mean / max", () => {
    const x = fl.randn([2, 3, 5, 7]);
    close(F.adaptiveAvgPool2d(x, 1), x.mean([2, 3], { keepdim: true }));
    close(F.adaptiveMaxPool2d(x, 1), x.amax([2, 3], { keepdim: true }));
  });

  test("Upsample nearest repeats pixels; bilinear with alignCorners keeps the corners", () => {
    const x = fl.tensor([
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ]);
    assert.deepEqual(new nn.Upsample({ scaleFactor: 2 }).forward(x).tolistSync(), [
      [
        [
          [1, 1, 2, 2],
          [1, 1, 2, 2],
          [3, 3, 4, 4],
          [3, 3, 4, 4],
        ],
      ],
    ]);
    const y = F.interpolate(x, { size: [3, 3], mode: "bilinear", alignCorners: true });
    assert.deepEqual(y.tolistSync(), [
      [
        [
          [1, 1.5, 2],
          [2, 2.5, 3],
          [3, 3.5, 4],
        ],
      ],
    ]);
  });
});

describe("normalization", () => {
  test("BatchNorm2d: state keys, num_batches_tracked, momentum null is a cumulative average", () => {
    const bn = new nn.BatchNorm2d(2, { momentum: null });
    assert.deepEqual(Object.keys(bn.stateDict()), [
      "weight",
      "bias",
      "running_mean",
      "running_var",
      "num_batches_tracked",
    ]);
    const a = fl.randn([4, 2, 3, 3]);
    const b = fl.randn([4, 2, 3, 3]).add(2);
    bn.forward(a);
    bn.forward(b);
    assert.equal(bn.num_batches_tracked!.itemSync(), 2);
    const mean = a
      .mean([0, 2, 3])
      .add(b.mean([0, 2, 3]))
      .div(2);
    close(bn.running_mean!, mean);
    const uvar = (t: fl.Tensor) => t.transpose(0, 1).reshape([2, -1]).var(1);
    close(bn.running_var!, uvar(a).add(uvar(b)).div(2), 1e-4);
  });

  test("BatchNorm eval uses running statistics; trackRunningStats false always uses the batch", () => {
    const bn = new nn.BatchNorm1d(3);
    fl.noGrad(() => {
      bn.running_mean!.copy_(fl.tensor([1, 2, 3]));
      bn.running_var!.copy_(fl.tensor([4, 4, 4]));
    });
    bn.eval();
    const x = fl.tensor([
      [1, 2, 3],
      [3, 4, 5],
    ]);
    close(bn.forward(x), x.sub(fl.tensor([1, 2, 3])).div(Math.sqrt(4 + 1e-5)));
    assert.equal(bn.num_batches_tracked!.itemSync(), 0);
    const free = new nn.BatchNorm1d(3, { trackRunningStats: false }).eval();
    assert.deepEqual(Object.keys(free.stateDict()), ["weight", "bias"]);
    close(free.forward(x).mean(0), fl.zeros([3]), 1e-4);
  });

  test("LayerNorm and GroupNorm give zero mean, unit variance per group", () => {
    const x = fl.randn([3, 4, 5]).mul(3).add(1);
    const y = new nn.LayerNorm(5).forward(x);
    close(y.mean(-1), fl.zeros([3, 4]), 1e-4);
    const g = new nn.GroupNorm(2, 4).forward(x).reshape([3, 2, -1]);
    close(g.var(-1, { correction: 0 }), fl.ones([3, 2]), 1e-3);
  });

  test("normalization errors", () => {
    assert.throws(
      () => new nn.BatchNorm2d(3).forward(fl.randn([2, 4, 3, 3])),
      /expected 3 channels/,
    );
    assert.throws(
      () => new nn.BatchNorm1d(3).forward(fl.randn([1, 3])),
      /more than 1 value per channel/,
    );
    assert.throws(() => new nn.GroupNorm(3, 4), /divisible by num_groups/);
    assert.throws(
      () => F.layerNorm(fl.randn([2, 3]), [4]),
      /does not end with normalizedShape \[4\]/,
    );
  });
});

describe("weight norm and spectral norm", () => {
  test("weightNorm: keys, an unchanged initial weight, and remove", () => {
    const fc = new nn.Linear(4, 3);
    const w0 = fc.weight.detach().clone();
    nn.utils.weightNorm(fc);
    assert.deepEqual(Object.keys(fc.stateDict()), ["bias", "weight_g", "weight_v"]);
    assert.deepEqual((fc as unknown as { weight_g: fl.Tensor }).weight_g.shape, [3, 1]);
    close(fc.weight, w0);
    const x = fl.randn([2, 4]);
    const y = fc.forward(x);
    nn.utils.removeWeightNorm(fc);
    assert.deepEqual(Object.keys(fc.stateDict()), ["bias", "weight"]);
    close(fc.forward(x), y);
  });

  test("spectralNorm: power iteration drives the largest singular value to 1", () => {
    fl.manualSeed(3);
    const fc = nn.utils.spectralNorm(new nn.Linear(6, 5), { nPowerIterations: 30 });
    assert.deepEqual(Object.keys(fc.stateDict()), ["bias", "weight_orig", "weight_u", "weight_v"]);
    assert.deepEqual(
      fc.namedParameters().map(([k]) => k),
      ["bias", "weight_orig"],
    );
    fc.forward(fl.randn([1, 6]));
    // σ_max(W) by power iteration on WᵀW, done here independently.
    const w = fc.weight.detach();
    let v = fl.randn([6]);
    for (let i = 0; i < 200; i++)
      v = w
        .t()
        .mv(w.mv(v))
        .div(w.t().mv(w.mv(v)).square().sum().sqrt());
    const sigma = w.mv(v).square().sum().sqrt().itemSync() as number;
    assert.ok(Math.abs(sigma - 1) < 1e-3, `σ = ${sigma}`);
  });
});

describe("attention for images", () => {
  test("SqueezeExcitation, ChannelAttention, SpatialAttention and CBAM keep the shape and pass gradients", () => {
    const x = fl.randn([2, 8, 5, 5], { requiresGrad: true });
    const se = new nn.SqueezeExcitation(8, 2);
    assert.deepEqual(Object.keys(se.stateDict()), [
      "fc1.weight",
      "fc1.bias",
      "fc2.weight",
      "fc2.bias",
    ]);
    for (const m of [
      se,
      new nn.ChannelAttention(8, 4),
      new nn.SpatialAttention(3),
      new nn.CBAM(8, { reduction: 4 }),
    ]) {
      const y = m.forward(x) as fl.Tensor;
      assert.deepEqual(y.shape, [2, 8, 5, 5]);
      m.zeroGrad();
      y.sum().backward();
      for (const [k, p] of m.namedParameters())
        assert.ok(p.grad && (p.grad.abs().sum().itemSync() as number) > 0, `${k} got no gradient`);
    }
  });

  test("SE scales each channel by one weight in (0, 1)", () => {
    const se = new nn.SqueezeExcitation(4, 2);
    const x = fl.rand([1, 4, 3, 3]).add(0.1);
    const ratio = se.forward(x).div(x).reshape([4, 9]);
    close(ratio.amax(1), ratio.amin(1), 1e-5);
    assert.ok((ratio.max().itemSync() as number) < 1 && (ratio.min().itemSync() as number) > 0);
  });
});

describe("the CPU scatter block path (used by fold and indexSelect's backward)", () => {
  test("scatterAdd and scatter of whole rows match the per-element definition", () => {
    fl.manualSeed(4);
    // A transposed (strided) src, as a gradient arriving through a permute.
    const src = fl.randn([5, 10, 3]).transpose(1, 2);
    const rows = [2, 0, 2, 3, 0];
    const idx = fl.tensor(rows, { dtype: "int32" }).reshape([5, 1, 1]).expand([5, 3, 10]);
    const sum = fl.zeros([4, 3, 10]).scatterAdd(0, idx, src).tolistSync() as number[][][];
    const put = fl
      .zeros([4, 3, 10])
      .scatter(0, idx.narrow(0, 1, 3), src.narrow(0, 1, 3))
      .tolistSync() as number[][][];
    const s = src.tolistSync() as number[][][];
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 3; c++)
        for (let k = 0; k < 10; k++) {
          const want = rows.reduce((acc, row, j) => (row === r ? acc + s[j]![c]![k]! : acc), 0);
          assert.ok(Math.abs(sum[r]![c]![k]! - want) < 1e-5);
          const last = [1, 2, 3].filter((j) => rows[j] === r).pop();
          assert.equal(put[r]![c]![k], last === undefined ? 0 : s[last]![c]![k]);
        }
  });
});
