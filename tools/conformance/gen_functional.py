#!/usr/bin/python3
"""PyTorch's answers for flint's nn.functional: activations, losses with each
reduction and option, distances and attention.

    /usr/bin/python3 tools/conformance/gen_functional.py --out test/fixtures/torch-functional.json

The file has the layout of shared/conformance's torch-reference.json (see its
README): `fn` cases naming `F.<camelCase>` with args, kwargs, out, gradOut and
grads. One addition: a kwargs value may be a tensor, written as
{"tensor": T, "requiresGrad": false} like an argument (class weights,
posWeight, attnMask); such tensors take no gradient and are not in `grads`.
"""
import argparse
import json
import math

import torch
import torch.nn.functional as F

DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int32",
               torch.int32: "int32", torch.bool: "bool"}
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64, "int32": torch.int64, "bool": torch.bool}


def to_json(t):
    t = t.detach().contiguous()
    name = DTYPE_NAMES[t.dtype]
    flat = t.reshape(-1).tolist()
    if name == "bool":
        flat = [bool(v) for v in flat]
    else:
        # JSON has no NaN or Infinity; the README's strings stand in.
        flat = [v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")) for v in flat]
    return {"shape": list(t.shape), "dtype": name, "data": flat}


def from_json(j):
    return torch.tensor(j["data"], dtype=TORCH_DTYPES[j["dtype"]]).reshape(j["shape"])


class Cases:
    """Collects cases; each runs the PyTorch call on tensors rebuilt from the
    JSON written, so the case holds exactly what flint will be given."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.cases = []

    def randn(self, *shape):
        return torch.randn(*shape, generator=self.gen)

    def rand(self, *shape):
        return torch.rand(*shape, generator=self.gen)

    def labels(self, high, *shape):
        return torch.randint(0, high, shape, generator=self.gen)

    @staticmethod
    def arg(t, grad=True):
        return {"tensor": to_json(t), "requiresGrad": bool(grad) and t.dtype.is_floating_point}

    def add(self, name, target, args, kwargs, fn, tol=1e-4):
        leaves = []

        def rebuild(a):
            if isinstance(a, dict) and "tensor" in a:
                t = from_json(a["tensor"])
                if a["requiresGrad"]:
                    t.requires_grad_(True)
                return t, a["requiresGrad"]
            return a, False

        targs = []
        for a in args:
            t, grad = rebuild(a)
            if isinstance(t, torch.Tensor):
                leaves.append((t, grad))
            targs.append(t)
        tkw = {k: rebuild(v)[0] for k, v in kwargs.items()}
        out = fn(*targs, **tkw)
        case = {"name": name, "kind": "fn", "target": target, "args": args, "kwargs": kwargs,
                "out": to_json(out), "tol": tol}
        if out.dtype.is_floating_point and any(g for _, g in leaves):
            grad_out = torch.randn(out.shape, generator=self.gen)
            (out * grad_out).sum().backward()
            case["gradOut"] = to_json(grad_out)
            case["grads"] = [to_json(t.grad) if g else None for t, g in leaves]
        self.cases.append(case)


def activations(C):
    x = C.randn(3, 5) * 2
    X = C.arg(x)
    simple = [
        ("relu", F.relu), ("selu", F.selu), ("silu", F.silu), ("mish", F.mish),
        ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("softsign", F.softsign),
        ("logsigmoid", F.logsigmoid), ("tanhshrink", F.tanhshrink), ("gelu", F.gelu),
        ("softplus", F.softplus), ("elu", F.elu), ("leakyRelu", F.leaky_relu), ("celu", F.celu),
        ("hardtanh", F.hardtanh), ("hardshrink", F.hardshrink), ("softshrink", F.softshrink),
    ]
    for name, fn in simple:
        C.add(f"{name}Default", f"F.{name}", [X], {}, fn)
    wide = C.arg(C.randn(4, 5) * 5)
    for name, fn in [("relu6", F.relu6), ("hardsigmoid", F.hardsigmoid), ("hardswish", F.hardswish)]:
        C.add(f"{name}Wide", f"F.{name}", [wide], {}, fn)
    C.add("geluTanh", "F.gelu", [X], {"approximate": "tanh"}, lambda t, approximate: F.gelu(t, approximate=approximate))
    C.add("softplusBetaThreshold", "F.softplus", [X], {"beta": 2.0, "threshold": 3.0},
          lambda t, beta, threshold: F.softplus(t, beta, threshold))
    C.add("softplusLarge", "F.softplus", [C.arg(C.randn(2, 4) * 30)], {}, F.softplus)
    C.add("eluAlpha", "F.elu", [X], {"alpha": 0.4}, lambda t, alpha: F.elu(t, alpha))
    C.add("celuAlpha", "F.celu", [X], {"alpha": 0.5}, lambda t, alpha: F.celu(t, alpha))
    C.add("leakyReluSlope", "F.leakyRelu", [X], {"negativeSlope": 0.2},
          lambda t, negativeSlope: F.leaky_relu(t, negativeSlope))
    C.add("hardtanhRange", "F.hardtanh", [X], {"minVal": -0.5, "maxVal": 1.5},
          lambda t, minVal, maxVal: F.hardtanh(t, minVal, maxVal))
    C.add("softshrinkLambd", "F.softshrink", [X], {"lambd": 1.0}, lambda t, lambd: F.softshrink(t, lambd))
    C.add("hardshrinkLambd", "F.hardshrink", [X], {"lambd": 1.0}, lambda t, lambd: F.hardshrink(t, lambd))
    C.add("logsigmoidLarge", "F.logsigmoid", [C.arg(C.randn(2, 4) * 40)], {}, F.logsigmoid)
    C.add("threshold", "F.threshold", [X, 0.3, -2.0], {}, F.threshold)
    C.add("preluChannels", "F.prelu", [C.arg(C.randn(2, 3, 4)), C.arg(C.rand(3) * 0.5)], {}, F.prelu)
    C.add("preluShared", "F.prelu", [X, C.arg(torch.tensor([0.25]))], {}, F.prelu)
    C.add("gluLast", "F.glu", [C.arg(C.randn(3, 6))], {}, F.glu)
    C.add("gluDim0", "F.glu", [C.arg(C.randn(4, 3)), 0], {}, F.glu)
    y = C.arg(C.randn(3, 4, 5) * 3)
    C.add("softmaxDim0", "F.softmax", [y, 0], {}, lambda t, d: F.softmax(t, d))
    C.add("logSoftmaxLast", "F.logSoftmax", [y, -1], {}, lambda t, d: F.log_softmax(t, d))
    C.add("softminDim1", "F.softmin", [y, 1], {}, lambda t, d: F.softmin(t, d))
    C.add("logSoftmaxLarge", "F.logSoftmax", [C.arg(C.randn(3, 4) * 100), 1], {}, lambda t, d: F.log_softmax(t, d))
    C.add("normalizeDefault", "F.normalize", [C.arg(C.randn(4, 6))], {}, F.normalize)
    C.add("normalizeP1Dim0", "F.normalize", [C.arg(C.randn(4, 6))], {"p": 1.0, "dim": 0},
          lambda t, p, dim: F.normalize(t, p, dim))


REDUCTIONS = ["mean", "sum", "none"]


def regression_losses(C):
    for red in REDUCTIONS:
        a, b = C.arg(C.randn(4, 3)), C.arg(C.randn(4, 3))
        C.add(f"mseLoss_{red}", "F.mseLoss", [a, b], {"reduction": red}, lambda x, y, reduction: F.mse_loss(x, y, reduction=reduction))
        C.add(f"l1Loss_{red}", "F.l1Loss", [a, b], {"reduction": red}, lambda x, y, reduction: F.l1_loss(x, y, reduction=reduction))
        C.add(f"smoothL1Loss_{red}", "F.smoothL1Loss", [a, b], {"reduction": red, "beta": 0.5},
              lambda x, y, reduction, beta: F.smooth_l1_loss(x, y, reduction=reduction, beta=beta))
        C.add(f"huberLoss_{red}", "F.huberLoss", [a, b], {"reduction": red, "delta": 0.7},
              lambda x, y, reduction, delta: F.huber_loss(x, y, reduction=reduction, delta=delta))
    a, b = C.arg(C.randn(5)), C.arg(C.randn(5))
    C.add("smoothL1LossBeta0", "F.smoothL1Loss", [a, b], {"beta": 0.0}, lambda x, y, beta: F.smooth_l1_loss(x, y, beta=beta))
    C.add("mseLossBroadcast", "F.mseLoss", [C.arg(C.randn(3, 4)), C.arg(C.randn(4))], {}, F.mse_loss)


def classification_losses(C):
    N, K = 6, 5
    logits = C.arg(C.randn(N, K) * 2)
    labels = C.labels(K, N)
    t = C.arg(labels, False)
    w = C.arg(C.rand(K) + 0.2, False)
    for red in REDUCTIONS:
        C.add(f"crossEntropyWeight_{red}", "F.crossEntropy", [logits, t], {"weight": w, "reduction": red},
              lambda x, y, weight, reduction: F.cross_entropy(x, y, weight=weight, reduction=reduction))
        C.add(f"nllLossWeight_{red}", "F.nllLoss", [C.arg(F.log_softmax(C.randn(N, K), 1)), t],
              {"weight": w, "reduction": red},
              lambda x, y, weight, reduction: F.nll_loss(x, y, weight=weight, reduction=reduction))
        probs = C.arg(F.softmax(C.randn(N, K), 1), False)
        C.add(f"crossEntropyProbs_{red}", "F.crossEntropy", [logits, probs], {"reduction": red},
              lambda x, y, reduction: F.cross_entropy(x, y, reduction=reduction))
        C.add(f"crossEntropySmoothIgnore_{red}", "F.crossEntropy", [logits, t],
              {"ignoreIndex": int(labels[0]), "labelSmoothing": 0.15, "weight": w, "reduction": red},
              lambda x, y, ignoreIndex, labelSmoothing, weight, reduction: F.cross_entropy(
                  x, y, ignore_index=ignoreIndex, label_smoothing=labelSmoothing, weight=weight, reduction=reduction))
    probs = C.arg(F.softmax(C.randn(N, K), 1), False)
    C.add("crossEntropyProbsWeightSmooth", "F.crossEntropy", [logits, probs], {"weight": w, "labelSmoothing": 0.2},
          lambda x, y, weight, labelSmoothing: F.cross_entropy(x, y, weight=weight, label_smoothing=labelSmoothing))
    C.add("crossEntropySmoothNoWeight", "F.crossEntropy", [logits, t], {"labelSmoothing": 0.3},
          lambda x, y, labelSmoothing: F.cross_entropy(x, y, label_smoothing=labelSmoothing))
    # N-d: (N, C, d1, d2) against (N, d1, d2)
    img = C.arg(C.randn(2, K, 3, 4))
    img_labels = C.labels(K, 2, 3, 4)
    img_labels[0, 0, 0] = -100
    img_t = C.arg(img_labels, False)
    C.add("crossEntropy2d", "F.crossEntropy", [img, img_t], {}, F.cross_entropy)
    C.add("crossEntropy2dWeightNone", "F.crossEntropy", [img, img_t], {"weight": w, "reduction": "none"},
          lambda x, y, weight, reduction: F.cross_entropy(x, y, weight=weight, reduction=reduction))
    C.add("crossEntropy2dSmooth", "F.crossEntropy", [img, img_t], {"labelSmoothing": 0.1},
          lambda x, y, labelSmoothing: F.cross_entropy(x, y, label_smoothing=labelSmoothing))
    C.add("crossEntropy2dProbs", "F.crossEntropy", [img, C.arg(F.softmax(C.randn(2, K, 3, 4), 1), False)], {},
          F.cross_entropy)
    C.add("nllLoss2dSum", "F.nllLoss", [C.arg(F.log_softmax(C.randn(2, K, 3, 4), 1)), img_t], {"reduction": "sum"},
          lambda x, y, reduction: F.nll_loss(x, y, reduction=reduction))
    # unbatched: (C) against a 0-d class index
    C.add("crossEntropyUnbatched", "F.crossEntropy", [C.arg(C.randn(K)), C.arg(torch.tensor(3), False)], {},
          F.cross_entropy)
    C.add("crossEntropyUnbatchedProbs", "F.crossEntropy", [C.arg(C.randn(K)), C.arg(F.softmax(C.randn(K), 0), False)],
          {"labelSmoothing": 0.1}, lambda x, y, labelSmoothing: F.cross_entropy(x, y, label_smoothing=labelSmoothing))


def binary_losses(C):
    y01 = (C.rand(4, 3) > 0.5).float()
    soft = C.rand(4, 3)
    bw = C.arg(C.rand(4, 3) + 0.5, False)
    for red in REDUCTIONS:
        p = C.arg(torch.sigmoid(C.randn(4, 3)))
        C.add(f"bceWeight_{red}", "F.binaryCrossEntropy", [p, C.arg(soft, False)], {"weight": bw, "reduction": red},
              lambda x, y, weight, reduction: F.binary_cross_entropy(x, y, weight=weight, reduction=reduction))
        z = C.arg(C.randn(4, 3) * 3)
        C.add(f"bceWithLogits_{red}", "F.binaryCrossEntropyWithLogits", [z, C.arg(y01, False)], {"reduction": red},
              lambda x, y, reduction: F.binary_cross_entropy_with_logits(x, y, reduction=reduction))
    pw = C.arg(torch.tensor([0.5, 2.0, 3.0]), False)
    z = C.arg(C.randn(4, 3) * 3)
    C.add("bceWithLogitsPosWeight", "F.binaryCrossEntropyWithLogits", [z, C.arg(soft, False)], {"posWeight": pw},
          lambda x, y, posWeight: F.binary_cross_entropy_with_logits(x, y, pos_weight=posWeight))
    C.add("bceWithLogitsWeightPosWeight", "F.binaryCrossEntropyWithLogits", [z, C.arg(y01, False)],
          {"weight": bw, "posWeight": pw, "reduction": "sum"},
          lambda x, y, weight, posWeight, reduction: F.binary_cross_entropy_with_logits(
              x, y, weight=weight, pos_weight=posWeight, reduction=reduction))
    big = C.arg(torch.tensor([[-60.0, -20.0, 0.0], [0.5, 25.0, 80.0]]))
    C.add("bceWithLogitsExtreme", "F.binaryCrossEntropyWithLogits", [big, C.arg(torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), False)],
          {"reduction": "none"}, lambda x, y, reduction: F.binary_cross_entropy_with_logits(x, y, reduction=reduction))
    C.add("bceClampedLog", "F.binaryCrossEntropy", [C.arg(torch.tensor([0.0, 1.0, 0.3]), False),
                                                  C.arg(torch.tensor([1.0, 0.0, 1.0]), False)],
          {"reduction": "none"}, lambda x, y, reduction: F.binary_cross_entropy(x, y, reduction=reduction))


def divergence_losses(C):
    N, K = 4, 5
    for red in REDUCTIONS + ["batchmean"]:
        lp = C.arg(F.log_softmax(C.randn(N, K), 1))
        q = F.softmax(C.randn(N, K), 1)
        q[0, 0] = 0.0  # 0 log 0 = 0; the target's gradient there is undefined, so none is asked
        C.add(f"klDiv_{red}", "F.klDiv", [lp, C.arg(q, False)], {"reduction": red},
              lambda x, y, reduction: F.kl_div(x, y, reduction=reduction))
    C.add("klDivTargetGrad", "F.klDiv", [C.arg(F.log_softmax(C.randn(N, K), 1)), C.arg(F.softmax(C.randn(N, K), 1))],
          {"reduction": "sum"}, lambda x, y, reduction: F.kl_div(x, y, reduction=reduction))
    lp = C.arg(F.log_softmax(C.randn(N, K), 1))
    lq = C.arg(F.log_softmax(C.randn(N, K), 1))
    C.add("klDivLogTarget", "F.klDiv", [lp, lq], {"reduction": "batchmean", "logTarget": True},
          lambda x, y, reduction, logTarget: F.kl_div(x, y, reduction=reduction, log_target=logTarget))
    rate = C.arg(C.randn(3, 4))
    counts = C.arg(torch.poisson(torch.full((3, 4), 3.0), generator=C.gen), False)
    C.add("poissonNllLoss", "F.poissonNllLoss", [rate, counts], {}, F.poisson_nll_loss)
    C.add("poissonNllLossFull", "F.poissonNllLoss", [C.arg(C.rand(3, 4) * 4 + 0.1), counts],
          {"logInput": False, "full": True, "reduction": "sum"},
          lambda x, y, logInput, full, reduction: F.poisson_nll_loss(x, y, log_input=logInput, full=full, reduction=reduction))
    mu, y = C.arg(C.randn(4, 3)), C.arg(C.randn(4, 3), False)
    C.add("gaussianNllLoss", "F.gaussianNllLoss", [mu, y, C.arg(C.rand(4, 3) + 0.1)], {}, F.gaussian_nll_loss)
    C.add("gaussianNllLossPerSampleFull", "F.gaussianNllLoss", [mu, y, C.arg(C.rand(4) + 0.1)],
          {"full": True, "reduction": "none"},
          lambda a, b, v, full, reduction: F.gaussian_nll_loss(a, b, v, full=full, reduction=reduction))


def margin_losses(C):
    N, D = 6, 4
    sign = torch.where(C.rand(N) > 0.5, 1.0, -1.0)
    S = C.arg(sign, False)
    for red in REDUCTIONS:
        C.add(f"marginRanking_{red}", "F.marginRankingLoss", [C.arg(C.randn(N)), C.arg(C.randn(N)), S],
              {"margin": 0.3, "reduction": red},
              lambda a, b, y, margin, reduction: F.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction))
        C.add(f"cosineEmbedding_{red}", "F.cosineEmbeddingLoss", [C.arg(C.randn(N, D)), C.arg(C.randn(N, D)), S],
              {"margin": 0.1, "reduction": red},
              lambda a, b, y, margin, reduction: F.cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction))
        C.add(f"hingeEmbedding_{red}", "F.hingeEmbeddingLoss", [C.arg(C.randn(N) * 2), S],
              {"margin": 0.8, "reduction": red},
              lambda a, y, margin, reduction: F.hinge_embedding_loss(a, y, margin=margin, reduction=reduction))
        C.add(f"softMargin_{red}", "F.softMarginLoss", [C.arg(C.randn(N) * 3), S], {"reduction": red},
              lambda a, y, reduction: F.soft_margin_loss(a, y, reduction=reduction))
        C.add(f"tripletMargin_{red}", "F.tripletMarginLoss",
              [C.arg(C.randn(N, D)), C.arg(C.randn(N, D)), C.arg(C.randn(N, D))], {"reduction": red},
              lambda a, p, n, reduction: F.triplet_margin_loss(a, p, n, reduction=reduction))
    C.add("cosineEmbedding1d", "F.cosineEmbeddingLoss",
          [C.arg(C.randn(D)), C.arg(C.randn(D)), C.arg(torch.tensor(-1.0), False)], {"margin": -0.5},
          lambda a, b, y, margin: F.cosine_embedding_loss(a, b, y, margin=margin))
    C.add("tripletMarginSwapP1", "F.tripletMarginLoss",
          [C.arg(C.randn(N, D)), C.arg(C.randn(N, D)), C.arg(C.randn(N, D))],
          {"margin": 2.0, "p": 1.0, "swap": True},
          lambda a, pos, n, **k: F.triplet_margin_loss(a, pos, n, margin=k["margin"], p=k["p"], swap=k["swap"]))
    C.add("tripletMarginEps", "F.tripletMarginLoss",
          [C.arg(C.randn(N, D)), C.arg(C.randn(N, D)), C.arg(C.randn(N, D))],
          {"margin": 1.5, "eps": 0.01, "reduction": "sum"},
          lambda a, p, n, margin, eps, reduction: F.triplet_margin_loss(a, p, n, margin=margin, eps=eps, reduction=reduction))
    C.add("cosineSimilarityBroadcast", "F.cosineSimilarity", [C.arg(C.randn(3, 1, 5)), C.arg(C.randn(4, 5))],
          {"dim": -1}, lambda a, b, dim: F.cosine_similarity(a, b, dim=dim))
    C.add("cosineSimilarityDim0", "F.cosineSimilarity", [C.arg(C.randn(5, 3)), C.arg(C.randn(5, 3))], {"dim": 0},
          lambda a, b, dim: F.cosine_similarity(a, b, dim=dim))
    C.add("pairwiseDistance", "F.pairwiseDistance", [C.arg(C.randn(N, D)), C.arg(C.randn(N, D))], {},
          F.pairwise_distance)
    C.add("pairwiseDistanceP1Keepdim", "F.pairwiseDistance", [C.arg(C.randn(N, D)), C.arg(C.randn(N, D))],
          {"p": 1.0, "keepdim": True}, lambda a, b, p, keepdim: F.pairwise_distance(a, b, p=p, keepdim=keepdim))
    C.add("pairwiseDistanceP3", "F.pairwiseDistance", [C.arg(C.randn(N, D)), C.arg(C.randn(N, D))],
          {"p": 3.0}, lambda a, b, p: F.pairwise_distance(a, b, p=p))


def attention(q, k, v, attnMask=None, isCausal=False, scale=None):
    """Scaled dot-product attention written out (1.13 predates F.scaled_dot_product_attention)."""
    s = q.matmul(k.transpose(-2, -1)) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if isCausal:
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        s = s.masked_fill(~keep, -math.inf)
    elif attnMask is not None:
        s = s.masked_fill(~attnMask, -math.inf) if attnMask.dtype == torch.bool else s + attnMask
    return torch.softmax(s, -1).matmul(v)


def attention_cases(C):
    B, H, L, S, E, Ev = 2, 2, 4, 6, 3, 5
    q, k, v = C.arg(C.randn(B, H, L, E)), C.arg(C.randn(B, H, S, E)), C.arg(C.randn(B, H, S, Ev))
    keep = C.rand(L, S) > 0.4
    keep[:, 0] = True  # every query sees at least one key
    C.add("sdpaBoolMask", "F.scaledDotProductAttention", [q, k, v], {"attnMask": C.arg(keep, False)}, attention)
    bias = C.arg(C.randn(B, 1, L, S), False)
    C.add("sdpaFloatMask", "F.scaledDotProductAttention", [q, k, v], {"attnMask": bias}, attention)
    C.add("sdpaScale", "F.scaledDotProductAttention", [q, k, v], {"scale": 0.3}, attention)
    qs = C.arg(C.randn(3, L, E))
    C.add("sdpaCausal3d", "F.scaledDotProductAttention", [qs, C.arg(C.randn(3, L, E)), C.arg(C.randn(3, L, Ev))],
          {"isCausal": True, "scale": 0.7}, attention)


def fast_path_cases(C):
    """Sizes past the CPU backend's fast-kernel thresholds (SIMD ReLU and layer
    norm from 256 elements, fused linear/cross-entropy/embedding/conv/pool/
    attention nodes), so PyTorch checks those paths and not only the small
    composites."""
    X = C.arg(C.randn(48, 40))
    C.add("reluWide", "F.relu", [X], {}, F.relu)
    C.add("geluWide", "F.gelu", [X], {}, F.gelu)
    C.add("geluTanhWide", "F.gelu", [X], {"approximate": "tanh"}, lambda t, approximate: F.gelu(t, approximate=approximate))
    C.add("linearBiasWide", "F.linear", [C.arg(C.randn(24, 40)), C.arg(C.randn(36, 40) * 0.1), C.arg(C.randn(36))], {},
          F.linear)
    C.add("linearNoBias3d", "F.linear", [C.arg(C.randn(3, 8, 40)), C.arg(C.randn(20, 40) * 0.1)], {}, F.linear)
    C.add("layerNormWide", "F.layerNorm", [C.arg(C.randn(32, 64) * 3 + 1), [64]],
          {"weight": C.arg(C.randn(64), False), "bias": C.arg(C.randn(64), False), "eps": 1e-5},
          lambda x, shape, weight, bias, eps: F.layer_norm(x, shape, weight, bias, eps))
    C.add("crossEntropyWide", "F.crossEntropy", [C.arg(C.randn(96, 37)), C.arg(C.labels(37, 96), False)], {},
          F.cross_entropy)
    C.add("embeddingWide", "F.embedding", [C.arg(C.labels(50, 8, 24), False), C.arg(C.randn(50, 16))], {},
          F.embedding)
    C.add("conv2dPadWide", "F.conv2d", [C.arg(C.randn(4, 3, 12, 12)), C.arg(C.randn(6, 3, 3, 3) * 0.3), C.arg(C.randn(6))],
          {"padding": 1}, lambda x, w, b, padding: F.conv2d(x, w, b, padding=padding))
    C.add("conv2dValidWide", "F.conv2d", [C.arg(C.randn(3, 2, 14, 14)), C.arg(C.randn(5, 2, 5, 5) * 0.3), C.arg(C.randn(5))],
          {}, F.conv2d)
    C.add("maxPool2dWide", "F.maxPool2d", [C.arg(C.randn(4, 5, 12, 12)), 2], {}, F.max_pool2d)
    q, k, v = (C.arg(C.randn(1, 2, 48, 8)) for _ in range(3))
    C.add("sdpaCausalWide", "F.scaledDotProductAttention", [q, k, v], {"isCausal": True}, attention)


def build(seed):
    C = Cases(seed)
    activations(C)
    regression_losses(C)
    classification_losses(C)
    binary_losses(C)
    divergence_losses(C)
    margin_losses(C)
    attention_cases(C)
    fast_path_cases(C)
    return C.cases


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    opts = ap.parse_args()
    cases = build(opts.seed)
    with open(opts.out, "w") as f:
        json.dump({"generator": "tools/conformance/gen_functional.py", "torch": torch.__version__,
                   "seed": opts.seed, "cases": cases}, f)
    print(f"{len(cases)} cases -> {opts.out}")
