// The wasm emitter's encodings: LEB128 constants of every width and sign,
// control flow, locals and the SIMD prefix, checked by running the modules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { F32, I32, ModuleBuilder, V128 } from "../../src/backend/cpu/wasm/emitter.js";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";

function instantiate(m: ModuleBuilder): Record<string, (...args: number[]) => number> {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const mod = new WebAssembly.Module(m.bytes({ pages: 1 }) as BufferSource);
  return new WebAssembly.Instance(mod, { env: { memory } }).exports as never;
}

test("i32 constants round-trip through signed LEB128", () => {
  const values = [
    0,
    1,
    -1,
    63,
    64,
    -64,
    -65,
    127,
    128,
    8191,
    -8192,
    2 ** 20,
    -(2 ** 20),
    2 ** 31 - 1,
    -(2 ** 31),
  ];
  const m = new ModuleBuilder();
  for (const [i, v] of values.entries()) m.func(`c${i}`, [], ["i32"], (c) => c.i32Const(v));
  const e = instantiate(m);
  for (const [i, v] of values.entries()) assert.equal(e[`c${i}`]!(), v);
});

test("loops, locals and branches: sum of 0..n-1 by steps", () => {
  const m = new ModuleBuilder().func("sum", ["i32", "i32"], ["i32"], (c) => {
    const i = c.local("i32");
    const s = c.local("i32");
    c.for(
      i,
      () => c.i32Const(0),
      () => c.localGet(0),
      1,
      () => {
        c.localGet(i)
          .localGet(1)
          .op(I32.ltS)
          .if(() => c.inc(s, () => c.localGet(i)));
      },
    );
    c.localGet(s);
  });
  const { sum } = instantiate(m);
  assert.equal(sum!(10, 100), 45);
  assert.equal(sum!(10, 5), 10);
  assert.equal(sum!(0, 5), 0);
});

test("SIMD: f32x4 splat-multiply-add over memory", {
  skip: !wasmFeatures().simd && "no SIMD",
}, () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const m = new ModuleBuilder().func("axpy", ["i32", "i32"], [], (c) => {
    // mem[16..] = mem[0..]*splat(mem[p]) + mem[16..], one vector
    c.i32Const(16)
      .i32Const(0)
      .simdMem(V128.load)
      .localGet(0)
      .simdMem(V128.load32Splat, 0, 2)
      .simd(V128.f32x4Mul);
    c.i32Const(16).simdMem(V128.load).simd(V128.f32x4Add).simdMem(V128.store);
    c.localGet(1).localGet(0).mem(F32.load).mem(F32.store);
  });
  const mod = new WebAssembly.Module(m.bytes({ pages: 1 }) as BufferSource);
  const { axpy } = new WebAssembly.Instance(mod, { env: { memory } }).exports as {
    axpy: (p: number, q: number) => void;
  };
  const f = new Float32Array(memory.buffer);
  f.set([1, 2, 3, 4, 10, 20, 30, 40, 3]);
  axpy(32, 64);
  assert.deepEqual(Array.from(f.subarray(4, 8)), [13, 26, 39, 52]);
  assert.equal(f[16], 3);
});
