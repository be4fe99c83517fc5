import { ArgumentError } from "../../errors.js";
import type { Optimizer, OptimizerOptions, ParamGroup } from "../optimizer.js";

/** Any optimizer, as a scheduler sees it: groups with an lr. */
export type AnyOptimizer = Optimizer<OptimizerOptions>;

/** A scheduler's state: its plain fields (epoch, base lrs, counters…). */
export type SchedulerStateDict = Record<string, unknown>;

/**
 * The base of the epoch-driven schedulers (torch.optim.lr_scheduler's
 * _LRScheduler). Call step() after optimizer.step(); each step sets every
 * group's lr from getLr(), or from the closed form when an epoch is given.
 *
 * A subclass sets its own fields and then calls init(), because PyTorch's
 * constructor takes its first step (epoch 0) through the subclass's rule.
 */
export abstract class LRScheduler {
  /** The base lr of each group: its initialLr. */
  baseLrs: number[] = [];
  /** The epoch of the last step(); 0 right after construction. */
  lastEpoch: number;
  protected stepCount = 0;
  protected lastLr: number[] = [];

  constructor(
    readonly optimizer: AnyOptimizer,
    lastEpoch = -1,
  ) {
    this.lastEpoch = lastEpoch;
  }

  /** The lrs for lastEpoch, from the groups' current lrs (the recursive form). */
  protected abstract getLr(): number[];

  /** The lrs for lastEpoch from the base lrs, where the schedule has one (used by step(epoch)). */
  protected closedFormLr(): number[] | null {
    return null;
  }

  /** PyTorch's base constructor: record initialLr, then take the first step. */
  protected init(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      if (this.lastEpoch === -1) g.initialLr ??= g.lr;
      else if (g.initialLr === undefined) {
        throw new ArgumentError(
          `${this.constructor.name}: initialLr is not set in paramGroups[${i}] when resuming (lastEpoch ${this.lastEpoch})`,
        );
      }
    });
    this.baseLrs = this.optimizer.paramGroups.map((g) => g.initialLr!);
    this.initialStep();
  }

  /** Resets the step count and steps once (SequentialLR restarts its first scheduler this way). */
  initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Advances one epoch (or jumps to `epoch`) and sets the groups' lrs. */
  step(epoch?: number): void {
    this.stepCount++;
    let lrs: number[];
    if (epoch === undefined) {
      this.lastEpoch++;
      lrs = this.getLr();
    } else {
      this.lastEpoch = epoch;
      lrs = this.closedFormLr() ?? this.getLr();
    }
    this.groups.forEach((g, i) => {
      g.lr = lrs[i]!;
    });
    this.lastLr = this.groups.map((g) => g.lr);
  }

  /** The lrs the last step set, one per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  protected get groups(): ParamGroup[] {
    return this.optimizer.paramGroups;
  }

  /** Fields left out of the state dict (the optimizer, functions). */
  protected stateExcludes(): string[] {
    return ["optimizer"];
  }

  /** Every field but the optimizer, copied (PyTorch's scheduler.state_dict()). */
  stateDict(): SchedulerStateDict {
    const skip = new Set(this.stateExcludes());
    const out: SchedulerStateDict = {};
    for (const [k, v] of Object.entries(this)) {
      if (!skip.has(k) && typeof v !== "function") out[k] = structuredClone(v);
    }
    return out;
  }

  loadStateDict(sd: SchedulerStateDict): void {
    Object.assign(this, structuredClone(sd));
  }
}

/** Python's a % b, which takes the sign of b. */
export function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** How many sorted values are <= x (Python's bisect_right). */
export function bisectRight(sorted: readonly number[], x: number): number {
  let n = 0;
  while (n < sorted.length && sorted[n]! <= x) n++;
  return n;
}
