import { AutogradError, fmtShape, ShapeError } from "../errors.js";
import { sameShape } from "../shape.js";
import { adoptGrad, gradMark, keep, releaseGrad } from "../tensor/memory.js";
import { Tensor } from "../tensor/tensor.js";
import { enableGrad, isAnomalyEnabled, noGrad } from "./grad_mode.js";
import type { Node } from "./node.js";
import { SpentGradients } from "./spent_gradients.js";
import { WindowGrad } from "./window_grad.js";

export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
}

export interface GradOptions extends BackwardOptions {
  gradOutputs?: (Tensor | null)[] | Tensor | null;
  allowUnused?: boolean;
}

/**
 * Sums a gradient back to the shape of the input it belongs to. Broadcasting
 * in the forward pass becomes summation here, once for every op.
 */
export function sumToShape(grad: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(grad.shape, shape)) return grad;
  const lead = grad.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < grad.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) dims.push(i);
  }
  let g = dims.length > 0 ? grad.sum(dims, { keepdim: true }) : grad;
  if (lead > 0) g = g.reshape([...shape]);
  return g;
}

function defaultGrad(t: Tensor, op: string): Tensor {
  if (t.numel() !== 1) {
    throw new AutogradError(
      `${op}: grad can be implicitly created only for scalar outputs, got shape ${fmtShape(t.shape)}; pass a gradient of that shape`,
    );
  }
  return Tensor.ones(t.shape, t.dtype, t.device);
}

function checkNan(node: Node, grads: (Tensor | WindowGrad | null | undefined)[]): void {
  grads.forEach((gi, i) => {
    const g = gi instanceof WindowGrad ? gi.value : gi;
    if (g?.isnan().any().itemSync()) {
      throw new AutogradError(
        `Function '${node.name}' returned nan values in its ${i}th output.` +
          (node.trace ? `\nThe forward call that created it:\n${node.trace}` : ""),
      );
    }
  });
}

/**
 * The backward pass: visits every node reachable from the roots in reverse
 * topological order (each node once all its consumers have reported),
 * sums incoming gradients, and hands leaves their gradient — into `.grad`,
 * or into `capture` for autograd.grad.
 */
