/// <reference types="@webgpu/types" />
import type { DType } from "../../dtype.js";
import { DeviceError } from "../../errors.js";
import { numel } from "../../shape.js";
import type { Backend, Storage, View } from "../backend.js";
import type { FusedKernels } from "../fused.js";
import { keepStorage } from "../memory.js";
import type { GpuContext } from "./context.js";
import { GpuStorage } from "./pool.js";
import {
  attentionSoftmaxBackwardSource,
  attentionSoftmaxSource,
  attentionSource,
  col2imSource,
  geluBackwardSource,
  geluSource,
  im2colSource,
  layerNormAffineSource,
  layerNormBackwardSource,
  layerNormSource,
  MAX_KEYS,
  maxPoolBackwardSource,
  maxPoolSource,
  SHORT_ROW,
  softmaxBackwardShortSource,
  softmaxBackwardSource,
  softmaxShortSource,
  softmaxSource,
} from "./wgsl_fused.js";

// The webgpu device's fused kernels (the FusedKernels of ../fused.ts): each
// one a single WGSL launch (two for layer norm's backward with an affine)
// where the composite records five to fifteen. src/nn/functional/fused.ts
// routes to them and keeps the composites for createGraph. Window tables
// of conv and pooling are uploaded once per table and kept with it. The
// pieces of nn.MultiheadAttention's fused path (fused_attention.ts) are
// here too: the in-place attention softmax and its backward, and head
// split/merge as strided copies; its GEMMs are the backend's matmul.

/**
 * Workgroups along one grid dimension (WebGPU's guaranteed 65,535); tests
 * lower it to run the folded 2-d grids of many rows on small tensors.
 */
export const gridLimit = { maxDim: 65535 };

/**
 * The fused kernels of one webgpu device; `backend` is its primitive
 * backend (strided copies for splitting and merging attention heads).
 */
