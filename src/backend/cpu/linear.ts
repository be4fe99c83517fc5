import type { Storage, View } from "../backend.js";
import { registerFused } from "../fused.js";
import { type CpuStorage, dataOf, wrap } from "./storage.js";

// A linear layer's bias, added in place into its fresh GEMM output, so the
// layer makes one [rows, cols] array instead of two and walks it once; and
// the bias's gradient, the output gradient summed over rows, walked row by
// row (the generic reduction over dim 0 strides down columns instead).

type Floats = Float32Array | Float64Array;

/** y[r, c] += bias[c] over contiguous y [rows, cols]. */
function addBias(y: Storage, bias: View, rows: number, cols: number): void {
  const yd = (y as CpuStorage).data as Floats;
  const bd = dataOf(bias) as Floats;
  const bo = bias.offset;
  const bs = bias.strides[0] ?? 1;
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    for (let c = 0, p = bo; c < cols; c++, p += bs) yd[s + c] = yd[s + c]! + bd[p]!;
  }
}

/**
 * Σ_r g[r, c] as [cols], for g [rows, cols] with any strides; sums in
 * doubles. Contiguous rows go four at a time, so the accumulator row is
 * loaded and stored once per four gradient rows.
 */
function sumRows(g: View, rows: number, cols: number): Storage {
  const gd = dataOf(g) as Floats;
  const [rs, cs] = g.strides as [number, number];
  const acc = new Float64Array(cols);
  let r = 0;
  let s = g.offset;
  if (cs === 1) {
    for (; r + 4 <= rows; r += 4, s += 4 * rs) {
      const s1 = s + rs;
      const s2 = s1 + rs;
      const s3 = s2 + rs;
      for (let c = 0; c < cols; c++) {
        acc[c] = acc[c]! + gd[s + c]! + gd[s1 + c]! + gd[s2 + c]! + gd[s3 + c]!;
      }
    }
  }
  for (; r < rows; r++, s += rs) {
    for (let c = 0, p = s; c < cols; c++, p += cs) acc[c] = acc[c]! + gd[p]!;
  }
  return wrap(gd instanceof Float32Array ? new Float32Array(acc) : acc);
}

registerFused("cpu", { addBias, sumRows });
