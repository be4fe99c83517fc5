// Runs test/fixtures/torch-vision.json (tools/conformance/gen_vision.py):
// the vision layers against PyTorch 1.13 — forward, input and parameter
// gradients, running statistics and power-iteration buffers — and the
// functional forms (unfold, fold, pad, interpolate, pooling indices).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import {
  assertClose,
  assertModuleAfterBackward,
  type Case,
  type JsonTensor,
  loadCases,
  toArg,
  toTensor,
} from "../conformance/helpers.js";

const cases = loadCases("test/fixtures/torch-vision.json");
type ModuleClass = new (...args: unknown[]) => fl.nn.Module;

function construct(c: Case): fl.nn.Module {
  const cls = (fl.nn as unknown as Record<string, unknown>)[c.target!] as ModuleClass | undefined;
  assert.ok(cls, `fl.nn.${c.target} does not exist`);
  const opts = Object.fromEntries(Object.entries(c.kwargs ?? {}).map(([k, v]) => [k, toArg(v)]));
  const args = (c.args ?? []).map(toArg);
  const m = Object.keys(opts).length > 0 ? new cls(...args, opts) : new cls(...args);
  if (c.wrap) {
    const fn = (
      fl.nn.utils as unknown as Record<string, (m: fl.nn.Module, o: unknown) => fl.nn.Module>
    )[c.wrap.fn];
    assert.ok(fn, `fl.nn.utils.${c.wrap.fn} does not exist`);
    fn(m, c.wrap.kwargs);
  }
  return m;
}

function checkExtra(c: Case, out: unknown): void {
  if (c.outIndex === undefined) return;
  const rest = (out as fl.Tensor[]).filter((_, i) => i !== c.outIndex);
  (c.extraOut as JsonTensor[]).forEach((t, i) => {
    assertClose(rest[i]!, t, c.tol, `${c.name} extra output ${i}`);
  });
}

function runModule(c: Case): void {
  const m = construct(c);
  m.loadStateDict(
    Object.fromEntries(
      Object.entries(c.state as Record<string, JsonTensor>).map(([k, t]) => [k, toTensor(t)]),
    ),
  );
  if (c.mode === "eval") m.eval();
  const inputs = (c.inputs as { tensor: JsonTensor; requiresGrad: boolean }[]).map((a) =>
    toTensor(a.tensor, a.requiresGrad),
  );
  const res = m.forward(...inputs) as unknown;
  const out = (c.outIndex !== undefined ? (res as unknown[])[c.outIndex] : res) as fl.Tensor;
  assertClose(out, c.out, c.tol, `${c.name} out`);
  checkExtra(c, res);
  if (out.requiresGrad) out.mul(toTensor(c.gradOut)).sum().backward();
  (c.inputGrads as (JsonTensor | null)[]).forEach((g, i) => {
    if (g === null)
      assert.equal(inputs[i]!.grad, null, `${c.name} input ${i}: expected no gradient`);
    else assertClose(inputs[i]!.grad!, g, c.tol, `${c.name} input ${i} grad`);
  });
  assertModuleAfterBackward(c, m);
}

function runFn(c: Case): void {
  const fn = (fl.nn.functional as unknown as Record<string, (...a: unknown[]) => unknown>)[
    c.target!.replace(/^F\./, "")
  ];
  assert.ok(fn, `${c.target} does not exist`);
  const args = (c.args as unknown[]).map(toArg);
  const hasKw = Object.keys(c.kwargs ?? {}).length > 0;
  const res = hasKw ? fn(...args, c.kwargs) : fn(...args);
  const out = (c.outIndex !== undefined ? (res as unknown[])[c.outIndex] : res) as fl.Tensor;
  assertClose(out, c.out, c.tol, `${c.name} out`);
  checkExtra(c, res);
  if (!c.grads) return;
  out.mul(toTensor(c.gradOut)).sum().backward();
  (c.grads as (JsonTensor | null)[]).forEach((g, i) => {
    if (g !== null) assertClose((args[i] as fl.Tensor).grad!, g, c.tol, `${c.name} arg ${i} grad`);
  });
}

/** Seeded default initialization (and spectralNorm's random u, v) against PyTorch's draws. */
function runInit(c: Case): void {
  fl.manualSeed(c.seed);
  const sd = construct(c).stateDict();
  assert.deepEqual(Object.keys(sd), Object.keys(c.stateAfter), `${c.name}: stateDict keys`);
  for (const [k, t] of Object.entries(c.stateAfter as Record<string, JsonTensor>))
    assertClose(sd[k]!, t, c.tol, `${c.name} state ${k}`);
}

const runners: Record<string, (c: Case) => void> = { module: runModule, fn: runFn, init: runInit };

describe("vision conformance: torch-vision.json", () => {
  test("the fixture holds both kinds", () => {
    assert.deepEqual([...new Set(cases.map((c) => c.kind))].sort(), ["fn", "init", "module"]);
  });
  for (const c of cases) test(c.name, () => runners[c.kind]!(c));
});
