/**
 * A small WebAssembly binary emitter: just enough of the format (types, one
 * imported memory, functions, exports) and of the instruction set (i32
 * arithmetic, control flow, f32 and SIMD128 loads, stores and arithmetic) to
 * write the CPU backend's fast kernels from TypeScript. Kernels are emitted
 * at run time, so they can be specialized (tile sizes, relaxed SIMD) to the
 * runtime that loads them; no binary is checked in.
 *
 * @example
 * const m = new ModuleBuilder();
 * m.func("add1", ["i32"], ["i32"], (c) => c.localGet(0).i32Const(1).op(I32.add));
 * const { exports } = new WebAssembly.Instance(new WebAssembly.Module(m.bytes({ pages: 1 })), { env: { memory } });
 */

export type ValType = "i32" | "f32" | "v128";

const VALTYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

/** Plain (one-byte) opcodes used by the kernels. */
export const I32 = {
  eqz: 0x45,
  eq: 0x46,
  ne: 0x47,
  ltS: 0x48,
  ltU: 0x49,
  gtS: 0x4a,
  leS: 0x4c,
  geS: 0x4e,
  add: 0x6a,
  sub: 0x6b,
  mul: 0x6c,
  and: 0x71,
  shl: 0x74,
  shrU: 0x76,
  load: 0x28,
  store: 0x36,
} as const;

export const F32 = {
  const0: [0x43, 0, 0, 0, 0],
  load: 0x2a,
  store: 0x38,
  eq: 0x5b,
  add: 0x92,
  sub: 0x93,
  mul: 0x94,
} as const;

export const F64 = {
  promoteF32: 0xbb,
} as const;

/** select: the first of two values if the i32 on top is non-zero, else the second. */
export const SELECT = 0x1b;

/** SIMD opcodes (after the 0xfd prefix). */
export const V128 = {
  load: 0x00,
  load32Splat: 0x09,
  load64Splat: 0x0a,
  store: 0x0b,
  const: 0x0c,
  f32x4Splat: 0x13,
  f32x4Add: 0xe4,
  f32x4Mul: 0xe6,
  /** relaxed SIMD: a*b+c, fused where the hardware has it. */
  f32x4RelaxedMadd: 0x105,
  // For the vector math kernels (vmath.ts).
  v128And: 0x4e,
  v128Bitselect: 0x52,
  f32x4Lt: 0x43,
  f32x4Nearest: 0x6a,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Sqrt: 0xe3,
  f32x4Sub: 0xe5,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  i32x4TruncSatF32x4S: 0xf8,
  // For max pooling (pool2x2.ts).
  i8x16Shuffle: 0x0d,
  i32x4Splat: 0x11,
  i32x4Eq: 0x37,
  f32x4Ne: 0x42,
  f32x4Gt: 0x44,
  v128Or: 0x50,
  v128AnyTrue: 0x53,
  f32x4Pmax: 0xeb,
  // For the row kernels (rows.ts), GELU (gelu.ts) and cross-entropy's row shift (vmath.ts).
  f64x2Splat: 0x14,
  f32x4ExtractLane: 0x1f,
  f32x4Le: 0x45,
  f32x4Ge: 0x46,
  v128Andnot: 0x4f,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  f32x4Pmin: 0xea,
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  f64x2ConvertLowI32x4S: 0xfe,
  // For the attention softmax rows (softmax_rows.ts).
  i32x4LtS: 0x39,
  // For the comparisons and where (compare.ts): masks narrowed to bytes and widened back.
  i8x16Splat: 0x0f,
  i8x16Eq: 0x23,
  f32x4Eq: 0x41,
  i8x16NarrowI16x8S: 0x65,
  i16x8NarrowI32x4S: 0x85,
  i16x8ExtendLowI8x16S: 0x87,
  i16x8ExtendHighI8x16S: 0x88,
  i32x4ExtendLowI16x8S: 0xa7,
  i32x4ExtendHighI16x8S: 0xa8,
} as const;

