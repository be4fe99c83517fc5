// Shared by the tensor tests: compare a tensor's shape and values with
// expected ones (row-major, flat or nested).
import assert from "node:assert/strict";
import * as fl from "../../src/index.js";

type Nested = number | boolean | Nested[];

function flatten(v: Nested): number[] {
  if (Array.isArray(v)) return v.flatMap(flatten);
  return [typeof v === "boolean" ? (v ? 1 : 0) : v];
}

/** Asserts shape and values: |got - want| <= atol + rtol |want|; NaN matches NaN. */
export function assertTensor(
  t: fl.Tensor,
  shape: readonly number[],
  values: Nested,
  opts: { atol?: number; rtol?: number; dtype?: fl.DType; what?: string } = {},
): void {
  const what = opts.what ?? "tensor";
  assert.deepEqual(
    t.shape,
    [...shape],
    `${what}: shape ${JSON.stringify(t.shape)} != ${JSON.stringify(shape)}`,
  );
  if (opts.dtype) assert.equal(t.dtype, opts.dtype, `${what}: dtype`);
  const got = Array.from(t.dataSync(), Number);
  const want = flatten(values);
  assert.equal(got.length, want.length, `${what}: ${got.length} values, expected ${want.length}`);
  const atol = opts.atol ?? 1e-6;
  const rtol = opts.rtol ?? 1e-5;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w)) assert.ok(Number.isNaN(g), `${what}[${i}]: expected NaN, got ${g}`);
    else if (!Number.isFinite(w)) assert.equal(g, w, `${what}[${i}]`);
    else
      assert.ok(
        Math.abs(g - w) <= atol + rtol * Math.abs(w),
        `${what}[${i}]: got ${g}, expected ${w}`,
      );
  }
}

/** Exact equality of shape, dtype and values between two tensors. */
export function assertSameTensor(a: fl.Tensor, b: fl.Tensor, what = "tensor"): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shapes differ`);
  assert.equal(a.dtype, b.dtype, `${what}: dtypes differ`);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()), `${what}: values differ`);
}

/** An int32 tensor (indices), since plain numbers give float32. */
export function ints(data: Nested): fl.Tensor {
  return fl.tensor(data, { dtype: "int32" });
}
