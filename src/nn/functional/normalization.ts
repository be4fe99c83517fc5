// The normalization family (torch.nn.functional batch_norm, layer_norm,
// group_norm, instance_norm, local_response_norm). All of them are
// (x - mean) / sqrt(var + eps), then an optional per-channel affine; they
// differ only in which dimensions the statistics are taken over. Written
// with Tensor ops, so gradients (of any order) come from the engine; batch
// norm runs on a backend's fused kernel where there is one (one node, its
// backward the closed form), layer norm likewise (./fused.ts).
import { isGradEnabled, noGrad } from "../../autograd/grad_mode.js";
import { record } from "../../autograd/node.js";
import { fusedKernels } from "../../backend/fused.js";
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { fusedLayerNorm } from "./fused.js";

/** Shape [1, C, 1, …] that broadcasts a per-channel vector over x. */
function channelShape(x: Tensor): number[] {
  return x.shape.map((s, i) => (i === 1 ? s : 1));
}

function affine(
  y: Tensor,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  shape: number[],
): Tensor {
  let out = y;
  if (weight) out = out.mul(weight.reshape(shape));
  if (bias) out = out.add(bias.reshape(shape));
  return out;
}

/** (x - mean) / sqrt(var + eps) with the population variance over dims. */
function standardize(
  x: Tensor,
  dims: number[],
  eps: number,
): { y: Tensor; mean: Tensor; var: Tensor } {
  const mean = x.mean(dims, { keepdim: true });
  const centered = x.sub(mean);
  const v = centered.square().mean(dims, { keepdim: true });
  return { y: centered.mul(v.add(eps).rsqrt()), mean, var: v };
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Use batch statistics and update the running ones (false: use the running ones). */
  training?: boolean;
  /** Weight of the new batch in the running averages (0.1). */
  momentum?: number;
  eps?: number;
}

/**
 * Batch normalization over [N, C, …]: statistics per channel over the
 * batch and spatial dims. In training, runningMean/runningVar (if given)
 * move toward the batch mean and unbiased variance by `momentum`, in place.
 *
 * @example
 * const rm = fl.zeros([3]), rv = fl.ones([3]);
 * F.batchNorm(fl.randn([8, 3, 4, 4]), rm, rv, { training: true });
 */
export function batchNorm(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  if (input.ndim < 2)
    throw new ShapeError(
      `batchNorm: expected at least 2-d input [N, C, …], got shape ${fmtShape(input.shape)}`,
    );
  const c = input.shape[1]!;
  for (const [name, t] of [
    ["runningMean", runningMean],
    ["runningVar", runningVar],
    ["weight", opts.weight],
    ["bias", opts.bias],
  ] as const) {
    if (t && t.numel() !== c) {
      throw new ShapeError(
        `batchNorm: ${name} has shape ${fmtShape(t.shape)} but the input ${fmtShape(input.shape)} has ${c} channels`,
      );
    }
  }
  const eps = opts.eps ?? 1e-5;
  const shape = channelShape(input);
  const dims = input.shape.map((_, i) => i).filter((i) => i !== 1);
  const training = opts.training ?? false;
  if (!training) {
    if (!runningMean || !runningVar)
      throw new ArgumentError("batchNorm: evaluation mode needs runningMean and runningVar");
    const fused = fusedBatchNorm(input, opts.weight ?? null, opts.bias ?? null, eps, {
      mean: runningMean,
      var: runningVar,
    });
    if (fused) return fused.y;
    const y = input.sub(runningMean.reshape(shape)).mul(runningVar.reshape(shape).add(eps).rsqrt());
    return affine(y, opts.weight, opts.bias, shape);
  }
  const n = input.numel() / c;
  if (n <= 1) {
    throw new ArgumentError(
      `batchNorm: expected more than 1 value per channel when training, got input size ${fmtShape(input.shape)}`,
    );
  }
  const fused = fusedBatchNorm(input, opts.weight ?? null, opts.bias ?? null, eps, null);
  const {
    y,
    mean,
    var: v,
  } = fused ? { y: fused.y, mean: fused.mean, var: fused.var! } : standardize(input, dims, eps);
  const m = opts.momentum ?? 0.1;
  noGrad(() => {
    if (runningMean) runningMean.mul_(1 - m).add_(mean.reshape([c]).mul(m));
    if (runningVar) runningVar.mul_(1 - m).add_(v.reshape([c]).mul((m * n) / (n - 1)));
  });
  return fused ? y : affine(y, opts.weight, opts.bias, shape);
}

/**
 * Batch norm through the backend's fused kernel (statistics, normalize and
 * affine in one call; PyTorch's NativeBatchNormBackward0 as one node), or
 * null where it has none. `stats` are the running mean and variance in
 * evaluation, null in training (batch statistics, returned for the running
 * update). Under createGraph the backward is written with ops, recomputing
 * the batch statistics from x so they carry its graph.
 */
