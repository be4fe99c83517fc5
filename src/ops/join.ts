import { noGrad } from "../autograd/grad_mode.js";
import { record } from "../autograd/node.js";
import { ArgumentError, DeviceError, fmtShape, ShapeError } from "../errors.js";
import { normDim } from "../shape.js";
import { Tensor } from "../tensor/tensor.js";
import { resultType } from "./elementwise.js";

/** Joins tensors along an existing dim; gradients are the matching slices. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new ArgumentError("cat: expected a non-empty list of tensors");
  }
  // PyTorch skips 1-d empty tensors (legacy behaviour).
  const parts = tensors.filter((t) => !(t.ndim === 1 && t.shape[0] === 0));
  if (parts.length === 0) return tensors[0]!;
  const first = parts[0]!;
  const d = normDim("cat", dim, first.ndim);
  const dtype = resultType(...parts);
  let total = 0;
  parts.forEach((t: Tensor, k: number) => {
    if (t.device !== first.device) {
      throw new DeviceError(
        `cat: expected all tensors on the same device, got ${first.device} and ${t.device}`,
      );
    }
    if (
      t.ndim !== first.ndim ||
      t.shape.some((s: number, i: number) => i !== d && s !== first.shape[i])
    ) {
      throw new ShapeError(
        `cat: sizes of tensors must match except in dimension ${d}; tensor 0 has shape ${fmtShape(first.shape)} ` +
          `and tensor ${k} has shape ${fmtShape(t.shape)}`,
      );
    }
    total += t.shape[d]!;
  });
  const shape = [...first.shape];
  shape[d] = total;
  const out = Tensor.zeros(shape, dtype, first.device);
  let at = 0;
  const sizes: number[] = [];
  for (const t of parts) {
    const window = out.detach().narrow(d, at, t.shape[d]!);
    out.backend.assign(window, t);
    sizes.push(t.shape[d]!);
    at += t.shape[d]!;
  }
  return record("CatBackward0", out, parts, (g) => {
    let start = 0;
    return sizes.map((n) => {
      const gi = g.narrow(d, start, n);
      start += n;
      return gi;
    });
  });
}

/** Joins tensors along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new ArgumentError("stack: expected a non-empty list of tensors");
  }
  const first = tensors[0]!;
  tensors.forEach((t: Tensor, k: number) => {
    if (t.ndim !== first.ndim || t.shape.some((s: number, i: number) => s !== first.shape[i])) {
      throw new ShapeError(
        `stack: expects each tensor to be equal size, but got ${fmtShape(first.shape)} at entry 0 and ${fmtShape(t.shape)} at entry ${k}`,
      );
    }
  });
  const d = normDim("stack", dim, first.ndim + 1);
  // One StackBackward0 node, as in PyTorch: the gradient unbinds along d.
  const y = noGrad(() =>
    cat(
      tensors.map((t) => t.unsqueeze(d)),
      d,
    ),
  );
  return record("StackBackward0", y, tensors, (g) => g.unbind(d));
}

/** Splits into chunks of splitSize (last smaller), or into the given sizes. */
export function split(
  x: Tensor,
  splitSizeOrSections: number | readonly number[],
  dim = 0,
): Tensor[] {
  const d = normDim("split", dim, x.ndim);
  const size = x.shape[d]!;
  let sizes: number[];
  if (typeof splitSizeOrSections === "number") {
    const n = splitSizeOrSections;
    if (!Number.isInteger(n) || n <= 0)
      throw new ArgumentError(`split: split size must be a positive integer, got ${n}`);
    sizes = [];
    for (let s = 0; s < size; s += n) sizes.push(Math.min(n, size - s));
    if (sizes.length === 0) sizes.push(0);
  } else {
    sizes = [...splitSizeOrSections];
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (sum !== size) {
      throw new ShapeError(
        `split: split sizes ${fmtShape(sizes)} sum to ${sum}, but dimension ${d} has size ${size} (shape ${fmtShape(x.shape)})`,
      );
    }
  }
  let start = 0;
  return sizes.map((n) => {
    const part = x.narrow(d, start, n);
    start += n;
    return part;
  });
}

/** Splits into `chunks` pieces of ceil(size / chunks) (the last may be smaller, or fewer pieces). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0)
    throw new ArgumentError(`chunk: chunks must be a positive integer, got ${chunks}`);
  const d = normDim("chunk", dim, x.ndim);
  const size = Math.ceil(x.shape[d]! / chunks);
  return split(x, Math.max(size, 1), d);
}

export function unbind(x: Tensor, dim = 0): Tensor[] {
  const d = normDim("unbind", dim, x.ndim);
  return Array.from({ length: x.shape[d]! }, (_, i) => x.select(d, i));
}
