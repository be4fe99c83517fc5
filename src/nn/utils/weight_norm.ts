// nn.utils.weightNorm (torch.nn.utils.weight_norm): reparameterizes a
// weight as w = g · v / ‖v‖, so its direction (v) and length (g) are
// learned separately (Salimans & Kingma, 2016). Same state_dict keys as
// PyTorch: "weight_g" and "weight_v" replace "weight".
import { ArgumentError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { normExceptDim } from "../functional/normalization.js";
import type { Module, RemovableHandle } from "../module.js";
import { Parameter } from "../parameter.js";

export interface WeightNormOptions {
  /** The parameter to reparameterize ("weight"). */
  name?: string;
  /** The dimension kept by the norm (0: one length per output unit); null for one length for the whole tensor. */
  dim?: number | null;
}

type Members = Record<string, unknown>;

const handles = new WeakMap<Module, Map<string, RemovableHandle>>();

/** v · (g / ‖v‖), the norm over every dim except `dim`. */
function computeWeight(g: Tensor, v: Tensor, dim: number): Tensor {
  return v.mul(g.div(normExceptDim(v, dim)));
}

/**
 * Applies weight normalization to `module[name]`: the parameter is replaced
 * by `${name}_g` (its norm) and `${name}_v` (its direction), and `module[name]`
 * is recomputed from them before every forward.
 *
 * @example
 * const fc = nn.utils.weightNorm(new nn.Linear(20, 40));
 * Object.keys(fc.stateDict()); // ["bias", "weight_g", "weight_v"]
 * fc.weight_g.shape; // [40, 1]
 */
export function weightNorm<M extends Module>(module: M, opts: WeightNormOptions = {}): M {
  const name = opts.name ?? "weight";
  const dim = opts.dim === null ? -1 : (opts.dim ?? 0);
  const members = module as unknown as Members;
  const weight = members[name];
  if (!(weight instanceof Parameter)) {
    throw new ArgumentError(`weightNorm: ${module.getName()} has no parameter "${name}"`);
  }
  if (handles.get(module)?.has(name)) {
    throw new ArgumentError(
      `weightNorm: cannot register two weight_norm hooks on the same parameter ${name}`,
    );
  }
  const g = new Parameter(normExceptDim(weight.detach(), dim));
  const v = new Parameter(weight.detach().clone());
  delete members[name];
  module.registerParameter(`${name}_g`, g);
  module.registerParameter(`${name}_v`, v);
  const refresh = (): void => {
    members[name] = computeWeight(
      members[`${name}_g`] as Tensor,
      members[`${name}_v`] as Tensor,
      dim,
    );
  };
  refresh();
  const handle = module.registerForwardPreHook(() => {
    refresh();
  });
  if (!handles.has(module)) handles.set(module, new Map());
  handles.get(module)!.set(name, handle);
  return module;
}

/**
 * Undoes weightNorm: `module[name]` becomes a plain parameter again with
 * the current value of g · v / ‖v‖.
 *
 * @example
 * nn.utils.removeWeightNorm(fc);
 * Object.keys(fc.stateDict()); // ["bias", "weight"]
 */
export function removeWeightNorm<M extends Module>(module: M, opts: { name?: string } = {}): M {
  const name = opts.name ?? "weight";
  const handle = handles.get(module)?.get(name);
  if (!handle)
    throw new ArgumentError(
      `weightNorm: weight_norm of '${name}' not found in ${module.getName()}`,
    );
  handle.remove();
  handles.get(module)!.delete(name);
  const members = module as unknown as Members;
  const w = (members[name] as Tensor).detach().clone();
  delete members[`${name}_g`];
  delete members[`${name}_v`];
  delete members[name];
  module.registerParameter(name, new Parameter(w));
  return module;
}
