import { type Code, I32, ModuleBuilder, V128 } from "./emitter.js";
import { type Regs, regs, vexp } from "./vmath.js";

// The LSTM cell (src/backend/cpu/rnn.ts lstmCell and its adjoint) on
// WebAssembly SIMD, four lanes at a time, over operands that already sit in
// a GEMM's memory: the recurrent layer (lstmSequence) runs each step's
// h·W_hhᵀ and then the cell on the gates where the GEMM wrote them, with
// no pass through JS arrays in between. σ(x) = 1/(1 + e^−x) and
// tanh x = 2/(1 + e^−2x) − 1 on vmath's vector exp. Rows are H floats with
// H a multiple of 4 (the caller keeps the JS cell for other sizes).

/** Byte-address kernels over the memory they were instantiated on. */
export interface LstmCellExports {
  /**
   * lstmCell(gates, c, h1, c1, act, rows, hBytes): gates [rows, 4H] (the
   * pre-activations i, f, g, o), c [rows, H] in; h', c' [rows, H] and act
   * [rows, 5H] (σi, σf, tanh g, σo, tanh c') out. c1 may be c.
   */
  lstmCell(
    gates: number,
    c: number,
    h1: number,
    c1: number,
    act: number,
    rows: number,
    hBytes: number,
  ): void;
  /**
   * lstmCellBackward(dhOut, dhNext, dc, act, cPrev, dgates, rows, hBytes):
   * dh = dhOut + dhNext and dc (updated in place to the previous c's
   * gradient) [rows, H], act [rows, 5H], cPrev [rows, H] in; dgates
   * [rows, 4H] out.
   */
  lstmCellBackward(
    dhOut: number,
    dhNext: number,
    dc: number,
    act: number,
    cPrev: number,
    dgates: number,
    rows: number,
    hBytes: number,
  ): void;
}

/** Pushes the v128 at byte address local `base` + local `j` (+ local `off`). */
function loadAt(c: Code, base: number, j: number, off: number | null): void {
  c.localGet(base).localGet(j).op(I32.add);
  if (off !== null) c.localGet(off).op(I32.add);
  c.simdMem(V128.load, 0, 4);
}

/** Pushes the address local `base` + local `j` (+ local `off`) for a store. */
function addr(c: Code, base: number, j: number, off: number | null): void {
  c.localGet(base).localGet(j).op(I32.add);
  if (off !== null) c.localGet(off).op(I32.add);
}

/** Sets local `out` to 1/(1 + e^(scale·x)) for local x (σ(x) with scale −1). */
function recip1pExp(c: Code, x: number, scale: number, out: number, r: Regs): void {
  c.localGet(x).f32x4Const(scale).simd(V128.f32x4Mul).localSet(x);
  c.f32x4Const(1);
  vexp(c, x, r);
  c.f32x4Const(1).simd(V128.f32x4Add).simd(V128.f32x4Div).localSet(out);
}

/** Sets local `out` to tanh(local x), as 2/(1 + e^−2x) − 1. */
function tanhOf(c: Code, x: number, out: number, r: Regs): void {
  recip1pExp(c, x, -2, out, r);
  c.localGet(out).f32x4Const(2).simd(V128.f32x4Mul).f32x4Const(1).simd(V128.f32x4Sub).localSet(out);
}

/** 1 − x·x of local x, pushed. */
function oneMinusSq(c: Code, x: number): void {
  c.f32x4Const(1).localGet(x).localGet(x).simd(V128.f32x4Mul).simd(V128.f32x4Sub);
}

/** x·(1 − x) of local x, pushed. */
function sigmoidSlope(c: Code, x: number): void {
  c.localGet(x).f32x4Const(1).localGet(x).simd(V128.f32x4Sub).simd(V128.f32x4Mul);
}

/** Sets locals h2, h3, h4, h5 to 2, 3, 4, 5 times local hB. */
function multiples(c: Code, hB: number): number[] {
  return [2, 3, 4, 5].map((k) => {
    const l = c.local("i32");
    c.localGet(hB).i32Const(k).op(I32.mul).localSet(l);
    return l;
  });
}

