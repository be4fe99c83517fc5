// nn.Module: the base class of every layer and model (torch.nn.Module).
//
// PyTorch intercepts attribute assignment (__setattr__) to register
// parameters and submodules. TypeScript class fields cannot be intercepted
// cheaply, so a Module discovers its members by walking its own properties
// in insertion order: a Parameter is a parameter, a Module a submodule.
// Buffers are the one kind that needs a call (registerBuffer), because a
// plain Tensor field is just a tensor, as in PyTorch.
import { noGrad } from "../autograd/grad_mode.js";
import type { DType } from "../dtype.js";
import { isFloating } from "../dtype.js";
import { ArgumentError, fmtShape, NotImplementedError, ShapeError } from "../errors.js";
import { keep, releaseGrad } from "../tensor/memory.js";
import { Tensor } from "../tensor/tensor.js";
import { Parameter } from "./parameter.js";

/** Called before forward with the module and its arguments; may return replacement arguments. */
export type ForwardPreHook<M extends Module = Module> = (module: M, args: unknown[]) => unknown;
/** Called after forward with the module, its arguments and its output; may return a replacement output. */
export type ForwardHook<M extends Module = Module> = (
  module: M,
  args: unknown[],
  output: unknown,
) => unknown;

/** What registerForwardHook and friends return (torch.utils.hooks.RemovableHandle). */
export interface RemovableHandle {
  readonly id: number;
  remove(): void;
}

/** The result of loadStateDict (PyTorch's _IncompatibleKeys). */
export interface IncompatibleKeys {
  missingKeys: string[];
  unexpectedKeys: string[];
}

const DTYPES: readonly string[] = ["float32", "float64", "int32", "bool", "int64", "float16"];
let nextHookId = 0;

/**
 * Base class for all neural network modules. Subclasses assign layers and
 * parameters as fields and define `forward`.
 *
 * @example
 * class Net extends nn.Module {
 *   fc1 = new nn.Linear(4, 8);
 *   act = new nn.ReLU();
 *   fc2 = new nn.Linear(8, 1);
 *   forward(x: fl.Tensor): fl.Tensor {
 *     return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
 *   }
 * }
 * const net = new Net();
 * net.namedParameters().map(([k]) => k); // ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
 */
export class Module {
  /** Whether the module is in training mode (Dropout, BatchNorm…); set by train()/eval(). */
  training = true;

  constructor() {
    // Own, non-enumerable bookkeeping, so the member walk never sees it.
    hidden(this, "_buffers", new Map<string, boolean>());
    hidden(this, "_forwardPreHooks", new Map<number, ForwardPreHook>());
    hidden(this, "_forwardHooks", new Map<number, ForwardHook>());
    // Wrap the subclass's forward (looked up on the prototype chain, which
    // is already in place here) so that model.forward(x) runs the hooks.
    const inner = this.forward;
    hidden(this, "forward", (...args: unknown[]) => this.callForward(inner, args));
  }

  declare private readonly _buffers: Map<string, boolean>;
  declare private readonly _forwardPreHooks: Map<number, ForwardPreHook>;
  declare private readonly _forwardHooks: Map<number, ForwardHook>;

  /** The computation; subclasses override it. Call it directly: `model.forward(x)`. */
  forward(...args: unknown[]): unknown {
    void args;
    throw new NotImplementedError(
      `Module [${this.getName()}] is missing the required "forward" function`,
    );
  }

  /** Same as forward (like calling a PyTorch module: model(x)). */
  call(...args: Parameters<this["forward"]>): ReturnType<this["forward"]> {
    return (this.forward as (...a: unknown[]) => unknown)(...args) as ReturnType<this["forward"]>;
  }

  /**
   * Whether forward runs any hooks: a layer that bypasses a submodule's
   * forward for a fused path must not skip them.
   */
  hasForwardHooks(): boolean {
    return this._forwardPreHooks.size > 0 || this._forwardHooks.size > 0;
  }