function fusedBatchNorm(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
  stats: { mean: Tensor; var: Tensor } | null,
): { y: Tensor; mean: Tensor; var: Tensor | null } | null {
  const kern = fusedKernels(x.device);
  if (!kern.batchNorm || !kern.batchNormBackward) return null;
  const dtype = x.dtype;
  if (dtype !== "float32" && dtype !== "float64") return null;
  const others = [weight, bias, stats?.mean, stats?.var].filter((t) => t) as Tensor[];
  if (others.some((t) => t.dtype !== dtype || t.device !== x.device)) return null;
  if (x.numel() === 0) return null;
  const c = x.shape[1]!;
  const xc = x.contiguous();
  const wc = weight?.contiguous() ?? null;
  const bc = bias?.contiguous() ?? null;
  const sv = stats ? { mean: stats.mean.contiguous(), var: stats.var.contiguous() } : null;
  const r = kern.batchNorm(xc, wc, bc, eps, sv);
  const y = Tensor.fromStorage(r.y, x.shape, dtype);
  const mean = Tensor.fromStorage(r.mean, [c], dtype);
  const invstd = Tensor.fromStorage(r.invstd, [c], dtype);
  const training = stats === null;
  const dims = x.shape.map((_, i) => i).filter((i) => i !== 1);
  record(
    "NativeBatchNormBackward0",
    y,
    [xc, wc, bc],
    (g, [xs, ws]) => {
      const w = wc ? ws! : null;
      const affine = wc !== null || bc !== null;
      if (!isGradEnabled() && g.dtype === dtype) {
        const b = kern.batchNormBackward!(g.contiguous(), xs!, mean, invstd, w, training, affine);
        return [
          Tensor.fromStorage(b.gx, x.shape, dtype),
          wc && b.gw ? Tensor.fromStorage(b.gw, wc.shape, dtype) : null,
          bc && b.gb ? Tensor.fromStorage(b.gb, bc.shape, dtype) : null,
        ];
      }
      const shape = channelShape(xs!);
      const xcen = xs!.sub(training ? xs!.mean(dims, { keepdim: true }) : mean.reshape(shape));
      const rs = training
        ? xcen.square().mean(dims, { keepdim: true }).add(eps).rsqrt()
        : invstd.reshape(shape);
      const xh = xcen.mul(rs);
      const gh = w ? g.mul(w.reshape(shape)) : g;
      const gx = training
        ? rs.mul(
            gh
              .sub(gh.mean(dims, { keepdim: true }))
              .sub(xh.mul(gh.mul(xh).mean(dims, { keepdim: true }))),
          )
        : gh.mul(rs);
      return [
        gx,
        wc ? g.mul(xh).sum(dims).reshape(wc.shape) : null,
        bc ? g.sum(dims).reshape(bc.shape) : null,
      ];
    },
    wc ? [xc, wc] : [xc],
  );
  return { y, mean, var: r.var ? Tensor.fromStorage(r.var, [c], dtype) : null };
}

export interface LayerNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

/**
 * Layer normalization over the last normalizedShape.length dims, with an
 * optional elementwise affine of that shape.
 *
 * @example
 * F.layerNorm(fl.randn([2, 5, 8]), [8]).mean(-1); // ≈ 0
 */
export function layerNorm(
  input: Tensor,
  normalizedShape: number | readonly number[],
  opts: LayerNormOptions = {},
): Tensor {
  const ns = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  const tail = input.shape.slice(input.ndim - ns.length);
  if (ns.length > input.ndim || ns.some((s, i) => s !== tail[i])) {
    throw new ShapeError(
      `layerNorm: input ${fmtShape(input.shape)} does not end with normalizedShape ${fmtShape(ns)}`,
    );
  }
  const fused = fusedLayerNorm(
    input,
    ns.length,
    opts.weight ?? null,
    opts.bias ?? null,
    opts.eps ?? 1e-5,
  );
  if (fused) return fused;
  const dims = ns.map((_, i) => input.ndim - ns.length + i);
  let y = standardize(input, dims, opts.eps ?? 1e-5).y;
  if (opts.weight) y = y.mul(opts.weight);
  if (opts.bias) y = y.add(opts.bias);
  return y;
}

/**
 * Group normalization: channels split into numGroups groups, each
 * normalized over its channels and spatial dims, then a per-channel affine.
 *
 * @example
 * F.groupNorm(fl.randn([2, 6, 4, 4]), 3).shape; // [2, 6, 4, 4]
 */
