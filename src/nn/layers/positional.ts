// Positional encodings: attention treats its input as a set, so a
// Transformer is told where each token sits by adding (sinusoidal,
// learned) or multiplying in (rotary) a function of the position.
import type { DType } from "../../dtype.js";
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import * as init from "../init.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { Dropout } from "./dropout.js";

/**
 * The (maxLen, dModel) table of Vaswani et al.:
 * PE[pos, 2i] = sin(pos / 10000^(2i/dModel)), PE[pos, 2i+1] = cos(…).
 *
 * @example
 * sinusoidalTable(50, 16).shape; // [50, 16]
 */
export function sinusoidalTable(
  maxLen: number,
  dModel: number,
  opts: { dtype?: DType; device?: string } = {},
): Tensor {
  const data = new Float64Array(maxLen * dModel);
  for (let pos = 0; pos < maxLen; pos++) {
    for (let i = 0; i < dModel; i += 2) {
      const angle = pos * Math.exp((-i * Math.log(10000)) / dModel);
      data[pos * dModel + i] = Math.sin(angle);
      if (i + 1 < dModel) data[pos * dModel + i + 1] = Math.cos(angle);
    }
  }
  return Tensor.fromArray(data, [maxLen, dModel], opts.device ?? "cpu").to(opts.dtype ?? "float32");
}

/** The (L, E) slice of a table for input laid out (L, N, E), (N, L, E) or (L, E), as a broadcastable tensor. */
function alongSequence(
  op: string,
  table: Tensor,
  x: Tensor,
  batchFirst: boolean,
  offset: number,
): Tensor {
  if (x.ndim !== 2 && x.ndim !== 3)
    throw new ShapeError(
      `${op}: expected (L, N, E), (N, L, E) or (L, E) input, got ${fmtShape(x.shape)}`,
    );
  const seqDim = x.ndim === 2 ? 0 : batchFirst ? 1 : 0;
  const L = x.shape[seqDim]!;
  const E = x.shape[x.ndim - 1]!;
  if (E !== table.shape[1])
    throw new ShapeError(
      `${op}: input ${fmtShape(x.shape)} must end with dModel ${table.shape[1]}`,
    );
  if (offset + L > table.shape[0]!) {
    throw new ArgumentError(
      `${op}: positions ${offset}..${offset + L - 1} exceed maxLen ${table.shape[0]}`,
    );
  }
  const pe = table.narrow(0, offset, L); // (L, E)
  return x.ndim === 3 && !batchFirst ? pe.unsqueeze(1) : pe; // (L, 1, E) or (L, E)
}

export interface PositionalEncodingOptions {
  /** Dropout after adding the encoding (0.1, as PyTorch's tutorial). */
  dropout?: number;
  /** The longest sequence (5000). */
  maxLen?: number;
  /** Input is (N, L, E) instead of (L, N, E) (false). */
  batchFirst?: boolean;
  dtype?: DType;
  device?: string;
}

/**
 * Adds the fixed sinusoidal encoding to each position, then dropout (the
 * PositionalEncoding of PyTorch's Transformer tutorial). Nothing to
 * learn; the table is a non-persistent buffer `pe`, so checkpoints do not
 * carry it.
 *
 * @example
 * const pos = new nn.PositionalEncoding(16, { dropout: 0 });
 * pos.forward(fl.zeros([10, 2, 16])).shape; // [10, 2, 16]
 */
export class PositionalEncoding extends Module {
  declare pe: Tensor;
  dropout: Dropout;
  readonly batchFirst: boolean;

  constructor(
    readonly dModel: number,
    opts: PositionalEncodingOptions = {},
  ) {
    super();
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = new Dropout(opts.dropout ?? 0.1);
    this.registerBuffer("pe", sinusoidalTable(opts.maxLen ?? 5000, dModel, opts), false);
  }

  override forward(x: Tensor, opts: { offset?: number } = {}): Tensor {
    const pe = alongSequence("PositionalEncoding", this.pe, x, this.batchFirst, opts.offset ?? 0);
    return this.dropout.forward(x.add(pe.to(x.dtype)));
  }
}

/**
 * A learned vector per position, added to the input (GPT-2's wpe):
 * weight (maxLen, dModel) starts N(0, 0.02).
 *
 * @example
 * const pos = new nn.LearnedPositionalEncoding(64, 16, { batchFirst: true });
 * pos.forward(fl.zeros([2, 10, 16])).shape; // [2, 10, 16]
 */
