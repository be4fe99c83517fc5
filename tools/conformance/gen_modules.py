#!/usr/bin/python3
"""PyTorch's answers for flint's module layers, containers and nn.init.

Run with Debian's PyTorch 1.13:
    /usr/bin/python3 tools/conformance/gen_modules.py --out test/fixtures/torch-modules.json

Writes cases in the format of /work/shared/conformance/README.md
(kind "module": construct, load_state_dict(state), forward(inputs), check
out, backward with gradOut, check inputGrads, paramGrads and stateAfter),
with two additions that test/conformance/modules.test.ts understands:

- an argument may be a module spec {"module": "Linear", "args": [4, 8],
  "kwargs": {}}, built first (this is how containers get their children);
  stateAfter's keys are then also checked in order, which pins
  state_dict key names and order (e.g. Sequential's "0.weight");
- kind "init": after fl.manualSeed(seed), either build a module
  ("module": true) with its default initialization, or fill a fresh
  float32 tensor of `shape` with nn.init[target](t, ...args, kwargs?), and
  compare with PyTorch after torch.manual_seed(seed). flint's generator
  reproduces PyTorch's CPU streams, so these are exact up to rounding.
"""
import argparse
import json

import torch
import torch.nn as nn


def enc(t):
    t = t.detach()
    dtype = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int32",
             torch.int32: "int32", torch.bool: "bool"}[t.dtype]
    data = t.reshape(-1).tolist()
    if dtype == "bool":
        data = [bool(v) for v in data]
    return {"shape": list(t.shape), "dtype": dtype, "data": data}


def spec(name, *args, **kwargs):
    """A child module in a case's args: flint's name and options."""
    return {"module": name, "args": list(args), "kwargs": kwargs}


class Cases:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)
        self.cases = []

    def randn(self, *shape):
        return torch.randn(*shape, generator=self.g)

    def module(self, name, target, args, kwargs, inputs, build, mode="train", tol=1e-4):
        """inputs: list of (tensor, requires_grad). build() makes the torch module."""
        torch.manual_seed(4321)
        m = build()
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, generator=self.g) * 0.5)
        if mode == "eval":
            m.eval()
        state = {k: enc(v) for k, v in m.state_dict().items()}
        xs = []
        for t, grad in inputs:
            t = t.clone()
            if grad:
                t.requires_grad_(True)
            xs.append(t)
        out = m(*xs)
        go = torch.randn(out.shape, generator=self.g)
        if out.requires_grad:
            (out * go).sum().backward()
        self.cases.append({
            "name": name, "kind": "module", "target": target, "args": args, "kwargs": kwargs,
            "mode": mode, "state": state,
            "inputs": [{"tensor": enc(t), "requiresGrad": g} for t, (_, g) in zip(xs, inputs)],
            "out": enc(out), "gradOut": enc(go),
            "inputGrads": [enc(t.grad) if t.grad is not None else None for t in xs],
            "paramGrads": {k: enc(p.grad) for k, p in m.named_parameters()},
            "stateAfter": {k: enc(v) for k, v in m.state_dict().items()},
            "tol": tol,
        })

    def init_module(self, name, target, args, kwargs, build, seed):
        torch.manual_seed(seed)
        m = build()
        self.cases.append({"name": name, "kind": "init", "module": True, "target": target, "args": args,
                           "kwargs": kwargs, "seed": seed,
                           "stateAfter": {k: enc(v) for k, v in m.state_dict().items()}, "tol": 1e-5})

    def init_fn(self, name, target, shape, args, kwargs, fill, seed):
        torch.manual_seed(seed)
        t = torch.empty(*shape)
        fill(t)
        self.cases.append({"name": name, "kind": "init", "module": False, "target": target, "shape": shape,
                           "args": args, "kwargs": kwargs, "seed": seed, "out": enc(t), "tol": 1e-5})


