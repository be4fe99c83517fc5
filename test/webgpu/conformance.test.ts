// PyTorch's own answers (the `method` and `fn` cases of the conformance
// fixtures), computed on webgpu: every input moved to the device first,
// gradient leaves made there, results read back asynchronously. The
// backend's known gaps are the list below, each with its reason.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { assertClose, type Case, loadCases, toArg, toTensor } from "../conformance/helpers.js";
import { webgpuSkipReason } from "../devices.js";

const FIXTURES = ["test/fixtures/torch-reference.json", "test/fixtures/torch-functional.json"];

/** Cases webgpu does not run yet, by name, and why. */
export const KNOWN_GAPS: Record<string, string> = {};

type Callable = (...args: unknown[]) => unknown;

function resolveFn(path: string): Callable {
  const parts = path.split(".");
  // biome-ignore lint/suspicious/noExplicitAny: walking the public surface by name
  let obj: any = parts[0] === "F" ? fl.nn.functional : fl;
  for (const p of parts.slice(1)) obj = obj?.[p];
  assert.equal(typeof obj, "function", `${path} is not a function in flint`);
  return obj as Callable;
}

/** A case argument with every tensor on webgpu; gradient leaves are made on the device. */
// biome-ignore lint/suspicious/noExplicitAny: JSON args
function toDevice(a: any, leaves: fl.Tensor[]): any {
  if (Array.isArray(a)) return a.map((x) => toDevice(x, leaves));
  const v = toArg(a);
  if (!(v instanceof fl.Tensor)) return v;
  const t = v.detach().to("webgpu");
  if (v.requiresGrad) t.requiresGrad_(true);
  leaves.push(t);
  return t;
}

async function run(c: Case): Promise<void> {
  const leaves: fl.Tensor[] = [];
  const args: unknown[] = c.args.map((a: unknown) => toDevice(a, leaves));
  const kwargs = Object.fromEntries(
    Object.entries(c.kwargs ?? {}).map(([k, v]) => [k, toDevice(v, [])]),
  );
  const withKwargs = Object.keys(kwargs).length > 0 ? [kwargs] : [];
  let out: unknown;
  if (c.kind === "method") {
    let self = args[0] as fl.Tensor;
    if (c.transposeFirst) self = self.transpose(0, 1);
    // biome-ignore lint/suspicious/noExplicitAny: method looked up by name
    out = ((self as any)[c.target!] as Callable).call(self, ...args.slice(1), ...withKwargs);
  } else {
    out = resolveFn(c.target!)(...args, ...withKwargs);
  }
  if (c.outIndex !== undefined) out = (out as { values: fl.Tensor }).values;
  assert.ok(out instanceof fl.Tensor, `${c.name}: expected a tensor result`);
  const y = out as fl.Tensor;
  assert.equal(y.device, "webgpu", `${c.name}: result left the device`);
  assertClose(await y.toAsync("cpu"), c.out, c.tol, `${c.name} out`);
  if (!c.grads) return;
  y.mul(toTensor(c.gradOut).to("webgpu")).sum().backward();
  assert.equal(
    leaves.length,
    c.grads.length,
    `${c.name}: ${leaves.length} tensor inputs, case lists ${c.grads.length}`,
  );
  for (let i = 0; i < leaves.length; i++) {
    const g = c.grads[i];
    const x = leaves[i]!;
    if (g === null) {
      assert.equal(x.grad, null, `${c.name}: input ${i} should have no grad`);
      continue;
    }
    assert.ok(x.grad, `${c.name}: input ${i} has no grad`);
    assert.equal(x.grad!.device, "webgpu");
    assertClose(await x.grad!.toAsync("cpu"), g, c.tol, `${c.name} grad[${i}]`);
  }
}

const skip = await webgpuSkipReason();

for (const file of FIXTURES) {
  describe(`webgpu: ${file}`, { skip }, () => {
    if (skip) return;
    for (const c of loadCases(file)) {
      if (c.kind !== "method" && c.kind !== "fn") continue;
      const gap = KNOWN_GAPS[c.name];
      test(c.name, { skip: gap ? `known webgpu gap: ${gap}` : false }, () => run(c));
    }
  });
}
