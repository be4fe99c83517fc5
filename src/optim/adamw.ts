import type { Tensor } from "../tensor/tensor.js";
import { type AdamOptions, adamDefaults, adamUpdate, checkAdam } from "./adam.js";
import { Optimizer, type ParamGroup, type ParamState, type Params } from "./optimizer.js";

/**
 * AdamW (torch.optim.AdamW): Adam with decoupled weight decay, which shrinks
 * the parameters (p ← p·(1 − lr·wd)) instead of adding wd·p to the gradient.
 * weightDecay defaults to 1e-2.
 *
 * @example
 * const opt = new fl.optim.AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
 */
export class AdamW extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super("AdamW", params, adamDefaults(opts, 1e-2));
  }

  protected checkOptions(o: AdamOptions): void {
    checkAdam("AdamW", o);
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<AdamOptions>, state: ParamState): void {
    adamUpdate(p, grad, g, state, true);
  }
}
