import { noGrad } from "../autograd/grad_mode.js";
import { record } from "../autograd/node.js";
import { isFloating } from "../dtype.js";
import { ArgumentError, DTypeError, fmtShape, ShapeError } from "../errors.js";
import { broadcastShapes, normDim } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor/tensor.js";
import { toTensor, where } from "./elementwise.js";

// Gather and scatter are the two indexing primitives; index_select,
// masked_fill, tril/triu and tensor indexing are built on them.

function checkIndexTensor(op: string, x: Tensor, dim: number, index: Tensor, src?: Tensor): void {
  if (index.dtype !== "int32") {
    throw new DTypeError(`${op}: index must be an int32 tensor, got ${index.dtype}`);
  }
  if (index.ndim !== x.ndim && !(x.ndim === 0 && index.ndim <= 1)) {
    throw new ShapeError(
      `${op}: index ${fmtShape(index.shape)} must have as many dimensions as the input ${fmtShape(x.shape)}`,
    );
  }
  for (let d = 0; d < index.ndim; d++) {
    if (d !== dim && index.shape[d]! > x.shape[d]!) {
      throw new ShapeError(
        `${op}: index ${fmtShape(index.shape)} is larger than the input ${fmtShape(x.shape)} at dimension ${d}`,
      );
    }
    if (src && index.shape[d]! > src.shape[d]!) {
      throw new ShapeError(
        `${op}: index ${fmtShape(index.shape)} is larger than src ${fmtShape(src.shape)} at dimension ${d}`,
      );
    }
  }
}

export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normDim("gather", dim, x.ndim);
  checkIndexTensor("gather", x, d, index);
  const y = Tensor.fromStorage(x.backend.gather(x, d, index), index.shape, x.dtype);
  const xShape = [...x.shape];
  return record(
    "GatherBackward0",
    y,
    [x],
    (g, [idx]) => [Tensor.zeros(xShape, g.dtype, g.device).scatterAdd(d, idx!, g)],
    [index],
  );
}

function scatterImpl(
  x: Tensor,
  dim: number,
  index: Tensor,
  src: TensorLike,
  accumulate: boolean,
): Tensor {
  const op = accumulate ? "scatterAdd" : "scatter";
  const d = normDim(op, dim, x.ndim);
  const s = src instanceof Tensor ? src : Tensor.scalar(src, x.dtype, x.device).expand(index.shape);
  checkIndexTensor(op, x, d, index, s);
  if (s.dtype !== x.dtype) {
    throw new DTypeError(
      `${op}: src has dtype ${s.dtype} but the input has ${x.dtype}; they must match`,
    );
  }
  const y = Tensor.fromStorage(x.backend.scatter(x, d, index, s, accumulate), x.shape, x.dtype);
  const srcIn = src instanceof Tensor ? src : null;
  return record(
    accumulate ? "ScatterAddBackward0" : "ScatterBackward0",
    y,
    [x, srcIn],
    (g, [idx]) => [accumulate ? g : g.scatter(d, idx!, 0), srcIn ? g.gather(d, idx!) : null],
    [index],
  );
}

export function scatter(x: Tensor, dim: number, index: Tensor, src: TensorLike): Tensor {
  return scatterImpl(x, dim, index, src, false);
}

export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  return scatterImpl(x, dim, index, src, true);
}

export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normDim("indexSelect", dim, x.ndim);
  if (index.dtype !== "int32")
    throw new DTypeError(`indexSelect: index must be an int32 tensor, got ${index.dtype}`);
  if (index.ndim > 1)
    throw new ShapeError(
      `indexSelect: index must be 0-d or 1-d, got shape ${fmtShape(index.shape)}`,
    );
  const flat = index.reshape([-1]);
  const shape = [...x.shape];
  shape[d] = flat.shape[0]!;
  const viewShape = x.shape.map((_, i) => (i === d ? flat.shape[0]! : 1));
  const full = flat.reshape(viewShape).expand(shape);
  const y = Tensor.fromStorage(x.backend.gather(x, d, full), shape, x.dtype);
  const xShape = [...x.shape];
  return record(
    "IndexSelectBackward0",
    y,
    [x],
    (g, [idx]) => [Tensor.zeros(xShape, g.dtype, g.device).scatterAdd(d, idx!, g)],
    [full],
  );
}

