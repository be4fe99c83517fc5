// Samplers (torch.utils.data.sampler): the order in which a DataLoader
// visits indices. Random ones draw from the same streams as PyTorch's, so
// with equal seeds they give PyTorch's order (WeightedRandomSampler without
// replacement excepted, see there).
import { ArgumentError } from "../errors.js";
import { defaultGenerator, Generator } from "../random.js";
import { randint, randperm } from "../tensor/creation.js";
import type { Tensor } from "../tensor/tensor.js";

/** Anything with a length: a Dataset, an array. */
export interface Sized {
  readonly length: number;
}

/** Yields indices (or, for BatchSampler, arrays of them). */
export abstract class Sampler<T = number> implements Iterable<T> {
  abstract [Symbol.iterator](): Iterator<T>;
  abstract get length(): number;

  len(): number {
    return this.length;
  }
}

/**
 * 0, 1, …, n-1 in order.
 *
 * @example
 * [...new fl.data.SequentialSampler([10, 20, 30])]; // [0, 1, 2]
 */
export class SequentialSampler extends Sampler {
  constructor(readonly dataSource: Sized) {
    super();
  }

  get length(): number {
    return this.dataSource.length;
  }

  *[Symbol.iterator](): Iterator<number> {
    for (let i = 0; i < this.dataSource.length; i++) yield i;
  }
}

export interface RandomSamplerOptions {
  /** Draw with replacement (default false). */
  replacement?: boolean;
  /** How many indices to draw (default: the data set's length). */
  numSamples?: number;
  generator?: Generator;
}

/**
 * A random permutation of the indices each time it is iterated, or
 * `numSamples` draws with replacement.
 *
 * @example
 * const s = new fl.data.RandomSampler(ds, { generator: new fl.Generator().manualSeed(0) });
 * [...s]; // a permutation of 0..ds.length-1
 */
export class RandomSampler extends Sampler {
  readonly replacement: boolean;
  readonly generator: Generator | undefined;
  private readonly requested: number | undefined;

  constructor(
    readonly dataSource: Sized,
    opts: RandomSamplerOptions = {},
  ) {
    super();
    this.replacement = opts.replacement ?? false;
    this.generator = opts.generator;
    this.requested = opts.numSamples;
    if (
      opts.numSamples !== undefined &&
      !(Number.isInteger(opts.numSamples) && opts.numSamples > 0)
    ) {
      throw new ArgumentError(
        `RandomSampler: numSamples should be a positive integer, got ${opts.numSamples}`,
      );
    }
  }

  get numSamples(): number {
    return this.requested ?? this.dataSource.length;
  }

  get length(): number {
    return this.numSamples;
  }

  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataSource.length;
    // Without a generator PyTorch seeds a fresh one from a 64-bit draw of the
    // default generator; mt19937 keeps the seed's low 32 bits, the second draw.
    let gen = this.generator;
    if (!gen) {
      defaultGenerator.random();
      gen = new Generator(defaultGenerator.random());
    }
    const total = this.numSamples;
    if (n === 0) return;
    if (this.replacement) {
      // In blocks of 32, as PyTorch draws them.
      for (let done = 0; done < total; done += 32) {
        yield* ints(randint(0, n, [Math.min(32, total - done)], { generator: gen }));
      }
      return;
    }
    for (let k = 0; k < Math.floor(total / n); k++) yield* ints(randperm(n, { generator: gen }));
    // PyTorch draws this last permutation even when it keeps none of it.
    yield* ints(randperm(n, { generator: gen })).slice(0, total % n);
  }
}

/**
 * The given indices in a random order, drawn anew each iteration.
 *
 * @example
 * const s = new fl.data.SubsetRandomSampler([0, 2, 4, 6]);
 */
export class SubsetRandomSampler extends Sampler {
  constructor(
    readonly indices: readonly number[],
    readonly opts: { generator?: Generator } = {},
  ) {
    super();
  }

  get length(): number {
    return this.indices.length;
  }

  *[Symbol.iterator](): Iterator<number> {
    for (const i of ints(randperm(this.indices.length, { generator: this.opts.generator })))
      yield this.indices[i]!;
  }
}