export function groupNorm(input: Tensor, numGroups: number, opts: LayerNormOptions = {}): Tensor {
  if (input.ndim < 2)
    throw new ShapeError(
      `groupNorm: expected at least 2-d input [N, C, …], got shape ${fmtShape(input.shape)}`,
    );
  const [n, c] = input.shape as [number, number];
  if (c % numGroups !== 0) {
    throw new ShapeError(
      `groupNorm: ${c} channels of input ${fmtShape(input.shape)} cannot be split into ${numGroups} groups`,
    );
  }
  const y = standardize(input.reshape([n, numGroups, -1]), [2], opts.eps ?? 1e-5).y.reshape(
    input.shape,
  );
  return affine(y, opts.weight, opts.bias, channelShape(input));
}

export interface InstanceNormOptions extends BatchNormOptions {
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  /** Normalize with each instance's own statistics (true); false uses the running ones. */
  useInputStats?: boolean;
}

/**
 * Instance normalization: each (sample, channel) normalized over its
 * spatial dims. Running statistics, if given, track the batch average of
 * the per-instance statistics.
 *
 * @example
 * F.instanceNorm(fl.randn([2, 3, 5, 5])).shape; // [2, 3, 5, 5]
 */
export function instanceNorm(input: Tensor, opts: InstanceNormOptions = {}): Tensor {
  if (input.ndim < 3)
    throw new ShapeError(
      `instanceNorm: expected [N, C, …] with spatial dims, got shape ${fmtShape(input.shape)}`,
    );
  const [n, c] = input.shape as [number, number];
  const shape = channelShape(input);
  const eps = opts.eps ?? 1e-5;
  if (opts.useInputStats === false) {
    return batchNorm(input, opts.runningMean ?? null, opts.runningVar ?? null, {
      ...opts,
      training: false,
    });
  }
  const dims = input.shape.map((_, i) => i).filter((i) => i >= 2);
  const { y, mean, var: v } = standardize(input, dims, eps);
  const m = opts.momentum ?? 0.1;
  const count = input.numel() / (n * c);
  noGrad(() => {
    if (opts.runningMean) opts.runningMean.mul_(1 - m).add_(mean.reshape([n, c]).mean(0).mul(m));
    if (opts.runningVar)
      opts.runningVar.mul_(1 - m).add_(
        v
          .reshape([n, c])
          .mean(0)
          .mul((m * count) / (count - 1)),
      );
  });
  return affine(y, opts.weight, opts.bias, shape);
}

export interface LocalResponseNormOptions {
  alpha?: number;
  beta?: number;
  k?: number;
}

/**
 * Local response normalization across channels (AlexNet):
 * x / (k + alpha / size · Σ x² over `size` neighbouring channels)^beta.
 *
 * @example
 * F.localResponseNorm(fl.randn([1, 6, 4, 4]), 3).shape; // [1, 6, 4, 4]
 */
export function localResponseNorm(
  input: Tensor,
  size: number,
  opts: LocalResponseNormOptions = {},
): Tensor {
  if (input.ndim < 3)
    throw new ShapeError(
      `localResponseNorm: expected at least 3-d input [N, C, …], got shape ${fmtShape(input.shape)}`,
    );
  const c = input.shape[1]!;
  const sq = input.square();
  // Zero-pad the channel axis by (size/2, (size-1)/2) and sum each window of `size` channels.
  const before = Math.floor(size / 2);
  const after = Math.floor((size - 1) / 2);
  const zerosOf = (k: number): Tensor => {
    const s = [...input.shape];
    s[1] = k;
    return Tensor.zeros(s, input.dtype, input.device);
  };
  const parts = [before > 0 ? zerosOf(before) : null, sq, after > 0 ? zerosOf(after) : null].filter(
    (t): t is Tensor => t !== null,
  );
  const padded = parts.length > 1 ? Tensor.cat(parts, 1) : sq;
  let acc = padded.narrow(1, 0, c);
  for (let j = 1; j < size; j++) acc = acc.add(padded.narrow(1, j, c));
  const div = acc
    .mul((opts.alpha ?? 1e-4) / size)
    .add(opts.k ?? 1)
    .pow(opts.beta ?? 0.75);
  return input.div(div);
}

/**
 * ‖v‖₂ over every dimension except `dim` (kept as size 1), as weight norm uses it;
 * dim -1 (PyTorch's None) takes the norm of the whole tensor.
 *
 * @example
 * F.normExceptDim(fl.randn([4, 3, 2]), 0).shape; // [4, 1, 1]
 */
export function normExceptDim(v: Tensor, dim: number): Tensor {
  if (dim === -1) return v.square().sum().sqrt();
  const dims = v.shape.map((_, i) => i).filter((i) => i !== dim);
  return v.square().sum(dims, { keepdim: true }).sqrt();
}
