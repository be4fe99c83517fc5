import { allocArray, type DType, type TypedArray } from "../../dtype.js";
import { DeviceError } from "../../errors.js";
import { numel } from "../../shape.js";
import {
  type Backend,
  type BinaryOp,
  getBackend,
  isBoolBinary,
  type ReduceOp,
  type UnaryOp,
  type View,
} from "../backend.js";
import type { GpuContext } from "./context.js";
import {
  gatherProgram,
  mapProgram,
  matmulProgram,
  reduceProgram,
  scatterProgram,
  WG,
} from "./kernels.js";
import { GpuStorage } from "./pool.js";
import { binaryExpr, convert, storageType, store, unaryExpr, type WgslType } from "./wgsl.js";

// The webgpu backend: the primitive kernels of ../backend.ts as WGSL
// programs over strided views. Layouts are simplified on the CPU first
// (size-1 dims dropped, dims that stay contiguous in every operand merged),
// so most launches walk one or two dims.

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Drops size-1 dims and merges neighbours that are contiguous in every operand. */
export function collapse(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * n)) {
      outShape[last] = outShape[last]! * n;
      strides.forEach((s, k) => {
        outStrides[k]![last] = s[d]!;
      });
    } else {
      outShape.push(n);
      strides.forEach((s, k) => {
        outStrides[k]!.push(s[d]!);
      });
    }
  }
  return { shape: outShape, strides: outStrides };
}

