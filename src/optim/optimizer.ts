import { enableGrad, noGrad } from "../autograd/grad_mode.js";
import { ArgumentError } from "../errors.js";
import { keep, releaseGrad } from "../tensor/memory.js";
import { Tensor } from "../tensor/tensor.js";

/** Options every optimizer has; each optimizer adds its own. */
export interface OptimizerOptions {
  lr: number;
}

/**
 * A parameter group: its parameters plus its own copy of every option. The
 * learning-rate schedulers add fields of their own (initialLr, maxLr…), as
 * PyTorch's do.
 */
export type ParamGroup<O extends OptimizerOptions = OptimizerOptions> = O & {
  params: Tensor[];
  initialLr?: number;
  [option: string]: unknown;
};

/** What a constructor accepts for one group: its parameters and any options to override. */
export type ParamGroupInput<O extends OptimizerOptions = OptimizerOptions> = Partial<O> & {
  params: Iterable<Tensor>;
  [option: string]: unknown;
};

/** The optimizer's parameters: plain tensors (one group) or a list of groups. */
export type Params<O extends OptimizerOptions = OptimizerOptions> =
  | Iterable<Tensor>
  | Iterable<ParamGroupInput<O>>;

/** Per-parameter state under PyTorch's key names (step, exp_avg, momentum_buffer…). */
export type ParamState = Record<string, Tensor | number>;

/** optimizer.stateDict(): parameters are named by their index across all groups, in order. */
export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  paramGroups: (Record<string, unknown> & { params: number[] })[];
}

/**
 * The base of every optimizer (torch.optim.Optimizer). A subclass gives its
 * name, checks its options and updates one parameter from its gradient; the
 * base handles groups, zeroGrad, closures and the state dict.
 *
 * @example
 * const opt = new fl.optim.SGD(model.parameters(), { lr: 0.1 });
 * opt.zeroGrad();
 * lossFn(model.forward(x), y).backward();
 * opt.step();
 */
export abstract class Optimizer<O extends OptimizerOptions = OptimizerOptions> {
  /** The options each group starts from. */
  readonly defaults: O;
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created on a parameter's first step. */
  state = new Map<Tensor, ParamState>();

  constructor(
    /** Used in error messages ("SGD: invalid learning rate -1"). */
    readonly name: string,
    params: Params<O>,
    defaults: O,
  ) {
    this.checkOptions(defaults);
    this.defaults = defaults;
    if (params instanceof Tensor) {
      throw new ArgumentError(
        `${name}: params should be an iterable of Tensors or of parameter groups, got a single Tensor; wrap it in [ ]`,
      );
    }
    const list = [...params];
    if (list.length === 0) throw new ArgumentError(`${name}: got an empty parameter list`);
    const groups = (list[0] instanceof Tensor ? [{ params: list }] : list) as ParamGroupInput<O>[];
    for (const g of groups) this.addParamGroup(g);
  }

  /**
   * Checks one set of options; throws an ArgumentError naming this
   * optimizer. The base constructor calls it, before a subclass's own
   * fields exist, so it may only read its argument.
   */
  protected abstract checkOptions(options: O): void;

  /** Updates p from its gradient, in place; runs under noGrad. */
  protected abstract update(p: Tensor, grad: Tensor, group: ParamGroup<O>, state: ParamState): void;

  /** Adds a group; options it does not give come from the defaults. */
  addParamGroup(group: ParamGroupInput<O>): void {
    if (group.params instanceof Tensor) {
      throw new ArgumentError(
        `${this.name}: a parameter group's params should be an array of Tensors, got a single Tensor`,
      );
    }
    const params = [...group.params];
    const gi = this.paramGroups.length;
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    params.forEach((p, i) => {
      const where = `parameter ${i} of group ${gi}`;
      if (!(p instanceof Tensor)) throw new ArgumentError(`${this.name}: ${where} is not a Tensor`);
      if (!p.isLeaf) {
        throw new ArgumentError(
          `${this.name}: can't optimize a non-leaf Tensor (${where} has gradFn ${p.gradFn?.name})`,
        );
      }
      // Frozen parameters (requiresGrad false) are accepted, as in PyTorch:
      // they never get a gradient, so step() leaves them alone.
      if (seen.has(p))
        throw new ArgumentError(`${this.name}: ${where} appears in more than one parameter group`);
      seen.add(p);
    });
    const full = { ...copyOptions(this.defaults), ...copyOptions(group), params } as ParamGroup<O>;
    this.checkOptions(full);
    this.paramGroups.push(full);
  }

