// Fused scaled-dot-product attention: softmax(q·kᵀ·scale + mask) v as one
// autograd node. The two products run on the backend's batched GEMM over
// strided views (no transposed copies); the softmax between them is one
// in-place pass over the scores (the attentionSoftmax kernel), and the
// backward is the four products of the textbook rule around one in-place
// pass (attentionSoftmaxBackward), reading the probabilities saved by the
// forward:
//   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = scale · P ⊙ (dP − rowsum(dP ⊙ P)),
//   dQ = dS K,   dK = dSᵀ Q.
// Under createGraph (grad mode on during backward) the rule is written
// with flint ops instead, recomputing P from the saved q and k, so
// gradients of gradients still work. The composite in attention.ts and
// layers/attention.ts stays the reference and the path on other devices.

import { isGradEnabled } from "../../autograd/grad_mode.js";
import { record } from "../../autograd/node.js";
import type { Backend, Storage, View } from "../../backend/backend.js";
import { fusedKernels } from "../../backend/fused.js";
import type { DType } from "../../dtype.js";
import { Tensor } from "../../tensor/tensor.js";

type Shape4 = [number, number, number, number];

export interface FusedAttentionOptions {
  /** An additive float mask broadcastable to (N, H, L, S), or null. */
  mask: Tensor | null;
  /** Hide key j from query i when j > i. */
  causal: boolean;
  /** Multiplies q·kᵀ. */
  scale: number;
}

interface Problem extends FusedAttentionOptions {
  /** (N, H, L, S): the scores' shape. */
  shape: Shape4;
  backend: Backend;
  dtype: DType;
}

function view(
  storage: Storage,
  dtype: DType,
  shape: readonly number[],
  strides: number[],
  offset = 0,
): View {
  return { storage, dtype, shape, strides, offset };
}

/** A contiguous 4-d view of a fresh storage. */
function dense(storage: Storage, dtype: DType, [a, b, c, d]: Shape4): View {
  return view(storage, dtype, [a, b, c, d], [b * c * d, c * d, d, 1]);
}

/** The last two dims swapped (a free view). */
function transposed(v: View): View {
  const s = [...v.shape];
  const t = [...v.strides];
  [s[2], s[3]] = [s[3]!, s[2]!];
  [t[2], t[3]] = [t[3]!, t[2]!];
  return view(v.storage, v.dtype, s, t, v.offset);
}

/** The mask as a view of (N, H, L, S): 0 strides where it broadcasts. */
function maskView(mask: Tensor, shape: Shape4): View {
  const lead = 4 - mask.ndim;
  const strides = shape.map((_, i) => {
    const j = i - lead;
    return j < 0 || mask.shape[j] === 1 ? 0 : mask.strides[j]!;
  });
  return view(mask.storage, mask.dtype, shape, strides, mask.offset);
}

/** Whether the fused path takes these operands: float, one device, a float mask that broadcasts. */
function usable(ts: Tensor[], mask: Tensor | null, shape: Shape4): boolean {
  const k = fusedKernels(ts[0]!.device);
  if (!k.attentionSoftmax || !k.attentionSoftmaxBackward || !k.headsSplit || !k.headsMerge)
    return false;
  const dtype = ts[0]!.dtype;
  if (dtype !== "float32" && dtype !== "float64") return false;
  if (ts.some((t) => t.dtype !== dtype || t.device !== ts[0]!.device)) return false;
  if (shape.some((d) => d === 0)) return false;
  if (mask) {
    if (mask.dtype !== dtype || mask.device !== ts[0]!.device || mask.requiresGrad) return false;
    if (mask.ndim > 4) return false;
    const lead = 4 - mask.ndim;
    if (!mask.shape.every((d, j) => d === 1 || d === shape[j + lead])) return false;
  }
  return true;
}

/** P = softmax(q·kᵀ·scale + mask) [N, H, L, S] and P·v [N, H, L, Ev], both contiguous. */
function forward(q: View, k: View, v: View, p: Problem): { out: Storage; probs: Storage } {
  const kern = fusedKernels(q.storage.device);
  const probs = p.backend.matmul(q, transposed(k), p.dtype);
  const mask = p.mask ? maskView(p.mask, p.shape) : null;
  kern.attentionSoftmax!(probs, p.shape, p.scale, mask, p.causal);
  const out = p.backend.matmul(dense(probs, p.dtype, p.shape), v, p.dtype);
  return { out, probs };
}

