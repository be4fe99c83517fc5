import type { Tensor } from "../tensor/tensor.js";

/**
 * The gradient of a view that selects part of its input (select, narrow,
 * slicing): zero everywhere except one window. A recurrent net selects
 * every time step of one tensor, so materializing each of these as a
 * full-size tensor and summing them would cost O(T²); the engine instead
 * adds `value` into the window of one buffer it owns. Only used when the
 * backward pass is not itself recorded (no createGraph).
 */
export class WindowGrad {
  constructor(
    /** Shape of the input the view was taken from. */
    readonly shape: readonly number[],
    /** The same view, applied to a tensor of that shape. */
    readonly window: (t: Tensor) => Tensor,
    /** The gradient of the view's output. */
    readonly value: Tensor,
  ) {}
}
