// float32 binary ops with a broadcast or strided operand: the SIMD kernels
// for tensor ∘ scalar and rows ∘ repeated row (src/backend/cpu/wasm/broadcast.ts),
// the monomorphic float32 row loops (src/backend/cpu/binary_f32.ts) and
// pow(x, 2) as x·x, each against the generic loops (both switched off),
// which stay the reference: the same bits for every case, including NaN,
// ±inf, −0, narrowed views at offsets, sizes that are not whole vectors,
// and empty tensors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setBinaryF32Rows } from "../../src/backend/cpu/binary_f32.js";
import { BROADCAST_SIMD_MIN, setBroadcastKernels } from "../../src/backend/cpu/wasm/broadcast.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";

const random = seededRandom(17);

const SPECIALS = [0, -0, Infinity, -Infinity, Number.NaN, 1e-40, -3e38, 3e38, 1, -1];

/** A [rows, cols] float32 tensor of random values with specials mixed in, as a view at an offset. */
function values(rows: number, cols: number): fl.Tensor {
  const n = (rows + 1) * cols;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++)
    a[i] = random() < 0.1 ? SPECIALS[i % SPECIALS.length]! : (random() - 0.5) * 8;
  // Row 0 dropped: the view starts at an offset.
  return fl
    .tensor(a)
    .reshape([rows + 1, cols])
    .narrow(0, 1, rows);
}

/** f's result with the fast paths switched off (the reference) and on, as arrays. */
function both(f: () => fl.Tensor): [ArrayLike<number>, ArrayLike<number>, fl.Tensor] {
  const was = [setBroadcastKernels(false), setBinaryF32Rows(false)] as const;
  let want: ArrayLike<number>;
  try {
    want = f().dataSync();
  } finally {
    setBroadcastKernels(was[0]);
    setBinaryF32Rows(was[1]);
  }
  const t = f();
  return [want, t.dataSync(), t];
}

function sameBits(name: string, want: ArrayLike<number>, got: ArrayLike<number>): void {
  assert.equal(got.length, want.length, name);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i])) assert.fail(`${name} i=${i}: ${got[i]} != ${want[i]}`);
}

const ARITH = ["add", "sub", "mul", "div"] as const;
const OTHER = ["maximum", "minimum", "gt", "lt", "ge", "le", "eq", "ne"] as const;
type Op = (typeof ARITH)[number] | (typeof OTHER)[number];
const call = (op: Op, a: fl.TensorLike, b: fl.TensorLike) =>
  (fl as unknown as Record<Op, (a: fl.TensorLike, b: fl.TensorLike) => fl.Tensor>)[op](a, b);

// [rows, cols]: whole vectors, odd widths (the scalar loop's rows), above and below the SIMD size,
// and more than one streaming chunk (STREAM_CHUNK elements) with a partial last one.
const SHAPES = [
  [64, 64],
  [41, 1000],
  [33, 128],
  [97, 61],
  [5, 4099],
  [3, 5],
  [0, 8],
] as const;

describe("broadcast float32 binary ops", () => {
  test("the SIMD kernels cover scalars and rows above their size", () => {
    assert.ok(64 * 64 >= BROADCAST_SIMD_MIN);
  });

  for (const op of [...ARITH, ...OTHER]) {
    test(`${op}: tensor ∘ scalar, scalar ∘ tensor, rows ∘ row and row ∘ rows give the reference's bits`, () => {
      for (const [rows, cols] of SHAPES) {
        const x = values(rows, cols);
        const row = values(1, cols).reshape([cols]);
        const col = values(rows, 1);
        for (const s of [2, -0.5, 0, -0, Number.NaN, Infinity, 3e-39]) {
          const [w1, g1, t1] = both(() => call(op, x, s));
          sameBits(`${op}(x[${rows},${cols}], ${s})`, w1, g1);
          assert.deepEqual(t1.shape, [rows, cols]);
          const [w2, g2] = both(() => call(op, s, x));
          sameBits(`${op}(${s}, x[${rows},${cols}])`, w2, g2);
        }
        const [w3, g3] = both(() => call(op, x, row));
        sameBits(`${op}(x[${rows},${cols}], row)`, w3, g3);
        const [w4, g4] = both(() => call(op, row, x));
        sameBits(`${op}(row, x[${rows},${cols}])`, w4, g4);
        // A column over the rows, and a transposed (strided) operand.
        const [w5, g5] = both(() => call(op, x, col));
        sameBits(`${op}(x[${rows},${cols}], col)`, w5, g5);
        const xt = values(cols, rows).t();
        const [w6, g6] = both(() => call(op, xt, x));
        sameBits(`${op}(xᵀ, x)[${rows},${cols}]`, w6, g6);
      }
    });
  }

  test("the reference is the IEEE float32 result, and comparisons stay bool", () => {
    const x = values(64, 64);
    const xd = x.dataSync() as Float32Array;
    const f = {
      add: (a: number, b: number) => a + b,
      sub: (a: number, b: number) => a - b,
      mul: (a: number, b: number) => a * b,
      div: (a: number, b: number) => a / b,
    };
    for (const op of ARITH) {
      const y = call(op, x, 0.3).dataSync();
      const z = call(op, 0.3, x).dataSync();
      const s = Math.fround(0.3);
      for (let i = 0; i < xd.length; i++) {
        assert.ok(Object.is(y[i], Math.fround(f[op](xd[i]!, s))), `${op} ${xd[i]}`);
        assert.ok(Object.is(z[i], Math.fround(f[op](s, xd[i]!))), `${op} ${xd[i]}`);
      }
    }
    const g = x.gt(0);
    assert.equal(g.dtype, "bool");
    const gd = g.dataSync();
    assert.ok(gd instanceof Uint8Array);
    for (let i = 0; i < xd.length; i++) assert.equal(gd[i], +(xd[i]! > 0));
  });

  test("pow(x, 2) is x·x with Math.pow's bits; other exponents stay Math.pow", () => {
    const n = 1 << 16;
    const a = new Float32Array(n);
    const ai = new Int32Array(a.buffer);
    // Spread over every exponent: random bit patterns (denormals, huge, NaN), then specials.
    for (let i = 0; i < n; i++) ai[i] = (random() * 2 ** 32) | 0;
    a.set(SPECIALS);
    const x = fl.tensor(a);
    for (const e of [2, 0.5, 3, -1, 2.0000001]) {
      const [want, got] = both(() => x.pow(e));
      sameBits(`pow(x, ${e})`, want, got);
      const ef = Math.fround(e);
      for (let i = 0; i < n; i++)
        if (!Object.is(got[i], Math.fround(a[i]! ** ef)))
          assert.fail(`pow(${a[i]}, ${e}) = ${got[i]}, want ${Math.fround(a[i]! ** ef)}`);
    }
    // The gradient is untouched: 2x.
    const v = fl.tensor([1.5, -2, 0]).requiresGrad_();
    v.pow(2).sum().backward();
    assert.deepEqual(Array.from(v.grad!.dataSync()), [3, -4, 0]);
  });

  test("empty tensors", () => {
    const x = fl.zeros([0, 4]);
    assert.equal(x.mul(2).dataSync().length, 0);
    assert.equal(x.add(fl.zeros([4])).dataSync().length, 0);
    assert.equal(x.gt(0).dataSync().length, 0);
  });
});
