// A key/value cache for autoregressive decoding. Each new token's query
// attends to the keys and values of every earlier token; those do not
// change once computed, so a decoder keeps them per layer and computes
// only the new token's, turning generation from O(T²) into O(T) work.
import { ArgumentError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";

/**
 * Per-layer keys and values, each (B, H, T, d), grown along T.
 *
 * @example
 * const cache = new fl.text.KVCache(2);
 * const [k, v] = cache.update(0, fl.randn([1, 4, 3, 8]), fl.randn([1, 4, 3, 8]));
 * cache.length; // 3
 */
export class KVCache {
  readonly keys: (Tensor | null)[];
  readonly values: (Tensor | null)[];

  constructor(readonly numLayers: number) {
    this.keys = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
  }

  /** Tokens cached so far (by layer 0, which every forward updates first). */
  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }

  /** Appends this step's k and v (B, H, T, d) and returns the whole cached keys and values. */
  update(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    if (!(layer >= 0 && layer < this.numLayers))
      throw new ArgumentError(`KVCache.update: layer ${layer} is outside [0, ${this.numLayers})`);
    // The cache holds values, not graph: generation runs without gradients.
    const pk = this.keys[layer];
    const pv = this.values[layer];
    const K = pk ? Tensor.cat([pk, k.detach()], 2) : k.detach();
    const V = pv ? Tensor.cat([pv, v.detach()], 2) : v.detach();
    this.keys[layer] = K;
    this.values[layer] = V;
    return [K, V];
  }

  /** A cache holding the given batch rows, in that order (beam search reorders hypotheses). */
  select(rows: readonly number[]): KVCache {
    const out = new KVCache(this.numLayers);
    const idx = Tensor.fromArray(Int32Array.from(rows), [rows.length], "cpu", "int32");
    for (let l = 0; l < this.numLayers; l++) {
      const k = this.keys[l];
      const v = this.values[l];
      out.keys[l] = k ? k.indexSelect(0, idx.to(k.device)) : null;
      out.values[l] = v ? v.indexSelect(0, idx.to(v.device)) : null;
    }
    return out;
  }
}
