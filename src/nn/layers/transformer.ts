// The Transformer (Vaswani et al., 2017) as PyTorch builds it
// (torch.nn.modules.transformer): encoder and decoder layers, their stacks,
// and the full encoder–decoder model, with PyTorch's submodule names so
// state_dict keys match ("layers.0.self_attn.in_proj_weight", "norm1.weight").
//
// An encoder layer is self-attention then a two-layer feed-forward
// network, each wrapped in a residual connection and a LayerNorm: after
// the sum (post-norm, the paper and PyTorch's default) or on the branch's
// input (normFirst, pre-norm, which trains more stably when deep). A
// decoder layer adds cross-attention over the encoder's output (memory)
// between the two.

import type { DType } from "../../dtype.js";
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { defaultGenerator } from "../../random.js";
import { Tensor } from "../../tensor/tensor.js";
import { geluFeedForward } from "../functional/gelu_linear.js";
import * as F from "../functional/index.js";
import { linearGelu } from "../functional/linear.js";
import * as init from "../init.js";
import { Module } from "../module.js";
import { MultiheadAttention } from "./attention.js";
import { ModuleList } from "./container.js";
import { Dropout } from "./dropout.js";
import { Linear } from "./linear.js";
import { LayerNorm } from "./normalization.js";

/** The feed-forward activation: a name, a function, or a module. */
export type TransformerActivation = "relu" | "gelu" | ((x: Tensor) => Tensor) | Module;

function activationFn(a: TransformerActivation): (x: Tensor) => Tensor {
  if (a === "relu") return F.relu;
  if (a === "gelu") return (x) => F.gelu(x);
  if (a instanceof Module) return (x) => a.forward(x) as Tensor;
  if (typeof a === "function") return a;
  throw new ArgumentError(`Transformer: activation should be relu/gelu, not ${String(a)}`);
}

/** A Linear whose forward may be bypassed: no subclass, no hooks to run. */
function plainLinear(l: Linear): boolean {
  return l.constructor === Linear && !l.hasForwardHooks();
}

/**
 * The feed-forward block's first half, act(linear1(x)). GELU after a
 * plain Linear (no subclass, no hooks to run) goes through linearGelu,
 * which adds the bias and applies GELU in one pass.
 */
function firstHalf(linear1: Linear, gelu: boolean, act: (x: Tensor) => Tensor, x: Tensor): Tensor {
  // (A wrong input width goes to linear1.forward, for Linear's own error.)
  const fits = x.ndim > 0 && x.shape[x.ndim - 1] === linear1.inFeatures;
  if (gelu && fits && plainLinear(linear1)) {
    return linearGelu(x, linear1.weight, linear1.bias);
  }
  return act(linear1.forward(x));
}

export interface TransformerLayerOptions {
  /** Width of the feed-forward network (2048). */
  dimFeedforward?: number;
  /** Dropout on attention weights, the feed-forward hidden layer and both residual branches (0.1). */
  dropout?: number;
  /** Feed-forward activation: "relu" (default), "gelu", a function or a module. */
  activation?: TransformerActivation;
  /** LayerNorm's eps (1e-5). */
  layerNormEps?: number;
  /** Inputs are (N, L, E) instead of (L, N, E) (false). */
  batchFirst?: boolean;
  /** LayerNorm before each block (pre-norm) instead of after the residual sum (false). */
  normFirst?: boolean;
  /** Biases in the linear layers and attention (true). */
  bias?: boolean;
  dtype?: DType;
  device?: string;
}

export interface EncoderLayerForwardOptions {
  /** (L, L) or (N·nhead, L, L): true or -inf blocks query i from key j. */
  srcMask?: Tensor | null;
  /** (N, L): true marks padding positions. */
  srcKeyPaddingMask?: Tensor | null;
  /** Use a causal mask when srcMask is not given. */
  isCausal?: boolean;
}

