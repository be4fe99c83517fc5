// Image transforms (torchvision.transforms), applied to one sample at a
// time: a dataset's `transform` runs them as the DataLoader reads each
// image. Images are [C, H, W] float tensors. Random transforms draw from
// fl's default generator (so fl.manualSeed makes an epoch reproducible) or
// from the generator they are given. They work on the sample's typed array
// directly: a per-sample tensor op would cost more than the pixels.
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import { defaultGenerator, type Generator } from "../random.js";
import { Tensor } from "../tensor/tensor.js";

/** A per-sample transform. `call` is `apply` bound, for a dataset's `transform` option. */
export abstract class Transform {
  abstract apply(image: Tensor): Tensor;
  readonly call = (image: Tensor): Tensor => this.apply(image);
}

export interface RandomOptions {
  /** Source of randomness (fl's default generator). */
  generator?: Generator;
}

/** [C, H, W] as a Float32/64Array copy plus its sizes. */
function pixels(
  op: string,
  image: Tensor,
): { data: Float32Array | Float64Array; c: number; h: number; w: number } {
  if (image.ndim !== 3)
    throw new ShapeError(`${op}: expected an image [C, H, W], got shape ${fmtShape(image.shape)}`);
  if (!image.isFloatingPoint())
    throw new ArgumentError(
      `${op}: expected a float image, got ${image.dtype} (use ToTensor first)`,
    );
  const src = image.contiguous().dataSync() as Float32Array | Float64Array;
  const [c, h, w] = image.shape as [number, number, number];
  return { data: src, c, h, w };
}

function make(data: Float32Array | Float64Array, shape: number[], like: Tensor): Tensor {
  return Tensor.fromArray(data, shape, like.device, like.dtype);
}

/**
 * Runs transforms in order.
 *
 * @example
 * const T = fl.data.transforms;
 * const tf = new T.Compose([new T.RandomCrop(28, { padding: 4 }), new T.RandomHorizontalFlip(), new T.Normalize([0.286], [0.353])]);
 * const train = new fl.data.FashionMNIST({ train: true, transform: tf.call });
 */
export class Compose extends Transform {
  constructor(readonly transforms: readonly Transform[]) {
    super();
  }

  apply(image: Tensor): Tensor {
    return this.transforms.reduce((x, t) => t.apply(x), image);
  }
}

/**
 * Integer pixels (uint8 values 0–255, as [H, W], [H, W, C] or [C, H, W]
 * with `channelsLast: false`) to a float32 [C, H, W] image in 0–1, like
 * torchvision's ToTensor.
 *
 * @example
 * new T.ToTensor().apply(fl.tensor([[0, 255]], { dtype: "int32" })); // [[[0, 1]]]
 */
export class ToTensor extends Transform {
  readonly channelsLast: boolean;

  constructor(opts: { channelsLast?: boolean } = {}) {
    super();
    this.channelsLast = opts.channelsLast ?? true;
  }

  apply(image: Tensor): Tensor {
    let x = image;
    if (x.ndim === 2) x = x.unsqueeze(0);
    else if (x.ndim === 3 && this.channelsLast) x = x.permute([2, 0, 1]);
    else if (x.ndim !== 3)
      throw new ShapeError(
        `ToTensor: expected [H, W] or [H, W, C], got shape ${fmtShape(image.shape)}`,
      );
    return x.to("float32").div(255);
  }
}

/**
 * (x - mean[c]) / std[c] per channel.
 *
 * @example
 * new T.Normalize([0.5], [0.5]).apply(img); // 0–1 becomes -1–1
 */
export class Normalize extends Transform {
  constructor(
    readonly mean: readonly number[],
    readonly std: readonly number[],
  ) {
    super();
    if (mean.length !== std.length)
      throw new ArgumentError(
        `Normalize: mean (${mean.length}) and std (${std.length}) must have the same length`,
      );
    if (std.some((s) => s === 0))
      throw new ArgumentError("Normalize: std evaluated to zero, leading to division by zero");
  }

