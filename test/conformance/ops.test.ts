// Runs every `method` and `fn` case PyTorch computed (torch-reference.json
// and torch-functional.json): flint's output and input gradients must match,
// on every device (inputs moved there, gradient leaves made there).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { knownGap, onDevice, testDevices, toCpu } from "../devices.js";
import { assertClose, type Case, loadCases, toArg, toTensor } from "./helpers.js";

// FLINT_CONFORMANCE=a.json,b.json runs other generated sets (other seeds)
// instead, to show the runner computes rather than recalls.
const FIXTURES = process.env.FLINT_CONFORMANCE?.split(",") ?? [
  "test/fixtures/torch-reference.json",
  "test/fixtures/torch-functional.json",
];

type Callable = (...args: unknown[]) => unknown;

/** Resolves a case's `fn` path: F.x, fl.x, fl.linalg.x. */
function resolveFn(path: string): Callable {
  const parts = path.split(".");
  // biome-ignore lint/suspicious/noExplicitAny: walking the public surface by name
  let obj: any = parts[0] === "F" ? fl.nn.functional : parts[0] === "fl" ? fl : undefined;
  for (const p of parts.slice(1)) obj = obj?.[p];
  assert.equal(typeof obj, "function", `${path} is not a function in flint`);
  return obj as Callable;
}

/** The tensors among a case's arguments, in order (lists flattened), as the generator lists them. */
function leaves(args: unknown[]): fl.Tensor[] {
  return args.flatMap((a) => (Array.isArray(a) ? leaves(a) : a instanceof fl.Tensor ? [a] : []));
}

/** A case argument with its tensors on `device`, lists included. */
function deviceArg(a: unknown, device: string): unknown {
  if (Array.isArray(a)) return a.map((x) => deviceArg(x, device));
  return a instanceof fl.Tensor ? onDevice(a, device) : a;
}

async function run(c: Case, device: string): Promise<void> {
  const args: unknown[] = c.args.map((a: unknown) => deviceArg(toArg(a), device));
  // Tensor-valued options (class weights, masks) are written like arguments.
  const kwargs = Object.fromEntries(
    Object.entries(c.kwargs ?? {}).map(([k, v]) => [k, deviceArg(toArg(v), device)]),
  );
  const withKwargs = Object.keys(kwargs).length > 0 ? [kwargs] : [];
  let out: unknown;
  if (c.kind === "method") {
    let self = args[0] as fl.Tensor;
    if (c.transposeFirst) self = self.transpose(0, 1);
    // biome-ignore lint/suspicious/noExplicitAny: method looked up by name
    const method = (self as any)[c.target!] as Callable | undefined;
    assert.equal(typeof method, "function", `Tensor.${c.target} is not a method in flint`);
    out = method!.call(self, ...args.slice(1), ...withKwargs);
  } else {
    out = resolveFn(c.target!)(...args, ...withKwargs);
  }
  if (c.outIndex !== undefined) out = (out as { values: fl.Tensor }).values;
  if (typeof out === "number") out = fl.tensor(out);
  assert.ok(out instanceof fl.Tensor, `${c.name}: expected a tensor result`);
  const y = out as fl.Tensor;
  assert.equal(y.device, device, `${c.name}: the result left ${device}`);
  assertClose(await toCpu(y), c.out, c.tol, `${c.name} out`);
  if (!c.grads) return;
  y.mul(onDevice(toTensor(c.gradOut), device))
    .sum()
    .backward();
  const inputs = leaves(args);
  assert.equal(
    inputs.length,
    c.grads.length,
    `${c.name}: ${inputs.length} tensor inputs, case lists ${c.grads.length}`,
  );
  for (const [i, g] of (c.grads as Case["grads"][number][]).entries()) {
    const x = inputs[i]!;
    if (g === null) {
      assert.equal(x.grad, null, `${c.name}: input ${i} should have no grad`);
      continue;
    }
    assert.ok(x.grad, `${c.name}: input ${i} has no grad`);
    assert.equal(x.grad!.device, device, `${c.name}: grad[${i}] left ${device}`);
    assertClose(await toCpu(x.grad!), g, c.tol, `${c.name} grad[${i}]`);
  }
}

for (const device of await testDevices()) {
  describe(device, () => {
    for (const file of FIXTURES) {
      describe(file, { skip: !existsSync(file) && "fixture missing" }, () => {
        if (!existsSync(file)) return;
        for (const c of loadCases(file)) {
          if (c.kind !== "method" && c.kind !== "fn") continue;
          test(c.name, knownGap(device, `ops/${c.name}`), () => run(c, device));
        }
      });
    }
  });
}
