import type { Storage, View } from "./backend.js";

/** A conv2d's plane, kernel and window geometry (padding as [top, bottom, left, right]). */
export interface ConvGeometry {
  h: number;
  w: number;
  kh: number;
  kw: number;
  outH: number;
  outW: number;
  stride: readonly number[];
  padding: readonly number[];
  dilation: readonly number[];
}

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
  /**
   * grad · GELU'(x), exact, given the output y = GELU(x) as well (Φ(x) is
   * then y / x, no erf); null where the kernel does not take the case.
   */
  geluBackwardOut?(grad: View, x: View, y: View): Storage | null;
  /**
   * A linear layer's bias then exact GELU: y [rows, cols] (a fresh,
   * contiguous GEMM output) += bias in place, and GELU(y) returned; null
   * (y untouched) where the kernel does not take the case.
   */
  geluBias?(y: Storage, bias: View, rows: number, cols: number): Storage | null;
  /** grad · (y > 0): ReLU's input gradient from its output y (same shape as grad, contiguous). */
  reluBackward?(grad: View, y: View): Storage;
  /** softmax (or log-softmax) along the last dim. */
  softmax?(x: View, log: boolean): Storage;
  /** The input gradient of softmax/log-softmax from the output y and its gradient. */
  softmaxBackward?(grad: View, y: View, log: boolean): Storage;
  /**
   * Cross entropy of logits x [N, C] against int32 targets [N] (in range,
   * or ignoreIndex): per-row losses [N] (0 where ignored) and the rows'
   * log-sum-exps [N], the only state its backward needs.
   */
  crossEntropy?(x: View, target: View, ignoreIndex: number): { loss: Storage; lse: Storage };
  /** grad[r] · (softmax(x)[r] − onehot(t_r)) as [N, C], 0 in ignored rows; grad [N] any stride. */
  crossEntropyBackward?(grad: View, x: View, target: View, lse: View, ignoreIndex: number): Storage;
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
  /**
   * Attention's softmax, in place over fresh contiguous scores [N, H, L, S]
   * (q·kᵀ): softmax(scores · scale + mask) along S, `mask` an additive
   * float view of [N, H, L, S] (0 strides where broadcast) or, with
   * `causal`, key j > query i masked (src/backend/cpu/attention.ts).
   */
  attentionSoftmax?(
    scores: Storage,
    shape: readonly [number, number, number, number],
    scale: number,
    mask: View | null,
    causal: boolean,
  ): void;
  /** In place over the probabilities' gradient [N, H, L, S]: the scores' gradient, scale · p ⊙ (g − Σ g ⊙ p). */
  attentionSoftmaxBackward?(
    grad: Storage,
    probs: View,
    shape: readonly [number, number, number, number],
    scale: number,
    causal: boolean,
  ): void;
  /**
   * Heads of a packed projection x [N, L, parts·H·d] (any strides) as
   * `parts` contiguous [N, H, L, d] storages.
   */
  headsSplit?(x: View, parts: number, heads: number): Storage[];
  /**
   * Self-attention over the heads of a packed projection qkv [N, L, 3E]
   * (any strides): the heads' outputs merged as [N, L, E] and the
   * probabilities [N, H, L, L] (for the backward). `mask` is additive,
   * viewed as [N, H, L, L]. Null when it does not apply.
   */
  packedAttention?(
    qkv: View,
    heads: number,
    scale: number,
    mask: View | null,
    causal: boolean,
  ): { out: Storage; probs: Storage } | null;
  /** Its gradient: d qkv [N, L, 3E] from the output's gradient [N, L, E] (any strides). */
  packedAttentionBackward?(
    grad: View,
    qkv: View,
    probs: Storage,
    heads: number,
    scale: number,
    causal: boolean,
  ): Storage | null;
  /** The inverse: contiguous [N, H, L, d] parts side by side as [N, L, parts·H·d]. */
  headsMerge?(parts: Storage[], shape: readonly [number, number, number, number]): Storage;
  /**
   * a [..., M, K] @ b [..., K, N] (batch dims already broadcast, any
   * strides) + bias [N] on every row, as a fresh contiguous [..., M, N]:
   * a linear layer's output in one pass. Null when it does not apply.
   */
  addmm?(a: View, b: View, bias: View): Storage | null;
  /**
   * The feed-forward block's x [rows, in] @ w [out, in]ᵀ + bias [out] (any
   * strides) and its exact GELU in one pass: the pre-activation and the
   * activation, both fresh contiguous [rows, out]. Null when it does not apply.
   */
  addmmGelu?(input: View, weight: View, bias: View): { pre: Storage; act: Storage } | null;
  /**
   * A linear layer's backward from g [rows, out], x [rows, in] and
   * w [out, in] (any strides): the wanted ones of dx = g w [rows, in],
   * dw = gᵀ x [out, in] and db = Σ_rows g [out], contiguous. Null when it
   * does not apply.
   */
  linearBackward?(
    grad: View,
    input: View,
    weight: View,
    want: readonly [boolean, boolean, boolean],
  ): [Storage | null, Storage | null, Storage | null] | null;
  /**
   * The backward of y = act Wᵀ + b with act = GELU(pre) (exact, as addmmGelu
   * made it), from g [rows, out], pre and act [rows, hid], w [out, hid] (any
   * strides): the wanted ones of dPre = (g w)·GELU'(pre) [rows, hid],
   * dw = gᵀ act [out, hid] and db = Σ_rows g [out], contiguous. Null when it
   * does not apply.
   */
  geluLinearBackward?(
    grad: View,
    pre: View,
    act: View,
    weight: View,
    want: readonly [boolean, boolean, boolean],
  ): [Storage | null, Storage | null, Storage | null] | null;
  /** In place: y[r, c] += bias[c] over a fresh contiguous y [rows, cols] (a linear layer's output). */
  addBias?(y: Storage, bias: View, rows: number, cols: number): void;
  /** Σ over rows of g [rows, cols] (any strides) as [cols]: a linear layer's bias gradient. */
  sumRows?(g: View, rows: number, cols: number): Storage;
  /** Rows of a contiguous weight [num, dim] picked by contiguous int32 indices (in range): [n, dim]. */
  embedding?(weight: View, index: View): Storage;
  /** The weight's gradient [num, dim]: each contiguous grad row [n, dim] added into row index[i]. */
  embeddingBackward?(grad: View, index: View, num: number): Storage;
  /**
   * conv2d (groups 1) of x [N, C, H, W] with weight [O, C, kh, kw] (both
   * contiguous) over a window table (k elements × l positions, as im2col's)
   * and an optional bias [O]: y [N, O, l]. `geom`, when given, is the
   * same convolution's geometry, for kernels that read the plane directly.
   */
  conv2d?(
    x: View,
    weight: View,
    bias: View | null,
    index: Int32Array,
    k: number,
    l: number,
    geom?: ConvGeometry,
  ): Storage;
  /** Gradients of conv2d from grad [N, O, l] (contiguous), for the inputs asked for. */
  conv2dBackward?(
    grad: View,
    x: View,
    weight: View,
    index: Int32Array,
    k: number,
    l: number,
    want: { input: boolean; weight: boolean; bias: boolean },
    geom?: ConvGeometry,
  ): { gx: Storage | null; gw: Storage | null; gb: Storage | null };
  /**
   * Batch norm of x [N, C, S] (contiguous) with per-channel statistics over
   * N and S: the batch's (training) or the given `stats` (evaluation, the
   * running mean and variance). Returns y, the mean and 1/sqrt(var + eps)
   * used, and the batch's biased variance (training only).
   */
  batchNorm?(
    x: View,
    weight: View | null,
    bias: View | null,
    eps: number,
    stats: { mean: View; var: View } | null,
  ): { y: Storage; mean: Storage; invstd: Storage; var: Storage | null };
  /**
   * Gradients of batchNorm: input, and weight/bias (summed per channel)
   * when `wantAffine`. `training` says whether the statistics were the
   * batch's (so they depend on x) or fixed.
   */
  batchNormBackward?(
    grad: View,
    x: View,
    mean: View,
    invstd: View,
    weight: View | null,
    training: boolean,
    wantAffine: boolean,
  ): { gx: Storage; gw: Storage | null; gb: Storage | null };
  /**
   * Scaled-dot-product attention over contiguous q [B, L, E], k [B, S, E]
   * and v [B, S, Ev]: softmax(q·kᵀ·scale) v as [B, L, Ev], key j hidden
   * from query i when j > i if `causal`; and, when `wantProbs`, the
   * attention weights [B, L, S] that the backward reads. Null when the
   * kernel does not take these sizes (the caller uses the composite).
   */
  attention?(
    q: View,
    k: View,
    v: View,
    scale: number,
    causal: boolean,
    wantProbs: boolean,
  ): { out: Storage; probs: Storage | null } | null;
  /**
   * One LSTM step's pointwise part, from the projections gi, gh [N, 4H]
   * (gates i, f, g, o) and c [N, H]. Unlike the kernels above it writes
   * into the given views (rows of the layer's sequence buffers): h', c'
   * [N, H] and act [N, 5H] (the gates after their nonlinearities, then
   * tanh c') for the backward.
   */
  lstmCell?(gi: View, gh: View, c: View, h1: View, c1: View, act: View): void;
  /**
   * Its adjoint, into dgates [N, 4H] (gate pre-activations) and dcPrev
   * [N, H], which may be dc itself; null inputs are zero.
   */
  lstmCellBackward?(
    dhOut: View | null,
    dhNext: View | null,
    dc: View | null,
    act: View,
    cPrev: View,
    dgates: View,
    dcPrev: View,
  ): void;
  /**
   * A whole LSTM layer's recurrence (src/backend/cpu/rnn.ts): lstmCell at
   * every step after h·W_hhᵀ, into the sequence buffers R, C and act;
   * false (nothing written) where it does not apply.
   */
  lstmSequence?(
    gi: View,
    h0: View,
    c0: View,
    wHh: View,
    reverse: boolean,
    R: View,
    C: View,
    act: View,
  ): boolean;
  /** Its backward (BPTT) into dgi [T, N, 4H], dh0 and dc [N, H]; false where it does not apply. */
  lstmSequenceBackward?(
    g: View,
    act: View,
    c0: View,
    C: View,
    wHh: View,
    reverse: boolean,
    dgi: View,
    dh0: View,
    dc: View,
  ): boolean;
  /** One GRU step from gi, gh [N, 3H] (r, z, n, biases included) and h, into h1 and act [N, 4H] (r, z, n, gh_n). */
  gruCell?(gi: View, gh: View, h: View, h1: View, act: View): void;
  /** Its adjoint, into dgi, dgh [N, 3H] and dhPrev (the direct, z part of the previous h's gradient). */
  gruCellBackward?(
    dhOut: View | null,
    dhNext: View | null,
    act: View,
    hPrev: View,
    dgi: View,
    dgh: View,
    dhPrev: View,
  ): void;
}

const registry = new Map<string, FusedKernels>();
let enabled = true;

/** Registers a backend's fused kernels under its device name. */
export function registerFused(device: string, kernels: FusedKernels): void {
  // Merged, so kernels of one backend can live in several files.
  registry.set(device, { ...registry.get(device), ...kernels });
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
