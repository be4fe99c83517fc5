// Convolution as im2col + matmul (torch.nn.functional.conv1d/conv2d,
// conv_transpose2d, unfold, fold).
//
// Every sliding-window op here (and pooling) reads its input through one
// precomputed table: for window element k and output position l, the flat
// input position it reads, or -1 where the window lies in padding. unfold
// is an indexSelect with that table (its backward is a scatterAdd) and fold
// is the matching scatterAdd (its backward is a gather), so both are
// differentiable any number of times with no kernel of their own, and the
// arithmetic of a convolution is one batched matmul. That composite is the
// reference; conv2d runs on a backend's fused convolution kernels where it
// has them (fusedConv2d below), checked against it in test/backend.
import { isGradEnabled } from "../../autograd/grad_mode.js";
import { record } from "../../autograd/node.js";
import { type ConvGeometry, fusedKernels } from "../../backend/fused.js";
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { keep } from "../../tensor/memory.js";
import { Tensor } from "../../tensor/tensor.js";
import { fusedIm2col } from "./fused.js";
import { type PaddingMode, pad as padFn } from "./padding.js";

export type Size2 = number | readonly number[];

/** An int or a pair as [h, w] (PyTorch's _pair). */
export function pair(op: string, name: string, v: Size2, n = 2): number[] {
  const out = typeof v === "number" ? new Array<number>(n).fill(v) : [...v];
  if (out.length === 1 && n > 1) return new Array<number>(n).fill(out[0]!);
  if (out.length !== n || out.some((x) => !Number.isInteger(x))) {
    throw new ArgumentError(
      `${op}: ${name} must be an integer or ${n} integers, got ${JSON.stringify(v)}`,
    );
  }
  return out;
}

/**
 * For each of `out` output positions, the input coordinate each of `k`
 * window elements reads along one dimension (-1 in padding):
 * pos[o * k + j] = o * stride - padBefore + j * dilation.
 */
export function slidingPositions(
  size: number,
  out: number,
  k: number,
  stride: number,
  padBefore: number,
  dilation: number,
): Int32Array {
  const pos = new Int32Array(out * k);
  for (let o = 0; o < out; o++) {
    for (let j = 0; j < k; j++) {
      const i = o * stride - padBefore + j * dilation;
      pos[o * k + j] = i >= 0 && i < size ? i : -1;
    }
  }
  return pos;
}

/** A window table over an [H, W] plane: index[(kh * KW + kw) * L + l], L = outH * outW. */
export interface WindowTable {
  index: Int32Array;
  /** Window elements (KH * KW). */
  k: number;
  /** Output positions (outH * outW). */
  l: number;
  outH: number;
  outW: number;
}

/** Combines per-dimension positions (from slidingPositions or adaptive windows) into a plane table. */
export function windowTable(
  posH: Int32Array,
  kh: number,
  outH: number,
  posW: Int32Array,
  kw: number,
  outW: number,
  w: number,
): WindowTable {
  const L = outH * outW;
  const index = new Int32Array(kh * kw * L);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const base = (a * kw + b) * L;
      for (let oi = 0; oi < outH; oi++) {
        const ih = posH[oi * kh + a]!;
        for (let oj = 0; oj < outW; oj++) {
          const iw = posW[oj * kw + b]!;
          index[base + oi * outW + oj] = ih >= 0 && iw >= 0 ? ih * w + iw : -1;
        }
      }
    }
  }
  return { index, k: kh * kw, l: L, outH, outW };
}

/** Output length of a sliding window (PyTorch's formula; ceilMode as in pooling). */
export function outLength(
  op: string,
  size: number,
  k: number,
  stride: number,
  padTotal: number,
  dilation: number,
  ceilMode = false,
  padBefore = padTotal / 2,
): number {
  const span = size + padTotal - dilation * (k - 1) - 1;
  let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // With ceilMode the last window must start inside the input or its left padding.
  if (ceilMode && (out - 1) * stride >= size + padBefore) out--;
  if (out < 1 || span < 0) {
    throw new ShapeError(
      `${op}: input size ${size} with kernel ${k}, dilation ${dilation} and padding ${padTotal} gives an empty output (${out})`,
    );
  }
  return out;
}

/**
 * Reads every window of x [N, C, H, W]: rows [K * L, N * C], where padding
 * reads `fill`. Channels sit last so each row copy is one contiguous block.
 */
