import { isGradEnabled } from "../autograd/grad_mode.js";
import { record } from "../autograd/node.js";
import { WindowGrad } from "../autograd/window_grad.js";
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import { contiguousStrides, inferShape, normDim, numel, sameShape } from "../shape.js";
import { Tensor } from "../tensor/tensor.js";

// Views share storage and change only shape, strides and offset. Their
// gradients are the inverse view, or, for views that drop elements
// (narrow, select, slicing), the gradient written into zeros.

interface Layout {
  shape: number[];
  strides: number[];
  offset: number;
}

/** A tensor sharing x's storage with another layout. */
export function asStrided(
  x: Tensor,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): Tensor {
  return new Tensor(x.storage, [...shape], [...strides], offset, x.dtype);
}

function viewOf(x: Tensor, layout: Layout): Tensor {
  return asStrided(x, layout.shape, layout.strides, layout.offset);
}

/**
 * The gradient of a selecting view: a WindowGrad the engine adds in place
 * (no full-size zeros per view), or, when the backward pass is itself
 * recorded (createGraph), the differentiable viewScatter.
 */
function windowBackward(
  g: Tensor,
  inputShape: readonly number[],
  window: (t: Tensor) => Tensor,
): Tensor | WindowGrad {
  return isGradEnabled()
    ? viewScatter(g, inputShape, window)
    : new WindowGrad(inputShape, window, g);
}

/**
 * Backward of a view that selects part of its input: zeros of the input's
 * shape with the gradient written into the same window. Differentiable
 * again: its own gradient is the window of the incoming gradient.
 */
function viewScatter(
  g: Tensor,
  inputShape: readonly number[],
  window: (t: Tensor) => Tensor,
): Tensor {
  const out = Tensor.zeros(inputShape, g.dtype, g.device);
  const target = window(out);
  out.backend.assign(target, g);
  record("ViewScatterBackward0", out, [g], (gg) => [window(gg)]);
  return out;
}

/** PyTorch's rule for when a reshape can be a view: new strides, or null if it must copy. */
function viewStrides(
  oldShape: readonly number[],
  oldStrides: readonly number[],
  newShape: readonly number[],
): number[] | null {
  if (numel(oldShape) === 0) return contiguousStrides(newShape);
  const newStrides = new Array<number>(newShape.length).fill(0);
  let viewD = newShape.length - 1;
  let chunkBase = oldStrides[oldStrides.length - 1] ?? 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d]!;
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        newStrides[viewD] = viewNumel * chunkBase;
        viewNumel *= newShape[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = oldStrides[d - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return null;
  return newStrides;
}

export function view(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape("view", shape, x.numel(), x.shape);
  const strides = viewStrides(x.shape, x.strides, target);
  if (!strides) {
    throw new ShapeError(
      `view: size ${fmtShape(target)} is not compatible with input of shape ${fmtShape(x.shape)} and strides ` +
        `${fmtShape(x.strides)} (at least one dimension spans across two contiguous subspaces); use reshape() instead`,
    );
  }
  const y = asStrided(x, target, strides, x.offset);
  const from = [...x.shape];
  return record("ViewBackward0", y, [x], (g) => [g.reshape(from)]);
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape("reshape", shape, x.numel(), x.shape);
  if (viewStrides(x.shape, x.strides, target)) return view(x, target);
  const y = contiguous(x);
  const out = asStrided(y, target, contiguousStrides(target), 0);
  const from = [...x.shape];
  return record("UnsafeViewBackward0", out, [y], (g) => [g.reshape(from)]);
}

export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous()) return x;
  return clone(x);
}

export function clone(x: Tensor): Tensor {
  const y = Tensor.fromStorage(x.backend.copy(x, x.dtype), x.shape, x.dtype);
  return record("CloneBackward0", y, [x], (g) => [g]);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) {
    throw new ArgumentError(
      `permute: number of dims ${fmtShape(dims)} does not match the ${x.ndim}-d input of shape ${fmtShape(x.shape)}`,
    );
  }
  const d = dims.map((v) => normDim("permute", v, x.ndim));
  if (new Set(d).size !== d.length)
    throw new ArgumentError(`permute: repeated dim in ${fmtShape(dims)}`);
  const y = asStrided(
    x,
    d.map((i) => x.shape[i]!),
    d.map((i) => x.strides[i]!),
    x.offset,
  );
  const inverse = new Array<number>(d.length);
  d.forEach((v, i) => {
    inverse[v] = i;
  });
  return record("PermuteBackward0", y, [x], (g) => [g.permute(inverse)]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  if (x.ndim === 0) return x;
  const a = normDim("transpose", dim0, x.ndim);
  const b = normDim("transpose", dim1, x.ndim);
  const shape = [...x.shape];
  const strides = [...x.strides];
  [shape[a], shape[b]] = [shape[b]!, shape[a]!];
  [strides[a], strides[b]] = [strides[b]!, strides[a]!];
  const y = asStrided(x, shape, strides, x.offset);
  return record("TransposeBackward0", y, [x], (g) => [g.transpose(a, b)]);
}

