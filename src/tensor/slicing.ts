import { noGrad } from "../autograd/grad_mode.js";
import { record } from "../autograd/node.js";
import { ArgumentError, DTypeError, fmtShape, ShapeError } from "../errors.js";
import { where } from "../ops/elementwise.js";
import * as vw from "../ops/view.js";
import { broadcastShapes, numel } from "../shape.js";
import { Tensor, type TensorLike } from "./tensor.js";

// Python/PyTorch indexing, x[spec]. Basic items (integers, slices, None,
// ...) are applied first, left to right, as views: select, slice,
// unsqueeze. Tensor items (int32 indices, bool masks) are then applied
// together as one gather (indexSelect), so they copy and are
// differentiable, with repeated indices summing their gradients.
//
// Where the index tensors land follows PyTorch: broadcast together to a
// shape B; if they index adjacent dims, B replaces those dims in place,
// otherwise B goes first.
//   x [5,3,4]:  x[:, i, j] → [5, ...B]     x[i, :, j] → [...B, 3]

/** One item of an index: what goes between the commas of x[...]. */
export type IndexItem = string | number | boolean | null | Tensor;
/** x.index("1:3, None"), x.index(0), x.index(null), x.index(idx), x.index([0, "::2", idx]). */
export type IndexSpec = IndexItem | IndexItem[];

type Item =
  | { kind: "int"; value: number }
  | { kind: "slice"; start?: number; stop?: number; step?: number }
  | { kind: "none" }
  | { kind: "ellipsis" }
  | { kind: "tensor"; t: Tensor };

/** Names the spec and the shape in every error. */
class Context {
  constructor(
    readonly text: string,
    readonly shape: readonly number[],
  ) {}

  where(): string {
    return `in ${JSON.stringify(this.text)}; shape ${fmtShape(this.shape)}`;
  }

  fail(message: string): ArgumentError {
    return new ArgumentError(`index: ${message} (${this.where()})`);
  }
}

// ---- parsing --------------------------------------------------------------

const INT = /^[+-]?\d+$/;

/** Splits at commas outside brackets. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "[" || c === "(") depth++;
    else if (c === "]" || c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

function parseBound(part: string, token: string, ctx: Context): number | undefined {
  if (part === "" || part === "None") return undefined;
  if (!INT.test(part))
    throw ctx.fail(`cannot parse slice bound ${JSON.stringify(part)} in ${JSON.stringify(token)}`);
  return Number(part);
}

/** A Python list literal of ints or bools ("[0, 2]", "[[1], [0]]", "[True, False]") as a tensor. */
function parseList(token: string, ctx: Context): Tensor {
  let value: unknown;
  try {
    value = JSON.parse(token.replace(/\bTrue\b/g, "true").replace(/\bFalse\b/g, "false"));
  } catch {
    throw ctx.fail(`cannot parse list ${JSON.stringify(token)}`);
  }
  const shape: number[] = [];
  for (let cur = value; Array.isArray(cur); cur = cur[0]) {
    shape.push(cur.length);
    if (cur.length === 0) break;
  }
  const flat = (value as unknown[]).flat(Number.POSITIVE_INFINITY) as unknown[];
  const isBool = flat.length > 0 && flat.every((v) => typeof v === "boolean");
  if (
    flat.length !== numel(shape) ||
    !flat.every((v) => (isBool ? typeof v === "boolean" : Number.isInteger(v)))
  ) {
    throw ctx.fail(
      `list ${JSON.stringify(token)} must be a rectangular list of integers or of booleans`,
    );
  }
  const data = isBool
    ? Uint8Array.from(flat as boolean[], (b) => (b ? 1 : 0))
    : Int32Array.from(flat as number[]);
  return Tensor.fromArray(data, shape, "cpu", isBool ? "bool" : "int32");
}

function parseToken(token: string, ctx: Context): Item {
  if (token === "..." || token === "Ellipsis") return { kind: "ellipsis" };
  if (token === "None") return { kind: "none" };
  if (token === "True" || token === "False")
    return { kind: "tensor", t: Tensor.scalar(token === "True", "bool") };
  if (INT.test(token)) return { kind: "int", value: Number(token) };
  if (token.startsWith("[") && token.endsWith("]"))
    return { kind: "tensor", t: parseList(token, ctx) };
  if (token.includes(":")) {
    const parts = token.split(":").map((p) => p.trim());
    if (parts.length > 3)
      throw ctx.fail(
        `cannot parse slice ${JSON.stringify(token)}: expected at most start:stop:step`,
      );
    return {
      kind: "slice",
      start: parseBound(parts[0]!, token, ctx),
      stop: parseBound(parts[1]!, token, ctx),
      step: parts.length === 3 ? parseBound(parts[2]!, token, ctx) : undefined,
    };
  }
  throw ctx.fail(
    `cannot parse ${JSON.stringify(token)}: expected an integer, a slice start:stop:step, None, ..., or a list of integers`,
  );
}