export function gatherWindows(x: Tensor, t: WindowTable, fill: number): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const hw = h * w;
  const flat = x.reshape([n * c, hw]).t(); // [HW, NC]
  // One extra row holds the fill value; padded reads point at it.
  const padded = Tensor.cat([flat, Tensor.scalar(fill, x.dtype, x.device).expand([1, n * c])], 0); // [HW+1, NC]
  return padded.indexSelect(0, tableIndex(t, hw, x.device));
}

/** The adjoint of gatherWindows: sums rows [K * L, NC] back into their positions, [HW, NC]. */
export function scatterWindows(rows: Tensor, t: WindowTable, hw: number): Tensor {
  const nc = rows.shape[1]!;
  const idx = tableIndex(t, hw, rows.device)
    .reshape([-1, 1])
    .expand([t.k * t.l, nc]);
  return Tensor.zeros([hw + 1, nc], rows.dtype, rows.device)
    .scatterAdd(0, idx, rows)
    .narrow(0, 0, hw);
}

const indexCache = new WeakMap<Int32Array, Tensor>();

function tableIndex(t: WindowTable, hw: number, device: string): Tensor {
  const hit = indexCache.get(t.index);
  if (hit && hit.device === device) return hit;
  const idx = Int32Array.from(t.index, (v) => (v < 0 ? hw : v));
  // Cached across calls, so a tidy() scope around the first call must not free it.
  const out = keep(Tensor.fromArray(idx, [idx.length], device));
  indexCache.set(t.index, out);
  return out;
}

// Tables depend only on geometry; a training loop asks for the same few again and again.
const tableCache = new Map<string, WindowTable>();

/** The window table of a strided, padded, dilated sliding window (padding [top, bottom, left, right]). */
export function convTable(
  op: string,
  h: number,
  w: number,
  k: number[],
  stride: number[],
  pad4: number[],
  dilation: number[],
  ceilMode = false,
): WindowTable {
  const key = `${h},${w},${k},${stride},${pad4},${dilation},${ceilMode}`;
  const hit = tableCache.get(key);
  if (hit) return hit;
  const [pt, pb, pl, pr] = pad4 as [number, number, number, number];
  const outH = outLength(op, h, k[0]!, stride[0]!, pt + pb, dilation[0]!, ceilMode, pt);
  const outW = outLength(op, w, k[1]!, stride[1]!, pl + pr, dilation[1]!, ceilMode, pl);
  const t = windowTable(
    slidingPositions(h, outH, k[0]!, stride[0]!, pt, dilation[0]!),
    k[0]!,
    outH,
    slidingPositions(w, outW, k[1]!, stride[1]!, pl, dilation[1]!),
    k[1]!,
    outW,
    w,
  );
  if (tableCache.size > 256) tableCache.clear();
  tableCache.set(key, t);
  return t;
}

export interface UnfoldOptions {
  dilation?: Size2;
  padding?: Size2;
  stride?: Size2;
}

function checkRank(op: string, x: Tensor, rank: number): void {
  if (x.ndim !== rank) {
    throw new ShapeError(`${op}: expected a ${rank}-d input, got shape ${fmtShape(x.shape)}`);
  }
}

/**
 * Extracts sliding blocks (im2col): [N, C, H, W] → [N, C·kh·kw, L], L the
 * number of block positions. Differentiable (its adjoint is fold).
 *
 * @example
 * F.unfold(fl.randn([1, 2, 4, 4]), 2).shape; // [1, 8, 9]
 */
export function unfold(input: Tensor, kernelSize: Size2, opts: UnfoldOptions = {}): Tensor {
  checkRank("unfold", input, 4);
  const [n, c, h, w] = input.shape as [number, number, number, number];
  const k = pair("unfold", "kernelSize", kernelSize);
  const p = pair("unfold", "padding", opts.padding ?? 0);
  const t = convTable(
    "unfold",
    h,
    w,
    k,
    pair("unfold", "stride", opts.stride ?? 1),
    [p[0]!, p[0]!, p[1]!, p[1]!],
    pair("unfold", "dilation", opts.dilation ?? 1),
  );
  const rows = gatherWindows(input, t, 0); // [K*L, N*C]
  return rows
    .reshape([t.k, t.l, n, c])
    .permute([2, 3, 0, 1])
    .reshape([n, c * t.k, t.l]);
}

