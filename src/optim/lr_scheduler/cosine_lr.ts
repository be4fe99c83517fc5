import { ArgumentError } from "../../errors.js";
import { type AnyOptimizer, LRScheduler, pyMod } from "./scheduler.js";

/**
 * Cosine annealing from the base lr down to etaMin over tMax epochs
 * (torch's CosineAnnealingLR), then back up, and so on. Like PyTorch it
 * updates the lr recursively from the current one, so another scheduler
 * or a manual change in between carries through:
 * lr ← etaMin + (lr − etaMin)·(1 + cos(πt/T)) / (1 + cos(π(t−1)/T)).
 *
 * @example
 * const sched = new fl.optim.lrScheduler.CosineAnnealingLR(opt, 100, { etaMin: 1e-5 });
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly etaMin: number;

  constructor(
    optimizer: AnyOptimizer,
    readonly tMax: number,
    opts: { etaMin?: number; lastEpoch?: number } = {},
  ) {
    super(optimizer, opts.lastEpoch);
    if (!(tMax > 0))
      throw new ArgumentError(`CosineAnnealingLR: tMax should be positive, got ${tMax}`);
    this.etaMin = opts.etaMin ?? 0;
    this.init();
  }

  protected getLr(): number[] {
    const { lastEpoch: t, tMax: T, etaMin } = this;
    if (t === 0) return this.groups.map((g) => g.lr);
    if (this.stepCount === 1 && t > 0) {
      return this.baseLrs.map(
        (b) => etaMin + ((b - etaMin) * (1 + Math.cos((t * Math.PI) / T))) / 2,
      );
    }
    // At the bottom of a cycle the ratio below is 0/0; PyTorch steps up by the first increment instead.
    if (pyMod(t - 1 - T, 2 * T) === 0) {
      return this.groups.map(
        (g, i) => g.lr + ((this.baseLrs[i]! - etaMin) * (1 - Math.cos(Math.PI / T))) / 2,
      );
    }
    return this.groups.map(
      (g) =>
        ((1 + Math.cos((Math.PI * t) / T)) / (1 + Math.cos((Math.PI * (t - 1)) / T))) *
          (g.lr - etaMin) +
        etaMin,
    );
  }

  protected override closedFormLr(): number[] {
    const { lastEpoch: t, tMax: T, etaMin } = this;
    return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((Math.PI * t) / T))) / 2);
  }
}
