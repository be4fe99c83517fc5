// Attention as modules: MultiheadAttention (torch.nn.MultiheadAttention),
// additive (Bahdanau) and multiplicative (Luong) attention.
//
// Attention reads a weighted average of values, the weights coming from
// how well a query matches each key: weights = softmax(score(q, k)) over
// the keys, output = weights · v. The three modules differ in the score:
// scaled dot product per head (Transformer), a one-hidden-layer network
// of q and k (Bahdanau: queries and keys may differ in size), or q·k and
// q·W·k (Luong's "dot" and "general").
//
// Mask conventions follow PyTorch's MultiheadAttention: a bool mask marks
// with true what must NOT be attended to; a float mask is added to the
// scores. (F.scaledDotProductAttention's bool mask is the opposite: true
// may attend.)
import type { DType } from "../../dtype.js";
import { ArgumentError, DTypeError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { fusedPackedSelfAttention } from "../functional/fused_attention.js";
import * as F from "../functional/index.js";
import { linear } from "../functional/linear.js";
import * as init from "../init.js";
import { Module, pyBool } from "../module.js";
import { Parameter } from "../parameter.js";
import { Linear } from "./linear.js";

/** A bool mask (true = blocked) or a float mask (added) as an additive float mask. */
function additiveMask(op: string, mask: Tensor, dtype: DType): Tensor {
  if (mask.dtype === "bool")
    return Tensor.zeros(mask.shape, dtype, mask.device).maskedFill(mask, Number.NEGATIVE_INFINITY);
  if (mask.isFloatingPoint()) return mask.dtype === dtype ? mask : mask.to(dtype);
  throw new DTypeError(`${op}: masks must be bool or floating point, got ${mask.dtype}`);
}

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights while training (0). */
  dropout?: number;
  /** Biases on the input and output projections (true). */
  bias?: boolean;
  /** Learn a key and a value appended to every sequence (false). */
  addBiasKv?: boolean;
  /** Append a zero key and value to every sequence (false). */
  addZeroAttn?: boolean;
  /** Key size when it differs from embedDim (then q, k and v get separate projection weights). */
  kdim?: number | null;
  /** Value size when it differs from embedDim. */
  vdim?: number | null;
  /** Inputs and output are (N, L, E) instead of (L, N, E) (false). */
  batchFirst?: boolean;
  dtype?: DType;
  device?: string;
}

export interface MultiheadAttentionForwardOptions {
  /** (N, S): true (or -inf) marks padding keys to ignore. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights too (true). */
  needWeights?: boolean;
  /** (L, S) or (N·numHeads, L, S): true (or -inf) blocks query i from key j. */
  attnMask?: Tensor | null;
  /** Average the returned weights over heads (true); false gives (N, numHeads, L, S). */
  averageAttnWeights?: boolean;
  /** Block every key after the query's position (a causal mask), when attnMask is not given. */
  isCausal?: boolean;
}

/**
 * Attention with numHeads parallel heads (torch.nn.MultiheadAttention):
 * each head projects query, key and value to embedDim / numHeads,
 * computes softmax(q kᵀ / √d + mask) v, and out_proj mixes the heads back.
 * Parameters are PyTorch's: in_proj_weight (3·E, E) stacking W_q, W_k, W_v
 * (or q_proj_weight, k_proj_weight, v_proj_weight when kdim or vdim
 * differ), in_proj_bias (3·E), out_proj.weight, out_proj.bias.
 *
 * Self-attention passes the same tensor three times; cross-attention takes
 * queries from one sequence and keys/values from another (a decoder
 * reading an encoder); masked self-attention adds a causal attnMask.
 * forward returns [output, weights]: output like query, weights (N, L, S)
 * (or null with needWeights false).
 *
 * @example
 * const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true });
 * const x = fl.randn([2, 5, 8]);
 * const [out, w] = mha.forward(x, x, x); // [2, 5, 8], [2, 5, 5]
 */
