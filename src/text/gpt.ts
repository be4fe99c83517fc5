// A small GPT (Radford et al., 2018/2019): a decoder-only Transformer that
// predicts each next token from the ones before it. Token and learned
// position embeddings, nLayer pre-norm blocks of causal self-attention and
// a GELU MLP, a final LayerNorm and a linear head to the vocabulary.
// Submodule names follow GPT-2's (wte, wpe, h.0.attn.c_attn, ln_f,
// lm_head), so bench/names_gpt_torch.py builds the same state_dict; every
// weight keeps PyTorch's default init (Linear: U(±1/√fan_in),
// Embedding: N(0, 1), LayerNorm: 1 and 0).
//
// forward accepts a KVCache: the keys and values of earlier positions are
// then reused, and only the new tokens are computed.
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import * as F from "../nn/functional/index.js";
import { ModuleList } from "../nn/layers/container.js";
import { Dropout } from "../nn/layers/dropout.js";
import { Embedding } from "../nn/layers/embedding.js";
import { Linear } from "../nn/layers/linear.js";
import { LayerNorm } from "../nn/layers/normalization.js";
import { Module } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import { KVCache } from "./kv_cache.js";

export interface GPTConfig {
  vocabSize: number;
  /** Longest context (positions of wpe). */
  blockSize: number;
  nEmbd: number;
  nHead: number;
  nLayer: number;
  /** Dropout on embeddings, attention weights and residual branches (0). */
  dropout?: number;
}

/** Multi-head causal self-attention with one fused q/k/v projection (c_attn). */
export class CausalSelfAttention extends Module {
  c_attn: Linear;
  c_proj: Linear;
  resid_dropout: Dropout;
  readonly nHead: number;
  readonly p: number;

  constructor(cfg: GPTConfig) {
    super();
    if (cfg.nEmbd % cfg.nHead !== 0)
      throw new ArgumentError(
        `GPT: nEmbd (${cfg.nEmbd}) must be divisible by nHead (${cfg.nHead})`,
      );
    this.c_attn = new Linear(cfg.nEmbd, 3 * cfg.nEmbd);
    this.c_proj = new Linear(cfg.nEmbd, cfg.nEmbd);
    this.resid_dropout = new Dropout(cfg.dropout ?? 0);
    this.nHead = cfg.nHead;
    this.p = cfg.dropout ?? 0;
  }

  override forward(x: Tensor, cache: KVCache | null = null, layer = 0): Tensor {
    const [B, T, C] = x.shape as [number, number, number];
    const H = this.nHead;
    const d = C / H;
    const past = cache?.keys[layer]?.shape[2] ?? 0; // this layer's cached positions
    // (B, T, 3C) -> three (B, H, T, d)
    const [q, k0, v0] = this.c_attn
      .forward(x)
      .split(C, 2)
      .map((t) => t.view([B, T, H, d]).transpose(1, 2)) as [Tensor, Tensor, Tensor];
    const [k, v] = cache ? cache.update(layer, k0, v0) : [k0, v0]; // (B, H, past+T, d)
    const dropoutP = this.training ? this.p : 0;
    let y: Tensor;
    if (past === 0) y = F.scaledDotProductAttention(q, k, v, { isCausal: true, dropoutP });
    else {
      // New query i sits at position past+i and may see keys 0..past+i.
      const mask = Tensor.ones([T, past + T], "bool", x.device).tril(past);
      y = F.scaledDotProductAttention(q, k, v, { attnMask: mask, dropoutP });
    }
    y = y.transpose(1, 2).contiguous().view([B, T, C]); // (B, T, C)
    return this.resid_dropout.forward(this.c_proj.forward(y));
  }
}

/** The position-wise feed-forward network: C → 4C → GELU → C. */
export class MLP extends Module {
  c_fc: Linear;
  c_proj: Linear;
  dropout: Dropout;

  constructor(cfg: GPTConfig) {
    super();
    this.c_fc = new Linear(cfg.nEmbd, 4 * cfg.nEmbd);
    this.c_proj = new Linear(4 * cfg.nEmbd, cfg.nEmbd);
    this.dropout = new Dropout(cfg.dropout ?? 0);
  }

  override forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(F.gelu(this.c_fc.forward(x))));
  }
}

/** A pre-norm block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
export class Block extends Module {
  ln_1: LayerNorm;
  attn: CausalSelfAttention;
  ln_2: LayerNorm;
  mlp: MLP;

  constructor(cfg: GPTConfig) {
    super();
    this.ln_1 = new LayerNorm(cfg.nEmbd);
    this.attn = new CausalSelfAttention(cfg);
    this.ln_2 = new LayerNorm(cfg.nEmbd);
    this.mlp = new MLP(cfg);
  }

  override forward(x: Tensor, cache: KVCache | null = null, layer = 0): Tensor {
    const a = x.add(this.attn.forward(this.ln_1.forward(x), cache, layer));
    return a.add(this.mlp.forward(this.ln_2.forward(a)));
  }
}

/**
 * A decoder-only Transformer language model. forward(idx (B, T) int32)
 * returns next-token logits (B, T, vocabSize); with a KVCache, idx holds
 * only the new tokens and positions continue from the cache.
 *
 * @example
 * const gpt = new fl.text.GPT({ vocabSize: 27, blockSize: 16, nEmbd: 32, nHead: 4, nLayer: 2 });
 * gpt.forward(fl.zeros([2, 5], { dtype: "int32" })).shape; // [2, 5, 27]
 * fl.text.generate(gpt, [[0]], { maxNewTokens: 5 }); // [[0, …five more ids]]
 */
export class GPT extends Module {
  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: ModuleList;
  ln_f: LayerNorm;
  lm_head: Linear;
  readonly config: GPTConfig;

  constructor(config: GPTConfig) {
    super();
    this.config = { ...config };
    this.wte = new Embedding(config.vocabSize, config.nEmbd);
    this.wpe = new Embedding(config.blockSize, config.nEmbd);
    this.drop = new Dropout(config.dropout ?? 0);
    this.h = new ModuleList(Array.from({ length: config.nLayer }, () => new Block(config)));
    this.ln_f = new LayerNorm(config.nEmbd);
    this.lm_head = new Linear(config.nEmbd, config.vocabSize, { bias: false });
  }

  get blockSize(): number {
    return this.config.blockSize;
  }

  /** An empty cache for forward's second argument. */
  createCache(): KVCache {
    return new KVCache(this.config.nLayer);
  }

  override forward(idx: Tensor, opts: { cache?: KVCache | null } = {}): Tensor {
    if (idx.ndim !== 2)
      throw new ShapeError(`GPT: idx must be (B, T) token ids, got ${fmtShape(idx.shape)}`);
    const cache = opts.cache ?? null;
    const past = cache?.length ?? 0;
    const T = idx.shape[1]!;
    if (past + T > this.config.blockSize)
      throw new ArgumentError(
        `GPT: ${past + T} positions (${past} cached + ${T} new) exceed blockSize ${this.config.blockSize}`,
      );
    const pos = Tensor.fromArray(
      Int32Array.from({ length: T }, (_, i) => past + i),
      [T],
      idx.device,
      "int32",
    );
    let x = this.drop.forward(this.wte.forward(idx).add(this.wpe.forward(pos))); // (B, T, C)
    (this.h.children() as Block[]).forEach((block, i) => {
      x = block.forward(x, cache, i);
    });
    return this.lm_head.forward(this.ln_f.forward(x)); // (B, T, V)
  }
}