function run(
  roots: Tensor[],
  rootGrads: Tensor[],
  opts: BackwardOptions,
  capture: Map<Tensor, Tensor | null> | null,
): void {
  const retain = opts.retainGraph ?? opts.createGraph ?? false;
  // Gradients whose memory is allocated from here on are the engine's own.
  const mark = gradMark();
  // Count, for each reachable node, how many edges point into it.
  const deps = new Map<Node, number>();
  const stack: Node[] = [];
  for (const r of roots) {
    if (r.gradFn && !deps.has(r.gradFn)) {
      deps.set(r.gradFn, 0);
      stack.push(r.gradFn);
    }
  }
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (const t of node.inputs) {
      const next = t?.gradFn;
      if (!next) continue;
      if (deps.has(next)) deps.set(next, deps.get(next)! + 1);
      else {
        deps.set(next, 1);
        stack.push(next);
      }
    }
  }
  // Captured non-leaf tensors are recognised by their node.
  const captureByNode = new Map<Node, Tensor>();
  if (capture) for (const t of capture.keys()) if (t.gradFn) captureByNode.set(t.gradFn, t);

  const pending = new Map<Node, Tensor>();
  // Where gradients are parked and let go, so spent ones are recycled (not
  // under createGraph, whose graph may keep any of them).
  const spent = new SpentGradients(!opts.createGraph);
  // A leaf used several times gets one summed gradient, so its hooks run
  // once (PyTorch's AccumulateGrad sums its inputs before the hooks).
  const leafPending = new Map<Tensor, Tensor>();
  const deliverLeaf = (leaf: Tensor, g: Tensor) => {
    const prev = leafPending.get(leaf);
    leafPending.set(leaf, prev ? prev.add(g) : spent.escape(g));
  };
  const finishLeaf = (leaf: Tensor, g: Tensor) => {
    for (const hook of leaf.leafHooks) {
      const r = hook(g);
      if (r) g = r;
    }
    if (capture) {
      if (capture.has(leaf)) {
        const prev = capture.get(leaf);
        capture.set(leaf, prev ? prev.add(g) : g);
      }
      return;
    }
    const detached = opts.createGraph ? g : g.detach();
    const old = leaf.grad;
    leaf.grad = old
      ? opts.createGraph
        ? old.add(detached)
        : old.add(detached).detach()
      : detached;
    // A gradient outlives the tidy() scope that ran backward, like the leaf
    // it belongs to; an accumulated one replaces the engine's earlier sum.
    adoptGrad(leaf.grad, mark);
    if (old && !opts.createGraph) releaseGrad(old);
  };
  // Buffers the engine allocated itself for a node's pending gradient: only
  // these may be added into in place (any other tensor may be shared).
  const owned = new Map<Node, Tensor>();
  const addWindow = (t: Tensor, g: WindowGrad) => {
    const node = t.gradFn!;
    let buf = owned.get(node);
    if (!buf) {
      const prev = pending.get(node);
      buf = prev ? prev.clone() : Tensor.zeros(t.shape, t.dtype, t.device);
      owned.set(node, buf);
      pending.set(node, buf);
    }
    const value = g.value.dtype === t.dtype ? g.value : g.value.to(t.dtype);
    const target = g.window(buf);
    buf.backend.assign(target, target.add(value));
  };
  const deliver = (t: Tensor, gi: Tensor | WindowGrad) => {
    let g: Tensor;
    if (gi instanceof WindowGrad) {
      if (t.gradFn && t.device === "cpu" && !opts.createGraph) {
        addWindow(t, gi);
        return;
      }
      g = materializeWindow(gi);
    } else g = gi;
    if (!sameShape(g.shape, t.shape)) g = sumToShape(g, t.shape);
    if (g.dtype !== t.dtype) g = g.to(t.dtype);
    if (t.gradFn) {
      const node = t.gradFn;
      const prev = pending.get(node);
      const buf = owned.get(node);
      if (buf && buf === prev && t.device === "cpu" && !opts.createGraph) {
        buf.backend.assign(buf, buf.add(g));
      } else if (prev) {
        pending.set(node, spent.park(prev.add(g)));
        spent.letGo(prev);
      } else pending.set(node, spent.park(g));
    } else if (t.requiresGrad) deliverLeaf(t, g);
  };

  const ready: Node[] = [];
  roots.forEach((r, i) => {
    // The caller's (or an implicit ones) gradient: never recycled, wherever rules pass it.
    const g = spent.escape(rootGrads[i]!);
    if (r.gradFn) {
      const prev = pending.get(r.gradFn);
      pending.set(r.gradFn, prev ? prev.add(g) : g);
    } else if (r.requiresGrad) deliverLeaf(r, g);
  });
  for (const [node, count] of deps) if (count === 0) ready.push(node);

  const visited: Node[] = [];
  while (ready.length > 0) {
    const node = ready.pop()!;
    visited.push(node);
    const parked = pending.get(node);
    let g = parked;
    pending.delete(node);
    owned.delete(node);
    if (g && parked) {
      for (const hook of node.hooks) {
        const r = hook(g);
        if (r) g = r;
      }
      if (node.retainedBy && !capture) {
        const t = node.retainedBy;
        t.grad = keep(t.grad ? t.grad.add(g.detach()).detach() : g.detach());
      }
      const captured = captureByNode.get(node);
      if (captured) {
        const prev = capture!.get(captured);
        capture!.set(captured, prev ? prev.add(g) : spent.escape(g));
      }
      const grads = node.apply(g);
      if (isAnomalyEnabled()) checkNan(node, grads);
      node.inputs.forEach((t, i) => {
        const gi = grads[i];
        if (t && gi) deliver(t, gi);
      });
      spent.consumed(node, parked, grads);
    }
    for (const t of node.inputs) {
      const next = t?.gradFn;
      if (!next) continue;
      const left = deps.get(next)! - 1;
      deps.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  for (const [leaf, g] of leafPending) finishLeaf(leaf, g);
  if (!retain) for (const node of visited) node.release();
}

/** A window gradient as a full tensor: zeros with the value written into the window. */
function materializeWindow(g: WindowGrad): Tensor {
  const out = Tensor.zeros(g.shape, g.value.dtype, g.value.device);
  out.backend.assign(g.window(out), g.value);
  return out;
}

function runMode(opts: BackwardOptions, fn: () => void): void {
  if (opts.createGraph) enableGrad(fn);
  else noGrad(fn);
}

/** tensor.backward(gradient?, { retainGraph, createGraph }). */
export function backward(t: Tensor, gradient?: Tensor | null, opts: BackwardOptions = {}): void {
  if (!t.requiresGrad) {
    throw new AutogradError(
      "backward: element 0 of tensors does not require grad and does not have a gradFn " +
        "(did you create it under noGrad, or detach it?)",
    );
  }
  const g = gradient ?? defaultGrad(t, "backward");
  if (!sameShape(g.shape, t.shape)) {
    throw new ShapeError(
      `backward: gradient has shape ${fmtShape(g.shape)}, expected ${fmtShape(t.shape)}`,
    );
  }
  runMode(opts, () => run([t], [g], opts, null));
}

/**
 * torch.autograd.grad: the gradients of outputs with respect to inputs,
 * returned rather than accumulated into `.grad`. With createGraph the
 * result is itself differentiable.
 */
export function grad(
  outputs: Tensor | Tensor[],
  inputs: Tensor | Tensor[],
  opts: GradOptions = {},
): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  const gos =
    opts.gradOutputs === undefined || opts.gradOutputs === null
      ? outs.map(() => null)
      : Array.isArray(opts.gradOutputs)
        ? opts.gradOutputs
        : [opts.gradOutputs];
  for (const t of ins) {
    if (!t.requiresGrad)
      throw new AutogradError(
        "autograd.grad: one of the differentiated tensors does not require grad",
      );
  }
  outs.forEach((o) => {
    if (!o.requiresGrad) {
      throw new AutogradError(
        "autograd.grad: one of the outputs does not require grad and does not have a gradFn",
      );
    }
  });
  const capture = new Map<Tensor, Tensor | null>();
  for (const t of ins) capture.set(t, null);
  const rootGrads = outs.map((o, i) => gos[i] ?? defaultGrad(o, "autograd.grad"));
  runMode(opts, () => run(outs, rootGrads, opts, capture));
  return ins.map((t) => {
    const g = capture.get(t) ?? null;
    if (g === null && !opts.allowUnused) {
      throw new AutogradError(
        "autograd.grad: one of the differentiated tensors appears to not have been used in the graph; pass allowUnused: true if this is intended",
      );
    }
    return g;
  });
}