export class MultiheadAttention extends Module {
  in_proj_weight: Parameter | null;
  q_proj_weight: Parameter | null;
  k_proj_weight: Parameter | null;
  v_proj_weight: Parameter | null;
  in_proj_bias: Parameter | null;
  bias_k: Parameter | null;
  bias_v: Parameter | null;
  out_proj: Linear;
  readonly kdim: number;
  readonly vdim: number;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly addZeroAttn: boolean;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    opts: MultiheadAttentionOptions = {},
  ) {
    super();
    const op = "MultiheadAttention";
    if (
      !Number.isInteger(embedDim) ||
      embedDim <= 0 ||
      !Number.isInteger(numHeads) ||
      numHeads <= 0
    ) {
      throw new ArgumentError(
        `${op}: embedDim and numHeads must be positive integers, got ${embedDim} and ${numHeads}`,
      );
    }
    if (embedDim % numHeads !== 0) {
      throw new ArgumentError(
        `${op}: embed_dim must be divisible by num_heads, got ${embedDim} and ${numHeads}`,
      );
    }
    const dtype = opts.dtype ?? "float32";
    const device = opts.device ?? "cpu";
    const param = (shape: number[]) => new Parameter(Tensor.zeros(shape, dtype, device));
    this.kdim = opts.kdim ?? embedDim;
    this.vdim = opts.vdim ?? embedDim;
    this.headDim = embedDim / numHeads;
    this.dropout = opts.dropout ?? 0;
    this.batchFirst = opts.batchFirst ?? false;
    this.addZeroAttn = opts.addZeroAttn ?? false;
    const sameDims = this.kdim === embedDim && this.vdim === embedDim;
    this.in_proj_weight = sameDims ? param([3 * embedDim, embedDim]) : null;
    this.q_proj_weight = sameDims ? null : param([embedDim, embedDim]);
    this.k_proj_weight = sameDims ? null : param([embedDim, this.kdim]);
    this.v_proj_weight = sameDims ? null : param([embedDim, this.vdim]);
    const bias = opts.bias ?? true;
    this.in_proj_bias = bias ? param([3 * embedDim]) : null;
    // out_proj draws its default init first, as PyTorch's constructor does.
    this.out_proj = new Linear(embedDim, embedDim, { bias, dtype, device });
    this.bias_k = opts.addBiasKv ? param([1, 1, embedDim]) : null;
    this.bias_v = opts.addBiasKv ? param([1, 1, embedDim]) : null;
    this.resetParameters();
  }

  /** PyTorch's _reset_parameters: xavier-uniform projections, zero biases, xavier-normal bias_k/bias_v. */
  resetParameters(): void {
    if (this.in_proj_weight) init.xavierUniform_(this.in_proj_weight);
    else
      for (const w of [this.q_proj_weight, this.k_proj_weight, this.v_proj_weight])
        init.xavierUniform_(w!);
    if (this.in_proj_bias) {
      init.constant_(this.in_proj_bias, 0);
      init.constant_(this.out_proj.bias!, 0);
    }
    if (this.bias_k) init.xavierNormal_(this.bias_k);
    if (this.bias_v) init.xavierNormal_(this.bias_v!);
  }

  override forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionForwardOptions = {},
  ): [Tensor, Tensor | null] {
    const op = "MultiheadAttention";
    const E = this.embedDim;
    const H = this.numHeads;
    const d = this.headDim;
    const batched = query.ndim === 3;
    if (query.ndim !== 2 && query.ndim !== 3) {
      throw new ShapeError(
        `${op}: query should be 2-d (unbatched) or 3-d, got ${fmtShape(query.shape)}`,
      );
    }
    if (key.ndim !== query.ndim || value.ndim !== query.ndim) {
      throw new ShapeError(
        `${op}: query, key and value must have the same number of dimensions, got ${fmtShape(query.shape)}, ${fmtShape(key.shape)} and ${fmtShape(value.shape)}`,
      );
    }
    // To (N, L, E) whatever the layout.
    const toNLE = (t: Tensor) =>
      !batched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1);
    const q0 = toNLE(query);
    const k0 = toNLE(key);
    const v0 = toNLE(value);
    const [N, L] = q0.shape as [number, number];
    if (q0.shape[2] !== E)
      throw new ShapeError(
        `${op}: was expecting embedding dimension of ${E}, but got ${q0.shape[2]} (query ${fmtShape(query.shape)})`,
      );
    if (k0.shape[2] !== this.kdim)
      throw new ShapeError(
        `${op}: key must have last dimension ${this.kdim} (kdim), got ${fmtShape(key.shape)}`,
      );
    if (v0.shape[2] !== this.vdim)
      throw new ShapeError(
        `${op}: value must have last dimension ${this.vdim} (vdim), got ${fmtShape(value.shape)}`,
      );
    if (k0.shape[0] !== N || v0.shape[0] !== N || k0.shape[1] !== v0.shape[1]) {
      throw new ShapeError(
        `${op}: key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must match each other and the batch of query ${fmtShape(query.shape)}`,
      );
    }

    // Self-attention projects q, k and v in one product, (N, L, 3E).
    const packed = query === key && key === value && this.in_proj_weight !== null;
    const qkv = packed ? linear(q0, this.in_proj_weight!, this.in_proj_bias) : null;
    if (qkv && !this.bias_k && !this.addZeroAttn && opts.needWeights === false) {
      const ctx = this.fusedSelfAttention(op, qkv, opts, N, L);
      if (ctx) return [this.outputLayout(this.out_proj.forward(ctx), batched), null];
    }
    // Input projections: (N, L, E), (N, S, E), (N, S, E).
    const [wq, wk, wv] = this.in_proj_weight
      ? (this.in_proj_weight.chunk(3, 0) as [Tensor, Tensor, Tensor])
      : [this.q_proj_weight!, this.k_proj_weight!, this.v_proj_weight!];
    const [bq, bk, bv] = this.in_proj_bias
      ? (this.in_proj_bias.chunk(3, 0) as [Tensor, Tensor, Tensor])
      : [null, null, null];
    const [q, k1, v1] = qkv
      ? (qkv.chunk(3, -1) as [Tensor, Tensor, Tensor])
      : [linear(q0, wq, bq), linear(k0, wk, bk), linear(v0, wv, bv)];
    let k = k1;
    let v = v1;

    // Masks, as additive float masks (N or 1, 1 or H, L, S).
    let mask = this.attnMaskOf(op, opts, N, L, k.shape[1]!, q.dtype, q.device);
    let pad = this.keyPaddingOf(op, opts.keyPaddingMask ?? null, N, k.shape[1]!, q.dtype);
    const extend = (m: Tensor | null) =>
      m ? Tensor.cat([m, Tensor.zeros([...m.shape.slice(0, -1), 1], m.dtype, m.device)], -1) : null;
    if (this.bias_k && this.bias_v) {
      k = Tensor.cat([k, this.bias_k.expand([N, 1, E])], 1);
      v = Tensor.cat([v, this.bias_v.expand([N, 1, E])], 1);
      mask = extend(mask);
      pad = extend(pad);
    }
    if (this.addZeroAttn) {
      k = Tensor.cat([k, Tensor.zeros([N, 1, E], k.dtype, k.device)], 1);
      v = Tensor.cat([v, Tensor.zeros([N, 1, E], v.dtype, v.device)], 1);
      mask = extend(mask);
      pad = extend(pad);
    }
    const S = k.shape[1]!;
    const both = mask && pad ? mask.add(pad) : (mask ?? pad);

    // Split heads: (N, L, E) -> (N, H, L, d).
    const heads = (t: Tensor, len: number) => t.reshape([N, len, H, d]).transpose(1, 2);
    const qh = heads(q, L);
    const kh = heads(k, S);
    const vh = heads(v, S);
    let scores = qh.matmul(kh.transpose(-2, -1)).mul(1 / Math.sqrt(d)); // (N, H, L, S)
    if (both) scores = scores.add(both);
    let weights = F.softmax(scores, -1);
    if (this.dropout > 0 && this.training)
      weights = F.dropout(weights, { p: this.dropout, training: true });
    const ctx = weights.matmul(vh).transpose(1, 2).reshape([N, L, E]); // (N, L, E)
    const out = this.outputLayout(this.out_proj.forward(ctx), batched);
    if (opts.needWeights === false) return [out, null];
    let w = (opts.averageAttnWeights ?? true) ? weights.mean(1) : weights; // (N, L, S) or (N, H, L, S)
    if (!batched) w = w.squeeze(0);
    return [out, w];
  }

  /** (N, L, E) back to the caller's layout. */
  private outputLayout(out: Tensor, batched: boolean): Tensor {
    return !batched ? out.squeeze(0) : this.batchFirst ? out : out.transpose(0, 1);
  }

  /**
   * The heads' merged output (N, L, E) through the fused attention kernel
   * (src/nn/functional/fused_attention.ts), or null when it does not apply
   * (dropout while training, a device without it). A causal mask with no
   * attnMask is passed as a flag, so no (L, L) mask is built.
   */
  private fusedSelfAttention(
    op: string,
    qkv: Tensor,
    opts: MultiheadAttentionForwardOptions,
    N: number,
    L: number,
  ): Tensor | null {
    if (this.dropout > 0 && this.training) return null;
    const causal = !opts.attnMask && (opts.isCausal ?? false);
    const mask = causal ? null : this.attnMaskOf(op, opts, N, L, L, qkv.dtype, qkv.device);
    const pad = this.keyPaddingOf(op, opts.keyPaddingMask ?? null, N, L, qkv.dtype);
    const both = mask && pad ? mask.add(pad) : (mask ?? pad);
    return fusedPackedSelfAttention(qkv, this.numHeads, { mask: both, causal });
  }

  private attnMaskOf(
    op: string,
    opts: MultiheadAttentionForwardOptions,
    N: number,
    L: number,
    S: number,
    dtype: DType,
    device: string,
  ): Tensor | null {
    const H = this.numHeads;
    if (!opts.attnMask) {
      if (!opts.isCausal) return null;
      // Built on the query's device: a CPU mask beside webgpu scores cannot be added.
      return additiveMask(op, Tensor.ones([L, S], "bool", device).triu(1), dtype);
    }
    const m = additiveMask(op, opts.attnMask, dtype);
    if (m.ndim === 2) {
      if (m.shape[0] !== L || m.shape[1] !== S) {
        throw new ShapeError(
          `${op}: The shape of the 2D attn_mask is ${fmtShape(m.shape)}, but should be ${fmtShape([L, S])}.`,
        );
      }
      return m;
    }
    if (m.ndim === 3) {
      if (m.shape[0] !== N * H || m.shape[1] !== L || m.shape[2] !== S) {
        throw new ShapeError(
          `${op}: The shape of the 3D attn_mask is ${fmtShape(m.shape)}, but should be ${fmtShape([N * H, L, S])}.`,
        );
      }
      return m.reshape([N, H, L, S]);
    }
    throw new ShapeError(`${op}: attn_mask's dimension ${m.ndim} is not supported (2-d or 3-d)`);
  }

  private keyPaddingOf(
    op: string,
    mask: Tensor | null,
    N: number,
    S: number,
    dtype: DType,
  ): Tensor | null {
    if (!mask) return null;
    const m = additiveMask(op, mask.ndim === 1 ? mask.unsqueeze(0) : mask, dtype);
    if (m.shape[0] !== N || m.shape[1] !== S) {
      throw new ShapeError(
        `${op}: expecting key_padding_mask shape of ${fmtShape([N, S])}, but got ${fmtShape(mask.shape)}`,
      );
    }
    return m.reshape([N, 1, 1, S]);
  }
}

