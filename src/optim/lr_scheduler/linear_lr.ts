import { ArgumentError } from "../../errors.js";
import { type AnyOptimizer, LRScheduler } from "./scheduler.js";

export interface LinearLROptions {
  /** The factor at epoch 0; in (0, 1]. Default 1/3. */
  startFactor?: number;
  /** The factor from totalIters on; in [0, 1]. Default 1. */
  endFactor?: number;
  /** Epochs to go from startFactor to endFactor. Default 5. */
  totalIters?: number;
  lastEpoch?: number;
}

/**
 * Scales the lr by a factor that moves linearly from startFactor to
 * endFactor over totalIters epochs (torch's LinearLR) — a warm-up.
 *
 * @example
 * const warmup = new fl.optim.lrScheduler.LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
 */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(optimizer: AnyOptimizer, opts: LinearLROptions = {}) {
    super(optimizer, opts.lastEpoch);
    this.startFactor = opts.startFactor ?? 1 / 3;
    this.endFactor = opts.endFactor ?? 1;
    this.totalIters = opts.totalIters ?? 5;
    if (!(this.startFactor > 0 && this.startFactor <= 1)) {
      throw new ArgumentError(`LinearLR: startFactor should be in (0, 1], got ${this.startFactor}`);
    }
    if (!(this.endFactor >= 0 && this.endFactor <= 1)) {
      throw new ArgumentError(`LinearLR: endFactor should be in [0, 1], got ${this.endFactor}`);
    }
    this.init();
  }

  protected getLr(): number[] {
    const { lastEpoch: t, startFactor: s, endFactor: e, totalIters: n } = this;
    if (t === 0) return this.groups.map((g) => g.lr * s);
    if (t > n) return this.groups.map((g) => g.lr);
    // The ratio of this epoch's factor to the last one's.
    return this.groups.map((g) => g.lr * (1 + (e - s) / (n * s + (t - 1) * (e - s))));
  }

  protected override closedFormLr(): number[] {
    const { lastEpoch: t, startFactor: s, endFactor: e, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (s + ((e - s) * Math.min(n, t)) / n));
  }
}
