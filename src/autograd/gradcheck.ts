import { AutogradError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { grad } from "./engine.js";
import { enableGrad, noGrad } from "./grad_mode.js";

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Throw on failure (default) rather than return false. */
  raiseException?: boolean;
}

type Fn = (...inputs: Tensor[]) => Tensor | Tensor[];

function outputsOf(fn: Fn, inputs: Tensor[]): Tensor[] {
  const out = fn(...inputs);
  return Array.isArray(out) ? out : [out];
}

/**
 * torch.autograd.gradcheck: compares the analytical Jacobian (from
 * backward, one output element at a time) with central differences
 * (f(x + eps) - f(x - eps)) / 2eps, input element by input element. Inputs
 * should be float64; PyTorch's defaults: eps 1e-6, atol 1e-5, rtol 1e-3.
 */
export function gradcheck(fn: Fn, inputs: Tensor | Tensor[], opts: GradcheckOptions = {}): boolean {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  const diffIdx = ins.flatMap((t, i) => (t.requiresGrad ? [i] : []));
  if (diffIdx.length === 0)
    throw new AutogradError("gradcheck: at least one input must require grad");
  for (const i of diffIdx) {
    if (ins[i]!.dtype !== "float64") {
      // Like PyTorch, float32 gradchecks are too noisy to mean anything.
      console.warn(
        `gradcheck: input ${i} is ${ins[i]!.dtype}, not float64; the check may fail spuriously`,
      );
    }
  }
  const fail = (msg: string): boolean => {
    if (opts.raiseException === false) return false;
    throw new AutogradError(`gradcheck: ${msg}`);
  };

  // Analytical: row k of each Jacobian = grad of output element k.
  const outs = outputsOf(fn, ins);
  const outSizes = outs.map((o) => o.numel());
  const totalOut = outSizes.reduce((a, b) => a + b, 0);
  const analytical = diffIdx.map((i) => new Float64Array(ins[i]!.numel() * totalOut));
  let row = 0;
  outs.forEach((o, oi) => {
    for (let k = 0; k < outSizes[oi]!; k++, row++) {
      if (!o.requiresGrad) continue;
      const onehot = new Float64Array(outSizes[oi]!);
      onehot[k] = 1;
      const go = Tensor.fromArray(onehot, o.shape).to(o.dtype);
      const gradOutputs = outs.map((other, j) =>
        j === oi ? go : Tensor.zeros(other.shape, other.dtype, other.device),
      );
      const gs = grad(
        outs.filter((x) => x.requiresGrad),
        diffIdx.map((i) => ins[i]!),
        {
          gradOutputs: gradOutputs.filter((_, j) => outs[j]!.requiresGrad),
          retainGraph: true,
          allowUnused: true,
        },
      );
      gs.forEach((g, gi) => {
        if (!g) return;
        const d = g.to("float64").contiguous().dataSync();
        for (let j = 0; j < d.length; j++) analytical[gi]![j * totalOut + row] = d[j]!;
      });
    }
  });

  // Numerical: perturb one input element at a time.
  for (let gi = 0; gi < diffIdx.length; gi++) {
    const i = diffIdx[gi]!;
    const base = ins[i]!.detach().to("float64").contiguous().dataSync() as Float64Array;
    for (let j = 0; j < base.length; j++) {
      const evalAt = (delta: number): Float64Array => {
        const data = base.slice();
        data[j] = data[j]! + delta;
        const perturbed = Tensor.fromArray(data, ins[i]!.shape).to(ins[i]!.dtype);
        const args = ins.map((t, k) => (k === i ? perturbed : t.detach()));
        const o = noGrad(() => outputsOf(fn, args));
        const flat = new Float64Array(totalOut);
        let at = 0;
        for (const t of o) {
          const d = t.to("float64").contiguous().dataSync();
          flat.set(d, at);
          at += d.length;
        }
        return flat;
      };
      const plus = evalAt(eps);
      const minus = evalAt(-eps);
      for (let r = 0; r < totalOut; r++) {
        const num = (plus[r]! - minus[r]!) / (2 * eps);
        const ana = analytical[gi]![j * totalOut + r]!;
        if (!(Math.abs(num - ana) <= atol + rtol * Math.abs(num))) {
          return fail(
            `Jacobian mismatch for output element ${r} with respect to input ${i}, element ${j}: ` +
              `numerical ${num}, analytical ${ana} (atol ${atol}, rtol ${rtol})`,
          );
        }
      }
    }
  }
  return true;
}

/** Second-order check: gradcheck of the gradient function itself (torch.autograd.gradgradcheck). */
export function gradgradcheck(
  fn: Fn,
  inputs: Tensor | Tensor[],
  opts: GradcheckOptions = {},
): boolean {
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  const gradFn = (...given: Tensor[]) =>
    // The numerical pass hands in detached copies under noGrad; the gradient
    // still has to be taken, so record again on fresh leaves.
    enableGrad(() => {
      const xs = given.map((x, k) =>
        ins[k]!.requiresGrad && !x.requiresGrad ? x.detach().requiresGrad_() : x,
      );
      const outs = outputsOf(fn, xs);
      const total = outs.reduce((acc, o) => acc.add(o.sum()), Tensor.scalar(0, "float64"));
      const diff = xs.filter((x) => x.requiresGrad);
      return grad(total, diff, { createGraph: true, allowUnused: true }).map(
        (g, k) => g ?? Tensor.zeros(diff[k]!.shape, diff[k]!.dtype),
      );
    });
  return gradcheck(gradFn, ins, opts);
}
