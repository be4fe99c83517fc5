/**
 * The tutorial's math chapter, runnable: `node --import tsx examples/math.ts`.
 *
 * Each section is an exported function that computes with flint and
 * returns plain numbers, so test/examples/math.test.ts can check them; run
 * as a script, the file prints them with a short explanation.
 */
import { pathToFileURL } from "node:url";
import * as fl from "../src/index.js";

const f64 = { dtype: "float64" } as const;

/** A float64 scalar that autograd tracks. */
function variable(v: number): fl.Tensor {
  return fl.tensor(v, { ...f64, requiresGrad: true });
}

/** df/dx at x, computed by autograd. */
function derivative(f: (x: fl.Tensor) => fl.Tensor, at: number): number {
  const x = variable(at);
  f(x).backward();
  return x.grad!.itemSync() as number;
}

export interface RuleCheck {
  rule: string;
  f: string;
  byHand: string;
  autograd: number;
  expected: number;
}

/**
 * The derivative rules, each checked at x: autograd's answer beside the
 * rule applied by hand.
 *
 * @example
 * derivativeRules(2).find((r) => r.rule === "power")!.autograd; // 12 (= 3·2²)
 */
export function derivativeRules(x: number): RuleCheck[] {
  return [
    {
      rule: "constant",
      f: "5",
      byHand: "0",
      // x·0 + 5 is the constant 5, written so that it is a function of x.
      autograd: derivative((t) => t.mul(0).add(5), x),
      expected: 0,
    },
    {
      rule: "constant multiple",
      f: "7x",
      byHand: "7",
      autograd: derivative((t) => t.mul(7), x),
      expected: 7,
    },
    {
      rule: "power",
      f: "x³",
      byHand: "3x²",
      autograd: derivative((t) => t.pow(3), x),
      expected: 3 * x ** 2,
    },
    {
      rule: "sum",
      f: "x² + sin x",
      byHand: "2x + cos x",
      autograd: derivative((t) => t.square().add(t.sin()), x),
      expected: 2 * x + Math.cos(x),
    },
    {
      rule: "product",
      f: "x² · sin x",
      byHand: "2x · sin x + x² · cos x",
      autograd: derivative((t) => t.square().mul(t.sin()), x),
      expected: 2 * x * Math.sin(x) + x ** 2 * Math.cos(x),
    },
    {
      rule: "chain",
      f: "sin(x²)",
      byHand: "cos(x²) · 2x",
      autograd: derivative((t) => t.square().sin(), x),
      expected: Math.cos(x ** 2) * 2 * x,
    },
  ];
}

export interface GradientAt {
  x: number;
  y: number;
  f: number;
  /** [∂f/∂x, ∂f/∂y] from autograd. */
  gradient: [number, number];
}

/**
 * f(x, y) = x² + 3xy + y² and its gradient [∂f/∂x, ∂f/∂y] = [2x + 3y, 3x + 2y].
 *
 * @example
 * gradientOfF(1, 2).gradient; // [8, 7]
 */
export function gradientOfF(x: number, y: number): GradientAt {
  const tx = variable(x);
  const ty = variable(y);
  const f = tx.square().add(tx.mul(ty).mul(3)).add(ty.square());
  f.backward();
  return {
    x,
    y,
    f: f.itemSync() as number,
    gradient: [tx.grad!.itemSync() as number, ty.grad!.itemSync() as number],
  };
}

export interface ProbabilityProducts {
  rain: number[];
  wind: number[];
  /** P(rain and wind) in each city, for independent events: the element-wise product. */
  both: number[];
  /** P(rain in every city): the product of all elements. */
  rainEverywhere: number;
}

/**
 * Independent probabilities multiply, element by element (mul) or all
 * together (prod).
 *
 * @example
 * probabilityProducts([0.5], [0.5]).both; // [0.25]
 */
export function probabilityProducts(rain: number[], wind: number[]): ProbabilityProducts {
  const pRain = fl.tensor(rain, f64);
  const pWind = fl.tensor(wind, f64);
  return {
    rain,
    wind,
    both: pRain.mul(pWind).tolistSync() as number[],
    rainEverywhere: pRain.prod().itemSync() as number,
  };
}

/**
 * Σ aᵢbᵢ.
 *
 * @example
 * dotProduct([1, 2, 3], [4, 5, 6]); // 32
 */
export function dotProduct(a: number[], b: number[]): number {
  return fl.dot(fl.tensor(a), fl.tensor(b)).itemSync() as number;
}

/**
 * (A B)ᵢⱼ = Σₖ AᵢₖBₖⱼ.
 *
 * @example
 * matrixProduct([[1, 2, 3], [4, 5, 6]], [[7, 8], [9, 10], [11, 12]]); // [[58, 64], [139, 154]]
 */
export function matrixProduct(a: number[][], b: number[][]): number[][] {
  return fl.tensor(a).matmul(fl.tensor(b)).tolistSync() as number[][];
}

