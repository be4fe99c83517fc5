import type { DType, TypedArray } from "../../dtype.js";
import type { BinaryOp, View } from "../backend.js";

// Strided and broadcast float32 binary ops (tensor ∘ scalar, x + bias
// rows, transposed views) in loops that only ever see Float32Array
// operands, so V8 keeps their element accesses monomorphic: elementwise.ts's
// binaryRow sees every dtype and runs ~2–3× slower on the same rows. Each
// element is the same double operation rounded by the same store, so the
// bits are binaryRow's.

let enabled = true;

/**
 * Switches these loops off (or back on), so tests and benchmarks can
 * compare them with binaryRow; returns the old setting.
 */
export function setBinaryF32Rows(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

const ARITH = new Set<BinaryOp>(["add", "sub", "mul", "div", "maximum", "minimum"]);
const COMPARE = new Set<BinaryOp>(["gt", "lt", "ge", "le", "eq", "ne"]);

/**
 * The row function for op on float32 operands into `out` (float32 for
 * arithmetic, the bool Uint8Array for comparisons), or null where binaryRow
 * keeps the work (other ops, other output arrays, switched off).
 */
export function f32RowFor(
  op: BinaryOp,
  out: unknown,
):
  | ((
      out: never,
      k: number,
      a: Float32Array,
      pa: number,
      sa: number,
      b: Float32Array,
      pb: number,
      sb: number,
      n: number,
      op: BinaryOp,
    ) => void)
  | null {
  if (!enabled) return null;
  if (out instanceof Float32Array && ARITH.has(op)) return arithRow as never;
  if (out instanceof Uint8Array && COMPARE.has(op)) return compareRow as never;
  return null;
}

/** out[k + i] = a[pa + i·sa] op b[pb + i·sb] for i < n; a stride-0 operand is read once. */
function arithRow(
  out: Float32Array,
  k: number,
  a: Float32Array,
  pa: number,
  sa: number,
  b: Float32Array,
  pb: number,
  sb: number,
  n: number,
  op: BinaryOp,
): void {
  const end = k + n;
  if (sb === 0) {
    // tensor ∘ scalar (and a column broadcast over a row)
    const y = b[pb]!;
    switch (op) {
      case "add":
        for (; k < end; k++, pa += sa) out[k] = a[pa]! + y;
        return;
      case "sub":
        for (; k < end; k++, pa += sa) out[k] = a[pa]! - y;
        return;
      case "mul":
        for (; k < end; k++, pa += sa) out[k] = a[pa]! * y;
        return;
      case "div":
        for (; k < end; k++, pa += sa) out[k] = a[pa]! / y;
        return;
    }
  }
  switch (op) {
    case "add":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = a[pa]! + b[pb]!;
      return;
    case "sub":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = a[pa]! - b[pb]!;
      return;
    case "mul":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = a[pa]! * b[pb]!;
      return;
    case "div":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = a[pa]! / b[pb]!;
      return;
    // PyTorch's maximum/minimum propagate NaN (as BINARY's).
    case "maximum":
      for (; k < end; k++, pa += sa, pb += sb) {
        const x = a[pa]!;
        const y = b[pb]!;
        out[k] = x !== x || y !== y ? Number.NaN : x > y ? x : y;
      }
      return;
    case "minimum":
      for (; k < end; k++, pa += sa, pb += sb) {
        const x = a[pa]!;
        const y = b[pb]!;
        out[k] = x !== x || y !== y ? Number.NaN : x < y ? x : y;
      }
      return;
  }
}

/** out[k + i] = +(a[pa + i·sa] op b[pb + i·sb]) for i < n, branch-free (see binaryRow). */
function compareRow(
  out: Uint8Array,
  k: number,
  a: Float32Array,
  pa: number,
  sa: number,
  b: Float32Array,
  pb: number,
  sb: number,
  n: number,
  op: BinaryOp,
): void {
  const end = k + n;
  switch (op) {
    case "gt":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(a[pa]! > b[pb]!);
      return;
    case "lt":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(a[pa]! < b[pb]!);
      return;
    case "ge":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(a[pa]! >= b[pb]!);
      return;
    case "le":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(a[pa]! <= b[pb]!);
      return;
    case "eq":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(a[pa]! === b[pb]!);
      return;
    case "ne":
      for (; k < end; k++, pa += sa, pb += sb) out[k] = +(a[pa]! !== b[pb]!);
      return;
  }
}

/**
 * Whether op(a, b) is float32 pow(a, 2) with the 2 broadcast from one value
 * (x.pow(2)), which binaryKernel then computes as a·a, as PyTorch does:
 * the double product of two floats is exact, Math.pow(x, 2) returns that
 * exact value, so both round to the same float32. Only 2: pow(−inf, 0.5)
 * is inf where sqrt gives NaN, and other exponents are not one rounding.
 */
export function isSquare(op: BinaryOp, b: View, bd: TypedArray, outDtype: DType): boolean {
  return (
    enabled &&
    op === "pow" &&
    outDtype === "float32" &&
    b.dtype === "float32" &&
    bd[b.offset] === 2 &&
    b.strides.every((s) => s === 0)
  );
}
