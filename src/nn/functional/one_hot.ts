import { ArgumentError, DTypeError } from "../../errors.js";
import { arange } from "../../tensor/creation.js";
import type { Tensor } from "../../tensor/tensor.js";

/**
 * One-hot encoding: an int32 tensor of shape [...labels.shape, numClasses]
 * with 1 at each label's class. numClasses -1 (the default) means one more
 * than the largest label.
 *
 * @example
 * F.oneHot(fl.tensor([0, 2], { dtype: "int32" }), 3); // [[1, 0, 0], [0, 0, 1]]
 */
export function oneHot(labels: Tensor, numClasses = -1): Tensor {
  if (labels.dtype !== "int32") {
    throw new DTypeError(
      `oneHot: labels must be an int32 tensor of class indices, got ${labels.dtype}`,
    );
  }
  // Checking the values needs them on the host; other devices skip the check
  // and must be given numClasses.
  const values = labels.device === "cpu" ? labels.dataSync() : [];
  if (labels.device !== "cpu" && numClasses === -1) {
    throw new ArgumentError(`oneHot: numClasses must be given for a tensor on ${labels.device}`);
  }
  let max = -1;
  for (const v of values) {
    if (v < 0) throw new ArgumentError(`oneHot: class values must be non-negative, got ${v}`);
    if (v > max) max = v;
  }
  const n = numClasses === -1 ? max + 1 : numClasses;
  if (numClasses !== -1 && max >= numClasses) {
    throw new ArgumentError(
      `oneHot: class values must be smaller than numClasses (${numClasses}), got ${max}`,
    );
  }
  const classes = arange(0, n, 1, { dtype: "int32", device: labels.device });
  return labels.unsqueeze(-1).eq(classes).to("int32");
}
