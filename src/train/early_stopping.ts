import { ArgumentError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";

/** Anything with a state dict of tensors: an nn.Module, or a model of one's own. */
export interface Checkpointable {
  stateDict(): Record<string, Tensor>;
  loadStateDict(sd: Record<string, Tensor>): unknown;
}

export interface EarlyStoppingOptions {
  /** Stop after this many epochs in a row without improvement. Default 5. */
  patience?: number;
  /** The least change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** "min": lower is better (a loss); "max": higher (an accuracy). */
  mode?: "min" | "max";
  /** Keep a copy of the best model's weights, for restoreBest(). Default true. */
  restoreBestWeights?: boolean;
}

/**
 * Stops training when a validation metric has not improved for `patience`
 * epochs, and keeps the weights of the best epoch (Keras' EarlyStopping, in
 * flint's terms).
 *
 * @example
 * const stopper = new fl.EarlyStopping({ patience: 3 });
 * for (let epoch = 0; ; epoch++) {
 *   train(model);
 *   if (stopper.step(validate(model), model)) break;
 * }
 * stopper.restoreBest(model);
 */
export class EarlyStopping {
  readonly patience: number;
  readonly minDelta: number;
  readonly mode: "min" | "max";
  readonly restoreBestWeights: boolean;
  /** The best metric so far (null before the first step). */
  bestScore: number | null = null;
  /** The epoch (0-based count of step calls) of the best metric; -1 before the first. */
  bestEpoch = -1;
  /** Epochs since the last improvement. */
  counter = 0;
  /** How many times step() has been called. */
  epoch = 0;
  /** Whether step() has asked to stop. */
  shouldStop = false;
  private bestState: Record<string, Tensor> | null = null;

  constructor(opts: EarlyStoppingOptions = {}) {
    this.patience = opts.patience ?? 5;
    this.minDelta = opts.minDelta ?? 0;
    this.mode = opts.mode ?? "min";
    this.restoreBestWeights = opts.restoreBestWeights ?? true;
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) {
      throw new ArgumentError(
        `EarlyStopping: patience should be a non-negative integer, got ${this.patience}`,
      );
    }
    if (!(this.minDelta >= 0))
      throw new ArgumentError(`EarlyStopping: minDelta should be >= 0, got ${this.minDelta}`);
    if (this.mode !== "min" && this.mode !== "max") {
      throw new ArgumentError(
        `EarlyStopping: mode should be "min" or "max", got ${String(this.mode)}`,
      );
    }
  }

  /**
   * Records one epoch's metric (a number or a one-element CPU tensor);
   * returns true when training should stop (also at once on a NaN
   * metric). With a model, the weights of the best epoch so far are copied.
   */
  step(metric: number | Tensor, model?: Checkpointable): boolean {
    const value = typeof metric === "number" ? metric : Number(metric.itemSync());
    const epoch = this.epoch++;
    // A NaN metric means training diverged: waiting will not help.
    if (Number.isNaN(value)) {
      this.counter++;
      this.shouldStop = true;
      return true;
    }
    if (this.improves(value)) {
      this.bestScore = value;
      this.bestEpoch = epoch;
      this.counter = 0;
      this.shouldStop = false;
      if (model && this.restoreBestWeights) this.bestState = copyState(model.stateDict());
    } else {
      this.counter++;
      this.shouldStop = this.counter >= this.patience;
    }
    return this.shouldStop;
  }

  /** Loads the best epoch's weights back into the model; returns false if none were kept. */
  restoreBest(model: Checkpointable): boolean {
    if (this.bestState === null) return false;
    model.loadStateDict(copyState(this.bestState));
    return true;
  }

  /** The best epoch's weights (copies), or null. */
  bestStateDict(): Record<string, Tensor> | null {
    return this.bestState && copyState(this.bestState);
  }

  private improves(value: number): boolean {
    if (this.bestScore === null) return true;
    return this.mode === "min"
      ? value < this.bestScore - this.minDelta
      : value > this.bestScore + this.minDelta;
  }
}

/** A deep copy: later in-place updates of the model must not reach it. */
function copyState(sd: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(sd)) out[k] = v.detach().clone();
  return out;
}
