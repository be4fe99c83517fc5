import { noGrad } from "../autograd/grad_mode.js";
import { record } from "../autograd/node.js";
import { DeviceError, DTypeError, fmtShape, ShapeError } from "../errors.js";
import { broadcastShapes } from "../shape.js";
import { Tensor } from "../tensor/tensor.js";
import { broadcastView, resultType } from "./elementwise.js";

// Matrix products. One batched kernel serves every case; the 1-D cases of
// torch.matmul are reshapes around it.

function checkOperands(op: string, a: Tensor, b: Tensor): void {
  if (a.device !== b.device) {
    throw new DeviceError(
      `${op}: expected both tensors on the same device, got ${a.device} and ${b.device}`,
    );
  }
  if (a.dtype === "bool" || b.dtype === "bool") {
    throw new DTypeError(
      `${op}: bool tensors cannot be multiplied (got ${a.dtype} and ${b.dtype})`,
    );
  }
  // Like PyTorch, no silent promotion here: an int32 batch fed to a float
  // layer is a mistake worth naming.
  if (a.dtype !== b.dtype) {
    throw new DTypeError(
      `${op}: expected both operands to have the same dtype, got ${a.dtype} and ${b.dtype} (cast one with .to("${b.dtype === "int32" ? a.dtype : b.dtype}"))`,
    );
  }
}

function mismatch(op: string, a: Tensor, b: Tensor, k1: number, k2: number): ShapeError {
  return new ShapeError(
    `${op}: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied (${k1} != ${k2})`,
  );
}