function uleb(out: number[], v: number): void {
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

function sleb(out: number[], v: number): void {
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

/** The body of one function, written as a stack-machine instruction list. */
export class Code {
  readonly body: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(private readonly nparams: number) {}

  /** Declares a local and returns its index. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.nparams + this.locals.length - 1;
  }

  op(...bytes: number[]): this {
    this.body.push(...bytes);
    return this;
  }
  simd(opcode: number): this {
    this.body.push(0xfd);
    uleb(this.body, opcode);
    return this;
  }
  /** A SIMD memory access with byte offset `offset`; alignment given as log2 bytes. */
  simdMem(opcode: number, offset = 0, alignLog2 = 4): this {
    this.simd(opcode);
    uleb(this.body, alignLog2);
    uleb(this.body, offset);
    return this;
  }
  mem(opcode: number, offset = 0, alignLog2 = 2): this {
    this.body.push(opcode);
    uleb(this.body, alignLog2);
    uleb(this.body, offset);
    return this;
  }
  i32Const(v: number): this {
    this.body.push(0x41);
    sleb(this.body, v | 0);
    return this;
  }
  /** A v128 constant holding `v` (rounded to float32) in all four lanes. */
  f32x4Const(v: number): this {
    this.simd(V128.const);
    const lane = new Uint8Array(new Float32Array([v]).buffer);
    for (let i = 0; i < 4; i++) this.body.push(...lane);
    return this;
  }
  f32x4Zero(): this {
    this.simd(V128.const);
    for (let i = 0; i < 16; i++) this.body.push(0);
    return this;
  }
  localGet(i: number): this {
    this.body.push(0x20);
    uleb(this.body, i);
    return this;
  }
  localSet(i: number): this {
    this.body.push(0x21);
    uleb(this.body, i);
    return this;
  }
  localTee(i: number): this {
    this.body.push(0x22);
    uleb(this.body, i);
    return this;
  }
  /** local[i] += delta (i32). */
  inc(i: number, delta: number | (() => void)): this {
    this.localGet(i);
    if (typeof delta === "number") this.i32Const(delta);
    else delta();
    return this.op(I32.add).localSet(i);
  }
  block(body: () => void): this {
    this.body.push(0x02, 0x40);
    body();
    this.body.push(0x0b);
    return this;
  }
  loop(body: () => void): this {
    this.body.push(0x03, 0x40);
    body();
    this.body.push(0x0b);
    return this;
  }
  /** if … else … end; `result` types the value both arms leave (none by default). */
  if(body: () => void, otherwise?: () => void, result?: ValType): this {
    this.body.push(0x04, result ? VALTYPE[result] : 0x40);
    body();
    if (otherwise) {
      this.body.push(0x05);
      otherwise();
    }
    this.body.push(0x0b);
    return this;
  }
  br(depth: number): this {
    this.body.push(0x0c);
    uleb(this.body, depth);
    return this;
  }
  brIf(depth: number): this {
    this.body.push(0x0d);
    uleb(this.body, depth);
    return this;
  }
  /**
   * for (i = start; i < end; i += step) body — `end` and `step` are pushed
   * by callbacks, so they may be locals or constants. The loop is skipped
   * when start >= end.
   */
  for(i: number, start: () => void, end: () => void, step: number, body: () => void): this {
    start();
    this.localSet(i);
    return this.block(() => {
      this.localGet(i);
      end();
      this.op(I32.geS).brIf(0);
      this.loop(() => {
        body();
        this.inc(i, step);
        this.localGet(i);
        end();
        this.op(I32.ltS).brIf(0);
      });
    });
  }

  /** The function body with its local declarations, as the code section wants it. */
  encode(): number[] {
    const out: number[] = [];
    const groups: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(out, groups.length);
    for (const [n, t] of groups) {
      uleb(out, n);
      out.push(VALTYPE[t]);
    }
    out.push(...this.body, 0x0b);
    const sized: number[] = [];
    uleb(sized, out.length);
    return sized.concat(out);
  }
}

interface Func {
  name: string;
  params: ValType[];
  results: ValType[];
  code: Code;
}

/** Pushes local v (float32 × 4) with its high two lanes moved down into the low half. */
export function highHalf(c: Code, v: number): Code {
  c.localGet(v).localGet(v).simd(V128.i8x16Shuffle);
  return c.op(8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
}

/** Pushes the doubles (f64x2) of local v's low (half 0) or high (half 1) two float32 lanes. */
export function widenHalf(c: Code, v: number, half: number): Code {
  if (half === 0) c.localGet(v);
  else highHalf(c, v);
  return c.simd(V128.f64x2PromoteLowF32x4);
}

/** for (i = 0; i < local/param `end`; i += 16) body(i): a loop over the 16-byte vectors of `end` bytes. */
export function forVectors(c: Code, end: number, body: (i: number) => void): void {
  const i = c.local("i32");
  c.for(
    i,
    () => c.i32Const(0),
    () => c.localGet(end),
    16,
    () => body(i),
  );
}

/** Pushes the address param/local `p` + local `i`. */
export function addressOf(c: Code, p: number, i: number): Code {
  return c.localGet(p).localGet(i).op(I32.add);
}

/** A module with one imported memory (`env.memory`) and exported functions. */
export class ModuleBuilder {
  private readonly funcs: Func[] = [];

  func(name: string, params: ValType[], results: ValType[], write: (c: Code) => void): this {
    const code = new Code(params.length);
    write(code);
    this.funcs.push({ name, params, results, code });
    return this;
  }

  /** The module's bytes; `shared` declares the memory shared (threads), which requires `maxPages`. */
  bytes(memory: { pages: number; maxPages?: number; shared?: boolean }): Uint8Array {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, content: number[]) => {
      out.push(id);
      uleb(out, content.length);
      out.push(...content);
    };
    const vec = (items: number[][]) => {
      const v: number[] = [];
      uleb(v, items.length);
      for (const it of items) v.push(...it);
      return v;
    };
    const name = (s: string) => {
      const b = [...new TextEncoder().encode(s)];
      const v: number[] = [];
      uleb(v, b.length);
      return v.concat(b);
    };
    section(
      1,
      vec(
        this.funcs.map((f) => [
          0x60,
          ...vec(f.params.map((p) => [VALTYPE[p]])),
          ...vec(f.results.map((r) => [VALTYPE[r]])),
        ]),
      ),
    );
    const limits: number[] = [];
    if (memory.maxPages !== undefined) {
      limits.push(memory.shared ? 0x03 : 0x01);
      uleb(limits, memory.pages);
      uleb(limits, memory.maxPages);
    } else {
      limits.push(0x00);
      uleb(limits, memory.pages);
    }
    section(2, vec([[...name("env"), ...name("memory"), 0x02, ...limits]]));
    section(
      3,
      vec(
        this.funcs.map((_, i) => {
          const v: number[] = [];
          uleb(v, i);
          return v;
        }),
      ),
    );
    section(
      7,
      vec(
        this.funcs.map((f, i) => {
          const v = [...name(f.name), 0x00];
          uleb(v, i);
          return v;
        }),
      ),
    );
    section(10, vec(this.funcs.map((f) => f.code.encode())));
    return new Uint8Array(out);
  }
}
