// The tutorial's math chapter: every number it prints, checked against
// closed forms computed here independently.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";

const logged: unknown[][] = [];
const realLog = console.log;
console.log = (...args: unknown[]) => logged.push(args);
const math = await import("../../examples/math.js");
console.log = realLog;

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} != ${b}`);

describe("examples/math.ts", () => {
  test("importing it prints nothing (it prints only when run as a script)", () => {
    assert.deepEqual(logged, []);
  });

  test("derivative rules: autograd agrees with each rule by hand", () => {
    for (const x of [2, -0.7]) {
      const rules = math.derivativeRules(x);
      assert.deepEqual(
        rules.map((r) => r.rule),
        ["constant", "constant multiple", "power", "sum", "product", "chain"],
      );
      for (const r of rules) close(r.autograd, r.expected);
      const by = Object.fromEntries(rules.map((r) => [r.rule, r.autograd]));
      close(by.constant!, 0);
      close(by["constant multiple"]!, 7);
      close(by.power!, 3 * x * x);
      close(by.sum!, 2 * x + Math.cos(x));
      close(by.product!, 2 * x * Math.sin(x) + x * x * Math.cos(x));
      close(by.chain!, 2 * x * Math.cos(x * x));
    }
  });

  test("the gradient of f(x, y) = x² + 3xy + y² is [2x + 3y, 3x + 2y]", () => {
    for (const [x, y] of [
      [1, 2],
      [0, 0],
      [-1, 3],
      [0.5, -2.25],
    ] as const) {
      const g = math.gradientOfF(x, y);
      close(g.f, x * x + 3 * x * y + y * y);
      close(g.gradient[0], 2 * x + 3 * y);
      close(g.gradient[1], 3 * x + 2 * y);
    }
    assert.deepEqual(math.gradientOfF(1, 2).gradient, [8, 7]);
  });

  test("probabilities of independent events multiply element-wise and overall", () => {
    const p = math.probabilityProducts([0.1, 0.6, 0.3], [0.5, 0.2, 0.9]);
    [0.05, 0.12, 0.27].forEach((v, i) => {
      close(p.both[i]!, v);
    });
    close(p.rainEverywhere, 0.1 * 0.6 * 0.3);
  });

  test("dot product [1,2,3]·[4,5,6] = 32", () => {
    assert.equal(math.dotProduct([1, 2, 3], [4, 5, 6]), 32);
    assert.equal(math.dotProduct([2, -1], [3, 5]), 1);
  });

  test("matrix product [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]", () => {
    assert.deepEqual(
      math.matrixProduct(
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        [
          [7, 8],
          [9, 10],
          [11, 12],
        ],
      ),
      [
        [58, 64],
        [139, 154],
      ],
    );
    assert.deepEqual(
      math.matrixProduct(
        [
          [1, 0],
          [0, 1],
        ],
        [
          [3, 4],
          [5, 6],
        ],
      ),
      [
        [3, 4],
        [5, 6],
      ],
    );
  });

  test("L1, L2 and max norms", () => {
    assert.deepEqual(math.norms([3, -4]), { l1: 7, l2: 5, max: 4 });
    const n = math.norms([3, -4, 12]);
    close(n.l1, 19);
    close(n.l2, 13);
    close(n.max, 12);
  });

  test("MSE is the mean squared L2 distance", () => {
    const m = math.meanSquaredError([2.5, 0, 2, 8], [3, -0.5, 2, 7]);
    const expected = (0.25 + 0.25 + 0 + 1) / 4;
    close(m.fromNorm, expected);
    close(m.fromMean, expected);
  });

  test("sqrt and 1/sqrt", () => {
    const r = math.roots([1, 4, 9, 16, 2]);
    [1, 2, 3, 4, Math.SQRT2].forEach((v, i) => {
      close(r.sqrt[i]!, v);
    });
    [1, 0.5, 1 / 3, 0.25, Math.SQRT1_2].forEach((v, i) => {
      close(r.rsqrt[i]!, v);
    });
  });

  test("run as a script, it prints the results", () => {
    const out = execFileSync(process.execPath, ["--import", "tsx", "examples/math.ts"], {
      encoding: "utf8",
    });
    assert.match(out, /\[1, 2, 3\] · \[4, 5, 6\] = 1·4 \+ 2·5 \+ 3·6 = 32/);
    assert.match(out, /\[\[58,64\],\[139,154\]\]/);
    assert.match(out, /at \(1, 2\): f = 11, gradient = \[8, 7\]/);
    assert.match(out, /power +d\/dx x³ +.*autograd 12, by hand 12/);
  });
});
