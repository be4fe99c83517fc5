import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";
import { gradcheckModule, leaf } from "./helpers.js";

const { nn } = fl;

function close(a: fl.Tensor, b: fl.Tensor, tol = 1e-5): void {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++)
    assert.ok(Math.abs(x[i]! - y[i]!) <= tol, `[${i}] ${x[i]} vs ${y[i]}`);
}

describe("RNN / LSTM / GRU", () => {
  test("PyTorch's parameter names, shapes and order", () => {
    const lstm = new nn.LSTM(3, 4, { numLayers: 2, bidirectional: true });
    assert.deepEqual(
      lstm.namedParameters().map(([k, p]) => `${k}:${p.shape.join("x")}`),
      [
        "weight_ih_l0:16x3",
        "weight_hh_l0:16x4",
        "bias_ih_l0:16",
        "bias_hh_l0:16",
        "weight_ih_l0_reverse:16x3",
        "weight_hh_l0_reverse:16x4",
        "bias_ih_l0_reverse:16",
        "bias_hh_l0_reverse:16",
        "weight_ih_l1:16x8",
        "weight_hh_l1:16x4",
        "bias_ih_l1:16",
        "bias_hh_l1:16",
        "weight_ih_l1_reverse:16x8",
        "weight_hh_l1_reverse:16x4",
        "bias_ih_l1_reverse:16",
        "bias_hh_l1_reverse:16",
      ],
    );
    assert.deepEqual(Object.keys(new nn.GRU(2, 3, { bias: false }).stateDict()), [
      "weight_ih_l0",
      "weight_hh_l0",
    ]);
    assert.equal(new nn.LSTM(3, 4).allWeights[0]!.length, 4);
    assert.equal(
      String(new nn.GRU(2, 3, { numLayers: 2, batchFirst: true })),
      "GRU(2, 3, num_layers=2, batch_first=True)",
    );
  });

  test("weights start in U(-1/√H, 1/√H)", () => {
    const rnn = new nn.RNN(5, 16);
    for (const p of rnn.parameters()) {
      assert.ok((p.abs().amax().itemSync() as number) <= 0.25);
    }
  });

  test("returns [output, hN] / [output, [hN, cN]] with PyTorch's shapes", () => {
    const x = fl.randn([5, 3, 4]); // (L, N, Hin)
    const [o1, h1] = new nn.RNN(4, 6, { numLayers: 2 }).forward(x);
    assert.deepEqual(
      [o1.shape, h1.shape],
      [
        [5, 3, 6],
        [2, 3, 6],
      ],
    );
    const [o2, [h2, c2]] = new nn.LSTM(4, 6, { bidirectional: true, batchFirst: true }).forward(x);
    assert.deepEqual(
      [o2.shape, h2.shape, c2.shape],
      [
        [5, 3, 12],
        [2, 5, 6],
        [2, 5, 6],
      ],
    );
    const [o3, h3] = new nn.GRU(4, 6).forward(fl.randn([7, 4])); // unbatched
    assert.deepEqual(
      [o3.shape, h3.shape],
      [
        [7, 6],
        [1, 6],
      ],
    );
  });

  test("the last output step is hN (forward) and the first is the reverse hN", () => {
    const gru = new nn.GRU(3, 4, { bidirectional: true });
    const [out, h] = gru.forward(fl.randn([6, 2, 3]));
    close(out.select(0, 5).narrow(1, 0, 4), h.select(0, 0));
    close(out.select(0, 0).narrow(1, 4, 4), h.select(0, 1));
  });

  test("a layer equals its cell stepped by hand", () => {
    fl.manualSeed(3);
    const lstm = new nn.LSTM(3, 4);
    const cell = new nn.LSTMCell(3, 4);
    cell.loadStateDict({
      weight_ih: lstm.getParameter("weight_ih_l0"),
      weight_hh: lstm.getParameter("weight_hh_l0"),
      bias_ih: lstm.getParameter("bias_ih_l0"),
      bias_hh: lstm.getParameter("bias_hh_l0"),
    });
    const x = fl.randn([5, 2, 3]);
    const [out, [hN, cN]] = lstm.forward(x);
    let hc: [fl.Tensor, fl.Tensor] = [fl.zeros([2, 4]), fl.zeros([2, 4])];
    for (let t = 0; t < 5; t++) {
      hc = cell.forward(x.select(0, t), hc);
      close(out.select(0, t), hc[0]);
    }
    close(hN.squeeze(0), hc[0]);
    close(cN.squeeze(0), hc[1]);
  });

  test("dropout between layers acts only while training", () => {
    const rnn = new nn.RNN(3, 8, { numLayers: 2, dropout: 0.5 });
    const x = fl.randn([4, 2, 3]);
    rnn.eval();
    close(rnn.forward(x)[0], rnn.forward(x)[0]);
    rnn.train();
    const a = rnn.forward(x)[0].dataSync();
    const b = rnn.forward(x)[0].dataSync();
    assert.ok(
      a.some((v, i) => v !== b[i]),
      "two training passes should differ",
    );
  });

  test("errors name the layer and the sizes", () => {
    const lstm = new nn.LSTM(4, 3);
    assert.throws(
      () => lstm.forward(fl.randn([5, 2, 7])),
      /LSTM: input.size\(-1\) must be equal to input_size. Expected 4, got 7/,
    );
    assert.throws(
      () => lstm.forward(fl.randn([5, 2, 4]), [fl.zeros([1, 3, 3]), fl.zeros([1, 2, 3])]),
      /LSTM: expected hidden size \[1,2,3\] for hx, got \[1,3,3\]/,
    );
    assert.throws(
      () => new nn.RNN(2, 2, { nonlinearity: "sigmoid" as "tanh" }),
      /unknown nonlinearity 'sigmoid'/,
    );
  });

  test("gradcheck: bidirectional 2-layer RNN with h0", () => {
    const rnn = new nn.RNN(2, 2, { numLayers: 2, bidirectional: true });
    assert.ok(
      gradcheckModule(rnn, [leaf([3, 1, 2]), leaf([4, 1, 2])], (x, h) => rnn.forward(x!, h!)),
    );
  });

  test("gradcheck: LSTM with projSize and initial states", () => {
    const lstm = new nn.LSTM(2, 3, { projSize: 1, batchFirst: true });
    assert.ok(
      gradcheckModule(lstm, [leaf([1, 3, 2]), leaf([1, 1, 1]), leaf([1, 1, 3])], (x, h, c) => {
        const [out, [hN, cN]] = lstm.forward(x!, [h!, c!]);
        return [out, hN, cN];
      }),
    );
  });

  test("gradcheck: GRU", () => {
    const gru = new nn.GRU(2, 2);
    assert.ok(gradcheckModule(gru, [leaf([3, 2, 2])], (x) => gru.forward(x!)));
  });

  test("gradcheck: the three cells", () => {
    const rnnCell = new nn.RNNCell(2, 2, { nonlinearity: "tanh" });
    assert.ok(
      gradcheckModule(rnnCell, [leaf([2, 2]), leaf([2, 2])], (x, h) => rnnCell.forward(x!, h!)),
    );
    const lstmCell = new nn.LSTMCell(2, 2);
    assert.ok(
      gradcheckModule(lstmCell, [leaf([1, 2]), leaf([1, 2]), leaf([1, 2])], (x, h, c) =>
        lstmCell.forward(x!, [h!, c!]),
      ),
    );
    const gruCell = new nn.GRUCell(2, 2);
    assert.ok(
      gradcheckModule(gruCell, [leaf([1, 2]), leaf([1, 2])], (x, h) => gruCell.forward(x!, h!)),
    );
  });
});
