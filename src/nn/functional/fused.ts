// Routes GELU, softmax/log-softmax and layer norm to a backend's fused
// kernels (src/backend/fused.ts) when it has them, with one autograd node
// each. The composites in activation.ts, softmax.ts and normalization.ts
// stay the reference and the path everywhere else. Each node's backward
// runs the fused backward kernel, except under createGraph (grad mode on
// during backward), where it is written with flint ops on the saved,
// graph-connected tensors, so gradients of gradients still work.
//
// Tensor is used only inside functions, never at load time, so importing it
// here from softmax.ts (which tensor.ts imports) makes no load-order cycle.

import { isGradEnabled } from "../../autograd/grad_mode.js";
import { record } from "../../autograd/node.js";
import { fusedKernels } from "../../backend/fused.js";
import { Tensor } from "../../tensor/tensor.js";

function isFloat(x: Tensor): boolean {
  return x.dtype === "float32" || x.dtype === "float64";
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_C = 0.044715;

/** GELU through the fused kernel, or null when the device has none. */
export function fusedGelu(x: Tensor, approximate: "none" | "tanh"): Tensor | null {
  const k = fusedKernels(x.device);
  if (!k.gelu || !isFloat(x)) return null;
  const xc = x.contiguous();
  const y = Tensor.fromStorage(k.gelu(xc, approximate), x.shape, x.dtype);
  return record("GeluBackward0", y, [xc], (g, [xs]) => [geluGrad(g, xs!, approximate)], [xc]);
}

/** GELU's input gradient: the fused kernel, or flint ops under createGraph (grad mode on). */
export function geluGrad(g: Tensor, x: Tensor, approximate: "none" | "tanh"): Tensor {
  const k = fusedKernels(x.device);
  if (!isGradEnabled() && k.geluBackward && g.dtype === x.dtype) {
    return Tensor.fromStorage(k.geluBackward(g.contiguous(), x, approximate), x.shape, x.dtype);
  }
  if (approximate === "tanh") {
    const t = x.add(x.pow(3).mul(GELU_C)).mul(SQRT_2_OVER_PI).tanh();
    const du = x
      .square()
      .mul(3 * GELU_C)
      .add(1)
      .mul(SQRT_2_OVER_PI);
    const dt = t.square().neg().add(1);
    return g.mul(t.add(1).mul(0.5).add(x.mul(0.5).mul(dt).mul(du)));
  }
  // Φ(x) + x φ(x)
  const cdf = x.mul(Math.SQRT1_2).erf().add(1).mul(0.5);
  const pdf = x.square().mul(-0.5).exp().mul(INV_SQRT_2PI);
  return g.mul(cdf.add(x.mul(pdf)));
}

/**
 * Exact GELU's input gradient when the forward's output y = GELU(x) is at
 * hand too: the fused kernel reads Φ(x) off y / x instead of evaluating
 * erf again; geluGrad (on x alone) elsewhere and under createGraph.
 */
export function geluGradWithOutput(g: Tensor, x: Tensor, y: Tensor): Tensor {
  const k = fusedKernels(x.device);
  if (!isGradEnabled() && k.geluBackwardOut && g.dtype === x.dtype && y.dtype === x.dtype) {
    const r = k.geluBackwardOut(g.contiguous(), x.contiguous(), y.contiguous());
    if (r) return Tensor.fromStorage(r, x.shape, x.dtype);
  }
  return geluGrad(g, x, "none");
}

/**
 * softmax or log-softmax along `dim` through the fused kernel, or null when
 * the device has none or dim is not the last (the kernel walks rows).
 */
export function fusedSoftmax(x: Tensor, dim: number, log: boolean): Tensor | null {
  const k = fusedKernels(x.device);
  if (!k.softmax || !isFloat(x) || x.ndim === 0) return null;
  const d = dim < 0 ? dim + x.ndim : dim;
  if (d !== x.ndim - 1) return null;
  const xc = x.contiguous();
  const y = Tensor.fromStorage(k.softmax(xc, log), x.shape, x.dtype);
  // The output is saved, as PyTorch's softmax does; the rule reads it after
  // this function returns, when y is fully built.
  return record(
    log ? "LogSoftmaxBackward0" : "SoftmaxBackward0",
    y,
    [xc],
    (g, [ys]) => [softmaxGrad(g, ys!, log)],
    [y],
  );
}

function softmaxGrad(g: Tensor, y: Tensor, log: boolean): Tensor {
  const k = fusedKernels(y.device);
  if (!isGradEnabled() && k.softmaxBackward && g.dtype === y.dtype) {
    return Tensor.fromStorage(k.softmaxBackward(g.contiguous(), y, log), y.shape, y.dtype);
  }
  if (log) return g.sub(y.exp().mul(g.sum(-1, { keepdim: true })));
  return y.mul(g.sub(g.mul(y).sum(-1, { keepdim: true })));
}

/**
 * Layer norm over the last `nd` dims through the fused kernel, or null when
 * the device has none. weight and bias, when given, have the normalized shape.
 */
export function fusedLayerNorm(
  x: Tensor,
  nd: number,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): Tensor | null {
  const k = fusedKernels(x.device);
  if (!k.layerNorm || !isFloat(x) || nd === 0) return null;
  if ((weight && weight.dtype !== x.dtype) || (bias && bias.dtype !== x.dtype)) return null;
  if ((weight && weight.device !== x.device) || (bias && bias.device !== x.device)) return null;
  const tail = x.shape.slice(x.ndim - nd);
  const sameTail = (t: Tensor | null) =>
    !t || (t.ndim === nd && t.shape.every((s, i) => s === tail[i]));
  if (!sameTail(weight) || !sameTail(bias)) return null;
  const cols = tail.reduce((a, b) => a * b, 1);
  if (cols === 0) return null;
  const xc = x.contiguous();
  const wc = weight?.contiguous() ?? null;
  const bc = bias?.contiguous() ?? null;
  const r = k.layerNorm(xc, cols, wc, bc, eps);
  const rows = x.numel() / cols;
  const y = Tensor.fromStorage(r.y, x.shape, x.dtype);
  const mean = Tensor.fromStorage(r.mean, [rows], x.dtype);
  const rstd = Tensor.fromStorage(r.rstd, [rows], x.dtype);
  const dims = Array.from({ length: nd }, (_, i) => x.ndim - nd + i);
  return record(
    "NativeLayerNormBackward0",
    y,
    [xc, wc, bc],
    (g, [xs, ws]) => layerNormGrad(g, xs!, ws ?? null, bc !== null, dims, cols, mean, rstd, eps),
    wc ? [xc, wc] : [xc],
  );
}

function layerNormGrad(
  g: Tensor,
  x: Tensor,
  w: Tensor | null,
  hasBias: boolean,
  dims: number[],
  cols: number,
  mean: Tensor,
  rstd: Tensor,
  eps: number,
): (Tensor | null)[] {
  const k = fusedKernels(x.device);
  const affine = w !== null || hasBias;
  if (!isGradEnabled() && k.layerNormBackward && g.dtype === x.dtype) {
    const r = k.layerNormBackward(g.contiguous(), x, cols, mean, rstd, w, affine);
    const ns = x.shape.slice(x.ndim - dims.length);
    return [
      Tensor.fromStorage(r.gx, x.shape, x.dtype),
      w && r.gw ? Tensor.fromStorage(r.gw, ns, x.dtype) : null,
      hasBias && r.gb ? Tensor.fromStorage(r.gb, ns, x.dtype) : null,
    ];
  }
  // The same formulas with ops, μ and r recomputed from x so they carry its graph.
  const mu = x.mean(dims, { keepdim: true });
  const xc = x.sub(mu);
  const rs = xc.square().mean(dims, { keepdim: true }).add(eps).rsqrt();
  const xh = xc.mul(rs);
  const gh = w ? g.mul(w) : g;
  const gx = rs.mul(
    gh.sub(gh.mean(dims, { keepdim: true })).sub(xh.mul(gh.mul(xh).mean(dims, { keepdim: true }))),
  );
  // Broadcast-shaped weight/bias gradients are summed back by the engine.
  return [gx, w ? g.mul(xh) : null, hasBias ? g : null];
}

/**
 * im2col of x [N, C, H, W] through the fused kernel: columns [C·k, N·l]
 * for a window table `index` (k window elements × l positions over the flat
 * H·W plane, -1 in padding); null when the device has none. `adjoint` is
 * the composite col2im, written with flint ops, used under createGraph.
 */
export function fusedIm2col(
  x: Tensor,
  index: Int32Array,
  k: number,
  l: number,
  adjoint: (cols: Tensor) => Tensor,
): Tensor | null {
  const kern = fusedKernels(x.device);
  if (!kern.im2col || !kern.col2im || x.ndim !== 4 || !isFloat(x)) return null;
  const xc = x.contiguous();
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const cols = Tensor.fromStorage(kern.im2col(xc, index, k, l), [c * k, n * l], x.dtype);
  return record("Im2ColBackward0", cols, [xc], (g) => {
    if (isGradEnabled() || g.dtype !== x.dtype) return [adjoint(g)];
    const gx = kern.col2im!(g.contiguous(), index, k, l, n, h * w);
    return [Tensor.fromStorage(gx, [n, c, h, w], x.dtype)];
  });
}

/**
 * Max pooling of x [N, C, H, W] over a window table through the fused
 * kernel: values and int32 flat plane indices, both [N, C, outH, outW];
 * null when the device has none. The backward adds the gradient at the
 * indices (a fused kernel, or scatterAdd under createGraph).
 */
export function fusedMaxPool(
  x: Tensor,
  index: Int32Array,
  k: number,
  outH: number,
  outW: number,
): { values: Tensor; indices: Tensor } | null {
  const kern = fusedKernels(x.device);
  if (!kern.maxPool || !kern.maxPoolBackward || x.ndim !== 4 || !isFloat(x)) return null;
  const xc = x.contiguous();
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const l = outH * outW;
  const r = kern.maxPool(xc, index, k, l);
  const shape = [n, c, outH, outW];
  const indices = Tensor.fromStorage(r.indices, shape, "int32");
  const values = Tensor.fromStorage(r.values, shape, x.dtype);
  record(
    "MaxPool2DWithIndicesBackward0",
    values,
    [xc],
    (g) => {
      if (isGradEnabled() || g.dtype !== x.dtype) {
        const flat = Tensor.zeros([n * c, h * w], g.dtype, g.device);
        const gx = flat.scatterAdd(1, indices.reshape([n * c, l]), g.reshape([n * c, l]));
        return [gx.reshape([n, c, h, w])];
      }
      const gx = kern.maxPoolBackward!(g.contiguous(), indices, l, h * w);
      return [Tensor.fromStorage(gx, [n, c, h, w], x.dtype)];
    },
    [indices],
  );
  return { values, indices };
}

/**
 * softmax(q·kᵀ·scale) v (causal-masked when asked) through the fused kernel,
 * for q (..., L, E), k (..., S, E), v (..., S, Ev) with the same batch dims;
 * null when the device has none or the shapes need broadcasting. The
 * backward is written with flint ops on the saved weights (recomputed from
 * q and k under createGraph, so they carry the graph).
 */
export function fusedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  scale: number,
  causal: boolean,
): Tensor | null {
  const kern = fusedKernels(q.device);
  if (!kern.attention || !isFloat(q) || k.dtype !== q.dtype || v.dtype !== q.dtype) return null;
  if (k.device !== q.device || v.device !== q.device) return null;
  if (q.ndim < 2 || k.ndim !== q.ndim || v.ndim !== q.ndim) return null;
  const batch = q.shape.slice(0, -2);
  if (!batch.every((s, i) => s === k.shape[i] && s === v.shape[i])) return null;
  const [L, E] = q.shape.slice(-2) as [number, number];
  const [S, Ev] = [k.shape[k.ndim - 2]!, v.shape[v.ndim - 1]!];
  const B = batch.reduce((a, b) => a * b, 1);
  if (B * L * S * E * Ev === 0) return null;
  const qc = q.contiguous();
  const kc = k.contiguous();
  const vc = v.contiguous();
  const wantProbs = isGradEnabled() && (q.requiresGrad || k.requiresGrad || v.requiresGrad);
  const r = kern.attention(qc, kc, vc, scale, causal, wantProbs);
  if (r === null) return null;
  const out = Tensor.fromStorage(r.out, [...batch, L, Ev], q.dtype);
  if (!r.probs) return out;
  const probs = Tensor.fromStorage(r.probs, [...batch, L, S], q.dtype);
  return record(
    "ScaledDotProductAttentionBackward0",
    out,
    [qc, kc, vc],
    (g, [qs, ks, vs]) => attentionGrad(g, qs!, ks!, vs!, probs, scale, causal),
    [qc, kc, vc],
  );
}

function attentionGrad(
  g: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  saved: Tensor,
  scale: number,
  causal: boolean,
): Tensor[] {
  let p = saved;
  if (isGradEnabled()) {
    let s = q.matmul(k.transpose(-2, -1)).mul(scale);
    if (causal) {
      const [L, S] = s.shape.slice(-2) as [number, number];
      const hide = Tensor.ones([L, S], "bool", q.device).tril().logicalNot();
      s = s.maskedFill(hide, Number.NEGATIVE_INFINITY);
    }
    p = s.softmax(-1);
  }
  const dp = g.matmul(v.transpose(-2, -1));
  const ds = p.mul(dp.sub(dp.mul(p).sum(-1, { keepdim: true })));
  return [
    ds.matmul(k).mul(scale),
    ds.transpose(-2, -1).matmul(q).mul(scale),
    p.transpose(-2, -1).matmul(g),
  ];
}
