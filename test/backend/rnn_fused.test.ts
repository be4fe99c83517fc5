import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setFusedKernels } from "../../src/backend/fused.js";
import * as fl from "../../src/index.js";
import { seededRandom } from "../random.js";
import { gradcheckModule } from "../sequence/helpers.js";

const random = seededRandom(15);

// The fused LSTM/GRU layers (one autograd node per layer and direction,
// fused cell kernels, src/nn/functional/rnn_fused.ts) against the
// composite loop of src/nn/layers/rnn.ts: outputs, final states and the
// gradients of the input, h0/c0 and every parameter, on random sizes
// (odd ones included, and sizes on both sides of the SIMD cutoff for
// float32), several layers, both directions, batchFirst both ways;
// gradcheck in float64; gradients of gradients (createGraph, where the
// node's backward is written with ops).

const { nn } = fl;

function withFused<T>(on: boolean, fn: () => T): T {
  const was = setFusedKernels(on);
  try {
    return fn();
  } finally {
    setFusedKernels(was);
  }
}

function close(a: fl.Tensor | null, b: fl.Tensor | null, tol: number, what: string): void {
  assert.ok(a && b, `${what}: missing (${a === null}, ${b === null})`);
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i]));
    if (!(d <= tol * (1 + Math.abs(Number(y[i]))))) {
      assert.fail(`${what}[${i}]: fused ${x[i]}, composite ${y[i]} (tol ${tol})`);
    }
  }
}

interface Config {
  mode: "LSTM" | "GRU";
  I: number;
  H: number;
  layers: number;
  bidirectional: boolean;
  batchFirst: boolean;
  T: number;
  N: number;
  states: boolean;
  bias: boolean;
}

