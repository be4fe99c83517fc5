// y = x Wᵀ + b as one node (PyTorch's addmm). Where the device has the
// addmm kernel the bias rides in the GEMM itself; with only addBias it goes
// into the GEMM's fresh output in place (one array, one pass, instead of
// the broadcast add's second array). The backward gives W's gradient as
// gᵀ x, contiguous [out, in], and the
// bias's as g summed over rows (the sumRows kernel, row by row). The rule
// is written with flint ops apart from that sum, which falls back to them
// under createGraph. Elsewhere: matmul then add.
//
// linearGelu is the feed-forward block's first half, GELU(x Wᵀ + b): the
// product and its GELU in one visit to the GEMM's memory (addmmGelu; its
// backward reads Φ(x) off the saved output, GELU(x) / x), or the
// GELU straight off the addmm output, or else the bias and the GELU in one
// pass over the GEMM output (the geluBias kernel): two nodes as the composite has (AddmmBackward0, GeluBackward0),
// one fewer pass and no separate biased array.

import { isGradEnabled, noGrad } from "../../autograd/grad_mode.js";
import { record } from "../../autograd/node.js";
import type { View } from "../../backend/backend.js";
import { fusedKernels } from "../../backend/fused.js";
import { Tensor } from "../../tensor/tensor.js";
import { gelu } from "./activation.js";
import { geluGrad, geluGradWithOutput } from "./fused.js";

function fusable(input: Tensor, weight: Tensor, bias: Tensor): boolean {
  const dt = input.dtype;
  if (dt !== "float32" && dt !== "float64") return false;
  if (weight.dtype !== dt || bias.dtype !== dt) return false;
  if (weight.device !== input.device || bias.device !== input.device) return false;
  if (!fusedKernels(input.device).addBias) return false;
  return (
    input.ndim >= 1 && weight.ndim === 2 && bias.ndim === 1 && bias.shape[0] === weight.shape[0]
  );
}

/** g [..., out] summed over all but the last dim. */
function biasGrad(g: Tensor, out: number): Tensor {
  const g2 = g.reshape([-1, out]);
  const k = fusedKernels(g.device);
  if (isGradEnabled() || !k.sumRows || (g.dtype !== "float32" && g.dtype !== "float64"))
    return g2.sum(0);
  return Tensor.fromStorage(k.sumRows(g2, g2.shape[0]!, out), [out], g.dtype);
}

/**
 * dx, dW, db from the device's linearBackward kernel (on the CPU: one
 * staging of g for the three products), outside createGraph; null where
 * it does not apply.
 */
function fusedBackward(
  g: Tensor,
  x: Tensor,
  w: Tensor,
  want: [boolean, boolean, boolean],
): (Tensor | null)[] | null {
  const k = fusedKernels(g.device);
  if (isGradEnabled() || !k.linearBackward || g.dtype !== x.dtype) return null;
  const [out, inF] = w.shape as [number, number];
  const res = k.linearBackward(g.reshape([-1, out]), x.reshape([-1, inF]), w, want);
  if (!res) return null;
  const [dx, dw, db] = res;
  return [
    dx ? Tensor.fromStorage(dx, x.shape, x.dtype) : null,
    dw ? Tensor.fromStorage(dw, [out, inF], x.dtype) : null,
    db ? Tensor.fromStorage(db, [out], x.dtype) : null,
  ];
}

/** Attaches addmm's node to y = x Wᵀ + b, made outside autograd. */
export function recordAddmm(y: Tensor, input: Tensor, weight: Tensor, bias: Tensor): Tensor {
  const [out, inF] = weight.shape as [number, number];
  return record(
    "AddmmBackward0",
    y,
    [input, weight, bias],
    (g, [x, w]) =>
      fusedBackward(g, x!, w!, [input.requiresGrad, weight.requiresGrad, bias.requiresGrad]) ?? [
        input.requiresGrad ? g.matmul(w!) : null,
        weight.requiresGrad
          ? g
              .reshape([-1, out])
              .t()
              .matmul(x!.reshape([-1, inF]))
          : null,
        bias.requiresGrad ? biasGrad(g, out) : null,
      ],
    [input, weight],
  );
}

/**
 * x Wᵀ + b made outside autograd: one addmm kernel (the bias laid into the
 * GEMM's output before the product adds into it) where the device has it,
 * else the product with the bias added in place.
 */
function biasedProduct(input: Tensor, weight: Tensor, bias: Tensor): Tensor {
  const fused = addmmKernel(input, weight, bias);
  if (fused) return fused;
  const y = noGrad(() => input.matmul(weight.t()));
  const out = weight.shape[0]!;
  fusedKernels(input.device).addBias!(y.storage, bias, y.numel() / out, out);
  return y;
}

