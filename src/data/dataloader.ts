// torch.utils.data.DataLoader: batches of a data set, in sampler order.
import { ArgumentError } from "../errors.js";
import { defaultGenerator, type Generator } from "../random.js";
import { type Collated, defaultCollate } from "./collate.js";
import { type DatasetLike, hasGetBatch, itemAt } from "./dataset.js";
import { BatchSampler, RandomSampler, SequentialSampler, type Sized } from "./sampler.js";

export interface DataLoaderOptions<T, B> {
  /** Items per batch (default 1). */
  batchSize?: number;
  /** A new random order every epoch (default false). */
  shuffle?: boolean;
  /** The index order; excludes `shuffle`. */
  sampler?: Iterable<number> & Sized;
  /** Yields whole batches of indices; excludes batchSize, shuffle, sampler and dropLast. */
  batchSampler?: Iterable<number[]> & Sized;
  /** Drop the last batch when it is short (default false). */
  dropLast?: boolean;
  /** Turns a list of items into a batch (default: defaultCollate). */
  collateFn?: (items: T[]) => B;
  /** The random stream for shuffling (default: the global one). */
  generator?: Generator;
}

/**
 * Iterates over a data set in batches, like PyTorch's DataLoader. Each
 * `for … of` is one epoch; with `shuffle` every epoch has a new order,
 * reproducible from the generator's seed (and equal to PyTorch's for the
 * same seed). `length` is the number of batches.
 *
 * When the data set has `getBatch` (TensorDataset, and Subsets of it, as
 * randomSplit returns) and no collateFn is given, each batch is built with
 * one indexSelect per tensor instead of stacking rows one by one.
 *
 * @example
 * const ds = new fl.data.TensorDataset(x, y);
 * const loader = new fl.data.DataLoader(ds, { batchSize: 64, shuffle: true });
 * for (const [xb, yb] of loader) {
 *   // xb: [64, ...x.shape.slice(1)], yb: [64]
 * }
 */
export class DataLoader<T, B = Collated<T>> implements Iterable<B>, AsyncIterable<B> {
  readonly batchSize: number | null;
  readonly dropLast: boolean;
  readonly sampler: Iterable<number> & Sized;
  readonly batchSampler: Iterable<number[]> & Sized;
  readonly generator: Generator | undefined;
  private readonly collateFn: ((items: T[]) => B) | undefined;

  constructor(
    readonly dataset: DatasetLike<T>,
    opts: DataLoaderOptions<T, B> = {},
  ) {
    const { shuffle = false, dropLast = false } = opts;
    if (opts.sampler && shuffle) {
      throw new ArgumentError("DataLoader: sampler option is mutually exclusive with shuffle");
    }
    if (opts.batchSampler) {
      if (
        (opts.batchSize !== undefined && opts.batchSize !== 1) ||
        shuffle ||
        opts.sampler ||
        dropLast
      ) {
        throw new ArgumentError(
          "DataLoader: batchSampler option is mutually exclusive with batchSize, shuffle, sampler, and dropLast",
        );
      }
    }
    const batchSize = opts.batchSampler ? null : (opts.batchSize ?? 1);
    if (batchSize !== null && !(Number.isInteger(batchSize) && batchSize > 0)) {
      throw new ArgumentError(
        `DataLoader: batchSize should be a positive integer, got ${batchSize}`,
      );
    }
    this.generator = opts.generator;
    this.sampler =
      opts.sampler ??
      (shuffle
        ? new RandomSampler(dataset, { generator: opts.generator })
        : new SequentialSampler(dataset));
    this.batchSampler = opts.batchSampler ?? new BatchSampler(this.sampler, batchSize!, dropLast);
    this.batchSize = batchSize;
    this.dropLast = dropLast;
    this.collateFn = opts.collateFn;
  }

  /** The number of batches in one epoch. */
  get length(): number {
    return this.batchSampler.length;
  }

  len(): number {
    return this.length;
  }

  *[Symbol.iterator](): Iterator<B> {
    // PyTorch draws a 64-bit base seed (for worker processes) when an epoch
    // starts; drawing it too keeps the random stream in step with PyTorch.
    const gen = this.generator ?? defaultGenerator;
    gen.random();
    gen.random();
    for (const indices of this.batchSampler) yield this.fetch(indices);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<B> {
    for (const batch of this) yield batch;
  }

  /** One batch: the items at `indices`, collated. */
  private fetch(indices: readonly number[]): B {
    if (!this.collateFn && hasGetBatch(this.dataset)) return this.dataset.getBatch(indices) as B;
    const items = indices.map((i) => itemAt(this.dataset, i));
    return this.collateFn ? this.collateFn(items) : (defaultCollate(items) as B);
  }
}
