import { ArgumentError } from "../../errors.js";
import type { ParamGroup } from "../optimizer.js";
import { type AnyOptimizer, LRScheduler } from "./scheduler.js";

export interface OneCycleLROptions {
  /** The peak lr, one for all groups or one per group. */
  maxLr?: number | number[];
  /** The length of the cycle in steps; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** The fraction of the cycle spent raising the lr. Default 0.3. */
  pctStart?: number;
  annealStrategy?: "cos" | "linear";
  /**
   * Move momentum (or Adam's beta1) opposite to the lr, between
   * baseMomentum and maxMomentum. Defaults to true when the optimizer has
   * momentum or betas.
   */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  /** initial lr = maxLr / divFactor. Default 25. */
  divFactor?: number;
  /** min lr = initial lr / finalDivFactor. Default 1e4. */
  finalDivFactor?: number;
  /** Three phases (up, down to the initial lr, down to the min lr) instead of two. */
  threePhase?: boolean;
  lastEpoch?: number;
}

interface Phase {
  endStep: number;
  startLr: string;
  endLr: string;
  startMomentum: string;
  endMomentum: string;
}

/**
 * The 1cycle policy (torch's OneCycleLR): the lr climbs from maxLr/divFactor
 * to maxLr over pctStart of the steps, then anneals to a far smaller
 * minimum; momentum moves the other way. Step it once per batch.
 *
 * @example
 * const sched = new fl.optim.lrScheduler.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 1000 });
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly annealStrategy: "cos" | "linear";
  readonly cycleMomentum: boolean;
  /** Whether momentum lives in betas[0] (Adam) rather than momentum (SGD). */
  readonly useBeta1: boolean;
  private readonly phases: Phase[];

  constructor(
    optimizer: AnyOptimizer,
    maxLr: number | number[] | OneCycleLROptions,
    options: OneCycleLROptions = {},
  ) {
    const opts = typeof maxLr === "object" && !Array.isArray(maxLr) ? maxLr : { ...options, maxLr };
    super(optimizer, opts.lastEpoch);
    if (opts.maxLr === undefined) throw new ArgumentError("OneCycleLR: maxLr is required");
    this.totalSteps = totalStepsOf(opts);
    const pct = opts.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1))
      throw new ArgumentError(`OneCycleLR: pctStart should be in [0, 1], got ${pct}`);
    const strategy = opts.annealStrategy ?? "cos";
    if (strategy !== "cos" && strategy !== "linear") {
      throw new ArgumentError(
        `OneCycleLR: annealStrategy should be "cos" or "linear", got ${String(strategy)}`,
      );
    }
    this.annealStrategy = strategy;
    const n = this.totalSteps;
    this.phases = opts.threePhase
      ? [
          {
            endStep: pct * n - 1,
            startLr: "initialLr",
            endLr: "maxLr",
            startMomentum: "maxMomentum",
            endMomentum: "baseMomentum",
          },
          {
            endStep: 2 * pct * n - 2,
            startLr: "maxLr",
            endLr: "initialLr",
            startMomentum: "baseMomentum",
            endMomentum: "maxMomentum",
          },
          {
            endStep: n - 1,
            startLr: "initialLr",
            endLr: "minLr",
            startMomentum: "maxMomentum",
            endMomentum: "maxMomentum",
          },
        ]
      : [
          {
            endStep: pct * n - 1,
            startLr: "initialLr",
            endLr: "maxLr",
            startMomentum: "maxMomentum",
            endMomentum: "baseMomentum",
          },
          {
            endStep: n - 1,
            startLr: "maxLr",
            endLr: "minLr",
            startMomentum: "baseMomentum",
            endMomentum: "maxMomentum",
          },
        ];

    const groups = optimizer.paramGroups;
    const maxLrs = perGroup("maxLr", opts.maxLr, groups.length);
    if (this.lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i]! / (opts.divFactor ?? 25);
        g.maxLr = maxLrs[i]!;
        g.minLr = g.initialLr / (opts.finalDivFactor ?? 1e4);
      });
    }

    const defaults = optimizer.defaults as unknown as Record<string, unknown>;
    const hasMomentum = "momentum" in defaults || "betas" in defaults;
    this.cycleMomentum = opts.cycleMomentum ?? hasMomentum;
    this.useBeta1 = "betas" in defaults;
    if (this.cycleMomentum) {
      if (!hasMomentum)
        throw new ArgumentError(
          "OneCycleLR: the optimizer has no momentum or betas to cycle; pass cycleMomentum: false",
        );
      const maxM = perGroup("maxMomentum", opts.maxMomentum ?? 0.95, groups.length);
      const baseM = perGroup("baseMomentum", opts.baseMomentum ?? 0.85, groups.length);
      if (this.lastEpoch === -1) {
        groups.forEach((g, i) => {
          this.setMomentum(g, maxM[i]!);
          g.maxMomentum = maxM[i]!;
          g.baseMomentum = baseM[i]!;
        });
      }
    }
    this.init();
  }

  protected getLr(): number[] {
    const t = this.lastEpoch;
    if (t > this.totalSteps) {
      throw new ArgumentError(
        `OneCycleLR: tried to step ${t} times; the specified number of total steps is ${this.totalSteps}`,
      );
    }
    return this.groups.map((g) => {
      let start = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i]!;
        if (t <= ph.endStep || i === this.phases.length - 1) {
          const pct = (t - start) / (ph.endStep - start);
          if (this.cycleMomentum)
            this.setMomentum(g, this.anneal(num(g, ph.startMomentum), num(g, ph.endMomentum), pct));
          return this.anneal(num(g, ph.startLr), num(g, ph.endLr), pct);
        }
        start = ph.endStep;
      }
      throw new Error("unreachable");
    });
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === "linear") return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }

  private setMomentum(g: ParamGroup, m: number): void {
    if (this.useBeta1) g.betas = [m, ...(g.betas as number[]).slice(1)];
    else g.momentum = m;
  }
}

function totalStepsOf(o: OneCycleLROptions): number {
  const posInt = (v: number | undefined) => v !== undefined && Number.isInteger(v) && v > 0;
  if (o.totalSteps !== undefined) {
    if (!posInt(o.totalSteps))
      throw new ArgumentError(
        `OneCycleLR: expected a positive integer totalSteps, got ${o.totalSteps}`,
      );
    return o.totalSteps;
  }
  if (o.epochs === undefined && o.stepsPerEpoch === undefined) {
    throw new ArgumentError("OneCycleLR: give either totalSteps or epochs and stepsPerEpoch");
  }
  if (!posInt(o.epochs))
    throw new ArgumentError(`OneCycleLR: expected a positive integer epochs, got ${o.epochs}`);
  if (!posInt(o.stepsPerEpoch))
    throw new ArgumentError(
      `OneCycleLR: expected a positive integer stepsPerEpoch, got ${o.stepsPerEpoch}`,
    );
  return o.epochs! * o.stepsPerEpoch!;
}

function perGroup(name: string, v: number | number[], n: number): number[] {
  if (!Array.isArray(v)) return Array.from({ length: n }, () => v);
  if (v.length !== n)
    throw new ArgumentError(
      `OneCycleLR: expected ${n} values of ${name} (one per group), got ${v.length}`,
    );
  return [...v];
}

function num(g: ParamGroup, key: string): number {
  return g[key] as number;
}