/**
 * `numSamples` indices drawn with probability proportional to `weights`.
 * With replacement (the default) the draws match PyTorch's multinomial for
 * the same seed; without replacement flint uses exponential keys
 * (Efraimidis–Spirakis), which has the same distribution but not
 * PyTorch's exact stream.
 *
 * @example
 * // oversample the rare class 1
 * const s = new fl.data.WeightedRandomSampler([0.1, 0.1, 0.9], 30);
 */
export class WeightedRandomSampler extends Sampler {
  readonly weights: Float64Array;
  readonly replacement: boolean;

  constructor(
    weights: readonly number[] | Tensor,
    readonly numSamples: number,
    readonly opts: { replacement?: boolean; generator?: Generator } = {},
  ) {
    super();
    this.weights = Float64Array.from(
      Array.isArray(weights) ? weights : (weights as Tensor).dataSync(),
    );
    this.replacement = opts.replacement ?? true;
    if (!(Number.isInteger(numSamples) && numSamples > 0)) {
      throw new ArgumentError(
        `WeightedRandomSampler: numSamples should be a positive integer, got ${numSamples}`,
      );
    }
    if (this.weights.some((w) => !(w >= 0) || !Number.isFinite(w))) {
      throw new ArgumentError("WeightedRandomSampler: weights must be finite and non-negative");
    }
    const positive = this.weights.filter((w) => w > 0).length;
    if (positive === 0) throw new ArgumentError("WeightedRandomSampler: the weights sum to zero");
    if (!this.replacement && numSamples > positive) {
      throw new ArgumentError(
        `WeightedRandomSampler: cannot draw ${numSamples} samples without replacement from ${positive} non-zero weights`,
      );
    }
  }

  get length(): number {
    return this.numSamples;
  }

  *[Symbol.iterator](): Iterator<number> {
    const gen = this.opts.generator ?? defaultGenerator;
    const w = this.weights;
    if (this.replacement) {
      // Normalised running sums, then a binary search per 53-bit uniform draw.
      const cdf = new Float64Array(w.length);
      let sum = 0;
      for (let i = 0; i < w.length; i++) cdf[i] = sum += w[i]!;
      for (let i = 0; i < w.length; i++) cdf[i]! /= sum;
      const out: number[] = [];
      for (let k = 0; k < this.numSamples; k++) {
        const u = gen.uniform53();
        let lo = 0;
        let hi = w.length;
        while (hi > lo) {
          const mid = lo + ((hi - lo) >> 1);
          if (cdf[mid]! < u) lo = mid + 1;
          else hi = mid;
        }
        out.push(lo);
      }
      yield* out;
      return;
    }
    // Key each index by w / Exp(1) and keep the largest keys.
    const keys = Array.from(w, (wi, i) => ({
      i,
      key: wi > 0 ? wi / -Math.log1p(-gen.uniform53()) : -1,
    }));
    keys.sort((a, b) => b.key - a.key);
    yield* keys.slice(0, this.numSamples).map((k) => k.i);
  }
}

/**
 * Groups another sampler's indices into arrays of `batchSize`; the last
 * shorter one is kept unless `dropLast`.
 *
 * @example
 * [...new fl.data.BatchSampler(new fl.data.SequentialSampler([1, 2, 3, 4, 5]), 2, false)];
 * // [[0, 1], [2, 3], [4]]
 */
export class BatchSampler extends Sampler<number[]> {
  constructor(
    readonly sampler: Iterable<number> & Sized,
    readonly batchSize: number,
    readonly dropLast: boolean,
  ) {
    super();
    if (!(Number.isInteger(batchSize) && batchSize > 0)) {
      throw new ArgumentError(
        `BatchSampler: batchSize should be a positive integer, got ${batchSize}`,
      );
    }
  }

  get length(): number {
    const n = this.sampler.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  *[Symbol.iterator](): Iterator<number[]> {
    let batch: number[] = [];
    for (const i of this.sampler) {
      batch.push(i);
      if (batch.length === this.batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield batch;
  }
}

function ints(t: Tensor): number[] {
  return Array.from(t.dataSync());
}
