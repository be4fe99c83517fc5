// Runs every optimizer, scheduler and clipGradNorm case PyTorch computed
// (torch-reference.json and torch-optim.json, from tools/conformance):
// parameter trajectories, learning rates and clipped gradients must match.
// Optimizers and clipping run on every device; schedulers only compute
// numbers, so they run once.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { knownGap, onDevice, testDevices, toCpu } from "../devices.js";
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

async function runOptimizer(c: Case, device: string): Promise<void> {
  const params = (c.params as JsonTensor[]).map((t) => onDevice(toTensor(t, true), device));
  const groups = c.groups
    ? (c.groups as { params: number[]; kwargs: Record<string, unknown> }[]).map((g) => ({
        ...g.kwargs,
        params: g.params.map((i) => params[i]!),
      }))
    : params;
  const Opt = lookup(fl.optim, c.target!, "fl.optim");
  const opt = new Opt(groups, c.kwargs) as fl.optim.Optimizer;
  for (const [step, grads] of (c.grads as (JsonTensor | null)[][]).entries()) {
    params.forEach((p, i) => {
      const g = grads[i];
      p.grad = g ? onDevice(toTensor(g), device) : null;
    });
    opt.step();
    for (const [i, p] of params.entries()) {
      assert.equal(p.device, device);
      const want = c.trajectory[step][i];
      assertClose(await toCpu(p), want, c.tol, `${c.name} step ${step} param ${i}`);
    }
  }
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

async function runClip(c: Case, device: string): Promise<void> {
  const params = (c.params as JsonTensor[]).map((t) => onDevice(toTensor(t, true), device));
  params.forEach((p, i) => {
    p.grad = onDevice(toTensor(c.grads[i]), device);
  });
  const opts = c.normType !== undefined ? { normType: toArg(c.normType) as number } : {};
  const total = fl.nn.utils.clipGradNorm_(params, c.maxNorm, opts);
  assert.deepEqual(total.shape, []);
  const t = Number(await total.item());
  assert.ok(
    Math.abs(t - c.totalNorm) <= c.tol * (1 + Math.abs(c.totalNorm)),
    `${c.name}: total ${t}, PyTorch ${c.totalNorm}`,
  );
  for (const [i, p] of params.entries()) {
    assertClose(await toCpu(p.grad!), c.clipped[i], c.tol, `${c.name} grad ${i}`);
  }
}

const devices = await testDevices();

for (const file of FIXTURES) {
  describe(`PyTorch conformance: optimizers, schedulers, clipping (${file})`, () => {
    const cases = loadCases(file).filter((c) => KINDS.has(c.kind));
    test("has cases", () => assert.ok(cases.length > 0));
    for (const c of cases.filter((c) => c.kind === "scheduler")) {
      test(c.name, () => runScheduler(c));
    }
    for (const device of devices) {
      describe(device, () => {
        for (const c of cases.filter((c) => c.kind !== "scheduler")) {
          test(c.name, knownGap(device, `optim/${c.name}`), () =>
            c.kind === "optimizer" ? runOptimizer(c, device) : runClip(c, device),
          );
        }
      });
    }
  });
}
