// Runs the `module` cases of PyTorch's reference fixtures against fl.nn:
// construct, loadStateDict(PyTorch's state_dict), forward, backward, and
// compare outputs, input and parameter gradients and the state afterwards.
// Also runs the `init` cases of torch-modules.json (seeded default
// initialization and nn.init against PyTorch's own draws). Module cases run
// on every device: the module is built and loaded on the CPU, then moved.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { knownGap, onDevice, testDevices, toCpu } from "../devices.js";
import { assertClose, type Case, type JsonTensor, loadCases, toArg, toTensor } from "./helpers.js";

const nnRegistry = fl.nn as unknown as Record<string, unknown>;
type ModuleClass = new (...args: unknown[]) => fl.nn.Module;

/**
 * Layers of the shared fixture that a later issue implements. The test
 * below asserts that this is exactly the set of missing classes, so the
 * list cannot go stale: implementing a layer fails it until the entry goes.
 */
const NOT_YET: Record<string, string> = Object.fromEntries(
  [].map((name) => [name, "layer not implemented yet (issue 4/5)"]),
);

function moduleClass(name: string): ModuleClass | undefined {
  const cls = nnRegistry[name];
  return typeof cls === "function" ? (cls as ModuleClass) : undefined;
}

/** A case argument: a module spec {module, args, kwargs} builds that module; the rest as toArg. */
// biome-ignore lint/suspicious/noExplicitAny: JSON arguments
function buildArg(a: any): unknown {
  if (a !== null && typeof a === "object" && !Array.isArray(a) && typeof a.module === "string") {
    return construct(a.module, a.args ?? [], a.kwargs ?? {});
  }
  return toArg(a);
}

// biome-ignore lint/suspicious/noExplicitAny: JSON arguments
function construct(target: string, args: any[], kwargs: Record<string, any>): fl.nn.Module {
  const cls = moduleClass(target);
  assert.ok(cls, `fl.nn.${target} does not exist`);
  const opts = Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [k, toArg(v)]));
  const built = args.map(buildArg);
  return Object.keys(opts).length > 0 ? new cls(...built, opts) : new cls(...built);
}

function stateOf(json: Record<string, JsonTensor>): Record<string, fl.Tensor> {
  return Object.fromEntries(Object.entries(json).map(([k, t]) => [k, toTensor(t)]));
}

async function runModuleCase(c: Case, device = "cpu"): Promise<void> {
  const m = construct(c.target!, c.args ?? [], c.kwargs ?? {});
  m.loadStateDict(stateOf(c.state));
  m.to(device);
  if (c.mode === "eval") m.eval();
  const inputs = (c.inputs as { tensor: JsonTensor; requiresGrad: boolean }[]).map((a) =>
    onDevice(toTensor(a.tensor, a.requiresGrad), device),
  );
  let out = m.forward(...inputs) as unknown;
  if (c.outIndex !== undefined) {
    out = (out as unknown[])[c.outIndex];
    if (Array.isArray(out)) out = out[0];
  }
  assert.ok(out instanceof fl.Tensor, `${c.name}: forward did not return a Tensor`);
  assert.equal(out.device, device, `${c.name}: the output left ${device}`);
  assertClose(await toCpu(out), c.out, c.tol, `${c.name} out`);

  if (out.requiresGrad)
    out
      .mul(onDevice(toTensor(c.gradOut), device))
      .sum()
      .backward();
  for (const [i, g] of (c.inputGrads as (JsonTensor | null)[]).entries()) {
    if (g === null)
      assert.equal(inputs[i]!.grad, null, `${c.name} input ${i}: expected no gradient`);
    else {
      assert.ok(inputs[i]!.grad, `${c.name} input ${i}: missing gradient`);
      assertClose(await toCpu(inputs[i]!.grad!), g, c.tol, `${c.name} input ${i} grad`);
    }
  }
  const params = new Map(m.namedParameters());
  assert.deepEqual(
    [...params.keys()],
    Object.keys(c.paramGrads),
    `${c.name}: namedParameters keys`,
  );
  for (const [k, g] of Object.entries(c.paramGrads as Record<string, JsonTensor>)) {
    assert.ok(params.get(k)!.grad, `${c.name} ${k}: missing gradient`);
    assertClose(await toCpu(params.get(k)!.grad!), g, c.tol, `${c.name} ${k} grad`);
  }
  await checkState(c, m);
}

/** stateDict() against PyTorch's state_dict: the same keys in the same order, and values. */
async function checkState(c: Case, m: fl.nn.Module): Promise<void> {
  const sd = m.stateDict();
  assert.deepEqual(Object.keys(sd), Object.keys(c.stateAfter), `${c.name}: stateDict keys`);
  for (const [k, t] of Object.entries(c.stateAfter as Record<string, JsonTensor>)) {
    assertClose(await toCpu(sd[k]!), t, c.tol, `${c.name} state ${k}`);
  }
}

async function runInitCase(c: Case): Promise<void> {
  fl.manualSeed(c.seed);
  if (c.module) {
    await checkState(c, construct(c.target!, c.args ?? [], c.kwargs ?? {}));
    return;
  }
  const t = fl.zeros(c.shape);
  const fn = (fl.nn.init as unknown as Record<string, (...a: unknown[]) => fl.Tensor>)[c.target!];
  assert.ok(fn, `fl.nn.init.${c.target} does not exist`);
  const hasKw = Object.keys(c.kwargs ?? {}).length > 0;
  const r = hasKw ? fn(t, ...c.args, c.kwargs) : fn(t, ...c.args);
  assert.equal(r, t, `${c.name}: init functions return their tensor`);
  assertClose(t, c.out, c.tol, `${c.name} values`);
}

const shared = loadCases().filter((c) => c.kind === "module");
const devices = await testDevices();
const own = loadCases("test/fixtures/torch-modules.json");

describe("module conformance: torch-reference.json", () => {
  test("the skip list is exactly the layers that do not exist yet", () => {
    const missing = [...new Set(shared.map((c) => c.target!))]
      .filter((t) => !moduleClass(t))
      .sort();
    assert.deepEqual(missing, Object.keys(NOT_YET).sort());
  });

  for (const device of devices) {
    describe(device, () => {
      for (const c of shared) {
        const reason = NOT_YET[c.target!];
        const opts = reason ? { skip: reason } : knownGap(device, `modules/${c.name}`);
        test(c.name, opts, () => runModuleCase(c, device));
      }
    });
  }
});

describe("module conformance: torch-modules.json", () => {
  test("every kind is handled", () => {
    assert.deepEqual([...new Set(own.map((c) => c.kind))].sort(), ["init", "module"]);
  });

  // Initialization draws on the CPU's generator, so init cases run there only.
  for (const c of own.filter((c) => c.kind === "init")) test(c.name, () => runInitCase(c));
  for (const device of devices) {
    describe(device, () => {
      for (const c of own.filter((c) => c.kind === "module")) {
        test(c.name, knownGap(device, `modules/${c.name}`), () => runModuleCase(c, device));
      }
    });
  }
});