export interface AttentionForwardOptions {
  /** (N, S): true marks padding keys to ignore. */
  keyPaddingMask?: Tensor | null;
}

/** A query of (N, qd) is one step: (N, 1, qd), squeezed back at the end. */
function stepQueries(op: string, queries: Tensor, keys: Tensor, values: Tensor): [Tensor, boolean] {
  if (keys.ndim !== 3 || values.ndim !== 3) {
    throw new ShapeError(
      `${op}: keys and values must be 3-d (N, S, *), got ${fmtShape(keys.shape)} and ${fmtShape(values.shape)}`,
    );
  }
  if (queries.ndim !== 2 && queries.ndim !== 3) {
    throw new ShapeError(
      `${op}: queries must be (N, L, *) or (N, *), got ${fmtShape(queries.shape)}`,
    );
  }
  if (
    queries.shape[0] !== keys.shape[0] ||
    keys.shape[0] !== values.shape[0] ||
    keys.shape[1] !== values.shape[1]
  ) {
    throw new ShapeError(
      `${op}: queries ${fmtShape(queries.shape)}, keys ${fmtShape(keys.shape)} and values ${fmtShape(values.shape)} must share the batch, and keys and values the length`,
    );
  }
  return queries.ndim === 2 ? [queries.unsqueeze(1), true] : [queries, false];
}

