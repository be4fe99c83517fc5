import { type Code, I32, ModuleBuilder, V128 } from "./emitter.js";
import { Scratch, wasmFeatures } from "./runtime.js";

// 2×2 stride-2 max pooling (LeNet's, and most CNNs') of float32 planes on
// WebAssembly SIMD, four outputs at a time. Which of the four elements
// wins is data-dependent: scalar code (Math.max or if/else) mispredicts a
// branch on most windows of real activations and runs ~10× slower than
// this, which picks with lane masks. The first maximum wins, as in
// PyTorch: pmax(a, b) keeps a unless a < b, and the winner's offset comes
// from the same strict comparisons. NaN is not ordered by them, so the
// kernel only reports whether it saw one and the caller redoes that call
// with the general (NaN-aware) loop.

function i32x4Const(c: Code, lanes: number[]): void {
  c.simd(V128.const);
  for (const b of new Uint8Array(new Int32Array(lanes).buffer)) c.op(b);
}

/** Even float lanes of two vectors (bytes of 0, 2 | 4, 6), or odd ones. */
function deinterleave(c: Code, odd: boolean): void {
  c.simd(V128.i8x16Shuffle);
  for (const lane of [0, 2, 4, 6]) {
    const first = (lane + (odd ? 1 : 0)) * 4;
    for (let b = 0; b < 4; b++) c.op(first + b);
  }
}

/** Parameter positions shared by both kernels: three byte addresses, then the geometry. */
const [P0, P1, P2, PLANES, H, W, OUTW, OUTH, GROUPS] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const PARAMS = ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"] as const;

/**
 * The loops both kernels share: for each plane and output row, `groups`
 * blocks of 4 windows. `block` sees `plane` (byte address of the row's
 * top-left input, from param P0 and advanced 32 per block), `out` (byte
 * offset of the block's outputs, advanced 16) and `rowv` (the plane
 * positions of the 4 windows' top-left elements).
 */
function blocks(c: Code, block: (plane: number, out: number, rowv: number) => void): void {
  const p = c.local("i32");
  const oi = c.local("i32");
  const g = c.local("i32");
  const src = c.local("i32");
  const dst = c.local("i32");
  const rowv = c.local("v128");
  c.for(
    p,
    () => c.i32Const(0),
    () => c.localGet(PLANES),
    1,
    () => {
      c.for(
        oi,
        () => c.i32Const(0),
        () => c.localGet(OUTH),
        1,
        () => {
          // src = P0 + (p·h + 2·oi)·w·4; dst = (p·outH + oi)·outW·4
          c.localGet(P0)
            .localGet(p)
            .localGet(H)
            .op(I32.mul)
            .localGet(oi)
            .i32Const(2)
            .op(I32.mul)
            .op(I32.add)
            .localGet(W)
            .op(I32.mul)
            .i32Const(4)
            .op(I32.mul)
            .op(I32.add)
            .localSet(src);
          c.localGet(p)
            .localGet(OUTH)
            .op(I32.mul)
            .localGet(oi)
            .op(I32.add)
            .localGet(OUTW)
            .op(I32.mul)
            .i32Const(4)
            .op(I32.mul)
            .localSet(dst);
          // 2·oi·w + {0, 2, 4, 6}
          c.localGet(oi).i32Const(2).op(I32.mul).localGet(W).op(I32.mul).simd(V128.i32x4Splat);
          i32x4Const(c, [0, 2, 4, 6]);
          c.simd(V128.i32x4Add).localSet(rowv);
          c.for(
            g,
            () => c.i32Const(0),
            () => c.localGet(GROUPS),
            1,
            () => {
              block(src, dst, rowv);
              c.inc(src, 32).inc(dst, 16);
              c.localGet(rowv);
              i32x4Const(c, [8, 8, 8, 8]);
              c.simd(V128.i32x4Add).localSet(rowv);
            },
          );
        },
      );
    },
  );
}

/** Two vectors' lanes interleaved: (a0 b0 a1 b1) or, for `high`, (a2 b2 a3 b3). */
function interleave(c: Code, high: boolean): void {
  c.simd(V128.i8x16Shuffle);
  for (const lane of high ? [2, 3] : [0, 1]) {
    for (const from of [0, 16]) for (let b = 0; b < 4; b++) c.op(from + lane * 4 + b);
  }
}