function forward(c: Code): void {
  const [gates, cin, h1, c1, act, rows, hB] = [0, 1, 2, 3, 4, 5, 6];
  const [h2, h3, h4, h5] = multiples(c, hB) as [number, number, number, number];
  const n = c.local("i32");
  const j = c.local("i32");
  const [x, i, f, g, o, cn, tc] = Array.from({ length: 7 }, () => c.local("v128"));
  const r = regs(c);
  c.for(
    n,
    () => c.i32Const(0),
    () => c.localGet(rows),
    1,
    () => {
      c.for(
        j,
        () => c.i32Const(0),
        () => c.localGet(hB),
        16,
        () => {
          loadAt(c, gates, j, null);
          c.localSet(x);
          recip1pExp(c, x, -1, i!, r);
          loadAt(c, gates, j, hB);
          c.localSet(x);
          recip1pExp(c, x, -1, f!, r);
          loadAt(c, gates, j, h2);
          c.localSet(x);
          tanhOf(c, x, g!, r);
          loadAt(c, gates, j, h3);
          c.localSet(x);
          recip1pExp(c, x, -1, o!, r);
          // c' = f·c + i·g
          c.localGet(f!);
          loadAt(c, cin, j, null);
          c.simd(V128.f32x4Mul)
            .localGet(i!)
            .localGet(g!)
            .simd(V128.f32x4Mul)
            .simd(V128.f32x4Add)
            .localSet(cn!);
          addr(c, c1, j, null);
          c.localGet(cn!).simdMem(V128.store, 0, 4);
          c.localGet(cn!).localSet(x);
          tanhOf(c, x, tc!, r);
          addr(c, h1, j, null);
          c.localGet(o!).localGet(tc!).simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
          for (const [v, off] of [
            [i, null],
            [f, hB],
            [g, h2],
            [o, h3],
            [tc, h4],
          ] as [number, number | null][]) {
            addr(c, act, j, off);
            c.localGet(v).simdMem(V128.store, 0, 4);
          }
        },
      );
      c.inc(gates, () => c.localGet(h4));
      c.inc(cin, () => c.localGet(hB));
      c.inc(h1, () => c.localGet(hB));
      c.inc(c1, () => c.localGet(hB));
      c.inc(act, () => c.localGet(h5));
    },
  );
}

function backward(c: Code): void {
  const [dhOut, dhNext, dc, act, cPrev, dgates, rows, hB] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [h2, h3, h4, h5] = multiples(c, hB) as [number, number, number, number];
  const n = c.local("i32");
  const j = c.local("i32");
  const [dh, i, f, g, o, tc, dcn] = Array.from({ length: 7 }, () => c.local("v128"));
  const load = (base: number, off: number | null, into: number) => {
    loadAt(c, base, j, off);
    c.localSet(into);
  };
  c.for(
    n,
    () => c.i32Const(0),
    () => c.localGet(rows),
    1,
    () => {
      c.for(
        j,
        () => c.i32Const(0),
        () => c.localGet(hB),
        16,
        () => {
          loadAt(c, dhOut, j, null);
          loadAt(c, dhNext, j, null);
          c.simd(V128.f32x4Add).localSet(dh!);
          load(act, null, i!);
          load(act, hB, f!);
          load(act, h2, g!);
          load(act, h3, o!);
          load(act, h4, tc!);
          // dc' = dc + dh·o·(1 − tanh²c')
          loadAt(c, dc, j, null);
          c.localGet(dh!).localGet(o!).simd(V128.f32x4Mul);
          oneMinusSq(c, tc!);
          c.simd(V128.f32x4Mul).simd(V128.f32x4Add).localSet(dcn!);
          addr(c, dgates, j, null);
          c.localGet(dcn!).localGet(g!).simd(V128.f32x4Mul);
          sigmoidSlope(c, i!);
          c.simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
          addr(c, dgates, j, hB);
          c.localGet(dcn!);
          loadAt(c, cPrev, j, null);
          c.simd(V128.f32x4Mul);
          sigmoidSlope(c, f!);
          c.simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
          addr(c, dgates, j, h2);
          c.localGet(dcn!).localGet(i!).simd(V128.f32x4Mul);
          oneMinusSq(c, g!);
          c.simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
          addr(c, dgates, j, h3);
          c.localGet(dh!).localGet(tc!).simd(V128.f32x4Mul);
          sigmoidSlope(c, o!);
          c.simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
          addr(c, dc, j, null);
          c.localGet(dcn!).localGet(f!).simd(V128.f32x4Mul).simdMem(V128.store, 0, 4);
        },
      );
      c.inc(dhOut, () => c.localGet(hB));
      c.inc(dhNext, () => c.localGet(hB));
      c.inc(dc, () => c.localGet(hB));
      c.inc(act, () => c.localGet(h5));
      c.inc(cPrev, () => c.localGet(hB));
      c.inc(dgates, () => c.localGet(h4));
    },
  );
}

/** The module's bytes, importing a non-shared memory. */
export function lstmCellModule(): Uint8Array {
  const m = new ModuleBuilder();
  m.func("lstmCell", ["i32", "i32", "i32", "i32", "i32", "i32", "i32"], [], forward);
  m.func(
    "lstmCellBackward",
    ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"],
    [],
    backward,
  );
  return m.bytes({ pages: 1 });
}

let compiled: WebAssembly.Module | null = null;
const instances = new WeakMap<WebAssembly.Memory, LstmCellExports>();

/** The kernels over `memory` (a GEMM's non-shared scratch memory), compiled once. */
export function lstmCellKernels(memory: WebAssembly.Memory): LstmCellExports {
  let k = instances.get(memory);
  if (!k) {
    compiled ??= new WebAssembly.Module(lstmCellModule() as BufferSource);
    k = new WebAssembly.Instance(compiled, { env: { memory } })
      .exports as unknown as LstmCellExports;
    instances.set(memory, k);
  }
  return k;
}
