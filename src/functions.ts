// Function forms of tensor methods (torch.exp(x), torch.matmul(a, b), …),
// so code reads like PyTorch either way.
import type { DType } from "./dtype.js";
import * as ew from "./ops/elementwise.js";
import type { Dim, MaxResult, ReduceOptions, VarOptions } from "./ops/reduce.js";
import { Tensor, type TensorLike } from "./tensor/tensor.js";

export { clamp, where } from "./ops/elementwise.js";
export { cat, chunk, split, stack, unbind } from "./ops/join.js";

const t = (x: TensorLike): Tensor =>
  x instanceof Tensor ? x : Tensor.scalar(x, typeof x === "boolean" ? "bool" : "float32");

export const neg = (x: Tensor) => x.neg();
export const abs = (x: Tensor) => x.abs();
export const exp = (x: Tensor) => x.exp();
export const log = (x: Tensor) => x.log();
export const log2 = (x: Tensor) => x.log2();
export const log10 = (x: Tensor) => x.log10();
export const sqrt = (x: Tensor) => x.sqrt();
export const rsqrt = (x: Tensor) => x.rsqrt();
export const reciprocal = (x: Tensor) => x.reciprocal();
export const square = (x: Tensor) => x.square();
export const sin = (x: Tensor) => x.sin();
export const cos = (x: Tensor) => x.cos();
export const tan = (x: Tensor) => x.tan();
export const tanh = (x: Tensor) => x.tanh();
export const sigmoid = (x: Tensor) => x.sigmoid();
export const relu = (x: Tensor) => x.relu();
export const sign = (x: Tensor) => x.sign();
export const floor = (x: Tensor) => x.floor();
export const ceil = (x: Tensor) => x.ceil();
export const round = (x: Tensor) => x.round();
export const trunc = (x: Tensor) => x.trunc();
export const erf = (x: Tensor) => x.erf();
export const log1p = (x: Tensor) => x.log1p();
export const expm1 = (x: Tensor) => x.expm1();
export const atan = (x: Tensor) => x.atan();
export const asin = (x: Tensor) => x.asin();
export const acos = (x: Tensor) => x.acos();
export const sinh = (x: Tensor) => x.sinh();
export const cosh = (x: Tensor) => x.cosh();
export const isnan = (x: Tensor) => x.isnan();
export const isinf = (x: Tensor) => x.isinf();
export const isfinite = (x: Tensor) => x.isfinite();
export const logicalNot = (x: Tensor) => x.logicalNot();

export const add = (a: TensorLike, b: TensorLike, opts: { alpha?: number } = {}) =>
  ew.add(a, b, opts.alpha ?? 1);
export const sub = (a: TensorLike, b: TensorLike, opts: { alpha?: number } = {}) =>
  ew.sub(a, b, opts.alpha ?? 1);
export const mul = (a: TensorLike, b: TensorLike) => ew.binary("mul", a, b);
export const div = (a: TensorLike, b: TensorLike) => ew.binary("div", a, b);
export const pow = (a: TensorLike, b: TensorLike) => ew.pow(a, b);
export const maximum = (a: TensorLike, b: TensorLike) => ew.binary("maximum", a, b);
export const minimum = (a: TensorLike, b: TensorLike) => ew.binary("minimum", a, b);
export const atan2 = (a: TensorLike, b: TensorLike) => ew.binary("atan2", a, b);
export const fmod = (a: TensorLike, b: TensorLike) => ew.binary("fmod", a, b);
export const remainder = (a: TensorLike, b: TensorLike) => ew.binary("remainder", a, b);
export const eq = (a: TensorLike, b: TensorLike) => ew.binary("eq", a, b);
export const ne = (a: TensorLike, b: TensorLike) => ew.binary("ne", a, b);
export const lt = (a: TensorLike, b: TensorLike) => ew.binary("lt", a, b);
export const le = (a: TensorLike, b: TensorLike) => ew.binary("le", a, b);
export const gt = (a: TensorLike, b: TensorLike) => ew.binary("gt", a, b);
export const ge = (a: TensorLike, b: TensorLike) => ew.binary("ge", a, b);
export const logicalAnd = (a: TensorLike, b: TensorLike) => ew.binary("logicalAnd", a, b);
export const logicalOr = (a: TensorLike, b: TensorLike) => ew.binary("logicalOr", a, b);
export const logicalXor = (a: TensorLike, b: TensorLike) => ew.binary("logicalXor", a, b);
/** True when every element of a and b is close: |a - b| <= atol + rtol |b|. */
export const allclose = (a: Tensor, b: Tensor, opts: { rtol?: number; atol?: number } = {}) =>
  isclose(a, b, opts).all().itemSync() as boolean;
