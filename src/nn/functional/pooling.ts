// Pooling (torch.nn.functional max_pool1d/2d, avg_pool1d/2d,
// adaptive_avg_pool2d, adaptive_max_pool2d). Each reads its windows with
// the same gather as convolution (conv.ts), then reduces over the window:
// max → max(0), whose gradient goes to the first maximum as in PyTorch;
// average → sum(0) divided by a per-position count.
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import {
  convTable,
  gatherWindows,
  pair,
  type Size2,
  type WindowTable,
  windowTable,
} from "./conv.js";
import { fusedMaxPool } from "./fused.js";

export interface MaxPoolOptions {
  /** Window step (the kernel size). */
  stride?: Size2 | null;
  /** Implicit -inf padding on both sides (0); at most half the kernel. */
  padding?: Size2;
  dilation?: Size2;
  /** Use ceil instead of floor for the output size (false). */
  ceilMode?: boolean;
}

export interface AvgPoolOptions {
  stride?: Size2 | null;
  padding?: Size2;
  ceilMode?: boolean;
  /** Count padded zeros in the average (true). */
  countIncludePad?: boolean;
  /** Divide by this instead of the window size. */
  divisorOverride?: number | null;
}

function planar(op: string, x: Tensor): Tensor {
  if (x.ndim !== 4 && x.ndim !== 3)
    throw new ShapeError(`${op}: expected a 3-d or 4-d input, got shape ${fmtShape(x.shape)}`);
  return x.ndim === 3 ? x.unsqueeze(0) : x;
}

function poolTable(op: string, x: Tensor, kernelSize: Size2, opts: MaxPoolOptions): WindowTable {
  const k = pair(op, "kernelSize", kernelSize);
  const stride = pair(op, "stride", opts.stride ?? k);
  const p = pair(op, "padding", opts.padding ?? 0);
  const d = pair(op, "dilation", opts.dilation ?? 1);
  for (let i = 0; i < 2; i++) {
    if (p[i]! > k[i]! / 2) {
      throw new ArgumentError(
        `${op}: padding ${p[i]} should be at most half of the kernel size ${k[i]}`,
      );
    }
  }
  return convTable(
    op,
    x.shape[2]!,
    x.shape[3]!,
    k,
    stride,
    [p[0]!, p[0]!, p[1]!, p[1]!],
    d,
    opts.ceilMode ?? false,
  );
}

/** The max over each window's rows, and the flat input position it came from. */
function maxOverWindows(x: Tensor, t: WindowTable): { values: Tensor; indices: Tensor } {
  const fused = fusedMaxPool(x, t.index, t.k, t.outH, t.outW);
  if (fused) return fused;
  const [n, c] = x.shape as [number, number];
  const rows = gatherWindows(x, t, Number.NEGATIVE_INFINITY).reshape([t.k, t.l, n * c]);
  const { values, indices } = rows.max(0); // [L, NC]
  const out = values.t().reshape([n, c, t.outH, t.outW]);
  // PyTorch returns the position within the input plane (h * W + w): the
  // table's entry [k, l] for each window's winner k, looked up on the device
  // (a gather), so no value has to be read back synchronously.
  const table = Tensor.fromArray(t.index, [t.k, t.l, 1], x.device).expand([t.k, t.l, n * c]);
  const pos = table.gather(0, indices.unsqueeze(0)).squeeze(0); // [L, NC]
  return { values: out, indices: pos.t().reshape([n, c, t.outH, t.outW]) };
}

/**
 * 2-D max pooling of [N, C, H, W] (or [C, H, W]).
 *
 * @example
 * F.maxPool2d(fl.randn([1, 3, 8, 8]), 2).shape; // [1, 3, 4, 4]
 */
export function maxPool2d(input: Tensor, kernelSize: Size2, opts: MaxPoolOptions = {}): Tensor {
  return maxPool2dWithIndices(input, kernelSize, opts)[0];
}

/**
 * max_pool2d with return_indices: [values, indices], indices (int32) the
 * flat position h·W + w of each maximum in its input plane, as maxUnpool expects.
 *
 * @example
 * const [y, idx] = F.maxPool2dWithIndices(fl.randn([1, 1, 4, 4]), 2);
 */
export function maxPool2dWithIndices(
  input: Tensor,
  kernelSize: Size2,
  opts: MaxPoolOptions = {},
): [Tensor, Tensor] {
  const x = planar("maxPool2d", input);
  const { values, indices } = maxOverWindows(x, poolTable("maxPool2d", x, kernelSize, opts));
  return input.ndim === 3 ? [values.squeeze(0), indices.squeeze(0)] : [values, indices];
}

