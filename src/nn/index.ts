// fl.nn: modules, layers, init and utils (torch.nn).
export * as functional from "./functional/index.js";
export * as utils from "./utils/index.js";
export * as init from "./init.js";
export { Module } from "./module.js";
export type { ForwardHook, ForwardPreHook, IncompatibleKeys, RemovableHandle } from "./module.js";
export { Parameter } from "./parameter.js";
export { Sequential, ModuleList, ModuleDict } from "./layers/container.js";
export { Identity, Linear, Bilinear } from "./layers/linear.js";
export type { LinearOptions } from "./layers/linear.js";
export {
  ReLU,
  ReLU6,
  LeakyReLU,
  ELU,
  SELU,
  GELU,
  SiLU,
  Mish,
  Sigmoid,
  Tanh,
  Softplus,
  Softmax,
  LogSoftmax,
  Softsign,
  Hardtanh,
  Hardswish,
} from "./layers/activation.js";
export { Dropout } from "./layers/dropout.js";
export { Flatten, Unflatten } from "./layers/flatten.js";
export {
  MSELoss,
  L1Loss,
  SmoothL1Loss,
  HuberLoss,
  NLLLoss,
  CrossEntropyLoss,
  BCELoss,
  BCEWithLogitsLoss,
  KLDivLoss,
  MarginRankingLoss,
  CosineEmbeddingLoss,
  TripletMarginLoss,
  CosineSimilarity,
} from "./layers/loss.js";
export type { LossOptions, NLLLossOptions } from "./layers/loss.js";
