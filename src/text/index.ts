// fl.text: tokenizers (characters, words, byte-level BPE), a small GPT with
// a KV cache, and decoding (greedy, temperature, top-k, top-p, beam search).
export type { BPETrainOptions, ByteBPEJSON } from "./bpe.js";
export { ByteBPETokenizer, pretokenize } from "./bpe.js";
export type { CharTokenizerJSON } from "./char_tokenizer.js";
export { CharTokenizer } from "./char_tokenizer.js";
export type {
  BeamSearchOptions,
  CausalLM,
  CausalState,
  DecodeOptions,
  GenerateOptions,
  Hypothesis,
  StepDecoder,
} from "./generate.js";
export { beamSearch, causalLMDecoder, decode, generate } from "./generate.js";
export type { GPTConfig } from "./gpt.js";
export { Block, CausalSelfAttention, GPT, MLP } from "./gpt.js";
export { KVCache } from "./kv_cache.js";
export type { SamplingOptions } from "./sampling.js";
export {
  argmax,
  drawCategorical,
  sampleLogits,
  sampleRow,
  softmaxRow,
  topKFilter,
  topPFilter,
} from "./sampling.js";
export type { WordTokenizerJSON } from "./word_tokenizer.js";
export { WordTokenizer } from "./word_tokenizer.js";
