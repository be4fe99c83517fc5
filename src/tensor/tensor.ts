import { type BackwardOptions, backward as runBackward } from "../autograd/engine.js";
import { isGradEnabled, noGrad } from "../autograd/grad_mode.js";
import { type GradHook, type Node, record } from "../autograd/node.js";
import { type Backend, getBackend, type Storage } from "../backend/backend.js";
import { isReleasable } from "../backend/memory.js";
import "../backend/cpu/index.js";
import { CpuStorage } from "../backend/cpu/storage.js";
import { allocArray, checkDType, type DType, isFloating, type TypedArray } from "../dtype.js";
import { AutogradError, DeviceError, DTypeError, fmtShape, ShapeError } from "../errors.js";
import * as ew from "../ops/elementwise.js";
import * as idx from "../ops/indexing.js";
import * as join from "../ops/join.js";
import { defaultGenerator, fillNormal, fillUniform, type Generator } from "../random.js";
import { contiguousStrides, normDim, numel } from "../shape.js";
import { installTensorMethods } from "./methods.js";
import { formatTensor } from "./print.js";
import { type IndexSpec, indexPut } from "./slicing.js";

export type TensorLike = Tensor | number | boolean;
export type NestedArray = number | boolean | NestedArray[];

/**
 * A tensor: a storage plus a layout (shape, strides in elements, offset),
 * a dtype, and the autograd state (requiresGrad, grad, gradFn). Views share
 * storage; ops return new tensors. Method names are PyTorch's in camelCase.
 */
export class Tensor {
  /** Whether autograd tracks ops on this tensor. */
  requiresGrad = false;
  /** The accumulated gradient (leaves, and non-leaves after retainGrad()). */
  grad: Tensor | null = null;
  /** The node that produced this tensor; null for leaves. */
  gradFn: Node | null = null;
  /** Hooks run on this leaf's gradient before it is accumulated. */
  leafHooks: GradHook[] = [];

  constructor(
    readonly storage: Storage,
    readonly shape: number[],
    readonly strides: number[],
    readonly offset: number,
    readonly dtype: DType,
  ) {
    if (storage instanceof CpuStorage) storage.tensors++;
  }

  // ---- construction helpers used by ops -----------------------------------

  /** A contiguous tensor over a fresh storage. */
  static fromStorage(storage: Storage, shape: readonly number[], dtype: DType): Tensor {
    return new Tensor(storage, [...shape], contiguousStrides(shape), 0, dtype);
  }

  /** A tensor over a typed array (taken, not copied) on the given device. */
  static fromArray(
    data: TypedArray,
    shape: readonly number[],
    device = "cpu",
    dtype?: DType,
  ): Tensor {
    const dt = dtype ?? dtypeOfArray(data);
    if (numel(shape) !== data.length) {
      throw new ShapeError(`tensor: ${data.length} values do not fill shape ${fmtShape(shape)}`);
    }
    return Tensor.fromStorage(getBackend(device).fromArray(data, dt), shape, dt);
  }

  static scalar(v: number | boolean, dtype: DType, device = "cpu"): Tensor {
    const a = allocArray(dtype, 1);
    a[0] = typeof v === "boolean" ? (v ? 1 : 0) : v;
    return Tensor.fromArray(a, [], device, dtype);
  }

  static zeros(shape: readonly number[], dtype: DType = "float32", device = "cpu"): Tensor {
    return Tensor.fromStorage(getBackend(device).zeros(dtype, numel(shape)), shape, dtype);
  }

  static ones(shape: readonly number[], dtype: DType = "float32", device = "cpu"): Tensor {
    return Tensor.scalar(1, dtype, device)
      .expand([...shape])
      .contiguous();
  }

  static arangeInt(n: number, device = "cpu"): Tensor {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    return Tensor.fromArray(a, [n], device);
  }

  static cat(tensors: readonly Tensor[], dim = 0): Tensor {
    return join.cat(tensors, dim);
  }

