// nn.Module: registration by assignment, traversal order, modes, gradients,
// device/dtype moves, hooks and printing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fl from "../../src/index.js";

const { nn } = fl;

class Block extends nn.Module {
  fc = new nn.Linear(3, 3);
  act = new nn.Tanh();
  declare readonly running: fl.Tensor;

  constructor() {
    super();
    this.registerBuffer("running", fl.zeros([3]));
  }

  override forward(x: fl.Tensor): fl.Tensor {
    return this.act.forward(this.fc.forward(x));
  }
}

class Net extends nn.Module {
  scale = new nn.Parameter(fl.ones([1]));
  cache = fl.zeros([2]); // a plain tensor: not a parameter, not a buffer
  block = new Block();
  head = new nn.Linear(3, 2, { bias: false });

  override forward(x: fl.Tensor): fl.Tensor {
    return this.head.forward(this.block.forward(x)).mul(this.scale);
  }
}

describe("registration and traversal", () => {
  test("namedParameters: own first, then each child, dotted, in declaration order", () => {
    const net = new Net();
    assert.deepEqual(
      net.namedParameters().map(([k]) => k),
      ["scale", "block.fc.weight", "block.fc.bias", "head.weight"],
    );
    assert.equal(net.parameters().length, 4);
    assert.ok(net.parameters().every((p) => p instanceof nn.Parameter && p.requiresGrad));
    assert.equal(net.numParameters(), 1 + 9 + 3 + 6);
  });

  test("plain tensors are not parameters; buffers are registered by name", () => {
    const net = new Net();
    assert.ok(!net.parameters().some((p) => p === (net.cache as unknown)));
    assert.deepEqual(
      net.namedBuffers().map(([k]) => k),
      ["block.running"],
    );
    assert.equal(net.buffers()[0], net.block.running);
    // PyTorch's order: a module's own parameters and buffers, then its children.
    assert.deepEqual(Object.keys(net.stateDict()), [
      "scale",
      "block.running",
      "block.fc.weight",
      "block.fc.bias",
      "head.weight",
    ]);
  });

  test("non-persistent buffers stay out of stateDict", () => {
    const m = new nn.Module();
    m.registerBuffer("a", fl.ones([1]));
    m.registerBuffer("b", fl.ones([1]), false);
    assert.deepEqual(
      m.namedBuffers().map(([k]) => k),
      ["a", "b"],
    );
    assert.deepEqual(Object.keys(m.stateDict()), ["a"]);
  });

  test("children, namedModules and modules walk pre-order", () => {
    const net = new Net();
    assert.deepEqual(
      net.namedChildren().map(([k]) => k),
      ["block", "head"],
    );
    assert.deepEqual(net.children(), [net.block, net.head]);
    assert.deepEqual(
      net.namedModules().map(([k]) => k),
      ["", "block", "block.fc", "block.act", "head"],
    );
    assert.equal(net.modules()[0], net);
    assert.equal(net.getSubmodule("block.fc"), net.block.fc);
    assert.equal(net.getParameter("block.fc.bias"), net.block.fc.bias);
    assert.throws(() => net.getSubmodule("block.nope"), /no submodule `nope`/);
  });

  test("registerParameter, registerModule, addModule and their checks", () => {
    const m = new nn.Module();
    const p = new nn.Parameter(fl.zeros([2]));
    m.registerParameter("w", p);
    m.addModule("sub", new nn.Linear(1, 1));
    m.registerParameter("missing", null);
    assert.deepEqual(
      m.namedParameters().map(([k]) => k),
      ["w", "sub.weight", "sub.bias"],
    );
    assert.throws(
      () => m.registerParameter("x", fl.zeros([1]) as fl.nn.Parameter),
      fl.ArgumentError,
    );
    assert.throws(() => m.registerModule("a.b", new nn.ReLU()), /can't contain "."/);
    assert.throws(() => m.registerBuffer("w", fl.zeros([1])), /already exists/);
  });

  test("a shared parameter or module is listed once (tied weights)", () => {
    class Tied extends nn.Module {
      a = new nn.Linear(2, 2);
      b = this.a;
    }
    const t = new Tied();
    assert.deepEqual(
      t.namedParameters().map(([k]) => k),
      ["a.weight", "a.bias"],
    );
    assert.deepEqual(
      t.namedChildren().map(([k]) => k),
      ["a"],
    );
    // state_dict keeps both names, as PyTorch's does.
    assert.deepEqual(Object.keys(t.stateDict()), ["a.weight", "a.bias", "b.weight", "b.bias"]);
  });

  test("a module without forward says so", () => {
    assert.throws(
      () => new nn.Module().forward(),
      /Module \[Module\] is missing the required "forward" function/,
    );
  });
});

describe("modes and gradients", () => {
  test("train/eval propagate to every submodule", () => {
    const net = new Net();
    assert.ok(net.modules().every((m) => m.training));
    assert.equal(net.eval(), net);
    assert.ok(net.modules().every((m) => !m.training));
    net.train();
    assert.ok(net.modules().every((m) => m.training));
    net.block.train(false);
    assert.deepEqual(
      net.modules().map((m) => m.training),
      [true, false, false, false, true],
    );
  });

  test("zeroGrad sets grads to null, or to zeros with setToNone false", () => {
    const net = new Net();
    net
      .forward(fl.randn([4, 3]))
      .sum()
      .backward();
    assert.ok(net.parameters().every((p) => p.grad !== null));
    net.zeroGrad({ setToNone: false });
    for (const p of net.parameters()) {
      assert.deepEqual(p.grad!.shape, p.shape);
      assert.ok(Array.from(p.grad!.dataSync()).every((v) => v === 0));
    }
    net.zeroGrad();
    assert.ok(net.parameters().every((p) => p.grad === null));
  });

  test("requiresGrad_(false) freezes: no gradients reach frozen parameters", () => {
    const net = new Net();
    net.block.requiresGrad_(false);
    net
      .forward(fl.randn([4, 3]))
      .sum()
      .backward();
    assert.equal(net.block.fc.weight.grad, null);
    assert.equal(net.block.fc.bias!.grad, null);
    assert.ok(net.head.weight.grad !== null);
    assert.equal(net.numParameters({ onlyTrainable: true }), 1 + 6);
  });

  test("apply visits children before the parent", () => {
    const seen: string[] = [];
    new Net().apply((m) => seen.push(m.getName()));
    assert.deepEqual(seen, ["Linear", "Tanh", "Block", "Linear", "Net"]);
  });

  test("apply can re-initialize every Linear", () => {
    const net = new Net();
    net.apply((m) => {
      if (m instanceof nn.Linear) nn.init.zeros_(m.weight);
    });
    assert.ok(Array.from(net.head.weight.dataSync()).every((v) => v === 0));
    assert.ok(Array.from(net.block.fc.weight.dataSync()).every((v) => v === 0));
  });
});

describe("to(): device and dtype", () => {
  test("to('cpu') keeps parameter identity and values", () => {
    const net = new Net();
    const before = net.parameters();
    const values = before.map((p) => Array.from(p.dataSync()));
    assert.equal(net.to("cpu"), net);
    assert.deepEqual(net.parameters(), before);
    assert.deepEqual(
      net.parameters().map((p) => Array.from(p.dataSync())),
      values,
    );
  });

  test("to('float64') casts parameters in place (same objects) and float buffers", () => {
    const net = new Net();
    const w = net.head.weight;
    const values = Array.from(w.dataSync());
    net.registerBuffer("steps", fl.zeros([1], { dtype: "int32" }));
    net.to("float64");
    assert.equal(net.head.weight, w);
    assert.equal(w.dtype, "float64");
    assert.ok(w.isLeaf && w.requiresGrad);
    for (const [i, v] of Array.from(w.dataSync()).entries())
      assert.ok(Math.abs(v - values[i]!) < 1e-7);
    assert.equal(net.block.running.dtype, "float64");
    assert.equal(
      (net as unknown as { steps: fl.Tensor }).steps.dtype,
      "int32",
      "integer buffers are not cast",
    );
    // The model still trains in float64.
    net
      .forward(fl.randn([2, 3], { dtype: "float64" }))
      .sum()
      .backward();
    assert.equal(w.grad!.dtype, "float64");
    net.float();
    assert.equal(w.dtype, "float32");
  });
});

describe("forward hooks", () => {
  class Doubler extends nn.Module {
    calls = 0;
    override forward(x: fl.Tensor): fl.Tensor {
      this.calls++;
      return x.mul(2);
    }
  }

  test("hooks run around a forward defined as a method, and can be removed", () => {
    const m = new Doubler();
    const log: string[] = [];
    const pre = m.registerForwardPreHook((mod, args) => {
      assert.equal(mod, m);
      log.push(`pre ${(args[0] as fl.Tensor).shape}`);
    });
    const post = m.registerForwardHook((_mod, args, out) => {
      log.push(`post ${(args[0] as fl.Tensor).itemSync()} -> ${(out as fl.Tensor).itemSync()}`);
    });
    m.forward(fl.tensor(3));
    assert.deepEqual(log, ["pre ", "post 3 -> 6"]);
    pre.remove();
    post.remove();
    m.forward(fl.tensor(1));
    assert.equal(log.length, 2);
    assert.equal(m.calls, 2);
  });

  test("a pre-hook may replace the input and a hook the output", () => {
    const m = new Doubler();
    m.registerForwardPreHook((_m, args) => [(args[0] as fl.Tensor).add(1)]);
    m.registerForwardHook((_m, _args, out) => (out as fl.Tensor).neg());
    assert.equal(m.forward(fl.tensor(3)).itemSync(), -8);
    assert.equal(m.call(fl.tensor(0)).itemSync(), -2);
  });

  test("hooks on a submodule fire when the parent runs (feature capture)", () => {
    const net = new Net();
    const captured: fl.Tensor[] = [];
    const h = net.block.fc.registerForwardHook(
      (_m, _a, out) => void captured.push(out as fl.Tensor),
    );
    net.forward(fl.randn([5, 3]));
    assert.equal(captured.length, 1);
    assert.deepEqual(captured[0]!.shape, [5, 3]);
    h.remove();
    net.forward(fl.randn([5, 3]));
    assert.equal(captured.length, 1);
  });

  test("super.forward in a subclass of a subclass runs the hooks once", () => {
    class Tripler extends Doubler {
      override forward(x: fl.Tensor): fl.Tensor {
        return super.forward(x).mul(1.5);
      }
    }
    const m = new Tripler();
    let n = 0;
    m.registerForwardHook(() => void n++);
    assert.equal(m.forward(fl.tensor(2)).itemSync(), 6);
    assert.equal(n, 1);
  });
});

describe("printing", () => {
  test("toString matches PyTorch's module repr", () => {
    class Small extends nn.Module {
      fc1 = new nn.Linear(4, 8);
      act = new nn.ReLU();
      drop = new nn.Dropout(0.1);
      seq = new nn.Sequential(new nn.Linear(8, 2, { bias: false }), new nn.LeakyReLU(0.2));
    }
    assert.equal(
      new Small().toString(),
      [
        "Small(",
        "  (fc1): Linear(in_features=4, out_features=8, bias=True)",
        "  (act): ReLU()",
        "  (drop): Dropout(p=0.1, inplace=False)",
        "  (seq): Sequential(",
        "    (0): Linear(in_features=8, out_features=2, bias=False)",
        "    (1): LeakyReLU(negative_slope=0.2)",
        "  )",
        ")",
      ].join("\n"),
    );
  });

  test("extraRepr of the layers follows PyTorch's", () => {
    assert.equal(String(new nn.ELU()), "ELU(alpha=1.0)");
    assert.equal(String(new nn.GELU({ approximate: "tanh" })), "GELU(approximate='tanh')");
    assert.equal(String(new nn.Softplus()), "Softplus(beta=1, threshold=20)");
    assert.equal(String(new nn.Softmax(1)), "Softmax(dim=1)");
    assert.equal(String(new nn.Hardtanh()), "Hardtanh(min_val=-1.0, max_val=1.0)");
    assert.equal(String(new nn.Flatten()), "Flatten(start_dim=1, end_dim=-1)");
    assert.equal(String(new nn.Unflatten(1, [2, 5])), "Unflatten(dim=1, unflattened_size=(2, 5))");
    assert.equal(
      String(new nn.Bilinear(2, 3, 4)),
      "Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)",
    );
    assert.equal(String(new nn.MSELoss()), "MSELoss()");
    assert.equal(String(new nn.ModuleList()), "ModuleList()");
  });

  test("a Parameter prints as 'Parameter containing:' then the tensor", () => {
    const p = new nn.Parameter(fl.tensor([1, 2]));
    assert.ok(p.toString().startsWith("Parameter containing:\n"));
    assert.ok(p.toString().endsWith(fl.tensor([1, 2]).requiresGrad_().toString()));
  });
});

describe("Parameter", () => {
  test("shares the tensor's storage and is a leaf that requires grad", () => {
    const t = fl.zeros([2, 2]);
    const p = new nn.Parameter(t);
    assert.ok(p instanceof fl.Tensor && p.isLeaf && p.requiresGrad);
    fl.noGrad(() => p.fill_(3));
    assert.deepEqual(Array.from(t.dataSync()), [3, 3, 3, 3]);
    assert.equal(new nn.Parameter(fl.zeros([1]), false).requiresGrad, false);
  });

  test("integer parameters cannot require grad", () => {
    assert.throws(() => new nn.Parameter(fl.zeros([2], { dtype: "int32" })), fl.DTypeError);
    assert.equal(new nn.Parameter(fl.zeros([2], { dtype: "int32" }), false).dtype, "int32");
  });
});