/**
 * Self-attention and a feed-forward network, each with a residual
 * connection and LayerNorm (torch.nn.TransformerEncoderLayer).
 * Submodules: self_attn, linear1, dropout, linear2, norm1, norm2,
 * dropout1, dropout2.
 *
 * @example
 * const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true });
 * layer.forward(fl.randn([2, 5, 8])).shape; // [2, 5, 8]
 */
export class TransformerEncoderLayer extends Module {
  self_attn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  readonly normFirst: boolean;
  readonly options: TransformerLayerOptions;
  private readonly act: (x: Tensor) => Tensor;
  /** The activation is "gelu", which the feed-forward block may fuse with linear1's bias. */
  private readonly gelu: boolean;

  constructor(
    readonly dModel: number,
    readonly nhead: number,
    opts: TransformerLayerOptions = {},
  ) {
    super();
    this.options = { ...opts };
    const p = opts.dropout ?? 0.1;
    const ff = opts.dimFeedforward ?? 2048;
    const lin = { bias: opts.bias ?? true, dtype: opts.dtype, device: opts.device };
    this.self_attn = new MultiheadAttention(dModel, nhead, {
      dropout: p,
      batchFirst: opts.batchFirst,
      ...lin,
    });
    this.linear1 = new Linear(dModel, ff, lin);
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(ff, dModel, lin);
    this.normFirst = opts.normFirst ?? false;
    this.norm1 = new LayerNorm(dModel, { eps: opts.layerNormEps ?? 1e-5, ...lin });
    this.norm2 = new LayerNorm(dModel, { eps: opts.layerNormEps ?? 1e-5, ...lin });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
    this.act = activationFn(opts.activation ?? "relu");
    this.gelu = opts.activation === "gelu";
  }

  override forward(src: Tensor, opts: EncoderLayerForwardOptions = {}): Tensor {
    // Causal without a mask is passed on as a flag: the fused attention
    // then skips the hidden half instead of adding a mask to it.
    const mask = opts.srcMask ?? null;
    const sa = (x: Tensor) =>
      this.dropout1.forward(
        this.self_attn.forward(x, x, x, {
          attnMask: mask,
          isCausal: !mask && (opts.isCausal ?? false),
          keyPaddingMask: opts.srcKeyPaddingMask,
          needWeights: false,
        })[0],
      );
    let x = src;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.forward(x)));
      x = x.add(this.ff(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(x.add(sa(x)));
      x = this.norm2.forward(x.add(this.ff(x)));
    }
    return x;
  }

  private ff(x: Tensor): Tensor {
    // GELU between plain Linears (no subclass, no hooks) with both dropouts
    // the identity: linear2 and the GELU share one backward (geluLinear).
    const still = (d: Dropout) => (d.p === 0 || !d.training) && !d.hasForwardHooks();
    if (this.gelu && still(this.dropout) && still(this.dropout2)) {
      const [l1, l2] = [this.linear1, this.linear2];
      if (plainLinear(l1) && plainLinear(l2)) {
        const y = geluFeedForward(x, l1.weight, l1.bias, l2.weight, l2.bias);
        if (y) return y;
      }
    }
    return this.dropout2.forward(
      this.linear2.forward(this.dropout.forward(firstHalf(this.linear1, this.gelu, this.act, x))),
    );
  }
}

export interface DecoderLayerForwardOptions {
  /** (T, T) mask over the target's self-attention; Transformer.generateSquareSubsequentMask(T) for causal decoding. */
  tgtMask?: Tensor | null;
  /** (T, S) mask over cross-attention. */
  memoryMask?: Tensor | null;
  /** (N, T): true marks padding in the target. */
  tgtKeyPaddingMask?: Tensor | null;
  /** (N, S): true marks padding in the memory. */
  memoryKeyPaddingMask?: Tensor | null;
  /** Use a causal tgt mask when tgtMask is not given. */
  tgtIsCausal?: boolean;
}

