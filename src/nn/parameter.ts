// nn.Parameter: a tensor that a Module registers as one of its parameters.
import { ArgumentError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";

/** The layout fields of a Tensor, writable for Parameter.set_(). */
type Layout = { -readonly [K in "storage" | "shape" | "strides" | "offset" | "dtype"]: Tensor[K] };

/**
 * A tensor that is a module parameter (torch.nn.Parameter). It shares the
 * given tensor's storage and is a leaf that requires grad (floating point
 * only), so optimizers can update it in place under fl.noGrad.
 *
 * @example
 * const w = new nn.Parameter(fl.randn([3, 4]));
 * w.requiresGrad; // true
 * w.isLeaf; // true
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor)) {
      throw new ArgumentError(`Parameter: expected a Tensor, got ${typeof data}`);
    }
    super(data.storage, [...data.shape], [...data.strides], data.offset, data.dtype);
    if (requiresGrad) this.requiresGrad_(true);
  }

  /**
   * Makes this parameter view `source`'s storage and layout (torch's
   * `param.data = source`), keeping its identity so optimizers that hold it
   * see the new values. Used by Module.to() to move or cast parameters.
   */
  set_(source: Tensor): this {
    const self = this as unknown as Layout;
    self.storage = source.storage;
    self.shape = [...source.shape];
    self.strides = [...source.strides];
    self.offset = source.offset;
    self.dtype = source.dtype;
    return this;
  }

  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}