def build(seed):
    C = Cases(seed)
    x = lambda *s: (C.randn(*s), True)  # noqa: E731

    # --- layers with weights ---
    C.module("Bilinear", "Bilinear", [3, 4, 5], {}, [x(6, 3), x(6, 4)], lambda: nn.Bilinear(3, 4, 5))
    C.module("BilinearNoBias3d", "Bilinear", [2, 3, 4], {"bias": False}, [x(2, 5, 2), x(2, 5, 3)],
             lambda: nn.Bilinear(2, 3, 4, bias=False))
    C.module("Linear3d", "Linear", [4, 2], {}, [x(2, 3, 4)], lambda: nn.Linear(4, 2))

    # --- containers: state_dict keys and order, forward through children ---
    C.module("SequentialMLP", "Sequential",
             [spec("Linear", 4, 8), spec("ReLU"), spec("Linear", 8, 3)], {}, [x(5, 4)],
             lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    C.module("SequentialNested", "Sequential",
             [spec("Linear", 3, 4, bias=False), spec("Sequential", spec("Tanh"), spec("Linear", 4, 2)),
              spec("Flatten", 0)], {}, [x(2, 3)],
             lambda: nn.Sequential(nn.Linear(3, 4, bias=False), nn.Sequential(nn.Tanh(), nn.Linear(4, 2)),
                                   nn.Flatten(0)))

    # --- activations ---
    acts = [
        ("ReLU", [], {}, lambda: nn.ReLU()),
        ("ReLU6", [], {}, lambda: nn.ReLU6()),
        ("LeakyReLU", [0.2], {}, lambda: nn.LeakyReLU(0.2)),
        ("ELU", [0.7], {}, lambda: nn.ELU(0.7)),
        ("SELU", [], {}, lambda: nn.SELU()),
        ("GELU", [], {}, lambda: nn.GELU()),
        ("GELU", [], {"approximate": "tanh"}, lambda: nn.GELU(approximate="tanh")),
        ("SiLU", [], {}, lambda: nn.SiLU()),
        ("Mish", [], {}, lambda: nn.Mish()),
        ("Sigmoid", [], {}, lambda: nn.Sigmoid()),
        ("Tanh", [], {}, lambda: nn.Tanh()),
        ("Softplus", [], {"beta": 2, "threshold": 3}, lambda: nn.Softplus(beta=2, threshold=3)),
        ("Softmax", [1], {}, lambda: nn.Softmax(1)),
        ("LogSoftmax", [-1], {}, lambda: nn.LogSoftmax(-1)),
        ("Softsign", [], {}, lambda: nn.Softsign()),
        ("Hardtanh", [-0.5, 1.5], {}, lambda: nn.Hardtanh(-0.5, 1.5)),
        ("Hardswish", [], {}, lambda: nn.Hardswish()),
        ("Identity", [], {}, lambda: nn.Identity()),
        ("Flatten", [], {}, lambda: nn.Flatten()),
    ]
    for i, (cls, args, kwargs, ctor) in enumerate(acts):
        inp = C.randn(3, 4, 2) * 2.5
        C.module(f"{cls}{i}", cls, args, kwargs, [(inp, True)], ctor)
    C.module("Unflatten", "Unflatten", [1, [2, 3]], {}, [x(4, 6)], lambda: nn.Unflatten(1, (2, 3)))
    C.module("DropoutEval", "Dropout", [0.5], {}, [x(4, 5)], lambda: nn.Dropout(0.5), mode="eval")
    C.module("DropoutZero", "Dropout", [0.0], {}, [x(4, 5)], lambda: nn.Dropout(0.0))

    # --- losses (target tensors need no gradient) ---
    N, K = 5, 4
    labels = torch.randint(0, K, (N,), generator=C.g)
    probs = torch.softmax(C.randn(N, K), 1)
    bin_t = (C.randn(N, K) > 0).float()
    sign_t = torch.where(C.randn(N) > 0, 1.0, -1.0)
    w = C.randn(K).abs() + 0.5
    tgt = lambda t: (t, False)  # noqa: E731
    arg = lambda t: {"tensor": enc(t), "requiresGrad": False}  # noqa: E731
    C.module("MSELoss", "MSELoss", [], {}, [x(N, K), tgt(C.randn(N, K))], lambda: nn.MSELoss())
    C.module("L1LossSum", "L1Loss", [], {"reduction": "sum"}, [x(N, K), tgt(C.randn(N, K))],
             lambda: nn.L1Loss(reduction="sum"))
    C.module("SmoothL1Loss", "SmoothL1Loss", [], {"beta": 0.5}, [x(N, K), tgt(C.randn(N, K))],
             lambda: nn.SmoothL1Loss(beta=0.5))
    C.module("HuberLossNone", "HuberLoss", [], {"delta": 0.7, "reduction": "none"},
             [x(N, K), tgt(C.randn(N, K))], lambda: nn.HuberLoss(delta=0.7, reduction="none"))
    C.module("CrossEntropyLoss", "CrossEntropyLoss", [], {}, [x(N, K), tgt(labels)],
             lambda: nn.CrossEntropyLoss())
    C.module("CrossEntropyLossWeighted", "CrossEntropyLoss", [], {"weight": arg(w), "labelSmoothing": 0.1},
             [x(N, K), tgt(labels)], lambda: nn.CrossEntropyLoss(weight=w, label_smoothing=0.1))
    C.module("CrossEntropyLossProbs", "CrossEntropyLoss", [], {}, [x(N, K), tgt(probs)],
             lambda: nn.CrossEntropyLoss())
    C.module("NLLLoss", "NLLLoss", [], {"weight": arg(w)}, [x(N, K), tgt(labels)],
             lambda: nn.NLLLoss(weight=w))
    C.module("BCELoss", "BCELoss", [], {}, [(torch.sigmoid(C.randn(N, K)), True), tgt(bin_t)],
             lambda: nn.BCELoss())
    C.module("BCEWithLogitsLoss", "BCEWithLogitsLoss", [], {"posWeight": arg(w)}, [x(N, K), tgt(bin_t)],
             lambda: nn.BCEWithLogitsLoss(pos_weight=w))
    C.module("KLDivLoss", "KLDivLoss", [], {"reduction": "batchmean"},
             [(torch.log_softmax(C.randn(N, K), 1), True), tgt(probs)],
             lambda: nn.KLDivLoss(reduction="batchmean"))
    C.module("MarginRankingLoss", "MarginRankingLoss", [], {"margin": 0.3},
             [x(N), x(N), tgt(sign_t)], lambda: nn.MarginRankingLoss(margin=0.3))
    C.module("CosineEmbeddingLoss", "CosineEmbeddingLoss", [], {"margin": 0.2},
             [x(N, K), x(N, K), tgt(sign_t)], lambda: nn.CosineEmbeddingLoss(margin=0.2))
    C.module("TripletMarginLoss", "TripletMarginLoss", [], {"margin": 0.5},
             [x(N, K), x(N, K), x(N, K)], lambda: nn.TripletMarginLoss(margin=0.5))
    C.module("CosineSimilarity", "CosineSimilarity", [], {"dim": 1}, [x(N, K), x(N, K)],
             lambda: nn.CosineSimilarity(dim=1))

    # --- default initialization and nn.init, seeded ---
    C.init_module("LinearDefaultInit", "Linear", [20, 7], {}, lambda: nn.Linear(20, 7), 0)
    C.init_module("LinearDefaultInitNoBias", "Linear", [3, 40], {"bias": False},
                  lambda: nn.Linear(3, 40, bias=False), 7)
    C.init_module("BilinearDefaultInit", "Bilinear", [4, 3, 2], {}, lambda: nn.Bilinear(4, 3, 2), 1)
    ii = nn.init
    C.init_fn("uniform_", "uniform_", [6, 5], [-2, 3], {}, lambda t: ii.uniform_(t, -2, 3), 0)
    C.init_fn("normal_", "normal_", [8, 5], [1, 0.5], {}, lambda t: ii.normal_(t, 1, 0.5), 1)
    C.init_fn("normalSmall", "normal_", [3, 3], [0, 2], {}, lambda t: ii.normal_(t, 0, 2), 2)
    C.init_fn("xavierUniform_", "xavierUniform_", [7, 9], [1.5], {}, lambda t: ii.xavier_uniform_(t, 1.5), 3)
    C.init_fn("xavierNormal_", "xavierNormal_", [6, 4, 3], [], {}, lambda t: ii.xavier_normal_(t), 4)
    C.init_fn("kaimingUniformConv", "kaimingUniform_", [4, 3, 3, 3], [], {"mode": "fanOut", "nonlinearity": "relu"},
              lambda t: ii.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), 5)
    C.init_fn("kaimingNormal_", "kaimingNormal_", [10, 6], [], {"a": 0.1},
              lambda t: ii.kaiming_normal_(t, a=0.1), 6)
    C.init_fn("orthogonalTall", "orthogonal_", [6, 4], [], {}, lambda t: ii.orthogonal_(t), 7)
    C.init_fn("orthogonalWide", "orthogonal_", [3, 2, 4], [2.0], {}, lambda t: ii.orthogonal_(t, 2.0), 8)
    C.init_fn("truncNormal_", "truncNormal_", [9, 7], [0.5, 2, -1, 3], {},
              lambda t: ii.trunc_normal_(t, 0.5, 2, -1, 3), 9)
    C.init_fn("eye_", "eye_", [3, 5], [], {}, lambda t: ii.eye_(t), 0)
    return C.cases


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cases = build(a.seed)
    with open(a.out, "w") as f:
        json.dump({"generator": "tools/conformance/gen_modules.py", "torch": torch.__version__,
                   "seed": a.seed, "cases": cases}, f)
    print(f"{len(cases)} cases -> {a.out}")