  /**
   * Clears every parameter's gradient: to null (the default, as in PyTorch
   * 2), or to zeros with setToNone false.
   */
  zeroGrad(opts: { setToNone?: boolean } = {}): void {
    const setToNone = opts.setToNone ?? true;
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (p.grad === null) continue;
        if (setToNone) {
          releaseGrad(p.grad); // frees it now if autograd made it
          p.grad = null;
          continue;
        }
        const g = p.grad.gradFn ? p.grad.detach() : p.grad;
        g.requiresGrad = false;
        noGrad(() => g.zero_());
        p.grad = g;
      }
    }
  }

  /**
   * One update of every parameter that has a gradient. A closure, if given,
   * re-evaluates the model and returns the loss (some optimizers call it
   * several times); step returns what it returned.
   */
  step<L>(closure?: () => L): L | undefined {
    const loss = closure ? enableGrad(closure) : undefined;
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          if (p.grad === null) continue;
          let state = this.state.get(p);
          if (!state) {
            state = {};
            this.state.set(p, state);
          }
          this.update(p, p.grad, group, state);
          // State lives as long as the optimizer, not the tidy() scope of a step.
          for (const v of Object.values(state)) if (typeof v !== "number") keep(v);
        }
      }
    });
    return loss;
  }

  /**
   * The state and the groups' options, parameters named by index, as
   * PyTorch's optimizer.state_dict(); a snapshot (copies), so training on
   * does not change it.
   */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const ids = g.params.map((p) => {
        index.set(p, index.size);
        return index.size - 1;
      });
      return { ...copyOptions(g), params: ids };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i === undefined) continue;
      // A snapshot: the step counts are plain numbers, so the tensors are copied too, to match them.
      state[i] = Object.fromEntries(
        Object.entries(s).map(([k, v]) => [k, typeof v === "number" ? v : v.detach().clone()]),
      );
    }
    return { state, paramGroups };
  }

  /** Restores stateDict()'s output into an optimizer over the same parameters. */
  loadStateDict(sd: OptimizerStateDict): void {
    const saved = sd.paramGroups;
    if (saved.length !== this.paramGroups.length) {
      throw new ArgumentError(
        `${this.name}.loadStateDict: the state dict has ${saved.length} parameter groups, the optimizer ${this.paramGroups.length}`,
      );
    }
    saved.forEach((g, i) => {
      const n = this.paramGroups[i]!.params.length;
      if (g.params.length !== n) {
        throw new ArgumentError(
          `${this.name}.loadStateDict: parameter group ${i} has ${g.params.length} parameters in the state dict, ${n} in the optimizer`,
        );
      }
    });
    const byIndex = new Map<number, Tensor>();
    saved.forEach((g, i) => {
      g.params.forEach((id, j) => {
        byIndex.set(id, this.paramGroups[i]!.params[j]!);
      });
    });
    const state = new Map<Tensor, ParamState>();
    for (const [key, s] of Object.entries(sd.state)) {
      const p = byIndex.get(Number(key));
      if (!p) continue;
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(s)) {
        // Floating state follows its parameter's dtype and device, as PyTorch casts it.
        copy[k] =
          typeof v === "number"
            ? v
            : (v.isFloatingPoint() ? v.to(p.device, p.dtype) : v.to(p.device)).detach().clone();
      }
      state.set(p, copy);
    }
    this.state = state;
    saved.forEach((g, i) => {
      const params = this.paramGroups[i]!.params;
      this.paramGroups[i] = { ...copyOptions(g), params } as ParamGroup<O>;
    });
  }
}

/** A group's options without its params; arrays (betas) copied so groups never share them. */
function copyOptions(g: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(g)) {
    if (k === "params") continue;
    out[k] = Array.isArray(v) ? [...v] : v;
  }
  return out;
}

/** Throws `${name}: invalid ${what} ${value}` unless ok. */
export function check(name: string, ok: boolean, what: string, value: unknown): void {
  if (!ok)
    throw new ArgumentError(
      `${name}: invalid ${what} ${Array.isArray(value) ? `[${value.join(", ")}]` : String(value)}`,
    );
}
