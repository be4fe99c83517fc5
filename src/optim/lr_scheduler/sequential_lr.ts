import { ArgumentError } from "../../errors.js";
import {
  type AnyOptimizer,
  bisectRight,
  LRScheduler,
  type SchedulerStateDict,
} from "./scheduler.js";

/**
 * Runs schedulers one after another, switching at each milestone epoch
 * (torch's SequentialLR), e.g. a linear warm-up then cosine decay. The
 * schedulers must share the optimizer; a scheduler that takes over starts
 * from its epoch 0.
 *
 * @example
 * const warmup = new LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
 * const decay = new CosineAnnealingLR(opt, 95);
 * const sched = new SequentialLR(opt, [warmup, decay], { milestones: [5] });
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  readonly milestones: number[];

  constructor(
    optimizer: AnyOptimizer,
    schedulers: readonly LRScheduler[],
    opts: { milestones: readonly number[]; lastEpoch?: number },
  ) {
    super(optimizer, (opts.lastEpoch ?? -1) + 1);
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) {
        throw new ArgumentError(
          `SequentialLR: scheduler ${i} belongs to a different optimizer than the one passed in`,
        );
      }
    });
    if (opts.milestones.length !== schedulers.length - 1) {
      throw new ArgumentError(
        `SequentialLR: expected one milestone fewer than schedulers, got ${schedulers.length} schedulers and ${opts.milestones.length} milestones`,
      );
    }
    this.schedulers = [...schedulers];
    this.milestones = [...opts.milestones];
    // Each scheduler stepped once when it was made: undo that, restore the base lrs, and restart only the first.
    for (const g of optimizer.paramGroups) g.lr = g.initialLr ?? g.lr;
    for (const s of this.schedulers) s.lastEpoch--;
    this.schedulers[0]!.initialStep();
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr ?? g.lr);
    this.lastLr = this.schedulers[0]!.getLastLr();
  }

  override step(): void {
    this.lastEpoch++;
    const i = bisectRight(this.milestones, this.lastEpoch);
    const s = this.schedulers[i]!;
    if (i > 0 && this.milestones[i - 1] === this.lastEpoch) s.step(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }

  protected getLr(): number[] {
    return this.groups.map((g) => g.lr);
  }

  protected override stateExcludes(): string[] {
    return ["optimizer", "schedulers"];
  }

  override stateDict(): SchedulerStateDict {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  override loadStateDict(sd: SchedulerStateDict): void {
    const { schedulers, ...rest } = sd;
    super.loadStateDict(rest);
    (schedulers as SchedulerStateDict[]).forEach((s, i) => {
      this.schedulers[i]!.loadStateDict(s);
    });
  }
}