  private callForward(inner: (...a: unknown[]) => unknown, args: unknown[]): unknown {
    if (!this.hasForwardHooks()) return inner.apply(this, args);
    let input = args;
    for (const hook of [...this._forwardPreHooks.values()]) {
      const r = hook(this, input);
      if (r !== undefined) input = Array.isArray(r) ? r : [r];
    }
    let output = inner.apply(this, input);
    for (const hook of [...this._forwardHooks.values()]) {
      const r = hook(this, input, output);
      if (r !== undefined) output = r;
    }
    return output;
  }

  /** The class name, as PyTorch's repr prints it. */
  getName(): string {
    return this.constructor.name;
  }

  // ---- registration ---------------------------------------------------------

  /**
   * The members this module declares, in order: its own properties. A
   * container that keeps members elsewhere (ModuleDict) overrides this.
   */
  protected ownMembers(): Iterable<[string, unknown]> {
    return Object.entries(this);
  }

  private member(name: string): unknown {
    return (this as unknown as Record<string, unknown>)[name];
  }

  private setMember(name: string, value: unknown): void {
    (this as unknown as Record<string, unknown>)[name] = value;
  }

  private checkName(kind: string, name: string): void {
    if (typeof name !== "string" || name === "")
      throw new ArgumentError(
        `${kind}: name must be a non-empty string, got ${JSON.stringify(name)}`,
      );
    if (name.includes("."))
      throw new ArgumentError(`${kind}: name can't contain ".", got: ${name}`);
  }

  /**
   * Adds a buffer: a tensor that is part of the module's state but not a
   * parameter (BatchNorm's running_mean). Persistent buffers are saved in
   * stateDict(). The tensor is also set as a property of that name.
   *
   * @example
   * this.registerBuffer("running_mean", fl.zeros([4]));
   */
  registerBuffer(name: string, tensor: Tensor | null, persistent = true): void {
    this.checkName("registerBuffer", name);
    if (tensor !== null && !(tensor instanceof Tensor)) {
      throw new ArgumentError(
        `registerBuffer: cannot assign ${typeof tensor} to buffer '${name}' (Tensor or null required)`,
      );
    }
    const cur = this.member(name);
    if (!this._buffers.has(name) && (cur instanceof Parameter || cur instanceof Module)) {
      throw new ArgumentError(`registerBuffer: attribute '${name}' already exists`);
    }
    this._buffers.set(name, persistent);
    this.setMember(name, tensor);
  }

  /** Adds a parameter (same as assigning a Parameter to the property). */
  registerParameter(name: string, param: Parameter | null): void {
    this.checkName("registerParameter", name);
    if (param !== null && !(param instanceof Parameter)) {
      throw new ArgumentError(
        `registerParameter: cannot assign a plain Tensor to parameter '${name}' (Parameter or null required)`,
      );
    }
    if (this._buffers.has(name))
      throw new ArgumentError(`registerParameter: attribute '${name}' already exists as a buffer`);
    this.setMember(name, param);
  }

  /** Adds a submodule (same as assigning a Module to the property). */
  registerModule(name: string, module: Module | null): void {
    this.checkName("registerModule", name);
    if (module !== null && !(module instanceof Module)) {
      throw new ArgumentError(`registerModule: ${typeof module} is not a Module subclass`);
    }
    if (this._buffers.has(name))
      throw new ArgumentError(`registerModule: attribute '${name}' already exists as a buffer`);
    this.setMember(name, module);
  }

  /** Alias of registerModule (torch's add_module). */
  addModule(name: string, module: Module | null): void {
    this.registerModule(name, module);
  }

