// The feed-forward block's second half, y = GELU(pre) Wᵀ + b, as ONE node
// whose backward goes through the GELU to pre: where the device has the
// geluLinearBackward kernel (the CPU's float32 path) g·W, GELU's backward
// and the weight and bias gradients happen in one visit to the GEMM's
// memory, copying out dPre, dW and db only (linear2's backward would copy
// dAct out, GELU's backward copy it in again with pre and act). Under
// createGraph, or without the kernel, the rule is the composite written
// with flint ops, so double backward works.
//
// act must be GELU(pre) (exact) as gelu.ts's kernels make it: the
// backward reads Φ(pre) off act / pre. geluFeedForward builds the whole
// block, linear2(GELU(linear1(x))), for TransformerEncoderLayer.

import { isGradEnabled, noGrad } from "../../autograd/grad_mode.js";
import { record } from "../../autograd/node.js";
import { fusedKernels } from "../../backend/fused.js";
import { Tensor } from "../../tensor/tensor.js";
import { gelu } from "./activation.js";
import { geluGradWithOutput } from "./fused.js";
import { addmmGeluKernel, addmmKernel, recordAddmm } from "./linear.js";

let enabled = true;

/** Switches geluFeedForward's fusion on or off (tests, benchmarks); returns the previous setting. */
export function setGeluLinear(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/**
 * y = act Wᵀ + b for act = GELU(pre) (exact), recorded as one
 * AddmmBackward0 node over (pre, weight, bias): its backward gives pre's
 * gradient through the GELU. act itself gets no gradient (it should have
 * no node of its own). pre and act [..., hid], weight [out, hid], bias [out].
 *
 * Internal (no PyTorch counterpart): TransformerEncoderLayer's feed-forward
 * block uses it for "gelu".
 */
export function geluLinear(pre: Tensor, act: Tensor, weight: Tensor, bias: Tensor): Tensor {
  const [out, hid] = weight.shape as [number, number];
  const y = addmmKernel(act, weight, bias) ?? noGrad(() => act.matmul(weight.t()).add(bias));
  const want: [boolean, boolean, boolean] = [
    pre.requiresGrad,
    weight.requiresGrad,
    bias.requiresGrad,
  ];
  return record(
    "AddmmBackward0",
    y,
    [pre, weight, bias],
    (g, [p, a, w]) => {
      const k = fusedKernels(g.device);
      const dt = g.dtype;
      if (
        !isGradEnabled() &&
        k.geluLinearBackward &&
        p!.dtype === dt &&
        a!.dtype === dt &&
        w!.dtype === dt
      ) {
        const r = k.geluLinearBackward(
          g.reshape([-1, out]),
          p!.reshape([-1, hid]),
          a!.reshape([-1, hid]),
          w!,
          want,
        );
        if (r) {
          const [dp, dw, db] = r;
          return [
            dp ? Tensor.fromStorage(dp, p!.shape, dt) : null,
            dw ? Tensor.fromStorage(dw, [out, hid], dt) : null,
            db ? Tensor.fromStorage(db, [out], dt) : null,
          ];
        }
      }
      const g2 = g.reshape([-1, out]);
      // Under createGraph act is GELU(pre) again, with a graph, so that dW
      // depends on pre for the second order.
      const av = isGradEnabled() && p!.requiresGrad ? gelu(p!) : a!;
      return [
        want[0] ? geluGradWithOutput(g.matmul(w!), p!, a!) : null,
        want[1] ? g2.t().matmul(av.reshape([-1, hid])) : null,
        want[2] ? g2.sum(0) : null,
      ];
    },
    [pre, act, weight],
  );
}

/**
 * linear2(GELU(linear1(x))) as two nodes (addmm, and geluLinear's, which
 * differentiates through the GELU), the first half from the device's
 * addmmGelu kernel; null where that does not apply (fusion off, no kernel,
 * another dtype or device, a shape Linear would reject).
 */
export function geluFeedForward(
  x: Tensor,
  w1: Tensor,
  b1: Tensor | null,
  w2: Tensor,
  b2: Tensor | null,
): Tensor | null {
  if (!enabled || !b1 || !b2) return null;
  const dt = x.dtype;
  if (dt !== "float32") return null;
  for (const t of [w1, b1, w2, b2]) if (t.dtype !== dt || t.device !== x.device) return null;
  if (w1.ndim !== 2 || w2.ndim !== 2 || b1.ndim !== 1 || b2.ndim !== 1) return null;
  const [hid, inF] = w1.shape as [number, number];
  const out = w2.shape[0]!;
  if (x.ndim < 2 || x.shape[x.ndim - 1] !== inF || w2.shape[1] !== hid) return null;
  if (b1.shape[0] !== hid || b2.shape[0] !== out) return null;
  if (!fusedKernels(x.device).geluLinearBackward) return null;
  const both = addmmGeluKernel(x, w1, b1);
  if (!both) return null;
  const pre = recordAddmm(both.pre, x, w1, b1);
  return geluLinear(pre, both.act, w2, b2);
}
