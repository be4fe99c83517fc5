import { Tensor } from "../tensor/tensor.js";
import {
  check,
  Optimizer,
  type OptimizerOptions,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer.js";

export interface AdagradOptions extends OptimizerOptions {
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
  maximize: boolean;
}

/**
 * Adagrad (torch.optim.Adagrad): divides each step by the root of the sum of
 * all past squared gradients; the learning rate decays as
 * lr / (1 + (t − 1)·lrDecay).
 *
 * @example
 * const opt = new fl.optim.Adagrad(model.parameters(), { lr: 0.1 });
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Params<AdagradOptions>, opts: Partial<AdagradOptions> = {}) {
    super("Adagrad", params, {
      lr: opts.lr ?? 1e-2,
      lrDecay: opts.lrDecay ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      initialAccumulatorValue: opts.initialAccumulatorValue ?? 0,
      eps: opts.eps ?? 1e-10,
      maximize: opts.maximize ?? false,
    });
  }

  protected checkOptions(o: AdagradOptions): void {
    check("Adagrad", o.lr >= 0, "learning rate", o.lr);
    check("Adagrad", o.lrDecay >= 0, "lrDecay value", o.lrDecay);
    check("Adagrad", o.weightDecay >= 0, "weightDecay value", o.weightDecay);
    check(
      "Adagrad",
      o.initialAccumulatorValue >= 0,
      "initialAccumulatorValue",
      o.initialAccumulatorValue,
    );
    check("Adagrad", o.eps >= 0, "epsilon value", o.eps);
  }

  protected update(
    p: Tensor,
    grad: Tensor,
    g: ParamGroup<AdagradOptions>,
    state: ParamState,
  ): void {
    if (state.step === undefined) {
      state.step = 0;
      state.sum = Tensor.scalar(g.initialAccumulatorValue, p.dtype, p.device)
        .expand(p.shape)
        .contiguous();
    }
    const step = (state.step as number) + 1;
    state.step = step;
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) d = d.add(p, { alpha: g.weightDecay });
    const clr = g.lr / (1 + (step - 1) * g.lrDecay);
    const sum = state.sum as Tensor;
    sum.add_(d.mul(d));
    p.add_(d.div(sum.sqrt().add(g.eps)), { alpha: -clr });
  }
}