function rnd(lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

function randomConfig(mode: "LSTM" | "GRU", big: boolean): Config {
  return {
    mode,
    I: rnd(1, 9),
    H: big ? rnd(33, 71) : rnd(1, 13),
    layers: rnd(1, 3),
    bidirectional: random() < 0.5,
    batchFirst: random() < 0.5,
    T: rnd(1, 7),
    N: rnd(1, 9),
    states: random() < 0.6,
    bias: random() < 0.8,
  };
}

interface Run {
  tensors: [string, fl.Tensor][];
  grads: [string, fl.Tensor | null][];
  fnName: string;
}

/** One forward and backward; the same seed builds the same module and data each time. */
function runOnce(cfg: Config, dtype: fl.DType, seed: number, fused: boolean): Run {
  return withFused(fused, () => {
    // Drawn in float32 and cast, so both dtypes see the same numbers.
    fl.manualSeed(seed);
    const opts = {
      numLayers: cfg.layers,
      bidirectional: cfg.bidirectional,
      batchFirst: cfg.batchFirst,
      bias: cfg.bias,
    };
    const m =
      cfg.mode === "LSTM" ? new nn.LSTM(cfg.I, cfg.H, opts) : new nn.GRU(cfg.I, cfg.H, opts);
    m.to(dtype);
    const dirs = cfg.bidirectional ? 2 : 1;
    const draw = (shape: number[]) => fl.randn(shape).to(dtype).requiresGrad_(true);
    const x = draw(cfg.batchFirst ? [cfg.N, cfg.T, cfg.I] : [cfg.T, cfg.N, cfg.I]);
    const sShape = [cfg.layers * dirs, cfg.N, cfg.H];
    const h0 = cfg.states ? draw(sShape) : null;
    const c0 = cfg.states ? draw(sShape) : null;
    let out: fl.Tensor;
    let h: fl.Tensor;
    let c: fl.Tensor | null = null;
    if (m instanceof nn.LSTM) {
      const hx: [fl.Tensor, fl.Tensor] | null = h0 && c0 ? [h0, c0] : null;
      [out, [h, c]] = m.forward(x, hx);
    } else [out, h] = (m as fl.nn.GRU).forward(x, h0);
    // Every output gets its own random weighting, so each one's gradient path counts.
    let loss = out.mul(fl.randn(out.shape).to(dtype)).sum();
    loss = loss.add(h.mul(fl.randn(h.shape).to(dtype)).sum());
    if (c) loss = loss.add(c.mul(fl.randn(c.shape).to(dtype)).sum());
    loss.backward();
    const leaves: [string, fl.Tensor | null][] = [
      ["x", x],
      ["h0", h0],
      ["c0", cfg.mode === "LSTM" ? c0 : null],
    ];
    const named = m.namedParameters() as [string, fl.Tensor][];
    return {
      tensors: [["out", out], ["hN", h], ...(c ? ([["cN", c]] as [string, fl.Tensor][]) : [])],
      grads: [
        ...leaves
          .filter(([, t]) => t !== null)
          .map(([n, t]) => [n, t!.grad] as [string, fl.Tensor | null]),
        ...named.map(([n, p]) => [n, p.grad] as [string, fl.Tensor | null]),
      ],
      fnName: graphNames(out).join(","),
    };
  });
}

/** The node names reachable from t (a few levels), to see which path ran. */
function graphNames(t: fl.Tensor): string[] {
  const names = new Set<string>();
  const walk = (node: fl.Tensor["gradFn"], depth: number) => {
    if (!node || depth > 4) return;
    names.add(node.name);
    for (const n of node.nextFunctions) if (n && !(n instanceof fl.Tensor)) walk(n, depth + 1);
  };
  walk(t.gradFn, 0);
  return [...names];
}

function compare(cfg: Config, dtype: fl.DType, tol: number): void {
  const seed = rnd(0, 1e6);
  const what = `${JSON.stringify(cfg)} ${dtype}`;
  const f = runOnce(cfg, dtype, seed, true);
  const r = runOnce(cfg, dtype, seed, false);
  const node = cfg.mode === "LSTM" ? "LstmLayerBackward0" : "GruLayerBackward0";
  assert.ok(f.fnName.includes(node), `${what}: fused path not taken (${f.fnName})`);
  assert.ok(!r.fnName.includes(node), `${what}: composite path not taken`);
  f.tensors.forEach(([n, t], i) => {
    close(t, r.tensors[i]![1], tol, `${what} ${n}`);
  });
  f.grads.forEach(([n, g], i) => {
    close(g, r.grads[i]![1], tol, `${what} grad ${n}`);
  });
}

describe("fused LSTM / GRU layers against the composite", () => {
  for (const mode of ["LSTM", "GRU"] as const) {
    test(`${mode}: float64, random small shapes`, () => {
      for (let k = 0; k < 6; k++) compare(randomConfig(mode, false), "float64", 1e-10);
    });
    test(`${mode}: float32, random shapes across the SIMD cutoff`, () => {
      for (let k = 0; k < 6; k++) compare(randomConfig(mode, k % 2 === 0), "float32", 2e-4);
    });
  }

  test("the float32 SIMD cell agrees with the float64 kernel", () => {
    // N·4H above the SIMD cutoff; N·H below it (tanh c' in JS) and above.
    for (const [N, H] of [
      [3, 30],
      [5, 67],
    ] as const) {
      const cfg: Config = {
        mode: "LSTM",
        I: 7,
        H,
        layers: 1,
        bidirectional: true,
        batchFirst: false,
        T: 4,
        N,
        states: true,
        bias: true,
      };
      const seed = rnd(0, 1e6);
      const a = runOnce(cfg, "float32", seed, true);
      const b = runOnce(cfg, "float64", seed, true);
      a.tensors.forEach(([n, t], i) => {
        close(t.to("float64"), b.tensors[i]![1], 1e-5, n);
      });
      a.grads.forEach(([n, g], i) => {
        close(g!.to("float64"), b.grads[i]![1], 1e-4, `grad ${n}`);
      });
    }
  });

  test("gradcheck (float64) through the fused nodes", () => {
    fl.manualSeed(3);
    const leaf = (shape: number[]) => fl.randn(shape, { dtype: "float64", requiresGrad: true });
    const lstm = new nn.LSTM(3, 4, { bidirectional: true, numLayers: 2 });
    assert.ok(
      gradcheckModule(lstm, [leaf([4, 2, 3]), leaf([4, 2, 4]), leaf([4, 2, 4])], (x, h, c) => {
        const [out, [hN, cN]] = lstm.forward(x!, [h!, c!]);
        // The numerical passes run without grad; the analytical one must take the fused node.
        if (out.requiresGrad) assert.ok(graphNames(out).includes("LstmLayerBackward0"));
        return [out, hN, cN];
      }),
    );
    const gru = new nn.GRU(3, 4, { batchFirst: true, numLayers: 2 });
    assert.ok(
      gradcheckModule(gru, [leaf([3, 4, 3]), leaf([2, 3, 4])], (x, h) => {
        const [out, hN] = gru.forward(x!, h!);
        if (out.requiresGrad) assert.ok(graphNames(out).includes("GruLayerBackward0"));
        return [out, hN];
      }),
    );
  });

  for (const mode of ["LSTM", "GRU"] as const) {
    test(`${mode}: gradients of gradients (createGraph) match the composite`, () => {
      const go = (fused: boolean) =>
        withFused(fused, () => {
          fl.manualSeed(11);
          const opts = { bidirectional: true, dtype: "float64" as const };
          const m = mode === "LSTM" ? new nn.LSTM(3, 5, opts) : new nn.GRU(3, 5, opts);
          const x = fl.randn([4, 2, 3], { dtype: "float64", requiresGrad: true });
          const h0 = fl.randn([2, 2, 5], { dtype: "float64", requiresGrad: true });
          const c0 = fl.randn([2, 2, 5], { dtype: "float64", requiresGrad: true });
          const [out, hc] =
            m instanceof nn.LSTM ? m.forward(x, [h0, c0]) : (m as fl.nn.GRU).forward(x, h0);
          const last = Array.isArray(hc) ? hc[1] : hc;
          const loss = out.tanh().sum().add(last.square().sum());
          const ps = m.parameters();
          const ins = mode === "LSTM" ? [x, h0, c0, ...ps] : [x, h0, ...ps];
          const g1 = fl.autograd.grad(loss, ins, { createGraph: true }) as fl.Tensor[];
          const pen = g1.map((g) => g.square().sum()).reduce((a, b) => a.add(b));
          const g2 = fl.autograd.grad(pen, ins) as fl.Tensor[];
          return [...g1, ...g2];
        });
      const f = go(true);
      const r = go(false);
      f.forEach((g, i) => {
        close(g, r[i]!, 1e-9, `grad ${i}`);
      });
    });
  }

  test("dropout between layers draws the same masks on both paths", () => {
    const go = (fused: boolean) =>
      withFused(fused, () => {
        fl.manualSeed(5);
        const m = new nn.LSTM(4, 6, { numLayers: 3, dropout: 0.5 });
        const x = fl.randn([5, 3, 4], { requiresGrad: true });
        const [out] = m.forward(x);
        out.sum().backward();
        return [out, x.grad!, ...m.parameters().map((p) => p.grad!)];
      });
    const f = go(true);
    const r = go(false);
    f.forEach((t, i) => {
      close(t, r[i]!, 1e-4, `tensor ${i}`);
    });
  });

  test("a second backward without retainGraph fails as PyTorch's does", () => {
    const m = new nn.LSTM(2, 3);
    const [out] = m.forward(fl.randn([3, 1, 2]));
    const loss = out.sum();
    loss.backward(null, { retainGraph: true });
    loss.backward();
    assert.throws(() => loss.backward(), /backward through the graph a second time/);
  });
});
