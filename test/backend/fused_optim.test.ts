import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { setFusedOptimizers } from "../../src/optim/fused.js";

// The fused CPU optimizer steps against the composed reference updates:
// the same parameters, gradients and options, several steps, the same
// trajectory up to rounding.

type Make = (ps: fl.Tensor[]) => fl.optim.Optimizer<fl.optim.OptimizerOptions>;

function trajectory(
  make: Make,
  fused: boolean,
  dtype: "float32" | "float64",
  steps = 6,
): number[][] {
  const was = setFusedOptimizers(fused);
  try {
    fl.manualSeed(7);
    // Odd sizes, a 0-d parameter, and a gradient that is a transposed (strided) view.
    const ps = [fl.randn([5, 3], { dtype }), fl.randn([7], { dtype }), fl.randn([], { dtype })];
    for (const p of ps) p.requiresGrad = true;
    const opt = make(ps);
    for (let s = 0; s < steps; s++) {
      ps[0]!.grad = fl.randn([3, 5], { dtype }).t();
      ps[1]!.grad = fl.randn([7], { dtype });
      ps[2]!.grad = fl.randn([], { dtype });
      opt.step();
    }
    return ps.map((p) => Array.from(p.dataSync() as ArrayLike<number>));
  } finally {
    setFusedOptimizers(was);
  }
}

function assertSame(make: Make, dtype: "float32" | "float64"): void {
  const ref = trajectory(make, false, dtype);
  const got = trajectory(make, true, dtype);
  const tol = dtype === "float64" ? 1e-12 : 2e-6;
  ref.forEach((r, i) => {
    r.forEach((v, j) => {
      const g = got[i]![j]!;
      assert.ok(
        Math.abs(g - v) <= tol * (1 + Math.abs(v)),
        `param ${i}[${j}]: fused ${g}, composed ${v}`,
      );
    });
  });
  // And the fused path really ran: with it on, the step changes the parameters.
  assert.notDeepEqual(got[0], trajectory(make, true, dtype, 0)[0]);
}

const cases: [string, Make][] = [
  ["Adam", (ps) => new fl.optim.Adam(ps, { lr: 0.01 })],
  [
    "Adam wd + amsgrad + maximize",
    (ps) => new fl.optim.Adam(ps, { lr: 0.01, weightDecay: 0.1, amsgrad: true, maximize: true }),
  ],
  ["AdamW", (ps) => new fl.optim.AdamW(ps, { lr: 0.01, weightDecay: 0.1 })],
  ["AdamW amsgrad", (ps) => new fl.optim.AdamW(ps, { lr: 0.01, amsgrad: true, betas: [0.8, 0.9] })],
  ["SGD", (ps) => new fl.optim.SGD(ps, { lr: 0.1 })],
  ["SGD wd", (ps) => new fl.optim.SGD(ps, { lr: 0.1, weightDecay: 0.01, maximize: true })],
  ["SGD momentum", (ps) => new fl.optim.SGD(ps, { lr: 0.1, momentum: 0.9 })],
  [
    "SGD momentum dampening wd",
    (ps) => new fl.optim.SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }),
  ],
  ["SGD nesterov", (ps) => new fl.optim.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true })],
];

describe("fused optimizer steps match the composed updates", () => {
  for (const [name, make] of cases) {
    test(`${name} float64`, () => assertSame(make, "float64"));
    test(`${name} float32`, () => assertSame(make, "float32"));
  }

  test("state keeps PyTorch's keys and shapes", () => {
    const p = fl.randn([4, 2]);
    p.requiresGrad = true;
    const opt = new fl.optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad = fl.ones([4, 2]);
    opt.step();
    const buf = opt.state.get(p)!.momentum_buffer as fl.Tensor;
    assert.deepEqual(buf.shape, [4, 2]);
    assert.deepEqual(Array.from(buf.dataSync() as Float32Array), new Array(8).fill(1));
  });
});

describe("Adam moments kept in wasm memory (large float32 parameters)", () => {
  // Above 256 elements a float32 parameter's moments live in a wasm arena and
  // the SIMD step copies only p and g; 20001 elements cross the 16384-element
  // chunk and end mid-vector.
  function run(fused: boolean, make: Make, steps: number, reload = false): number[][] {
    const was = setFusedOptimizers(fused);
    try {
      fl.manualSeed(11);
      const ps = [fl.randn([20001]), fl.randn([300]), fl.randn([3])];
      for (const p of ps) p.requiresGrad = true;
      let opt = make(ps);
      for (let s = 0; s < steps; s++) {
        for (const p of ps) p.grad = fl.randn(p.shape).mul(s + 1);
        opt.step();
        if (reload && s === 1) {
          // A state dict round trip: the moments come back as plain tensors.
          const sd = opt.stateDict();
          opt = make(ps);
          opt.loadStateDict(sd);
        }
      }
      return ps.map((p) => Array.from(p.dataSync() as ArrayLike<number>));
    } finally {
      setFusedOptimizers(was);
    }
  }

  const makers: [string, Make][] = [
    ["Adam", (ps) => new fl.optim.Adam(ps, { lr: 0.01, weightDecay: 0.05 })],
    ["AdamW maximize", (ps) => new fl.optim.AdamW(ps, { lr: 0.01, maximize: true })],
  ];
  for (const [name, make] of makers) {
    for (const reload of [false, true]) {
      test(`${name}${reload ? ", state dict reloaded mid-run" : ""}`, () => {
        const ref = run(false, make, 5, reload);
        const got = run(true, make, 5, reload);
        ref.forEach((r, i) => {
          r.forEach((v, j) => {
            const g = got[i]![j]!;
            assert.ok(Math.abs(g - v) <= 2e-6 * (1 + Math.abs(v)), `p${i}[${j}]: ${g} vs ${v}`);
          });
        });
      });
    }
  }

  test("the moments really are wasm-resident views, zeroed, with the parameter's shape", () => {
    const p = fl.randn([40, 30]);
    p.requiresGrad = true;
    const opt = new fl.optim.Adam([p], { lr: 0.1 });
    p.grad = fl.onesLike(p);
    opt.step();
    const st = opt.state.get(p)!;
    const m = st.exp_avg as fl.Tensor;
    assert.deepEqual(m.shape, [40, 30]);
    const data = (m.storage as unknown as { data: Float32Array }).data;
    // A view into an arena (64 MiB), not an array of its own.
    assert.ok(data.buffer.byteLength >= 1 << 26);
    // After one step from zero, m = (1 − β1)·g.
    for (const v of m.dataSync() as Float32Array) assert.ok(Math.abs(v - 0.1) < 1e-7);
  });
});