/**
 * Sums sliding blocks back into an image (col2im), the adjoint of unfold:
 * [N, C·kh·kw, L] → [N, C, outputSize[0], outputSize[1]].
 *
 * @example
 * const x = fl.randn([1, 2, 4, 4]);
 * F.fold(F.unfold(x, 2), [4, 4], 2); // each pixel times the number of blocks covering it
 */
export function fold(
  input: Tensor,
  outputSize: Size2,
  kernelSize: Size2,
  opts: UnfoldOptions = {},
): Tensor {
  checkRank("fold", input, 3);
  const [h, w] = pair("fold", "outputSize", outputSize) as [number, number];
  const k = pair("fold", "kernelSize", kernelSize);
  const p = pair("fold", "padding", opts.padding ?? 0);
  const t = convTable(
    "fold",
    h,
    w,
    k,
    pair("fold", "stride", opts.stride ?? 1),
    [p[0]!, p[0]!, p[1]!, p[1]!],
    pair("fold", "dilation", opts.dilation ?? 1),
  );
  const [n, ck, l] = input.shape as [number, number, number];
  if (ck % t.k !== 0 || l !== t.l) {
    throw new ShapeError(
      `fold: expected input [N, C*${t.k}, ${t.l}] for output ${fmtShape([h, w])} and kernel ${fmtShape(k)}, got ${fmtShape(input.shape)}`,
    );
  }
  const c = ck / t.k;
  const rows = input
    .reshape([n, c, t.k, l])
    .permute([2, 3, 0, 1])
    .reshape([t.k * l, n * c]);
  return scatterWindows(rows, t, h * w)
    .t()
    .reshape([n, c, h, w]);
}

/**
 * Every window of x [N, C, H, W] as columns [C·K, N·L] (channel-major, then
 * window element): a backend's fused im2col where it has one, else
 * gatherWindows and a permute. Both have the same values and gradient.
 */
function im2col(x: Tensor, t: WindowTable): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const fused = fusedIm2col(x, t.index, t.k, t.l, (g) => col2im(g, t, n, c, h, w));
  if (fused) return fused;
  return gatherWindows(x, t, 0) // [K*L, N*C]
    .reshape([t.k, t.l, n, c])
    .permute([3, 0, 2, 1])
    .reshape([c * t.k, n * t.l]);
}

/** The adjoint of im2col, with ops: columns [C·K, N·L] summed back into [N, C, H, W]. */
function col2im(cols: Tensor, t: WindowTable, n: number, c: number, h: number, w: number): Tensor {
  const rows = cols
    .reshape([c, t.k, n, t.l])
    .permute([1, 3, 2, 0])
    .reshape([t.k * t.l, n * c]);
  return scatterWindows(rows, t, h * w)
    .t()
    .reshape([n, c, h, w]);
}

export interface ConvOptions {
  /** Window step (1). */
  stride?: Size2;
  /** Implicit padding on both sides, or "valid" (none) / "same" (output size = input size, stride 1). */
  padding?: Size2 | "same" | "valid";
  /** Spacing between kernel elements (1). */
  dilation?: Size2;
  /** Split channels into groups convolved separately (1). */
  groups?: number;
}

/** Padding as [top, bottom, left, right]; "same" puts the odd extra pixel at the end, as PyTorch does. */
function resolvePadding(
  op: string,
  padding: ConvOptions["padding"],
  k: number[],
  dilation: number[],
  stride: number[],
): number[] {
  if (padding === "valid") return [0, 0, 0, 0];
  if (padding === "same") {
    if (stride.some((s) => s !== 1))
      throw new ArgumentError(`${op}: padding='same' is not supported for strided convolutions`);
    const out: number[] = [];
    for (let d = 0; d < 2; d++) {
      const total = dilation[d]! * (k[d]! - 1);
      out.push(Math.floor(total / 2), total - Math.floor(total / 2));
    }
    return out;
  }
  if (typeof padding === "string")
    throw new ArgumentError(
      `${op}: padding must be a number, a pair, "same" or "valid", got "${padding}"`,
    );
  const p = pair(op, "padding", padding ?? 0);
  return [p[0]!, p[0]!, p[1]!, p[1]!];
}

