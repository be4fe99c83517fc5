import type { Tensor } from "../tensor/tensor.js";
import { zerosLike } from "./adam.js";
import {
  check,
  Optimizer,
  type OptimizerOptions,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer.js";

export interface RMSpropOptions extends OptimizerOptions {
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
  maximize: boolean;
}

/**
 * RMSprop (torch.optim.RMSprop): divides the gradient by the root of a
 * running average of its square, v ← α·v + (1 − α)·g²; centered subtracts
 * the squared running mean of g first. With momentum the quotient feeds a
 * momentum buffer.
 *
 * @example
 * const opt = new fl.optim.RMSprop(model.parameters(), { lr: 1e-2, alpha: 0.99 });
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Params<RMSpropOptions>, opts: Partial<RMSpropOptions> = {}) {
    super("RMSprop", params, {
      lr: opts.lr ?? 1e-2,
      alpha: opts.alpha ?? 0.99,
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0,
      momentum: opts.momentum ?? 0,
      centered: opts.centered ?? false,
      maximize: opts.maximize ?? false,
    });
  }

  protected checkOptions(o: RMSpropOptions): void {
    check("RMSprop", o.lr >= 0, "learning rate", o.lr);
    check("RMSprop", o.eps >= 0, "epsilon value", o.eps);
    check("RMSprop", o.momentum >= 0, "momentum value", o.momentum);
    check("RMSprop", o.weightDecay >= 0, "weightDecay value", o.weightDecay);
    check("RMSprop", o.alpha >= 0, "alpha value", o.alpha);
  }

  protected update(
    p: Tensor,
    grad: Tensor,
    g: ParamGroup<RMSpropOptions>,
    state: ParamState,
  ): void {
    if (state.step === undefined) {
      state.step = 0;
      state.square_avg = zerosLike(p);
      if (g.momentum > 0) state.momentum_buffer = zerosLike(p);
      if (g.centered) state.grad_avg = zerosLike(p);
    }
    state.step = (state.step as number) + 1;
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) d = d.add(p, { alpha: g.weightDecay });

    const squareAvg = state.square_avg as Tensor;
    squareAvg.mul_(g.alpha).add_(d.mul(d), { alpha: 1 - g.alpha });
    let avg: Tensor;
    if (g.centered) {
      const gradAvg = state.grad_avg as Tensor;
      gradAvg.mul_(g.alpha).add_(d, { alpha: 1 - g.alpha });
      avg = squareAvg.sub(gradAvg.mul(gradAvg)).sqrt();
    } else {
      avg = squareAvg.sqrt();
    }
    avg = avg.add(g.eps);
    if (g.momentum > 0) {
      const buf = state.momentum_buffer as Tensor;
      buf.mul_(g.momentum).add_(d.div(avg));
      p.add_(buf, { alpha: -g.lr });
    } else {
      p.add_(d.div(avg), { alpha: -g.lr });
    }
  }
}