/** softmax over keys of (N, L, S) scores with padding keys blocked, then weights · values. */
function attend(
  op: string,
  scores: Tensor,
  values: Tensor,
  keyPaddingMask: Tensor | null | undefined,
  dropout: number,
  training: boolean,
  step: boolean,
): [Tensor, Tensor] {
  let s = scores;
  if (keyPaddingMask) {
    const [N, , S] = s.shape as [number, number, number];
    if (
      keyPaddingMask.ndim !== 2 ||
      keyPaddingMask.shape[0] !== N ||
      keyPaddingMask.shape[1] !== S
    ) {
      throw new ShapeError(
        `${op}: keyPaddingMask must be ${fmtShape([N, S])}, got ${fmtShape(keyPaddingMask.shape)}`,
      );
    }
    s = s.add(additiveMask(op, keyPaddingMask, s.dtype).unsqueeze(1));
  }
  let weights = F.softmax(s, -1); // (N, L, S)
  if (dropout > 0 && training) weights = F.dropout(weights, { p: dropout, training: true });
  const context = weights.matmul(values); // (N, L, vd)
  return step ? [context.squeeze(1), weights.squeeze(1)] : [context, weights];
}

/**
 * Additive attention (Bahdanau et al., 2015): a one-hidden-layer network
 * scores each query against each key, score(q, k) = w_vᵀ tanh(W_q q + W_k k),
 * so queries and keys may have different sizes (a decoder state against
 * encoder outputs). Parameters W_q.weight (hidden, querySize), W_k.weight
 * (hidden, keySize), w_v.weight (1, hidden). forward(queries (N, L, qd) or
 * (N, qd), keys (N, S, kd), values (N, S, vd)) returns [context
 * (N, L, vd), weights (N, L, S)] (without the L dim for 2-d queries).
 *
 * @example
 * const attn = new nn.AdditiveAttention(6, 4, 8);
 * const [ctx, w] = attn.forward(fl.randn([2, 6]), fl.randn([2, 5, 4]), fl.randn([2, 5, 4])); // [2, 4], [2, 5]
 */
