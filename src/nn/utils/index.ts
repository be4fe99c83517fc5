// fl.nn.utils: clipGradNorm_, clipGradValue_, parametersToVector, vectorToParameters.
export { clipGradNorm_, clipGradValue_, type TensorOrTensors } from "./clip_grad.js";
export { parametersToVector, vectorToParameters } from "./convert_parameters.js";
export * from "./rnn.js";
export * as rnn from "./rnn.js";
export { type SpectralNormOptions, spectralNorm } from "./spectral_norm.js";
export { removeWeightNorm, type WeightNormOptions, weightNorm } from "./weight_norm.js";
