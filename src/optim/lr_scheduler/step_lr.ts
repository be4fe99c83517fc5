import { ArgumentError } from "../../errors.js";
import { type AnyOptimizer, bisectRight, LRScheduler } from "./scheduler.js";

/**
 * Multiplies the lr by gamma every stepSize epochs (torch's StepLR).
 *
 * @example
 * const sched = new fl.optim.lrScheduler.StepLR(opt, 30, { gamma: 0.1 });
 * // each epoch: train…, opt.step(), then sched.step()
 */
export class StepLR extends LRScheduler {
  readonly gamma: number;

  constructor(
    optimizer: AnyOptimizer,
    readonly stepSize: number,
    opts: { gamma?: number; lastEpoch?: number } = {},
  ) {
    super(optimizer, opts.lastEpoch);
    if (!(Number.isInteger(stepSize) && stepSize > 0)) {
      throw new ArgumentError(`StepLR: stepSize should be a positive integer, got ${stepSize}`);
    }
    this.gamma = opts.gamma ?? 0.1;
    this.init();
  }

  protected getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0)
      return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/**
 * Multiplies the lr by gamma at each milestone epoch (torch's MultiStepLR);
 * a milestone listed twice multiplies twice.
 *
 * @example
 * const sched = new fl.optim.lrScheduler.MultiStepLR(opt, [30, 80], { gamma: 0.1 });
 */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];
  readonly gamma: number;

  constructor(
    optimizer: AnyOptimizer,
    milestones: readonly number[],
    opts: { gamma?: number; lastEpoch?: number } = {},
  ) {
    super(optimizer, opts.lastEpoch);
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.gamma = opts.gamma ?? 0.1;
    this.init();
  }

  protected getLr(): number[] {
    const hits = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (hits === 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma ** hits);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** bisectRight(this.milestones, this.lastEpoch));
  }
}

/**
 * Multiplies the lr by gamma every epoch (torch's ExponentialLR).
 *
 * @example
 * const sched = new fl.optim.lrScheduler.ExponentialLR(opt, 0.9);
 */
export class ExponentialLR extends LRScheduler {
  constructor(
    optimizer: AnyOptimizer,
    readonly gamma: number,
    opts: { lastEpoch?: number } = {},
  ) {
    super(optimizer, opts.lastEpoch);
    this.init();
  }

  protected getLr(): number[] {
    if (this.lastEpoch === 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
}
