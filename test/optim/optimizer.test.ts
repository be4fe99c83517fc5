import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { SGD, Adam, AdamW, RMSprop, Adagrad } = fl.optim;
type Opt = fl.optim.Optimizer;

function values(t: fl.Tensor): number[] {
  return Array.from(t.dataSync());
}

function assertNear(got: number[], want: number[], tol = 1e-6): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    assert.ok(Math.abs(g - want[i]!) <= tol, `[${i}]: ${g} != ${want[i]}`);
  });
}

/** A tiny least-squares problem whose loss depends on two parameters. */
function problem(seed: number) {
  fl.manualSeed(seed);
  const w = fl.randn([3, 2]).requiresGrad_();
  const b = fl.randn([2]).requiresGrad_();
  const x = fl.randn([5, 3]);
  const y = fl.randn([5, 2]);
  const loss = () => x.matmul(w).add(b).sub(y).square().mean();
  return { w, b, loss };
}

function train(opt: Opt, loss: () => fl.Tensor, steps: number): void {
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    loss().backward();
    opt.step();
  }
}

const makers: [string, (ps: fl.Tensor[]) => Opt][] = [
  ["SGD", (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
  ["Adam", (ps) => new Adam(ps, { lr: 0.05, amsgrad: true })],
  ["AdamW", (ps) => new AdamW(ps, { lr: 0.05 })],
  ["RMSprop", (ps) => new RMSprop(ps, { lr: 0.01, momentum: 0.5, centered: true })],
  ["Adagrad", (ps) => new Adagrad(ps, { lr: 0.5, lrDecay: 0.001 })],
];

describe("Optimizer", () => {
  test("each group keeps its own lr and options; missing ones come from the defaults", () => {
    const a = fl.ones([2]).requiresGrad_();
    const b = fl.ones([2]).requiresGrad_();
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5, momentum: 0.9 }], { lr: 0.1 });
    assert.equal(opt.paramGroups[0]!.lr, 0.1);
    assert.equal(opt.paramGroups[0]!.momentum, 0);
    assert.equal(opt.paramGroups[1]!.lr, 0.5);
    assert.equal(opt.paramGroups[1]!.momentum, 0.9);
    a.grad = fl.ones([2]);
    b.grad = fl.ones([2]);
    opt.step();
    assertNear(values(a), [0.9, 0.9]);
    assertNear(values(b), [0.5, 0.5]);
    // The second group's momentum buffer makes its next step bigger: 0.5·(0.9·1 + 1).
    opt.step();
    assert.ok(Math.abs(values(b)[0]! - (0.5 - 0.95)) < 1e-6);
    assert.ok(Math.abs(values(a)[0]! - 0.8) < 1e-6);
  });

  test("addParamGroup adds a group later; a parameter may not appear twice", () => {
    const a = fl.ones([2]).requiresGrad_();
    const b = fl.ones([1]).requiresGrad_();
    const opt = new Adam([a], { lr: 0.01, betas: [0.8, 0.9] });
    opt.addParamGroup({ params: [b], lr: 0.2 });
    assert.equal(opt.paramGroups.length, 2);
    assert.deepEqual(opt.paramGroups[1]!.betas, [0.8, 0.9]);
    assert.notEqual(
      opt.paramGroups[1]!.betas,
      opt.paramGroups[0]!.betas,
      "groups do not share the betas array",
    );
    assert.throws(
      () => opt.addParamGroup({ params: [a] }),
      /Adam: parameter 0 of group 2 appears in more than one parameter group/,
    );
  });

  test("zeroGrad sets grads to null by default, or to zeros with setToNone false", () => {
    const a = fl.ones([3]).requiresGrad_();
    const opt = new SGD([a], { lr: 0.1 });
    a.mul(2).sum().backward();
    const g = a.grad!;
    opt.zeroGrad({ setToNone: false });
    assert.equal(a.grad, g, "the same tensor, zeroed in place");
    assert.deepEqual(values(a.grad!), [0, 0, 0]);
    a.mul(2).sum().backward();
    assert.deepEqual(values(a.grad!), [2, 2, 2]);
    opt.zeroGrad();
    assert.equal(a.grad, null);
  });

  test("parameters without a gradient are skipped and get no state", () => {
    const a = fl.ones([2]).requiresGrad_();
    const b = fl.ones([2]).requiresGrad_();
    const opt = new Adam([a, b], { lr: 0.1 });
    a.grad = fl.ones([2]);
    opt.step();
    assert.deepEqual(values(b), [1, 1]);
    assert.ok(values(a)[0]! < 1);
    assert.equal(opt.state.has(b), false);
    assert.equal(opt.state.get(a)!.step, 1);
  });

  test("step(closure) evaluates the loss with grad enabled and returns it", () => {
    const { w, b, loss } = problem(1);
    const opt = new SGD([w, b], { lr: 0.1 });
    let calls = 0;
    const closure = () => {
      calls++;
      opt.zeroGrad();
      const l = loss();
      l.backward();
      return l;
    };
    const first = fl.noGrad(() => opt.step(closure))!;
    assert.equal(calls, 1);
    assert.ok(first instanceof fl.Tensor);
    const second = opt.step(closure)!;
    assert.ok(Number(second.itemSync()) < Number(first.itemSync()), "the loss went down");
    assert.equal(opt.step(), undefined);
  });

  for (const [name, make] of makers) {
    test(`${name}: stateDict round trip mid-training resumes identically`, () => {
      const ref = problem(7);
      const refOpt = make([ref.w, ref.b]);
      train(refOpt, ref.loss, 6);

      const run = problem(7);
      const first = make([run.w, run.b]);
      train(first, run.loss, 3);
      // What a checkpoint holds: copies, made before training goes on.
      const sd = first.stateDict();
      const saved = { w: run.w.detach().clone(), b: run.b.detach().clone() };
      train(first, run.loss, 2); // changes the live state; the checkpoint must not depend on it
      fl.noGrad(() => {
        run.w.copy_(saved.w);
        run.b.copy_(saved.b);
      });
      const resumed = make([run.w, run.b]);
      resumed.loadStateDict(sd);
      assert.notEqual(resumed.state.get(run.w), first.state.get(run.w));
      train(resumed, run.loss, 3);

      for (const [got, want] of [
        [run.w, ref.w],
        [run.b, ref.b],
      ] as const) {
        const g = values(got);
        values(want).forEach((v, i) => {
          assert.ok(Math.abs(g[i]! - v) < 1e-6, `${name}: ${g[i]} != ${v}`);
        });
      }
    });
  }

  test("stateDict names parameters by index and uses PyTorch's state keys", () => {
    const { w, b, loss } = problem(3);
    const opt = new Adam([{ params: [w] }, { params: [b], lr: 0.5 }], { lr: 0.1, amsgrad: true });
    train(opt, loss, 2);
    const sd = opt.stateDict();
    assert.deepEqual(
      sd.paramGroups.map((g) => g.params),
      [[0], [1]],
    );
    assert.equal(sd.paramGroups[1]!.lr, 0.5);
    assert.deepEqual(Object.keys(sd.state[0]!).sort(), [
      "exp_avg",
      "exp_avg_sq",
      "max_exp_avg_sq",
      "step",
    ]);
    assert.equal(sd.state[1]!.step, 2);
    const sgd = new SGD([w], { lr: 0.1, momentum: 0.9 });
    train(sgd, loss, 1);
    assert.deepEqual(Object.keys(sgd.stateDict().state[0]!), ["momentum_buffer"]);
    const rms = new RMSprop([w], { momentum: 0.1, centered: true });
    train(rms, loss, 1);
    assert.deepEqual(Object.keys(rms.stateDict().state[0]!).sort(), [
      "grad_avg",
      "momentum_buffer",
      "square_avg",
      "step",
    ]);
    const ada = new Adagrad([w]);
    train(ada, loss, 1);
    assert.deepEqual(Object.keys(ada.stateDict().state[0]!).sort(), ["step", "sum"]);
  });

  test("loadStateDict restores group options and rejects a different layout", () => {
    const a = fl.ones([2]).requiresGrad_();
    const b = fl.ones([2]).requiresGrad_();
    const src = new SGD([{ params: [a] }, { params: [b] }], { lr: 0.1 });
    src.paramGroups[1]!.lr = 0.01;
    const dst = new SGD([{ params: [a] }, { params: [b] }], { lr: 0.5 });
    dst.loadStateDict(src.stateDict());
    assert.deepEqual(
      dst.paramGroups.map((g) => g.lr),
      [0.1, 0.01],
    );
    assert.equal(dst.paramGroups[0]!.params[0], a);
    const one = new SGD([a, b], { lr: 0.1 });
    assert.throws(
      () => one.loadStateDict(src.stateDict()),
      /SGD\.loadStateDict: the state dict has 2 parameter groups, the optimizer 1/,
    );
    const sizes = new SGD([{ params: [a, b] }, { params: [fl.ones([1]).requiresGrad_()] }], {
      lr: 0.1,
    });
    assert.throws(
      () => sizes.loadStateDict(src.stateDict()),
      /parameter group 0 has 1 parameters in the state dict, 2 in the optimizer/,
    );
  });

  test("invalid arguments throw ArgumentErrors naming the optimizer", () => {
    const p = fl.ones([2]).requiresGrad_();
    const cases: [() => unknown, RegExp][] = [
      [() => new SGD([p], { lr: -1 }), /^SGD: invalid learning rate -1$/],
      [() => new SGD([p], { lr: 0.1, momentum: -0.5 }), /SGD: invalid momentum value -0.5/],
      [() => new SGD([p], { lr: 0.1, nesterov: true }), /SGD: invalid nesterov/],
      [() => new Adam([p], { betas: [1, 0.9] }), /Adam: invalid beta parameter at index 0: 1/],
      [() => new Adam([p], { eps: -1 }), /Adam: invalid epsilon value -1/],
      [() => new AdamW([p], { weightDecay: -1 }), /AdamW: invalid weightDecay value -1/],
      [() => new RMSprop([p], { alpha: -1 }), /RMSprop: invalid alpha value -1/],
      [() => new Adagrad([p], { lrDecay: -1 }), /Adagrad: invalid lrDecay value -1/],
      [() => new SGD([], { lr: 0.1 }), /SGD: got an empty parameter list/],
      [
        () => new SGD(p as unknown as fl.Tensor[], { lr: 0.1 }),
        /SGD: params should be an iterable of Tensors/,
      ],
      [
        () => new SGD([p.mul(2)], { lr: 0.1 }),
        /SGD: can't optimize a non-leaf Tensor \(parameter 0 of group 0 has gradFn MulBackward0\)/,
      ],
      [() => new SGD([{ params: [p], lr: -2 }], { lr: 0.1 }), /SGD: invalid learning rate -2/],
    ];
    for (const [fn, re] of cases)
      assert.throws(fn, (e: Error) => e instanceof fl.ArgumentError && re.test(e.message));
  });

  test("accepts any iterable of parameters, e.g. a generator", () => {
    const a = fl.ones([2]).requiresGrad_();
    function* params() {
      yield a;
    }
    const opt = new SGD(params(), { lr: 0.1 });
    assert.equal(opt.paramGroups[0]!.params[0], a);
  });

  test("float64 parameters keep their dtype and get float64 state", () => {
    const p = fl.tensor([1, 2], { dtype: "float64" }).requiresGrad_();
    const opt = new Adam([p], { lr: 0.1 });
    p.grad = fl.tensor([1, -1], { dtype: "float64" });
    opt.step();
    assert.equal(p.dtype, "float64");
    assert.equal((opt.state.get(p)!.exp_avg as fl.Tensor).dtype, "float64");
  });
});

