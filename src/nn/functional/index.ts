// fl.nn.functional (torch.nn.functional): activations, softmax, dropout,
// losses, distances and attention, all composed from Tensor ops.

export { embedding } from "../layers/embedding.js";
export * from "./activation.js";
export * from "./attention.js";
export type { ConvOptions, ConvTransposeOptions, Size2, UnfoldOptions } from "./conv.js";
export { conv1d, conv2d, convTranspose2d, fold, unfold } from "./conv.js";
export * from "./cross_entropy.js";
export * from "./distance.js";
export * from "./dropout.js";
export { linear } from "./linear.js";
export * from "./loss.js";
export * from "./normalization.js";
export * from "./one_hot.js";
export * from "./padding.js";
export * from "./pooling.js";
export type { Reduction, ReductionOptions } from "./reduction.js";
export * from "./softmax.js";
export * from "./upsample.js";