  apply(image: Tensor): Tensor {
    const { data, c, h, w } = pixels("Normalize", image);
    if (c !== this.mean.length && this.mean.length !== 1) {
      throw new ShapeError(
        `Normalize: image has ${c} channels but mean/std have ${this.mean.length}`,
      );
    }
    const out = data.slice();
    for (let ch = 0; ch < c; ch++) {
      const m = this.mean[this.mean.length === 1 ? 0 : ch]!;
      const s = this.std[this.std.length === 1 ? 0 : ch]!;
      for (let i = ch * h * w; i < (ch + 1) * h * w; i++) out[i] = (out[i]! - m) / s;
    }
    return make(out, [c, h, w], image);
  }
}

/**
 * Mirrors the image left–right with probability p.
 *
 * @example
 * new T.RandomHorizontalFlip({ p: 1 }).apply(fl.tensor([[[1, 2, 3]]])); // [[[3, 2, 1]]]
 */
export class RandomHorizontalFlip extends Transform {
  readonly p: number;
  private readonly gen: Generator | undefined;

  constructor(opts: { p?: number } & RandomOptions = {}) {
    super();
    this.p = opts.p ?? 0.5;
    this.gen = opts.generator;
  }

  apply(image: Tensor): Tensor {
    if ((this.gen ?? defaultGenerator).uniform53() >= this.p) return image;
    const { data, c, h, w } = pixels("RandomHorizontalFlip", image);
    const out = data.slice();
    for (let r = 0; r < c * h; r++)
      for (let j = 0; j < w; j++) out[r * w + j] = data[r * w + (w - 1 - j)]!;
    return make(out, [c, h, w], image);
  }
}

/**
 * Mirrors the image top–bottom with probability p.
 *
 * @example
 * new T.RandomVerticalFlip({ p: 1 }).apply(img);
 */
export class RandomVerticalFlip extends Transform {
  readonly p: number;
  private readonly gen: Generator | undefined;

  constructor(opts: { p?: number } & RandomOptions = {}) {
    super();
    this.p = opts.p ?? 0.5;
    this.gen = opts.generator;
  }

  apply(image: Tensor): Tensor {
    if ((this.gen ?? defaultGenerator).uniform53() >= this.p) return image;
    const { data, c, h, w } = pixels("RandomVerticalFlip", image);
    const out = data.slice();
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < h; i++)
        out.set(data.subarray((ch * h + (h - 1 - i)) * w, (ch * h + h - i) * w), (ch * h + i) * w);
    }
    return make(out, [c, h, w], image);
  }
}

/** A random integer in [0, n]. */
function randInt(gen: Generator, n: number): number {
  return Math.min(n, Math.floor(gen.uniform53() * (n + 1)));
}

/**
 * Pads by `padding` (fill value) and crops a random size×size window: the
 * classic translation augmentation for small images.
 *
 * @example
 * new T.RandomCrop(28, { padding: 4 }).apply(img).shape; // [1, 28, 28]
 */
export class RandomCrop extends Transform {
  readonly size: [number, number];
  readonly padding: number;
  readonly fill: number;
  private readonly gen: Generator | undefined;

  constructor(
    size: number | readonly [number, number],
    opts: { padding?: number; fill?: number } & RandomOptions = {},
  ) {
    super();
    this.size = typeof size === "number" ? [size, size] : [size[0], size[1]];
    this.padding = opts.padding ?? 0;
    this.fill = opts.fill ?? 0;
    this.gen = opts.generator;
  }

  apply(image: Tensor): Tensor {
    const { data, c, h, w } = pixels("RandomCrop", image);
    const [th, tw] = this.size;
    const p = this.padding;
    if (h + 2 * p < th || w + 2 * p < tw) {
      throw new ShapeError(
        `RandomCrop: crop size ${fmtShape(this.size)} is larger than the padded image ${fmtShape([h + 2 * p, w + 2 * p])}`,
      );
    }
    const gen = this.gen ?? defaultGenerator;
    // Top-left corner of the crop in padded coordinates.
    const top = randInt(gen, h + 2 * p - th);
    const left = randInt(gen, w + 2 * p - tw);
    const out = new (data.constructor as Float32ArrayConstructor)(c * th * tw).fill(this.fill);
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < th; i++) {
        const si = top + i - p;
        if (si < 0 || si >= h) continue;
        for (let j = 0; j < tw; j++) {
          const sj = left + j - p;
          if (sj >= 0 && sj < w) out[(ch * th + i) * tw + j] = data[(ch * h + si) * w + sj]!;
        }
      }
    }
    return make(out, [c, th, tw], image);
  }
}