  // ---- metadata -----------------------------------------------------------

  get device(): string {
    return this.storage.device;
  }

  get backend(): Backend {
    return getBackend(this.storage.device);
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** A leaf is a tensor not produced by a recorded op (gradFn is null). */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  numel(): number {
    return numel(this.shape);
  }

  dim(): number {
    return this.shape.length;
  }

  size(): number[];
  size(dim: number): number;
  size(dim?: number): number[] | number {
    if (dim === undefined) return [...this.shape];
    return this.shape[normDim("size", dim, this.ndim)]!;
  }

  stride(): number[];
  stride(dim: number): number;
  stride(dim?: number): number[] | number {
    if (dim === undefined) return [...this.strides];
    return this.strides[normDim("stride", dim, this.ndim)]!;
  }

  storageOffset(): number {
    return this.offset;
  }

  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.ndim - 1; i >= 0; i--) {
      const d = this.shape[i]!;
      if (d !== 1 && this.strides[i] !== expected) return false;
      expected *= d;
    }
    return true;
  }

  isFloatingPoint(): boolean {
    return isFloating(this.dtype);
  }

  elementSize(): number {
    return this.dtype === "float64" ? 8 : this.dtype === "bool" ? 1 : 4;
  }

  // ---- memory -------------------------------------------------------------

  /**
   * Frees this tensor's device memory now instead of when it is collected;
   * views of it share that memory and become unusable too. Does nothing on
   * the CPU, whose arrays the garbage collector frees. `using` calls it.
   *
   * @example
   * const y = x.to("webgpu").exp();
   * console.log(await y.data());
   * y.dispose();
   */
  dispose(): void {
    if (isReleasable(this.storage)) this.storage.release();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Whether dispose() (or a tidy scope) has freed this tensor's memory. */
  get isDisposed(): boolean {
    return isReleasable(this.storage) && this.storage.isReleased;
  }

  // ---- reading values -----------------------------------------------------

  /** The elements in row-major order as a new typed array (every device). */
  data(): Promise<TypedArray> {
    return this.backend.read(this);
  }

  /** Synchronous data(); CPU only. */
  dataSync(): TypedArray {
    return this.backend.readSync(this);
  }

  async item(): Promise<number | boolean> {
    this.checkItem();
    return this.scalarValue((await this.data())[0]!);
  }

  itemSync(): number | boolean {
    this.checkItem();
    return this.scalarValue(this.dataSync()[0]!);
  }

  private checkItem(): void {
    if (this.numel() !== 1) {
      throw new ShapeError(
        `item: a tensor with ${this.numel()} elements cannot be converted to a scalar (shape ${fmtShape(this.shape)})`,
      );
    }
  }

  private scalarValue(v: number): number | boolean {
    return this.dtype === "bool" ? v !== 0 : v;
  }

  async tolist(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.dtype === "bool");
  }

  tolistSync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.dtype === "bool");
  }

  toString(): string {
    return formatTensor(this);
  }

  /** Node prints tensors the way PyTorch does (util.inspect, console.log). */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  // ---- autograd -----------------------------------------------------------

  backward(gradient?: Tensor | null, opts: BackwardOptions = {}): void {
    runBackward(this, gradient, opts);
  }

  /** A tensor sharing storage, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.strides, this.offset, this.dtype);
  }

  /** Sets requiresGrad in place (leaves only, floating point only). */
  requiresGrad_(requiresGrad = true): this {
    if (!this.isLeaf && !requiresGrad) {
      throw new AutogradError(
        "requiresGrad_: you can only change requiresGrad flags of leaf variables; use detach() to get a tensor that does not require grad",
      );
    }
    if (requiresGrad && !isFloating(this.dtype)) {
      throw new DTypeError(
        `requiresGrad_: only floating point tensors can require gradients, got ${this.dtype}`,
      );
    }
    this.requiresGrad = requiresGrad;
    return this;
  }

  /** Keeps .grad on this non-leaf tensor after backward. */
  retainGrad(): void {
    if (!this.requiresGrad)
      throw new AutogradError(
        "retainGrad: can't retain grad on a tensor that does not require grad",
      );
    if (this.gradFn) this.gradFn.retainedBy = this;
  }

  get retainsGrad(): boolean {
    return this.gradFn !== null && this.gradFn.retainedBy === this;
  }

  /**
   * Registers a hook called with this tensor's gradient during backward;
   * a returned tensor replaces the gradient. Returns a handle whose
   * remove() unregisters it.
   */
  registerHook(hook: GradHook): { remove(): void } {
    if (!this.requiresGrad)
      throw new AutogradError(
        "registerHook: cannot register a hook on a tensor that does not require gradient",
      );
    const list = this.gradFn ? this.gradFn.hooks : this.leafHooks;
    list.push(hook);
    return {
      remove: () => {
        const i = list.indexOf(hook);
        if (i >= 0) list.splice(i, 1);
      },
    };
  }

  // ---- conversion ---------------------------------------------------------

  /** to(dtype), to(device) or to(device, dtype); returns this when nothing changes. */
  to(target: DType | string, dtype?: DType): Tensor {
    let out: Tensor = this;
    const isDtype = ["float32", "float64", "int32", "bool", "int64", "float16"].includes(target);
    if (isDtype) return ew.cast(this, checkDType("to", target));
    if (target !== this.device) out = moveTo(this, target);
    if (dtype) out = ew.cast(out, checkDType("to", dtype));
    return out;
  }

  cpu(): Tensor {
    return this.to("cpu");
  }

  /**
   * to() that also reads device tensors back: a GPU result reaches the CPU
   * only asynchronously, so this is the form that works on every device.
   *
   * @example
   * const y = await x.to("webgpu").exp().toAsync("cpu");
   */
  async toAsync(target: DType | string, dtype?: DType): Promise<Tensor> {
    const isDtype = ["float32", "float64", "int32", "bool", "int64", "float16"].includes(target);
    if (this.device === "cpu" || isDtype || target === this.device) return this.to(target, dtype);
    const data = await this.data();
    const y = Tensor.fromStorage(
      getBackend(target, "to").fromArray(data, this.dtype),
      this.shape,
      this.dtype,
    );
    const from = this.device;
    const out = record("ToCopyBackward0", y, [this], (g) => [g.to(from)]);
    return dtype ? ew.cast(out, checkDType("to", dtype)) : out;
  }

  float(): Tensor {
    return ew.cast(this, "float32");
  }

  double(): Tensor {
    return ew.cast(this, "float64");
  }

  int(): Tensor {
    return ew.cast(this, "int32");
  }

  long(): Tensor {
    return ew.cast(this, "int32");
  }

  bool(): Tensor {
    return ew.cast(this, "bool");
  }

  type(dtype: DType): Tensor {
    return ew.cast(this, checkDType("type", dtype));
  }

  // ---- in place (no autograd through them, as for parameters under noGrad) ---

  private checkInPlace(op: string): void {
    if (isGradEnabled() && this.requiresGrad) {
      throw new AutogradError(
        this.isLeaf
          ? `${op}: a leaf tensor that requires grad is being used in an in-place operation; wrap it in fl.noGrad(() => …)`
          : `${op}: in-place operations on tensors that are part of a graph are not supported; use the out-of-place ${op.replace(/_$/, "")}()`,
      );
    }
  }

  /** Copies src (broadcast to this shape, cast to this dtype) into this tensor. */
  copy_(src: TensorLike): this {
    this.checkInPlace("copy_");
    const s = src instanceof Tensor ? src : Tensor.scalar(src, this.dtype, this.device);
    if (s.device !== this.device)
      throw new DeviceError(`copy_: source is on ${s.device}, this tensor on ${this.device}`);
    const b = s.expand([...this.shape]);
    this.backend.assign(this, b);
    return this;
  }

  fill_(value: number | boolean): this {
    return this.copy_(value);
  }

  zero_(): this {
    return this.copy_(0);
  }

  private inPlace(op: string, fn: () => Tensor): this {
    this.checkInPlace(op);
    return this.copy_(noGrad(fn));
  }

  add_(other: TensorLike, opts: { alpha?: number } = {}): this {
    return this.inPlace("add_", () => ew.add(this, other, opts.alpha ?? 1));
  }

  sub_(other: TensorLike, opts: { alpha?: number } = {}): this {
    return this.inPlace("sub_", () => ew.sub(this, other, opts.alpha ?? 1));
  }

  mul_(other: TensorLike): this {
    return this.inPlace("mul_", () => ew.binary("mul", this, other));
  }

  div_(other: TensorLike): this {
    return this.inPlace("div_", () => ew.binary("div", this, other));
  }

  clamp_(min?: TensorLike | null, max?: TensorLike | null): this {
    return this.inPlace("clamp_", () => ew.clamp(this, min, max));
  }

  maskedFill_(mask: Tensor, value: TensorLike): this {
    return this.inPlace("maskedFill_", () => idx.maskedFill(this, mask, value));
  }

  /**
   * x[spec] = value in place (PyTorch's index_put_); accumulate adds instead,
   * summing repeated indices. x.indexPut_("0, 1:", 5), x.indexPut_(mask, 0).
   */
  indexPut_(spec: IndexSpec, value: TensorLike, opts: { accumulate?: boolean } = {}): this {
    this.checkInPlace("indexPut_");
    noGrad(() => indexPut(this, spec, value, opts.accumulate ?? false));
    return this;
  }

  uniform_(low = 0, high = 1, opts: { generator?: Generator } = {}): this {
    const a = allocArray(
      this.dtype === "float64" ? "float64" : "float32",
      this.numel(),
    ) as Float32Array;
    fillUniform(a, low, high, opts.generator ?? defaultGenerator);
    return this.copy_(Tensor.fromArray(a, this.shape, this.device));
  }

  normal_(mean = 0, std = 1, opts: { generator?: Generator } = {}): this {
    const a = allocArray(
      this.dtype === "float64" ? "float64" : "float32",
      this.numel(),
    ) as Float32Array;
    fillNormal(a, mean, std, opts.generator ?? defaultGenerator);
    return this.copy_(Tensor.fromArray(a, this.shape, this.device));
  }
}

