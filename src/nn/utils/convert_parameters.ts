import { noGrad } from "../../autograd/grad_mode.js";
import { ArgumentError, ShapeError } from "../../errors.js";
import { cat } from "../../ops/join.js";
import { Tensor } from "../../tensor/tensor.js";

/**
 * All parameters flattened into one vector, in order
 * (torch.nn.utils.parameters_to_vector). Differentiable.
 *
 * @example
 * const v = fl.nn.utils.parametersToVector(model.parameters()); // shape [numParams]
 */
export function parametersToVector(parameters: Iterable<Tensor>): Tensor {
  const ps = [...parameters];
  if (ps.length === 0) throw new ArgumentError("parametersToVector: got no parameters");
  return cat(
    ps.map((p) => p.reshape(-1)),
    0,
  );
}

/**
 * Copies consecutive slices of vec into the parameters, in place
 * (torch.nn.utils.vector_to_parameters).
 *
 * @example
 * fl.nn.utils.vectorToParameters(v, model.parameters());
 */
export function vectorToParameters(vec: Tensor, parameters: Iterable<Tensor>): void {
  if (!(vec instanceof Tensor))
    throw new ArgumentError(`vectorToParameters: expected vec to be a Tensor, got ${typeof vec}`);
  if (vec.ndim !== 1)
    throw new ShapeError(
      `vectorToParameters: expected a 1-d vec, got shape [${vec.shape.join(",")}]`,
    );
  const ps = [...parameters];
  const total = ps.reduce((n, p) => n + p.numel(), 0);
  if (total !== vec.shape[0]) {
    throw new ShapeError(
      `vectorToParameters: vec has ${vec.shape[0]} elements, the parameters ${total}`,
    );
  }
  noGrad(() => {
    let at = 0;
    for (const p of ps) {
      const n = p.numel();
      p.copy_(vec.narrow(0, at, n).reshape(p.shape));
      at += n;
    }
  });
}
