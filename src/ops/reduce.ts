import { noGrad } from "../autograd/grad_mode.js";
import { record } from "../autograd/node.js";
import type { ReduceOp } from "../backend/backend.js";
import { type DType, isFloating, toFloating } from "../dtype.js";
import { ArgumentError, fmtShape } from "../errors.js";
import { normDim, normDims } from "../shape.js";
import { Tensor } from "../tensor/tensor.js";
import { where } from "./elementwise.js";

export interface ReduceOptions {
  keepdim?: boolean;
  dtype?: DType;
}

export type Dim = number | readonly number[] | null | undefined;

/** Shape after reducing dims, with or without keepdim. */
function reducedShape(
  shape: readonly number[],
  dims: readonly number[],
  keepdim: boolean,
): number[] {
  const set = new Set(dims);
  const out: number[] = [];
  shape.forEach((s, i) => {
    if (!set.has(i)) out.push(s);
    else if (keepdim) out.push(1);
  });
  return out;
}

function rawReduce(
  op: ReduceOp,
  x: Tensor,
  dims: readonly number[],
  keepdim: boolean,
  outDtype: DType,
): Tensor {
  const storage = x.backend.reduce(op, x, dims, outDtype);
  return Tensor.fromStorage(storage, reducedShape(x.shape, dims, keepdim), outDtype);
}

/** Re-inserts reduced dims as size 1 so a reduced gradient broadcasts over x. */
function keepDims(
  g: Tensor,
  xShape: readonly number[],
  dims: readonly number[],
  keepdim: boolean,
): Tensor {
  if (keepdim) return g;
  return g.reshape(reducedShape(xShape, dims, true));
}

export function sum(x: Tensor, dim?: Dim, opts: ReduceOptions = {}): Tensor {
  const dims = normDims("sum", dim, x.ndim);
  const keepdim = opts.keepdim ?? false;
  const outDtype = opts.dtype ?? (x.dtype === "bool" ? "int32" : x.dtype);
  const y = rawReduce("sum", x, dims, keepdim, outDtype);
  const xShape = [...x.shape];
  return record(
    dim === undefined || dim === null ? "SumBackward0" : "SumBackward1",
    y,
    [x],
    (g) => [keepDims(g, xShape, dims, keepdim).expand(xShape)],
  );
}

function count(shape: readonly number[], dims: readonly number[]): number {
  return dims.reduce((n, d) => n * shape[d]!, 1);
}

export function mean(x: Tensor, dim?: Dim, opts: ReduceOptions = {}): Tensor {
  if (!isFloating(opts.dtype ?? x.dtype)) {
    throw new ArgumentError(
      `mean: could not infer output dtype; input dtype ${x.dtype} must be a floating point type (cast with .float())`,
    );
  }
  const dims = normDims("mean", dim, x.ndim);
  const n = count(x.shape, dims);
  const keepdim = opts.keepdim ?? false;
  // One node named as PyTorch's (MeanBackward0/1), not SumBackward + DivBackward.
  const y = noGrad(() => sum(x, dims, opts).div(n));
  const xShape = [...x.shape];
  return record(
    dim === undefined || dim === null ? "MeanBackward0" : "MeanBackward1",
    y,
    [x],
    (g) => [keepDims(g, xShape, dims, keepdim).expand(xShape).div(n)],
  );
}

export function prod(x: Tensor, dim?: Dim, opts: ReduceOptions = {}): Tensor {
  const dims = normDims("prod", dim, x.ndim);
  const keepdim = opts.keepdim ?? false;
  const outDtype = opts.dtype ?? (x.dtype === "bool" ? "int32" : x.dtype);
  const y = rawReduce("prod", x, dims, keepdim, outDtype);
  const xShape = [...x.shape];
  // d prod / dx_i = prod_{j≠i} x_j, computed without dividing by x_i so zeros are handled.
  return record(
    dim === undefined || dim === null ? "ProdBackward0" : "ProdBackward1",
    y,
    [x],
    (g, [sx]) => {
      const gk = keepDims(g, xShape, dims, keepdim);
      return [gk.mul(productOfOthers(sx!, dims))];
    },
    [x],
  );
}

