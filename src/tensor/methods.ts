// The op methods of Tensor — x.exp(), x.sum(1), x.matmul(w), x.view(2, -1) … —
// each a one-line delegation to its op in src/ops. They are installed on
// Tensor.prototype by tensor.ts, so the class itself holds only the data
// structure, reading, autograd state and in-place updates.
import { type DType, isFloating } from "../dtype.js";
import { ArgumentError } from "../errors.js";
import { logSoftmax as logSoftmaxFn, softmax as softmaxFn } from "../nn/functional/softmax.js";
import * as ew from "../ops/elementwise.js";
import * as idx from "../ops/indexing.js";
import * as join from "../ops/join.js";
import * as mm from "../ops/matmul.js";
import * as red from "../ops/reduce.js";
import * as vw from "../ops/view.js";
import { type IndexSpec, index as indexTensor } from "./slicing.js";
import { Tensor, type TensorLike } from "./tensor.js";

declare module "./tensor.js" {
  interface Tensor {
    // ---- elementwise --------------------------------------------------------
    neg(): Tensor;
    negative(): Tensor;
    abs(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    log2(): Tensor;
    log10(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    reciprocal(): Tensor;
    square(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tan(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    sign(): Tensor;
    floor(): Tensor;
    ceil(): Tensor;
    round(): Tensor;
    trunc(): Tensor;
    erf(): Tensor;
    log1p(): Tensor;
    expm1(): Tensor;
    atan(): Tensor;
    asin(): Tensor;
    acos(): Tensor;
    sinh(): Tensor;
    cosh(): Tensor;
    logicalNot(): Tensor;
    isnan(): Tensor;
    isinf(): Tensor;
    isfinite(): Tensor;
    add(other: TensorLike, opts?: { alpha?: number }): Tensor;
    sub(other: TensorLike, opts?: { alpha?: number }): Tensor;
    rsub(other: TensorLike): Tensor;
    mul(other: TensorLike): Tensor;
    div(other: TensorLike, opts?: { roundingMode?: "trunc" | "floor" }): Tensor;
    pow(exponent: TensorLike): Tensor;
    maximum(other: TensorLike): Tensor;
    minimum(other: TensorLike): Tensor;
    atan2(other: TensorLike): Tensor;
    fmod(other: TensorLike): Tensor;
    remainder(other: TensorLike): Tensor;
    eq(other: TensorLike): Tensor;
    ne(other: TensorLike): Tensor;
    lt(other: TensorLike): Tensor;
    le(other: TensorLike): Tensor;
    gt(other: TensorLike): Tensor;
    ge(other: TensorLike): Tensor;
    logicalAnd(other: TensorLike): Tensor;
    logicalOr(other: TensorLike): Tensor;
    logicalXor(other: TensorLike): Tensor;
    clamp(min?: TensorLike | null, max?: TensorLike | null): Tensor;
    clamp(opts: { min?: TensorLike | null; max?: TensorLike | null }): Tensor;
    clip(min?: TensorLike | null, max?: TensorLike | null): Tensor;
    /** x.where(condition, y): x where condition holds, else y (torch.Tensor.where). */
    where(condition: Tensor, other: TensorLike): Tensor;
    lerp(end: TensorLike, weight: TensorLike): Tensor;
    // ---- reductions ---------------------------------------------------------
    sum(dim?: red.Dim, opts?: red.ReduceOptions): Tensor;
    mean(dim?: red.Dim, opts?: red.ReduceOptions): Tensor;
    prod(dim?: red.Dim, opts?: red.ReduceOptions): Tensor;
    /** max() of everything, or max(dim) as { values, indices }. */
    max(): Tensor;
    max(dim: number, opts?: red.ReduceOptions): red.MaxResult;
    min(): Tensor;
    min(dim: number, opts?: red.ReduceOptions): red.MaxResult;
    amax(dim?: red.Dim, opts?: red.ReduceOptions): Tensor;
    amin(dim?: red.Dim, opts?: red.ReduceOptions): Tensor;
    argmax(dim?: number, opts?: red.ReduceOptions): Tensor;
    argmin(dim?: number, opts?: red.ReduceOptions): Tensor;
    var(dim?: red.Dim, opts?: red.VarOptions): Tensor;
    std(dim?: red.Dim, opts?: red.VarOptions): Tensor;
    logsumexp(dim: red.Dim, opts?: red.ReduceOptions): Tensor;
    softmax(dim: number, opts?: { dtype?: DType }): Tensor;
    logSoftmax(dim: number, opts?: { dtype?: DType }): Tensor;
    all(dim?: number, opts?: red.ReduceOptions): Tensor;
    any(dim?: number, opts?: red.ReduceOptions): Tensor;
    // ---- matrix products ----------------------------------------------------
    matmul(other: Tensor): Tensor;
    mm(other: Tensor): Tensor;
    bmm(other: Tensor): Tensor;
    mv(other: Tensor): Tensor;
    dot(other: Tensor): Tensor;
    outer(other: Tensor): Tensor;
    // ---- views and shape ----------------------------------------------------
    view(...shape: (number | number[])[]): Tensor;
    reshape(...shape: (number | number[])[]): Tensor;
    viewAs(other: Tensor): Tensor;
    reshapeAs(other: Tensor): Tensor;
    permute(...dims: (number | number[])[]): Tensor;
    transpose(dim0: number, dim1: number): Tensor;
    swapaxes(dim0: number, dim1: number): Tensor;
    t(): Tensor;
    /** Matrix transpose of the last two dims (x.mT). */
    readonly mT: Tensor;
    readonly T: Tensor;
    squeeze(dim?: number | readonly number[]): Tensor;
    unsqueeze(dim: number): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    unflatten(dim: number, sizes: readonly number[]): Tensor;
    expand(...shape: (number | number[])[]): Tensor;
    expandAs(other: Tensor): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    select(dim: number, index: number): Tensor;
    /** x.index("1:3, :, None"), x.index(intTensor), x.index([0, "::2", maskTensor]) — Python indexing. */
    index(spec: IndexSpec): Tensor;
    contiguous(): Tensor;
    clone(): Tensor;
    split(splitSizeOrSections: number | readonly number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    unbind(dim?: number): Tensor[];
    // ---- indexing -----------------------------------------------------------
    gather(dim: number, index: Tensor): Tensor;
    scatter(dim: number, index: Tensor, src: TensorLike): Tensor;
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    indexSelect(dim: number, index: Tensor): Tensor;
    maskedFill(mask: Tensor, value: TensorLike): Tensor;
    maskedSelect(mask: Tensor): Tensor;
    nonzero(): Tensor;
    tril(diagonal?: number): Tensor;
    triu(diagonal?: number): Tensor;
  }
}

/** Sizes given as numbers or as one array: x.view(2, 3) or x.view([2, 3]). */
function flatArgs(args: (number | number[])[]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return args[0];
  for (const a of args) {
    if (typeof a !== "number")
      throw new ArgumentError(
        `expected sizes as numbers or one array, got ${JSON.stringify(args)}`,
      );
  }
  return args as number[];
}

/** Puts the op methods on Tensor.prototype (called once by tensor.ts). */
export function installTensorMethods(T: typeof Tensor): void {
  const p = T.prototype;
  // ---- elementwise --------------------------------------------------------
  p.neg = function (this: Tensor): Tensor {
    return ew.unary("neg", this);
  };
  p.negative = function (this: Tensor): Tensor {
    return ew.unary("neg", this);
  };
  p.abs = function (this: Tensor): Tensor {
    return ew.unary("abs", this);
  };
  p.exp = function (this: Tensor): Tensor {
    return ew.unary("exp", this);
  };
  p.log = function (this: Tensor): Tensor {
    return ew.unary("log", this);
  };
  p.log2 = function (this: Tensor): Tensor {
    return ew.unary("log", this).div(Math.LN2);
  };
  p.log10 = function (this: Tensor): Tensor {
    return ew.unary("log", this).div(Math.LN10);
  };
  p.sqrt = function (this: Tensor): Tensor {
    return ew.unary("sqrt", this);
  };
  p.rsqrt = function (this: Tensor): Tensor {
    return ew.unary("rsqrt", this);
  };
  p.reciprocal = function (this: Tensor): Tensor {
    return ew.unary("reciprocal", this);
  };
  p.square = function (this: Tensor): Tensor {
    return ew.unary("square", this);
  };
  p.sin = function (this: Tensor): Tensor {
    return ew.unary("sin", this);
  };
  p.cos = function (this: Tensor): Tensor {
    return ew.unary("cos", this);
  };
  p.tan = function (this: Tensor): Tensor {
    return ew.unary("tan", this);
  };
  p.tanh = function (this: Tensor): Tensor {
    return ew.unary("tanh", this);
  };
  p.sigmoid = function (this: Tensor): Tensor {
    return ew.unary("sigmoid", this);
  };
  p.relu = function (this: Tensor): Tensor {
    return ew.unary("relu", this);
  };
  p.sign = function (this: Tensor): Tensor {
    return ew.unary("sign", this);
  };
  p.floor = function (this: Tensor): Tensor {
    return ew.unary("floor", this);
  };
  p.ceil = function (this: Tensor): Tensor {
    return ew.unary("ceil", this);
  };
  p.round = function (this: Tensor): Tensor {
    return ew.unary("round", this);
  };
  p.trunc = function (this: Tensor): Tensor {
    return ew.unary("trunc", this);
  };
  p.erf = function (this: Tensor): Tensor {
    return ew.unary("erf", this);
  };
  p.log1p = function (this: Tensor): Tensor {
    return ew.unary("log1p", this);
  };
  p.expm1 = function (this: Tensor): Tensor {
    return ew.unary("expm1", this);
  };
  p.atan = function (this: Tensor): Tensor {
    return ew.unary("atan", this);
  };
  p.asin = function (this: Tensor): Tensor {
    return ew.unary("asin", this);
  };
  p.acos = function (this: Tensor): Tensor {
    return ew.unary("acos", this);
  };
  p.sinh = function (this: Tensor): Tensor {
    return ew.unary("sinh", this);
  };
  p.cosh = function (this: Tensor): Tensor {
    return ew.unary("cosh", this);
  };
  p.logicalNot = function (this: Tensor): Tensor {
    return ew.unary("logicalNot", this);
  };
  p.isnan = function (this: Tensor): Tensor {
    return ew.unary("isnan", this);
  };
  p.isinf = function (this: Tensor): Tensor {
    return ew.unary("isinf", this);
  };
  p.isfinite = function (this: Tensor): Tensor {
    return this.isnan().logicalOr(this.isinf()).logicalNot();
  };
  p.add = function (this: Tensor, other: TensorLike, opts: { alpha?: number } = {}): Tensor {
    return ew.add(this, other, opts.alpha ?? 1);
  };
  p.sub = function (this: Tensor, other: TensorLike, opts: { alpha?: number } = {}): Tensor {
    return ew.sub(this, other, opts.alpha ?? 1);
  };
  p.rsub = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("sub", other, this);
  };
  p.mul = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("mul", this, other);
  };
  p.div = function (
    this: Tensor,
    other: TensorLike,
    opts: { roundingMode?: "trunc" | "floor" } = {},
  ): Tensor {
    const q = ew.binary("div", this, other);
    if (!opts.roundingMode) return q;
    const r = opts.roundingMode === "trunc" ? q.trunc() : q.floor();
    return isFloating(ew.resultType(this, other)) ? r : r.to("int32");
  };
  p.pow = function (this: Tensor, exponent: TensorLike): Tensor {
    return ew.pow(this, exponent);
  };
  p.maximum = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("maximum", this, other);
  };
  p.minimum = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("minimum", this, other);
  };
  p.atan2 = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("atan2", this, other);
  };
  p.fmod = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("fmod", this, other);
  };
  p.remainder = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("remainder", this, other);
  };
  p.eq = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("eq", this, other);
  };
  p.ne = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("ne", this, other);
  };
  p.lt = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("lt", this, other);
  };
  p.le = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("le", this, other);
  };
  p.gt = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("gt", this, other);
  };
  p.ge = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("ge", this, other);
  };
  p.logicalAnd = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("logicalAnd", this, other);
  };
  p.logicalOr = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("logicalOr", this, other);
  };
  p.logicalXor = function (this: Tensor, other: TensorLike): Tensor {
    return ew.binary("logicalXor", this, other);
  };
  p.clamp = function (
    this: Tensor,
    min?: TensorLike | null | { min?: TensorLike | null; max?: TensorLike | null },
    max?: TensorLike | null,
  ): Tensor {
    if (min !== null && typeof min === "object" && !(min instanceof Tensor))
      return ew.clamp(this, min.min, min.max);
    return ew.clamp(this, min as TensorLike | null | undefined, max);
  } as Tensor["clamp"];
  p.clip = function (this: Tensor, min?: TensorLike | null, max?: TensorLike | null): Tensor {
    return ew.clamp(this, min, max);
  };
  p.where = function (this: Tensor, condition: Tensor, other: TensorLike): Tensor {
    return ew.where(condition, this, other);
  };
  p.lerp = function (this: Tensor, end: TensorLike, weight: TensorLike): Tensor {
    return this.add(ew.binary("sub", end, this).mul(weight));
  };
  // ---- reductions ---------------------------------------------------------
  p.sum = function (this: Tensor, dim?: red.Dim, opts?: red.ReduceOptions): Tensor {
    return red.sum(this, dim, opts);
  };
  p.mean = function (this: Tensor, dim?: red.Dim, opts?: red.ReduceOptions): Tensor {
    return red.mean(this, dim, opts);
  };
  p.prod = function (this: Tensor, dim?: red.Dim, opts?: red.ReduceOptions): Tensor {
    return red.prod(this, dim, opts);
  };
  p.max = function (this: Tensor, dim?: number, opts?: red.ReduceOptions): Tensor | red.MaxResult {
    return red.max(this, dim, opts);
  } as Tensor["max"];
  p.min = function (this: Tensor, dim?: number, opts?: red.ReduceOptions): Tensor | red.MaxResult {
    return red.min(this, dim, opts);
  } as Tensor["min"];
  p.amax = function (this: Tensor, dim?: red.Dim, opts?: red.ReduceOptions): Tensor {
    return red.amax(this, dim, opts);
  };
  p.amin = function (this: Tensor, dim?: red.Dim, opts?: red.ReduceOptions): Tensor {
    return red.amin(this, dim, opts);
  };
  p.argmax = function (this: Tensor, dim?: number, opts?: red.ReduceOptions): Tensor {
    return red.argmax(this, dim, opts);
  };
  p.argmin = function (this: Tensor, dim?: number, opts?: red.ReduceOptions): Tensor {
    return red.argmin(this, dim, opts);
  };
  p.var = function (this: Tensor, dim?: red.Dim, opts?: red.VarOptions): Tensor {
    return red.variance(this, dim, opts);
  };
  p.std = function (this: Tensor, dim?: red.Dim, opts?: red.VarOptions): Tensor {
    return red.std(this, dim, opts);
  };
  p.logsumexp = function (this: Tensor, dim: red.Dim, opts?: red.ReduceOptions): Tensor {
    return red.logsumexp(this, dim, opts);
  };
  p.softmax = function (this: Tensor, dim: number, opts?: { dtype?: DType }): Tensor {
    return softmaxFn(this, dim, opts);
  };
  p.logSoftmax = function (this: Tensor, dim: number, opts?: { dtype?: DType }): Tensor {
    return logSoftmaxFn(this, dim, opts);
  };
  p.all = function (this: Tensor, dim?: number, opts?: red.ReduceOptions): Tensor {
    return red.all(this, dim, opts);
  };
  p.any = function (this: Tensor, dim?: number, opts?: red.ReduceOptions): Tensor {
    return red.any(this, dim, opts);
  };
  // ---- matrix products ----------------------------------------------------
  p.matmul = function (this: Tensor, other: Tensor): Tensor {
    return mm.matmul(this, other);
  };
  p.mm = function (this: Tensor, other: Tensor): Tensor {
    return mm.mm(this, other);
  };
  p.bmm = function (this: Tensor, other: Tensor): Tensor {
    return mm.bmm(this, other);
  };
  p.mv = function (this: Tensor, other: Tensor): Tensor {
    return mm.mv(this, other);
  };
  p.dot = function (this: Tensor, other: Tensor): Tensor {
    return mm.dot(this, other);
  };
  p.outer = function (this: Tensor, other: Tensor): Tensor {
    return mm.outer(this, other);
  };
  // ---- views and shape ----------------------------------------------------
  p.view = function (this: Tensor, ...shape: (number | number[])[]): Tensor {
    return vw.view(this, flatArgs(shape));
  };
  p.reshape = function (this: Tensor, ...shape: (number | number[])[]): Tensor {
    return vw.reshape(this, flatArgs(shape));
  };
  p.viewAs = function (this: Tensor, other: Tensor): Tensor {
    return vw.view(this, other.shape);
  };
  p.reshapeAs = function (this: Tensor, other: Tensor): Tensor {
    return vw.reshape(this, other.shape);
  };
  p.permute = function (this: Tensor, ...dims: (number | number[])[]): Tensor {
    return vw.permute(this, flatArgs(dims));
  };
  p.transpose = function (this: Tensor, dim0: number, dim1: number): Tensor {
    return vw.transpose(this, dim0, dim1);
  };
  p.swapaxes = function (this: Tensor, dim0: number, dim1: number): Tensor {
    return vw.transpose(this, dim0, dim1);
  };
  p.t = function (this: Tensor): Tensor {
    return vw.t(this);
  };
  Object.defineProperty(T.prototype, "mT", {
    get(this: Tensor): Tensor {
      return vw.transpose(this, -2, -1);
    },
    configurable: true,
  });
  Object.defineProperty(T.prototype, "T", {
    get(this: Tensor): Tensor {
      return this.ndim < 2
        ? this
        : vw.permute(
            this,
            this.shape.map((_, i) => this.ndim - 1 - i),
          );
    },
    configurable: true,
  });
  p.squeeze = function (this: Tensor, dim?: number | readonly number[]): Tensor {
    return vw.squeeze(this, dim);
  };
  p.unsqueeze = function (this: Tensor, dim: number): Tensor {
    return vw.unsqueeze(this, dim);
  };
  p.flatten = function (this: Tensor, startDim = 0, endDim = -1): Tensor {
    return vw.flatten(this, startDim, endDim);
  };
  p.unflatten = function (this: Tensor, dim: number, sizes: readonly number[]): Tensor {
    return vw.unflatten(this, dim, sizes);
  };
  p.expand = function (this: Tensor, ...shape: (number | number[])[]): Tensor {
    return vw.expand(this, flatArgs(shape));
  };
  p.expandAs = function (this: Tensor, other: Tensor): Tensor {
    return vw.expand(this, other.shape);
  };
  p.narrow = function (this: Tensor, dim: number, start: number, length: number): Tensor {
    return vw.narrow(this, dim, start, length);
  };
  p.select = function (this: Tensor, dim: number, index: number): Tensor {
    return vw.select(this, dim, index);
  };
  p.index = function (this: Tensor, spec: IndexSpec): Tensor {
    return indexTensor(this, spec);
  };
  p.contiguous = function (this: Tensor): Tensor {
    return vw.contiguous(this);
  };
  p.clone = function (this: Tensor): Tensor {
    return vw.clone(this);
  };
  p.split = function (
    this: Tensor,
    splitSizeOrSections: number | readonly number[],
    dim = 0,
  ): Tensor[] {
    return join.split(this, splitSizeOrSections, dim);
  };
  p.chunk = function (this: Tensor, chunks: number, dim = 0): Tensor[] {
    return join.chunk(this, chunks, dim);
  };
  p.unbind = function (this: Tensor, dim = 0): Tensor[] {
    return join.unbind(this, dim);
  };
  // ---- indexing -----------------------------------------------------------
  p.gather = function (this: Tensor, dim: number, index: Tensor): Tensor {
    return idx.gather(this, dim, index);
  };
  p.scatter = function (this: Tensor, dim: number, index: Tensor, src: TensorLike): Tensor {
    return idx.scatter(this, dim, index, src);
  };
  p.scatterAdd = function (this: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
    return idx.scatterAdd(this, dim, index, src);
  };
  p.indexSelect = function (this: Tensor, dim: number, index: Tensor): Tensor {
    return idx.indexSelect(this, dim, index);
  };
  p.maskedFill = function (this: Tensor, mask: Tensor, value: TensorLike): Tensor {
    return idx.maskedFill(this, mask, value);
  };
  p.maskedSelect = function (this: Tensor, mask: Tensor): Tensor {
    return idx.maskedSelect(this, mask);
  };
  p.nonzero = function (this: Tensor): Tensor {
    return idx.nonzero(this);
  };
  p.tril = function (this: Tensor, diagonal = 0): Tensor {
    return idx.tril(this, diagonal);
  };
  p.triu = function (this: Tensor, diagonal = 0): Tensor {
    return idx.triu(this, diagonal);
  };
}
