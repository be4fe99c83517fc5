// nn.utils.spectralNorm (torch.nn.utils.spectral_norm): divides a weight
// by its largest singular value σ, estimated by power iteration (Miyato et
// al., 2018), which bounds the layer's Lipschitz constant. Same state_dict
// keys as PyTorch: "weight_orig" (a parameter), "weight_u" and "weight_v"
// (buffers holding the power iteration's vectors).
import { noGrad } from "../../autograd/grad_mode.js";
import { ArgumentError } from "../../errors.js";
import { randn } from "../../tensor/creation.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { Module } from "../module.js";
import { Parameter } from "../parameter.js";

export interface SpectralNormOptions {
  /** The parameter to normalize ("weight"). */
  name?: string;
  /** Power iterations per training forward (1). */
  nPowerIterations?: number;
  /** Floor for the norms when normalizing u and v (1e-12). */
  eps?: number;
  /** The output dimension: 0, or 1 for ConvTranspose layers (default chosen from the module). */
  dim?: number | null;
}

type Members = Record<string, unknown>;

/** x / max(‖x‖, eps). */
function unit(x: Tensor, eps: number): Tensor {
  return x.div(x.square().sum().sqrt().clamp(eps));
}

/** The weight as a matrix [size(dim), rest], with dim moved first. */
function asMatrix(w: Tensor, dim: number): Tensor {
  const perm = dim === 0 ? null : [dim, ...w.shape.map((_, i) => i).filter((i) => i !== dim)];
  const m = perm ? w.permute(perm) : w;
  return m.reshape([m.shape[0]!, -1]);
}

/**
 * Applies spectral normalization to `module[name]`. In training mode each
 * forward first runs nPowerIterations steps of power iteration on the
 * stored u, v (in place, without gradient); then weight = weight_orig / σ
 * with σ = uᵀ W v.
 *
 * @example
 * const fc = nn.utils.spectralNorm(new nn.Linear(20, 40));
 * Object.keys(fc.stateDict()); // ["bias", "weight_orig", "weight_u", "weight_v"]
 */
export function spectralNorm<M extends Module>(module: M, opts: SpectralNormOptions = {}): M {
  const name = opts.name ?? "weight";
  const iterations = opts.nPowerIterations ?? 1;
  const eps = opts.eps ?? 1e-12;
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new ArgumentError(
      `spectralNorm: expected nPowerIterations to be a non-negative integer, got ${iterations}`,
    );
  }
  const dim = opts.dim ?? (module.getName().startsWith("ConvTranspose") ? 1 : 0);
  const members = module as unknown as Members;
  const weight = members[name];
  if (!(weight instanceof Parameter)) {
    throw new ArgumentError(`spectralNorm: ${module.getName()} has no parameter "${name}"`);
  }
  if (members[`${name}_orig`] !== undefined) {
    throw new ArgumentError(
      `spectralNorm: cannot register two spectral_norm hooks on the same parameter ${name}`,
    );
  }
  const mat = asMatrix(weight.detach(), dim);
  const [h, w] = mat.shape as [number, number];
  // Random unit starting vectors, drawn from the global generator as PyTorch does (u, then v).
  const u = unit(randn([h], { dtype: weight.dtype, device: weight.device }), eps);
  const v = unit(randn([w], { dtype: weight.dtype, device: weight.device }), eps);
  delete members[name];
  module.registerParameter(`${name}_orig`, weight);
  members[name] = weight.detach();
  module.registerBuffer(`${name}_u`, u);
  module.registerBuffer(`${name}_v`, v);
  module.registerForwardPreHook((m) => {
    members[name] = computeWeight(members, name, dim, iterations, eps, m.training);
  });
  return module;
}

function computeWeight(
  members: Members,
  name: string,
  dim: number,
  iterations: number,
  eps: number,
  powerIterate: boolean,
): Tensor {
  const weight = members[`${name}_orig`] as Tensor;
  let u = members[`${name}_u`] as Tensor;
  let v = members[`${name}_v`] as Tensor;
  const mat = asMatrix(weight, dim);
  if (powerIterate && iterations > 0) {
    noGrad(() => {
      const wd = mat.detach();
      for (let i = 0; i < iterations; i++) {
        // v ← normalize(Wᵀ u), u ← normalize(W v): the buffers move toward the top singular vectors.
        v.copy_(unit(wd.t().mv(u), eps));
        u.copy_(unit(wd.mv(v), eps));
      }
    });
    // Copies, so later in-place updates of the buffers cannot touch this forward's graph.
    u = u.clone();
    v = v.clone();
  }
  const sigma = u.dot(mat.mv(v));
  return weight.div(sigma);
}
