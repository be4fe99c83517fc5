#!/usr/bin/python3
"""PyTorch's answers for flint's optimizers, schedulers and gradient clipping.

Adds the cases torch-reference.json lacks, in the same format
(shared/conformance/README.md), with three extensions the optimizer runner
reads: an optimizer case may give "groups" (parameter indices and options
per group) and null gradients (that parameter has no grad at that step); a
scheduler case may give "metrics" (ReduceLROnPlateau.step(metric)),
"schedulers" (SequentialLR's children), "momentums"/"beta1s" (what
OneCycleLR does to momentum) and named lambdas {"lambda": name}; a
clipGradNorm case may give "normType".

    /usr/bin/python3 tools/conformance/gen_optim.py --out test/fixtures/torch-optim.json
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import enc  # noqa: E402

S = torch.optim.lr_scheduler

# The runner maps these names to the same functions in TypeScript.
LAMBDAS = {
    "pow095": lambda e: 0.95 ** e,
    "warmup5": lambda e: min(1.0, (e + 1) / 5),
}


def optimizer_cases(g):
    def randn(*shape):
        return torch.randn(*shape, generator=g)

    # (name, flint options, torch constructor, groups or None, steps where param 1 has no grad)
    cases = [
        ("SGDDampening", "SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
         lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5), None, []),
        ("SGDMaximize", "SGD", {"lr": 0.1, "momentum": 0.5, "weightDecay": 0.01, "maximize": True},
         lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5, weight_decay=0.01, maximize=True), None, []),
        ("RMSprop", "RMSprop", {"lr": 0.01},
         lambda p: torch.optim.RMSprop(p, lr=0.01), None, []),
        ("RMSpropWeightDecay", "RMSprop", {"lr": 0.01, "alpha": 0.9, "weightDecay": 0.1},
         lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, weight_decay=0.1), None, []),
        ("RMSpropMomentum", "RMSprop", {"lr": 0.01, "momentum": 0.9, "eps": 1e-6},
         lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.9, eps=1e-6), None, []),
        ("AdagradWeightDecay", "Adagrad", {"lr": 0.1, "weightDecay": 0.1, "initialAccumulatorValue": 0.5},
         lambda p: torch.optim.Adagrad(p, lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5), None, []),
        ("AdamMaximize", "Adam", {"lr": 0.01, "maximize": True},
         lambda p: torch.optim.Adam(p, lr=0.01, maximize=True), None, []),
        ("AdamWAmsgrad", "AdamW", {"lr": 0.01, "weightDecay": 0.05, "amsgrad": True},
         lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05, amsgrad=True), None, []),
        ("AdamWDefaults", "AdamW", {"lr": 0.05},
         lambda p: torch.optim.AdamW(p, lr=0.05), None, []),
        ("AdamSkipsMissingGrad", "Adam", {"lr": 0.01},
         lambda p: torch.optim.Adam(p, lr=0.01), None, [1, 2]),
        ("SGDTwoGroups", "SGD", {"lr": 0.05, "momentum": 0.5},
         lambda p: torch.optim.SGD([{"params": [p[0]], "lr": 0.1},
                                    {"params": [p[1]], "lr": 0.01, "momentum": 0.9}], lr=0.05, momentum=0.5),
         [{"params": [0], "kwargs": {"lr": 0.1}}, {"params": [1], "kwargs": {"lr": 0.01, "momentum": 0.9}}], []),
        ("AdamTwoGroups", "Adam", {"lr": 0.01},
         lambda p: torch.optim.Adam([{"params": [p[0]]},
                                     {"params": [p[1]], "lr": 0.1, "betas": (0.5, 0.9)}], lr=0.01),
         [{"params": [0], "kwargs": {}}, {"params": [1], "kwargs": {"lr": 0.1, "betas": [0.5, 0.9]}}], []),
    ]
    out = []
    for name, target, opts, ctor, groups, no_grad_steps in cases:
        p0 = [randn(3, 2), randn(4)]
        params = [p.clone().requires_grad_(True) for p in p0]
        opt = ctor(params)
        grads, traj = [], []
        for step in range(5):
            gs = [randn(*p.shape) for p in params]
            if step in no_grad_steps:
                gs[1] = None
            for p, gr in zip(params, gs):
                p.grad = None if gr is None else gr.clone()
            opt.step()
            grads.append([None if gr is None else enc(gr) for gr in gs])
            traj.append([enc(p) for p in params])
        case = {"name": f"optim{name}", "kind": "optimizer", "target": target, "kwargs": opts,
                "params": [enc(p) for p in p0], "grads": grads, "trajectory": traj, "tol": 1e-5}
        if groups is not None:
            case["groups"] = groups
        out.append(case)
    return out


def scheduler_cases(g):
    # (name, target, args, kwargs, torch constructor, optimizer, extras)
    sgd = ("SGD", {"lr": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1))
    adam = ("Adam", {"lr": 0.1}, lambda p: torch.optim.Adam(p, lr=0.1))
    cases = [
        ("MultiStepLR", "MultiStepLR", [[2, 5, 5, 9]], {"gamma": 0.5},
         lambda o: S.MultiStepLR(o, [2, 5, 5, 9], gamma=0.5), sgd, {}),
        ("StepLRDefaultGamma", "StepLR", [4], {}, lambda o: S.StepLR(o, 4), sgd, {}),
        ("CosineAnnealingLRCycles", "CosineAnnealingLR", [3], {},
         lambda o: S.CosineAnnealingLR(o, 3), sgd, {}),
        ("LinearLRDecay", "LinearLR", [], {"startFactor": 1.0, "endFactor": 0.2, "totalIters": 6},
         lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=6), sgd, {}),
        ("OneCycleLRCos", "OneCycleLR", [], {"maxLr": 1.0, "totalSteps": 15},
         lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=15), sgd, {"momentum": True}),
        ("OneCycleLRLinear", "OneCycleLR", [],
         {"maxLr": 0.5, "epochs": 3, "stepsPerEpoch": 4, "pctStart": 0.25, "annealStrategy": "linear"},
         lambda o: S.OneCycleLR(o, max_lr=0.5, epochs=3, steps_per_epoch=4, pct_start=0.25,
                                anneal_strategy="linear"), sgd, {"momentum": True}),
        ("OneCycleLRThreePhaseAdam", "OneCycleLR", [],
         {"maxLr": 0.2, "totalSteps": 12, "threePhase": True, "divFactor": 10.0},
         lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=12, three_phase=True, div_factor=10.0),
         adam, {"beta1": True}),
        ("LambdaLRPow", "LambdaLR", [{"lambda": "pow095"}], {},
         lambda o: S.LambdaLR(o, LAMBDAS["pow095"]), sgd, {}),
        ("LambdaLRWarmup", "LambdaLR", [{"lambda": "warmup5"}], {},
         lambda o: S.LambdaLR(o, LAMBDAS["warmup5"]), sgd, {}),
        ("ReduceLROnPlateau", "ReduceLROnPlateau", [],
         {"patience": 2, "factor": 0.3, "cooldown": 1, "threshold": 0.01, "minLr": 0.02},
         lambda o: S.ReduceLROnPlateau(o, patience=2, factor=0.3, cooldown=1, threshold=0.01, min_lr=0.02),
         sgd, {"metrics": [1.0, 0.9, 0.95, 0.91, 0.92, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.2]}),
        ("ReduceLROnPlateauMaxAbs", "ReduceLROnPlateau", [],
         {"mode": "max", "thresholdMode": "abs", "threshold": 0.05, "patience": 1},
         lambda o: S.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", threshold=0.05, patience=1),
         sgd, {"metrics": [0.5, 0.6, 0.62, 0.63, 0.7, 0.7, 0.71, 0.9, 0.8, 0.8, 0.8, 0.8]}),
        ("SequentialLRWarmupCosine", "SequentialLR", [], {"milestones": [4]},
         lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=4),
                                      S.CosineAnnealingLR(o, 8, eta_min=0.001)], milestones=[4]),
         sgd, {"schedulers": [
             {"target": "LinearLR", "args": [], "kwargs": {"startFactor": 0.1, "totalIters": 4}},
             {"target": "CosineAnnealingLR", "args": [8], "kwargs": {"etaMin": 0.001}}]}),
        ("SequentialLRThree", "SequentialLR", [], {"milestones": [3, 7]},
         lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, total_iters=3),
                                      S.ExponentialLR(o, 0.9), S.StepLR(o, 2, gamma=0.5)],
                                  milestones=[3, 7]),
         sgd, {"schedulers": [
             {"target": "LinearLR", "args": [], "kwargs": {"startFactor": 0.5, "totalIters": 3}},
             {"target": "ExponentialLR", "args": [0.9], "kwargs": {}},
             {"target": "StepLR", "args": [2], "kwargs": {"gamma": 0.5}}]}),
    ]
    out = []
    for name, target, args, kwargs, ctor, (otarget, okwargs, octor), extra in cases:
        p = torch.zeros(1, requires_grad=True)
        o = octor([p])
        sch = ctor(o)
        lrs, moms = [], []
        metrics = extra.get("metrics")
        for i in range(12):
            lrs.append(o.param_groups[0]["lr"])
            if extra.get("momentum"):
                moms.append(o.param_groups[0]["momentum"])
            if extra.get("beta1"):
                moms.append(o.param_groups[0]["betas"][0])
            o.step()
            if metrics is not None:
                sch.step(metrics[i])
            else:
                sch.step()
        case = {"name": f"sched{name}", "kind": "scheduler", "target": target, "args": args,
                "kwargs": kwargs, "optimizer": {"target": otarget, "kwargs": okwargs},
                "lrs": lrs, "tol": 1e-7}
        if metrics is not None:
            case["metrics"] = metrics
        if "schedulers" in extra:
            case["schedulers"] = extra["schedulers"]
        if extra.get("momentum"):
            case["momentums"] = moms
        if extra.get("beta1"):
            case["beta1s"] = moms
        out.append(case)
    return out


def clip_cases(g):
    out = []
    for name, norm_type, max_norm, scale in [("Inf", "inf", 1.0, 3.0), ("L1", 1.0, 2.0, 3.0),
                                             ("L3", 3.0, 1.5, 1.0), ("BelowMax", 2.0, 100.0, 1.0)]:
        ps = [torch.randn(3, 3, generator=g), torch.randn(5, generator=g)]
        gs = [torch.randn(*p.shape, generator=g) * scale for p in ps]
        params = [p.clone().requires_grad_(True) for p in ps]
        for p, gr in zip(params, gs):
            p.grad = gr.clone()
        nt = float("inf") if norm_type == "inf" else norm_type
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=nt)
        out.append({"name": f"clipGradNorm{name}", "kind": "clipGradNorm", "maxNorm": max_norm,
                    "normType": norm_type, "params": [enc(p) for p in ps], "grads": [enc(x) for x in gs],
                    "totalNorm": float(total), "clipped": [enc(p.grad) for p in params], "tol": 1e-5})
    return out


def build(seed):
    g = torch.Generator().manual_seed(seed)
    return optimizer_cases(g) + scheduler_cases(g) + clip_cases(g)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cases = build(a.seed)
    with open(a.out, "w") as f:
        json.dump({"generator": "gen_optim.py", "torch": torch.__version__, "seed": a.seed, "cases": cases}, f)
    print(f"{len(cases)} cases -> {a.out}")
