import { AutogradError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { isAnomalyEnabled, isGradEnabled } from "./grad_mode.js";
import type { WindowGrad } from "./window_grad.js";

export type BackwardFn = (
  grad: Tensor,
  saved: readonly Tensor[],
) => (Tensor | WindowGrad | null | undefined)[];
// A hook may return nothing (a plain `(g) => { … }` callback) or a replacement gradient.
// biome-ignore lint/suspicious/noConfusingVoidType: void lets callbacks without a return type be hooks
export type GradHook = (grad: Tensor) => Tensor | undefined | void;

const FREED_MESSAGE =
  "Trying to backward through the graph a second time (or directly access saved tensors after " +
  "they have already been freed). Saved intermediate values of the graph are freed when you call " +
  ".backward() or autograd.grad(). Specify retainGraph: true if you need to backward through the " +
  "graph a second time or if you need to access saved tensors after calling backward.";

/**
 * One recorded op (PyTorch's grad_fn). It holds the inputs it
 * differentiates with respect to, the tensors its backward needs (freed
 * after a backward unless retainGraph), and the rule itself.
 */
export class Node {
  /** Hooks registered on the non-leaf tensor this node produced. */
  hooks: GradHook[] = [];
  /** The tensor that asked for retainGrad(), if any. */
  retainedBy: Tensor | null = null;
  /**
   * The rule is one of flint's own ops' (recorded by record()): it keeps no
   * reference to the gradient it is given beyond its return value, so the
   * engine may recycle that gradient's array afterwards (array_pool.ts).
   */
  ownRule = false;
  /** Where the forward op was called, under detectAnomaly. */
  readonly trace: string | undefined;
  private saved: readonly Tensor[] | null;
  private readonly hadSaved: boolean;

  constructor(
    readonly name: string,
    readonly inputs: readonly (Tensor | null)[],
    private readonly rule: BackwardFn,
    saved: readonly Tensor[] = [],
    readonly outputShape: readonly number[] = [],
  ) {
    this.saved = saved;
    this.hadSaved = saved.length > 0;
    this.trace = isAnomalyEnabled() ? new Error().stack : undefined;
  }

  /** The nodes (or leaf tensors) this one passes gradients to, like grad_fn.next_functions. */
  get nextFunctions(): (Node | Tensor | null)[] {
    return this.inputs.map((t) => (t === null ? null : (t.gradFn ?? (t.requiresGrad ? t : null))));
  }

  apply(grad: Tensor): (Tensor | WindowGrad | null | undefined)[] {
    if (this.saved === null) throw new AutogradError(`${this.name}: ${FREED_MESSAGE}`);
    return this.rule(grad, this.saved);
  }

  /** Drops saved tensors; a later backward through a node that had some fails. */
  release(): void {
    if (this.hadSaved) this.saved = null;
  }

  toString(): string {
    return `<${this.name}>`;
  }
}

/** Whether an op with these inputs should record a node. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!isGradEnabled()) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

/**
 * Attaches a node to `output` when any input requires grad. Inputs that do
 * not require grad are kept as null so the engine skips them.
 */
export function record(
  name: string,
  output: Tensor,
  inputs: readonly (Tensor | null | undefined)[],
  rule: BackwardFn,
  saved: readonly Tensor[] = [],
): Tensor {
  if (!needsGrad(...inputs)) return output;
  const edges = inputs.map((t) => (t?.requiresGrad ? t : null));
  output.gradFn = new Node(name, edges, rule, saved, output.shape);
  output.gradFn.ownRule = true;
  output.requiresGrad = true;
  return output;
}