/**
 * Masked self-attention, cross-attention over the encoder's output
 * (memory), and a feed-forward network, each with a residual connection
 * and LayerNorm (torch.nn.TransformerDecoderLayer). Submodules:
 * self_attn, multihead_attn, linear1, dropout, linear2, norm1, norm2,
 * norm3, dropout1, dropout2, dropout3.
 *
 * @example
 * const layer = new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16 });
 * layer.forward(fl.randn([4, 2, 8]), fl.randn([6, 2, 8])).shape; // [4, 2, 8]
 */
export class TransformerDecoderLayer extends Module {
  self_attn: MultiheadAttention;
  multihead_attn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;
  readonly normFirst: boolean;
  readonly options: TransformerLayerOptions;
  private readonly act: (x: Tensor) => Tensor;
  /** The activation is "gelu", which the feed-forward block may fuse with linear1's bias. */
  private readonly gelu: boolean;

  constructor(
    readonly dModel: number,
    readonly nhead: number,
    opts: TransformerLayerOptions = {},
  ) {
    super();
    this.options = { ...opts };
    const p = opts.dropout ?? 0.1;
    const ff = opts.dimFeedforward ?? 2048;
    const lin = { bias: opts.bias ?? true, dtype: opts.dtype, device: opts.device };
    this.self_attn = new MultiheadAttention(dModel, nhead, {
      dropout: p,
      batchFirst: opts.batchFirst,
      ...lin,
    });
    this.multihead_attn = new MultiheadAttention(dModel, nhead, {
      dropout: p,
      batchFirst: opts.batchFirst,
      ...lin,
    });
    this.linear1 = new Linear(dModel, ff, lin);
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(ff, dModel, lin);
    this.normFirst = opts.normFirst ?? false;
    const eps = opts.layerNormEps ?? 1e-5;
    this.norm1 = new LayerNorm(dModel, { eps, ...lin });
    this.norm2 = new LayerNorm(dModel, { eps, ...lin });
    this.norm3 = new LayerNorm(dModel, { eps, ...lin });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
    this.dropout3 = new Dropout(p);
    this.act = activationFn(opts.activation ?? "relu");
    this.gelu = opts.activation === "gelu";
  }

  override forward(tgt: Tensor, memory: Tensor, opts: DecoderLayerForwardOptions = {}): Tensor {
    const tgtMask =
      opts.tgtMask ?? (opts.tgtIsCausal ? causalMask(tgt, this.self_attn.batchFirst) : null);
    const sa = (x: Tensor) =>
      this.dropout1.forward(
        this.self_attn.forward(x, x, x, {
          attnMask: tgtMask,
          keyPaddingMask: opts.tgtKeyPaddingMask,
          needWeights: false,
        })[0],
      );
    const mha = (x: Tensor) =>
      this.dropout2.forward(
        this.multihead_attn.forward(x, memory, memory, {
          attnMask: opts.memoryMask,
          keyPaddingMask: opts.memoryKeyPaddingMask,
          needWeights: false,
        })[0],
      );
    const ff = (x: Tensor) =>
      this.dropout3.forward(
        this.linear2.forward(this.dropout.forward(firstHalf(this.linear1, this.gelu, this.act, x))),
      );
    let x = tgt;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.forward(x)));
      x = x.add(mha(this.norm2.forward(x)));
      x = x.add(ff(this.norm3.forward(x)));
    } else {
      x = this.norm1.forward(x.add(sa(x)));
      x = this.norm2.forward(x.add(mha(x)));
      x = this.norm3.forward(x.add(ff(x)));
    }
    return x;
  }
}

/** A causal (L, L) bool mask for a sequence laid out (L, N, E) or (N, L, E). */
function causalMask(x: Tensor, batchFirst: boolean): Tensor {
  const L = x.ndim === 2 ? x.shape[0]! : x.shape[batchFirst ? 1 : 0]!;
  return Tensor.ones([L, L], "bool", x.device).triu(1);
}

/**
 * numLayers copies of a layer, the same starting weights in each (as
 * PyTorch's deepcopy): a fresh layer of the same configuration loads the
 * original's state. The random generator is put back afterwards, so
 * building a stack draws as many numbers as building one layer.
 */
