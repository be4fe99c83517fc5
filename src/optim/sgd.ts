import type { Tensor } from "../tensor/tensor.js";
import { fusedSGD } from "./fused.js";
import {
  check,
  Optimizer,
  type OptimizerOptions,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer.js";

export interface SGDOptions extends OptimizerOptions {
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov
 * momentum and L2 weight decay (torch.optim.SGD). With momentum μ the
 * buffer is b ← μ·b + (1 − dampening)·g (b = g on the first step), and the
 * step is p ← p − lr·b, or p ← p − lr·(g + μ·b) with nesterov.
 *
 * @example
 * const opt = new fl.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, opts: Partial<SGDOptions> = {}) {
    super("SGD", params, {
      lr: opts.lr ?? 1e-3,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false,
      maximize: opts.maximize ?? false,
    });
  }

  protected checkOptions(o: SGDOptions): void {
    check("SGD", o.lr >= 0, "learning rate", o.lr);
    check("SGD", o.momentum >= 0, "momentum value", o.momentum);
    check("SGD", o.weightDecay >= 0, "weightDecay value", o.weightDecay);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      check(
        "SGD",
        false,
        "nesterov: it needs momentum > 0 and dampening 0, got momentum",
        `${o.momentum}, dampening ${o.dampening}`,
      );
    }
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<SGDOptions>, state: ParamState): void {
    const buf0 = (state.momentum_buffer as Tensor | undefined) ?? null;
    const fused = fusedSGD(p, grad, buf0, g);
    if (fused !== false) {
      if (fused !== null) state.momentum_buffer = fused;
      return;
    }
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) d = d.add(p, { alpha: g.weightDecay });
    if (g.momentum !== 0) {
      let buf = state.momentum_buffer as Tensor | undefined;
      if (buf === undefined) {
        buf = d.detach().clone();
        state.momentum_buffer = buf;
      } else {
        buf.mul_(g.momentum).add_(d, { alpha: 1 - g.dampening });
      }
      d = g.nesterov ? d.add(buf, { alpha: g.momentum }) : buf;
    }
    p.add_(d, { alpha: -g.lr });
  }
}
