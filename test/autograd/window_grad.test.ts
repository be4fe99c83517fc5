import assert from "node:assert/strict";
import { test } from "node:test";
import * as fl from "../../src/index.js";

// Gradients of selecting views (select, narrow, slicing) are added into one
// buffer by the engine; the recorded path (createGraph) materializes them.
// Both must give the same numbers, whatever order the pieces arrive in.
function graph(x: fl.Tensor): fl.Tensor {
  const h = x.mul(2); // a non-leaf: its node receives the window gradients
  let acc = h.sum().mul(0.5); // a full-size gradient arrives too
  for (let t = 0; t < 5; t++)
    acc = acc.add(
      h
        .select(0, t)
        .mul(t + 1)
        .sum(),
    );
  acc = acc.add(h.narrow(1, 1, 2).square().sum()); // overlapping windows
  acc = acc.add(h.index("::2, -1").exp().sum());
  return acc;
}

test("window gradients accumulated in place equal the materialized ones", () => {
  fl.manualSeed(0);
  const x = fl.randn([5, 4], { dtype: "float64" }).requiresGrad_();
  graph(x).backward();
  const [recorded] = fl.autograd.grad(graph(x), [x], { createGraph: true });
  const got = Array.from(x.grad!.dataSync());
  const want = Array.from(recorded!.dataSync());
  for (const [i, v] of got.entries()) {
    assert.ok(Math.abs(v - want[i]!) < 1e-12, `[${i}] ${v} vs ${want[i]}`);
  }
  assert.ok(fl.autograd.gradcheck(graph, [x]));
});

test("a window gradient reaching a leaf directly is materialized", () => {
  const x = fl
    .tensor([
      [1, 2],
      [3, 4],
    ])
    .requiresGrad_();
  x.select(0, 1)
    .mul(fl.tensor([10, 20]))
    .sum()
    .backward();
  assert.deepEqual(x.grad!.tolistSync(), [
    [0, 0],
    [10, 20],
  ]);
});

test("the buffer of one node is not shared with another input's gradient", () => {
  // AddBackward passes the same gradient object to both inputs; adding a
  // window into one of them must not change the other.
  const a = fl.ones([3]).requiresGrad_();
  const b = fl.ones([3]).requiresGrad_();
  const ha = a.mul(1);
  const hb = b.mul(1);
  const s = ha.add(hb);
  const loss = s.sum().add(ha.select(0, 0).mul(5));
  loss.backward();
  assert.deepEqual(Array.from(a.grad!.dataSync()), [6, 1, 1]);
  assert.deepEqual(Array.from(b.grad!.dataSync()), [1, 1, 1]);
});