function clones<L extends TransformerEncoderLayer | TransformerDecoderLayer>(
  layer: L,
  n: number,
): ModuleList {
  const copies: Module[] = [];
  for (let i = 0; i < n; i++) {
    const saved = defaultGenerator.getState();
    const Cls = layer.constructor as new (d: number, h: number, o: TransformerLayerOptions) => L;
    const copy = new Cls(layer.dModel, layer.nhead, layer.options);
    defaultGenerator.setState(saved);
    const state = Object.fromEntries(
      Object.entries(layer.stateDict()).map(([k, v]) => [k, v.clone()]),
    );
    copy.loadStateDict(state);
    for (const [k, p] of layer.namedParameters())
      if (!p.requiresGrad) copy.getParameter(k).requiresGrad_(false);
    copy.train(layer.training);
    copies.push(copy);
  }
  return new ModuleList(copies);
}

/**
 * A stack of numLayers encoder layers (copies of encoderLayer), with an
 * optional final norm (torch.nn.TransformerEncoder). Keys:
 * layers.{i}.…, norm.….
 *
 * @example
 * const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
 * const enc = new nn.TransformerEncoder(layer, 3);
 * enc.forward(fl.randn([5, 2, 8])).shape; // [5, 2, 8]
 */
export class TransformerEncoder extends Module {
  layers: ModuleList;
  norm: Module | null;

  constructor(
    encoderLayer: TransformerEncoderLayer,
    readonly numLayers: number,
    opts: { norm?: Module | null; enableNestedTensor?: boolean; maskCheck?: boolean } = {},
  ) {
    super();
    if (!(encoderLayer instanceof TransformerEncoderLayer)) {
      throw new ArgumentError("TransformerEncoder: encoderLayer must be a TransformerEncoderLayer");
    }
    this.layers = clones(encoderLayer, numLayers);
    this.norm = opts.norm ?? null;
  }

  override forward(
    src: Tensor,
    opts: { mask?: Tensor | null; srcKeyPaddingMask?: Tensor | null; isCausal?: boolean } = {},
  ): Tensor {
    let x = src;
    for (const layer of this.layers.children() as TransformerEncoderLayer[]) {
      x = layer.forward(x, {
        srcMask: opts.mask,
        srcKeyPaddingMask: opts.srcKeyPaddingMask,
        isCausal: opts.isCausal,
      });
    }
    return this.norm ? (this.norm.forward(x) as Tensor) : x;
  }
}

/**
 * A stack of numLayers decoder layers over the same memory, with an
 * optional final norm (torch.nn.TransformerDecoder).
 *
 * @example
 * const layer = new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true });
 * const dec = new nn.TransformerDecoder(layer, 2);
 * const mask = nn.Transformer.generateSquareSubsequentMask(4);
 * dec.forward(fl.randn([2, 4, 8]), fl.randn([2, 6, 8]), { tgtMask: mask }).shape; // [2, 4, 8]
 */
export class TransformerDecoder extends Module {
  layers: ModuleList;
  norm: Module | null;

  constructor(
    decoderLayer: TransformerDecoderLayer,
    readonly numLayers: number,
    opts: { norm?: Module | null } = {},
  ) {
    super();
    if (!(decoderLayer instanceof TransformerDecoderLayer)) {
      throw new ArgumentError("TransformerDecoder: decoderLayer must be a TransformerDecoderLayer");
    }
    this.layers = clones(decoderLayer, numLayers);
    this.norm = opts.norm ?? null;
  }

  override forward(tgt: Tensor, memory: Tensor, opts: DecoderLayerForwardOptions = {}): Tensor {
    let x = tgt;
    for (const layer of this.layers.children() as TransformerDecoderLayer[])
      x = layer.forward(x, memory, opts);
    return this.norm ? (this.norm.forward(x) as Tensor) : x;
  }
}

export interface TransformerOptions extends TransformerLayerOptions {
  /** Encoder layers (6). */
  numEncoderLayers?: number;
  /** Decoder layers (6). */
  numDecoderLayers?: number;
  customEncoder?: Module | null;
  customDecoder?: Module | null;
}

