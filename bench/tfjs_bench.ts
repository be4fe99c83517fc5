// TensorFlow.js's side of `npm run bench` (one child process per backend):
//   node --import tsx bench/tfjs_bench.ts --system tfjs-wasm --threads 1 --tasks sgemm,mlp --sizes 64,256
// The models are written out with tfjs ops and trained with optimizer.minimize;
// each measurement is one JSON line (bench/timing.ts).

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as TF from "@tensorflow/tfjs-core";
import {
  ADD16_BATCH,
  type ChildArgs,
  emit,
  measure,
  measureSteps,
  OPS_SIZE,
  parseChildArgs,
  sgemmSweep,
} from "./timing.js";

// tfjs-core's ESM build imports directories (Node's ESM loader refuses them)
// and its CommonJS bundle registers no gradients, so the bench bundles core +
// all gradients + the cpu and wasm backends into one CommonJS file with
// esbuild (tsx's own dependency) on first use, as @tensorflow/tfjs does.
const require = createRequire(import.meta.url);
const bundle = join(
  dirname(require.resolve("@tensorflow/tfjs-core/package.json")),
  "../../.cache/flint-bench/tfjs.cjs",
);
if (!existsSync(bundle)) {
  const esbuild: {
    buildSync(o: Record<string, unknown>): unknown;
  } = require("esbuild");
  esbuild.buildSync({
    stdin: {
      contents: [
        'export * from "@tensorflow/tfjs-core";',
        'import "@tensorflow/tfjs-core/dist/register_all_gradients";',
        'export * as cpu from "@tensorflow/tfjs-backend-cpu";',
        'export * as wasm from "@tensorflow/tfjs-backend-wasm";',
      ].join("\n"),
      resolveDir: process.cwd(),
      loader: "js",
    },
    bundle: true,
    platform: "node",
    mainFields: ["module", "main"],
    format: "cjs",
    outfile: bundle,
    logLevel: "error",
  });
}
const tf: typeof TF & { wasm: typeof import("@tensorflow/tfjs-backend-wasm") } = require(bundle);
const wasm = tf.wasm;
declare namespace tf {
  type Tensor = TF.Tensor;
  type Tensor1D = TF.Tensor1D;
  type Tensor4D = TF.Tensor4D;
  type Scalar = TF.Scalar;
  type Variable = TF.Variable;
  type Optimizer = TF.Optimizer;
}

const args = parseChildArgs(process.argv.slice(2), "tfjs-cpu");

// A fixed pseudo-random stream, so every run trains on the same data.
let seed = 12345;
function uniform(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) | 0;
  return (seed >>> 0) / 4294967296;
}
function randn(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++)
    a[i] = scale * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return a;
}
function labels(n: number, classes: number): tf.Tensor1D {
  return tf.tensor1d(
    Array.from({ length: n }, () => Math.floor(uniform() * classes)),
    "int32",
  );
}
/** Glorot-normal weights [fanIn…, fanOut] as a trainable variable. */
function weight(shape: number[]): tf.Variable {
  const fanOut = shape[shape.length - 1]!;
  const fanIn = shape.reduce((a, b) => a * b, 1) / fanOut;
  const t = tf.tensor(randn(fanIn * fanOut, Math.sqrt(2 / (fanIn + fanOut))), shape);
  return tf.variable(t);
}
const zeros = (n: number) => tf.variable(tf.zeros([n]));

function step(
  opt: tf.Optimizer,
  loss: () => tf.Scalar,
  vars: tf.Variable[],
  after?: () => void,
): () => number {
  return () => {
    const l = opt.minimize(loss, true, vars) as tf.Scalar;
    after?.();
    const v = l.dataSync()[0]!;
    l.dispose();
    return v;
  };
}

function record(a: ChildArgs, task: string, size: number, fn: () => number, note?: string): void {
  const t = measureSteps(fn, a.budget * 3);
  emit({ system: a.system, task, size, threads: a.threads, ...t, note });
}

