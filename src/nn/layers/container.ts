// Containers: Sequential, ModuleList, ModuleDict (torch.nn.modules.container).
// Sequential and ModuleList keep their modules as own properties "0", "1", …
// so the Module walk finds them (and state_dict keys are "0.weight"); JS
// orders integer keys ascending, which is their order. ModuleDict keeps a Map,
// because arbitrary keys ("1", "b", "a") must keep insertion order.
import { ArgumentError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { Module } from "../module.js";

function checkModule(op: string, m: unknown): Module {
  if (!(m instanceof Module))
    throw new ArgumentError(`${op}: expected a Module, got ${m === null ? "null" : typeof m}`);
  return m;
}

/** Turns a Python-style index (negative counts from the end) into a position, or throws. */
function position(op: string, i: number, length: number): number {
  if (!Number.isInteger(i) || i < -length || i >= length) {
    throw new ArgumentError(
      `${op}: index ${i} is out of range for a container of length ${length}`,
    );
  }
  return i < 0 ? i + length : i;
}

/** Base of the integer-keyed containers: members live at properties "0", "1", … */
abstract class IndexedContainer extends Module {
  get length(): number {
    return this.ownModules().length;
  }

  /** The module at index i (negative counts from the end). */
  at(i: number): Module {
    const mods = this.ownModules();
    return mods[position(`${this.getName()}.at`, i, mods.length)]![1];
  }

  append(module: Module): this {
    this.registerModule(String(this.length), checkModule(`${this.getName()}.append`, module));
    return this;
  }

  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** Inserts before index (as Python's list.insert, so index may equal the length). */
  insert(index: number, module: Module): this {
    checkModule(`${this.getName()}.insert`, module);
    const mods = this.ownModules().map(([, m]) => m);
    let i = index < 0 ? index + mods.length : index;
    i = Math.min(Math.max(i, 0), mods.length);
    mods.splice(i, 0, module);
    this.reset(mods);
    return this;
  }

  /** Removes and returns the module at index (default the last). */
  pop(index = -1): Module {
    const mods = this.ownModules().map(([, m]) => m);
    const [m] = mods.splice(position(`${this.getName()}.pop`, index, mods.length), 1);
    this.reset(mods);
    return m!;
  }

  /** Replaces the module at index. */
  set(index: number, module: Module): this {
    const i = position(`${this.getName()}.set`, index, this.length);
    const key = this.ownModules()[i]![0];
    this.registerModule(key, checkModule(`${this.getName()}.set`, module));
    return this;
  }

  /** Renumbers: the members become "0".."n-1" in the given order. */
  private reset(mods: Module[]): void {
    const self = this as unknown as Record<string, unknown>;
    for (const [k] of this.ownModules()) delete self[k];
    for (const [i, m] of mods.entries()) this.registerModule(String(i), m);
  }

  *[Symbol.iterator](): Iterator<Module> {
    for (const [, m] of this.ownModules()) yield m;
  }
}

/**
 * Modules run one after another; forward passes each output to the next.
 * Built from modules (keys "0", "1", …) or from an object of named modules.
 *
 * @example
 * const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 1));
 * Object.keys(model.stateDict()); // ["0.weight", "0.bias", "2.weight", "2.bias"]
 * model.at(0); // Linear(in_features=4, out_features=8, bias=True)
 */
export class Sequential extends IndexedContainer {
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    const first = modules[0];
    if (
      modules.length === 1 &&
      first !== undefined &&
      !(first instanceof Module) &&
      typeof first === "object"
    ) {
      for (const [k, m] of Object.entries(first))
        this.registerModule(k, checkModule("Sequential", m));
    } else {
      for (const [i, m] of modules.entries())
        this.registerModule(String(i), checkModule("Sequential", m));
    }
  }

  /** A new Sequential of the modules in [start, end) (Python's seq[start:end]). */
  slice(start = 0, end = this.length): Sequential {
    const picked: Record<string, Module> = {};
    const mods = this.ownModules();
    const norm = (i: number) => Math.min(Math.max(i < 0 ? i + mods.length : i, 0), mods.length);
    for (const [k, m] of mods.slice(norm(start), norm(end))) picked[k] = m;
    return new Sequential(picked);
  }

  override forward(input: Tensor): Tensor {
    let x: unknown = input;
    for (const [, m] of this.ownModules()) x = m.forward(x);
    return x as Tensor;
  }
}

/**
 * A list of modules, registered so their parameters are found; it has no
 * forward of its own.
 *
 * @example
 * const layers = new nn.ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 4)]);
 * layers.append(new nn.Linear(4, 2));
 * for (const layer of layers) x = layer.forward(x) as fl.Tensor;
 */
export class ModuleList extends IndexedContainer {
  constructor(modules: Iterable<Module> = []) {
    super();
    this.extend(modules);
  }
}

/**
 * An ordered map of named modules, registered so their parameters are
 * found (keys keep insertion order, as a Python dict).
 *
 * @example
 * const heads = new nn.ModuleDict({ cls: new nn.Linear(8, 3), reg: new nn.Linear(8, 1) });
 * heads.get("cls");
 * Object.keys(heads.stateDict()); // ["cls.weight", "cls.bias", "reg.weight", "reg.bias"]
 */
export class ModuleDict extends Module {
  private readonly entriesMap = new Map<string, Module>();

  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    this.update(modules);
  }

  protected override ownMembers(): Iterable<[string, unknown]> {
    return [...Object.entries(this), ...this.entriesMap];
  }

  get length(): number {
    return this.entriesMap.size;
  }

  get(key: string): Module | undefined {
    return this.entriesMap.get(key);
  }

  set(key: string, module: Module): this {
    if (typeof key !== "string" || key === "" || key.includes(".")) {
      throw new ArgumentError(
        `ModuleDict.set: key must be a non-empty string without ".", got ${JSON.stringify(key)}`,
      );
    }
    this.entriesMap.set(key, checkModule("ModuleDict.set", module));
    return this;
  }

  has(key: string): boolean {
    return this.entriesMap.has(key);
  }

  /** Removes the key and returns its module (torch's pop). */
  pop(key: string): Module {
    const m = this.entriesMap.get(key);
    if (m === undefined)
      throw new ArgumentError(`ModuleDict.pop: no module named ${JSON.stringify(key)}`);
    this.entriesMap.delete(key);
    return m;
  }

  delete(key: string): boolean {
    return this.entriesMap.delete(key);
  }

  clear(): void {
    this.entriesMap.clear();
  }

  keys(): string[] {
    return [...this.entriesMap.keys()];
  }

  values(): Module[] {
    return [...this.entriesMap.values()];
  }

  items(): [string, Module][] {
    return [...this.entriesMap.entries()];
  }

  update(modules: Record<string, Module> | Iterable<[string, Module]>): this {
    const pairs =
      Symbol.iterator in Object(modules)
        ? (modules as Iterable<[string, Module]>)
        : Object.entries(modules);
    for (const [k, m] of pairs) this.set(k, m);
    return this;
  }

  /** Iterates the keys, as iterating a Python dict does. */
  [Symbol.iterator](): Iterator<string> {
    return this.entriesMap.keys();
  }
}