export const isclose = (a: Tensor, b: Tensor, opts: { rtol?: number; atol?: number } = {}) =>
  a
    .sub(b)
    .abs()
    .le(
      t(b)
        .abs()
        .mul(opts.rtol ?? 1e-5)
        .add(opts.atol ?? 1e-8),
    )
    .logicalOr(a.eq(b));
export const equal = (a: Tensor, b: Tensor) =>
  a.shape.length === b.shape.length &&
  a.shape.every((s, i) => s === b.shape[i]) &&
  (a.eq(b).all().itemSync() as boolean);

export const sum = (x: Tensor, dim?: Dim, opts?: ReduceOptions) => x.sum(dim, opts);
export const mean = (x: Tensor, dim?: Dim, opts?: ReduceOptions) => x.mean(dim, opts);
export const prod = (x: Tensor, dim?: Dim, opts?: ReduceOptions) => x.prod(dim, opts);
export function max(x: Tensor): Tensor;
export function max(x: Tensor, dim: number, opts?: ReduceOptions): MaxResult;
export function max(x: Tensor, dim?: number, opts?: ReduceOptions): Tensor | MaxResult {
  return dim === undefined ? x.max() : x.max(dim, opts);
}
export function min(x: Tensor): Tensor;
export function min(x: Tensor, dim: number, opts?: ReduceOptions): MaxResult;
export function min(x: Tensor, dim?: number, opts?: ReduceOptions): Tensor | MaxResult {
  return dim === undefined ? x.min() : x.min(dim, opts);
}
export const amax = (x: Tensor, dim?: Dim, opts?: ReduceOptions) => x.amax(dim, opts);
export const amin = (x: Tensor, dim?: Dim, opts?: ReduceOptions) => x.amin(dim, opts);
export const argmax = (x: Tensor, dim?: number, opts?: ReduceOptions) => x.argmax(dim, opts);
export const argmin = (x: Tensor, dim?: number, opts?: ReduceOptions) => x.argmin(dim, opts);
export const variance = (x: Tensor, dim?: Dim, opts?: VarOptions) => x.var(dim, opts);
export { variance as var_ };
export const std = (x: Tensor, dim?: Dim, opts?: VarOptions) => x.std(dim, opts);
export const logsumexp = (x: Tensor, dim: Dim, opts?: ReduceOptions) => x.logsumexp(dim, opts);
export const all = (x: Tensor, dim?: number, opts?: ReduceOptions) => x.all(dim, opts);
export const any = (x: Tensor, dim?: number, opts?: ReduceOptions) => x.any(dim, opts);

export const matmul = (a: Tensor, b: Tensor) => a.matmul(b);
export const mm = (a: Tensor, b: Tensor) => a.mm(b);
export const bmm = (a: Tensor, b: Tensor) => a.bmm(b);
export const mv = (a: Tensor, b: Tensor) => a.mv(b);
export const dot = (a: Tensor, b: Tensor) => a.dot(b);
export const outer = (a: Tensor, b: Tensor) => a.outer(b);

export const reshape = (x: Tensor, shape: number[]) => x.reshape(shape);
export const permute = (x: Tensor, dims: number[]) => x.permute(dims);
export const transpose = (x: Tensor, d0: number, d1: number) => x.transpose(d0, d1);
export const squeeze = (x: Tensor, dim?: number) => x.squeeze(dim);
export const unsqueeze = (x: Tensor, dim: number) => x.unsqueeze(dim);
export const flatten = (x: Tensor, startDim = 0, endDim = -1) => x.flatten(startDim, endDim);
export const narrow = (x: Tensor, dim: number, start: number, length: number) =>
  x.narrow(dim, start, length);
export const select = (x: Tensor, dim: number, index: number) => x.select(dim, index);
export const gather = (x: Tensor, dim: number, index: Tensor) => x.gather(dim, index);
export const scatter = (x: Tensor, dim: number, index: Tensor, src: TensorLike) =>
  x.scatter(dim, index, src);
export const scatterAdd = (x: Tensor, dim: number, index: Tensor, src: Tensor) =>
  x.scatterAdd(dim, index, src);
export const indexSelect = (x: Tensor, dim: number, index: Tensor) => x.indexSelect(dim, index);
export const maskedFill = (x: Tensor, mask: Tensor, value: TensorLike) => x.maskedFill(mask, value);
export const maskedSelect = (x: Tensor, mask: Tensor) => x.maskedSelect(mask);
export const nonzero = (x: Tensor) => x.nonzero();
export const tril = (x: Tensor, diagonal = 0) => x.tril(diagonal);
export const triu = (x: Tensor, diagonal = 0) => x.triu(diagonal);
export const clone = (x: Tensor) => x.clone();
export const detach = (x: Tensor) => x.detach();
export const numel = (x: Tensor) => x.numel();
export const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;
export const resultType = (a: TensorLike, b: TensorLike): DType => ew.resultType(a, b);