function mlp(a: ChildArgs): void {
  const dims = [784, 512, 256, 10];
  const ws = [0, 1, 2].map((i) => weight([dims[i]!, dims[i + 1]!]));
  const bs = [0, 1, 2].map((i) => zeros(dims[i + 1]!));
  const x = tf.tensor2d(randn(128 * 784), [128, 784]);
  const y = tf.cast(tf.oneHot(labels(128, 10), 10), "float32");
  const loss = () => {
    let h: tf.Tensor = x;
    for (let i = 0; i < 3; i++) {
      h = tf.add(tf.matMul(h, ws[i]!), bs[i]!);
      if (i < 2) h = tf.relu(h);
    }
    return tf.losses.softmaxCrossEntropy(y, h) as tf.Scalar;
  };
  record(a, "mlp", 128, step(tf.train.adam(1e-3), loss, [...ws, ...bs]));
}

function lenet(a: ChildArgs): void {
  const B = 64;
  const c1 = weight([5, 5, 1, 6]);
  const c2 = weight([5, 5, 6, 16]);
  const fs = [weight([256, 120]), weight([120, 84]), weight([84, 10])];
  const bs = [zeros(6), zeros(16), zeros(120), zeros(84), zeros(10)];
  const x = tf.tensor4d(randn(B * 28 * 28), [B, 28, 28, 1]);
  const y = tf.cast(tf.oneHot(labels(B, 10), 10), "float32");
  const loss = () => {
    const block = (h: tf.Tensor4D, w: tf.Variable, b: tf.Variable) =>
      tf.maxPool(
        tf.relu(tf.add(tf.conv2d(h, w as tf.Tensor4D, 1, "valid"), b)) as tf.Tensor4D,
        2,
        2,
        "valid",
      ) as tf.Tensor4D;
    const h = block(block(x, c1, bs[0]!), c2, bs[1]!);
    let z: tf.Tensor = tf.reshape(h, [B, 256]);
    for (let i = 0; i < 3; i++) {
      z = tf.add(tf.matMul(z, fs[i]!), bs[i + 2]!);
      if (i < 2) z = tf.relu(z);
    }
    return tf.losses.softmaxCrossEntropy(y, z) as tf.Scalar;
  };
  record(a, "lenet", 64, step(tf.train.momentum(0.01, 0.9), loss, [c1, c2, ...fs, ...bs]));
}