export class AdditiveAttention extends Module {
  W_q: Linear;
  W_k: Linear;
  w_v: Linear;
  readonly dropout: number;

  constructor(
    readonly querySize: number,
    readonly keySize: number,
    readonly hiddenSize: number,
    opts: { dropout?: number; dtype?: DType; device?: string } = {},
  ) {
    super();
    const lin = { bias: false, dtype: opts.dtype, device: opts.device };
    this.W_q = new Linear(querySize, hiddenSize, lin);
    this.W_k = new Linear(keySize, hiddenSize, lin);
    this.w_v = new Linear(hiddenSize, 1, lin);
    this.dropout = opts.dropout ?? 0;
  }

  override forward(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    opts: AttentionForwardOptions = {},
  ): [Tensor, Tensor] {
    const op = "AdditiveAttention";
    const [q, step] = stepQueries(op, queries, keys, values);
    // (N, L, 1, h) + (N, 1, S, h) -> (N, L, S, h)
    const features = this.W_q.forward(q)
      .unsqueeze(2)
      .add(this.W_k.forward(keys).unsqueeze(1))
      .tanh();
    const scores = this.w_v.forward(features).squeeze(-1); // (N, L, S)
    return attend(op, scores, values, opts.keyPaddingMask, this.dropout, this.training, step);
  }