describe("optimizers minimise", () => {
  // Rosenbrock's valley: f(x, y) = (1 − x)² + 100·(y − x²)², minimum 0 at (1, 1).
  const rosenbrock = (xy: fl.Tensor) => {
    const x = xy.select(0, 0);
    const y = xy.select(0, 1);
    return x.rsub(1).square().add(y.sub(x.square()).square().mul(100));
  };

  test("Adam finds Rosenbrock's minimum", () => {
    const xy = fl.tensor([-1.5, 2], { dtype: "float64" }).requiresGrad_();
    const opt = new Adam([xy], { lr: 0.1 });
    const sched = new fl.optim.lrScheduler.StepLR(opt, 400, { gamma: 0.5 });
    for (let i = 0; i < 2000; i++) {
      opt.zeroGrad();
      rosenbrock(xy).backward();
      opt.step();
      sched.step();
    }
    const [x, y] = values(xy);
    assert.ok(Math.abs(x! - 1) < 1e-2 && Math.abs(y! - 1) < 2e-2, `ended at (${x}, ${y})`);
  });

  for (const [name, make] of makers) {
    test(`${name} minimises a quadratic`, () => {
      // f(p) = Σ c·(p − t)², minimum at t.
      const target = fl.tensor([3, -2, 0.5]);
      const c = fl.tensor([1, 4, 0.5]);
      const p = fl.zeros([3]).requiresGrad_();
      const opt = make([p]);
      // Decoupled and L2 weight decay pull towards 0, so allow their bias.
      const tol = name === "SGD" || name === "AdamW" ? 0.15 : 0.05;
      const steps = name === "Adagrad" ? 600 : 400;
      for (let i = 0; i < steps; i++) {
        opt.zeroGrad();
        p.sub(target).square().mul(c).sum().backward();
        opt.step();
      }
      values(p).forEach((v, i) => {
        assert.ok(Math.abs(v - values(target)[i]!) < tol, `${name}: p[${i}] = ${v}`);
      });
    });
  }

  test("maximize climbs instead", () => {
    const p = fl.zeros([1]).requiresGrad_();
    const opt = new SGD([p], { lr: 0.1, maximize: true });
    for (let i = 0; i < 100; i++) {
      opt.zeroGrad();
      p.sub(2).square().neg().sum().backward();
      opt.step();
    }
    assert.ok(Math.abs(values(p)[0]! - 2) < 1e-3);
  });
});

test("frozen parameters are accepted and left unchanged, as in PyTorch", () => {
  const frozen = fl.ones([2]);
  const live = fl.ones([2]).requiresGrad_();
  const opt = new fl.optim.SGD([frozen, live], { lr: 0.5 });
  live.mul(3).sum().backward();
  opt.step();
  assert.deepEqual(Array.from(frozen.dataSync()), [1, 1]);
  assert.deepEqual(Array.from(live.dataSync()), [-0.5, -0.5]);
});