  /** This module's own parameters, in registration order. */
  private ownParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [k, v] of this.ownMembers())
      if (v instanceof Parameter && !this._buffers.has(k)) out.push([k, v]);
    return out;
  }

  /** This module's own non-null buffers, with their persistence. */
  private ownBuffers(): [string, Tensor, boolean][] {
    const out: [string, Tensor, boolean][] = [];
    for (const [k, persistent] of this._buffers) {
      const v = this.member(k);
      if (v instanceof Tensor) out.push([k, v, persistent]);
    }
    return out;
  }

  /** This module's direct submodules, possibly repeated. */
  protected ownModules(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of this.ownMembers()) if (v instanceof Module) out.push([k, v]);
    return out;
  }

  // ---- traversal ------------------------------------------------------------

  /** Direct submodules with their names (each module once). */
  namedChildren(): [string, Module][] {
    const seen = new Set<Module>();
    const out: [string, Module][] = [];
    for (const [k, m] of this.ownModules()) {
      if (seen.has(m)) continue;
      seen.add(m);
      out.push([k, m]);
    }
    return out;
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every submodule, pre-order, with dotted names ("" for this one). */
  namedModules(opts: { prefix?: string } = {}): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, prefix: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([prefix, m]);
      for (const [k, c] of m.ownModules()) walk(c, prefix ? `${prefix}.${k}` : k);
    };
    walk(this, opts.prefix ?? "");
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /**
   * Parameters with dotted names ("fc1.weight"), own ones first, then each
   * submodule's, each tensor once (tied weights appear under their first name).
   */
  namedParameters(opts: { prefix?: string; recurse?: boolean } = {}): [string, Parameter][] {
    return this.namedMembers(opts, (m) => m.ownParameters());
  }

  parameters(opts: { recurse?: boolean } = {}): Parameter[] {
    return this.namedParameters(opts).map(([, p]) => p);
  }

  namedBuffers(opts: { prefix?: string; recurse?: boolean } = {}): [string, Tensor][] {
    return this.namedMembers(opts, (m) =>
      m.ownBuffers().map(([k, t]) => [k, t] as [string, Tensor]),
    );
  }

  buffers(opts: { recurse?: boolean } = {}): Tensor[] {
    return this.namedBuffers(opts).map(([, t]) => t);
  }

  private namedMembers<T extends Tensor>(
    opts: { prefix?: string; recurse?: boolean },
    get: (m: Module) => [string, T][],
  ): [string, T][] {
    const mods: [string, Module][] =
      opts.recurse === false ? [[opts.prefix ?? "", this]] : this.namedModules(opts);
    const seen = new Set<Tensor>();
    const out: [string, T][] = [];
    for (const [prefix, m] of mods) {
      for (const [k, t] of get(m)) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([prefix ? `${prefix}.${k}` : k, t]);
      }
    }
    return out;
  }

  /** The number of parameter elements (optionally only those that require grad). */
  numParameters(opts: { onlyTrainable?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!opts.onlyTrainable || p.requiresGrad) n += p.numel();
    return n;
  }

  /** The submodule at a dotted path ("encoder.layers.0"); "" is this module. */
  getSubmodule(target: string): Module {
    if (target === "") return this;
    let m: Module = this;
    for (const part of target.split(".")) {
      const next = m.ownModules().find(([k]) => k === part);
      if (!next)
        throw new ArgumentError(
          `getSubmodule: ${m.getName()} has no submodule \`${part}\` (path "${target}")`,
        );
      m = next[1];
    }
    return m;
  }

  /** The parameter at a dotted path ("fc1.weight"). */
  getParameter(target: string): Parameter {
    const i = target.lastIndexOf(".");
    const mod = this.getSubmodule(i < 0 ? "" : target.slice(0, i));
    const name = target.slice(i + 1);
    const p = mod.ownParameters().find(([k]) => k === name);
    if (!p)
      throw new ArgumentError(
        `getParameter: ${mod.getName()} has no parameter \`${name}\` (path "${target}")`,
      );
    return p[1];
  }

  // ---- modes and gradients ----------------------------------------------------

  /** Sets training mode on this module and every submodule. */
  train(mode = true): this {
    if (typeof mode !== "boolean")
      throw new ArgumentError(`train: training mode is expected to be boolean, got ${typeof mode}`);
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }

  /** Sets requiresGrad on every parameter; requiresGrad_(false) freezes the module. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }

  /** Clears parameter gradients: to null (default), or to zeros with { setToNone: false }. */
  zeroGrad(opts: { setToNone?: boolean } = {}): void {
    const setToNone = opts.setToNone ?? true;
    for (const p of this.parameters()) {
      if (p.grad === null) continue;
      if (setToNone) {
        releaseGrad(p.grad); // frees it now if autograd made it
        p.grad = null;
      } else {
        // A grad built with createGraph belongs to a graph: cut it loose first.
        const g = p.grad.requiresGrad ? p.grad.detach() : p.grad;
        noGrad(() => g.zero_());
        p.grad = g;
      }
    }
  }

  /** Calls fn on every submodule (children first) and then on this module. */
  apply(fn: (module: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  // ---- device and dtype -------------------------------------------------------

  /**
   * Moves parameters and buffers to a device, or casts the floating-point
   * ones to a dtype, in place. Parameters keep their identity (optimizers
   * built before the call still hold them).
   *
   * @example
   * model.to("float64");
   * model.to("cpu");
   */
  to(target: string, dtype?: DType): this {
    const isDtype = DTYPES.includes(target);
    const device = isDtype ? null : target;
    const cast = (isDtype ? target : dtype) as DType | undefined;
    const convert = (t: Tensor): Tensor => {
      let out = t;
      if (device !== null && out.device !== device) out = out.to(device);
      if (cast !== undefined && isFloating(out.dtype) && out.dtype !== cast) out = out.to(cast);
      return out;
    };
    noGrad(() => {
      for (const m of this.modules()) {
        for (const [, p] of m.ownParameters()) {
          const moved = convert(p);
          if (moved !== p) p.set_(keep(moved));
          if (p.grad !== null) p.grad = keep(convert(p.grad));
        }
        for (const [k, b] of m.ownBuffers()) {
          const moved = convert(b);
          if (moved !== b) m.setMember(k, keep(moved));
        }
      }
    });
    return this;
  }

  cpu(): this {
    return this.to("cpu");
  }

  float(): this {
    return this.to("float32");
  }

  double(): this {
    return this.to("float64");
  }

  // ---- state ----------------------------------------------------------------

  /**
   * Parameters and persistent buffers by PyTorch's state_dict keys, in
   * PyTorch's order (each module's parameters, then its buffers, then its
   * children). The tensors share storage with the module's (detached).
   *
   * @example
   * Object.keys(new nn.Linear(2, 3).stateDict()); // ["weight", "bias"]
   */
  stateDict(opts: { prefix?: string; keepVars?: boolean } = {}): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const walk = (m: Module, prefix: string) => {
      for (const [k, p] of m.ownParameters()) out[prefix + k] = opts.keepVars ? p : p.detach();
      for (const [k, b, persistent] of m.ownBuffers())
        if (persistent) out[prefix + k] = opts.keepVars ? b : b.detach();
      for (const [k, c] of m.ownModules()) walk(c, `${prefix}${k}.`);
    };
    walk(this, opts.prefix ?? "");
    return out;
  }

  /**
   * Copies values from a state dict into this module's parameters and
   * buffers (under noGrad). With strict (default), missing or unexpected
   * keys are an error listing them, worded as PyTorch's; a shape mismatch
   * is always an error naming both shapes.
   *
   * @example
   * const copy = new nn.Linear(2, 3);
   * copy.loadStateDict(model.stateDict());
   */
  loadStateDict(
    stateDict: Record<string, Tensor>,
    opts: { strict?: boolean } = {},
  ): IncompatibleKeys {
    const strict = opts.strict ?? true;
    const missingKeys: string[] = [];
    const expected = new Set<string>();
    const sizeErrors: string[] = [];
    const targets: [Tensor, Tensor][] = [];
    const walk = (m: Module, prefix: string) => {
      const own: [string, Tensor][] = [
        ...m.ownParameters(),
        ...m
          .ownBuffers()
          .filter(([, , p]) => p)
          .map(([k, b]) => [k, b] as [string, Tensor]),
      ];
      for (const [k, t] of own) {
        const key = prefix + k;
        expected.add(key);
        if (!Object.hasOwn(stateDict, key)) {
          missingKeys.push(key);
          continue;
        }
        const src = stateDict[key];
        if (!(src instanceof Tensor)) {
          throw new ArgumentError(
            `loadStateDict: value for "${key}" is not a Tensor (got ${typeof src})`,
          );
        }
        if (src.shape.length !== t.shape.length || src.shape.some((d, i) => d !== t.shape[i])) {
          sizeErrors.push(
            `size mismatch for ${key}: copying a param with shape ${fmtShape(src.shape)} from checkpoint, the shape in current model is ${fmtShape(t.shape)}.`,
          );
          continue;
        }
        targets.push([t, src]);
      }
      for (const [k, c] of m.ownModules()) walk(c, `${prefix}${k}.`);
    };
    walk(this, "");
    const unexpectedKeys = Object.keys(stateDict).filter((k) => !expected.has(k));
    const messages: string[] = [];
    if (strict && missingKeys.length > 0) {
      messages.push(
        `Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(", ")}.`,
      );
    }
    if (strict && unexpectedKeys.length > 0) {
      messages.push(
        `Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}.`,
      );
    }
    messages.push(...sizeErrors);
    if (messages.length > 0) {
      const text = `loadStateDict: Error(s) in loading state_dict for ${this.getName()}:\n\t${messages.join("\n\t")}`;
      throw sizeErrors.length > 0 ? new ShapeError(text) : new ArgumentError(text);
    }
    noGrad(() => {
      for (const [t, src] of targets) t.copy_(src.device === t.device ? src : src.to(t.device));
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- hooks ----------------------------------------------------------------

  /**
   * Registers hook(module, args) to run before forward; a returned value
   * replaces the arguments (an array, or one value).
   */
  registerForwardPreHook(hook: ForwardPreHook<this>): RemovableHandle {
    return addHook(this._forwardPreHooks, hook as ForwardPreHook);
  }

  /** Registers hook(module, args, output) to run after forward; a returned value replaces the output. */
  registerForwardHook(hook: ForwardHook<this>): RemovableHandle {
    return addHook(this._forwardHooks, hook as ForwardHook);
  }

  // ---- printing ---------------------------------------------------------------

  /** The text inside the parentheses of this module's repr ("in_features=4, …"). */
  extraRepr(): string {
    return "";
  }

  /** PyTorch's module repr: `Net(\n  (fc1): Linear(in_features=4, out_features=8, bias=True)\n)`. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split("\n") : [];
    const childLines = this.ownModules().map(([k, m]) => `(${k}): ${indent(m.toString(), 2)}`);
    const lines = [...extraLines, ...childLines];
    let body = "";
    if (lines.length > 0) {
      body =
        extraLines.length === 1 && childLines.length === 0
          ? extraLines[0]!
          : `\n  ${lines.join("\n  ")}\n`;
    }
    return `${this.getName()}(${body})`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

function hidden(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, configurable: true, enumerable: false });
}

function addHook<H>(hooks: Map<number, H>, hook: H): RemovableHandle {
  const id = nextHookId++;
  hooks.set(id, hook);
  return { id, remove: () => void hooks.delete(id) };
}

/** Indents every line but the first (PyTorch's _addindent). */
function indent(s: string, n: number): string {
  const pad = " ".repeat(n);
  return s
    .split("\n")
    .map((line, i) => (i === 0 ? line : pad + line))
    .join("\n");
}

/** Formats a number as Python prints a float (1 → "1.0"), for extraRepr. */
export function pyFloat(x: number): string {
  if (Number.isInteger(x)) return x.toFixed(1);
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const s = String(x);
  // JS writes 1e-7 as "1e-7"; Python writes "1e-07".
  return s.replace(/e([+-])(\d)$/, "e$10$2");
}

/** Python's repr of a bool. */
export function pyBool(b: boolean): string {
  return b ? "True" : "False";
}