export interface Norms {
  /** Σ |vᵢ| */
  l1: number;
  /** √(Σ vᵢ²) */
  l2: number;
  /** max |vᵢ| */
  max: number;
}

/**
 * The three common vector norms, with fl.linalg.norm.
 *
 * @example
 * norms([3, -4]); // { l1: 7, l2: 5, max: 4 }
 */
export function norms(v: number[]): Norms {
  const t = fl.tensor(v, f64);
  return {
    l1: fl.linalg.norm(t, 1).itemSync() as number,
    l2: fl.linalg.norm(t).itemSync() as number,
    max: fl.linalg.norm(t, "inf").itemSync() as number,
  };
}

export interface MeanSquaredError {
  /** ‖prediction - target‖₂² / n */
  fromNorm: number;
  /** mean((prediction - target)²) */
  fromMean: number;
}

/**
 * The mean squared error is the squared L2 distance divided by the count;
 * both ways of writing it give the same number.
 *
 * @example
 * meanSquaredError([1, 2], [1, 4]).fromMean; // 2
 */
export function meanSquaredError(prediction: number[], target: number[]): MeanSquaredError {
  const diff = fl.tensor(prediction, f64).sub(fl.tensor(target, f64));
  return {
    fromNorm: (fl.linalg.norm(diff).square().itemSync() as number) / diff.numel(),
    fromMean: diff.square().mean().itemSync() as number,
  };
}

/**
 * √x and 1/√x (rsqrt, which normalization layers use).
 *
 * @example
 * roots([4]); // { sqrt: [2], rsqrt: [0.5] }
 */
export function roots(values: number[]): { sqrt: number[]; rsqrt: number[] } {
  const t = fl.tensor(values, f64);
  return { sqrt: fl.sqrt(t).tolistSync() as number[], rsqrt: fl.rsqrt(t).tolistSync() as number[] };
}

// ---- printing, when run as a script ------------------------------------------

const fmt = (v: number) => String(Number(v.toFixed(6)));

function main(): void {
  console.log("Derivative rules at x = 2 (autograd vs. the rule by hand):");
  for (const r of derivativeRules(2)) {
    console.log(
      `  ${r.rule.padEnd(17)} d/dx ${r.f.padEnd(11)} = ${r.byHand.padEnd(24)} → autograd ${fmt(r.autograd)}, by hand ${fmt(r.expected)}`,
    );
  }

  console.log("\nf(x, y) = x² + 3xy + y², gradient [∂f/∂x, ∂f/∂y] = [2x + 3y, 3x + 2y]:");
  for (const [x, y] of [
    [1, 2],
    [0, 0],
    [-1, 3],
  ] as const) {
    const g = gradientOfF(x, y);
    console.log(
      `  at (${x}, ${y}): f = ${fmt(g.f)}, gradient = [${g.gradient.map(fmt).join(", ")}]`,
    );
  }

  const p = probabilityProducts([0.1, 0.6, 0.3], [0.5, 0.2, 0.9]);
  console.log("\nIndependent events multiply:");
  console.log(`  P(rain) = [${p.rain.join(", ")}], P(wind) = [${p.wind.join(", ")}]`);
  console.log(`  P(rain and wind) = P(rain) * P(wind) = [${p.both.map(fmt).join(", ")}]`);
  console.log(`  P(rain in all three cities) = prod(P(rain)) = ${fmt(p.rainEverywhere)}`);

  console.log(
    "\nDot product: [1, 2, 3] · [4, 5, 6] = 1·4 + 2·5 + 3·6 =",
    dotProduct([1, 2, 3], [4, 5, 6]),
  );
  console.log(
    "Matrix product: [[1, 2, 3], [4, 5, 6]] @ [[7, 8], [9, 10], [11, 12]] =",
    JSON.stringify(
      matrixProduct(
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
    ),
  );

  const n = norms([3, -4, 12]);
  console.log("\nNorms of [3, -4, 12]:");
  console.log(`  L1  = |3| + |-4| + |12|      = ${fmt(n.l1)}`);
  console.log(`  L2  = √(9 + 16 + 144)        = ${fmt(n.l2)}`);
  console.log(`  max = max(|3|, |-4|, |12|)   = ${fmt(n.max)}`);

  const mse = meanSquaredError([2.5, 0, 2, 8], [3, -0.5, 2, 7]);
  console.log("\nMean squared error of [2.5, 0, 2, 8] against [3, -0.5, 2, 7]:");
  console.log(`  ‖p - t‖² / n = ${fmt(mse.fromNorm)}, mean((p - t)²) = ${fmt(mse.fromMean)}`);

  const r = roots([1, 4, 9, 16]);
  console.log("\nRoots of [1, 4, 9, 16]:");
  console.log(`  sqrt  = [${r.sqrt.map(fmt).join(", ")}]`);
  console.log(`  rsqrt = [${r.rsqrt.map(fmt).join(", ")}]  (1/√x)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