function parseString(text: string, ctx: Context): Item[] {
  const tokens = splitTopLevel(text);
  // A trailing comma is Python's one-element tuple: x[0,] is x[0].
  if (tokens.length > 1 && tokens[tokens.length - 1] === "") tokens.pop();
  if (tokens.some((t) => t === "")) throw ctx.fail("empty index item");
  return tokens.map((t) => parseToken(t, ctx));
}

function describeItem(v: IndexItem): string {
  if (v instanceof Tensor) return `<${v.dtype} tensor ${fmtShape(v.shape)}>`;
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  return String(v);
}

function describeSpec(spec: IndexSpec): string {
  return Array.isArray(spec) ? spec.map(describeItem).join(", ") : describeItem(spec);
}

function parseItem(v: IndexItem, ctx: Context): Item[] {
  if (typeof v === "string") return parseString(v, ctx);
  if (v === null) return [{ kind: "none" }];
  if (typeof v === "boolean") return [{ kind: "tensor", t: Tensor.scalar(v, "bool") }];
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw ctx.fail(`index ${v} is not an integer`);
    return [{ kind: "int", value: v }];
  }
  if (v instanceof Tensor) {
    if (v.dtype !== "int32" && v.dtype !== "bool") {
      throw new DTypeError(
        `index: tensors used as indices must be int32 or bool, got ${v.dtype} (${ctx.where()})`,
      );
    }
    return [{ kind: "tensor", t: v }];
  }
  throw ctx.fail(`unsupported index item ${String(v)}`);
}

function parseSpec(spec: IndexSpec, ctx: Context): Item[] {
  const list = Array.isArray(spec) ? spec : [spec];
  return list.flatMap((v) => parseItem(v, ctx));
}

// ---- applying -------------------------------------------------------------

/** How many dims of the input an item consumes. */
function consumes(item: Item): number {
  if (item.kind === "int" || item.kind === "slice") return 1;
  if (item.kind === "tensor") return item.t.dtype === "bool" ? item.t.ndim : 1;
  return 0;
}

interface Advanced {
  dim: number;
  idx: Tensor;
}

/** Checks an int32 index against a dim's size and wraps negative values. */
function normalizeIndex(idx: Tensor, size: number, dim: number, ctx: Context): Tensor {
  if (idx.device !== "cpu") {
    // No synchronous read off the CPU: wrap with tensor ops, bounds are checked by the kernel.
    return where(idx.lt(0), idx.add(size), idx);
  }
  const data = idx.dataSync();
  let negative = false;
  for (const v of data) {
    if (v < -size || v >= size)
      throw ctx.fail(`index ${v} is out of bounds for dimension ${dim} with size ${size}`);
    if (v < 0) negative = true;
  }
  if (!negative) return idx;
  const wrapped = Int32Array.from(data, (v) => (v < 0 ? v + size : v));
  return Tensor.fromArray(wrapped, idx.shape, idx.device, "int32");
}

