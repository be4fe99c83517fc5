import { ArgumentError, fmtShape, ShapeError } from "./errors.js";

export type Shape = number[];

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy/PyTorch broadcasting: align from the right, sizes equal or 1. */
export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  let ndim = 0;
  for (const s of shapes) ndim = Math.max(ndim, s.length);
  const out = new Array<number>(ndim).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = ndim - s.length + i;
      const d = s[i]!;
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else
        throw new ShapeError(
          `${op}: shapes ${shapes.map(fmtShape).join(" and ")} cannot be broadcast together ` +
            `(size ${out[o]} vs ${d} at dimension ${o})`,
        );
    }
  }
  return out;
}

/** Wraps a possibly negative dim into [0, ndim). */
export function normDim(op: string, dim: number, ndim: number): number {
  const n = Math.max(ndim, 1);
  if (!Number.isInteger(dim) || dim < -n || dim >= n) {
    throw new ArgumentError(
      `${op}: dimension ${dim} is out of range for a ${ndim}-d tensor (expected in [${-n}, ${n - 1}])`,
    );
  }
  return dim < 0 ? dim + n : dim;
}

/** Normalizes a dim argument (number, list or undefined = all) to sorted unique dims. */
export function normDims(
  op: string,
  dim: number | readonly number[] | undefined | null,
  ndim: number,
): number[] {
  if (dim === undefined || dim === null) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof dim === "number" ? [dim] : [...dim];
  const out = list.map((d) => normDim(op, d, ndim));
  const uniq = [...new Set(out)].sort((a, b) => a - b);
  if (uniq.length !== out.length)
    throw new ArgumentError(`${op}: dim ${fmtShape(list)} repeats a dimension`);
  return ndim === 0 ? [] : uniq;
}

/** Resolves one -1 in a target shape against a number of elements (view/reshape). */
export function inferShape(
  op: string,
  shape: readonly number[],
  size: number,
  from: readonly number[],
): number[] {
  let infer = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === -1) {
      if (infer >= 0)
        throw new ArgumentError(
          `${op}: only one dimension can be inferred (-1), got ${fmtShape(shape)}`,
        );
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new ArgumentError(`${op}: invalid size ${d} in shape ${fmtShape(shape)}`);
    } else known *= d;
  }
  const out = [...shape];
  if (infer >= 0) {
    if (known === 0 || size % known !== 0)
      throw new ShapeError(
        `${op}: shape ${fmtShape(shape)} is invalid for input of size ${size} (shape ${fmtShape(from)})`,
      );
    out[infer] = size / known;
  } else if (known !== size) {
    throw new ShapeError(
      `${op}: shape ${fmtShape(shape)} is invalid for input of size ${size} (shape ${fmtShape(from)})`,
    );
  }
  return out;
}

export function checkShape(op: string, shape: readonly number[]): number[] {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new ArgumentError(`${op}: sizes must be non-negative integers, got ${fmtShape(shape)}`);
  }
  return [...shape];
}