export function t(x: Tensor): Tensor {
  if (x.ndim > 2)
    throw new ArgumentError(
      `t: expects a tensor with <= 2 dimensions, got ${x.ndim}-d; use transpose()`,
    );
  if (x.ndim < 2) return x;
  const y = asStrided(x, [x.shape[1]!, x.shape[0]!], [x.strides[1]!, x.strides[0]!], x.offset);
  return record("TBackward0", y, [x], (g) => [g.t()]);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim("unsqueeze", dim, x.ndim + 1);
  const shape = [...x.shape];
  const strides = [...x.strides];
  const stride = d < x.ndim ? x.shape[d]! * x.strides[d]! : 1;
  shape.splice(d, 0, 1);
  strides.splice(d, 0, stride);
  const y = asStrided(x, shape, strides, x.offset);
  return record("UnsqueezeBackward0", y, [x], (g) => [g.squeeze(d)]);
}

export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  let drop: Set<number>;
  if (dim === undefined) drop = new Set(x.shape.flatMap((s, i) => (s === 1 ? [i] : [])));
  else {
    const dims = typeof dim === "number" ? [dim] : dim;
    drop = new Set(dims.map((v) => normDim("squeeze", v, x.ndim)).filter((i) => x.shape[i] === 1));
  }
  if (drop.size === 0) return x;
  const y = asStrided(
    x,
    x.shape.filter((_, i) => !drop.has(i)),
    x.strides.filter((_, i) => !drop.has(i)),
    x.offset,
  );
  const from = [...x.shape];
  return record(dim === undefined ? "SqueezeBackward0" : "SqueezeBackward1", y, [x], (g) => [
    g.reshape(from),
  ]);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim("flatten", startDim, x.ndim);
  const e = normDim("flatten", endDim, x.ndim);
  if (s > e) throw new ArgumentError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

export function unflatten(x: Tensor, dim: number, sizes: readonly number[]): Tensor {
  const d = normDim("unflatten", dim, x.ndim);
  const inner = inferShape("unflatten", sizes, x.shape[d]!, [x.shape[d]!]);
  return view(x, [...x.shape.slice(0, d), ...inner, ...x.shape.slice(d + 1)]);
}

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.ndim) {
    throw new ShapeError(
      `expand: the number of sizes provided (${shape.length}) must be at least the number of dimensions (${x.ndim}) of shape ${fmtShape(x.shape)}`,
    );
  }
  const lead = shape.length - x.ndim;
  const outShape: number[] = [];
  const strides: number[] = [];
  shape.forEach((size, i) => {
    const j = i - lead;
    const cur = j >= 0 ? x.shape[j]! : 1;
    const target = size === -1 ? cur : size;
    if (j < 0 && size === -1)
      throw new ShapeError(
        `expand: -1 is not allowed in a leading, non-existing dimension (${fmtShape(shape)})`,
      );
    if (cur !== target && cur !== 1) {
      throw new ShapeError(
        `expand: the expanded size ${target} must match the existing size ${cur} at dimension ${i} (shape ${fmtShape(x.shape)} to ${fmtShape(shape)})`,
      );
    }
    outShape.push(target);
    strides.push(j < 0 || (cur === 1 && target !== 1) ? 0 : x.strides[j]!);
  });
  if (sameShape(outShape, x.shape)) return x;
  const y = asStrided(x, outShape, strides, x.offset);
  // The engine sums the gradient back to x's shape.
  return record("ExpandBackward0", y, [x], (g) => [g]);
}

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim("narrow", dim, x.ndim);
  const size = x.shape[d]!;
  if (start < 0) start += size;
  if (start < 0 || length < 0 || start + length > size) {
    throw new ArgumentError(
      `narrow: start ${start} + length ${length} exceeds dimension ${d} of size ${size} (shape ${fmtShape(x.shape)})`,
    );
  }
  return slice(x, d, start, start + length, 1);
}

/** x[..., start:end:step, ...] along dim (Python slice semantics, end clamped). */
export function slice(
  x: Tensor,
  dim: number,
  start = 0,
  end = Number.POSITIVE_INFINITY,
  step = 1,
): Tensor {
  const d = normDim("slice", dim, x.ndim);
  if (!Number.isInteger(step) || step <= 0)
    throw new ArgumentError(`slice: step must be a positive integer, got ${step}`);
  const size = x.shape[d]!;
  const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  const s = clampIdx(start);
  const e = Math.max(clampIdx(end), s);
  const len = Math.ceil((e - s) / step);
  const window = (t: Tensor) => {
    const shape = [...t.shape];
    const strides = [...t.strides];
    shape[d] = len;
    strides[d] = t.strides[d]! * step;
    return asStrided(t, shape, strides, t.offset + s * t.strides[d]!);
  };
  if (s === 0 && len === size && step === 1) return x;
  const y = window(x);
  const from = [...x.shape];
  return record("SliceBackward0", y, [x], (g) => [windowBackward(g, from, window)]);
}

export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normDim("select", dim, x.ndim);
  const size = x.shape[d]!;
  if (!Number.isInteger(index) || index < -size || index >= size) {
    throw new ArgumentError(
      `select: index ${index} is out of range for dimension ${d} of size ${size} (shape ${fmtShape(x.shape)})`,
    );
  }
  const i = index < 0 ? index + size : index;
  const window = (t: Tensor) =>
    asStrided(
      t,
      t.shape.filter((_, k) => k !== d),
      t.strides.filter((_, k) => k !== d),
      t.offset + i * t.strides[d]!,
    );
  const y = window(x);
  const from = [...x.shape];
  return record("SelectBackward0", y, [x], (g) => [windowBackward(g, from, window)]);
}

export { viewOf, viewScatter };
