import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setFastReductions } from "../../src/backend/cpu/reduce_plain.js";
import type { CpuStorage } from "../../src/backend/cpu/storage.js";
import * as fl from "../../src/index.js";

// The table-free reduction walks (runs and columns) against the general
// offset-table loops they skip, on random layouts and special values.

let seed = 7;
function rnd(): number {
  seed = (Math.imul(seed, 48271) + 11) >>> 0;
  return seed / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** Values with ties, zeros of both signs, infinities and (sometimes) NaN. */
function values(n: number, dtype: "float32" | "float64" | "int32", special: boolean): number[] {
  const pool = [0, -0, 1, -1, 2.5, Infinity, -Infinity, Number.NaN, 3, -3];
  return Array.from({ length: n }, () => {
    if (dtype === "int32") return Math.floor(rnd() * 21) - 10;
    if (special && rnd() < 0.15) return pick(pool);
    return Math.round((rnd() * 2 - 1) * 64) / 16;
  });
}

/** A random tensor of `shape` as a contiguous, offset, sliced, transposed or broadcast view. */
function input(
  shape: number[],
  dtype: "float32" | "float64" | "int32",
  special: boolean,
): fl.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const kind = pick(["contiguous", "offset", "sliced", "transposed", "broadcast"]);
  if (kind === "offset") {
    const t = fl.tensor(values(n + 3 * shape[shape.length - 1]!, dtype, special), { dtype });
    return t.narrow(0, 3 * shape[shape.length - 1]!, n).reshape(shape);
  }
  if (kind === "sliced" && shape.length > 0) {
    const wide = [...shape.slice(0, -1), 2 * shape[shape.length - 1]! + 1];
    const t = fl.tensor(values(2 * n + n / shape[shape.length - 1]!, dtype, special), { dtype });
    return t.reshape(wide).narrow(-1, 1, shape[shape.length - 1]!);
  }
  if (kind === "transposed" && shape.length >= 2) {
    const rev = [...shape].reverse();
    const perm = shape.map((_, i) => shape.length - 1 - i);
    return fl
      .tensor(values(n, dtype, special), { dtype })
      .reshape(rev)
      .permute(perm);
  }
  if (kind === "broadcast" && shape.length >= 2) {
    const one = [1, ...shape.slice(1)];
    return fl
      .tensor(values(n / shape[0]!, dtype, special), { dtype })
      .reshape(one)
      .expand(shape);
  }
  return fl.tensor(values(n, dtype, special), { dtype }).reshape(shape);
}

function bits(t: fl.Tensor): number[] {
  return Array.from((t.contiguous().storage as CpuStorage).data as ArrayLike<number>);
}

function both(f: () => fl.Tensor): [fl.Tensor, fl.Tensor] {
  const was = setFastReductions(false);
  try {
    const ref = f();
    setFastReductions(true);
    return [f(), ref];
  } finally {
    setFastReductions(was);
  }
}

/** Same values, same NaNs, same signs of zero. */
function assertSame(got: fl.Tensor, want: fl.Tensor, what: string) {
  assert.deepEqual(got.shape, want.shape, what);
  const g = bits(got);
  const w = bits(want);
  g.forEach((v, i) => {
    assert.ok(Object.is(v, w[i]), `${what}[${i}]: ${v} vs ${w[i]}`);
  });
}

const shapes = [[1037], [7, 33], [64, 5], [3, 9, 17], [4, 1, 6, 8], [2, 3, 4, 5], [130, 3]];
const dimChoices = (nd: number): number[][] => {
  const all = Array.from({ length: nd }, (_, i) => i);
  const out = all.map((d) => [d]);
  if (nd >= 2) out.push([0, nd - 1], all.slice(1), all.slice(0, -1));
  out.push(all);
  return out;
};

