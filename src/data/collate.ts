// default_collate: a list of items → one batch, by the items' structure.
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import { stack } from "../ops/join.js";
import { tensor } from "../tensor/creation.js";
import { Tensor } from "../tensor/tensor.js";

/** The batch type the default collate builds from items of type T. */
export type Collated<T> = T extends Tensor
  ? Tensor
  : T extends number | boolean
    ? Tensor
    : T extends string
      ? string[]
      : T extends readonly unknown[]
        ? { -readonly [K in keyof T]: Collated<T[K]> }
        : T extends object
          ? { [K in keyof T]: Collated<T[K]> }
          : T[];

/**
 * Puts a list of items together into one batch, like PyTorch's
 * default_collate:
 * - tensors are stacked along a new first dimension (fl.stack);
 * - numbers become a 1-d tensor: int32 when every number in the batch is
 *   an integer (class labels, indices), float32 otherwise (JavaScript cannot
 *   tell 1 from 1.0, so a float feature that happens to be whole in every
 *   item of a batch also comes out int32: store such features as tensors);
 * - booleans become a bool tensor; strings stay a list of strings;
 * - arrays (tuples) are collated position by position and objects key by
 *   key, recursively.
 *
 * @example
 * fl.data.defaultCollate([[fl.ones([2]), 0], [fl.zeros([2]), 1]]);
 * // [tensor [2,2] float32, tensor([0, 1]) int32]
 */
export function defaultCollate<T>(batch: readonly T[]): Collated<T> {
  return collate(batch as readonly unknown[]) as Collated<T>;
}

function collate(batch: readonly unknown[]): unknown {
  if (batch.length === 0) throw new ArgumentError("defaultCollate: the batch is empty");
  const first = batch[0];
  if (first instanceof Tensor) {
    for (const [k, t] of batch.entries()) {
      if (!(t instanceof Tensor)) throw mixed(0, first, k, t);
    }
    return stack(batch as Tensor[], 0);
  }
  if (typeof first === "number") {
    const values = batch.map((v, k) => {
      if (typeof v !== "number") throw mixed(0, first, k, v);
      return v;
    });
    return tensor(values, { dtype: values.every(Number.isInteger) ? "int32" : "float32" });
  }
  if (typeof first === "boolean") {
    return tensor(
      batch.map((v, k) => {
        if (typeof v !== "boolean") throw mixed(0, first, k, v);
        return v;
      }),
      { dtype: "bool" },
    );
  }
  if (typeof first === "string") return [...batch];
  if (Array.isArray(first)) {
    const size = first.length;
    for (const [k, item] of batch.entries()) {
      if (!Array.isArray(item)) throw mixed(0, first, k, item);
      if (item.length !== size) {
        throw new ShapeError(
          `defaultCollate: each item in the batch should be of equal size, got ${size} at entry 0 and ${item.length} at entry ${k}`,
        );
      }
    }
    return first.map((_, j) => collate(batch.map((item) => (item as unknown[])[j])));
  }
  if (
    first !== null &&
    typeof first === "object" &&
    Object.getPrototypeOf(first) === Object.prototype
  ) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(first)) {
      out[key] = collate(
        batch.map((item, k) => {
          if (item === null || typeof item !== "object" || !(key in item)) {
            throw new ArgumentError(`defaultCollate: entry ${k} of the batch has no key "${key}"`);
          }
          return (item as Record<string, unknown>)[key];
        }),
      );
    }
    return out;
  }
  // Anything else (null, class instances…) is passed through as a list, as PyTorch does.
  return [...batch];
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return `a tensor of shape ${fmtShape(v.shape)}`;
  if (Array.isArray(v)) return "an array";
  return v === null ? "null" : `a ${typeof v}`;
}

function mixed(i: number, a: unknown, k: number, b: unknown): ArgumentError {
  return new ArgumentError(
    `defaultCollate: items of different kinds in one batch: ${describe(a)} at entry ${i} and ${describe(b)} at entry ${k}`,
  );
}