/** a [..., M, K] @ b [..., K, N] with batch dims broadcast. */
function batched(op: string, name: string, a: Tensor, b: Tensor): Tensor {
  const K = a.shape[a.ndim - 1]!;
  if (b.shape[b.ndim - 2] !== K) throw mismatch(op, a, b, K, b.shape[b.ndim - 2]!);
  const batch = broadcastShapes(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const M = a.shape[a.ndim - 2]!;
  const N = b.shape[b.ndim - 1]!;
  const dtype = resultType(a, b);
  const av = broadcastView(a, [...batch, M, K]);
  const bv = broadcastView(b, [...batch, K, N]);
  const y = Tensor.fromStorage(a.backend.matmul(av, bv, dtype), [...batch, M, N], dtype);
  // dA = dY Bᵀ, dB = Aᵀ dY (the engine sums broadcast batch dims back).
  return record(
    name,
    y,
    [a, b],
    (g, [sa, sb]) => [
      a.requiresGrad ? g.matmul(sb!.transpose(-1, -2)) : null,
      b.requiresGrad ? gradOfShared(sa!, sb!, g) : null,
    ],
    [a, b],
  );
}

/**
 * dB = Aᵀ dY. When a 2-d B is shared by every batch (a linear layer on a
 * sequence), that is one [K, B·M] @ [B·M, N] product rather than B products
 * summed afterwards. When B is a transposed matrix (x @ W.t()), dB is
 * computed as (dYᵀ A)ᵀ, so W's gradient comes out contiguous instead of as
 * a transposed view every later op would have to copy.
 */
function gradOfShared(a: Tensor, b: Tensor, g: Tensor): Tensor {
  if (b.ndim !== 2) return a.transpose(-1, -2).matmul(g);
  const a2 = a.ndim > 2 ? a.reshape([-1, a.shape[a.ndim - 1]!]) : a;
  const g2 = g.ndim > 2 ? g.reshape([-1, g.shape[g.ndim - 1]!]) : g;
  if (b.strides[0] === 1 && b.strides[1] === b.shape[0] && b.shape[0]! > 1) {
    return g2.transpose(0, 1).matmul(a2).transpose(0, 1);
  }
  return a2.transpose(0, 1).matmul(g2);
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  checkOperands("matmul", a, b);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError(
      `matmul: both arguments need at least 1 dimension, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  // Check here so the error names matmul, not the mm/mv/dot it dispatches to.
  const k1 = a.shape[a.ndim - 1]!;
  const k2 = b.shape[Math.max(b.ndim - 2, 0)]!;
  if (k1 !== k2) throw mismatch("matmul", a, b, k1, k2);
  if (a.ndim === 1 && b.ndim === 1) return dot(a, b);
  if (a.ndim === 2 && b.ndim === 2) return mm(a, b);
  if (a.ndim === 2 && b.ndim === 1) return mv(a, b);
  if (a.ndim === 1) {
    if (a.shape[0] !== b.shape[b.ndim - 2])
      throw mismatch("matmul", a, b, a.shape[0]!, b.shape[b.ndim - 2]!);
    return batched("matmul", "UnsafeViewBackward0", a.unsqueeze(0), b).squeeze(-2);
  }
  if (b.ndim === 1) {
    if (b.shape[0] !== a.shape[a.ndim - 1])
      throw mismatch("matmul", a, b, a.shape[a.ndim - 1]!, b.shape[0]!);
    return batched("matmul", "UnsafeViewBackward0", a, b.unsqueeze(1)).squeeze(-1);
  }
  // PyTorch 1.13 folds batch dims and unfolds them with _unsafe_view, whatever the ranks.
  return batched("matmul", "UnsafeViewBackward0", a, b);
}

export function mm(a: Tensor, b: Tensor): Tensor {
  checkOperands("mm", a, b);
  if (a.ndim !== 2 || b.ndim !== 2) {
    throw new ShapeError(
      `mm: expects two 2-d tensors, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  if (a.shape[1] !== b.shape[0]) throw mismatch("mm", a, b, a.shape[1]!, b.shape[0]!);
  return batched("mm", "MmBackward0", a, b);
}

export function bmm(a: Tensor, b: Tensor): Tensor {
  checkOperands("bmm", a, b);
  if (a.ndim !== 3 || b.ndim !== 3) {
    throw new ShapeError(
      `bmm: expects two 3-d tensors, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  if (a.shape[0] !== b.shape[0]) {
    throw new ShapeError(
      `bmm: batch sizes differ, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  if (a.shape[2] !== b.shape[1]) throw mismatch("bmm", a, b, a.shape[2]!, b.shape[1]!);
  return batched("bmm", "BmmBackward0", a, b);
}

export function mv(a: Tensor, v: Tensor): Tensor {
  checkOperands("mv", a, v);
  if (a.ndim !== 2 || v.ndim !== 1) {
    throw new ShapeError(
      `mv: expects a 2-d matrix and a 1-d vector, got shapes ${fmtShape(a.shape)} and ${fmtShape(v.shape)}`,
    );
  }
  if (a.shape[1] !== v.shape[0]) throw mismatch("mv", a, v, a.shape[1]!, v.shape[0]!);
  // One MvBackward0 node, as in PyTorch: dA = g ⊗ v, dv = Aᵀ g.
  const y = noGrad(() => batched("mv", "MvBackward0", a, v.unsqueeze(1)).squeeze(-1));
  return record(
    "MvBackward0",
    y,
    [a, v],
    (g, [sa, sv]) => [a.requiresGrad ? g.outer(sv!) : null, v.requiresGrad ? sa!.t().mv(g) : null],
    [a, v],
  );
}

export function dot(a: Tensor, b: Tensor): Tensor {
  checkOperands("dot", a, b);
  if (a.ndim !== 1 || b.ndim !== 1) {
    throw new ShapeError(
      `dot: expects two 1-d tensors, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  if (a.shape[0] !== b.shape[0]) {
    throw new ShapeError(
      `dot: inconsistent tensor size, expected tensors of the same length, got ${a.shape[0]} and ${b.shape[0]}`,
    );
  }
  // One DotBackward0 node, as in PyTorch: d(a·b) = (g b, g a).
  const y = noGrad(() => a.mul(b).sum());
  return record(
    "DotBackward0",
    y,
    [a, b],
    (g, [sa, sb]) => [a.requiresGrad ? g.mul(sb!) : null, b.requiresGrad ? g.mul(sa!) : null],
    [a, b],
  );
}

export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1) {
    throw new ShapeError(
      `outer: expects two 1-d tensors, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  return a.unsqueeze(1).mul(b.unsqueeze(0));
}
