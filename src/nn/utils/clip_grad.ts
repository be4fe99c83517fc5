import { noGrad } from "../../autograd/grad_mode.js";
import { ArgumentError } from "../../errors.js";
import { vectorNorm } from "../../linalg.js";
import { stack } from "../../ops/join.js";
import { Tensor } from "../../tensor/tensor.js";

/** One tensor or several, as PyTorch's clip functions accept. */
export type TensorOrTensors = Tensor | Iterable<Tensor>;

function gradsOf(parameters: TensorOrTensors): Tensor[] {
  const ps = parameters instanceof Tensor ? [parameters] : [...parameters];
  return ps.flatMap((p) => (p.grad === null ? [] : [p.grad]));
}

/**
 * Scales the gradients in place so that their total norm (the norm of all
 * gradients together, as one vector) is at most maxNorm, and returns that
 * total norm before clipping as a 0-d tensor (torch.nn.utils.clip_grad_norm_).
 * The scale is maxNorm / (total + 1e-6), capped at 1.
 *
 * @example
 * loss.backward();
 * const total = fl.nn.utils.clipGradNorm_(model.parameters(), 1.0);
 * opt.step();
 */
export function clipGradNorm_(
  parameters: TensorOrTensors,
  maxNorm: number,
  opts: { normType?: number; errorIfNonfinite?: boolean } = {},
): Tensor {
  const normType = opts.normType ?? 2;
  if (!(normType > 0))
    throw new ArgumentError(
      `clipGradNorm_: normType should be positive or Infinity, got ${normType}`,
    );
  const grads = gradsOf(parameters);
  if (grads.length === 0) return Tensor.scalar(0, "float32");
  return noGrad(() => {
    const norms = grads.map((g) => vectorNorm(g.detach(), normType));
    const total = norms.length === 1 ? norms[0]! : vectorNorm(stack(norms), normType);
    // Checking reads the value back, so it is only done when asked for.
    if (opts.errorIfNonfinite && !Number.isFinite(Number(total.itemSync()))) {
      throw new ArgumentError(
        `clipGradNorm_: the total norm of order ${normType} of the gradients is non-finite (${total.itemSync()}), so it cannot be clipped; pass errorIfNonfinite: false to scale by it anyway`,
      );
    }
    const coef = Tensor.scalar(maxNorm, total.dtype, total.device)
      .div(total.add(1e-6))
      .clamp(null, 1);
    for (const g of grads) g.mul_(coef);
    return total;
  });
}

/**
 * Clamps every gradient in place to [-clipValue, clipValue]
 * (torch.nn.utils.clip_grad_value_).
 *
 * @example
 * fl.nn.utils.clipGradValue_(model.parameters(), 0.5);
 */
export function clipGradValue_(parameters: TensorOrTensors, clipValue: number): void {
  if (!(clipValue >= 0))
    throw new ArgumentError(`clipGradValue_: clipValue should be >= 0, got ${clipValue}`);
  noGrad(() => {
    for (const g of gradsOf(parameters)) g.clamp_(-clipValue, clipValue);
  });
}
