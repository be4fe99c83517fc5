#!/usr/bin/python3
"""PyTorch's answers for flint's vision layers: convolution (padding modes,
'same', dilation, groups), transposed convolution, pooling (ceil_mode,
padding, dilation, indices), adaptive pooling, Upsample / interpolate,
the normalization family (running statistics, momentum None, eval,
affine/track_running_stats off), weight_norm and spectral_norm, unfold/fold
and pad.

Run with Debian's PyTorch 1.13:
    /usr/bin/python3 tools/conformance/gen_vision.py --out test/fixtures/torch-vision.json

Format: /work/shared/conformance/README.md (kinds "module" and "fn"), plus
for "module" cases:
- "wrap": {"fn": "weightNorm" | "spectralNorm", "kwargs": {...}} applied
  (fl.nn.utils[fn](m, kwargs)) right after construction, before
  loadStateDict;
- "buffers": the case randomizes buffers too (running statistics), so an
  eval-mode case uses non-trivial statistics; they are part of "state".
"""
import argparse
import json

import torch
import torch.nn as nn
import torch.nn.functional as F


def enc(t):
    t = t.detach()
    dtype = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int32",
             torch.int32: "int32", torch.bool: "bool"}[t.dtype]
    data = t.reshape(-1).tolist()
    if dtype == "bool":
        data = [bool(v) for v in data]
    return {"shape": list(t.shape), "dtype": dtype, "data": data}


class Cases:
    def __init__(self, seed, scale):
        self.g = torch.Generator().manual_seed(seed)
        self.scale = scale
        self.cases = []

    def randn(self, *shape):
        return torch.randn(*shape, generator=self.g)

    def module(self, name, target, args, kwargs, inputs, build, mode="train", tol=1e-4,
               wrap=None, buffers=False, out_index=None):
        torch.manual_seed(4321)
        m = build()
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, generator=self.g) * 0.5)
            if buffers:
                for k, b in m.named_buffers():
                    if k.endswith("running_var"):
                        b.copy_(torch.rand(b.shape, generator=self.g) + 0.5)
                    elif k.endswith("running_mean") or k.endswith("_u") or k.endswith("_v"):
                        b.copy_(torch.randn(b.shape, generator=self.g))
                    elif k.endswith("num_batches_tracked"):
                        b.fill_(3)
        if mode == "eval":
            m.eval()
        state = {k: enc(v) for k, v in m.state_dict().items()}
        xs = []
        for t, grad in inputs:
            t = t.clone()
            if grad:
                t.requires_grad_(True)
            xs.append(t)
        res = m(*xs)
        out = res[out_index] if out_index is not None else res
        go = torch.randn(out.shape, generator=self.g)
        if out.requires_grad:
            (out * go).sum().backward()
        case = {
            "name": name, "kind": "module", "target": target, "args": args, "kwargs": kwargs,
            "mode": mode, "state": state,
            "inputs": [{"tensor": enc(t), "requiresGrad": g} for t, (_, g) in zip(xs, inputs)],
            "out": enc(out), "gradOut": enc(go),
            "inputGrads": [enc(t.grad) if t.grad is not None else None for t in xs],
            "paramGrads": {k: enc(p.grad) for k, p in m.named_parameters()},
            "stateAfter": {k: enc(v) for k, v in m.state_dict().items()},
            "tol": tol,
        }
        if wrap is not None:
            case["wrap"] = wrap
        if out_index is not None:
            case["outIndex"] = out_index
            case["extraOut"] = [enc(r) for i, r in enumerate(res) if i != out_index]
        self.cases.append(case)

    def fn(self, name, target, fn, args, kwargs, tol=1e-4, out_index=None):
        """args: tensors as (tensor, requires_grad), anything else plain."""
        xs = []
        for a in args:
            if isinstance(a, tuple):
                t = a[0].clone()
                if a[1]:
                    t.requires_grad_(True)
                xs.append(t)
            else:
                xs.append(a)
        res = fn(*xs)
        out = res[out_index] if out_index is not None else res
        case = {"name": name, "kind": "fn", "target": target,
                "args": [{"tensor": enc(t), "requiresGrad": t.requires_grad} if torch.is_tensor(t) else t
                         for t in xs],
                "kwargs": kwargs, "out": enc(out), "tol": tol}
        if out_index is not None:
            case["outIndex"] = out_index
            case["extraOut"] = [enc(r) for i, r in enumerate(res) if i != out_index]
        if out.requires_grad:
            go = torch.randn(out.shape, generator=self.g)
            (out * go).sum().backward()
            case["gradOut"] = enc(go)
            case["grads"] = [enc(t.grad) if torch.is_tensor(t) and t.grad is not None else None for t in xs]
        self.cases.append(case)


