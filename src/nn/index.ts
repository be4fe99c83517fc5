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
export { ModuleDict, ModuleList, Sequential } from "./layers/container.js";
export { Dropout } from "./layers/dropout.js";
export type { EmbeddingBagMode, EmbeddingBagOptions, EmbeddingOptions } from "./layers/embedding.js";
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
export type { ForwardHook, ForwardPreHook, IncompatibleKeys, RemovableHandle } from "./module.js";
export { Module } from "./module.js";
export { Parameter } from "./parameter.js";
export type { RNNCellOptions, RNNOptions } from "./layers/rnn.js";
export { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell } from "./layers/rnn.js";
export * as utils from "./utils/index.js";