/** dq, dk, dv (contiguous [N, H, ·, ·]) from dO (any strides); null where not wanted. */
function backward(
  g: View,
  q: View,
  k: View,
  v: View,
  probs: Storage,
  p: Problem,
  want: [boolean, boolean, boolean],
): [Storage | null, Storage | null, Storage | null] {
  const kern = fusedKernels(q.storage.device);
  const P = dense(probs, p.dtype, p.shape);
  const dv = want[2] ? p.backend.matmul(transposed(P), g, p.dtype) : null;
  if (!want[0] && !want[1]) return [null, null, dv];
  const ds = p.backend.matmul(g, transposed(v), p.dtype);
  kern.attentionSoftmaxBackward!(ds, P, p.shape, p.scale, p.causal);
  const S = dense(ds, p.dtype, p.shape);
  const dq = want[0] ? p.backend.matmul(S, k, p.dtype) : null;
  const dk = want[1] ? p.backend.matmul(transposed(S), q, p.dtype) : null;
  return [dq, dk, dv];
}

/** The same gradients written with flint ops on graph-connected q, k, v (for createGraph). */
function compositeGrad(
  g: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: FusedAttentionOptions,
): Tensor[] {
  let s = q.matmul(k.transpose(-2, -1)).mul(o.scale);
  if (o.mask) s = s.add(o.mask);
  if (o.causal) {
    const [L, S] = s.shape.slice(-2) as [number, number];
    s = s.maskedFill(Tensor.ones([L, S], "bool", s.device).triu(1), Number.NEGATIVE_INFINITY);
  }
  const p = s.softmax(-1);
  const dp = g.matmul(v.transpose(-2, -1));
  const ds = p.mul(dp.sub(dp.mul(p).sum(-1, { keepdim: true }))).mul(o.scale);
  return [ds.matmul(k), ds.transpose(-2, -1).matmul(q), p.transpose(-2, -1).matmul(g)];
}

/**
 * Attention over q (N, H, L, E), k (N, H, S, E), v (N, H, S, Ev) (any
 * strides, same N and H): (N, H, L, Ev). Null when the device has no fused
 * kernels or the operands do not fit (the caller runs the composite).
 */
export function fusedAttention4d(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: FusedAttentionOptions,
): Tensor | null {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) return null;
  const [N, H, L, E] = q.shape as Shape4;
  const S = k.shape[2]!;
  const Ev = v.shape[3]!;
  if (k.shape[0] !== N || v.shape[0] !== N || k.shape[1] !== H || v.shape[1] !== H) return null;
  if (k.shape[3] !== E || v.shape[2] !== S) return null;
  const shape: Shape4 = [N, H, L, S];
  if (E === 0 || Ev === 0 || !usable([q, k, v], o.mask, shape)) return null;
  const p: Problem = { ...o, shape, backend: q.backend, dtype: q.dtype };
  const { out, probs } = forward(q, k, v, p);
  const y = Tensor.fromStorage(out, [N, H, L, Ev], q.dtype);
  return record(
    "ScaledDotProductAttentionBackward0",
    y,
    [q, k, v],
    (g, [qs, ks, vs]) => {
      if (isGradEnabled() || g.dtype !== p.dtype) return compositeGrad(g, qs!, ks!, vs!, o);
      const want: [boolean, boolean, boolean] = [q.requiresGrad, k.requiresGrad, v.requiresGrad];
      const grads = backward(g, qs!, ks!, vs!, probs, p, want);
      const shapes = [q.shape, k.shape, v.shape];
      return grads.map((s, i) => (s ? Tensor.fromStorage(s, shapes[i]!, p.dtype) : null));
    },
    [q, k, v],
  );
}

/** The packed gradient d qkv [N, L, 3E] written with flint ops (for createGraph). */
function packedCompositeGrad(
  g: Tensor,
  packed: Tensor,
  heads: number,
  o: Omit<FusedAttentionOptions, "scale">,
  p: Problem,
): Tensor {
  const [N, L, E3] = packed.shape as [number, number, number];
  const E = E3 / 3;
  const d = E / heads;
  const part = (c: number) =>
    packed
      .narrow(-1, c * E, E)
      .reshape([N, L, heads, d])
      .transpose(1, 2);
  const gh = g.reshape([N, L, heads, d]).transpose(1, 2);
  const grads = compositeGrad(gh, part(0), part(1), part(2), { ...o, scale: p.scale });
  return Tensor.cat(
    grads.map((t) => t.transpose(1, 2).reshape([N, L, E])),
    -1,
  );
}