/** For each element, the product of the other elements in its reduced slice. */
function productOfOthers(x: Tensor, dims: readonly number[]): Tensor {
  // Move the reduced dims to the end and flatten them into one of size R.
  const keep = x.shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const perm = [...keep, ...dims];
  const xp = x.permute(perm);
  const R = dims.reduce((n, d) => n * x.shape[d]!, 1);
  const flat = xp.reshape([...keep.map((i) => x.shape[i]!), R]);
  // Exclusive prefix and suffix products along the last dim.
  const ones = Tensor.ones([...flat.shape.slice(0, -1), 1], flat.dtype, flat.device);
  const parts: Tensor[] = [];
  for (let r = 0; r < R; r++) {
    const before = r === 0 ? ones : flat.narrow(-1, 0, r).prod(-1, { keepdim: true });
    const after =
      r === R - 1 ? ones : flat.narrow(-1, r + 1, R - r - 1).prod(-1, { keepdim: true });
    parts.push(before.mul(after));
  }
  const others = Tensor.cat(parts, -1).reshape(xp.shape);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inverse[p] = i;
  });
  return others.permute(inverse);
}

export interface MaxResult {
  values: Tensor;
  indices: Tensor;
}

/** max/min over everything (a 0-d tensor), or along dim as { values, indices }. */
function extreme(
  op: "max" | "min",
  x: Tensor,
  dim: number | undefined,
  opts: ReduceOptions,
): Tensor | MaxResult {
  if (x.numel() === 0)
    throw new ArgumentError(`${op}: cannot reduce an empty tensor of shape ${fmtShape(x.shape)}`);
  if (dim === undefined) {
    const dims = normDims(op, undefined, x.ndim);
    const y = rawReduce(op, x, dims, false, x.dtype);
    const xShape = [...x.shape];
    // The gradient is shared evenly among the tied extreme elements.
    return record(
      op === "max" ? "MaxBackward1" : "MinBackward1",
      y,
      [x],
      (g, [sx, sy]) => {
        const mask = sx!.eq(sy!);
        return [mask.mul(g).div(mask.sum()).expand(xShape)];
      },
      [x, y],
    );
  }
  const d = normDim(op, dim, x.ndim);
  const keepdim = opts.keepdim ?? false;
  const indices = rawReduce(op === "max" ? "argmax" : "argmin", x, [d], keepdim, "int32");
  const idxKeep = keepdim ? indices : indices.unsqueeze(d);
  const valuesKeep = gatherRaw(x, d, idxKeep);
  const values = keepdim ? valuesKeep : valuesKeep.squeeze(d);
  const xShape = [...x.shape];
  record(op === "max" ? "MaxBackward0" : "MinBackward0", values, [x], (g) => {
    const gk = keepdim ? g : g.unsqueeze(d);
    return [Tensor.zeros(xShape, g.dtype, g.device).scatter(d, idxKeep, gk)];
  });
  return { values, indices };
}

function gatherRaw(x: Tensor, dim: number, index: Tensor): Tensor {
  return Tensor.fromStorage(x.backend.gather(x, dim, index), index.shape, x.dtype);
}

export function max(x: Tensor, dim?: number, opts: ReduceOptions = {}): Tensor | MaxResult {
  return extreme("max", x, dim, opts);
}

export function min(x: Tensor, dim?: number, opts: ReduceOptions = {}): Tensor | MaxResult {
  return extreme("min", x, dim, opts);
}

/** Max over dims without indices (torch.amax): gradient split evenly among ties. */
export function amax(x: Tensor, dim?: Dim, opts: ReduceOptions = {}): Tensor {
  return amaxmin("max", x, dim, opts);
}

export function amin(x: Tensor, dim?: Dim, opts: ReduceOptions = {}): Tensor {
  return amaxmin("min", x, dim, opts);
}

