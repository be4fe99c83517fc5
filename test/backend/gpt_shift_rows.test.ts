// The SIMD row shift + exp (simdShiftExpRows in src/backend/cpu/wasm/vmath.ts),
// which cross entropy's float32 kernels use when the class count is a
// multiple of 4, against the scalar reference it replaced (row max and
// x − max in doubles, rounded to float32, then the same SIMD exp): bit for
// bit, on odd row counts, rows with NaN, +∞ and all −∞, and with given
// shifts (the backward's log-sum-exps, NaN included) and row scales (the
// backward's g: scalar float32 products, bit for bit). Then crossEntropy
// through it against the composite, first and second order.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import { simdExpInPlace, simdShiftExpRows } from "../../src/backend/cpu/wasm/vmath.js";
import { setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";

const F = fl.nn.functional;

/** A deterministic float32 stream in [−25, 25). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 50;
  });
}

/** The scalar reference: exp(x − shift) per row, and the shifts found. */
function reference(
  x: Float32Array,
  rows: number,
  cols: number,
  given: Float32Array | null,
): { exps: Float32Array; shifts: Float64Array } {
  const shifted = new Float32Array(rows * cols);
  const shifts = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = given ? given[r]! : Number.NEGATIVE_INFINITY;
    if (!given) {
      for (let j = 0; j < cols; j++) {
        const v = x[r * cols + j]!;
        if (v > m || v !== v) m = v;
      }
    }
    shifts[r] = m;
    const s = !given && m - m !== 0 ? 0 : m;
    for (let j = 0; j < cols; j++) shifted[r * cols + j] = x[r * cols + j]! - s;
  }
  let exps = new Float32Array(0);
  assert.ok(
    simdExpInPlace(
      rows * cols,
      (mem) => mem.set(shifted),
      (mem) => {
        exps = mem.slice();
      },
    ),
  );
  return { exps, shifts };
}

function sameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const [u, v] = [got[i]!, want[i]!];
    if (Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v))) continue;
    assert.fail(`${what}[${i}]: SIMD ${u}, reference ${v}`);
  }
}

describe("SIMD row shift + exp", { skip: !wasmFeatures().simd && "no WebAssembly SIMD" }, () => {
  const shapes: [number, number][] = [
    [65, 4],
    [33, 12],
    [7, 300],
    [129, 256],
  ];
  for (const [rows, cols] of shapes) {
    test(`[${rows}, ${cols}]: row maxima and shifted exps match the scalar reference`, () => {
      // Three floats past the end: the kernel must read only rows·cols.
      const x = values(rows * cols + 3, rows * 1000 + cols);
      x[1] = Number.NaN;
      x[2 * cols + 1] = Number.POSITIVE_INFINITY;
      x.fill(Number.NEGATIVE_INFINITY, 3 * cols, 4 * cols);
      x[5 * cols] = -0;
      const want = reference(x, rows, cols, null);
      let ran = false;
      const took = simdShiftExpRows(x, rows, cols, null, (exps, shifts) => {
        ran = true;
        sameBits(exps, want.exps, "exp");
        sameBits(Float64Array.from(shifts), want.shifts, "max");
      });
      assert.ok(took && ran);

      const given = values(rows, cols).map((v) => v / 5);
      given[rows - 1] = Number.NaN;
      const wantGiven = reference(x, rows, cols, given);
      assert.ok(
        simdShiftExpRows(x, rows, cols, given, (exps) =>
          sameBits(exps, wantGiven.exps, "exp(x − lse)"),
        ),
      );
      // With per-row scales (the backward's g), as the scalar float32 product.
      const scales = values(rows, 7 * cols);
      scales[0] = 0;
      scales[1] = Number.NaN;
      const scaled = wantGiven.exps.map((e, i) => Math.fround(e * scales[Math.floor(i / cols)]!));
      const ranScaled = simdShiftExpRows(
        x,
        rows,
        cols,
        given,
        (exps) => sameBits(exps, scaled, "g·exp(x − lse)"),
        scales,
      );
      assert.ok(ranScaled);
    });
  }

  test("declines widths that are not whole vectors and small blocks", () => {
    const never = () => assert.fail("use called");
    assert.equal(simdShiftExpRows(values(70 * 13, 1), 70, 13, null, never), false);
    assert.equal(simdShiftExpRows(values(8 * 8, 1), 8, 8, null, never), false);
  });
});

describe("crossEntropy through the SIMD row shift", () => {
  test("[48, 20] and [9, 256] with non-finite rows: matches the composite, first and second order", () => {
    for (const [n, c] of [
      [48, 20],
      [9, 256],
    ] as const) {
      const run = (on: boolean) => {
        const was = setFusedKernels(on);
        try {
          fl.manualSeed(n + c);
          const base = fl.randn([n, c]).mul(4);
          const d = base.dataSync() as Float32Array;
          d[c + 3] = Number.POSITIVE_INFINITY;
          d.fill(Number.NEGATIVE_INFINITY, 2 * c, 3 * c);
          const x = base.requiresGrad_();
          const t = fl.randint(0, c, [n]);
          const loss = F.crossEntropy(x, t, { reduction: "none" });
          const w = fl.randn([n]);
          const [g] = fl.autograd.grad(loss.mul(w).sum(), [x], { createGraph: true });
          const [gg] = fl.autograd.grad(g!.mul(fl.randn([n, c])).sum(), [x]);
          return [loss, g!, gg!].map((a) => a.detach());
        } finally {
          setFusedKernels(was);
        }
      };
      const fused = run(true);
      const comp = run(false);
      for (const [i, a] of fused.entries()) {
        const x = a.dataSync();
        const y = comp[i]!.dataSync();
        for (let k = 0; k < x.length; k++) {
          const [u, v] = [Number(x[k]), Number(y[k])];
          if (Number.isNaN(u) && Number.isNaN(v)) continue;
          assert.ok(
            Math.abs(u - v) <= 1e-5 * (1 + Math.abs(v)),
            `[${n}, ${c}] #${i}[${k}]: ${u} vs ${v}`,
          );
        }
      }
    }
  });
});
