// Runs every `method` and `fn` case PyTorch computed (torch-reference.json
// and torch-functional.json): flint's output and input gradients must match.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
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

function run(c: Case): void {
  const args: unknown[] = c.args.map(toArg);
  // Tensor-valued options (class weights, masks) are written like arguments.
  const kwargs = Object.fromEntries(Object.entries(c.kwargs ?? {}).map(([k, v]) => [k, toArg(v)]));
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
  assertClose(y, c.out, c.tol, `${c.name} out`);
  if (!c.grads) return;
  y.mul(toTensor(c.gradOut)).sum().backward();
  const inputs = leaves(args);
  assert.equal(
    inputs.length,
    c.grads.length,
    `${c.name}: ${inputs.length} tensor inputs, case lists ${c.grads.length}`,
  );
  c.grads.forEach((g: Case["grads"][number], i: number) => {
    const x = inputs[i]!;
    if (g === null) {
      assert.equal(x.grad, null, `${c.name}: input ${i} should have no grad`);
      return;
    }
    assert.ok(x.grad, `${c.name}: input ${i} has no grad`);
    assertClose(x.grad!, g, c.tol, `${c.name} grad[${i}]`);
  });
}

for (const file of FIXTURES) {
  describe(file, { skip: !existsSync(file) && "fixture missing" }, () => {
    if (!existsSync(file)) return;
    for (const c of loadCases(file)) {
      if (c.kind !== "method" && c.kind !== "fn") continue;
      test(c.name, () => run(c));
    }
  });
}
