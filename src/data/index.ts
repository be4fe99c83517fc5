// fl.data (torch.utils.data): datasets, samplers, DataLoader, bundled data sets.

export type { Collated } from "./collate.js";
export { defaultCollate } from "./collate.js";
export type { DataLoaderOptions } from "./dataloader.js";
export { DataLoader } from "./dataloader.js";
export type { DatasetLike } from "./dataset.js";
export { ConcatDataset, Dataset, Subset, TensorDataset } from "./dataset.js";
export type {
  FashionMNISTOptions,
  FashionMnistData,
  FashionMnistOptions,
} from "./datasets/fashion_mnist.js";
export {
  FASHION_MNIST_ROOT,
  FashionMNIST,
  fashionMnistClasses,
  loadFashionMnist,
} from "./datasets/fashion_mnist.js";
export type { IdxArray, IdxData } from "./datasets/idx.js";
export { readIdx } from "./datasets/idx.js";
export type { LoadOptions, TabularDataset } from "./datasets/tabular.js";
// The loaders below read files (node:fs); everything above is browser-safe.
export { loadBreastCancer, loadDigits, loadIris, loadWine } from "./datasets/tabular.js";
export type {
  CmudictEntry,
  CmudictOptions,
  FirstNamesOptions,
  SpamAssassinMessage,
} from "./datasets/text.js";
export { loadCmudict, loadFirstNames, loadSpamAssassin } from "./datasets/text.js";
export { randomSplit } from "./random_split.js";
export type { RandomSamplerOptions, Sized } from "./sampler.js";
export {
  BatchSampler,
  RandomSampler,
  Sampler,
  SequentialSampler,
  SubsetRandomSampler,
  WeightedRandomSampler,
} from "./sampler.js";
export { normalize, StandardScaler } from "./transforms.js";
export * as transforms from "./vision_transforms.js";