/**
 * The whole of packed self-attention in the device's packedAttention
 * kernel (on the CPU: the heads read in place from qkv in the GEMM's
 * memory, no split or merge copies), or null where it has none.
 */
function packedInPlace(
  qkv: Tensor,
  heads: number,
  o: Omit<FusedAttentionOptions, "scale">,
  p: Problem,
): Tensor | null {
  const kern = fusedKernels(qkv.device);
  if (!kern.packedAttention || !kern.packedAttentionBackward) return null;
  const mask = o.mask ? maskView(o.mask, p.shape) : null;
  const res = kern.packedAttention(qkv, heads, p.scale, mask, o.causal);
  if (!res) return null;
  const [N, L, E3] = qkv.shape as [number, number, number];
  const y = Tensor.fromStorage(res.out, [N, L, E3 / 3], p.dtype);
  return record(
    "ScaledDotProductAttentionBackward0",
    y,
    [qkv],
    (g, [packed]) => {
      const fast =
        isGradEnabled() || g.dtype !== p.dtype
          ? null
          : kern.packedAttentionBackward!(g, packed!, res.probs, heads, p.scale, o.causal);
      if (fast) return [Tensor.fromStorage(fast, [N, L, E3], p.dtype)];
      return [packedCompositeGrad(g, packed!, heads, o, p)];
    },
    [qkv],
  );
}

/**
 * Multi-head self-attention on the packed input projection qkv (N, L, 3E)
 * (q, k and v side by side, each E = H·d split into H heads): the heads'
 * outputs merged back as (N, L, E), contiguous, ready for out_proj. The
 * gradient comes back packed as one (N, L, 3E) tensor. The scale is 1/√d.
 * Null when the fused path does not apply.
 */
export function fusedPackedSelfAttention(
  qkv: Tensor,
  heads: number,
  o: Omit<FusedAttentionOptions, "scale">,
): Tensor | null {
  if (qkv.ndim !== 3 || qkv.shape[2]! % (3 * heads) !== 0) return null;
  const [N, L, E3] = qkv.shape as [number, number, number];
  const E = E3 / 3;
  const d = E / heads;
  const shape: Shape4 = [N, heads, L, L];
  if (d === 0 || !usable([qkv], o.mask, shape)) return null;
  const { dtype, backend } = qkv;
  const p: Problem = { ...o, scale: 1 / Math.sqrt(d), shape, backend, dtype };
  const whole = packedInPlace(qkv, heads, o, p);
  if (whole) return whole;
  const headShape: Shape4 = [N, heads, L, d];
  const kern = fusedKernels(qkv.device);
  // Head c of the packed layout (N, L, [3][H][d]) seen as (N, H, L, d).
  // Contiguous heads: each GEMM then copies one dense block into wasm memory.
  const [q, k, v] = kern.headsSplit!(qkv, 3, heads).map((s) => dense(s, dtype, headShape)) as [
    View,
    View,
    View,
  ];
  const { out, probs } = forward(q, k, v, p);
  // (N, H, L, d) -> (N, L, H, d) = (N, L, E)
  const y = Tensor.fromStorage(kern.headsMerge!([out], headShape), [N, L, E], dtype);
  return record(
    "ScaledDotProductAttentionBackward0",
    y,
    [qkv],
    (g, [packed]) => {
      if (isGradEnabled() || g.dtype !== dtype)
        return [packedCompositeGrad(g, packed!, heads, o, p)];
      const [gs0, gs1, gs2] = g.strides as [number, number, number];
      const gv = view(g.storage, dtype, headShape, [gs0, d * gs2, gs1, gs2], g.offset);
      const grads = backward(gv, q, k, v, probs, p, [true, true, true]);
      const packedGrad = kern.headsMerge!(grads as Storage[], headShape);
      return [Tensor.fromStorage(packedGrad, [N, L, E3], dtype)];
    },
    [qkv],
  );
}