  override extraRepr(): string {
    return `query_size=${this.querySize}, key_size=${this.keySize}, hidden_size=${this.hiddenSize}`;
  }
}

export interface MultiplicativeAttentionOptions {
  /** "dot": q·k (sizes must match); "general": q·W_a k (default "general"). */
  score?: "dot" | "general";
  /** Divide scores by √querySize, as scaled dot-product attention (false). */
  scale?: boolean;
  dropout?: number;
  dtype?: DType;
  device?: string;
}

/**
 * Multiplicative attention (Luong et al., 2015): score(q, k) = q·k
 * ("dot") or q·W_a k ("general", with W_a.weight (querySize, keySize), so
 * sizes may differ). forward and returns as AdditiveAttention.
 *
 * @example
 * const attn = new nn.MultiplicativeAttention(6, 4, { score: "general" });
 * const [ctx, w] = attn.forward(fl.randn([2, 3, 6]), fl.randn([2, 5, 4]), fl.randn([2, 5, 7])); // [2, 3, 7], [2, 3, 5]
 */
export class MultiplicativeAttention extends Module {
  W_a: Linear | null;
  readonly score: "dot" | "general";
  readonly scale: boolean;
  readonly dropout: number;

  constructor(
    readonly querySize: number,
    readonly keySize: number,
    opts: MultiplicativeAttentionOptions = {},
  ) {
    super();
    this.score = opts.score ?? "general";
    if (this.score !== "dot" && this.score !== "general") {
      throw new ArgumentError(
        `MultiplicativeAttention: score must be "dot" or "general", got ${JSON.stringify(this.score)}`,
      );
    }
    if (this.score === "dot" && querySize !== keySize) {
      throw new ArgumentError(
        `MultiplicativeAttention: "dot" scores need querySize == keySize, got ${querySize} and ${keySize}; use "general"`,
      );
    }
    this.W_a =
      this.score === "general"
        ? new Linear(keySize, querySize, { bias: false, dtype: opts.dtype, device: opts.device })
        : null;
    this.scale = opts.scale ?? false;
    this.dropout = opts.dropout ?? 0;
  }

  override forward(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    opts: AttentionForwardOptions = {},
  ): [Tensor, Tensor] {
    const op = "MultiplicativeAttention";
    const [q, step] = stepQueries(op, queries, keys, values);
    const k = this.W_a ? this.W_a.forward(keys) : keys; // (N, S, qd)
    if (k.shape[2] !== q.shape[2]) {
      throw new ShapeError(
        `${op}: queries ${fmtShape(queries.shape)} and keys ${fmtShape(keys.shape)} do not match the sizes ${this.querySize} and ${this.keySize}`,
      );
    }
    let scores = q.matmul(k.transpose(1, 2)); // (N, L, S)
    if (this.scale) scores = scores.mul(1 / Math.sqrt(this.querySize));
    return attend(op, scores, values, opts.keyPaddingMask, this.dropout, this.training, step);
  }

  override extraRepr(): string {
    return `query_size=${this.querySize}, key_size=${this.keySize}, score='${this.score}', scale=${pyBool(this.scale)}`;
  }
}

/** Bahdanau attention: the same module as AdditiveAttention. */
export const BahdanauAttention = AdditiveAttention;
/** Luong attention: the same module as MultiplicativeAttention. */
export const LuongAttention = MultiplicativeAttention;
