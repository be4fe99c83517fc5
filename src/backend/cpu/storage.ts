import type { DType, TypedArray } from "../../dtype.js";
import type { Storage, View } from "../backend.js";
import { noteWrapped } from "./array_pool.js";

/** CPU storage: a plain typed array, garbage-collected like any JS object. */
export class CpuStorage implements Storage {
  readonly device = "cpu";
  /**
   * How many tensors were ever made over this storage (views included):
   * the engine recycles a spent gradient's array only when it is 1.
   */
  tensors = 0;
  constructor(readonly data: TypedArray) {
    noteWrapped(data);
  }
  get size(): number {
    return this.data.length;
  }
}

export function dataOf(v: View): TypedArray {
  return (v.storage as CpuStorage).data;
}

export function wrap(data: TypedArray): CpuStorage {
  return new CpuStorage(data);
}

export function isContiguous(v: View): boolean {
  let expected = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    const d = v.shape[i]!;
    if (d !== 1 && v.strides[i] !== expected) return false;
    expected *= d;
  }
  return true;
}

export type { DType };
