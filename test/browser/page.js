// The page test/browser/mlp.test.ts serves: trains the digits MLP with the
// built flint bundle, in the browser, on WebGPU when the browser offers it
// and on the CPU otherwise, and hands the result back to the test.
import * as fl from "/flint.js";

const { nn, optim } = fl;
const F = nn.functional;

/** The bundled digits data set (data/digits.csv.gz): 64 pixels and a label per line. */
async function loadDigits() {
  const res = await fetch("/data/digits.csv.gz");
  const text = await new Response(res.body.pipeThrough(new DecompressionStream("gzip"))).text();
  const rows = text
    .trim()
    .split("\n")
    .map((line) => line.split(",").map(Number));
  const x = fl.tensor(rows.map((r) => r.slice(0, 64)));
  const y = fl.tensor(
    rows.map((r) => r[64]),
    { dtype: "int32" },
  );
  return { x, y };
}

window.train = async ({ epochs, forceCpu }) => {
  const device = !forceCpu && (await fl.webgpu.isAvailable()) ? "webgpu" : "cpu";
  const info = device === "webgpu" ? await fl.webgpu.init() : null;
  fl.manualSeed(0);
  const { x, y } = await loadDigits();
  // A seeded 80/20 split, standardised with the training rows' statistics.
  const perm = fl.randperm(x.shape[0]);
  const nTrain = Math.floor(0.8 * x.shape[0]);
  const [trainIdx, testIdx] = [
    perm.narrow(0, 0, nTrain),
    perm.narrow(0, nTrain, x.shape[0] - nTrain),
  ];
  const mean = x.indexSelect(0, trainIdx).mean(0, { keepdim: true });
  const std = x.indexSelect(0, trainIdx).std(0, { keepdim: true, correction: 0 }).clamp(1e-6);
  const xs = x.sub(mean).div(std);
  const [xTrain, yTrain] = [
    xs.indexSelect(0, trainIdx).to(device),
    y.indexSelect(0, trainIdx).to(device),
  ];
  const [xTest, yTest] = [
    xs.indexSelect(0, testIdx).to(device),
    y.indexSelect(0, testIdx).to(device),
  ];

  const model = new nn.Sequential(new nn.Linear(64, 64), new nn.ReLU(), new nn.Linear(64, 10)).to(
    device,
  );
  const opt = new optim.Adam(model.parameters(), { lr: 3e-3 });
  const losses = [];
  const batch = 64;
  const t0 = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = fl.randperm(nTrain).to(device);
    let last = null;
    for (let i = 0; i < nTrain; i += batch) {
      const idx = order.narrow(0, i, Math.min(batch, nTrain - i));
      last = fl.tidy(() => {
        opt.zeroGrad();
        const loss = F.crossEntropy(
          model.forward(xTrain.indexSelect(0, idx)),
          yTrain.indexSelect(0, idx),
        );
        loss.backward();
        opt.step();
        return loss.detach();
      });
    }
    losses.push(Number(await last.item()));
  }
  const correct = fl.noGrad(() => model.forward(xTest).argmax(1).eq(yTest).sum());
  const accuracy = Number(await correct.item()) / yTest.shape[0];
  return {
    device,
    adapter: info?.adapter ?? null,
    accuracy,
    losses,
    seconds: (performance.now() - t0) / 1000,
    memory: fl.memory(),
  };
};
window.ready = true;