function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  return "bool";
}

function nest(data: TypedArray, shape: readonly number[], asBool: boolean): NestedArray {
  const conv = (v: number): number | boolean => (asBool ? v !== 0 : v);
  if (shape.length === 0) return conv(data[0]!);
  const build = (dim: number, start: number): NestedArray[] => {
    const n = shape[dim]!;
    const stride = numel(shape.slice(dim + 1));
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        dim === shape.length - 1 ? conv(data[start + i]!) : build(dim + 1, start + i * stride),
      );
    }
    return out;
  };
  return build(0, 0);
}

/** Copies a tensor to another device; differentiable (ToCopyBackward0). */
function moveTo(x: Tensor, device: string): Tensor {
  const target = getBackend(device, "to");
  if (x.device !== "cpu") {
    // Device memory is read back asynchronously only.
    throw new DeviceError(
      `to: a ${x.device} tensor cannot move to ${device} synchronously; use await x.toAsync("${device}")`,
    );
  }
  const y = Tensor.fromStorage(target.fromArray(x.dataSync(), x.dtype), x.shape, x.dtype);
  const from = x.device;
  return record("ToCopyBackward0", y, [x], (g) => {
    if (g.device !== "cpu") {
      throw new AutogradError(
        `backward: the gradient of a cpu tensor that was moved to ${g.device} would need a synchronous read from ${g.device}; make the leaf on ${g.device} instead (x.to("${g.device}").detach().requiresGrad_(), or model.to("${g.device}"))`,
      );
    }
    return [g.to(from)];
  });
}

installTensorMethods(Tensor);
