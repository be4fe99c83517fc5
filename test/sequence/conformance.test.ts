// Walks test/fixtures/torch-sequence.json (tools/conformance/gen_sequence.py):
// each case builds a sequence module, loads PyTorch's state_dict, runs the
// forward (packing the input first when the case says so), and compares
// every listed output, the input and parameter gradients of
// sum(out · gradOut), and the state afterwards with PyTorch's.
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

type ModuleClass = new (...args: unknown[]) => fl.nn.Module;
const registry = fl.nn as unknown as Record<string, unknown>;

// biome-ignore lint/suspicious/noExplicitAny: JSON arguments
function build(a: any): unknown {
  if (a !== null && typeof a === "object" && !Array.isArray(a) && typeof a.module === "string") {
    return construct(a.module, a.args ?? [], a.kwargs ?? {});
  }
  return toArg(a);
}

// biome-ignore lint/suspicious/noExplicitAny: JSON arguments
function construct(target: string, args: any[], kwargs: Record<string, any>): fl.nn.Module {
  const cls = registry[target];
  assert.equal(typeof cls, "function", `fl.nn.${target} does not exist`);
  const opts = Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [k, build(v)]));
  const built = args.map(build);
  const C = cls as ModuleClass;
  return Object.keys(opts).length > 0 ? new C(...built, opts) : new C(...built);
}

/** Inputs as tensors (lists stay lists, for LSTM's [h0, c0]) and the flat list of tensors among them. */
// biome-ignore lint/suspicious/noExplicitAny: JSON arguments
function inputsOf(json: any[]): [unknown[], fl.Tensor[]] {
  const flat: fl.Tensor[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: JSON arguments
  const lift = (a: any): unknown => {
    if (a === null) return null;
    if (Array.isArray(a)) return a.map(lift);
    const t = toTensor(a.tensor as JsonTensor, a.requiresGrad);
    flat.push(t);
    return t;
  };
  return [json.map(lift), flat];
}

function at(out: unknown, path: (number | string)[]): fl.Tensor {
  let o = out;
  for (const p of path) o = (o as unknown[])[p as number];
  assert.ok(o instanceof fl.Tensor, `output at ${JSON.stringify(path)} is not a Tensor`);
  return o;
}

function runCase(c: Case): void {
  const m = construct(c.target!, c.args ?? [], c.kwargs ?? {});
  m.loadStateDict(
    Object.fromEntries(
      Object.entries(c.state as Record<string, JsonTensor>).map(([k, t]) => [k, toTensor(t)]),
    ),
  );
  if (c.mode === "eval") m.eval();
  const [inputs, leaves] = inputsOf(c.inputs);
  const opts = Object.fromEntries(
    Object.entries(c.forwardKwargs ?? {}).map(([k, v]) => [k, toArg(v)]),
  );
  const args = [...inputs];
  if (c.pack) {
    args[0] = fl.nn.utils.packPaddedSequence(args[0] as fl.Tensor, c.pack.lengths, {
      batchFirst: c.pack.batchFirst ?? false,
      enforceSorted: c.pack.enforceSorted ?? true,
    });
  }
  // Trailing absent arguments stay absent; an options object goes last when there is one.
  while (args.length > 0 && args[args.length - 1] === null) args.pop();
  if (Object.keys(opts).length > 0) args.push(opts);
  let out = m.forward(...args) as unknown;
  if (c.pack) {
    const [padded] = fl.nn.utils.padPackedSequence((out as [fl.nn.utils.PackedSequence])[0], {
      batchFirst: c.pack.batchFirst ?? false,
    });
    out = Object.assign([...(out as unknown[])], { padded });
  }
  let loss: fl.Tensor | null = null;
  for (const o of c.outputs as {
    path: (number | string)[] | "padded";
    out: JsonTensor;
    gradOut: JsonTensor;
  }[]) {
    const t = o.path === "padded" ? (out as { padded: fl.Tensor }).padded : at(out, o.path);
    assertClose(t, o.out, c.tol, `${c.name} out ${JSON.stringify(o.path)}`);
    const term = t.mul(toTensor(o.gradOut)).sum();
    loss = loss ? loss.add(term) : term;
  }
  loss!.backward();
  (c.inputGrads as (JsonTensor | null)[]).forEach((g, i) => {
    const x = leaves[i]!;
    if (g === null) {
      assert.ok(
        x.grad === null || !x.isFloatingPoint(),
        `${c.name} input ${i}: unexpected gradient`,
      );
      return;
    }
    assert.ok(x.grad, `${c.name} input ${i}: missing gradient`);
    assertClose(x.grad, g, c.tol, `${c.name} input ${i} grad`);
  });
  assertModuleAfterBackward(c, m);
}

describe("sequence conformance: torch-sequence.json", () => {
  const cases = loadCases("test/fixtures/torch-sequence.json");
  test("the fixture holds the issue's cases", () => {
    const targets = new Set(cases.map((c) => c.target));
    for (const t of [
      "Embedding",
      "EmbeddingBag",
      "RNN",
      "LSTM",
      "GRU",
      "RNNCell",
      "LSTMCell",
      "GRUCell",
      "MultiheadAttention",
      "TransformerEncoderLayer",
      "TransformerDecoderLayer",
      "TransformerEncoder",
      "Transformer",
      "AdditiveAttention",
      "MultiplicativeAttention",
    ]) {
      assert.ok(targets.has(t), `no case for ${t}`);
    }
  });
  for (const c of cases) test(c.name, () => runCase(c));
});
