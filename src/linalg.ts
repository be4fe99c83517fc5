import { ArgumentError } from "./errors.js";
import { normDims } from "./shape.js";
import type { Tensor } from "./tensor/tensor.js";

export interface NormOptions {
  keepdim?: boolean;
}

/**
 * Vector norms (torch.linalg.vector_norm): ord 2 (default), 1, Infinity
 * ("inf"), -Infinity, 0 (count of nonzeros) or any real p.
 */
export function vectorNorm(
  x: Tensor,
  ord: number | "inf" | "-inf" = 2,
  dim?: number | number[] | null,
  opts: NormOptions = {},
): Tensor {
  const p =
    ord === "inf" ? Number.POSITIVE_INFINITY : ord === "-inf" ? Number.NEGATIVE_INFINITY : ord;
  if (typeof p !== "number" || Number.isNaN(p))
    throw new ArgumentError(`linalg.vectorNorm: invalid ord ${String(ord)}`);
  const dims = normDims("linalg.vectorNorm", dim, x.ndim);
  const keepdim = opts.keepdim ?? false;
  const a = x.abs();
  if (p === Number.POSITIVE_INFINITY) return a.amax(dims, { keepdim });
  if (p === Number.NEGATIVE_INFINITY) return a.amin(dims, { keepdim });
  if (p === 0)
    return a.ne(0).sum(dims, { keepdim, dtype: x.dtype === "float64" ? "float64" : "float32" });
  if (p === 1) return a.sum(dims, { keepdim });
  // The 2-norm as sqrt(Σx²) has gradient x/‖x‖ (NaN-free except at 0, as in PyTorch).
  if (p === 2) return x.square().sum(dims, { keepdim }).sqrt();
  return a
    .pow(p)
    .sum(dims, { keepdim })
    .pow(1 / p);
}

/**
 * torch.linalg.norm for vectors: with ord given and no dim, x must be 1-d
 * or 2-d; 2-d inputs with ord "fro" (or no ord) use the Frobenius norm.
 */
export function norm(
  x: Tensor,
  ord?: number | "inf" | "-inf" | "fro" | null,
  dim?: number | number[] | null,
  opts: NormOptions = {},
): Tensor {
  if (ord === "fro" || ord === undefined || ord === null) return vectorNorm(x, 2, dim, opts);
  if (
    x.ndim === 2 &&
    (dim === undefined || dim === null || (Array.isArray(dim) && dim.length === 2))
  ) {
    // Matrix norms for 1 / inf: max column / row sums of |x|.
    const a = x.abs();
    const d = Array.isArray(dim) ? dim : [0, 1];
    if (ord === 1) return a.sum(d[0]!, { keepdim: true }).amax(d, { keepdim: opts.keepdim });
    if (ord === "inf") return a.sum(d[1]!, { keepdim: true }).amax(d, { keepdim: opts.keepdim });
    throw new ArgumentError(
      `linalg.norm: matrix norm ord ${ord} is not supported (use 1, "inf" or "fro")`,
    );
  }
  return vectorNorm(x, ord, dim, opts);
}