export function maskedFill(x: Tensor, mask: Tensor, value: TensorLike): Tensor {
  if (mask.dtype !== "bool")
    throw new DTypeError(`maskedFill: mask must be a bool tensor, got ${mask.dtype}`);
  if (value instanceof Tensor && value.ndim !== 0) {
    throw new ShapeError(
      `maskedFill: value must be a number or a 0-d tensor, got shape ${fmtShape(value.shape)}`,
    );
  }
  const v = value instanceof Tensor ? value.to(x.dtype) : toTensor(value, x, x.dtype);
  const y = where(mask, v.detach(), x.detach());
  if (y.ndim !== x.ndim || y.shape.some((s, i) => s !== x.shape[i])) {
    throw new ShapeError(
      `maskedFill: mask ${fmtShape(mask.shape)} does not broadcast to the input ${fmtShape(x.shape)}`,
    );
  }
  if (!isFloating(x.dtype)) return y;
  return record("MaskedFillBackward0", y, [x], (g, [m]) => [g.maskedFill(m!, 0)], [mask]);
}

function triangle(op: "tril" | "triu", x: Tensor, diagonal: number): Tensor {
  if (x.ndim < 2)
    throw new ShapeError(
      `${op}: input must have at least 2 dimensions, got shape ${fmtShape(x.shape)}`,
    );
  const rows = x.shape[x.ndim - 2]!;
  const cols = x.shape[x.ndim - 1]!;
  const i = Tensor.arangeInt(rows, x.device).reshape([rows, 1]);
  const j = Tensor.arangeInt(cols, x.device).reshape([1, cols]);
  // tril keeps j - i <= diagonal; triu keeps j - i >= diagonal.
  const diff = j.sub(i);
  const drop = op === "tril" ? diff.gt(diagonal) : diff.lt(diagonal);
  // One TrilBackward0/TriuBackward0 node, as in PyTorch, rather than MaskedFillBackward0.
  const y = noGrad(() => maskedFill(x, drop, 0));
  return record(op === "tril" ? "TrilBackward0" : "TriuBackward0", y, [x], (g) => [
    triangle(op, g, diagonal),
  ]);
}

export function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle("tril", x, diagonal);
}

export function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle("triu", x, diagonal);
}

/** Elements where mask is true, as a 1-d tensor. */
export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  if (mask.dtype !== "bool")
    throw new DTypeError(`maskedSelect: mask must be a bool tensor, got ${mask.dtype}`);
  const shape = broadcastShapes("maskedSelect", x.shape, mask.shape);
  const xb = x.expand([...shape]);
  const flatIdx = nonzeroFlat(mask.expand([...shape]));
  return xb.reshape([-1]).indexSelect(0, flatIdx);
}

/** Flat (row-major) positions of the true elements of a mask. */
export function nonzeroFlat(mask: Tensor): Tensor {
  const data = mask.dataSync();
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) out.push(i);
  return Tensor.fromArray(Int32Array.from(out), [out.length], mask.device);
}

/** Indices of the nonzero elements, shape [count, ndim] (torch.nonzero). */
export function nonzero(x: Tensor): Tensor {
  const flat = nonzeroFlat(x.dtype === "bool" ? x : x.ne(0)).dataSync();
  const out = new Int32Array(flat.length * x.ndim);
  for (let k = 0; k < flat.length; k++) {
    let rest = flat[k]!;
    for (let d = x.ndim - 1; d >= 0; d--) {
      out[k * x.ndim + d] = rest % x.shape[d]!;
      rest = Math.floor(rest / x.shape[d]!);
    }
  }
  return Tensor.fromArray(out, [flat.length, x.ndim], x.device);
}

export function checkArg(op: string, ok: boolean, message: string): void {
  if (!ok) throw new ArgumentError(`${op}: ${message}`);
}