/** Applies the basic items as views; collects the tensor items with the dims they index. */
function applyBasic(x: Tensor, items: Item[], ctx: Context): { y: Tensor; adv: Advanced[] } {
  const used = items.reduce((n, it) => n + consumes(it), 0);
  if (items.filter((it) => it.kind === "ellipsis").length > 1)
    throw ctx.fail("an index can only have a single ellipsis (...)");
  if (used > x.ndim) {
    throw new ArgumentError(
      `index: too many indices for tensor of dimension ${x.ndim} (got ${used} in ${JSON.stringify(ctx.text)}; shape ${fmtShape(x.shape)})`,
    );
  }
  let y = x;
  let d = 0;
  const adv: Advanced[] = [];
  for (const it of items) {
    switch (it.kind) {
      case "ellipsis":
        d += x.ndim - used;
        break;
      case "none":
        y = vw.unsqueeze(y, d++);
        break;
      case "int": {
        const size = y.shape[d]!;
        if (it.value < -size || it.value >= size) {
          throw ctx.fail(`index ${it.value} is out of bounds for dimension ${d} with size ${size}`);
        }
        y = vw.select(y, d, it.value);
        break;
      }
      case "slice": {
        const step = it.step ?? 1;
        if (step === 0) throw ctx.fail("slice step cannot be zero");
        if (step < 0) throw ctx.fail(`slice step must be greater than zero, got ${step}`);
        y = vw.slice(y, d++, it.start ?? 0, it.stop ?? Number.POSITIVE_INFINITY, step);
        break;
      }
      case "tensor": {
        const t = it.t.device === y.device ? it.t : it.t.to(y.device);
        if (t.dtype === "int32") {
          adv.push({ dim: d, idx: normalizeIndex(t, y.shape[d]!, d, ctx) });
          d++;
          break;
        }
        // A bool mask over k dims is the k index tensors of its true positions.
        const k = t.ndim;
        const over = y.shape.slice(d, d + k);
        if (over.some((s, i) => s !== t.shape[i])) {
          throw ctx.fail(
            `the shape of the mask ${fmtShape(t.shape)} does not match the shape of the indexed tensor ${fmtShape(y.shape)} at dimension ${d}`,
          );
        }
        if (k === 0) {
          // x[True] adds a dim of size 1, x[False] one of size 0.
          y = vw.unsqueeze(y, d);
          const n = t.itemSync() ? 1 : 0;
          adv.push({ dim: d++, idx: Tensor.fromArray(new Int32Array(n), [n], y.device) });
          break;
        }
        const nz = t.nonzero(); // [count, k]
        for (let j = 0; j < k; j++) adv.push({ dim: d++, idx: nz.select(1, j) });
        break;
      }
    }
  }
  return { y, adv };
}

/**
 * Gathers y at the advanced indices (PyTorch's placement of the broadcast
 * index dims), as one IndexBackward0 node whose gradient scatter-adds back,
 * so repeated indices sum.
 */
function applyAdvanced(y: Tensor, adv: Advanced[], ctx: Context): Tensor {
  let B: number[];
  try {
    B = broadcastShapes("index", ...adv.map((a) => a.idx.shape));
  } catch (e) {
    if (e instanceof ShapeError) {
      throw new ShapeError(
        `index: shape mismatch: indexing tensors of shapes ${adv.map((a) => fmtShape(a.idx.shape)).join(", ")} cannot be broadcast together (${ctx.where()})`,
      );
    }
    throw e;
  }
  const yShape = [...y.shape];
  let out: Tensor;
  let backward: (g: Tensor) => Tensor;
  if (adv.length === 1) {
    // One index tensor: gather along its dim; the index's dims replace that dim.
    const { dim, idx } = adv[0]!;
    const flatIdx = idx.reshape([-1]);
    const n = flatIdx.shape[0]!;
    const gathered = [...yShape.slice(0, dim), n, ...yShape.slice(dim + 1)];
    out = noGrad(() =>
      y
        .indexSelect(dim, flatIdx)
        .reshape([...yShape.slice(0, dim), ...idx.shape, ...yShape.slice(dim + 1)]),
    );
    backward = (g) => {
      const at = flatIdx.reshape(gathered.map((s, i) => (i === dim ? s : 1))).expand(gathered);
      return Tensor.zeros(yShape, g.dtype, g.device).scatterAdd(dim, at, g.reshape(gathered));
    };
  } else {
    // Several: move the indexed dims to the front, flatten them into one, and
    // gather at the row-major linear index Σ idx_k · stride_k.
    const dims = adv.map((a) => a.dim);
    const rest = yShape.map((_, i) => i).filter((i) => !dims.includes(i));
    const sizes = dims.map((i) => yShape[i]!);
    const restShape = rest.map((i) => yShape[i]!);
    let lin: Tensor | null = null;
    let stride = 1;
    for (let k = adv.length - 1; k >= 0; k--) {
      const term: Tensor = stride === 1 ? adv[k]!.idx : adv[k]!.idx.mul(stride);
      lin = lin === null ? term : term.add(lin);
      stride *= sizes[k]!;
    }
    const linFlat = lin!.expand(B).reshape([-1]);
    const n = linFlat.shape[0]!;
    // Adjacent index dims replace the indexed ones in place: [before, B, after].
    const adjacent = dims.every((v, i) => i === 0 || v === dims[i - 1]! + 1);
    const nb = B.length;
    const before = adjacent ? dims[0]! : 0;
    const perm = [
      ...Array.from({ length: before }, (_, i) => nb + i),
      ...Array.from({ length: nb }, (_, i) => i),
      ...Array.from({ length: restShape.length - before }, (_, i) => nb + before + i),
    ];
    const order = [...dims, ...rest];
    out = noGrad(() => {
      const flat = y.permute(order).reshape([numel(sizes), ...restShape]);
      const o = flat.indexSelect(0, linFlat).reshape([...B, ...restShape]);
      return before > 0 ? o.permute(perm).contiguous() : o;
    });
    backward = (g) => {
      const gb = (before > 0 ? g.permute(inverse(perm)) : g).reshape([n, ...restShape]);
      const at = linFlat.reshape([n, ...restShape.map(() => 1)]).expand([n, ...restShape]);
      const flatGrad = Tensor.zeros([numel(sizes), ...restShape], g.dtype, g.device).scatterAdd(
        0,
        at,
        gb,
      );
      return flatGrad.reshape([...sizes, ...restShape]).permute(inverse(order));
    };
  }
  return record("IndexBackward0", out, [y], (g) => [backward(g)]);
}

