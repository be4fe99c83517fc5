// Feature scaling for tabular data and images.
import { ArgumentError, fmtShape, ShapeError } from "../errors.js";
import { tensor } from "../tensor/creation.js";
import type { Tensor } from "../tensor/tensor.js";

/**
 * Standardizes features to zero mean and unit variance, column by column
 * (scikit-learn's StandardScaler). Fit it on the training split only, then
 * transform every split with the training statistics, so no information
 * from the test set leaks into training. A constant column keeps scale 1.
 *
 * @example
 * const scaler = new fl.data.StandardScaler().fit(xTrain);
 * const xTrainS = scaler.transform(xTrain);
 * const xTestS = scaler.transform(xTest);
 */
export class StandardScaler {
  /** Per-feature mean, shape [features]; null before fit. */
  mean: Tensor | null = null;
  /** Per-feature standard deviation (population, ddof 0; 1 where it is 0). */
  scale: Tensor | null = null;

  /** Learns mean and scale from x [samples, features]. */
  fit(x: Tensor): this {
    if (x.ndim !== 2)
      throw new ShapeError(
        `StandardScaler.fit: expected a 2-d tensor [samples, features], got shape ${fmtShape(x.shape)}`,
      );
    if (!x.isFloatingPoint())
      throw new ArgumentError(`StandardScaler.fit: expected a float tensor, got ${x.dtype}`);
    const mean = x.detach().mean(0);
    const std = x.detach().std(0, { correction: 0 });
    this.mean = mean;
    this.scale = std.where(std.gt(0), 1);
    return this;
  }

  /** (x - mean) / scale with the fitted statistics. */
  transform(x: Tensor): Tensor {
    const { mean, scale } = this.fitted("transform", x);
    return x.sub(mean).div(scale);
  }

  fitTransform(x: Tensor): Tensor {
    return this.fit(x).transform(x);
  }

  /** Back to the original units: x * scale + mean. */
  inverseTransform(x: Tensor): Tensor {
    const { mean, scale } = this.fitted("inverseTransform", x);
    return x.mul(scale).add(mean);
  }

  private fitted(op: string, x: Tensor): { mean: Tensor; scale: Tensor } {
    if (!this.mean || !this.scale) throw new ArgumentError(`StandardScaler.${op}: call fit first`);
    const features = this.mean.shape[0]!;
    if (x.ndim < 1 || x.shape[x.ndim - 1] !== features) {
      throw new ShapeError(
        `StandardScaler.${op}: expected ${features} features in the last dimension, got shape ${fmtShape(x.shape)}`,
      );
    }
    return { mean: this.mean.to(x.dtype), scale: this.scale.to(x.dtype) };
  }
}

/**
 * A transform that normalizes channel by channel, as torchvision's
 * Normalize: `(x - mean[c]) / std[c]` for an image [C, H, W] or a batch
 * [N, C, H, W].
 *
 * @example
 * // Fashion-MNIST's training-set statistics
 * const norm = fl.data.normalize([0.286], [0.353]);
 * const x = norm(image); // image: [1, 28, 28]
 */
export function normalize(mean: readonly number[], std: readonly number[]): (x: Tensor) => Tensor {
  if (mean.length !== std.length || mean.length === 0) {
    throw new ArgumentError(
      `normalize: mean and std must have the same non-zero length, got ${mean.length} and ${std.length}`,
    );
  }
  if (std.some((s) => s === 0))
    throw new ArgumentError(`normalize: std must not contain zeros, got [${std.join(", ")}]`);
  const m = tensor([...mean]).reshape([-1, 1, 1]);
  const s = tensor([...std]).reshape([-1, 1, 1]);
  return (x: Tensor) => {
    if (x.ndim < 3 || (mean.length > 1 && x.shape[x.ndim - 3] !== mean.length)) {
      throw new ShapeError(
        `normalize: expected an image [C,H,W] or batch [N,C,H,W] with ${mean.length} channels, got shape ${fmtShape(x.shape)}`,
      );
    }
    return x.sub(m.to(x.dtype)).div(s.to(x.dtype));
  };
}