/**
 * pool(x, values, indices, planes, h, w, outW, outH, groups) over byte
 * addresses: the first 4·groups windows of each output row; returns 1 if
 * any element read was NaN.
 *
 * unpool(grad, indices, out, …same geometry): the adjoint, for the same
 * windows: each window's 2×2 block of out gets the gradient at its
 * recorded winner and 0 elsewhere, written whole (no scattered adds).
 */
function poolModule(): Uint8Array {
  const m = new ModuleBuilder();
  m.func("pool", [...PARAMS], ["i32"], (c) => {
    const [VALS, IDX] = [P1, P2];
    const [a, b, cc, d, top, bottom] = [0, 1, 2, 3, 4, 5].map(() => c.local("v128"));
    const nan = c.local("v128");
    const mab = c.local("v128");
    const mcd = c.local("v128");
    const rowBytes = c.local("i32");
    const one = () => i32x4Const(c, [1, 1, 1, 1]);
    c.localGet(W).i32Const(4).op(I32.mul).localSet(rowBytes);
    c.f32x4Zero().localSet(nan);
    blocks(c, (src, dst, rowv) => {
      const pair = (below: boolean, even: number, odd: number) => {
        // Two vectors of 4 consecutive elements, split into window columns 0 and 1.
        for (const [lanes, into] of [
          [false, even],
          [true, odd],
        ] as const) {
          for (const off of [0, 16]) {
            c.localGet(src);
            if (below) c.localGet(rowBytes).op(I32.add);
            c.simdMem(V128.load, off, 2);
          }
          deinterleave(c, lanes);
          c.localSet(into);
        }
        for (const v of [even, odd]) {
          c.localGet(nan)
            .localGet(v)
            .localGet(v)
            .simd(V128.f32x4Ne)
            .simd(V128.v128Or)
            .localSet(nan);
        }
      };
      pair(false, a, b);
      pair(true, cc, d);
      c.localGet(b).localGet(a).simd(V128.f32x4Gt).localSet(mab);
      c.localGet(d).localGet(cc).simd(V128.f32x4Gt).localSet(mcd);
      c.localGet(a).localGet(b).simd(V128.f32x4Pmax).localSet(top);
      c.localGet(cc).localGet(d).simd(V128.f32x4Pmax).localSet(bottom);
      // values: pmax(top, bottom), bottom only when strictly larger.
      c.localGet(VALS).localGet(dst).op(I32.add);
      c.localGet(top).localGet(bottom).simd(V128.f32x4Pmax).simdMem(V128.store, 0, 2);
      // indices: rowv + (bottom > top ? w + [d > c] : [b > a])
      c.localGet(IDX).localGet(dst).op(I32.add);
      c.localGet(mcd);
      one();
      c.simd(V128.v128And).localGet(W).simd(V128.i32x4Splat).simd(V128.i32x4Add);
      c.localGet(mab);
      one();
      c.simd(V128.v128And);
      c.localGet(bottom).localGet(top).simd(V128.f32x4Gt).simd(V128.v128Bitselect);
      c.localGet(rowv).simd(V128.i32x4Add).simdMem(V128.store, 0, 2);
    });
    c.localGet(nan).simd(V128.v128AnyTrue);
  });
  m.func("unpool", [...PARAMS], [], (c) => {
    const [G, IDX] = [P1, P2];
    const gv = c.local("v128");
    const iv = c.local("v128");
    const rowBytes = c.local("i32");
    const [tl, tr, bl, br] = [0, 1, 2, 3].map(() => c.local("v128"));
    c.localGet(W).i32Const(4).op(I32.mul).localSet(rowBytes);
    blocks(c, (out, at, rowv) => {
      c.localGet(G).localGet(at).op(I32.add).simdMem(V128.load, 0, 2).localSet(gv);
      c.localGet(IDX).localGet(at).op(I32.add).simdMem(V128.load, 0, 2).localSet(iv);
      // The gradient where the winner is this corner, else 0.
      const corner = (into: number, offset: () => void) => {
        c.localGet(gv).localGet(iv).localGet(rowv);
        offset();
        c.simd(V128.i32x4Add).simd(V128.i32x4Eq).simd(V128.v128And).localSet(into);
      };
      const splat = (k: number | null) => () => {
        if (k === null) c.localGet(W).simd(V128.i32x4Splat);
        else i32x4Const(c, [k, k, k, k]);
      };
      corner(tl, splat(0));
      corner(tr, splat(1));
      corner(bl, splat(null));
      corner(br, () => {
        splat(null)();
        i32x4Const(c, [1, 1, 1, 1]);
        c.simd(V128.i32x4Add);
      });
      for (const [left, right, below] of [
        [tl, tr, false],
        [bl, br, true],
      ] as const) {
        for (const high of [false, true]) {
          c.localGet(out);
          if (below) c.localGet(rowBytes).op(I32.add);
          c.localGet(left).localGet(right);
          interleave(c, high);
          c.simdMem(V128.store, high ? 16 : 0, 2);
        }
      }
    });
  });
  return m.bytes({ pages: 1 });
}

