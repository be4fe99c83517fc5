import type { DType, TypedArray } from "../../dtype.js";
import type { Storage, View } from "../backend.js";

/** CPU storage: a plain typed array, garbage-collected like any JS object. */
export class CpuStorage implements Storage {
  readonly device = "cpu";
  constructor(readonly data: TypedArray) {}
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
