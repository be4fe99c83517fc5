import { ArgumentError } from "../../errors.js";
import { type AnyOptimizer, LRScheduler } from "./scheduler.js";

/** epoch → the factor applied to a group's base lr. */
export type LrLambda = (epoch: number) => number;

/**
 * lr = base lr × lrLambda(epoch) (torch's LambdaLR); one function for all
 * groups or one per group. The functions are not part of the state dict.
 *
 * @example
 * const sched = new fl.optim.lrScheduler.LambdaLR(opt, (epoch) => 0.95 ** epoch);
 */
export class LambdaLR extends LRScheduler {
  readonly lrLambdas: LrLambda[];

  constructor(
    optimizer: AnyOptimizer,
    lrLambda: LrLambda | readonly LrLambda[],
    opts: { lastEpoch?: number } = {},
  ) {
    super(optimizer, opts.lastEpoch);
    const n = optimizer.paramGroups.length;
    if (typeof lrLambda === "function") this.lrLambdas = Array.from({ length: n }, () => lrLambda);
    else {
      if (lrLambda.length !== n)
        throw new ArgumentError(
          `LambdaLR: expected ${n} lrLambdas (one per group), got ${lrLambda.length}`,
        );
      this.lrLambdas = [...lrLambda];
    }
    this.init();
  }

  protected getLr(): number[] {
    return this.baseLrs.map((b, i) => b * this.lrLambdas[i]!(this.lastEpoch));
  }

  protected override stateExcludes(): string[] {
    return ["optimizer", "lrLambdas"];
  }
}
