// Lookup tables: Embedding and EmbeddingBag (torch.nn.modules.sparse).
//
// A lookup is indexSelect on the rows of the weight, so its gradient is a
// scatter-add of the output gradient into those rows, written by the
// indexing ops. Where the device has the embedding kernels, a plain lookup
// (no padding row, maxNorm or frequency scaling) runs them instead: row
// copies forward, a direct index-add of rows backward.
import { isGradEnabled, noGrad } from "../../autograd/grad_mode.js";
import { record } from "../../autograd/node.js";
import { fusedKernels } from "../../backend/fused.js";
import type { DType } from "../../dtype.js";
import { ArgumentError, DTypeError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import * as init from "../init.js";
import { Module, pyBool, pyFloat } from "../module.js";
import { Parameter } from "../parameter.js";

export interface EmbeddingOptions {
  /** This row gets no gradient (and starts as zeros): the "padding" token. */
  paddingIdx?: number | null;
  /** Rows looked up are renormalized in place to at most this norm. */
  maxNorm?: number | null;
  /** The p of the norm for maxNorm (2). */
  normType?: number;
  /** Scale gradients by inverse word frequency in the batch (false). */
  scaleGradByFreq?: boolean;
  /** Accepted for PyTorch's signature; gradients are always dense here. */
  sparse?: boolean;
  /** Use this tensor as the weight instead of drawing one. */
  weight?: Tensor | null;
  dtype?: DType;
  device?: string;
}

function checkIndices(op: string, input: Tensor, num: number): void {
  if (input.dtype !== "int32") {
    throw new DTypeError(`${op}: indices must be an int32 tensor, got ${input.dtype}`);
  }
  // Off the CPU, indexSelect's kernel reports an index out of range when a result is read.
  if (input.numel() === 0 || input.device !== "cpu") return;
  const lo = input.amin().itemSync() as number;
  const hi = input.amax().itemSync() as number;
  if (lo < 0 || hi >= num) {
    throw new ArgumentError(
      `${op}: index ${lo < 0 ? lo : hi} is out of range for an embedding of ${num} rows (expected 0 <= index < ${num})`,
    );
  }
}

function normalizePaddingIdx(
  op: string,
  paddingIdx: number | null | undefined,
  num: number,
): number | null {
  if (paddingIdx === null || paddingIdx === undefined) return null;
  if (!Number.isInteger(paddingIdx) || paddingIdx >= num || paddingIdx < -num) {
    throw new ArgumentError(
      `${op}: paddingIdx must be within num_embeddings (${num}), got ${paddingIdx}`,
    );
  }
  return paddingIdx < 0 ? paddingIdx + num : paddingIdx;
}

/**
 * The rows of weight that input names, renormalized in place to maxNorm
 * first when given, with the paddingIdx row cut off from the gradient.
 * (torch.nn.functional.embedding)
 *
 * @example
 * const w = fl.randn([10, 3]);
 * embedding(fl.tensor([[1, 2], [4, 9]], { dtype: "int32" }), w).shape; // [2, 2, 3]
 */
export function embedding(
  input: Tensor,
  weight: Tensor,
  opts: Pick<EmbeddingOptions, "paddingIdx" | "maxNorm" | "normType" | "scaleGradByFreq"> = {},
): Tensor {
  const op = "embedding";
  if (weight.ndim !== 2) {
    throw new ShapeError(
      `${op}: weight must be 2-d (num_embeddings, embedding_dim), got ${fmtShape(weight.shape)}`,
    );
  }
  const [num, dim] = weight.shape as [number, number];
  checkIndices(op, input, num);
  const paddingIdx = normalizePaddingIdx(op, opts.paddingIdx, num);
  if (opts.maxNorm !== null && opts.maxNorm !== undefined) {
    embeddingRenorm_(weight, input, opts.maxNorm, opts.normType ?? 2);
  }
  let w = weight;
  if (paddingIdx !== null && weight.requiresGrad) {
    // Same values, but the padding row reads from a detached copy, so no
    // gradient reaches it (PyTorch skips that row in embedding_backward).
    const keep = Tensor.arangeInt(num, weight.device).ne(paddingIdx).unsqueeze(1); // (num, 1)
    w = weight.where(keep, weight.detach());
  }
  if (opts.scaleGradByFreq && w.requiresGrad) w = scaleByFrequency(w, input, num);
  if (w === weight) {
    const fast = fusedEmbedding(input, weight);
    if (fast) return fast;
  }
  const flat = input.reshape([-1]);
  return w.indexSelect(0, flat).reshape([...input.shape, dim]);
}

/**
 * The lookup through the device's fused kernels (row copies; the gradient
 * a direct index-add of rows), one EmbeddingBackward0 node; null where the
 * device has none. Under createGraph the backward is the composite
 * scatter-add, so it stays differentiable.
 */
function fusedEmbedding(input: Tensor, weight: Tensor): Tensor | null {
  const k = fusedKernels(weight.device);
  if (!k.embedding || !k.embeddingBackward || input.device !== weight.device) return null;
  if (weight.dtype !== "float32" && weight.dtype !== "float64") return null;
  const [num, dim] = weight.shape as [number, number];
  const idx = input.contiguous();
  const w = weight.contiguous();
  const shape = [...input.shape, dim];
  const y = Tensor.fromStorage(k.embedding(w, idx), shape, weight.dtype);
  return record("EmbeddingBackward0", y, [w], (g) => {
    const n = idx.numel();
    if (isGradEnabled() || g.dtype !== weight.dtype) {
      const full = idx.reshape([n, 1]).expand([n, dim]);
      return [Tensor.zeros([num, dim], g.dtype, g.device).scatterAdd(0, full, g.reshape([n, dim]))];
    }
    const gc = g.contiguous();
    return [Tensor.fromStorage(k.embeddingBackward!(gc, idx, num), [num, dim], g.dtype)];
  });
}

/** Rescales, in place, each row of weight that input names whose p-norm exceeds maxNorm. */
function embeddingRenorm_(weight: Tensor, input: Tensor, maxNorm: number, normType: number): void {
  noGrad(() => {
    const num = weight.shape[0]!;
    const used = Tensor.zeros([num], "int32", weight.device)
      .scatter(0, input.reshape([-1]), 1)
      .gt(0);
    const norms = weight
      .abs()
      .pow(normType)
      .sum(1)
      .pow(1 / normType); // (num,)
    // PyTorch's factor: maxNorm / (norm + 1e-7), only where the norm is too big.
    const scale = norms.add(1e-7).reciprocal().mul(maxNorm);
    const factor = scale.where(used.logicalAnd(norms.gt(maxNorm)), 1);
    weight.mul_(factor.unsqueeze(1));
  });
}

/** Multiplies each row's incoming gradient by 1 / (its count in input), leaving values alone. */
function scaleByFrequency(w: Tensor, input: Tensor, num: number): Tensor {
  const flat = input.reshape([-1]);
  const counts = Tensor.zeros([num], w.dtype, w.device).scatterAdd(
    0,
    flat,
    Tensor.ones(flat.shape, w.dtype, w.device),
  );
  const inv = counts.clamp(1).reciprocal().unsqueeze(1); // (num, 1)
  // w·inv + (w - w·inv).detach() == w, with gradient scaled by inv.
  const scaled = w.mul(inv);
  return scaled.add(w.sub(scaled).detach());
}

/**
 * A table of numEmbeddings vectors of size embeddingDim, looked up by
 * int32 indices of any shape: input (*) gives output (*, embeddingDim).
 * weight starts as N(0, 1) with the paddingIdx row zeroed.
 *
 * @example
 * const emb = new nn.Embedding(10, 3, { paddingIdx: 0 });
 * emb.forward(fl.tensor([[0, 2], [4, 5]], { dtype: "int32" })).shape; // [2, 2, 3]
 */
export class Embedding extends Module {
  weight: Parameter;
  readonly paddingIdx: number | null;
  readonly maxNorm: number | null;
  readonly normType: number;
  readonly scaleGradByFreq: boolean;
  readonly sparse: boolean;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: EmbeddingOptions = {},
  ) {
    super();
    this.paddingIdx = normalizePaddingIdx("Embedding", opts.paddingIdx, numEmbeddings);
    this.maxNorm = opts.maxNorm ?? null;
    this.normType = opts.normType ?? 2;
    this.scaleGradByFreq = opts.scaleGradByFreq ?? false;
    this.sparse = opts.sparse ?? false;
    if (opts.weight) {
      if (
        opts.weight.ndim !== 2 ||
        opts.weight.shape[0] !== numEmbeddings ||
        opts.weight.shape[1] !== embeddingDim
      ) {
        throw new ShapeError(
          `Embedding: weight must have shape [${numEmbeddings}, ${embeddingDim}], got ${fmtShape(opts.weight.shape)}`,
        );
      }
      this.weight = new Parameter(opts.weight);
    } else {
      this.weight = new Parameter(
        Tensor.zeros([numEmbeddings, embeddingDim], opts.dtype ?? "float32", opts.device ?? "cpu"),
      );
      this.resetParameters();
    }
  }

  /**
   * An Embedding whose weight is the given 2-d tensor, frozen by default
   * (requiresGrad false) as PyTorch's from_pretrained.
   *
   * @example
   * const emb = nn.Embedding.fromPretrained(fl.tensor([[1, 2.3, 3], [4, 5.1, 6.3]]));
   * emb.forward(fl.tensor([1], { dtype: "int32" })); // [[4, 5.1, 6.3]]
   */
  static fromPretrained(
    embeddings: Tensor,
    opts: Omit<EmbeddingOptions, "weight" | "dtype" | "device"> & { freeze?: boolean } = {},
  ): Embedding {
    if (embeddings.ndim !== 2) {
      throw new ShapeError(
        `Embedding.fromPretrained: embeddings must be 2-d, got ${fmtShape(embeddings.shape)}`,
      );
    }
    const [rows, cols] = embeddings.shape as [number, number];
    const emb = new Embedding(rows, cols, { ...opts, weight: embeddings.detach() });
    emb.weight.requiresGrad_(!(opts.freeze ?? true));
    return emb;
  }

  /** Draws N(0, 1) weights and zeroes the padding row. */
  resetParameters(): void {
    init.normal_(this.weight);
    if (this.paddingIdx !== null) noGrad(() => this.weight.select(0, this.paddingIdx!).fill_(0));
  }

  override forward(input: Tensor): Tensor {
    return embedding(input, this.weight, {
      paddingIdx: this.paddingIdx,
      maxNorm: this.maxNorm,
      normType: this.normType,
      scaleGradByFreq: this.scaleGradByFreq,
    });
  }

  override extraRepr(): string {
    let s = `${this.numEmbeddings}, ${this.embeddingDim}`;
    if (this.paddingIdx !== null) s += `, padding_idx=${this.paddingIdx}`;
    if (this.maxNorm !== null) s += `, max_norm=${pyFloat(this.maxNorm)}`;
    if (this.normType !== 2) s += `, norm_type=${pyFloat(this.normType)}`;
    if (this.scaleGradByFreq) s += `, scale_grad_by_freq=${pyBool(true)}`;
    return s;
  }
}

