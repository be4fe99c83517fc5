// Fashion-MNIST (Zalando): 28×28 grayscale clothing images in 10 classes,
// 60,000 for training and 10,000 for testing, read from the IDX files that
// Debian's dataset-fashion-mnist package installs.
import { ArgumentError, FormatError } from "../../errors.js";
import { fromArray, tensor } from "../../tensor/creation.js";
import type { Tensor } from "../../tensor/tensor.js";
import { checkIndex, Dataset } from "../dataset.js";
import { existsSync, readMaybeGzip } from "./files.js";
import { readIdx } from "./idx.js";

/** Joins path parts with "/" (no node:path, so this module loads in browsers). */
const join = (...parts: string[]) => parts.join("/").replace(/\/+/g, "/");

/** Where `apt-get install dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist";

/** The ten classes, by label. */
export const fashionMnistClasses: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

export interface FashionMnistOptions {
  /** The folder holding the four IDX files, gzipped or not. */
  root?: string;
  /** The 60,000 training images (default) or the 10,000 test images. */
  train?: boolean;
  /** Divide pixels by 255 into 0–1 (default true); false keeps 0–255. */
  scale?: boolean;
}

export interface FashionMnistData {
  /** [N, 1, 28, 28] float32. */
  images: Tensor;
  /** [N] int32 in 0–9. */
  labels: Tensor;
  classNames: readonly string[];
}

/**
 * Loads one split of Fashion-MNIST. Images come as float32 [N, 1, 28, 28]
 * in 0–1 (as torchvision's ToTensor gives them), labels as int32 [N].
 * Throws, naming the install command, when the files are missing.
 *
 * @example
 * const { images, labels } = fl.data.loadFashionMnist({ train: false });
 * images.shape; // [10000, 1, 28, 28]
 */
export function loadFashionMnist(opts: FashionMnistOptions = {}): FashionMnistData {
  const root = opts.root ?? FASHION_MNIST_ROOT;
  const prefix = (opts.train ?? true) ? "train" : "t10k";
  const imageFile = find(root, `${prefix}-images-idx3-ubyte`);
  const labelFile = find(root, `${prefix}-labels-idx1-ubyte`);
  const img = readIdx(readMaybeGzip(imageFile), imageFile);
  const lab = readIdx(readMaybeGzip(labelFile), labelFile);
  if (
    img.shape.length !== 3 ||
    img.shape[1] !== 28 ||
    img.shape[2] !== 28 ||
    !(img.data instanceof Uint8Array)
  ) {
    throw new FormatError(
      `loadFashionMnist: ${imageFile} should hold uint8 images [N,28,28], got [${img.shape.join(",")}]`,
    );
  }
  if (
    lab.shape.length !== 1 ||
    lab.shape[0] !== img.shape[0] ||
    !(lab.data instanceof Uint8Array)
  ) {
    throw new FormatError(
      `loadFashionMnist: ${labelFile} should hold ${img.shape[0]} uint8 labels, got [${lab.shape.join(",")}]`,
    );
  }
  const n = img.shape[0]!;
  const pixels = new Float32Array(img.data.length);
  const k = (opts.scale ?? true) ? 1 / 255 : 1;
  for (let i = 0; i < pixels.length; i++) pixels[i] = img.data[i]! * k;
  const labels = Int32Array.from(lab.data);
  if (labels.some((l) => l > 9))
    throw new FormatError(`loadFashionMnist: ${labelFile} has labels outside 0–9`);
  return {
    images: fromArray(pixels, [n, 1, 28, 28]),
    labels: fromArray(labels, [n]),
    classNames: fashionMnistClasses,
  };
}

function find(root: string, name: string): string {
  for (const file of [join(root, `${name}.gz`), join(root, name)])
    if (existsSync(file)) return file;
  throw new ArgumentError(
    `loadFashionMnist: Fashion-MNIST not found: no ${name}.gz in ${root}. Install it with \`apt-get install dataset-fashion-mnist\` (files go to ${FASHION_MNIST_ROOT}), or pass { root } naming a folder that holds the IDX files`,
  );
}

export interface FashionMNISTOptions<X, Y> extends FashionMnistOptions {
  /** Applied to each image [1, 28, 28] as it is read. */
  transform?: (image: Tensor) => X;
  /** Applied to each label as it is read. */
  targetTransform?: (label: number) => Y;
}

/**
 * Fashion-MNIST as a Dataset, like torchvision's: item i is
 * `[image [1, 28, 28] float32 in 0–1, label]`, through `transform` and
 * `targetTransform` when given. `data` and `targets` hold the whole split.
 * Without transforms a DataLoader builds each batch with one indexSelect.
 *
 * @example
 * const train = new fl.data.FashionMNIST({ train: true });
 * const loader = new fl.data.DataLoader(train, { batchSize: 64, shuffle: true });
 * for (const [x, y] of loader) {
 *   // x: [64, 1, 28, 28], y: [64] int32
 * }
 */
export class FashionMNIST<X = Tensor, Y = number> extends Dataset<[X, Y]> {
  readonly data: Tensor;
  readonly targets: Tensor;
  readonly classes: readonly string[] = fashionMnistClasses;
  readonly train: boolean;
  private readonly labels: Int32Array;
  private readonly transform?: (image: Tensor) => X;
  private readonly targetTransform?: (label: number) => Y;
  /** Present only without transforms (DataLoader's fast path). */
  getBatch?: (indices: readonly number[]) => [Tensor, Tensor];

  constructor(opts: FashionMNISTOptions<X, Y> = {}) {
    super();
    const { images, labels } = loadFashionMnist(opts);
    this.data = images;
    this.targets = labels;
    this.labels = labels.dataSync() as Int32Array;
    this.train = opts.train ?? true;
    this.transform = opts.transform;
    this.targetTransform = opts.targetTransform;
    if (!opts.transform && !opts.targetTransform) {
      this.getBatch = (indices) => {
        const idx = tensor(
          Int32Array.from(indices, (i) => checkIndex("FashionMNIST.getBatch", i, this.length)),
        );
        return [this.data.indexSelect(0, idx), this.targets.indexSelect(0, idx)];
      };
    }
  }

  get length(): number {
    return this.labels.length;
  }

  getItem(index: number): [X, Y] {
    const i = checkIndex("FashionMNIST.getItem", index, this.length);
    const image = this.data.select(0, i);
    const label = this.labels[i]!;
    return [
      this.transform ? this.transform(image) : (image as X),
      this.targetTransform ? this.targetTransform(label) : (label as Y),
    ];
  }
}