function checkConv(
  op: string,
  x: Tensor,
  weight: Tensor,
  groups: number,
  inPerGroupDim: number,
): void {
  if (!Number.isInteger(groups) || groups < 1)
    throw new ArgumentError(`${op}: groups must be a positive integer, got ${groups}`);
  const c = x.shape[1]!;
  const expected = op === "convTranspose2d" ? weight.shape[0]! : weight.shape[1]! * groups;
  if (c !== expected) {
    throw new ShapeError(
      `${op}: input ${fmtShape(x.shape)} has ${c} channels but weight ${fmtShape(weight.shape)} with groups=${groups} expects ${expected}`,
    );
  }
  if (weight.shape[inPerGroupDim]! % groups !== 0 && op !== "convTranspose2d") {
    throw new ShapeError(
      `${op}: weight ${fmtShape(weight.shape)} out channels are not divisible by groups=${groups}`,
    );
  }
  if (op === "convTranspose2d" && c % groups !== 0) {
    throw new ShapeError(`${op}: in channels ${c} are not divisible by groups=${groups}`);
  }
}

/**
 * 2-D convolution (cross-correlation, as in PyTorch) of input [N, C, H, W]
 * (or [C, H, W]) with weight [O, C/groups, kh, kw] and optional bias [O]:
 * output [N, O, outH, outW]. Implemented as unfold + one batched matmul.
 *
 * @example
 * const y = F.conv2d(fl.randn([1, 3, 8, 8]), fl.randn([4, 3, 3, 3]), null, { padding: 1 });
 * y.shape; // [1, 4, 8, 8]
 */
export function conv2d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: ConvOptions = {},
): Tensor {
  if (input.ndim === 3) return conv2d(input.unsqueeze(0), weight, bias, opts).squeeze(0);
  checkRank("conv2d", input, 4);
  if (weight.ndim !== 4)
    throw new ShapeError(
      `conv2d: weight must be 4-d [O, C/groups, kh, kw], got ${fmtShape(weight.shape)}`,
    );
  const groups = opts.groups ?? 1;
  checkConv("conv2d", input, weight, groups, 0);
  const [n, , h, w] = input.shape as [number, number, number, number];
  const [o, cg, kh, kw] = weight.shape as [number, number, number, number];
  const stride = pair("conv2d", "stride", opts.stride ?? 1);
  const dilation = pair("conv2d", "dilation", opts.dilation ?? 1);
  const pad4 = resolvePadding("conv2d", opts.padding, [kh, kw], dilation, stride);
  const t = convTable("conv2d", h, w, [kh, kw], stride, pad4, dilation);
  if (groups === 1) {
    const fast = fusedConv2d(input, weight, bias, t, stride, pad4, dilation);
    if (fast) return fast;
  }
  const k = t.k;
  // cols [G, Cg·K, N·L]: channel-major then window element, as weight is laid out.
  const cols = im2col(input, t).reshape([groups, cg * k, n * t.l]);
  const wm = weight.reshape([groups, o / groups, cg * k]); // [G, O/G, Cg·K]
  let y = wm.matmul(cols).reshape([o, n, t.outH, t.outW]).permute([1, 0, 2, 3]); // [N, O, outH, outW]
  if (bias) y = y.add(bias.reshape([1, o, 1, 1]));
  return y;
}

/**
 * conv2d (groups 1) through the backend's fused convolution kernels (on the
 * CPU: im2col and GEMM a few samples at a time, bias added on the way out),
 * or null where it has none. One node, PyTorch's ConvolutionBackward0,
 * whose backward runs the fused backward kernel; under createGraph it is
 * the same formulas with ops (grad W = dY·colsᵀ, grad x = col2im(Wᵀ·dY))
 * on the differentiable im2col/col2im, so gradients of gradients work.
 */