/**
 * 1-D max pooling of [N, C, L] (or [C, L]).
 *
 * @example
 * F.maxPool1d(fl.randn([2, 3, 10]), 2).shape; // [2, 3, 5]
 */
export function maxPool1d(input: Tensor, kernelSize: number, opts: MaxPoolOptions = {}): Tensor {
  return maxPool1dWithIndices(input, kernelSize, opts)[0];
}

/**
 * max_pool1d with return_indices: [values, indices], indices the position of each maximum along L.
 *
 * @example
 * const [y, idx] = F.maxPool1dWithIndices(fl.randn([1, 2, 6]), 2);
 */
export function maxPool1dWithIndices(
  input: Tensor,
  kernelSize: number,
  opts: MaxPoolOptions = {},
): [Tensor, Tensor] {
  if (input.ndim !== 3 && input.ndim !== 2)
    throw new ShapeError(
      `maxPool1d: expected a 2-d or 3-d input, got shape ${fmtShape(input.shape)}`,
    );
  const [v, i] = maxPool2dWithIndices(input.unsqueeze(-2), [1, kernelSize], to2d(opts, 1));
  return [v.squeeze(-2), i.squeeze(-2)];
}

/** 1-d options as 2-d ones over a height-1 plane. */
function to2d<T extends MaxPoolOptions | AvgPoolOptions>(opts: T, fill: number): T {
  const one = (v: Size2 | null | undefined): number[] | undefined =>
    v === null || v === undefined ? undefined : [fill, pair("pool1d", "argument", v, 1)[0]!];
  const out = {
    ...opts,
    stride: one(opts.stride) ?? null,
    padding: [0, pair("pool1d", "padding", opts.padding ?? 0, 1)[0]!],
  } as T;
  if ("dilation" in opts && opts.dilation !== undefined)
    (out as MaxPoolOptions).dilation = [1, pair("pool1d", "dilation", opts.dilation, 1)[0]!];
  return out;
}

/** The divisor of each output position: PyTorch's window size clipped to the padded input, or the real elements only. */
function avgDivisors(
  h: number,
  w: number,
  t: WindowTable,
  k: number[],
  s: number[],
  p: number[],
  includePad: boolean,
): Float64Array {
  const div = new Float64Array(t.l);
  for (let oi = 0; oi < t.outH; oi++) {
    let hs = oi * s[0]! - p[0]!;
    let he = Math.min(hs + k[0]!, h + p[0]!);
    const ph = he - hs;
    hs = Math.max(hs, 0);
    he = Math.min(he, h);
    for (let oj = 0; oj < t.outW; oj++) {
      let ws = oj * s[1]! - p[1]!;
      let we = Math.min(ws + k[1]!, w + p[1]!);
      const pw = we - ws;
      ws = Math.max(ws, 0);
      we = Math.min(we, w);
      div[oi * t.outW + oj] = includePad ? ph * pw : (he - hs) * (we - ws);
    }
  }
  return div;
}

/** Sums each window and divides by `div` [L]: [N, C, outH, outW]. */
function meanOverWindows(x: Tensor, t: WindowTable, div: Float64Array): Tensor {
  const [n, c] = x.shape as [number, number];
  const sums = gatherWindows(x, t, 0)
    .reshape([t.k, t.l, n * c])
    .sum(0); // [L, NC]
  const d = Tensor.fromArray(
    x.dtype === "float64" ? div : Float32Array.from(div),
    [t.l, 1],
    x.device,
  );
  return sums.div(d).t().reshape([n, c, t.outH, t.outW]);
}

/**
 * 2-D average pooling of [N, C, H, W] (or [C, H, W]).
 *
 * @example
 * F.avgPool2d(fl.ones([1, 1, 4, 4]), 2); // all ones, [1, 1, 2, 2]
 */
export function avgPool2d(input: Tensor, kernelSize: Size2, opts: AvgPoolOptions = {}): Tensor {
  const x = planar("avgPool2d", input);
  const k = pair("avgPool2d", "kernelSize", kernelSize);
  const s = pair("avgPool2d", "stride", opts.stride ?? k);
  const p = pair("avgPool2d", "padding", opts.padding ?? 0);
  const t = poolTable("avgPool2d", x, k, {
    stride: s,
    padding: p,
    ceilMode: opts.ceilMode ?? false,
  });
  const div = opts.divisorOverride
    ? new Float64Array(t.l).fill(opts.divisorOverride)
    : avgDivisors(x.shape[2]!, x.shape[3]!, t, k, s, p, opts.countIncludePad ?? true);
  const y = meanOverWindows(x, t, div);
  return input.ndim === 3 ? y.squeeze(0) : y;
}

