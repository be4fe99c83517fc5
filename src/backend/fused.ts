import type { Storage, View } from "./backend.js";

/**
 * Optional fused kernels for composites (DESIGN.md: "a backend may register
 * a fused kernel for a composite as an optional override, tested against
 * the composite"). Each one computes in one pass what the composite in
 * src/nn/functional builds from several primitive ops and temporaries.
 * Inputs are contiguous views of float32 or float64; a backend leaves out
 * what it does not have, and callers fall back to the composite.
 */
export interface FusedKernels {
  /** GELU, exact (erf) or the tanh approximation. */
  gelu?(x: View, approximate: "none" | "tanh"): Storage;
  /** grad · GELU'(x). */
  geluBackward?(grad: View, x: View, approximate: "none" | "tanh"): Storage;
  /** softmax (or log-softmax) along the last dim. */
  softmax?(x: View, log: boolean): Storage;
  /** The input gradient of softmax/log-softmax from the output y and its gradient. */
  softmaxBackward?(grad: View, y: View, log: boolean): Storage;
  /**
   * Layer norm over rows of `cols` elements (the trailing dims), with an
   * optional elementwise affine of `cols` elements. Returns y and each
   * row's mean and reciprocal standard deviation (for the backward).
   */
  layerNorm?(
    x: View,
    cols: number,
    weight: View | null,
    bias: View | null,
    eps: number,
  ): { y: Storage; mean: Storage; rstd: Storage };
  /** Gradients of layerNorm: input, and weight/bias when they were given (summed over rows). */
  layerNormBackward?(
    grad: View,
    x: View,
    cols: number,
    mean: View,
    rstd: View,
    weight: View | null,
    wantAffine: boolean,
  ): { gx: Storage; gw: Storage | null; gb: Storage | null };
  /**
   * im2col over x [N, C, H, W] (contiguous): cols [C·k, N·l] with
   * cols[(c·k + j)·N·l + n·l + p] = x[n, c, index[j·l + p]], 0 where the
   * index is -1 (padding). `index` is a window table over the flat H·W plane.
   */
  im2col?(x: View, index: Int32Array, k: number, l: number): Storage;
  /** The adjoint of im2col: cols [C·k, N·l] summed back into [N, C, hw]. */
  col2im?(cols: View, index: Int32Array, k: number, l: number, n: number, hw: number): Storage;
  /**
   * Max pooling of x [N, C, H, W] (contiguous) over the same kind of window
   * table: values [N, C, l] and int32 indices (the flat H·W position of
   * each window's first maximum; NaN wins, as in max).
   */
  maxPool?(x: View, index: Int32Array, k: number, l: number): { values: Storage; indices: Storage };
  /** The adjoint: grad [N, C, l] added at indices into [N, C, hw]. */
  maxPoolBackward?(grad: View, indices: View, l: number, hw: number): Storage;
}

const registry = new Map<string, FusedKernels>();
let enabled = true;

/** Registers a backend's fused kernels under its device name. */
export function registerFused(device: string, kernels: FusedKernels): void {
  registry.set(device, kernels);
}

/** The fused kernels of a device, or an empty table (none, or switched off). */
export function fusedKernels(device: string): FusedKernels {
  return (enabled && registry.get(device)) || NONE;
}

/** Turns fused kernels on or off everywhere (tests compare both); returns the previous setting. */
export function setFusedKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

const NONE: FusedKernels = {};