/** x Wᵀ + b from the device's addmm kernel (no autograd), or null where it does not apply. */
export function addmmKernel(input: Tensor, weight: Tensor, bias: Tensor): Tensor | null {
  const k = fusedKernels(input.device);
  const [out, inF] = weight.shape as [number, number];
  if (!k.addmm || input.ndim < 2 || input.shape[input.ndim - 1] !== inF) return null;
  const batch = input.shape.slice(0, -2);
  // Wᵀ as [..., in, out], shared by every batch (0 strides): the GEMM folds the batch into rows.
  const wt: View = {
    storage: weight.storage,
    dtype: weight.dtype,
    shape: [...batch, inF, out],
    strides: [...batch.map(() => 0), weight.strides[1]!, weight.strides[0]!],
    offset: weight.offset,
  };
  const y = k.addmm(input, wt, bias);
  return y ? Tensor.fromStorage(y, [...input.shape.slice(0, -1), out], input.dtype) : null;
}

/**
 * x Wᵀ + b and GELU of it from the device's addmmGelu kernel (no autograd,
 * the product never leaving the GEMM's memory before the GELU), or null
 * where it does not apply.
 */
export function addmmGeluKernel(
  input: Tensor,
  weight: Tensor,
  bias: Tensor,
): { pre: Tensor; act: Tensor } | null {
  const k = fusedKernels(input.device);
  const [out, inF] = weight.shape as [number, number];
  if (!k.addmmGelu || input.ndim < 1 || input.shape[input.ndim - 1] !== inF) return null;
  const r = k.addmmGelu(input.reshape([-1, inF]), weight, bias);
  if (!r) return null;
  const shape = [...input.shape.slice(0, -1), out];
  return {
    pre: Tensor.fromStorage(r.pre, shape, input.dtype),
    act: Tensor.fromStorage(r.act, shape, input.dtype),
  };
}

/**
 * y = x Wᵀ + b (torch.nn.functional.linear) for x (…, in), weight
 * (out, in) and an optional bias (out).
 *
 * @example
 * const y = F.linear(fl.randn([2, 3]), fl.randn([4, 3]), fl.zeros([4])); // [2, 4]
 */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (!bias) return input.matmul(weight.t());
  if (!fusable(input, weight, bias)) return input.matmul(weight.t()).add(bias);
  return recordAddmm(biasedProduct(input, weight, bias), input, weight, bias);
}

/**
 * GELU (exact, erf) of a linear layer's output: gelu(linear(x, W, b)),
 * with the bias and the GELU fused where the device has the kernel.
 *
 * Internal (no PyTorch counterpart): TransformerEncoderLayer's and
 * TransformerDecoderLayer's feed-forward block use it for "gelu".
 *
 * @example
 * const h = linearGelu(fl.randn([2, 3]), fl.randn([4, 3]), fl.zeros([4])); // [2, 4]
 */
export function linearGelu(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const k = fusedKernels(input.device);
  if (!bias || !k.gelu || !fusable(input, weight, bias)) return gelu(linear(input, weight, bias));
  const both = addmmGeluKernel(input, weight, bias);
  if (both) {
    const pre = recordAddmm(both.pre, input, weight, bias);
    // The output is saved too (in-place ops on graph tensors are refused, so
    // it stays as made): the backward reads Φ off it instead of erf.
    return record(
      "GeluBackward0",
      both.act,
      [pre],
      (g, [p, a]) => [geluGradWithOutput(g, p!, a!)],
      [pre, both.act],
    );
  }
  // With the bias in the GEMM, GELU reads the biased output directly.
  const biased = addmmKernel(input, weight, bias);
  if (biased) {
    const pre = recordAddmm(biased, input, weight, bias);
    const a = Tensor.fromStorage(k.gelu(biased, "none"), biased.shape, biased.dtype);
    return record("GeluBackward0", a, [pre], (g, [p]) => [geluGrad(g, p!, "none")], [pre]);
  }
  if (!k.geluBias) return gelu(linear(input, weight, bias));
  const y = noGrad(() => input.matmul(weight.t()));
  const out = weight.shape[0]!;
  const act = k.geluBias(y.storage, bias, y.numel() / out, out);
  if (!act) {
    k.addBias!(y.storage, bias, y.numel() / out, out);
    return gelu(recordAddmm(y, input, weight, bias));
  }
  const pre = recordAddmm(y, input, weight, bias);
  const a = Tensor.fromStorage(act, y.shape, y.dtype);
  return record("GeluBackward0", a, [pre], (g, [p]) => [geluGrad(g, p!, "none")], [pre]);
}