function gpt(a: ChildArgs): void {
  const V = 256;
  const T = 64;
  const C = 128;
  const H = 4;
  const B = 16;
  const hd = C / H;
  const ln = () => [tf.variable(tf.ones([C])), zeros(C)] as const;
  const wte = tf.variable(tf.tensor2d(randn(V * C, 0.02), [V, C]));
  const wpe = tf.variable(tf.tensor2d(randn(T * C, 0.02), [T, C]));
  const layers = [0, 1].map(() => ({
    ln1: ln(),
    wqkv: weight([C, 3 * C]),
    bqkv: zeros(3 * C),
    wo: weight([C, C]),
    bo: zeros(C),
    ln2: ln(),
    w1: weight([C, 4 * C]),
    b1: zeros(4 * C),
    w2: weight([4 * C, C]),
    b2: zeros(C),
  }));
  const lnf = ln();
  const head = weight([C, V]);
  const mask = tf.tensor2d(
    Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)),
    [T, T],
  );
  const idx = tf.tensor2d(
    Array.from({ length: B * T }, () => Math.floor(uniform() * V)),
    [B, T],
    "int32",
  );
  const tgt = tf.cast(tf.oneHot(labels(B * T, V), V), "float32");
  // tfjs-wasm has no UnsortedSegmentSum kernel (gather's gradient): there the
  // token embedding is one_hot(idx) @ wte, the same value.
  const onWasm = tf.getBackend() === "wasm";
  const idxOneHot = tf.cast(tf.oneHot(tf.reshape(idx, [B * T]), V), "float32");
  const layerNorm = (x: tf.Tensor, [g, b]: readonly [tf.Variable, tf.Variable]) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
  };
  // GELU, tanh form (tfjs-wasm has no Erf kernel for the exact one).
  const gelu = (x: tf.Tensor) =>
    tf.mul(
      tf.mul(x, 0.5),
      tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))),
    );
  const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, H, hd]), [0, 2, 1, 3]);
  const loss = () => {
    const tok = onWasm ? tf.reshape(tf.matMul(idxOneHot, wte), [B, T, C]) : tf.gather(wte, idx);
    let x: tf.Tensor = tf.add(tok, wpe);
    for (const l of layers) {
      const h = tf.reshape(layerNorm(x, l.ln1), [B * T, C]);
      const [q, k, v] = tf.split(tf.add(tf.matMul(h, l.wqkv), l.bqkv), 3, 1).map(heads);
      const att = tf.softmax(
        tf.add(tf.mul(tf.matMul(q!, k!, false, true), 1 / Math.sqrt(hd)), mask),
      );
      const o = tf.reshape(tf.transpose(tf.matMul(att, v!), [0, 2, 1, 3]), [B * T, C]);
      x = tf.add(x, tf.reshape(tf.add(tf.matMul(o, l.wo), l.bo), [B, T, C]));
      const h2 = tf.reshape(layerNorm(x, l.ln2), [B * T, C]);
      const f = tf.add(tf.matMul(gelu(tf.add(tf.matMul(h2, l.w1), l.b1)), l.w2), l.b2);
      x = tf.add(x, tf.reshape(f, [B, T, C]));
    }
    const logits = tf.matMul(tf.reshape(layerNorm(x, lnf), [B * T, C]), head);
    return tf.losses.softmaxCrossEntropy(tgt, logits) as tf.Scalar;
  };
  const vars = [
    wte,
    wpe,
    ...layers.flatMap((l) => [
      ...l.ln1,
      l.wqkv,
      l.bqkv,
      l.wo,
      l.bo,
      ...l.ln2,
      l.w1,
      l.b1,
      l.w2,
      l.b2,
    ]),
    ...lnf,
    head,
  ];
  const lr = 3e-4;
  const wd = 0.01;
  // tfjs has no AdamW: Adam, then the decoupled decay p ← p·(1 − lr·wd).
  const decay = () =>
    tf.tidy(() => {
      for (const p of vars) p.assign(tf.mul(p, 1 - lr * wd));
    });
  record(
    a,
    "gpt",
    16,
    step(tf.train.adam(lr), loss, vars, decay),
    `gelu-tanh; AdamW = Adam + decoupled decay${onWasm ? "; token embedding as one_hot @ wte" : ""}`,
  );
}

function lstm(a: ChildArgs): void {
  const [B, T, I, H] = [32, 32, 64, 128];
  // One bias per layer: torch's b_ih + b_hh is the same sum with one vector fewer.
  const layers = [I, H].map((inSize) => ({
    wih: weight([inSize, 4 * H]),
    whh: weight([H, 4 * H]),
    b: zeros(4 * H),
  }));
  const head = weight([H, 10]);
  const hb = zeros(10);
  const x = tf.tensor3d(randn(B * T * I), [B, T, I]);
  const y = tf.cast(tf.oneHot(labels(B, 10), 10), "float32");
  const loss = () => {
    let seq: tf.Tensor = x;
    let last: tf.Tensor = x;
    for (const l of layers) {
      // The input projection for the whole sequence at once, as flint and torch do.
      const inSize = seq.shape[2]!;
      const proj = tf.add(tf.matMul(tf.reshape(seq, [B * T, inSize]), l.wih), l.b);
      const gi = tf.unstack(tf.reshape(proj, [B, T, 4 * H]), 1);
      let h: tf.Tensor = tf.zeros([B, H]);
      let c: tf.Tensor = tf.zeros([B, H]);
      const outs: tf.Tensor[] = [];
      for (let t = 0; t < T; t++) {
        const [i, f, g, o] = tf.split(tf.add(gi[t]!, tf.matMul(h, l.whh)), 4, 1);
        c = tf.add(tf.mul(tf.sigmoid(f!), c), tf.mul(tf.sigmoid(i!), tf.tanh(g!)));
        h = tf.mul(tf.sigmoid(o!), tf.tanh(c));
        outs.push(h);
      }
      seq = tf.stack(outs, 1);
      last = h;
    }
    return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(last, head), hb)) as tf.Scalar;
  };
  const vars = [...layers.flatMap((l) => [l.wih, l.whh, l.b]), head, hb];
  record(a, "lstm", 32, step(tf.train.adam(1e-3), loss, vars), "one bias vector per layer");
}