def build(seed, scale):
    C = Cases(seed, scale)
    s = scale
    x = lambda *sh: (C.randn(*sh), True)  # noqa: E731

    # --- convolution: padding modes, 'same'/'valid', dilation, groups, no bias ---
    for mode in ["reflect", "replicate", "circular"]:
        C.module(f"Conv2d_{mode}", "Conv2d", [3, 4, 3], {"padding": 1, "paddingMode": mode},
                 [x(2, 3, 5 + s, 6)], lambda mode=mode: nn.Conv2d(3, 4, 3, padding=1, padding_mode=mode))
    C.module("Conv2d_circular_pad2", "Conv2d", [2, 3, [3, 5]], {"padding": [1, 2], "paddingMode": "circular"},
             [x(1, 2, 4, 5 + s)], lambda: nn.Conv2d(2, 3, (3, 5), padding=(1, 2), padding_mode="circular"))
    C.module("Conv2d_same_even", "Conv2d", [3, 2, 4], {"padding": "same", "dilation": 2},
             [x(2, 3, 7 + s, 6)], lambda: nn.Conv2d(3, 2, 4, padding="same", dilation=2))
    C.module("Conv2d_same_reflect", "Conv2d", [2, 2, [3, 2]], {"padding": "same", "paddingMode": "reflect"},
             [x(1, 2, 5, 5 + s)], lambda: nn.Conv2d(2, 2, (3, 2), padding="same", padding_mode="reflect"))
    C.module("Conv2d_valid_nobias", "Conv2d", [4, 6, [2, 3]], {"padding": "valid", "stride": [2, 1], "bias": False},
             [x(2, 4, 7 + s, 6)], lambda: nn.Conv2d(4, 6, (2, 3), padding="valid", stride=(2, 1), bias=False))
    C.module("Conv2d_depthwise", "Conv2d", [4, 8, 3], {"groups": 4, "padding": 1, "stride": 2},
             [x(2, 4, 6 + s, 6)], lambda: nn.Conv2d(4, 8, 3, groups=4, padding=1, stride=2))
    C.module("Conv1d_dilation_groups", "Conv1d", [4, 6, 3], {"dilation": 2, "groups": 2, "stride": 2},
             [x(2, 4, 11 + s)], lambda: nn.Conv1d(4, 6, 3, dilation=2, groups=2, stride=2))
    C.module("Conv1d_same_circular", "Conv1d", [2, 3, 4], {"padding": "same", "paddingMode": "circular"},
             [x(3, 2, 8 + s)], lambda: nn.Conv1d(2, 3, 4, padding="same", padding_mode="circular"))
    C.module("ConvTranspose2d_outpad", "ConvTranspose2d", [3, 2, 3],
             {"stride": 2, "padding": 1, "outputPadding": 1},
             [x(2, 3, 4, 3 + s)], lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1))
    C.module("ConvTranspose2d_groups_dilation", "ConvTranspose2d", [4, 6, [2, 3]],
             {"stride": [1, 2], "groups": 2, "dilation": 2, "bias": False},
             [x(1, 4, 3 + s, 4)],
             lambda: nn.ConvTranspose2d(4, 6, (2, 3), stride=(1, 2), groups=2, dilation=2, bias=False))

    # --- pooling ---
    C.module("MaxPool2d_ceil", "MaxPool2d", [3], {"stride": 2, "ceilMode": True},
             [x(2, 2, 6 + s, 7)], lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True))
    C.module("MaxPool2d_pad_dilation", "MaxPool2d", [3], {"stride": 2, "padding": 1, "dilation": 2},
             [x(1, 3, 8 + s, 7)], lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=2))
    C.module("MaxPool2d_indices", "MaxPool2d", [[2, 3]], {"stride": [2, 2], "padding": [1, 1], "returnIndices": True},
             [x(2, 2, 5 + s, 6)], lambda: nn.MaxPool2d((2, 3), stride=2, padding=1, return_indices=True), out_index=0)
    C.module("MaxPool1d", "MaxPool1d", [3], {"stride": 2, "padding": 1},
             [x(2, 3, 9 + s)], lambda: nn.MaxPool1d(3, stride=2, padding=1))
    C.module("MaxPool1d_ceil_indices", "MaxPool1d", [2], {"ceilMode": True, "returnIndices": True},
             [x(2, 3, 7 + s)], lambda: nn.MaxPool1d(2, ceil_mode=True, return_indices=True), out_index=0)
    C.module("AvgPool2d_ceil_excludepad", "AvgPool2d", [3], {"stride": 2, "padding": 1, "ceilMode": True,
                                                           "countIncludePad": False},
             [x(2, 2, 6 + s, 8)], lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                                      count_include_pad=False))
    C.module("AvgPool2d_ceil_includepad", "AvgPool2d", [[2, 3]], {"stride": [2, 2], "padding": [1, 1],
                                                                "ceilMode": True},
             [x(1, 2, 6, 7 + s)], lambda: nn.AvgPool2d((2, 3), stride=2, padding=1, ceil_mode=True))
    C.module("AvgPool2d_divisor", "AvgPool2d", [2], {"divisorOverride": 3},
             [x(1, 2, 4, 4 + 2 * s)], lambda: nn.AvgPool2d(2, divisor_override=3))
    C.module("AvgPool1d", "AvgPool1d", [3], {"stride": 2, "padding": 1, "countIncludePad": False},
             [x(2, 2, 8 + s)], lambda: nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False))
    C.module("AdaptiveAvgPool2d_uneven", "AdaptiveAvgPool2d", [[3, 2]], {},
             [x(2, 3, 7 + s, 5)], lambda: nn.AdaptiveAvgPool2d((3, 2)))
    C.module("AdaptiveAvgPool2d_none", "AdaptiveAvgPool2d", [[None, 3]], {},
             [x(1, 2, 4, 7 + s)], lambda: nn.AdaptiveAvgPool2d((None, 3)))
    C.module("AdaptiveMaxPool2d", "AdaptiveMaxPool2d", [[2, 3]], {},
             [x(2, 2, 5 + s, 7)], lambda: nn.AdaptiveMaxPool2d((2, 3)))

    # --- upsampling ---
    C.module("Upsample_nearest_scale", "Upsample", [], {"scaleFactor": 2},
             [x(1, 2, 3, 4 + s)], lambda: nn.Upsample(scale_factor=2))
    C.module("Upsample_nearest_size", "Upsample", [], {"size": [5, 7 + s]},
             [x(1, 2, 3, 4)], lambda: nn.Upsample(size=(5, 7 + s)))
    C.module("Upsample_bilinear", "Upsample", [], {"scaleFactor": 2, "mode": "bilinear"},
             [x(2, 2, 3, 4 + s)], lambda: nn.Upsample(scale_factor=2, mode="bilinear"))
    C.module("Upsample_bilinear_align", "Upsample", [], {"size": [5, 8 + s], "mode": "bilinear", "alignCorners": True},
             [x(1, 2, 3, 4)], lambda: nn.Upsample(size=(5, 8 + s), mode="bilinear", align_corners=True))
    C.module("Upsample_bilinear_down", "Upsample", [], {"size": [3, 4], "mode": "bilinear"},
             [x(1, 1, 7 + s, 9)], lambda: nn.Upsample(size=(3, 4), mode="bilinear"))
    C.module("Upsample_linear", "Upsample", [], {"scaleFactor": 2.5, "mode": "linear"},
             [x(2, 3, 4 + s)], lambda: nn.Upsample(scale_factor=2.5, mode="linear"))

    # --- normalization ---
    C.module("BatchNorm2d_momentumNone", "BatchNorm2d", [3], {"momentum": None},
             [x(4, 3, 3, 2 + s)], lambda: nn.BatchNorm2d(3, momentum=None), buffers=True)
    C.module("BatchNorm2d_eval", "BatchNorm2d", [3], {},
             [x(2, 3, 4, 3 + s)], lambda: nn.BatchNorm2d(3), mode="eval", buffers=True)
    C.module("BatchNorm2d_momentum_noaffine", "BatchNorm2d", [2], {"momentum": 0.3, "affine": False, "eps": 1e-3},
             [x(3, 2, 4, 2 + s)], lambda: nn.BatchNorm2d(2, momentum=0.3, affine=False, eps=1e-3), buffers=True)
    C.module("BatchNorm2d_notrack_eval", "BatchNorm2d", [3], {"trackRunningStats": False},
             [x(4, 3, 2, 2 + s)], lambda: nn.BatchNorm2d(3, track_running_stats=False), mode="eval")
    C.module("BatchNorm1d_3d_train", "BatchNorm1d", [3], {},
             [x(4, 3, 5 + s)], lambda: nn.BatchNorm1d(3), buffers=True)
    C.module("LayerNorm_2d_noaffine", "LayerNorm", [[3, 4]], {"elementwiseAffine": False, "eps": 1e-4},
             [x(2 + s, 3, 4)], lambda: nn.LayerNorm([3, 4], elementwise_affine=False, eps=1e-4))
    C.module("LayerNorm_2d", "LayerNorm", [[2, 5]], {},
             [x(3, 2, 5 + 0 * s)], lambda: nn.LayerNorm([2, 5]))
    C.module("GroupNorm_one_group", "GroupNorm", [1, 4], {"affine": False},
             [x(2, 4, 3, 2 + s)], lambda: nn.GroupNorm(1, 4, affine=False))
    C.module("GroupNorm_3d", "GroupNorm", [3, 6], {"eps": 1e-3},
             [x(2, 6, 5 + s)], lambda: nn.GroupNorm(3, 6, eps=1e-3))
    C.module("InstanceNorm1d_track", "InstanceNorm1d", [3], {"trackRunningStats": True, "momentum": 0.2},
             [x(4, 3, 6 + s)], lambda: nn.InstanceNorm1d(3, track_running_stats=True, momentum=0.2), buffers=True)
    C.module("InstanceNorm2d_track_eval", "InstanceNorm2d", [2], {"trackRunningStats": True, "affine": True},
             [x(2, 2, 3, 4 + s)], lambda: nn.InstanceNorm2d(2, track_running_stats=True, affine=True),
             mode="eval", buffers=True)
    C.module("InstanceNorm2d_plain", "InstanceNorm2d", [3], {},
             [x(2, 3, 4, 3 + s)], lambda: nn.InstanceNorm2d(3))
    C.module("LocalResponseNorm", "LocalResponseNorm", [3], {"alpha": 0.01, "beta": 0.6, "k": 2},
             [x(2, 5, 3, 2 + s)], lambda: nn.LocalResponseNorm(3, alpha=0.01, beta=0.6, k=2))
    C.module("LocalResponseNorm_even", "LocalResponseNorm", [4], {},
             [x(1, 6, 2 + s, 3)], lambda: nn.LocalResponseNorm(4))
    C.module("Dropout2d_eval", "Dropout2d", [0.5], {}, [x(2, 3, 2, 2)], lambda: nn.Dropout2d(0.5), mode="eval")

    # --- weight norm and spectral norm (the pre-parametrization hooks: weight_g/weight_v, weight_orig/_u/_v) ---
    wn = nn.utils.weight_norm
    sn = nn.utils.spectral_norm
    C.module("WeightNorm_Linear", "Linear", [4, 3], {}, [x(5 + s, 4)], lambda: wn(nn.Linear(4, 3)),
             wrap={"fn": "weightNorm", "kwargs": {}})
    C.module("WeightNorm_Conv2d_dim1", "Conv2d", [2, 3, 3], {}, [x(2, 2, 5, 4 + s)],
             lambda: wn(nn.Conv2d(2, 3, 3), dim=1), wrap={"fn": "weightNorm", "kwargs": {"dim": 1}})
    C.module("WeightNorm_Linear_dimNone", "Linear", [3, 2], {}, [x(4, 3)],
             lambda: wn(nn.Linear(3, 2), dim=None), wrap={"fn": "weightNorm", "kwargs": {"dim": None}})
    C.module("SpectralNorm_Linear_train", "Linear", [5, 4], {}, [x(3 + s, 5)], lambda: sn(nn.Linear(5, 4)),
             wrap={"fn": "spectralNorm", "kwargs": {}}, buffers=True)
    C.module("SpectralNorm_Linear_3iters", "Linear", [3, 6], {}, [x(2, 3)],
             lambda: sn(nn.Linear(3, 6), n_power_iterations=3),
             wrap={"fn": "spectralNorm", "kwargs": {"nPowerIterations": 3}}, buffers=True)
    C.module("SpectralNorm_Conv2d_eval", "Conv2d", [2, 3, 3], {}, [x(1, 2, 4, 4 + s)],
             lambda: sn(nn.Conv2d(2, 3, 3)), wrap={"fn": "spectralNorm", "kwargs": {}}, mode="eval", buffers=True)
    C.module("SpectralNorm_ConvTranspose2d", "ConvTranspose2d", [2, 3, 2], {}, [x(1, 2, 3, 3 + s)],
             lambda: sn(nn.ConvTranspose2d(2, 3, 2)), wrap={"fn": "spectralNorm", "kwargs": {}}, buffers=True)

    # --- default initialization, seeded (flint's generator reproduces PyTorch's CPU stream) ---
    for name, target, args, kwargs, ctor, seed in [
        ("Conv2dDefaultInit", "Conv2d", [3, 4, 3], {}, lambda: nn.Conv2d(3, 4, 3), 0),
        ("Conv1dDefaultInitGroups", "Conv1d", [4, 6, 5], {"groups": 2}, lambda: nn.Conv1d(4, 6, 5, groups=2), 1),
        ("ConvTranspose2dDefaultInit", "ConvTranspose2d", [3, 2, [2, 3]], {}, lambda: nn.ConvTranspose2d(3, 2, (2, 3)), 2),
        ("BatchNorm2dDefaultInit", "BatchNorm2d", [3], {}, lambda: nn.BatchNorm2d(3), 3),
    ]:
        torch.manual_seed(seed)
        m = ctor()
        C.cases.append({"name": name, "kind": "init", "module": True, "target": target, "args": args,
                        "kwargs": kwargs, "seed": seed,
                        "stateAfter": {k: enc(v) for k, v in m.state_dict().items()}, "tol": 1e-5})
    # spectral_norm draws u and v from the global generator after the layer's own init.
    torch.manual_seed(5)
    m = nn.utils.spectral_norm(nn.Linear(4, 3))
    C.cases.append({"name": "SpectralNormInit", "kind": "init", "module": True, "target": "Linear", "args": [4, 3],
                    "kwargs": {}, "seed": 5, "wrap": {"fn": "spectralNorm", "kwargs": {}},
                    "stateAfter": {k: enc(v) for k, v in m.state_dict().items()}, "tol": 1e-5})

    # --- functional: unfold/fold, pad, interpolate, pooling indices ---
    C.fn("unfold", "F.unfold", lambda t: F.unfold(t, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
         [x(2, 3, 5 + s, 6)], {"dilation": [1, 2], "padding": 1, "stride": [2, 1]})
    C.cases[-1]["args"].append([2, 3])
    C.fn("fold", "F.fold", lambda t: F.fold(t, (5, 6 + s), 3, padding=1, stride=2),
         [x(2, 2 * 9, 3 * ((6 + s + 2 - 3) // 2 + 1))], {"padding": 1, "stride": 2})
    C.cases[-1]["args"] += [[5, 6 + s], 3]
    for mode in ["constant", "reflect", "replicate", "circular"]:
        kw = {"mode": mode}
        if mode == "constant":
            kw["value"] = 1.5
        C.fn(f"pad_{mode}", "F.pad", lambda t, mode=mode, kw=kw: F.pad(t, (2, 1, 1, 2), **kw),
             [x(2, 2, 4, 3 + s)], kw)
        C.cases[-1]["args"].append([2, 1, 1, 2])
    C.fn("pad_constant_crop", "F.pad", lambda t: F.pad(t, (-1, 2)), [x(2, 5 + s)], {})
    C.cases[-1]["args"].append([-1, 2])
    C.fn("interpolate_bilinear_scale", "F.interpolate",
         lambda t: F.interpolate(t, scale_factor=1.7, mode="bilinear"), [x(1, 2, 4, 5 + s)],
         {"scaleFactor": 1.7, "mode": "bilinear"})
    C.fn("interpolate_nearest_down", "F.interpolate",
         lambda t: F.interpolate(t, size=(3, 2)), [x(1, 2, 7 + s, 5)], {"size": [3, 2]})
    C.fn("maxPool2dIndices", "F.maxPool2dWithIndices",
         lambda t: F.max_pool2d(t, 3, stride=2, padding=1, return_indices=True), [x(2, 2, 7 + s, 6)],
         {"stride": 2, "padding": 1}, out_index=1)
    C.cases[-1]["args"].append(3)
    C.fn("adaptiveMaxPool2dIndices", "F.adaptiveMaxPool2dWithIndices",
         lambda t: F.adaptive_max_pool2d(t, (3, 2), return_indices=True), [x(1, 2, 7 + s, 5)], {}, out_index=1)
    C.cases[-1]["args"].append([3, 2])
    return C.cases


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=int, default=0, help="adds to the spatial sizes, for fresh shapes")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cases = build(a.seed, a.scale)
    with open(a.out, "w") as f:
        json.dump({"generator": "tools/conformance/gen_vision.py", "torch": torch.__version__,
                   "seed": a.seed, "scale": a.scale, "cases": cases}, f)
    print(f"{len(cases)} cases -> {a.out}")