function inverse(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
}

/**
 * x[spec] with Python's indexing rules. Integers select (the dim goes),
 * slices keep it (steps > 0, negative bounds count from the end, bounds
 * clamp), None inserts a dim of size 1, ... stands for the dims not
 * named. Basic indexing returns a view sharing storage; int32 and bool
 * tensor indices gather into a new tensor (differentiable).
 *
 * @example
 * const x = fl.arange(24).reshape([2, 3, 4]);
 * x.index("1, :2, None, ::2");   // shape [2, 1, 2], a view
 * x.index("..., -1");            // shape [2, 3]
 * x.index(fl.tensor([1, 0], { dtype: "int32" })); // shape [2, 3, 4]
 * x.index(x.gt(20));             // 1-d: the elements above 20
 */
export function index(x: Tensor, spec: IndexSpec): Tensor {
  const ctx = new Context(describeSpec(spec), x.shape);
  const items = parseSpec(spec, ctx);
  const { y, adv } = applyBasic(x, items, ctx);
  if (adv.length > 0) return applyAdvanced(y, adv, ctx);
  if (y !== x) return y;
  // x[...] and x[:] are new views of the same storage, as in PyTorch.
  const alias = vw.asStrided(x, x.shape, x.strides, x.offset);
  return record("AliasBackward0", alias, [x], (g) => [g]);
}

/** The storage offset of every element of x, as an int32 tensor of x's shape (on the CPU). */
function storageOffsets(x: Tensor): Tensor {
  const out = new Int32Array(x.numel());
  const pos = new Array<number>(x.ndim).fill(0);
  for (let k = 0; k < out.length; k++) {
    let off = x.offset;
    for (let d = 0; d < x.ndim; d++) off += pos[d]! * x.strides[d]!;
    out[k] = off;
    for (let d = x.ndim - 1; d >= 0; d--) {
      if (++pos[d]! < x.shape[d]!) break;
      pos[d] = 0;
    }
  }
  return Tensor.fromArray(out, x.shape, "cpu", "int32");
}

/**
 * x[spec] = value, in place (the caller checks autograd). Basic specs write
 * through the view; tensor indices scatter into the storage, last write
 * winning for repeated indices, or summing them with accumulate.
 */
export function indexPut(x: Tensor, spec: IndexSpec, value: TensorLike, accumulate: boolean): void {
  const ctx = new Context(describeSpec(spec), x.shape);
  const items = parseSpec(spec, ctx);
  const base = x.detach();
  if (!accumulate && !items.some((it) => it.kind === "tensor")) {
    index(base, spec).copy_(value);
    return;
  }
  // Which storage elements x[spec] names, in the order x[spec] lists them.
  let at = index(storageOffsets(base), spec);
  if (at.device !== x.device) at = at.to(x.device);
  const v = (
    value instanceof Tensor ? value.detach().to(x.dtype) : Tensor.scalar(value, x.dtype, x.device)
  )
    .expand([...at.shape])
    .contiguous()
    .reshape([-1]);
  const flat = vw.asStrided(base, [x.storage.size], [1], 0);
  const updated = accumulate
    ? flat.scatterAdd(0, at.reshape([-1]), v)
    : flat.scatter(0, at.reshape([-1]), v);
  flat.copy_(updated);
}
