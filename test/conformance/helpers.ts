// Shared by the conformance runners: loads PyTorch's cases and compares
// flint's results with them, |flint - torch| <= tol * (1 + |torch|).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as fl from "../../src/index.js";

export interface JsonTensor {
  shape: number[];
  dtype: "float32" | "float64" | "int32" | "bool";
  data: (number | string | boolean)[];
}

export interface Case {
  name: string;
  kind: string;
  target?: string;
  // biome-ignore lint/suspicious/noExplicitAny: case fields vary by kind
  [key: string]: any;
}

export function loadCases(file = "test/fixtures/torch-reference.json"): Case[] {
  return JSON.parse(readFileSync(file, "utf8")).cases as Case[];
}

function num(v: number | string | boolean): number {
  if (v === "inf") return Number.POSITIVE_INFINITY;
  if (v === "-inf") return Number.NEGATIVE_INFINITY;
  if (v === "nan") return Number.NaN;
  return Number(v);
}

/** A JSON tensor as a flint tensor. */
export function toTensor(t: JsonTensor, requiresGrad = false): fl.Tensor {
  const data = t.data.map(num);
  const x = fl.tensor(data, { dtype: t.dtype }).reshape(t.shape);
  const leaf = x.detach();
  if (requiresGrad) leaf.requiresGrad_(true);
  return leaf;
}

/** Turns a case's args: {tensor, requiresGrad} → Tensor, lists recursively, "inf" → Infinity. */
// biome-ignore lint/suspicious/noExplicitAny: JSON args
export function toArg(a: any): any {
  if (Array.isArray(a)) return a.map(toArg);
  if (a !== null && typeof a === "object" && "tensor" in a)
    return toTensor(a.tensor, a.requiresGrad);
  if (a === "inf") return Number.POSITIVE_INFINITY;
  if (a === "-inf") return Number.NEGATIVE_INFINITY;
  return a;
}

/** Asserts a flint tensor matches a JSON tensor within tol. */
export function assertClose(
  actual: fl.Tensor | number,
  expected: JsonTensor,
  tol: number,
  what: string,
): void {
  const a = typeof actual === "number" ? fl.tensor(actual) : actual;
  assert.deepEqual(
    a.shape,
    expected.shape,
    `${what}: shape ${JSON.stringify(a.shape)} != ${JSON.stringify(expected.shape)}`,
  );
  const got = a.dataSync();
  const want = expected.data.map(num);
  if (expected.dtype === "int32" || expected.dtype === "bool") {
    assert.deepEqual(Array.from(got, Number), want, `${what}: values differ`);
    return;
  }
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (Number.isNaN(w)) {
      assert.ok(Number.isNaN(g), `${what}[${i}]: expected NaN, got ${g}`);
      continue;
    }
    if (!Number.isFinite(w)) {
      assert.equal(g, w, `${what}[${i}]`);
      continue;
    }
    assert.ok(
      Math.abs(g - w) <= tol * (1 + Math.abs(w)),
      `${what}[${i}]: got ${g}, PyTorch ${w} (tol ${tol})`,
    );
  }
}

/**
 * After a module case's backward: namedParameters() has PyTorch's keys in
 * its order, each parameter's gradient matches `paramGrads`, and
 * stateDict() matches `stateAfter` (keys, order and values). CPU tensors.
 */
export function assertModuleAfterBackward(c: Case, m: fl.nn.Module): void {
  const params = new Map(m.namedParameters());
  assert.deepEqual(
    [...params.keys()],
    Object.keys(c.paramGrads),
    `${c.name}: namedParameters keys`,
  );
  for (const [k, g] of Object.entries(c.paramGrads as Record<string, JsonTensor>)) {
    assert.ok(params.get(k)!.grad, `${c.name} ${k}: missing gradient`);
    assertClose(params.get(k)!.grad!, g, c.tol, `${c.name} ${k} grad`);
  }
  const sd = m.stateDict();
  assert.deepEqual(Object.keys(sd), Object.keys(c.stateAfter), `${c.name}: stateDict keys`);
  for (const [k, t] of Object.entries(c.stateAfter as Record<string, JsonTensor>))
    assertClose(sd[k]!, t, c.tol, `${c.name} state ${k}`);
}
