// F.pad (torch.nn.functional.pad): constant, reflect, replicate and
// circular padding. Constant padding concatenates filled blocks; the other
// modes are an indexSelect along each padded dimension, so their backward
// (a scatterAdd) folds the gradient of every copy back onto its source.
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";

export type PaddingMode = "zeros" | "constant" | "reflect" | "replicate" | "circular";

export interface PadOptions {
  /** "constant" (default), "reflect", "replicate" or "circular". */
  mode?: PaddingMode;
  /** Fill value for constant padding (0). */
  value?: number;
}

/** The source index of each padded position along one dimension. */
function sourceIndex(mode: PaddingMode, size: number, before: number, after: number): Int32Array {
  const out = new Int32Array(size + before + after);
  for (let i = 0; i < out.length; i++) {
    const j = i - before;
    if (mode === "replicate") out[i] = Math.min(Math.max(j, 0), size - 1);
    else if (mode === "circular") out[i] = ((j % size) + size) % size;
    else {
      // reflect: mirror about the edge elements, which are not repeated.
      const period = 2 * (size - 1);
      let r = period === 0 ? 0 : ((j % period) + period) % period;
      if (r >= size) r = period - r;
      out[i] = r;
    }
  }
  return out;
}

/**
 * Pads the last dimensions of x. `pad` lists (before, after) pairs starting
 * from the last dimension: [left, right, top, bottom] pads W then H.
 * Negative constant padding crops.
 *
 * @example
 * F.pad(fl.ones([1, 1, 2, 2]), [1, 1, 1, 1]).shape; // [1, 1, 4, 4]
 * F.pad(fl.tensor([[[1, 2, 3]]]), [2, 1], { mode: "reflect" }); // [[[3, 2, 1, 2, 3, 2]]]
 */
export function pad(x: Tensor, padding: readonly number[], opts: PadOptions = {}): Tensor {
  const mode = opts.mode === "zeros" ? "constant" : (opts.mode ?? "constant");
  if (padding.length % 2 !== 0 || padding.length / 2 > x.ndim) {
    throw new ArgumentError(
      `pad: padding length must be even and at most 2 * ndim (${2 * x.ndim}), got ${padding.length} for shape ${fmtShape(x.shape)}`,
    );
  }
  let y = x;
  for (let p = 0; p < padding.length / 2; p++) {
    const dim = x.ndim - 1 - p;
    const before = padding[2 * p]!;
    const after = padding[2 * p + 1]!;
    if (before === 0 && after === 0) continue;
    y =
      mode === "constant"
        ? padConstant(y, dim, before, after, opts.value ?? 0)
        : padIndexed(y, dim, before, after, mode);
  }
  return y;
}

function padConstant(x: Tensor, dim: number, before: number, after: number, value: number): Tensor {
  let y = x;
  if (before < 0) y = y.narrow(dim, -before, y.shape[dim]! + before);
  if (after < 0) y = y.narrow(dim, 0, y.shape[dim]! + after);
  const block = (n: number): Tensor => {
    const shape = [...y.shape];
    shape[dim] = n;
    return Tensor.scalar(value, x.dtype, x.device).expand(shape);
  };
  const parts: Tensor[] = [];
  if (before > 0) parts.push(block(before));
  parts.push(y);
  if (after > 0) parts.push(block(after));
  return parts.length === 1 ? y : Tensor.cat(parts, dim);
}

function padIndexed(
  x: Tensor,
  dim: number,
  before: number,
  after: number,
  mode: PaddingMode,
): Tensor {
  const size = x.shape[dim]!;
  if (before < 0 || after < 0)
    throw new ArgumentError(`pad: ${mode} padding must be non-negative, got (${before}, ${after})`);
  if (mode === "reflect" && (before >= size || after >= size)) {
    throw new ShapeError(
      `pad: reflect padding (${before}, ${after}) must be smaller than the padded dimension ${dim} of size ${size} (input ${fmtShape(x.shape)})`,
    );
  }
  if (mode === "circular" && (before > size || after > size)) {
    throw new ShapeError(
      `pad: circular padding (${before}, ${after}) can wrap at most once around dimension ${dim} of size ${size}`,
    );
  }
  if (size === 0)
    throw new ShapeError(
      `pad: cannot ${mode}-pad an empty dimension ${dim} of input ${fmtShape(x.shape)}`,
    );
  const idx = Tensor.fromArray(
    sourceIndex(mode, size, before, after),
    [size + before + after],
    x.device,
  );
  return x.indexSelect(dim, idx);
}