/** bench/flint_bench.ts's ops(): the same list, in the same order; each result is disposed. */
function ops(a: ChildArgs): void {
  const n = OPS_SIZE;
  const x = tf.tensor2d(randn(n * n), [n, n]);
  const y = tf.tensor2d(randn(n * n), [n, n]);
  const row = tf.tensor1d(randn(n));
  const pos = tf.add(tf.abs(x), 0.1);
  const list: [string, () => TF.Tensor][] = [
    ["x + y", () => tf.add(x, y)],
    ["x * 2", () => tf.mul(x, 2)],
    ["x + row", () => tf.add(x, row)],
    ["x > 0", () => tf.greater(x, 0)],
    ["x.pow(2)", () => tf.pow(x, 2)],
    ["x.exp()", () => tf.exp(x)],
    ["x.log()", () => tf.log(pos)],
    ["x.sum()", () => tf.sum(x)],
    ["x.sum(1)", () => tf.sum(x, 1)],
    ["x.sum(0)", () => tf.sum(x, 0)],
    ["x.amax(1)", () => tf.max(x, 1)],
    ["x.softmax(1)", () => tf.softmax(x)],
  ];
  for (const [name, call] of list) {
    const t = measure(() => call().dispose(), { budget: a.budget / 4 });
    emit({ system: a.system, threads: a.threads, task: `ops:${name}`, size: n * n, ...t });
  }
}

async function main(): Promise<void> {
  if (args.system === "tfjs-wasm") {
    const dist = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
    wasm.setWasmPaths(`${dist}/`);
    // Has no effect in Node: tfjs hard-wires WASM_HAS_MULTITHREAD_SUPPORT to false there.
    wasm.setThreadsCount(args.threads);
    await tf.setBackend("wasm");
  } else {
    await tf.setBackend("cpu");
  }
  await tf.ready();
  const base = { system: args.system, threads: args.threads };
  for (const task of args.tasks) {
    try {
      if (task === "add16") {
        const x = tf.tensor1d(randn(16));
        const y = tf.tensor1d(randn(16));
        const t = measure(
          () => {
            for (let i = 0; i < ADD16_BATCH; i++) tf.add(x, y).dispose();
          },
          { budget: args.budget },
        );
        const k = ADD16_BATCH;
        emit({
          ...base,
          task,
          size: 16,
          median: t.median / k,
          min: t.min / k,
          max: t.max / k,
          reps: t.reps,
        });
      } else if (task === "sgemm") {
        await sgemmSweep(args, (n) => {
          const x = tf.tensor2d(randn(n * n), [n, n]);
          const y = tf.tensor2d(randn(n * n), [n, n]);
          return {
            call: () => {
              const c = tf.matMul(x, y);
              c.dataSync();
              c.dispose();
            },
            dispose: () => {
              x.dispose();
              y.dispose();
            },
          };
        });
      } else if (task === "ops") ops(args);
      else if (task === "mlp") mlp(args);
      else if (task === "lenet") lenet(args);
      else if (task === "gpt") gpt(args);
      else if (task === "lstm") lstm(args);
      else emit({ ...base, task, size: 0, skipped: "not measured for TensorFlow.js" });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      emit({ ...base, task, size: 0, error: msg.split("\n")[0] });
    }
  }
}

await main();
process.exit(0);
