// stateDict / loadStateDict: PyTorch's keys and order, round trips, strict
// and non-strict loading, and the errors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { nn } = fl;

function mlp(): fl.nn.Sequential {
  return new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Linear(3, 1));
}

function values(t: fl.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe("stateDict", () => {
  test("keys are PyTorch's, in PyTorch's order, and share storage", () => {
    const m = mlp();
    const sd = m.stateDict();
    assert.deepEqual(Object.keys(sd), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    // Detached views of the parameters: same values, no grad tracking.
    assert.equal(sd["0.weight"]!.requiresGrad, false);
    fl.noGrad(() => (m.at(0) as fl.nn.Linear).weight.fill_(5));
    assert.ok(values(sd["0.weight"]!).every((v) => v === 5));
  });

  test("keepVars returns the parameters themselves", () => {
    const m = mlp();
    assert.equal(m.stateDict({ keepVars: true })["2.bias"], (m.at(2) as fl.nn.Linear).bias);
  });

  test("snake_case buffer names stay as registered", () => {
    class Norm extends nn.Module {
      weight = new nn.Parameter(fl.ones([3]));
      constructor() {
        super();
        this.registerBuffer("running_mean", fl.zeros([3]));
        this.registerBuffer("num_batches_tracked", fl.zeros([], { dtype: "int32" }));
      }
    }
    const net = new nn.Sequential(new Norm());
    assert.deepEqual(Object.keys(net.stateDict()), [
      "0.weight",
      "0.running_mean",
      "0.num_batches_tracked",
    ]);
  });
});

describe("loadStateDict", () => {
  test("round trip: a fresh model loaded with another's state computes the same", () => {
    const a = mlp();
    const b = mlp();
    const x = fl.randn([4, 2]);
    assert.notDeepEqual(values(a.forward(x)), values(b.forward(x)));
    const r = b.loadStateDict(a.stateDict());
    assert.deepEqual(r, { missingKeys: [], unexpectedKeys: [] });
    assert.deepEqual(values(a.forward(x)), values(b.forward(x)));
    // Values were copied, not shared: changing a does not change b.
    fl.noGrad(() => (a.at(0) as fl.nn.Linear).bias!.fill_(100));
    assert.ok(values((b.at(0) as fl.nn.Linear).bias!).every((v) => v !== 100));
  });

  test("loading keeps parameter identity and works on parameters that require grad", () => {
    const b = mlp();
    const before = b.parameters();
    b.loadStateDict(mlp().stateDict());
    assert.deepEqual(b.parameters(), before);
    assert.ok(before.every((p) => p.requiresGrad && p.isLeaf));
  });

  test("loading casts values to the parameter's dtype", () => {
    const a = mlp().to("float64");
    const b = mlp();
    b.loadStateDict(a.stateDict());
    assert.equal((b.at(0) as fl.nn.Linear).weight.dtype, "float32");
    const want = values((a.at(0) as fl.nn.Linear).weight);
    for (const [i, v] of values((b.at(0) as fl.nn.Linear).weight).entries())
      assert.ok(Math.abs(v - want[i]!) < 1e-6);
  });

  test("buffers are loaded too", () => {
    class WithBuf extends nn.Module {
      constructor() {
        super();
        this.registerBuffer("running_mean", fl.zeros([2]));
      }
    }
    const m = new WithBuf();
    m.loadStateDict({ running_mean: fl.tensor([1, 2]) });
    assert.deepEqual(values((m as unknown as { running_mean: fl.Tensor }).running_mean), [1, 2]);
  });

  test("strict: missing and unexpected keys are listed as PyTorch lists them", () => {
    const m = mlp();
    const sd = m.stateDict();
    delete sd["2.bias"];
    sd.extra = fl.zeros([1]);
    assert.throws(
      () => m.loadStateDict(sd),
      (e: Error) => {
        assert.ok(e instanceof fl.ArgumentError);
        assert.match(e.message, /Error\(s\) in loading state_dict for Sequential:/);
        assert.match(e.message, /\n\tMissing key\(s\) in state_dict: "2.bias"\./);
        assert.match(e.message, /\n\tUnexpected key\(s\) in state_dict: "extra"\./);
        return true;
      },
    );
  });

  test("strict failure changes nothing", () => {
    const m = mlp();
    const before = values((m.at(0) as fl.nn.Linear).weight);
    const sd = mlp().stateDict();
    delete sd["2.bias"];
    assert.throws(() => m.loadStateDict(sd));
    assert.deepEqual(values((m.at(0) as fl.nn.Linear).weight), before);
  });

  test("non-strict loads what matches and reports the rest", () => {
    const src = mlp();
    const m = mlp();
    const sd = src.stateDict();
    delete sd["2.bias"];
    sd.extra = fl.zeros([1]);
    const r = m.loadStateDict(sd, { strict: false });
    assert.deepEqual(r, { missingKeys: ["2.bias"], unexpectedKeys: ["extra"] });
    assert.deepEqual(
      values((m.at(0) as fl.nn.Linear).weight),
      values((src.at(0) as fl.nn.Linear).weight),
    );
  });

  test("a shape mismatch is a ShapeError naming the key and both shapes, even when not strict", () => {
    const m = mlp();
    const sd = m.stateDict();
    sd["0.weight"] = fl.zeros([3, 5]);
    for (const strict of [true, false]) {
      assert.throws(
        () => m.loadStateDict(sd, { strict }),
        (e: Error) =>
          e instanceof fl.ShapeError &&
          e.message.includes(
            "size mismatch for 0.weight: copying a param with shape [3,5] from checkpoint, the shape in current model is [3,2]",
          ),
      );
    }
  });
});
