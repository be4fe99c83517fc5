// fl.nn: modules, layers, init and utils (torch.nn).
export * as functional from "./functional/index.js";
export * as init from "./init.js";
export {
  ELU,
  GELU,
  Hardswish,
  Hardtanh,
  LeakyReLU,
  LogSoftmax,
  Mish,
  ReLU,
  ReLU6,
  SELU,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  Softsign,
  Tanh,
} from "./layers/activation.js";
export type {
  AttentionForwardOptions,
  MultiheadAttentionForwardOptions,
  MultiheadAttentionOptions,
  MultiplicativeAttentionOptions,
} from "./layers/attention.js";
export {
  AdditiveAttention,
  BahdanauAttention,
  LuongAttention,
  MultiheadAttention,
  MultiplicativeAttention,
} from "./layers/attention.js";
export {
  CBAM,
  ChannelAttention,
  SpatialAttention,
  SqueezeExcitation,
} from "./layers/attention_2d.js";
export { ModuleDict, ModuleList, Sequential } from "./layers/container.js";
export type { ConvLayerOptions, ConvTransposeLayerOptions } from "./layers/conv.js";
export { Conv1d, Conv2d, ConvTranspose2d } from "./layers/conv.js";
export { Dropout } from "./layers/dropout.js";
export { Dropout2d } from "./layers/dropout2d.js";
export type {
  EmbeddingBagMode,
  EmbeddingBagOptions,
  EmbeddingOptions,
} from "./layers/embedding.js";
export { Embedding, EmbeddingBag } from "./layers/embedding.js";
export { Flatten, Unflatten } from "./layers/flatten.js";
export type { LinearOptions } from "./layers/linear.js";
export { Bilinear, Identity, Linear } from "./layers/linear.js";
export type { LossOptions, NLLLossOptions } from "./layers/loss.js";
export {
  BCELoss,
  BCEWithLogitsLoss,
  CosineEmbeddingLoss,
  CosineSimilarity,
  CrossEntropyLoss,
  HuberLoss,
  KLDivLoss,
  L1Loss,
  MarginRankingLoss,
  MSELoss,
  NLLLoss,
  SmoothL1Loss,
  TripletMarginLoss,
} from "./layers/loss.js";
export type {
  BatchNormLayerOptions,
  GroupNormLayerOptions,
  LayerNormLayerOptions,
} from "./layers/normalization.js";
export {
  BatchNorm1d,
  BatchNorm2d,
  GroupNorm,
  InstanceNorm1d,
  InstanceNorm2d,
  LayerNorm,
  LocalResponseNorm,
} from "./layers/normalization.js";
export type { AvgPoolLayerOptions, MaxPoolLayerOptions } from "./layers/pooling.js";
export {
  AdaptiveAvgPool2d,
  AdaptiveMaxPool2d,
  AvgPool1d,
  AvgPool2d,
  MaxPool1d,
  MaxPool2d,
} from "./layers/pooling.js";
export type { PositionalEncodingOptions } from "./layers/positional.js";
export {
  applyRotaryPosEmb,
  LearnedPositionalEncoding,
  PositionalEncoding,
  RotaryEmbedding,
  sinusoidalTable,
} from "./layers/positional.js";
export type { RNNCellOptions, RNNOptions } from "./layers/rnn.js";
export { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell } from "./layers/rnn.js";
export type {
  DecoderLayerForwardOptions,
  EncoderLayerForwardOptions,
  TransformerActivation,
  TransformerForwardOptions,
  TransformerLayerOptions,
  TransformerOptions,
} from "./layers/transformer.js";
export {
  Transformer,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerEncoderLayer,
} from "./layers/transformer.js";
export { Upsample } from "./layers/upsample.js";
export type { ForwardHook, ForwardPreHook, IncompatibleKeys, RemovableHandle } from "./module.js";
export { Module } from "./module.js";
export { Parameter } from "./parameter.js";
export * as utils from "./utils/index.js";
