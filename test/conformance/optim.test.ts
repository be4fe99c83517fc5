// Runs every optimizer, scheduler and clipGradNorm case PyTorch computed
// (torch-reference.json and torch-optim.json, from tools/conformance):
// parameter trajectories, learning rates and clipped gradients must match.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { assertClose, type Case, type JsonTensor, loadCases, toArg, toTensor } from "./helpers.js";

const FIXTURES = ["test/fixtures/torch-reference.json", "test/fixtures/torch-optim.json"];
const KINDS = new Set(["optimizer", "scheduler", "clipGradNorm"]);

/** The functions gen_optim.py names, written again in TypeScript. */
const LAMBDAS: Record<string, (epoch: number) => number> = {
  pow095: (e) => 0.95 ** e,
  warmup5: (e) => Math.min(1, (e + 1) / 5),
};

type Ctor = new (...args: unknown[]) => unknown;

function lookup(ns: object, name: string, what: string): Ctor {
  const c = (ns as Record<string, unknown>)[name];
  assert.equal(typeof c, "function", `${what}.${name} does not exist in flint`);
  return c as Ctor;
}

function arg(a: unknown): unknown {
  if (a !== null && typeof a === "object" && "lambda" in a) {
    const f = LAMBDAS[(a as { lambda: string }).lambda];
    assert.ok(f, `unknown lambda ${JSON.stringify(a)}`);
    return f;
  }
  return toArg(a);
}

/** (optimizer, ...args, kwargs?) as the README prescribes: options last, only when given. */
function withOptions(args: unknown[], kwargs: Record<string, unknown> | undefined): unknown[] {
  return kwargs && Object.keys(kwargs).length > 0 ? [...args, kwargs] : args;
}

function runOptimizer(c: Case): void {
  const params = (c.params as JsonTensor[]).map((t) => toTensor(t, true));
  const groups = c.groups
    ? (c.groups as { params: number[]; kwargs: Record<string, unknown> }[]).map((g) => ({
        ...g.kwargs,
        params: g.params.map((i) => params[i]!),
      }))
    : params;
  const Opt = lookup(fl.optim, c.target!, "fl.optim");
  const opt = new Opt(groups, c.kwargs) as fl.optim.Optimizer;
  (c.grads as (JsonTensor | null)[][]).forEach((grads, step) => {
    params.forEach((p, i) => {
      const g = grads[i];
      p.grad = g ? toTensor(g) : null;
    });
    opt.step();
    params.forEach((p, i) => {
      assertClose(p, c.trajectory[step][i], c.tol, `${c.name} step ${step} param ${i}`);
    });
  });
}

type Scheduler = { step(metric?: number): void };

function makeScheduler(
  opt: fl.optim.Optimizer,
  target: string,
  args: unknown[],
  kwargs?: Record<string, unknown>,
): Scheduler {
  const S = lookup(fl.optim.lrScheduler, target, "fl.optim.lrScheduler");
  return new S(opt, ...withOptions(args.map(arg), kwargs)) as Scheduler;
}

function runScheduler(c: Case): void {
  const p = fl.zeros([1]).requiresGrad_();
  const o = c.optimizer ?? { target: "SGD", kwargs: { lr: 0.1 } };
  const Opt = lookup(fl.optim, o.target, "fl.optim");
  const opt = new Opt([p], o.kwargs) as fl.optim.Optimizer;
  let args: unknown[] = c.args;
  if (c.schedulers) {
    const subs = (c.schedulers as Case[]).map((s) =>
      makeScheduler(opt, s.target!, s.args, s.kwargs),
    );
    args = [subs, ...args];
    const S = lookup(fl.optim.lrScheduler, c.target!, "fl.optim.lrScheduler");
    drive(c, opt, new S(opt, ...withOptions(args, c.kwargs)) as Scheduler);
    return;
  }
  drive(c, opt, makeScheduler(opt, c.target!, args, c.kwargs));
}

function drive(c: Case, opt: fl.optim.Optimizer, s: Scheduler): void {
  const close = (got: number, want: number, what: string) =>
    assert.ok(
      Math.abs(got - want) <= c.tol * (1 + Math.abs(want)),
      `${c.name} ${what}: got ${got}, PyTorch ${want}`,
    );
  (c.lrs as number[]).forEach((want, i) => {
    const g = opt.paramGroups[0]!;
    close(g.lr, want, `lr at epoch ${i}`);
    if (c.momentums) close(g.momentum as number, c.momentums[i], `momentum at epoch ${i}`);
    if (c.beta1s) close((g.betas as number[])[0]!, c.beta1s[i], `beta1 at epoch ${i}`);
    opt.step();
    if (c.metrics) s.step(c.metrics[i]);
    else s.step();
  });
}

function runClip(c: Case): void {
  const params = (c.params as JsonTensor[]).map((t) => toTensor(t, true));
  params.forEach((p, i) => {
    p.grad = toTensor(c.grads[i]);
  });
  const opts = c.normType !== undefined ? { normType: toArg(c.normType) as number } : {};
  const total = fl.nn.utils.clipGradNorm_(params, c.maxNorm, opts);
  assert.deepEqual(total.shape, []);
  const t = Number(total.itemSync());
  assert.ok(
    Math.abs(t - c.totalNorm) <= c.tol * (1 + Math.abs(c.totalNorm)),
    `${c.name}: total ${t}, PyTorch ${c.totalNorm}`,
  );
  params.forEach((p, i) => {
    assertClose(p.grad!, c.clipped[i], c.tol, `${c.name} grad ${i}`);
  });
}

for (const file of FIXTURES) {
  describe(`PyTorch conformance: optimizers, schedulers, clipping (${file})`, () => {
    const cases = loadCases(file).filter((c) => KINDS.has(c.kind));
    test("has cases", () => assert.ok(cases.length > 0));
    for (const c of cases) {
      test(c.name, () => {
        if (c.kind === "optimizer") runOptimizer(c);
        else if (c.kind === "scheduler") runScheduler(c);
        else runClip(c);
      });
    }
  });
}
