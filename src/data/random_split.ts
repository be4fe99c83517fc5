// torch.utils.data.random_split: disjoint random subsets of given sizes.
import { ArgumentError } from "../errors.js";
import type { Generator } from "../random.js";
import { randperm } from "../tensor/creation.js";
import { type DatasetLike, lengthOf, Subset } from "./dataset.js";

/**
 * Splits `dataset` into disjoint random Subsets. `lengths` are item counts
 * summing to the data set's length, or fractions summing to 1: each
 * fraction is floored and the items left over go one each to the splits
 * in turn, from the first (PyTorch's rule). The order comes from
 * `randperm` with `generator` (the default one otherwise), so with the
 * same seed the splits equal PyTorch's.
 *
 * @example
 * const [train, val] = fl.data.randomSplit(ds, [0.8, 0.2], { generator: new fl.Generator().manualSeed(42) });
 */
export function randomSplit<T>(
  dataset: DatasetLike<T>,
  lengths: readonly number[],
  opts: { generator?: Generator } = {},
): Subset<T>[] {
  const n = lengthOf(dataset);
  const sizes = splitSizes(n, lengths);
  const order = Array.from(randperm(n, { generator: opts.generator }).dataSync());
  let offset = 0;
  return sizes.map((size) => {
    const part = new Subset(dataset, order.slice(offset, offset + size));
    offset += size;
    return part;
  });
}

function splitSizes(n: number, lengths: readonly number[]): number[] {
  const total = lengths.reduce((a, b) => a + b, 0);
  let sizes = [...lengths];
  if (Math.abs(total - 1) <= 1e-9 && total <= 1) {
    for (const f of lengths) {
      if (!(f >= 0 && f <= 1))
        throw new ArgumentError(`randomSplit: fraction ${f} is not between 0 and 1`);
    }
    sizes = lengths.map((f) => Math.floor(n * f));
    const remainder = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) sizes[i % sizes.length]! += 1;
  }
  for (const s of sizes) {
    if (!Number.isInteger(s) || s < 0) {
      throw new ArgumentError(
        `randomSplit: lengths must be non-negative integers or fractions summing to 1, got [${lengths.join(", ")}]`,
      );
    }
  }
  const sum = sizes.reduce((a, b) => a + b, 0);
  if (sum !== n) {
    throw new ArgumentError(
      `randomSplit: lengths [${lengths.join(", ")}] sum to ${sum}, but the data set has ${n} items`,
    );
  }
  return sizes;
}
