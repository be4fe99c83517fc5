/**
 * Every error flint throws on bad input is a FlintError. The subclass says
 * what kind of mistake it is; the message names the operation, what it got
 * and what it expected, e.g.
 * `matmul: shapes [2,3] and [4,5] cannot be multiplied (3 != 4)`.
 */
export class FlintError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit together (broadcasting, matmul, view, cat…). */
export class ShapeError extends FlintError {}

/** A dtype the operation does not accept (indices must be int32, …). */
export class DTypeError extends FlintError {}

/** Tensors on different devices, or a device that is not available. */
export class DeviceError extends FlintError {}

/** An argument out of range or of the wrong kind (dim 3 for a 2-d tensor, …). */
export class ArgumentError extends FlintError {}

/** Misuse of autograd: backward through a freed graph, grad of a non-scalar… */
export class AutogradError extends FlintError {}

/** A backend lacks a kernel for this op and dtype. Never a silent wrong answer. */
export class NotImplementedError extends FlintError {}

/** A file that is malformed, truncated or hostile. */
export class FormatError extends FlintError {}

/** Formats a shape the way messages print it: [2,3]. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}
