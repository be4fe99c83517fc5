import assert from "node:assert/strict";
import { setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";

// Shared by the fused-kernel tests (conv, pooling, batch norm, linear +
// GELU): runs one function with the backend's fused kernels on and off, on
// fresh copies of the same inputs, and compares the forward values, the
// first gradients (plain and under createGraph, which runs the ops-written
// backward) and a gradient of the gradients.

/** Runs fn with fused kernels switched on or off. */
export function withFused<T>(on: boolean, fn: () => T): T {
  const was = setFusedKernels(on);
  try {
    return fn();
  } finally {
    setFusedKernels(was);
  }
}

export function close(a: fl.Tensor, b: fl.Tensor, tol: number, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const u = Number(x[i]);
    const v = Number(y[i]);
    if (Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v))) continue;
    if (!(Math.abs(u - v) <= tol * (1 + Math.abs(v)))) {
      assert.fail(`${what}[${i}]: fused ${u}, composite ${v} (tol ${tol})`);
    }
  }
}

/** A random leaf of `shape`, made strided (a transposed copy viewed back) when asked. */
export function leaf(shape: number[], dtype: fl.DType, strided = false): fl.Tensor {
  let t: fl.Tensor;
  if (strided && shape.length >= 2) {
    const swapped = [...shape];
    const n = shape.length;
    [swapped[n - 1], swapped[n - 2]] = [swapped[n - 2]!, swapped[n - 1]!];
    t = fl.randn(swapped, { dtype }).transpose(-1, -2);
  } else t = fl.randn(shape, { dtype });
  const l = t.detach();
  l.requiresGrad = true;
  return l;
}

function run(fn: (...xs: fl.Tensor[]) => fl.Tensor, inputs: fl.Tensor[], on: boolean) {
  return withFused(on, () => {
    const xs = inputs.map((t) => {
      const l = t.detach();
      l.requiresGrad = inputs.length === 0 || t.requiresGrad;
      return l;
    });
    const diff = xs.filter((x) => x.requiresGrad);
    const y = fn(...xs);
    // A fixed, non-uniform upstream gradient.
    const w = fl.arange(y.numel()).to(y.dtype).mul(0.37).sin().reshape(y.shape);
    const plain = fl.autograd.grad(
      fn(...xs)
        .mul(w)
        .sum(),
      diff,
    ) as fl.Tensor[];
    const grads = fl.autograd.grad(y.mul(w).sum(), diff, { createGraph: true }) as fl.Tensor[];
    const total = grads.reduce((s, g) => s.add(g.square().sum()), fl.zeros([], { dtype: y.dtype }));
    const gg = total.requiresGrad
      ? fl.autograd.grad(total, diff, { allowUnused: true })
      : diff.map(() => null);
    return { y: y.detach(), plain, grads, gg };
  });
}

/** Fused against composite: values, gradients, createGraph gradients, gradients of gradients. */
export function compareFused(
  fn: (...xs: fl.Tensor[]) => fl.Tensor,
  inputs: fl.Tensor[],
  tol: number,
): void {
  const fused = run(fn, inputs, true);
  const ref = run(fn, inputs, false);
  close(fused.y, ref.y, tol, "forward");
  fused.plain.forEach((g, i) => {
    close(g, ref.plain[i]!, tol, `grad ${i}`);
  });
  fused.grads.forEach((g, i) => {
    close(g, ref.grads[i]!, tol, `grad ${i} (createGraph)`);
  });
  fused.gg.forEach((g, i) => {
    const r = ref.gg[i];
    if (g && r) close(g, r, tol * 10, `grad of grad ${i}`);
    else assert.equal(g == null, r == null, `grad of grad ${i}: one side is missing`);
  });
}