function fusedConv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  t: WindowTable,
  stride: number[],
  pad4: number[],
  dilation: number[],
): Tensor | null {
  const kern = fusedKernels(x.device);
  if (!kern.conv2d || !kern.conv2dBackward) return null;
  const dtype = x.dtype;
  if ((dtype !== "float32" && dtype !== "float64") || weight.dtype !== dtype) return null;
  if (bias && (bias.dtype !== dtype || bias.device !== x.device)) return null;
  if (weight.device !== x.device) return null;
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [o, , kh, kw] = weight.shape as [number, number, number, number];
  const xc = x.contiguous();
  const wc = weight.contiguous();
  const bc = bias?.contiguous() ?? null;
  const geom: ConvGeometry = {
    h,
    w,
    kh,
    kw,
    outH: t.outH,
    outW: t.outW,
    stride,
    padding: pad4,
    dilation,
  };
  const ys = kern.conv2d(xc, wc, bc, t.index, t.k, t.l, geom);
  const y = Tensor.fromStorage(ys, [n, o, t.outH, t.outW], dtype);
  return record(
    "ConvolutionBackward0",
    y,
    [xc, wc, bc],
    (g, [xs, ws]) => {
      const want = {
        input: xs!.requiresGrad,
        weight: ws!.requiresGrad,
        bias: bc?.requiresGrad ?? false,
      };
      if (isGradEnabled() || g.dtype !== dtype) {
        // Graph-connected formulas on the saved inputs.
        const g2 = g.permute([1, 0, 2, 3]).reshape([o, n * t.l]);
        const wm = ws!.reshape([o, c * t.k]);
        const gx = want.input ? col2im(wm.t().matmul(g2), t, n, c, h, w) : null;
        const gw = want.weight ? g2.matmul(im2col(xs!, t).t()).reshape(ws!.shape) : null;
        return [gx, gw, want.bias ? g.sum([0, 2, 3]) : null];
      }
      const gc = g.contiguous();
      // A stride-1 convolution that keeps the plane size has an input
      // gradient that is the same convolution of dY with the kernel flipped
      // and its channel axes swapped: the fast forward kernel, which beats
      // col2im's scattered adds.
      const tt = want.input ? sameSizeAdjoint(t, h, w, [kh, kw], stride, pad4, dilation) : null;
      const r = kern.conv2dBackward!(
        gc,
        xs!,
        ws!,
        t.index,
        t.k,
        t.l,
        { ...want, input: want.input && !tt },
        geom,
      );
      let gx = r.gx ? Tensor.fromStorage(r.gx, x.shape, dtype) : null;
      if (tt) {
        const rev = (k: number) =>
          Tensor.fromArray(
            Int32Array.from({ length: k }, (_, i) => k - 1 - i),
            [k],
            x.device,
          );
        const wf = ws!.indexSelect(2, rev(kh)).indexSelect(3, rev(kw)).transpose(0, 1).contiguous();
        gx = Tensor.fromStorage(kern.conv2d!(gc, wf, null, tt.index, tt.k, tt.l), x.shape, dtype);
      }
      return [
        gx,
        r.gw ? Tensor.fromStorage(r.gw, weight.shape, dtype) : null,
        r.gb ? Tensor.fromStorage(r.gb, [o], dtype) : null,
      ];
    },
    [xc, wc],
  );
}

/**
 * The window table of the convolution that maps dY back onto the input
 * plane (padding d·(k−1) − p on each side, stride 1), when the forward one
 * has stride 1 and keeps the plane size, so both tables have the same
 * shape; null otherwise (that adjoint would multiply mostly padding).
 */
function sameSizeAdjoint(
  t: WindowTable,
  h: number,
  w: number,
  k: number[],
  stride: number[],
  pad4: number[],
  dilation: number[],
): WindowTable | null {
  if (stride[0] !== 1 || stride[1] !== 1 || t.outH !== h || t.outW !== w) return null;
  const span = [dilation[0]! * (k[0]! - 1), dilation[1]! * (k[1]! - 1)];
  const pads = [span[0]! - pad4[0]!, span[0]! - pad4[1]!, span[1]! - pad4[2]!, span[1]! - pad4[3]!];
  if (pads.some((p) => p < 0)) return null;
  return convTable("conv2d", h, w, k, [1, 1], pads, dilation);
}

/**
 * 1-D convolution of input [N, C, L] (or [C, L]) with weight [O, C/groups, k]:
 * output [N, O, outL]. Runs as a conv2d over a height-1 plane.
 *
 * @example
 * F.conv1d(fl.randn([2, 3, 10]), fl.randn([5, 3, 3]), null, { padding: 1 }).shape; // [2, 5, 10]
 */
export function conv1d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: ConvOptions = {},
): Tensor {
  if (input.ndim === 2) return conv1d(input.unsqueeze(0), weight, bias, opts).squeeze(0);
  checkRank("conv1d", input, 3);
  if (weight.ndim !== 3)
    throw new ShapeError(
      `conv1d: weight must be 3-d [O, C/groups, k], got ${fmtShape(weight.shape)}`,
    );
  const one = (v: Size2 | undefined, d: number): number[] => [
    1,
    pair("conv1d", "argument", v ?? d, 1)[0]!,
  ];
  const padding =
    typeof opts.padding === "string"
      ? opts.padding
      : [0, pair("conv1d", "padding", opts.padding ?? 0, 1)[0]!];
  const y = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, {
    stride: one(opts.stride, 1),
    dilation: one(opts.dilation, 1),
    padding,
    groups: opts.groups ?? 1,
  });
  return y.squeeze(2);
}