interface PoolExports {
  pool(...args: number[]): number;
  unpool(...args: number[]): void;
}

class Pool2x2 {
  readonly scratch = new Scratch(false, 1);
  readonly k: PoolExports;
  constructor() {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(poolModule() as BufferSource), {
      env: { memory: this.scratch.memory },
    });
    this.k = inst.exports as unknown as PoolExports;
  }
}

let instance: Pool2x2 | null | undefined;

/** Inputs above this many floats (256 MiB) take the TypeScript loop. */
const MAX_FLOATS = 1 << 26;

/**
 * 2×2 stride-2 max pooling of `planes` float32 [h, w] planes of x (from
 * offset xo) into values/indices ([planes, outH, outW], indices the flat
 * plane position of the first maximum), for the first 4·⌊outW/4⌋ columns
 * of each output row; the caller then writes the other columns (the
 * rest of each row holds junk). False (nothing written) without SIMD or
 * when the planes hold a NaN.
 *
 * @example
 * simdMaxPool2x2(x, 0, 6, 24, 24, values, indices); // 12×12 outputs per plane
 */
export function simdMaxPool2x2(
  x: Float32Array,
  xo: number,
  planes: number,
  h: number,
  w: number,
  values: Float32Array,
  indices: Int32Array,
): boolean {
  instance ??= wasmFeatures().simd ? new Pool2x2() : null;
  if (!instance) return false;
  const outH = Math.floor(h / 2);
  const outW = Math.floor(w / 2);
  const groups = Math.floor(outW / 4);
  const n = planes * h * w;
  // Tiny rows gain nothing; huge inputs would grow this memory for good.
  if (groups === 0 || n > MAX_FLOATS) return false;
  const l = planes * outH * outW;
  // Layout, in floats: x | values | indices (each padded to a vector).
  const vAt = Math.ceil(n / 4) * 4;
  const iAt = vAt + Math.ceil(l / 4) * 4;
  instance.scratch.reserve((iAt + l) * 4 + 16);
  const mem = instance.scratch.floats;
  mem.set(x.subarray(xo, xo + n), 0);
  const sawNaN = instance.k.pool(0, vAt * 4, iAt * 4, planes, h, w, outW, outH, groups);
  if (sawNaN) return false;
  values.set(mem.subarray(vAt, vAt + l));
  indices.set(new Int32Array(mem.buffer, iAt * 4, l));
  return true;
}

/**
 * The gradient of simdMaxPool2x2: grad [planes, outH, outW] and its
 * indices into out [planes, h, w] (overwritten), for the windows the
 * forward kernel did; the caller adds the rest. False (nothing written)
 * where the forward kernel would not have run.
 *
 * @example
 * simdMaxPool2x2Backward(grad, indices, 6, 24, 24, out);
 */
export function simdMaxPool2x2Backward(
  grad: Float32Array,
  indices: Int32Array,
  planes: number,
  h: number,
  w: number,
  out: Float32Array,
): boolean {
  instance ??= wasmFeatures().simd ? new Pool2x2() : null;
  if (!instance) return false;
  const outH = Math.floor(h / 2);
  const outW = Math.floor(w / 2);
  const groups = Math.floor(outW / 4);
  const n = planes * h * w;
  if (groups === 0 || n > MAX_FLOATS) return false;
  const l = planes * outH * outW;
  // Layout, in floats: out | grad | indices.
  const gAt = Math.ceil(n / 4) * 4;
  const iAt = gAt + Math.ceil(l / 4) * 4;
  instance.scratch.reserve((iAt + l) * 4 + 16);
  const mem = instance.scratch.floats;
  // What the kernel does not write (rows and columns no window covers, the
  // windows past the last block of 4) must read 0, not an older call's data.
  if (h % 2 !== 0 || w % 2 !== 0 || outW % 4 !== 0) mem.fill(0, 0, n);
  mem.set(grad.subarray(0, l), gAt);
  new Int32Array(mem.buffer, iAt * 4, l).set(indices.subarray(0, l));
  instance.k.unpool(0, gAt * 4, iAt * 4, planes, h, w, outW, outH, groups);
  out.set(mem.subarray(0, n));
  return true;
}