export function createWebGpuFused(ctx: GpuContext, backend: Backend): FusedKernels {
  function buf(op: string, v: View): GPUBuffer {
    const s = v.storage;
    if (!(s instanceof GpuStorage) || !s.belongsTo(ctx.pool)) {
      throw new DeviceError(
        s.device === "webgpu"
          ? `${op}: this tensor belongs to a webgpu device that has been replaced; move it again from cpu`
          : `${op}: expected a tensor on webgpu, got one on ${s.device}`,
      );
    }
    if (s.isReleased)
      throw new DeviceError(`${op}: a tensor on webgpu was used after its memory was freed`);
    return s.buffer;
  }

  // Pipelines are cached by program text; the text is built once per variant.
  const programs = new Map<string, string>();
  function program(key: string, make: () => string): string {
    let code = programs.get(key);
    if (code === undefined) programs.set(key, (code = make()));
    return code;
  }

  /** One workgroup per row, folded into a 2-d grid past gridLimit.maxDim rows. */
  function rowGrid(op: string, rows: number): [number, number, number] {
    const max = gridLimit.maxDim;
    if (rows <= max) return [rows, 1, 1];
    const y = Math.ceil(rows / max);
    if (y > max) throw new DeviceError(`${op}: ${rows} rows is more than one webgpu launch covers`);
    return [max, y, 1];
  }

  // Window tables on the device, kept while the CPU table lives (conv caches them).
  const tables = new WeakMap<Int32Array, GpuStorage>();
  const inverses = new WeakMap<Int32Array, GpuStorage>();
  function upload(cache: WeakMap<Int32Array, GpuStorage>, key: Int32Array, make: () => Int32Array) {
    let s = cache.get(key);
    if (!s || s.isReleased) {
      s = ctx.upload("im2col", make(), "int32");
      // Cached across calls: a tidy() scope around the first call must not free it.
      keepStorage(s);
      cache.set(key, s);
    }
    return s.buffer;
  }
  const table = (index: Int32Array) => upload(tables, index, () => index);
  const inverse = (index: Int32Array, k: number, l: number, hw: number) =>
    upload(inverses, index, () => invertTable(index, k, l, hw));

  function softmax(x: View, log: boolean) {
    const n = numel(x.shape);
    const cols = x.shape[x.shape.length - 1] ?? 1;
    const rows = cols === 0 ? 0 : n / cols;
    const out = ctx.alloc("softmax", x.dtype, n);
    if (rows === 0) return out;
    const short = cols <= SHORT_ROW;
    const code = short
      ? program(`softmaxShort${log}`, () => softmaxShortSource(log))
      : program(`softmax${log}`, () => softmaxSource(log));
    ctx.run(
      "softmax",
      code,
      [rows, cols, x.offset],
      [out.buffer, buf("softmax", x)],
      short ? rows : rowGrid("softmax", rows),
    );
    return out;
  }

  function softmaxBackward(grad: View, y: View, log: boolean) {
    const n = numel(y.shape);
    const cols = y.shape[y.shape.length - 1] ?? 1;
    const rows = cols === 0 ? 0 : n / cols;
    const op = "softmaxBackward";
    const out = ctx.alloc(op, y.dtype, n);
    if (rows === 0) return out;
    const short = cols <= SHORT_ROW;
    const code = short
      ? program(`softmaxBackwardShort${log}`, () => softmaxBackwardShortSource(log))
      : program(`softmaxBackward${log}`, () => softmaxBackwardSource(log));
    ctx.run(
      op,
      code,
      [rows, cols, grad.offset, y.offset],
      [out.buffer, buf(op, grad), buf(op, y)],
      short ? rows : rowGrid(op, rows),
    );
    return out;
  }

  function layerNorm(x: View, cols: number, weight: View | null, bias: View | null, eps: number) {
    const op = "layerNorm";
    const n = numel(x.shape);
    const rows = n / cols;
    const y = ctx.alloc(op, x.dtype, n);
    const mean = ctx.alloc(op, x.dtype, rows);
    const rstd = ctx.alloc(op, x.dtype, rows);
    if (rows > 0) {
      const hasW = weight !== null;
      const hasB = bias !== null;
      const code = program(`layerNorm${hasW}${hasB}`, () => layerNormSource(hasW, hasB));
      const meta = [rows, cols, x.offset, weight?.offset ?? 0, bias?.offset ?? 0, f32Bits(eps)];
      const buffers = [y.buffer, mean.buffer, rstd.buffer, buf(op, x)];
      if (weight) buffers.push(buf(op, weight));
      if (bias) buffers.push(buf(op, bias));
      ctx.run(op, code, meta, buffers, rowGrid(op, rows));
    }
    return { y, mean, rstd };
  }

  function layerNormBackward(
    grad: View,
    x: View,
    cols: number,
    mean: View,
    rstd: View,
    weight: View | null,
    wantAffine: boolean,
  ) {
    const op = "layerNormBackward";
    const n = numel(x.shape);
    const rows = n / cols;
    const gx = ctx.alloc(op, x.dtype, n);
    const gw = wantAffine ? ctx.alloc(op, x.dtype, cols) : null;
    const gb = wantAffine ? ctx.alloc(op, x.dtype, cols) : null;
    if (rows === 0) {
      // Sums over no rows.
      return {
        gx,
        gw: wantAffine ? ctx.zeros(x.dtype, cols) : null,
        gb: wantAffine ? ctx.zeros(x.dtype, cols) : null,
      };
    }
    const hasW = weight !== null;
    const common = [buf(op, grad), buf(op, x), buf(op, mean), buf(op, rstd)];
    const code = program(`layerNormBackward${hasW}`, () => layerNormBackwardSource(hasW));
    ctx.run(
      op,
      code,
      [rows, cols, grad.offset, x.offset, mean.offset, rstd.offset, weight?.offset ?? 0],
      [gx.buffer, ...common, ...(weight ? [buf(op, weight)] : [])],
      rowGrid(op, rows),
    );
    if (gw && gb) {
      ctx.run(
        op,
        program("layerNormAffine", layerNormAffineSource),
        [cols, rows, grad.offset, x.offset, mean.offset, rstd.offset],
        [gw.buffer, gb.buffer, ...common],
        rowGrid(op, cols),
      );
    }
    return { gx, gw, gb };
  }

  function gelu(x: View, approximate: "none" | "tanh") {
    const n = numel(x.shape);
    const out = ctx.alloc("gelu", x.dtype, n);
    const code = program(`gelu${approximate}`, () => geluSource(approximate));
    ctx.run("gelu", code, [n, x.offset], [out.buffer, buf("gelu", x)], n);
    return out;
  }

  function geluBackward(grad: View, x: View, approximate: "none" | "tanh") {
    const op = "geluBackward";
    const n = numel(x.shape);
    const out = ctx.alloc(op, x.dtype, n);
    const code = program(`geluBackward${approximate}`, () => geluBackwardSource(approximate));
    ctx.run(op, code, [n, grad.offset, x.offset], [out.buffer, buf(op, grad), buf(op, x)], n);
    return out;
  }

  function im2col(x: View, index: Int32Array, k: number, l: number) {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const total = c * k * n * l;
    const out = ctx.alloc("im2col", x.dtype, total);
    if (total === 0) return out;
    ctx.run(
      "im2col",
      program("im2col", im2colSource),
      [total, n, c, k, l, h * w, x.offset],
      [out.buffer, buf("im2col", x), table(index)],
      total,
    );
    return out;
  }

  function col2im(cols: View, index: Int32Array, k: number, l: number, n: number, hw: number) {
    const c = cols.shape[0]! / k;
    const total = n * c * hw;
    const out = ctx.alloc("col2im", cols.dtype, total);
    if (total === 0) return out;
    ctx.run(
      "col2im",
      program("col2im", col2imSource),
      [total, n, c, k, l, hw, cols.offset],
      [out.buffer, buf("col2im", cols), inverse(index, k, l, hw)],
      total,
    );
    return out;
  }

  function maxPool(x: View, index: Int32Array, k: number, l: number) {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const total = n * c * l;
    const values = ctx.alloc("maxPool2d", x.dtype, total);
    const indices = ctx.alloc("maxPool2d", "int32", total);
    if (total > 0) {
      ctx.run(
        "maxPool2d",
        program("maxPool", maxPoolSource),
        [total, k, l, h * w, x.offset],
        [values.buffer, indices.buffer, buf("maxPool2d", x), table(index)],
        total,
      );
    }
    return { values, indices };
  }

  function maxPoolBackward(grad: View, indices: View, l: number, hw: number) {
    const op = "maxPool2dBackward";
    const total = numel(grad.shape);
    const planes = l === 0 ? 0 : total / l;
    const out = ctx.zeros(grad.dtype, planes * hw);
    if (total === 0) return out;
    ctx.run(
      op,
      program("maxPoolBackward", maxPoolBackwardSource),
      [total, l, hw, grad.offset, indices.offset],
      [out.buffer, buf(op, grad), buf(op, indices)],
      total,
    );
    return out;
  }

  function attention(
    q: View,
    k: View,
    v: View,
    scale: number,
    causal: boolean,
    wantProbs: boolean,
  ) {
    const op = "scaledDotProductAttention";
    const nd = q.shape.length;
    const [L, E] = [q.shape[nd - 2]!, q.shape[nd - 1]!];
    const S = k.shape[nd - 2]!;
    const Ev = v.shape[nd - 1]!;
    const rows = numel(q.shape.slice(0, nd - 1));
    // The scores of a row live in workgroup memory; longer rows take the composite.
    if (S > MAX_KEYS || rows === 0) return null;
    const out = ctx.alloc(op, q.dtype, rows * Ev);
    const probs = wantProbs ? ctx.alloc(op, q.dtype, rows * S) : null;
    const code = program(`attention${wantProbs}`, () => attentionSource(wantProbs));
    ctx.run(
      op,
      code,
      [rows, L, S, E, Ev, q.offset, k.offset, v.offset, f32Bits(scale), causal ? 1 : 0],
      [out.buffer, ...(probs ? [probs.buffer] : []), buf(op, q), buf(op, k), buf(op, v)],
      rowGrid(op, rows),
    );
    return { out, probs };
  }

  type Shape4 = readonly [number, number, number, number];

  function attentionSoftmax(
    scores: Storage,
    shape: Shape4,
    scale: number,
    mask: View | null,
    causal: boolean,
  ) {
    const op = "attentionSoftmax";
    const [N, H, L, S] = shape;
    const rows = N * H * L;
    if (rows === 0 || S === 0) return;
    const target = buf(op, {
      storage: scores,
      dtype: "float32",
      shape: [],
      strides: [],
      offset: 0,
    });
    const m = mask ? [mask.offset, ...mask.strides] : [0, 0, 0, 0, 0];
    ctx.run(
      op,
      program(`attentionSoftmax${mask !== null}`, () => attentionSoftmaxSource(mask !== null)),
      [rows, H, L, S, f32Bits(scale), causal ? 1 : 0, ...m],
      [target, ...(mask ? [buf(op, mask)] : [])],
      rowGrid(op, rows),
    );
  }

  function attentionSoftmaxBackward(
    grad: Storage,
    probs: View,
    shape: Shape4,
    scale: number,
    causal: boolean,
  ) {
    const op = "attentionSoftmaxBackward";
    const [N, H, L, S] = shape;
    const rows = N * H * L;
    if (rows === 0 || S === 0) return;
    const target = buf(op, { storage: grad, dtype: "float32", shape: [], strides: [], offset: 0 });
    ctx.run(
      op,
      program("attentionSoftmaxBackward", attentionSoftmaxBackwardSource),
      [rows, L, S, probs.offset, f32Bits(scale), causal ? 1 : 0],
      [target, buf(op, probs)],
      rowGrid(op, rows),
    );
  }

  // Heads move as strided copies (the primitive map kernel): part p, head h
  // of x [N, L, parts·H·d] is the [N, H, L, d] view at column (p·H + h)·d.
  function headsSplit(x: View, parts: number, heads: number): Storage[] {
    const [N, L, W] = x.shape as [number, number, number];
    const [s0, s1, s2] = x.strides as [number, number, number];
    const d = W / parts / heads;
    const shape = [N, heads, L, d];
    return Array.from({ length: parts }, (_, p) =>
      backend.copy(
        { ...x, shape, strides: [s0, d * s2, s1, s2], offset: x.offset + p * heads * d * s2 },
        x.dtype,
      ),
    );
  }

  function headsMerge(parts: Storage[], shape: Shape4): Storage {
    const [N, H, L, d] = shape;
    const W = parts.length * H * d;
    // Float operands on webgpu are float32.
    const dtype: DType = "float32";
    const out = ctx.alloc("headsMerge", dtype, N * L * W);
    parts.forEach((storage, p) => {
      const src = { storage, dtype, shape, strides: [H * L * d, L * d, d, 1], offset: 0 };
      const dst = { storage: out, dtype, shape, strides: [L * W, d, W, 1], offset: p * H * d };
      backend.assign(dst, src);
    });
    return out;
  }

  return {
    attentionSoftmax,
    attentionSoftmaxBackward,
    headsSplit,
    headsMerge,
    gelu,
    geluBackward,
    softmax,
    softmaxBackward,
    layerNorm,
    layerNormBackward,
    im2col,
    col2im,
    maxPool,
    maxPoolBackward,
    attention,
  };
}

const bits = new DataView(new ArrayBuffer(4));

/** A float's f32 bit pattern as an i32 (kernel parameters are i32 words). */
function f32Bits(x: number): number {
  bits.setFloat32(0, x, true);
  return bits.getInt32(0, true);
}

/**
 * For each plane position i, the window slots j·l + p that read it, in CSR
 * form: [start (hw + 1)…, slots…], slots in order of j, then p.
 */
export function invertTable(index: Int32Array, k: number, l: number, hw: number): Int32Array {
  const count = new Int32Array(hw + 1);
  for (let t = 0; t < k * l; t++) {
    const i = index[t]!;
    if (i >= 0) count[i + 1] = count[i + 1]! + 1;
  }
  for (let i = 0; i < hw; i++) count[i + 1] = count[i + 1]! + count[i]!;
  const out = new Int32Array(hw + 1 + count[hw]!);
  out.set(count);
  const next = count.slice(0, hw);
  for (let t = 0; t < k * l; t++) {
    const i = index[t]!;
    if (i < 0) continue;
    out[hw + 1 + next[i]!] = t;
    next[i] = next[i]! + 1;
  }
  return out;
}