describe("table-free reductions match the general loops", () => {
  for (const dtype of ["float32", "float64", "int32"] as const) {
    test(`sum, prod, amax, amin, max, argmax, argmin (${dtype})`, () => {
      for (let trial = 0; trial < 80; trial++) {
        const shape = pick(shapes);
        const special = trial % 2 === 0;
        const x = input(shape, dtype, special);
        for (const dims of dimChoices(shape.length)) {
          const what = `${dtype} ${x.shape} strides ${x.strides} dims ${dims}`;
          // Integer-valued inputs: every summation order gives the same bits.
          const [s, sRef] = both(() => x.sum(dims));
          assertSame(s, sRef, `sum ${what}`);
          const [p, pRef] = both(() => x.narrow(-1, 0, Math.min(3, x.shape.at(-1)!)).prod(dims));
          assertSame(p, pRef, `prod ${what}`);
          const [mx, mxRef] = both(() => x.amax(dims));
          assertSame(mx, mxRef, `amax ${what}`);
          const [mn, mnRef] = both(() => x.amin(dims));
          assertSame(mn, mnRef, `amin ${what}`);
        }
        for (let d = 0; d < shape.length; d++) {
          const what = `${dtype} ${x.shape} strides ${x.strides} dim ${d}`;
          const [a, aRef] = both(() => x.argmax(d));
          assertSame(a, aRef, `argmax ${what}`);
          const [b, bRef] = both(() => x.argmin(d));
          assertSame(b, bRef, `argmin ${what}`);
          const [m, mRef] = both(() => (x.max(d) as { values: fl.Tensor }).values);
          assertSame(m, mRef, `max ${what}`);
        }
        const [all, allRef] = both(() => x.argmax());
        assertSame(all, allRef, `argmax() ${x.shape}`);
      }
    });
  }

  test("float sums of random floats agree to rounding", () => {
    for (let trial = 0; trial < 40; trial++) {
      const shape = pick(shapes);
      const dtype = pick(["float32", "float64"] as const);
      const x = input(shape, dtype, false).mul(fl.randn(shape, { dtype }));
      for (const dims of dimChoices(shape.length)) {
        const [s, ref] = both(() => x.sum(dims));
        // One float32 rounding either way, or a double's reordering error (≤ n·2⁻⁵³·Σ|x|).
        const eps = dtype === "float32" ? 2 ** -23 : 2 ** -40;
        const scale = bits(x.abs().sum(dims));
        const g = bits(s);
        bits(ref).forEach((w, i) => {
          assert.ok(Math.abs(g[i]! - w) <= eps * (Math.abs(w) + scale[i]!), `${g[i]} vs ${w}`);
        });
      }
    }
  });

  test("zeros of both signs keep the first one met, and NaN wins", () => {
    const x = fl.tensor([
      [-0, 0, -1, 0],
      [0, -0, -2, -0],
      [1, Number.NaN, 2, 3],
      [0, 0, 0, 0],
    ]);
    for (const f of [
      (t: fl.Tensor) => t.amax(1),
      (t: fl.Tensor) => t.amax(0),
      (t: fl.Tensor) => t.amin(1),
    ]) {
      const [got, want] = both(() => f(x));
      assertSame(got, want, "signed zeros");
    }
    assert.ok(Object.is(bits(x.amax(1))[0], -0));
    assert.ok(Number.isNaN(bits(x.amax(1))[2]!));
    assert.equal(bits(x.argmax(1))[2], 1);
  });

  test("bool all/any and empty tensors", () => {
    const b = fl
      .tensor([
        [1, 0, 1],
        [1, 1, 1],
      ])
      .gt(0);
    assert.deepEqual(bits(b.all(1)), [0, 1]);
    assert.deepEqual(bits(b.any(0)), [1, 1, 1]);
    const e = fl.zeros([0, 4]);
    assert.deepEqual(bits(e.sum(0)), [0, 0, 0, 0]);
    assert.deepEqual(bits(e.prod(0)), [1, 1, 1, 1]);
    assert.deepEqual(fl.zeros([3, 0]).sum(1).shape, [3]);
  });
});
