import { ArgumentError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { AnyOptimizer, SchedulerStateDict } from "./scheduler.js";

export interface ReduceLROnPlateauOptions {
  /** "min": lower metrics are better (a loss); "max": higher (an accuracy). */
  mode?: "min" | "max";
  /** new lr = lr × factor. Default 0.1. */
  factor?: number;
  /** Epochs without improvement to wait before reducing. Default 10. */
  patience?: number;
  /** How much better counts as better. Default 1e-4. */
  threshold?: number;
  /** "rel": better than best·(1 ∓ threshold); "abs": than best ∓ threshold. */
  thresholdMode?: "rel" | "abs";
  /** Epochs to wait after a reduction before counting again. */
  cooldown?: number;
  /** A floor for the lr, one for all groups or one per group. */
  minLr?: number | number[];
  /** Changes smaller than eps are skipped. Default 1e-8. */
  eps?: number;
}

/**
 * Reduces the lr by `factor` when a metric has stopped improving for
 * `patience` epochs (torch's ReduceLROnPlateau). Give step() the metric.
 *
 * @example
 * const sched = new fl.optim.lrScheduler.ReduceLROnPlateau(opt, { patience: 2 });
 * sched.step(valLoss);
 */
export class ReduceLROnPlateau {
  readonly mode: "min" | "max";
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: "rel" | "abs";
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  /** The best metric so far. */
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  protected lastLr: number[];

  constructor(
    readonly optimizer: AnyOptimizer,
    opts: ReduceLROnPlateauOptions = {},
  ) {
    this.mode = opts.mode ?? "min";
    this.factor = opts.factor ?? 0.1;
    this.patience = opts.patience ?? 10;
    this.threshold = opts.threshold ?? 1e-4;
    this.thresholdMode = opts.thresholdMode ?? "rel";
    this.cooldown = opts.cooldown ?? 0;
    this.eps = opts.eps ?? 1e-8;
    if (this.factor >= 1)
      throw new ArgumentError(`ReduceLROnPlateau: factor should be < 1, got ${this.factor}`);
    if (this.mode !== "min" && this.mode !== "max")
      throw new ArgumentError(
        `ReduceLROnPlateau: mode should be "min" or "max", got ${String(this.mode)}`,
      );
    if (this.thresholdMode !== "rel" && this.thresholdMode !== "abs") {
      throw new ArgumentError(
        `ReduceLROnPlateau: thresholdMode should be "rel" or "abs", got ${String(this.thresholdMode)}`,
      );
    }
    const n = optimizer.paramGroups.length;
    const minLr = opts.minLr ?? 0;
    if (Array.isArray(minLr)) {
      if (minLr.length !== n)
        throw new ArgumentError(
          `ReduceLROnPlateau: expected ${n} minLr values (one per group), got ${minLr.length}`,
        );
      this.minLrs = [...minLr];
    } else {
      this.minLrs = Array.from({ length: n }, () => minLr);
    }
    this.best = this.worst();
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  /** Records one epoch's metric (a number or a one-element CPU tensor) and reduces the lr if it has plateaued. */
  step(metric: number | Tensor, epoch?: number): void {
    const current = typeof metric === "number" ? metric : Number(metric.itemSync());
    this.lastEpoch = epoch ?? this.lastEpoch + 1;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs in cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      this.reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  private reduceLr(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const next = Math.max(g.lr * this.factor, this.minLrs[i]!);
      if (g.lr - next > this.eps) g.lr = next;
    });
  }

  private isBetter(a: number, best: number): boolean {
    const { mode, thresholdMode: tm, threshold: th } = this;
    if (mode === "min" && tm === "rel") return a < best * (1 - th);
    if (mode === "min") return a < best - th;
    if (tm === "rel") return a > best * (th + 1);
    return a > best + th;
  }

  private worst(): number {
    return this.mode === "min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {};
    for (const [k, v] of Object.entries(this)) if (k !== "optimizer") out[k] = structuredClone(v);
    return out;
  }

  loadStateDict(sd: SchedulerStateDict): void {
    Object.assign(this, structuredClone(sd));
  }
}
