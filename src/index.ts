/**
 * flint — PyTorch for TypeScript.
 *
 * @example
 * import * as fl from "flint";
 * const x = fl.tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * x.mul(x).sum().backward();
 * x.grad; // tensor([[2., 4.], [6., 8.]])
 */

export { enableGrad, isGradEnabled, noGrad, setGradEnabled } from "./autograd/grad_mode.js";
export * as autograd from "./autograd/index.js";
export type { Backend, Storage, View } from "./backend/backend.js";
export { getBackend, registerBackend, registeredDevices } from "./backend/backend.js";
export { getNumThreads, setNumThreads } from "./backend/cpu/threads/pool.js";
export { threadsReady } from "./backend/cpu/wasm/matmul.js";
export * as data from "./data/index.js";
export type { DType, TypedArray } from "./dtype.js";
export * from "./errors.js";
export * from "./functions.js";
export * from "./io/index.js";
export * as linalg from "./linalg.js";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export { defaultGenerator, Generator, manualSeed } from "./random.js";
export * from "./tensor/creation.js";
export {
  dispose,
  keep,
  type MemoryInfo as DeviceMemoryInfo,
  memory,
  tidy,
} from "./tensor/memory.js";
export type { NestedArray, TensorLike } from "./tensor/tensor.js";
export { Tensor } from "./tensor/tensor.js";
export * as text from "./text/index.js";
export { EarlyStopping } from "./train/early_stopping.js";
export * as train from "./train/index.js";
export * as webgpu from "./webgpu.js";
