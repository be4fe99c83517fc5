// Map-style data sets (torch.utils.data.Dataset and friends): anything with
// a length and an item at each index. Browser-safe: no file access here.
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import { tensor } from "../tensor/creation.js";
import type { Tensor } from "../tensor/tensor.js";

/**
 * A map-style data set: `length` items, read with `getItem(i)`.
 * Subclasses implement both; `len()` is PyTorch's `len(dataset)`.
 *
 * A subclass may also implement `getBatch(indices)`, returning the batch
 * exactly as the default collate would build it from those items; the
 * DataLoader then calls it once per batch instead of `getItem` per item
 * (TensorDataset does this with one indexSelect per tensor).
 *
 * @example
 * class Squares extends fl.data.Dataset<[number, number]> {
 *   get length() { return 10; }
 *   getItem(i: number): [number, number] { return [i, i * i]; }
 * }
 * new Squares().getItem(3); // [3, 9]
 */
export abstract class Dataset<T> {
  abstract get length(): number;
  abstract getItem(index: number): T;

  /** The number of items, as Python's len(dataset). */
  len(): number {
    return this.length;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.length; i++) yield this.getItem(i);
  }
}

/** A Dataset, or a plain array used as one (PyTorch accepts any sequence). */
export type DatasetLike<T> = Dataset<T> | readonly T[];

export function lengthOf(dataset: DatasetLike<unknown>): number {
  return dataset.length;
}

export function itemAt<T>(dataset: DatasetLike<T>, index: number): T {
  if (dataset instanceof Dataset) return dataset.getItem(index);
  return dataset[checkIndex("getItem", index, dataset.length)] as T;
}

/** A batch-capable data set: see Dataset.getBatch. */
export interface BatchGetter {
  getBatch(indices: readonly number[]): unknown;
}

export function hasGetBatch(dataset: unknown): dataset is BatchGetter {
  return typeof (dataset as Partial<BatchGetter>)?.getBatch === "function";
}

/** Resolves a possibly negative index, as Python sequences do, or throws. */
export function checkIndex(op: string, index: number, length: number): number {
  if (!Number.isInteger(index))
    throw new ArgumentError(`${op}: index must be an integer, got ${index}`);
  const i = index < 0 ? index + length : index;
  if (i < 0 || i >= length) {
    throw new ArgumentError(
      `${op}: index ${index} is out of range for a data set of length ${length}`,
    );
  }
  return i;
}

/**
 * Wraps tensors that share their first dimension; item i is the array of
 * their i-th rows.
 *
 * @example
 * const ds = new fl.data.TensorDataset(fl.randn([100, 4]), fl.randint(0, 3, [100]));
 * const [x, y] = ds.getItem(0); // x: [4], y: []
 */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: Tensor[];

  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0)
      throw new ArgumentError("TensorDataset: expected at least one tensor");
    const sizes = tensors.map((t) => (t.ndim === 0 ? Number.NaN : t.shape[0]!));
    if (sizes.some((s) => s !== sizes[0])) {
      const shapes = tensors.map((t) => fmtShape(t.shape)).join(", ");
      throw new ShapeError(
        `TensorDataset: size mismatch between tensors, first dimensions ${sizes.join(", ")} (shapes ${shapes})`,
      );
    }
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0]!.shape[0]!;
  }

  getItem(index: number): Tensor[] {
    const i = checkIndex("TensorDataset.getItem", index, this.length);
    return this.tensors.map((t) => t.select(0, i));
  }

  /** Rows `indices` of every tensor, one indexSelect each (same result as stacking the items). */
  getBatch(indices: readonly number[]): Tensor[] {
    const idx = tensor(
      Int32Array.from(indices, (i) => checkIndex("TensorDataset.getBatch", i, this.length)),
    );
    return this.tensors.map((t) => t.indexSelect(0, idx));
  }
}

/**
 * The items of `dataset` at `indices`, in that order.
 *
 * @example
 * const firstTen = new fl.data.Subset(ds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 */
export class Subset<T> extends Dataset<T> {
  readonly indices: readonly number[];

  constructor(
    readonly dataset: DatasetLike<T>,
    indices: readonly number[],
  ) {
    super();
    const n = lengthOf(dataset);
    for (const i of indices) checkIndex("Subset", i, n);
    this.indices = [...indices];
    const inner = dataset;
    if (hasGetBatch(inner)) {
      this.getBatch = (batch) =>
        inner.getBatch(
          batch.map((i) => this.indices[checkIndex("Subset.getBatch", i, this.length)]!),
        );
    }
  }

  get length(): number {
    return this.indices.length;
  }

  getItem(index: number): T {
    return itemAt(this.dataset, this.indices[checkIndex("Subset.getItem", index, this.length)]!);
  }

  /** Present only when the underlying data set has getBatch (so the DataLoader's fast path carries through). */
  getBatch?: (indices: readonly number[]) => unknown;
}

/**
 * Several data sets one after another.
 *
 * @example
 * const both = new fl.data.ConcatDataset([trainA, trainB]);
 * both.length === trainA.length + trainB.length;
 */
export class ConcatDataset<T> extends Dataset<T> {
  readonly datasets: readonly DatasetLike<T>[];
  /** Running totals of the lengths, as PyTorch's cumulative_sizes. */
  readonly cumulativeSizes: readonly number[];

  constructor(datasets: readonly DatasetLike<T>[]) {
    super();
    if (datasets.length === 0)
      throw new ArgumentError("ConcatDataset: datasets should not be an empty list");
    this.datasets = [...datasets];
    let total = 0;
    this.cumulativeSizes = this.datasets.map((d) => (total += lengthOf(d)));
  }

  get length(): number {
    return this.cumulativeSizes[this.cumulativeSizes.length - 1]!;
  }

  getItem(index: number): T {
    const i = checkIndex("ConcatDataset.getItem", index, this.length);
    // Binary search for the first data set whose running total exceeds i.
    let lo = 0;
    let hi = this.cumulativeSizes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulativeSizes[mid]! > i) hi = mid;
      else lo = mid + 1;
    }
    const start = lo === 0 ? 0 : this.cumulativeSizes[lo - 1]!;
    return itemAt(this.datasets[lo]!, i - start);
  }
}