export interface ConvTransposeOptions {
  stride?: Size2;
  padding?: Size2;
  /** Extra size added to one side of the output, to pick among the sizes a strided conv maps to the same input (0). */
  outputPadding?: Size2;
  groups?: number;
  dilation?: Size2;
}

/**
 * Transposed 2-D convolution (the gradient of conv2d with respect to its
 * input): input [N, Cin, H, W], weight [Cin, Cout/groups, kh, kw], output
 * [N, Cout, (H-1)·s - 2p + d·(k-1) + outputPadding + 1, …]. A matmul into
 * columns, then fold.
 *
 * @example
 * F.convTranspose2d(fl.randn([1, 3, 4, 4]), fl.randn([3, 2, 3, 3]), null, { stride: 2 }).shape; // [1, 2, 9, 9]
 */
export function convTranspose2d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: ConvTransposeOptions = {},
): Tensor {
  if (input.ndim === 3) return convTranspose2d(input.unsqueeze(0), weight, bias, opts).squeeze(0);
  checkRank("convTranspose2d", input, 4);
  if (weight.ndim !== 4)
    throw new ShapeError(
      `convTranspose2d: weight must be 4-d [Cin, Cout/groups, kh, kw], got ${fmtShape(weight.shape)}`,
    );
  const groups = opts.groups ?? 1;
  checkConv("convTranspose2d", input, weight, groups, 0);
  const [n, cin, h, w] = input.shape as [number, number, number, number];
  const [, cog, kh, kw] = weight.shape as [number, number, number, number];
  const stride = pair("convTranspose2d", "stride", opts.stride ?? 1);
  const p = pair("convTranspose2d", "padding", opts.padding ?? 0);
  const op = pair("convTranspose2d", "outputPadding", opts.outputPadding ?? 0);
  const dilation = pair("convTranspose2d", "dilation", opts.dilation ?? 1);
  for (let d = 0; d < 2; d++) {
    if (op[d]! >= stride[d]! && op[d]! >= dilation[d]!) {
      throw new ArgumentError(
        `convTranspose2d: outputPadding ${op[d]} must be smaller than either stride ${stride[d]} or dilation ${dilation[d]}`,
      );
    }
  }
  const outH = (h - 1) * stride[0]! - 2 * p[0]! + dilation[0]! * (kh - 1) + op[0]! + 1;
  const outW = (w - 1) * stride[1]! - 2 * p[1]! + dilation[1]! * (kw - 1) + op[1]! + 1;
  // The conv2d this is the adjoint of maps [outH, outW] back onto [H, W].
  const t = windowTable(
    slidingPositions(outH, h, kh, stride[0]!, p[0]!, dilation[0]!),
    kh,
    h,
    slidingPositions(outW, w, kw, stride[1]!, p[1]!, dilation[1]!),
    kw,
    w,
    outW,
  );
  const cout = cog * groups;
  const k = t.k;
  const xm = input.permute([1, 0, 2, 3]).reshape([groups, cin / groups, n * t.l]); // [G, Cin/G, N·L]
  const wt = weight.reshape([groups, cin / groups, cog * k]).transpose(1, 2); // [G, Cout/G·K, Cin/G]
  const cols = wt.matmul(xm); // [G, Cout/G·K, N·L]
  const rows = cols
    .reshape([cout, k, n, t.l])
    .permute([1, 3, 2, 0])
    .reshape([k * t.l, n * cout]);
  let y = scatterWindows(rows, t, outH * outW)
    .t()
    .reshape([n, cout, outH, outW]);
  if (bias) y = y.add(bias.reshape([1, cout, 1, 1]));
  return y;
}

/** Pads with a non-zero padding mode before a conv (PyTorch's padding_mode). */
export function padForConv(input: Tensor, padding: number[], mode: PaddingMode): Tensor {
  // F.pad lists the last dimension first.
  const spec =
    padding.length === 1
      ? [padding[0]!, padding[0]!]
      : [padding[1]!, padding[1]!, padding[0]!, padding[0]!];
  return padFn(input, spec, { mode });
}
