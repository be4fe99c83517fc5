// Sequential, ModuleList and ModuleDict: keys, order, editing, iteration.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { nn } = fl;

describe("Sequential", () => {
  test("forward chains the modules; keys are the indices", () => {
    const seq = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
    const x = fl.randn([3, 4]);
    const l0 = seq.at(0) as fl.nn.Linear;
    const l2 = seq.at(2) as fl.nn.Linear;
    const manual = l2.forward(l0.forward(x).relu());
    assert.deepEqual(Array.from(seq.forward(x).dataSync()), Array.from(manual.dataSync()));
    assert.deepEqual(
      seq.namedParameters().map(([k]) => k),
      ["0.weight", "0.bias", "2.weight", "2.bias"],
    );
    assert.equal(seq.length, 3);
    assert.equal(seq.at(-1), l2);
    assert.deepEqual([...seq], [l0, seq.at(1), l2]);
    assert.throws(() => seq.at(3), /index 3 is out of range/);
  });

  test("append, insert, pop and set renumber keys", () => {
    const a = new nn.Linear(1, 1);
    const b = new nn.Linear(1, 1);
    const c = new nn.Linear(1, 1);
    const seq = new nn.Sequential(a).append(c);
    seq.insert(1, b);
    assert.deepEqual([...seq], [a, b, c]);
    assert.deepEqual(Object.keys(seq.stateDict()), [
      "0.weight",
      "0.bias",
      "1.weight",
      "1.bias",
      "2.weight",
      "2.bias",
    ]);
    assert.equal(seq.pop(0), a);
    assert.deepEqual([...seq], [b, c]);
    assert.deepEqual(
      seq.namedChildren().map(([k]) => k),
      ["0", "1"],
    );
    seq.set(1, a);
    assert.deepEqual([...seq], [b, a]);
  });

  test("named modules from an object keep their names", () => {
    const seq = new nn.Sequential({ fc: new nn.Linear(2, 2), act: new nn.Tanh() });
    assert.deepEqual(Object.keys(seq.stateDict()), ["fc.weight", "fc.bias"]);
    assert.equal(
      seq.toString(),
      "Sequential(\n  (fc): Linear(in_features=2, out_features=2, bias=True)\n  (act): Tanh()\n)",
    );
  });

  test("slice gives a Sequential of the same modules", () => {
    const seq = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Linear(3, 1));
    const head = seq.slice(0, 2);
    assert.equal(head.length, 2);
    assert.equal(head.at(0), seq.at(0));
    assert.deepEqual(head.forward(fl.ones([1, 2])).shape, [1, 3]);
  });

  test("nested containers give dotted keys", () => {
    const seq = new nn.Sequential(
      new nn.Sequential(new nn.Linear(2, 2)),
      new nn.ModuleList([new nn.Linear(2, 1)]),
    );
    assert.deepEqual(
      seq.namedParameters().map(([k]) => k),
      ["0.0.weight", "0.0.bias", "1.0.weight", "1.0.bias"],
    );
  });

  test("rejects non-modules", () => {
    assert.throws(
      () => new nn.Sequential(fl.zeros([1]) as unknown as fl.nn.Module),
      fl.ArgumentError,
    );
  });
});

describe("ModuleList", () => {
  test("append/extend/insert/at/length, iteration and keys", () => {
    const list = new nn.ModuleList([new nn.Linear(2, 2)]);
    list.append(new nn.Linear(2, 3)).extend([new nn.ReLU(), new nn.Linear(3, 1)]);
    assert.equal(list.length, 4);
    assert.deepEqual(
      list.namedParameters().map(([k]) => k),
      ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"],
    );
    const first = new nn.Linear(5, 2);
    list.insert(0, first);
    assert.equal(list.at(0), first);
    assert.equal(list.length, 5);
    assert.deepEqual(
      list.namedChildren().map(([k]) => k),
      ["0", "1", "2", "3", "4"],
    );
    let x = fl.randn([1, 5]);
    for (const layer of list) x = layer.forward(x) as fl.Tensor;
    assert.deepEqual(x.shape, [1, 1]);
    assert.throws(() => list.forward(x), /missing the required "forward"/);
  });

  test("parameters of a module holding a ModuleList", () => {
    class Stack extends nn.Module {
      layers = new nn.ModuleList(Array.from({ length: 3 }, () => new nn.Linear(4, 4)));
      override forward(x: fl.Tensor): fl.Tensor {
        for (const l of this.layers) x = (l as fl.nn.Linear).forward(x).tanh();
        return x;
      }
    }
    const s = new Stack();
    assert.equal(s.parameters().length, 6);
    assert.equal(s.namedParameters()[4]![0], "layers.2.weight");
    s.forward(fl.randn([2, 4]))
      .sum()
      .backward();
    assert.ok(s.parameters().every((p) => p.grad !== null));
  });
});

describe("ModuleDict", () => {
  test("keeps insertion order, even for integer-like keys", () => {
    const d = new nn.ModuleDict({ b: new nn.Linear(1, 1) });
    d.set("1", new nn.Linear(1, 2));
    d.set("a", new nn.Linear(2, 1, { bias: false }));
    assert.deepEqual(d.keys(), ["b", "1", "a"]);
    assert.deepEqual([...d], ["b", "1", "a"]);
    assert.deepEqual(
      d.namedParameters().map(([k]) => k),
      ["b.weight", "b.bias", "1.weight", "1.bias", "a.weight"],
    );
    assert.deepEqual(Object.keys(d.stateDict()), [
      "b.weight",
      "b.bias",
      "1.weight",
      "1.bias",
      "a.weight",
    ]);
    assert.equal(d.length, 3);
  });

  test("get, has, pop, update, items", () => {
    const relu = new nn.ReLU();
    const d = new nn.ModuleDict([["act", relu]]);
    assert.equal(d.get("act"), relu);
    assert.ok(d.has("act"));
    d.update({ fc: new nn.Linear(2, 2) });
    assert.deepEqual(
      d.items().map(([k]) => k),
      ["act", "fc"],
    );
    assert.equal(d.pop("act"), relu);
    assert.ok(!d.has("act"));
    assert.throws(() => d.pop("act"), /no module named "act"/);
    assert.throws(() => d.set("x.y", relu), fl.ArgumentError);
    assert.equal(
      d.toString(),
      "ModuleDict(\n  (fc): Linear(in_features=2, out_features=2, bias=True)\n)",
    );
  });

  test("train/eval and loading reach modules in a ModuleDict", () => {
    const d = new nn.ModuleDict({ drop: new nn.Dropout(), fc: new nn.Linear(2, 2) });
    d.eval();
    assert.equal(d.get("drop")!.training, false);
    const other = new nn.ModuleDict({ drop: new nn.Dropout(), fc: new nn.Linear(2, 2) });
    other.loadStateDict(d.stateDict());
    assert.deepEqual(
      Array.from((other.get("fc") as fl.nn.Linear).weight.dataSync()),
      Array.from((d.get("fc") as fl.nn.Linear).weight.dataSync()),
    );
  });
});