export type EmbeddingBagMode = "sum" | "mean" | "max";

export interface EmbeddingBagOptions extends Omit<EmbeddingOptions, "scaleGradByFreq"> {
  /** How a bag's rows combine: "mean" (default), "sum" or "max". */
  mode?: EmbeddingBagMode;
  /** With offsets: the last offset starts a bag that runs to the end (false). */
  includeLastOffset?: boolean;
}

export interface EmbeddingBagForwardOptions {
  /** With 1-d input: where each bag starts. */
  offsets?: Tensor | null;
  /** A weight per index, multiplied into its row ("sum" mode only). */
  perSampleWeights?: Tensor | null;
}

/**
 * Sums, averages or takes the max of the embeddings of each bag of
 * indices without building the (bags, length, dim) intermediate. Bags are
 * the rows of a 2-d input, or segments of a 1-d input that offsets starts.
 * (torch.nn.EmbeddingBag)
 *
 * @example
 * const bag = new nn.EmbeddingBag(10, 3, { mode: "sum" });
 * const idx = fl.tensor([1, 2, 4, 5, 4, 3, 2, 9], { dtype: "int32" });
 * bag.forward(idx, { offsets: fl.tensor([0, 4], { dtype: "int32" }) }).shape; // [2, 3]
 */
export class EmbeddingBag extends Module {
  weight: Parameter;
  readonly mode: EmbeddingBagMode;
  readonly paddingIdx: number | null;
  readonly maxNorm: number | null;
  readonly normType: number;
  readonly includeLastOffset: boolean;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: EmbeddingBagOptions = {},
  ) {
    super();
    this.mode = opts.mode ?? "mean";
    if (!["sum", "mean", "max"].includes(this.mode)) {
      throw new ArgumentError(
        `EmbeddingBag: mode must be "sum", "mean" or "max", got ${JSON.stringify(this.mode)}`,
      );
    }
    this.paddingIdx = normalizePaddingIdx("EmbeddingBag", opts.paddingIdx, numEmbeddings);
    this.maxNorm = opts.maxNorm ?? null;
    this.normType = opts.normType ?? 2;
    this.includeLastOffset = opts.includeLastOffset ?? false;
    this.weight = new Parameter(
      opts.weight ??
        Tensor.zeros([numEmbeddings, embeddingDim], opts.dtype ?? "float32", opts.device ?? "cpu"),
    );
    if (!opts.weight) {
      init.normal_(this.weight);
      if (this.paddingIdx !== null) noGrad(() => this.weight.select(0, this.paddingIdx!).fill_(0));
    }
  }

  /** An EmbeddingBag over the given weights, frozen by default. */
  static fromPretrained(
    embeddings: Tensor,
    opts: Omit<EmbeddingBagOptions, "weight" | "dtype" | "device"> & { freeze?: boolean } = {},
  ): EmbeddingBag {
    if (embeddings.ndim !== 2) {
      throw new ShapeError(
        `EmbeddingBag.fromPretrained: embeddings must be 2-d, got ${fmtShape(embeddings.shape)}`,
      );
    }
    const [rows, cols] = embeddings.shape as [number, number];
    const bag = new EmbeddingBag(rows, cols, { ...opts, weight: embeddings.detach() });
    bag.weight.requiresGrad_(!(opts.freeze ?? true));
    return bag;
  }

  override forward(input: Tensor, opts: EmbeddingBagForwardOptions = {}): Tensor {
    const op = "EmbeddingBag";
    const [flat, starts] = this.bags(op, input, opts.offsets ?? null);
    const dim = this.embeddingDim;
    // Rows of each index (n, dim); padding indices count as absent.
    let rows = embedding(flat, this.weight, { maxNorm: this.maxNorm, normType: this.normType });
    const present = this.paddingIdx === null ? null : flat.ne(this.paddingIdx); // (n,)
    if (opts.perSampleWeights) {
      if (this.mode !== "sum") {
        throw new ArgumentError(
          `${op}: perSampleWeights is only supported for mode "sum", got "${this.mode}"`,
        );
      }
      const psw = opts.perSampleWeights.reshape([-1]);
      if (psw.shape[0] !== flat.shape[0]) {
        throw new ShapeError(
          `${op}: perSampleWeights ${fmtShape(opts.perSampleWeights.shape)} must have the same shape as input ${fmtShape(input.shape)}`,
        );
      }
      rows = rows.mul(psw.unsqueeze(1));
    }
    const n = flat.shape[0]!;
    const bagCount = starts.length;
    const bagOf = new Int32Array(n);
    for (let b = 0; b < bagCount; b++) {
      const end = b + 1 < bagCount ? starts[b + 1]! : n;
      for (let i = starts[b]!; i < end; i++) bagOf[i] = b;
    }
    const bagIdx = Tensor.fromArray(bagOf, [n], input.device);
    if (this.mode === "max") return this.maxBags(rows, starts, n, present);
    if (present) rows = rows.where(present.unsqueeze(1), 0);
    const index = bagIdx.unsqueeze(1).expand([n, dim]);
    let out = Tensor.zeros([bagCount, dim], rows.dtype, rows.device).scatterAdd(0, index, rows);
    if (this.mode === "mean") {
      const ones = present ? present.to(rows.dtype) : Tensor.ones([n], rows.dtype, rows.device);
      const counts = Tensor.zeros([bagCount], rows.dtype, rows.device).scatterAdd(0, bagIdx, ones);
      // An empty bag is zeros, as PyTorch's.
      out = out.div(counts.clamp(1).unsqueeze(1));
    }
    return out;
  }

  /** The flat indices and where each bag starts. */
  private bags(op: string, input: Tensor, offsets: Tensor | null): [Tensor, number[]] {
    if (input.ndim === 2) {
      if (offsets)
        throw new ArgumentError(
          `${op}: offsets must be null when input is 2-d, got ${fmtShape(offsets.shape)}`,
        );
      const [b, len] = input.shape as [number, number];
      return [input.reshape([-1]), Array.from({ length: b }, (_, i) => i * len)];
    }
    if (input.ndim !== 1)
      throw new ShapeError(`${op}: input must be 1-d or 2-d, got ${fmtShape(input.shape)}`);
    if (!offsets) throw new ArgumentError(`${op}: offsets are required when input is 1-d`);
    if (offsets.ndim !== 1)
      throw new ShapeError(`${op}: offsets must be 1-d, got ${fmtShape(offsets.shape)}`);
    let starts = Array.from(offsets.dataSync(), Number);
    if (this.includeLastOffset) starts = starts.slice(0, -1);
    const n = input.shape[0]!;
    starts.forEach((s, i) => {
      if (s < 0 || s > n || (i > 0 && s < starts[i - 1]!)) {
        throw new ArgumentError(
          `${op}: offsets must be non-decreasing and within [0, ${n}], got ${JSON.stringify(starts)}`,
        );
      }
    });
    return [input, starts];
  }

  private maxBags(rows: Tensor, starts: number[], n: number, present: Tensor | null): Tensor {
    const dim = this.embeddingDim;
    const keep = present ? Array.from(present.dataSync(), Boolean) : null;
    const outs = starts.map((s, b) => {
      const end = b + 1 < starts.length ? starts[b + 1]! : n;
      const idx: number[] = [];
      for (let i = s; i < end; i++) if (!keep || keep[i]) idx.push(i);
      if (idx.length === 0) return Tensor.zeros([dim], rows.dtype, rows.device);
      return rows
        .indexSelect(0, Tensor.fromArray(Int32Array.from(idx), [idx.length], rows.device))
        .amax(0);
    });
    return Tensor.cat(
      outs.map((o) => o.unsqueeze(0)),
      0,
    );
  }

  override extraRepr(): string {
    let s = `${this.numEmbeddings}, ${this.embeddingDim}`;
    if (this.maxNorm !== null) s += `, max_norm=${pyFloat(this.maxNorm)}`;
    if (this.normType !== 2) s += `, norm_type=${pyFloat(this.normType)}`;
    s += `, mode='${this.mode}'`;
    if (this.paddingIdx !== null) s += `, padding_idx=${this.paddingIdx}`;
    return s;
  }
}
