// Shared by test/webgpu/fused_*.test.ts: runs one function on the CPU with
// the composites (fused kernels off: the reference) and on webgpu with its
// fused kernels, and compares values, first gradients, and optionally
// gradients of gradients (createGraph, where the routing falls back to
// ops-written backwards on the device).
import assert from "node:assert/strict";
import { setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { onDevice } from "../devices.js";

/** Runs fn with fused kernels switched on or off. */
export function withFused<T>(on: boolean, fn: () => T): T {
  const was = setFusedKernels(on);
  try {
    return fn();
  } finally {
    setFusedKernels(was);
  }
}

/** Values of `got` (any device) against `want` (CPU) within tol·(1 + |want|); NaN matches NaN. */
export async function close(got: fl.Tensor, want: fl.Tensor, tol: number, what: string) {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const g = await got.data();
  const w = want.dataSync();
  for (let i = 0; i < w.length; i++) {
    const a = Number(g[i]);
    const b = Number(w[i]);
    if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) continue;
    if (!(Math.abs(a - b) <= tol * (1 + Math.abs(b))))
      assert.fail(`${what}[${i}]: webgpu ${a}, cpu ${b} (tol ${tol})`);
  }
}

export interface CompareOptions {
  /** Tolerance for the forward values (2e-5). */
  tol?: number;
  /** Tolerance for the gradients (1e-4). */
  gradTol?: number;
  /** Also compare gradients of gradients (createGraph). */
  second?: boolean;
  /** At most this many kernel launches for the forward on webgpu: proof the fused path ran. */
  maxDispatches?: number;
}

/**
 * fn(inputs on `device`, device) on the CPU composites and on webgpu's
 * fused kernels. Every float input is a gradient leaf; the loss is
 * Σ out·w for a fixed random w, so every output element's gradient differs.
 */
export async function compareWithCpu(
  what: string,
  fn: (xs: fl.Tensor[], device: string) => fl.Tensor,
  inputs: fl.Tensor[],
  opts: CompareOptions = {},
): Promise<void> {
  const tol = opts.tol ?? 2e-5;
  const gradTol = opts.gradTol ?? 1e-4;
  const leaves = (device: string) =>
    inputs.map((x) => onDevice(x.isFloatingPoint() ? x.detach().requiresGrad_() : x, device));
  const run = (device: string, w: fl.Tensor | null) => {
    const xs = leaves(device);
    const marks = fl.webgpu.memory().dispatches;
    const out = fn(xs, device);
    // The batch is submitted when a kernel is recorded, so the count is current.
    const launches = device === "webgpu" ? fl.webgpu.memory().dispatches - marks : 0;
    const weight = w ?? fl.randn(out.shape);
    const loss = out.mul(onDevice(weight, device)).sum();
    const floats = xs.filter((x) => x.requiresGrad);
    const grads = fl.autograd.grad(loss, floats, { createGraph: opts.second ?? false });
    let second: (fl.Tensor | null)[] = [];
    if (opts.second) {
      const s = grads.reduce<fl.Tensor | null>(
        (acc, g) => (g ? (acc ? acc.add(g.square().sum()) : g.square().sum()) : acc),
        null,
      );
      if (s) second = fl.autograd.grad(s, floats, { allowUnused: true });
    }
    return { out, grads, second, weight, launches };
  };
  const cpu = withFused(false, () => run("cpu", null));
  const gpu = withFused(true, () => run("webgpu", cpu.weight));
  if (opts.maxDispatches !== undefined) {
    assert.ok(
      gpu.launches <= opts.maxDispatches,
      `${what}: ${gpu.launches} launches for the forward, expected at most ${opts.maxDispatches} (fused path not taken?)`,
    );
  }
  await close(gpu.out, cpu.out, tol, `${what}: forward`);
  for (let i = 0; i < cpu.grads.length; i++) {
    const c = cpu.grads[i];
    const g = gpu.grads[i];
    assert.equal(g == null, c == null, `${what}: grad ${i} presence`);
    if (c && g) await close(g, c, gradTol, `${what}: grad ${i}`);
  }
  for (let i = 0; i < cpu.second.length; i++) {
    const c = cpu.second[i];
    const g = gpu.second[i];
    assert.equal(g == null, c == null, `${what}: second grad ${i} presence`);
    if (c && g) await close(g, c, gradTol * 10, `${what}: second grad ${i}`);
  }
}