export class LearnedPositionalEncoding extends Module {
  weight: Parameter;
  dropout: Dropout;
  readonly batchFirst: boolean;

  constructor(
    readonly maxLen: number,
    readonly dModel: number,
    opts: Omit<PositionalEncodingOptions, "maxLen"> = {},
  ) {
    super();
    this.weight = new Parameter(
      Tensor.zeros([maxLen, dModel], opts.dtype ?? "float32", opts.device ?? "cpu"),
    );
    init.normal_(this.weight, 0, 0.02);
    this.dropout = new Dropout(opts.dropout ?? 0);
    this.batchFirst = opts.batchFirst ?? false;
  }

  override forward(x: Tensor, opts: { offset?: number } = {}): Tensor {
    const pe = alongSequence(
      "LearnedPositionalEncoding",
      this.weight,
      x,
      this.batchFirst,
      opts.offset ?? 0,
    );
    return this.dropout.forward(x.add(pe));
  }
}

/**
 * Rotary position embedding (RoPE, Su et al., 2021): rotates each pair of
 * features of a query or key by an angle proportional to its position, so
 * q·k depends only on how far apart the two positions are. Applied to q
 * and k (not v) of each head: x (…, L, dim) → same shape. Pairs are
 * (i, i + dim/2) ("rotate half", as GPT-NeoX and Llama).
 *
 * @example
 * const rope = new nn.RotaryEmbedding(8);
 * const q = fl.randn([2, 4, 10, 8]); // (N, heads, L, headDim)
 * rope.forward(q).shape; // [2, 4, 10, 8]
 */
export class RotaryEmbedding extends Module {
  declare inv_freq: Tensor;

  constructor(
    readonly dim: number,
    readonly opts: { base?: number; device?: string } = {},
  ) {
    super();
    if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0) {
      throw new ArgumentError(`RotaryEmbedding: dim must be a positive even integer, got ${dim}`);
    }
    const base = opts.base ?? 10000;
    const inv = new Float64Array(dim / 2);
    for (let i = 0; i < dim / 2; i++) inv[i] = base ** ((-2 * i) / dim);
    this.registerBuffer("inv_freq", Tensor.fromArray(inv, [dim / 2], opts.device ?? "cpu"), false);
  }

  /** cos and sin tables (L, dim) for positions offset … offset + L - 1. */
  cosSin(L: number, offset = 0, dtype: DType = "float32"): [Tensor, Tensor] {
    const pos = Tensor.arangeInt(L, this.inv_freq.device).to("float64").add(offset); // (L,)
    const freqs = pos.unsqueeze(1).mul(this.inv_freq.unsqueeze(0)); // (L, dim/2)
    const emb = Tensor.cat([freqs, freqs], -1); // (L, dim)
    return [emb.cos().to(dtype), emb.sin().to(dtype)];
  }

  override forward(x: Tensor, opts: { offset?: number } = {}): Tensor {
    if (x.ndim < 2 || x.shape[x.ndim - 1] !== this.dim) {
      throw new ShapeError(
        `RotaryEmbedding: expected input (…, L, ${this.dim}), got ${fmtShape(x.shape)}`,
      );
    }
    const [cos, sin] = this.cosSin(x.shape[x.ndim - 2]!, opts.offset ?? 0, x.dtype);
    return applyRotaryPosEmb(x, cos, sin);
  }

  override extraRepr(): string {
    return `dim=${this.dim}, base=${this.opts.base ?? 10000}`;
  }
}

/**
 * x·cos + rotateHalf(x)·sin, where rotateHalf([a, b]) = [-b, a] splits the
 * last dim in halves.
 *
 * @example
 * const [cos, sin] = new nn.RotaryEmbedding(8).cosSin(10);
 * applyRotaryPosEmb(fl.randn([10, 8]), cos, sin).shape; // [10, 8]
 */
export function applyRotaryPosEmb(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const half = x.shape[x.ndim - 1]! / 2;
  const [a, b] = [x.narrow(-1, 0, half), x.narrow(-1, half, half)];
  const rotated = Tensor.cat([b.neg(), a], -1);
  return x.mul(cos).add(rotated.mul(sin));
}