function amaxmin(op: "max" | "min", x: Tensor, dim: Dim, opts: ReduceOptions): Tensor {
  const dims = normDims(op === "max" ? "amax" : "amin", dim, x.ndim);
  const keepdim = opts.keepdim ?? false;
  const y = rawReduce(op, x, dims, keepdim, x.dtype);
  const xShape = [...x.shape];
  return record(
    op === "max" ? "AmaxBackward0" : "AminBackward0",
    y,
    [x],
    (g, [sx, sy]) => {
      const yk = keepDims(sy!, xShape, dims, keepdim);
      const mask = sx!.eq(yk);
      const gk = keepDims(g, xShape, dims, keepdim);
      return [mask.mul(gk).div(mask.sum(dims, { keepdim: true }))];
    },
    [x, y],
  );
}

export function argmax(x: Tensor, dim?: number, opts: ReduceOptions = {}): Tensor {
  return argExtreme("argmax", x, dim, opts);
}

export function argmin(x: Tensor, dim?: number, opts: ReduceOptions = {}): Tensor {
  return argExtreme("argmin", x, dim, opts);
}

function argExtreme(
  op: "argmax" | "argmin",
  x: Tensor,
  dim: number | undefined,
  opts: ReduceOptions,
): Tensor {
  if (x.numel() === 0)
    throw new ArgumentError(`${op}: cannot reduce an empty tensor of shape ${fmtShape(x.shape)}`);
  if (dim === undefined) return rawReduce(op, x.reshape([-1]), [0], false, "int32");
  const d = normDim(op, dim, x.ndim);
  return rawReduce(op, x, [d], opts.keepdim ?? false, "int32");
}

export interface VarOptions extends ReduceOptions {
  /** Bessel's correction: 1 (default) for the unbiased estimate, 0 for the population variance. */
  correction?: number;
  /** PyTorch's older spelling: unbiased = true means correction 1. */
  unbiased?: boolean;
}

// var = Σ (x - mean)² / (N - correction)
export function variance(x: Tensor, dim?: Dim, opts: VarOptions = {}): Tensor {
  const dims = normDims("var", dim, x.ndim);
  const correction = opts.correction ?? (opts.unbiased === false ? 0 : 1);
  const n = count(x.shape, dims);
  const mu = x.mean(dims, { keepdim: true });
  const dev = x
    .sub(mu)
    .square()
    .sum(dims, { keepdim: opts.keepdim ?? false });
  return dev.div(Math.max(n - correction, 0));
}

export function std(x: Tensor, dim?: Dim, opts: VarOptions = {}): Tensor {
  return variance(x, dim, opts).sqrt();
}

// logsumexp = m + log Σ exp(x - m), with m the max for stability.
export function logsumexp(x: Tensor, dim: Dim, opts: ReduceOptions = {}): Tensor {
  const dims = normDims("logsumexp", dim, x.ndim);
  const xf = isFloating(x.dtype) ? x : x.to(toFloating(x.dtype));
  const m = xf.detach().amax(dims, { keepdim: true });
  // Rows that are all -inf keep m = 0 so the result is -inf, not NaN.
  const safe = where(m.isinf(), 0, m);
  const out = xf.sub(safe).exp().sum(dims, { keepdim: true }).log().add(safe);
  return opts.keepdim ? out : out.squeeze(dims);
}

export function all(x: Tensor, dim?: number, opts: ReduceOptions = {}): Tensor {
  const b = x.dtype === "bool" ? x : x.ne(0);
  const dims = normDims("all", dim, x.ndim);
  return rawReduce("min", b, dims, opts.keepdim ?? false, "bool");
}

export function any(x: Tensor, dim?: number, opts: ReduceOptions = {}): Tensor {
  const b = x.dtype === "bool" ? x : x.ne(0);
  const dims = normDims("any", dim, x.ndim);
  return rawReduce("max", b, dims, opts.keepdim ?? false, "bool");
}