export function createWebGpuBackend(ctx: GpuContext): Backend {
  /** The view's storage on this device; a CPU 0-d operand (PyTorch allows them) is uploaded. */
  function onGpu(op: string, v: View): { view: View; storage: GpuStorage } {
    if (v.storage instanceof GpuStorage && v.storage.belongsTo(ctx.pool)) {
      if (v.storage.isReleased)
        throw new DeviceError(`${op}: a tensor on webgpu was used after its memory was freed`);
      return { view: v, storage: v.storage };
    }
    if (v.storage.device === "webgpu") {
      throw new DeviceError(
        `${op}: this tensor belongs to a webgpu device that has been replaced; move it again from cpu`,
      );
    }
    if (v.storage.device !== "cpu") {
      throw new DeviceError(`${op}: expected a tensor on webgpu, got one on ${v.storage.device}`);
    }
    const data = getBackend("cpu").readSync({
      storage: v.storage,
      dtype: v.dtype,
      shape: [v.storage.size],
      strides: [1],
      offset: 0,
    });
    const storage = ctx.upload(op, data, v.dtype);
    return { view: { ...v, storage }, storage };
  }

  /** One elementwise launch: inputs strided, output contiguous (or dst's window when `dst` is given). */
  function map(
    op: string,
    inputs: readonly View[],
    shape: readonly number[],
    outDtype: DType,
    body: (types: WgslType[]) => string,
    dst?: View,
  ): GpuStorage {
    const gpu = inputs.map((v) => onGpu(op, v));
    const outT = storageType(op, outDtype);
    const n = numel(shape);
    let out: GpuStorage;
    let outStrides: number[] | null = null;
    let outOffset = 0;
    if (dst) {
      out = onGpu(op, dst).storage;
      outStrides = [...dst.strides];
      outOffset = dst.offset;
    } else {
      out = ctx.alloc(op, outDtype, n);
    }
    if (n === 0) return out;
    const all = [...gpu.map((g) => g.view.strides), ...(outStrides ? [outStrides] : [])];
    const offsets = [...gpu.map((g) => g.view.offset), ...(outStrides ? [outOffset] : [])];
    const c = collapse(shape, outStrides ? all : [...all, contiguousStrides(shape)]);
    const meta = [n, c.shape.length, ...c.shape];
    offsets.forEach((o, k) => {
      meta.push(o, ...c.strides[k]!);
    });
    const types = gpu.map((g) => storageType(op, g.view.dtype));
    const code = mapProgram(types, outT, dst !== undefined, `  let r = ${body(types)};`);
    ctx.run(op, code, meta, [out.buffer, ...gpu.map((g) => g.storage.buffer)], n);
    return out;
  }

  function unary(op: UnaryOp, x: View, outDtype: DType): GpuStorage {
    const inT = storageType(op, x.dtype);
    const outT = storageType(op, outDtype);
    const c: WgslType = x.dtype === "float32" || outDtype === "float32" ? "f32" : "i32";
    const e = unaryExpr(op, c);
    return map(op, [x], x.shape, outDtype, () => {
      const expr = e.code.replaceAll(/\ba\b/g, `(${convert("v0", inT, c)})`);
      return store(expr, e.bool ? "bool" : c, outT);
    });
  }

  function binary(op: BinaryOp, a: View, b: View, outDtype: DType): GpuStorage {
    const aT = storageType(op, a.dtype);
    const bT = storageType(op, b.dtype);
    const outT = storageType(op, outDtype);
    const c: WgslType = isBoolBinary(op)
      ? a.dtype === "float32" || b.dtype === "float32"
        ? "f32"
        : "i32"
      : outDtype === "float32"
        ? "f32"
        : "i32";
    const e = binaryExpr(op, c);
    return map(op, [a, b], a.shape, outDtype, () => {
      const expr = e.code
        .replaceAll(/\ba\b/g, `(${convert("v0", aT, c)})`)
        .replaceAll(/\bb\b/g, `(${convert("v1", bT, c)})`);
      return store(expr, e.bool ? "bool" : c, outT);
    });
  }

  function copy(x: View, outDtype: DType): GpuStorage {
    const inT = storageType("copy", x.dtype);
    return map("copy", [x], x.shape, outDtype, () =>
      convert("v0", inT, storageType("copy", outDtype)),
    );
  }

  function reduce(op: ReduceOp, x: View, dims: readonly number[], outDtype: DType): GpuStorage {
    const { view, storage } = onGpu(op, x);
    const inT = storageType(op, x.dtype);
    const outT = storageType(op, outDtype);
    const red = new Set(dims);
    const keptShape: number[] = [];
    const keptStrides: number[] = [];
    const redShape: number[] = [];
    const redStrides: number[] = [];
    view.shape.forEach((d, i) => {
      if (red.has(i)) {
        redShape.push(d);
        redStrides.push(view.strides[i]!);
      } else {
        keptShape.push(d);
        keptStrides.push(view.strides[i]!);
      }
    });
    const kept = collapse(keptShape, [keptStrides]);
    const reduced = collapse(redShape, [redStrides]);
    const O = numel(keptShape);
    const R = numel(redShape);
    const out = ctx.alloc(op, outDtype, O);
    if (O === 0) return out;
    const c: WgslType =
      op === "sum" || op === "prod"
        ? outDtype === "float32"
          ? "f32"
          : "i32"
        : x.dtype === "float32"
          ? "f32"
          : "i32";
    const perThread = R <= 64;
    const code = reduceProgram(op, inT, c, outT, perThread);
    const meta = [
      O,
      R,
      kept.shape.length,
      reduced.shape.length,
      view.offset,
      ...kept.shape,
      ...kept.strides[0]!,
      ...reduced.shape,
      ...reduced.strides[0]!,
    ];
    const groups: number | [number, number, number] = perThread
      ? O
      : O <= 65535
        ? [O, 1, 1]
        : [65535, Math.ceil(O / 65535), 1];
    ctx.run(op, code, meta, [out.buffer, storage.buffer], groups);
    return out;
  }

  function matmul(a: View, b: View, outDtype: DType): GpuStorage {
    const ga = onGpu("matmul", a);
    const gb = onGpu("matmul", b);
    const nd = a.shape.length;
    const M = a.shape[nd - 2]!;
    const K = a.shape[nd - 1]!;
    const N = b.shape[nd - 1]!;
    const batchShape = a.shape.slice(0, nd - 2);
    const batch = collapse(batchShape, [a.strides.slice(0, nd - 2), b.strides.slice(0, nd - 2)]);
    const B = numel(batchShape);
    const out = ctx.alloc("matmul", outDtype, B * M * N);
    if (B * M * N === 0) return out;
    if (K === 0) return ctx.zeros(outDtype, B * M * N);
    const outT = storageType("matmul", outDtype);
    const c: WgslType = outDtype === "float32" ? "f32" : "i32";
    const code = matmulProgram(
      storageType("matmul", a.dtype),
      storageType("matmul", b.dtype),
      c,
      outT,
    );
    const rows = Math.ceil(M / 64);
    const cols = Math.ceil(N / 64);
    if (rows > 65535 || cols > 65535)
      throw new DeviceError(`matmul: [${M},${K}] @ [${K},${N}] is too large for one webgpu launch`);
    for (let start = 0; start < B; start += 65535) {
      const meta = [
        M,
        N,
        K,
        batch.shape.length,
        ga.view.offset,
        gb.view.offset,
        a.strides[nd - 2]!,
        a.strides[nd - 1]!,
        b.strides[nd - 2]!,
        b.strides[nd - 1]!,
        start,
        ...batch.shape,
        ...batch.strides[0]!,
        ...batch.strides[1]!,
      ];
      ctx.run(
        "matmul",
        code,
        meta,
        [out.buffer, ga.storage.buffer, gb.storage.buffer],
        [cols, rows, Math.min(65535, B - start)],
      );
    }
    return out;
  }

  function where(cond: View, a: View, b: View, outDtype: DType): GpuStorage {
    const outT = storageType("where", outDtype);
    return map(
      "where",
      [cond, a, b],
      cond.shape,
      outDtype,
      (t) =>
        `select(${convert("v2", t[2]!, outT)}, ${convert("v1", t[1]!, outT)}, ${convert("v0", t[0]!, "u32")} != 0u)`,
    );
  }

  function gather(x: View, dim: number, index: View): GpuStorage {
    const gx = onGpu("gather", x);
    const gi = onGpu("gather", index);
    const n = numel(index.shape);
    const out = ctx.alloc("gather", x.dtype, n);
    if (n === 0) return out;
    const rank = index.shape.length;
    const meta = [
      n,
      rank,
      dim,
      x.shape[dim]!,
      gx.view.offset,
      gi.view.offset,
      ...index.shape,
      ...gi.view.strides,
      ...gx.view.strides,
    ];
    ctx.run(
      "gather",
      gatherProgram(storageType("gather", x.dtype)),
      meta,
      [out.buffer, gx.storage.buffer, gi.storage.buffer],
      n,
      true,
    );
    return out;
  }

  function scatter(
    base: View,
    dim: number,
    index: View,
    src: View,
    accumulate: boolean,
  ): GpuStorage {
    const op = accumulate ? "scatterAdd" : "scatter";
    const out = copy(base, base.dtype);
    const gi = onGpu(op, index);
    const gs = onGpu(op, src);
    const n = numel(index.shape);
    if (n === 0) return out;
    const rank = index.shape.length;
    const meta = [
      n,
      rank,
      dim,
      base.shape[dim]!,
      gi.view.offset,
      gs.view.offset,
      ...index.shape,
      ...gi.view.strides,
      ...gs.view.strides,
      ...contiguousStrides(base.shape),
    ];
    const code = scatterProgram(
      storageType(op, base.dtype),
      storageType(op, src.dtype),
      accumulate,
    );
    ctx.run(op, code, meta, [out.buffer, gi.storage.buffer, gs.storage.buffer], n, true);
    return out;
  }

  function assign(dst: View, src: View): void {
    let s = src;
    // A buffer cannot be read and written by one launch; copy an aliasing source first.
    if (src.storage === dst.storage) {
      s = {
        storage: copy(src, src.dtype),
        dtype: src.dtype,
        shape: src.shape,
        strides: contiguousStrides(src.shape),
        offset: 0,
      };
    }
    const sT = storageType("copy_", s.dtype);
    const dT = storageType("copy_", dst.dtype);
    map("copy_", [s], dst.shape, dst.dtype, () => convert("v0", sT, dT), dst);
  }

  async function read(x: View): Promise<TypedArray> {
    const n = numel(x.shape);
    if (n === 0) return allocArray(x.dtype, 0);
    const { view, storage } = onGpu("data", x);
    const c = collapse(view.shape, [view.strides]);
    const contiguous = c.shape.length === 0 || (c.shape.length === 1 && c.strides[0]![0] === 1);
    if (contiguous) return ctx.read("data", storage, view.offset, n, x.dtype);
    const tmp = copy(view, x.dtype);
    try {
      return await ctx.read("data", tmp, 0, n, x.dtype);
    } finally {
      tmp.release();
    }
  }

  return {
    name: "webgpu",
    zeros: (dtype, size) => ctx.zeros(dtype, size),
    fromArray: (data, dtype) => ctx.upload("tensor", data, dtype),
    read,
    readSync: () => {
      throw new DeviceError(
        'dataSync: a webgpu tensor cannot be read synchronously; use await x.data(), await x.item(), await x.tolist() or await x.toAsync("cpu")',
      );
    },
    unary,
    binary,
    reduce,
    matmul,
    where,
    gather,
    scatter,
    copy,
    assign,
  };
}

export { WG };
