// Run by no_simd_fallback.test.ts in a child process, with and without
// FLINT_NO_SIMD=1: trains four small models a few steps and prints their
// losses and whether wasm SIMD was in use, as one JSON line.
import { defaultGemm } from "../../src/backend/cpu/wasm/matmul.js";
import { wasmFeatures } from "../../src/backend/cpu/wasm/runtime.js";
import * as fl from "../../src/index.js";

const { nn, optim } = fl;
const F = nn.functional;

function train(
  model: fl.nn.Module,
  opt: fl.optim.Optimizer,
  loss: () => fl.Tensor,
  steps = 3,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    const l = loss();
    l.backward();
    opt.step();
    out.push(Number(l.itemSync()));
  }
  void model;
  return out;
}

fl.manualSeed(0);
const mlp = new nn.Sequential(new nn.Linear(64, 128), new nn.ReLU(), new nn.Linear(128, 10));
const xm = fl.randn([256, 64]);
const ym = fl.randint(0, 10, [256]);
const mlpLosses = train(mlp, new optim.Adam(mlp.parameters(), { lr: 1e-2 }), () =>
  F.crossEntropy(mlp.forward(xm) as fl.Tensor, ym),
);

fl.manualSeed(1);
const cnn = new nn.Sequential(
  new nn.Conv2d(1, 8, 3, { padding: 1 }),
  new nn.BatchNorm2d(8),
  new nn.ReLU(),
  new nn.MaxPool2d(2),
  new nn.Conv2d(8, 16, 5),
  new nn.ReLU(),
  new nn.Flatten(),
  new nn.Linear(16 * 3 * 3, 10),
);
const xc = fl.randn([32, 1, 14, 14]);
const yc = fl.randint(0, 10, [32]);
const cnnLosses = train(cnn, new optim.SGD(cnn.parameters(), { lr: 0.05, momentum: 0.9 }), () =>
  F.crossEntropy(cnn.forward(xc) as fl.Tensor, yc),
);

fl.manualSeed(2);
const lstm = new nn.LSTM(16, 64, { numLayers: 2, batchFirst: true });
const head = new nn.Linear(64, 5);
const xs = fl.randn([16, 12, 16]);
const ys = fl.randint(0, 5, [16]);
const lstmParams = [...lstm.parameters(), ...head.parameters()];
const lstmLosses = train(lstm, new optim.Adam(lstmParams, { lr: 1e-2 }), () => {
  const [out] = lstm.forward(xs) as [fl.Tensor, unknown];
  return F.crossEntropy(head.forward(out.select(1, -1)) as fl.Tensor, ys);
});

fl.manualSeed(3);
const layer = new nn.TransformerEncoderLayer(64, 4, {
  dimFeedforward: 256,
  dropout: 0,
  activation: "gelu",
  batchFirst: true,
  normFirst: true,
});
const xt = fl.randn([8, 32, 64]);
const gptLosses = train(layer, new optim.AdamW(layer.parameters(), { lr: 1e-2 }), () =>
  layer.forward(xt, { isCausal: true }).softmax(-1).log().neg().mean(),
);

console.log(
  JSON.stringify({
    simd: wasmFeatures().simd,
    wasmGemm: defaultGemm() !== null,
    losses: { mlp: mlpLosses, cnn: cnnLosses, lstm: lstmLosses, transformer: gptLosses },
  }),
);
process.exit(0);
