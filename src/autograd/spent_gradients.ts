import type { Storage } from "../backend/backend.js";
import { recycle } from "../backend/cpu/array_pool.js";
import { CpuStorage } from "../backend/cpu/storage.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Node } from "./node.js";
import { WindowGrad } from "./window_grad.js";

// Which of the gradients flowing through one backward pass are spent, so
// that their arrays can go back to the pool (backend/cpu/array_pool.ts).
// The engine reports every place it parks a gradient (a node's pending
// input), every place that lets go of one, every rule that consumed one,
// and every gradient that leaves its bookkeeping (a root, a leaf's
// gradient, autograd.grad's capture). A gradient is spent when the last
// place holding it lets go and nothing else can reach its storage:
//   - the storage had exactly one tensor whenever a tensor on it was
//     parked (later tensors on it are the consuming rules' temporaries);
//   - no rule returned another tensor on it (a view), and no tensor on it
//     left the bookkeeping, went through a hook or retainGrad, or was
//     given to a rule outside flint's own ops.
// A rule that returns its gradient itself (add's, for both inputs) only
// parks it again, so a residual connection's gradient is recycled once
// both branches have consumed it.

export class SpentGradients {
  /** How many places hold each parked gradient. */
  private readonly holds = new Map<Tensor, number>();
  /** Storages something outside the bookkeeping may still reach. */
  private readonly escaped = new Set<Storage>();

  constructor(private readonly enabled: boolean) {}

  /** `g` is parked in one more place; returns it. */
  park(g: Tensor): Tensor {
    if (!this.enabled) return g;
    const s = g.storage;
    if (!(s instanceof CpuStorage) || s.tensors !== 1) this.escaped.add(s);
    this.holds.set(g, (this.holds.get(g) ?? 0) + 1);
    return g;
  }

  /** `g` may be reached from outside (a root, a leaf's gradient, a capture); returns it. */
  escape(g: Tensor): Tensor {
    if (this.enabled) this.escaped.add(g.storage);
    return g;
  }

  /** `node`'s rule consumed `g` and returned `grads`; its place lets go of g. */
  consumed(node: Node, g: Tensor, grads: readonly (Tensor | WindowGrad | null | undefined)[]) {
    if (!this.enabled) return;
    if (!node.ownRule || node.hooks.length > 0 || node.retainedBy) this.escaped.add(g.storage);
    else
      for (const o of grads) {
        const t = o instanceof WindowGrad ? o.value : o;
        if (t && t !== g && t.storage === g.storage) this.escaped.add(g.storage);
      }
    this.letGo(g);
  }

  /** One place stops holding `g` (consumed, or replaced by a sum); the last one recycles it. */
  letGo(g: Tensor): void {
    if (!this.enabled) return;
    const n = this.holds.get(g);
    if (n === undefined) return;
    if (n > 1) {
      this.holds.set(g, n - 1);
      return;
    }
    this.holds.delete(g);
    if (!this.escaped.has(g.storage)) recycle((g.storage as CpuStorage).data);
  }
}