export interface TransformerForwardOptions {
  srcMask?: Tensor | null;
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
}

/**
 * The encoder–decoder Transformer (torch.nn.Transformer): the encoder
 * reads src, the decoder reads tgt and attends to the encoder's output.
 * Both stacks end in a LayerNorm; every matrix starts xavier-uniform.
 *
 * @example
 * const model = new nn.Transformer({ dModel: 16, nhead: 4, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 32 });
 * const tgtMask = nn.Transformer.generateSquareSubsequentMask(7);
 * model.forward(fl.randn([10, 2, 16]), fl.randn([7, 2, 16]), { tgtMask }).shape; // [7, 2, 16]
 */
export class Transformer extends Module {
  encoder: Module;
  decoder: Module;
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;

  constructor(opts: TransformerOptions & { dModel?: number; nhead?: number } = {}) {
    super();
    this.dModel = opts.dModel ?? 512;
    this.nhead = opts.nhead ?? 8;
    this.batchFirst = opts.batchFirst ?? false;
    const lin = { dtype: opts.dtype, device: opts.device };
    const eps = opts.layerNormEps ?? 1e-5;
    this.encoder =
      opts.customEncoder ??
      new TransformerEncoder(
        new TransformerEncoderLayer(this.dModel, this.nhead, opts),
        opts.numEncoderLayers ?? 6,
        {
          norm: new LayerNorm(this.dModel, { eps, ...lin }),
        },
      );
    this.decoder =
      opts.customDecoder ??
      new TransformerDecoder(
        new TransformerDecoderLayer(this.dModel, this.nhead, opts),
        opts.numDecoderLayers ?? 6,
        {
          norm: new LayerNorm(this.dModel, { eps, ...lin }),
        },
      );
    for (const p of this.parameters()) if (p.ndim > 1) init.xavierUniform_(p);
  }

  override forward(src: Tensor, tgt: Tensor, opts: TransformerForwardOptions = {}): Tensor {
    const bd = this.batchFirst ? 0 : 1;
    if (src.ndim === 3 && tgt.ndim === 3 && src.shape[bd] !== tgt.shape[bd]) {
      throw new ShapeError(
        `Transformer: the batch number of src and tgt must be equal, got ${fmtShape(src.shape)} and ${fmtShape(tgt.shape)}`,
      );
    }
    if (src.shape[src.ndim - 1] !== this.dModel || tgt.shape[tgt.ndim - 1] !== this.dModel) {
      throw new ShapeError(
        `Transformer: the feature number of src and tgt must be equal to d_model (${this.dModel}), got ${fmtShape(src.shape)} and ${fmtShape(tgt.shape)}`,
      );
    }
    const memory = this.encoder.forward(src, {
      mask: opts.srcMask,
      srcKeyPaddingMask: opts.srcKeyPaddingMask,
    }) as Tensor;
    return this.decoder.forward(tgt, memory, {
      tgtMask: opts.tgtMask,
      memoryMask: opts.memoryMask,
      tgtKeyPaddingMask: opts.tgtKeyPaddingMask,
      memoryKeyPaddingMask: opts.memoryKeyPaddingMask,
    }) as Tensor;
  }

  /**
   * An (sz, sz) float mask for causal attention: 0 on and below the
   * diagonal, -inf above (position i may not see j > i).
   *
   * @example
   * nn.Transformer.generateSquareSubsequentMask(3).tolistSync(); // [[0, -inf, -inf], [0, 0, -inf], [0, 0, 0]]
   */
  static generateSquareSubsequentMask(
    sz: number,
    opts: { dtype?: DType; device?: string } = {},
  ): Tensor {
    const blocked = Tensor.ones([sz, sz], "bool", opts.device ?? "cpu").triu(1);
    return Tensor.zeros([sz, sz], opts.dtype ?? "float32", opts.device ?? "cpu").maskedFill(
      blocked,
      Number.NEGATIVE_INFINITY,
    );
  }
}
