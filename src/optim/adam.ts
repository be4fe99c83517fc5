import { Tensor } from "../tensor/tensor.js";
import { adamState, fusedAdam } from "./fused.js";
import {
  check,
  Optimizer,
  type OptimizerOptions,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer.js";

export interface AdamOptions extends OptimizerOptions {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

/**
 * Adam (torch.optim.Adam): running averages of the gradient (m) and of its
 * square (v), bias-corrected; p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps).
 * weightDecay adds wd·p to the gradient (L2); AdamW decays p instead.
 * amsgrad uses the running maximum of v.
 *
 * @example
 * const opt = new fl.optim.Adam(model.parameters(), { lr: 1e-3 });
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super("Adam", params, adamDefaults(opts, 0));
  }

  protected checkOptions(o: AdamOptions): void {
    checkAdam("Adam", o);
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<AdamOptions>, state: ParamState): void {
    adamUpdate(p, grad, g, state, false);
  }
}

export function adamDefaults(opts: Partial<AdamOptions>, weightDecay: number): AdamOptions {
  return {
    lr: opts.lr ?? 1e-3,
    betas: opts.betas ? [opts.betas[0], opts.betas[1]] : [0.9, 0.999],
    eps: opts.eps ?? 1e-8,
    weightDecay: opts.weightDecay ?? weightDecay,
    amsgrad: opts.amsgrad ?? false,
    maximize: opts.maximize ?? false,
  };
}

export function checkAdam(name: string, o: AdamOptions): void {
  check(name, o.lr >= 0, "learning rate", o.lr);
  check(name, o.eps >= 0, "epsilon value", o.eps);
  check(name, o.betas[0] >= 0 && o.betas[0] < 1, "beta parameter at index 0:", o.betas[0]);
  check(name, o.betas[1] >= 0 && o.betas[1] < 1, "beta parameter at index 1:", o.betas[1]);
  check(name, o.weightDecay >= 0, "weightDecay value", o.weightDecay);
}

/** One Adam step on p; `decoupled` is AdamW's p ← p·(1 − lr·wd) in place of L2. */
export function adamUpdate(
  p: Tensor,
  grad: Tensor,
  g: ParamGroup<AdamOptions>,
  state: ParamState,
  decoupled: boolean,
): void {
  const [beta1, beta2] = g.betas;
  if (state.step === undefined) {
    state.step = 0;
    [state.exp_avg, state.exp_avg_sq] = adamState(p);
    if (g.amsgrad) state.max_exp_avg_sq = zerosLike(p);
  }
  const step = (state.step as number) + 1;
  state.step = step;
  const fused = fusedAdam(
    p,
    grad,
    state.exp_avg as Tensor,
    state.exp_avg_sq as Tensor,
    g.amsgrad ? (state.max_exp_avg_sq as Tensor) : null,
    { ...g, beta1, beta2, decoupled, step },
  );
  if (fused) return;
  let d = g.maximize ? grad.neg() : grad;
  if (decoupled) p.mul_(1 - g.lr * g.weightDecay);
  else if (g.weightDecay !== 0) d = d.add(p, { alpha: g.weightDecay });

  const expAvg = state.exp_avg as Tensor;
  const expAvgSq = state.exp_avg_sq as Tensor;
  expAvg.mul_(beta1).add_(d, { alpha: 1 - beta1 });
  expAvgSq.mul_(beta2).add_(d.mul(d), { alpha: 1 - beta2 });

  const stepSize = g.lr / (1 - beta1 ** step);
  const bias2Sqrt = Math.sqrt(1 - beta2 ** step);
  let second = expAvgSq;
  if (g.amsgrad) {
    const maxSq = state.max_exp_avg_sq as Tensor;
    maxSq.copy_(maxSq.maximum(expAvgSq));
    second = maxSq;
  }
  const denom = second.sqrt().div(bias2Sqrt).add(g.eps);
  p.add_(expAvg.div(denom), { alpha: -stepSize });
}

/** Zeros with p's shape, dtype and device. */
export function zerosLike(p: Tensor): Tensor {
  return Tensor.zeros(p.shape, p.dtype, p.device);
}