/**
 * Rotates by an angle drawn from [-degrees, degrees] and shifts by up to
 * translate·size, about the image centre, with nearest-neighbour sampling
 * (torchvision's RandomAffine with its default interpolation). Pixels from
 * outside the image take `fill`.
 *
 * @example
 * new T.RandomAffine(10, { translate: [0.1, 0.1] }).apply(img).shape; // same as img
 */
export class RandomAffine extends Transform {
  readonly degrees: number;
  readonly translate: [number, number];
  readonly fill: number;
  private readonly gen: Generator | undefined;

  constructor(
    degrees: number,
    opts: { translate?: readonly [number, number]; fill?: number } & RandomOptions = {},
  ) {
    super();
    if (degrees < 0)
      throw new ArgumentError(`RandomAffine: degrees must be non-negative, got ${degrees}`);
    this.degrees = degrees;
    this.translate = opts.translate ? [opts.translate[0], opts.translate[1]] : [0, 0];
    this.fill = opts.fill ?? 0;
    this.gen = opts.generator;
  }

  apply(image: Tensor): Tensor {
    const { data, c, h, w } = pixels(this.constructor.name, image);
    const gen = this.gen ?? defaultGenerator;
    const angle = ((gen.uniform53() * 2 - 1) * this.degrees * Math.PI) / 180;
    const tx = Math.round((gen.uniform53() * 2 - 1) * this.translate[0] * w);
    const ty = Math.round((gen.uniform53() * 2 - 1) * this.translate[1] * h);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const cx = (w - 1) / 2;
    const cy = (h - 1) / 2;
    const out = new (data.constructor as Float32ArrayConstructor)(c * h * w).fill(this.fill);
    // Inverse map: each output pixel looks up where it came from.
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const x = j - cx - tx;
        const y = i - cy - ty;
        const sj = Math.round(cos * x + sin * y + cx);
        const si = Math.round(-sin * x + cos * y + cy);
        if (si < 0 || si >= h || sj < 0 || sj >= w) continue;
        for (let ch = 0; ch < c; ch++) out[(ch * h + i) * w + j] = data[(ch * h + si) * w + sj]!;
      }
    }
    return make(out, [c, h, w], image);
  }
}

/**
 * Rotates by an angle drawn from [-degrees, degrees] about the centre.
 *
 * @example
 * new T.RandomRotation(15).apply(img).shape; // same as img
 */
export class RandomRotation extends RandomAffine {
  constructor(degrees: number, opts: { fill?: number } & RandomOptions = {}) {
    super(degrees, opts);
  }
}

/**
 * Adds N(mean, std²) noise to every pixel.
 *
 * @example
 * new T.GaussianNoise({ std: 0.05 }).apply(img);
 */
export class GaussianNoise extends Transform {
  readonly mean: number;
  readonly std: number;
  private readonly gen: Generator | undefined;

  constructor(opts: { mean?: number; std?: number } & RandomOptions = {}) {
    super();
    this.mean = opts.mean ?? 0;
    this.std = opts.std ?? 0.1;
    this.gen = opts.generator;
  }

  apply(image: Tensor): Tensor {
    const { data, c, h, w } = pixels("GaussianNoise", image);
    const gen = this.gen ?? defaultGenerator;
    const out = data.slice();
    for (let i = 0; i < out.length; i++)
      out[i] = out[i]! + this.mean + this.std * gen.normalDouble();
    return make(out, [c, h, w], image);
  }
}

/**
 * Wraps a function as a transform.
 *
 * @example
 * new T.Lambda((x) => x.mul(2));
 */
export class Lambda extends Transform {
  constructor(readonly fn: (image: Tensor) => Tensor) {
    super();
  }

  apply(image: Tensor): Tensor {
    return this.fn(image);
  }
}