/**
 * 1-D average pooling of [N, C, L] (or [C, L]).
 *
 * @example
 * F.avgPool1d(fl.randn([2, 3, 10]), 2).shape; // [2, 3, 5]
 */
export function avgPool1d(input: Tensor, kernelSize: number, opts: AvgPoolOptions = {}): Tensor {
  if (input.ndim !== 3 && input.ndim !== 2)
    throw new ShapeError(
      `avgPool1d: expected a 2-d or 3-d input, got shape ${fmtShape(input.shape)}`,
    );
  return avgPool2d(input.unsqueeze(-2), [1, kernelSize], to2d(opts, 1)).squeeze(-2);
}

/** Adaptive windows along one dimension: start floor(o·in/out), end ceil((o+1)·in/out). */
function adaptivePositions(
  size: number,
  out: number,
): { pos: Int32Array; k: number; count: Int32Array } {
  let k = 0;
  for (let o = 0; o < out; o++) {
    k = Math.max(k, Math.ceil(((o + 1) * size) / out) - Math.floor((o * size) / out));
  }
  const pos = new Int32Array(out * k).fill(-1);
  const count = new Int32Array(out);
  for (let o = 0; o < out; o++) {
    const start = Math.floor((o * size) / out);
    const end = Math.ceil(((o + 1) * size) / out);
    count[o] = end - start;
    for (let j = 0; j < end - start; j++) pos[o * k + j] = start + j;
  }
  return { pos, k, count };
}

export type AdaptiveSize = number | null | readonly (number | null)[];

function adaptiveTable(
  op: string,
  x: Tensor,
  outputSize: AdaptiveSize,
): { t: WindowTable; div: Float64Array } {
  const [h, w] = [x.shape[2]!, x.shape[3]!];
  const sizes =
    typeof outputSize === "number" || outputSize === null
      ? [outputSize, outputSize]
      : [...outputSize];
  if (sizes.length !== 2)
    throw new ArgumentError(
      `${op}: outputSize must be one or two sizes, got ${JSON.stringify(outputSize)}`,
    );
  const oh = sizes[0] ?? h;
  const ow = sizes[1] ?? w;
  const ah = adaptivePositions(h, oh);
  const aw = adaptivePositions(w, ow);
  const t = windowTable(ah.pos, ah.k, oh, aw.pos, aw.k, ow, w);
  const div = new Float64Array(oh * ow);
  for (let i = 0; i < oh; i++)
    for (let j = 0; j < ow; j++) div[i * ow + j] = ah.count[i]! * aw.count[j]!;
  return { t, div };
}

/**
 * Average pooling to a fixed output size [oh, ow] whatever the input size
 * (null keeps that dimension).
 *
 * @example
 * F.adaptiveAvgPool2d(fl.randn([2, 8, 7, 5]), 1).shape; // [2, 8, 1, 1]
 */
export function adaptiveAvgPool2d(input: Tensor, outputSize: AdaptiveSize): Tensor {
  const x = planar("adaptiveAvgPool2d", input);
  const { t, div } = adaptiveTable("adaptiveAvgPool2d", x, outputSize);
  const y = meanOverWindows(x, t, div);
  return input.ndim === 3 ? y.squeeze(0) : y;
}

/**
 * Max pooling to a fixed output size; [values, indices] like maxPool2dWithIndices.
 *
 * @example
 * const [y] = F.adaptiveMaxPool2dWithIndices(fl.randn([1, 2, 5, 5]), [2, 2]);
 */
export function adaptiveMaxPool2dWithIndices(
  input: Tensor,
  outputSize: AdaptiveSize,
): [Tensor, Tensor] {
  const x = planar("adaptiveMaxPool2d", input);
  const { t } = adaptiveTable("adaptiveMaxPool2d", x, outputSize);
  const { values, indices } = maxOverWindows(x, t);
  return input.ndim === 3 ? [values.squeeze(0), indices.squeeze(0)] : [values, indices];
}

/**
 * Max pooling to a fixed output size.
 *
 * @example
 * F.adaptiveMaxPool2d(fl.randn([1, 2, 5, 5]), 2).shape; // [1, 2, 2, 2]
 */
export function adaptiveMaxPool2d(input: Tensor, outputSize: AdaptiveSize): Tensor {
  return adaptiveMaxPool2dWithIndices(input, outputSize)[0];
}
