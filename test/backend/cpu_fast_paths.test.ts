import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BINARY } from "../../src/backend/cpu/elementwise.js";
import type { CpuStorage } from "../../src/backend/cpu/storage.js";
import * as fl from "../../src/index.js";

// The CPU kernels' fast paths (contiguous loops, broadcast rows, written-out
// row loops, the float32 erf, plain-walk sums) against an element-by-element
// reference that reads the raw storage through each view's strides.

/** Row-major elements of t, read from its storage one index at a time. */
function elements(t: fl.Tensor): number[] {
  const data = (t.storage as CpuStorage).data;
  const out: number[] = [];
  const idx = new Array<number>(t.ndim).fill(0);
  const n = t.numel();
  for (let k = 0; k < n; k++) {
    let off = t.offset;
    for (let d = 0; d < t.ndim; d++) off += idx[d]! * t.strides[d]!;
    out.push(Number(data[off]));
    for (let d = t.ndim - 1; d >= 0; d--) {
      if (++idx[d]! < t.shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

let seed = 1;
function rnd(): number {
  seed = (Math.imul(seed, 48271) + 11) >>> 0;
  return seed / 4294967296;
}
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** A random [m, n] operand in one of several layouts: contiguous, transposed, strided slice, offset. */
function operand(m: number, n: number, dtype: "float32" | "float64"): fl.Tensor {
  const kind = pick(["contiguous", "transposed", "sliced", "offset"]);
  if (kind === "transposed") return fl.randn([n, m], { dtype }).t();
  if (kind === "sliced") return fl.randn([m, 2 * n + 1], { dtype }).index(":, 1::2");
  if (kind === "offset") return fl.randn([m + 1, n], { dtype }).narrow(0, 1, m);
  return fl.randn([m, n], { dtype });
}

/** The right operand: the same shape, or a broadcast row, column or scalar. */
function other(m: number, n: number, dtype: "float32" | "float64"): fl.Tensor {
  const kind = pick(["same", "row", "column", "scalar", "expanded"]);
  if (kind === "row") return fl.randn([n], { dtype });
  if (kind === "column") return fl.randn([m, 1], { dtype });
  if (kind === "scalar") return fl.randn([], { dtype });
  if (kind === "expanded") return fl.randn([1, n], { dtype }).expand([m, n]);
  return operand(m, n, dtype);
}

const round = (dtype: string, v: number) => (dtype === "float32" ? Math.fround(v) : v);

describe("CPU elementwise fast paths match the per-element reference", () => {
  const ops = ["add", "sub", "mul", "div", "gt", "maximum", "pow", "minimum", "eq"] as const;
  for (const dtype of ["float32", "float64"] as const) {
    test(`binary ops on random layouts (${dtype})`, () => {
      for (let trial = 0; trial < 120; trial++) {
        const m = pick([1, 2, 3, 7, 16, 33]);
        const n = pick([1, 5, 8, 13, 64]);
        const a = operand(m, n, dtype);
        const b = other(m, n, dtype);
        const op = ops[trial % ops.length]!;
        const fn = (a as unknown as Record<string, (x: fl.Tensor) => fl.Tensor>)[op]!.bind(a);
        const y = fn(b);
        const bb = b.expand([m, n]);
        const av = elements(a);
        const bv = elements(bb);
        const want = av.map((x, i) => round(dtype, BINARY[op](x, bv[i]!)));
        const got = elements(y);
        assert.equal(got.length, want.length);
        got.forEach((g, i) => {
          assert.ok(
            Object.is(g, want[i]) || g === want[i],
            `${op} [${m},${n}] at ${i}: ${g} != ${want[i]}`,
          );
        });
      }
    });
  }

  test("unary ops on strided views", () => {
    for (const op of ["relu", "neg", "exp", "sqrt", "tanh"] as const) {
      const a = operand(7, 13, "float32").abs();
      const x = operand(7, 13, "float32");
      const src = op === "sqrt" ? a : x;
      const y = (src as unknown as Record<string, () => fl.Tensor>)[op]!.call(src);
      const f: Record<string, (v: number) => number> = {
        relu: (v) => (v > 0 ? v : 0),
        neg: (v) => -v,
        exp: Math.exp,
        sqrt: Math.sqrt,
        tanh: Math.tanh,
      };
      assert.deepEqual(
        elements(y),
        elements(src).map((v) => Math.fround(f[op]!(v))),
      );
    }
  });

  test("float32 erf is within float32 rounding of the float64 one", () => {
    const x = fl.linspace(-6, 6, 20001, { dtype: "float64" });
    const exact = elements(x.erf());
    const fast = elements(x.float().erf());
    exact.forEach((e, i) => {
      const tol = 2.5e-7 * Math.abs(e) + 1e-30;
      assert.ok(Math.abs(fast[i]! - e) <= tol, `erf(${elements(x)[i]}): ${fast[i]} vs ${e}`);
    });
  });
});

describe("CPU sum fast paths match the per-element reference", () => {
  test("sums over random dims of random layouts", () => {
    for (let trial = 0; trial < 60; trial++) {
      const shape = [pick([1, 3, 4]), pick([2, 5, 7]), pick([1, 6, 9])];
      let x = fl.randn(shape, { dtype: "float64" });
      if (trial % 3 === 1) x = x.permute([2, 0, 1]);
      if (trial % 3 === 2)
        x = fl
          .randn([shape[0]!, shape[1]!, 2 * shape[2]!], { dtype: "float64" })
          .index(":, :, ::2");
      const dimsChoices = [[0], [1], [2], [0, 1], [1, 2], [0, 2], [0, 1, 2]];
      const dims = dimsChoices[trial % dimsChoices.length]!;
      const y = x.sum(dims);
      // Reference: accumulate each element into its kept index, in row-major order.
      const xs = elements(x);
      const keptShape = x.shape.filter((_, d) => !dims.includes(d));
      const want = new Array<number>(keptShape.reduce((p, q) => p * q, 1)).fill(0);
      const idx = new Array<number>(x.ndim).fill(0);
      for (let k = 0; k < xs.length; k++) {
        let o = 0;
        for (let d = 0; d < x.ndim; d++) if (!dims.includes(d)) o = o * x.shape[d]! + idx[d]!;
        want[o] += xs[k]!;
        for (let d = x.ndim - 1; d >= 0; d--) {
          if (++idx[d]! < x.shape[d]!) break;
          idx[d] = 0;
        }
      }
      const got = elements(y);
      got.forEach((g, i) => {
        assert.ok(
          Math.abs(g - want[i]!) <= 1e-12 * (1 + Math.abs(want[i]!)),
          `sum ${dims} of ${x.shape}`,
        );
      });
    }
  });
});
