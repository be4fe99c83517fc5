import { emptyArray } from "../../../dtype.js";
import type { BinaryOp, View } from "../../backend.js";
import { coalesce } from "../iterate.js";
import { isContiguous } from "../storage.js";
import { I32, ModuleBuilder, V128 } from "./emitter.js";
import { type ScratchKernels, scratchKernels } from "./runtime.js";
import { STREAM_CHUNK } from "./vmath.js";

// float32 add/sub/mul/div of a contiguous tensor with a broadcast operand
// on WebAssembly SIMD: one value over the whole tensor (x * 2, 1 − x) or
// one row repeated over its rows (x + bias, x * scale over the last dims).
// Both are the same kernel: a row of whole vectors applied to each row of
// the tensor in place, a scalar being a row of four copies of itself. IEEE
// float32 arithmetic lane by lane, so the bits are the scalar loop's.

const OPS = [
  ["add", V128.f32x4Add],
  ["sub", V128.f32x4Sub],
  ["mul", V128.f32x4Mul],
  ["div", V128.f32x4Div],
] as const;

/**
 * The module: for each op, op(x, row, nbytes, rowBytes) sets x[i] = x[i]
 * op row[i mod rowBytes] and opLeft the same with the row on the left
 * (nbytes a multiple of rowBytes, rowBytes of 16).
 */
function broadcastModule(): Uint8Array {
  const m = new ModuleBuilder();
  for (const [name, op] of OPS) {
    for (const left of [false, true]) {
      m.func(left ? `${name}Left` : name, ["i32", "i32", "i32", "i32"], [], (c) => {
        const [X, ROW, NBYTES, ROW_BYTES] = [0, 1, 2, 3];
        const [p, j, at] = [c.local("i32"), c.local("i32"), c.local("i32")];
        c.for(
          p,
          () => c.i32Const(0),
          () => c.localGet(NBYTES),
          0,
          () => {
            c.for(
              j,
              () => c.i32Const(0),
              () => c.localGet(ROW_BYTES),
              16,
              () => {
                c.localGet(X).localGet(p).op(I32.add).localGet(j).op(I32.add).localTee(at);
                if (left) c.localGet(ROW).localGet(j).op(I32.add).simdMem(V128.load, 0, 4);
                c.localGet(at).simdMem(V128.load, 0, 4);
                if (!left) c.localGet(ROW).localGet(j).op(I32.add).simdMem(V128.load, 0, 4);
                c.simd(op).simdMem(V128.store, 0, 4);
              },
            );
            c.inc(p, () => c.localGet(ROW_BYTES));
          },
        );
      });
    }
  }
  return m.bytes({ pages: 1 });
}

type BroadcastExports = Record<
  string,
  (x: number, row: number, nb: number, rowBytes: number) => void
>;

const compiled = scratchKernels<BroadcastExports>(broadcastModule);
let enabled = true;

function kernels(): ScratchKernels<BroadcastExports> | null {
  return enabled ? compiled() : null;
}

/**
 * Switches these SIMD kernels off (or back on), so tests and benchmarks can
 * compare them with the scalar loops they replace; returns the old setting.
 */
export function setBroadcastKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Below this many elements the copies in and out cost more than the scalar loop. */
export const BROADCAST_SIMD_MIN = 4096;

/**
 * a op b for float32 views of a's shape, one contiguous and the other a
 * single value or a row (of a multiple of 4 floats) broadcast over it, on
 * SIMD into a new array; bit-identical to the scalar loop. Null (nothing
 * allocated) for other ops and layouts, below BROADCAST_SIMD_MIN
 * elements, or without SIMD.
 */
export function simdBroadcastBinary(
  op: BinaryOp,
  a: View,
  ad: Float32Array,
  b: View,
  bd: Float32Array,
): Float32Array | null {
  if (op !== "add" && op !== "sub" && op !== "mul" && op !== "div") return null;
  let n = 1;
  for (const d of a.shape) n *= d;
  if (n < BROADCAST_SIMD_MIN) return null;
  // The tensor is the contiguous one; `left` when the broadcast one is a.
  const left = !isContiguous(a);
  const [x, xd, r, rd] = left ? [b, bd, a, ad] : [a, ad, b, bd];
  if (!isContiguous(x)) return null;
  const w = coalesce(r.shape, [r.strides]);
  const inner = w.strides[0]!;
  // A single value: every stride 0. A row: [rows, cols] with strides [0, 1].
  const scalar = inner.every((s) => s === 0);
  const cols = w.shape[w.shape.length - 1]!;
  const row = w.shape.length === 2 && inner[0] === 0 && inner[1] === 1 && cols % 4 === 0;
  if (!scalar && !row) return null;
  const bk = kernels();
  if (!bk) return null;
  // Whole rows at a time (whole vectors for a scalar), about STREAM_CHUNK
  // elements, so the copies and the kernel stay in cache.
  const width = scalar ? 4 : cols;
  const chunk = Math.min(
    Math.max(1, Math.floor(STREAM_CHUNK / width)) * width,
    Math.ceil(n / width) * width,
  );
  const rowBytes = width * 4;
  // x's chunk | the row
  bk.scratch.reserve(4 * chunk + rowBytes);
  const mem = bk.scratch.floats;
  if (scalar) mem.fill(rd[r.offset]!, chunk, chunk + 4);
  else mem.set(rd.subarray(r.offset, r.offset + cols), chunk);
  const kernel = bk.k[left ? `${op}Left` : op]!;
  const out = emptyArray("float32", n) as Float32Array;
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    mem.set(xd.subarray(x.offset + s, x.offset + s + m), 0);
    kernel(0, 4 * chunk, Math.ceil(m / 4) * 16, rowBytes);
    out.set(mem.subarray(0, m), s);
  }
  return out;
}
