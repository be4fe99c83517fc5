// Resizing (torch.nn.functional.interpolate): nearest and (bi)linear.
// Each spatial dimension is resized on its own: nearest is an indexSelect,
// linear a blend of two indexSelects. Bilinear is the two 1-D passes in a
// row, which is the same weighted sum of four neighbours PyTorch computes.
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";

export type InterpolateMode = "nearest" | "linear" | "bilinear";

export interface InterpolateOptions {
  /** Output spatial size (one number for every dimension, or one per dimension). */
  size?: number | readonly number[] | null;
  /** Multiplier for the spatial size (one, or one per dimension). */
  scaleFactor?: number | readonly number[] | null;
  /** "nearest" (default), "linear" (3-d input) or "bilinear" (4-d input). */
  mode?: InterpolateMode;
  /** Linear modes: align the corner pixels' centres instead of their edges (false). */
  alignCorners?: boolean | null;
}

/**
 * Resizes the spatial dims of [N, C, L] or [N, C, H, W].
 *
 * @example
 * F.interpolate(fl.randn([1, 3, 4, 4]), { scaleFactor: 2 }).shape; // [1, 3, 8, 8]
 * F.interpolate(x, { size: [5, 7], mode: "bilinear", alignCorners: true });
 */
export function interpolate(input: Tensor, opts: InterpolateOptions = {}): Tensor {
  const mode = opts.mode ?? "nearest";
  const spatial = input.ndim - 2;
  if (spatial < 1 || spatial > 2)
    throw new ShapeError(
      `interpolate: expected a 3-d or 4-d input, got shape ${fmtShape(input.shape)}`,
    );
  if (mode === "bilinear" && spatial !== 2)
    throw new ShapeError(
      `interpolate: bilinear mode needs a 4-d input, got ${fmtShape(input.shape)}`,
    );
  if (mode === "linear" && spatial !== 1)
    throw new ShapeError(
      `interpolate: linear mode needs a 3-d input, got ${fmtShape(input.shape)}`,
    );
  if (mode === "nearest" && opts.alignCorners != null) {
    throw new ArgumentError(
      "interpolate: alignCorners option can only be set with the interpolating modes: linear | bilinear",
    );
  }
  if ((opts.size == null) === (opts.scaleFactor == null)) {
    throw new ArgumentError("interpolate: give exactly one of size and scaleFactor");
  }
  const perDim = <T>(v: T | readonly T[]): T[] => {
    const arr = Array.isArray(v) ? [...(v as readonly T[])] : new Array<T>(spatial).fill(v as T);
    if (arr.length !== spatial)
      throw new ArgumentError(
        `interpolate: expected ${spatial} sizes or scale factors, got ${arr.length}`,
      );
    return arr;
  };
  const inSizes = input.shape.slice(2);
  const scales = opts.scaleFactor != null ? perDim(opts.scaleFactor) : null;
  const outSizes =
    opts.size != null ? perDim(opts.size) : inSizes.map((s, i) => Math.floor(s * scales![i]!));
  let y = input;
  for (let i = 0; i < spatial; i++) {
    const dim = 2 + i;
    // PyTorch maps output to input coordinates with 1/scaleFactor when it is given.
    const scale = scales ? 1 / scales[i]! : inSizes[i]! / outSizes[i]!;
    y =
      mode === "nearest"
        ? resizeNearest(y, dim, outSizes[i]!, scale)
        : resizeLinear(y, dim, outSizes[i]!, scale, opts.alignCorners ?? false);
  }
  return y;
}

function resizeNearest(x: Tensor, dim: number, out: number, scale: number): Tensor {
  const size = x.shape[dim]!;
  const idx = new Int32Array(out);
  for (let o = 0; o < out; o++) idx[o] = Math.min(Math.floor(o * scale), size - 1);
  return x.indexSelect(dim, Tensor.fromArray(idx, [out], x.device));
}

function resizeLinear(
  x: Tensor,
  dim: number,
  out: number,
  scale: number,
  alignCorners: boolean,
): Tensor {
  const size = x.shape[dim]!;
  const lo = new Int32Array(out);
  const hi = new Int32Array(out);
  const lam = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let src: number;
    if (alignCorners) src = out > 1 ? (o * (size - 1)) / (out - 1) : 0;
    else src = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), size - 1);
    lo[o] = i0;
    hi[o] = Math.min(i0 + 1, size - 1);
    lam[o] = src - i0;
  }
  const wShape = x.shape.map((_, i) => (i === dim ? out : 1));
  const w = Tensor.fromArray(
    x.dtype === "float64" ? lam : Float32Array.from(lam),
    wShape,
    x.device,
  );
  const a = x.indexSelect(dim, Tensor.fromArray(lo, [out], x.device));
  const b = x.indexSelect(dim, Tensor.fromArray(hi, [out], x.device));
  // a·(1 - λ) + b·λ
  return a.add(b.sub(a).mul(w));
}

/**
 * Nearest or bilinear upsampling by a size or a scale factor (the functional form of nn.Upsample).
 *
 * @example
 * F.upsample(fl.randn([1, 1, 2, 2]), { scaleFactor: 3 }).shape; // [1, 1, 6, 6]
 */
export function upsample(input: Tensor, opts: InterpolateOptions = {}): Tensor {
  return interpolate(input, opts);
}
