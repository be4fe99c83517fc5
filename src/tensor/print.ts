import type { Tensor } from "./tensor.js";

/** Placeholder formatting; replaced by PyTorch-style printing. */
export function formatTensor(t: Tensor): string {
  return `tensor(${JSON.stringify(t.tolistSync())})`;
}
