#!/usr/bin/python3
"""PyTorch's answers for flint's sequence layers (issue 5).

Run with Debian's PyTorch 1.13:
    /usr/bin/python3 tools/conformance/gen_sequence.py --out test/fixtures/torch-sequence.json

Each case builds a module in PyTorch and names the same module in flint
(`target`, constructor `args` and camelCase `kwargs`), with PyTorch's
state_dict. The forward arguments are `inputs` (a tensor, null, or a list
for a tuple such as LSTM's (h0, c0)) and `forwardKwargs` (flint's option
names). `outputs` lists the checked results by their path in flint's
return value (`[1, 0]` is hN of `[out, [hN, cN]]`) with a `gradOut` each;
the loss is sum(out * gradOut) over all of them. With `pack`, inputs[0] is
a padded batch to pack with packPaddedSequence before the forward, and the
packed output is unpacked with padPackedSequence (path "padded").
Gradients: `inputGrads` for every tensor input in order (null where none
is wanted), `paramGrads` by PyTorch's parameter names, and `stateAfter`.
"""
import argparse
import json

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def enc(t):
    t = t.detach()
    dt = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int32",
          torch.int32: "int32", torch.bool: "bool"}[t.dtype]
    data = t.reshape(-1).tolist()
    if dt == "bool":
        data = [bool(v) for v in data]
    else:
        # 8 significant digits hold a float32 and keep the file small.
        data = [("inf" if v == float("inf") else "-inf" if v == float("-inf") else
                 v if isinstance(v, int) else float(f"{v:.8g}")) for v in data]
    return {"shape": list(t.shape), "dtype": dt, "data": data}


class AdditiveAttention(nn.Module):
    """Bahdanau attention with flint's parameter names."""

    def __init__(self, query_size, key_size, hidden_size):
        super().__init__()
        self.W_q = nn.Linear(query_size, hidden_size, bias=False)
        self.W_k = nn.Linear(key_size, hidden_size, bias=False)
        self.w_v = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, queries, keys, values, key_padding_mask=None):
        step = queries.dim() == 2
        q = queries.unsqueeze(1) if step else queries
        features = torch.tanh(self.W_q(q).unsqueeze(2) + self.W_k(keys).unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        ctx = torch.bmm(weights, values)
        return (ctx.squeeze(1), weights.squeeze(1)) if step else (ctx, weights)


class MultiplicativeAttention(nn.Module):
    """Luong attention ("dot" or "general") with flint's parameter names."""

    def __init__(self, query_size, key_size, score="general", scale=False):
        super().__init__()
        self.W_a = nn.Linear(key_size, query_size, bias=False) if score == "general" else None
        self.scale = scale
        self.query_size = query_size

    def forward(self, queries, keys, values, key_padding_mask=None):
        step = queries.dim() == 2
        q = queries.unsqueeze(1) if step else queries
        k = self.W_a(keys) if self.W_a is not None else keys
        scores = torch.bmm(q, k.transpose(1, 2))
        if self.scale:
            scores = scores / self.query_size ** 0.5
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        ctx = torch.bmm(weights, values)
        return (ctx.squeeze(1), weights.squeeze(1)) if step else (ctx, weights)


def at(out, path):
    for p in path:
        out = out[p]
    return out


class Gen:
    def __init__(self, seed):
        torch.manual_seed(seed)
        self.cases = []

    def module(self, name, target, args, kwargs, m, inputs, forward, outputs,
               forward_kwargs=None, pack=None, mode="train", tol=1e-4, torch_kwargs=None):
        """inputs: list of tensors / None / tuples; forward(m, *inputs, **torch_kwargs) -> output."""
        if mode == "eval":
            m.eval()
        state = {k: enc(v) for k, v in m.state_dict().items()}
        leaves = []

        def grad_leaf(t):
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                t = t.detach().clone().requires_grad_(True)
                leaves.append(t)
            elif isinstance(t, torch.Tensor):
                leaves.append(t)
            return t

        live = []
        for a in inputs:
            if isinstance(a, tuple):
                live.append(tuple(grad_leaf(t) for t in a))
            else:
                live.append(grad_leaf(a) if a is not None else None)

        def js(a):
            if a is None:
                return None
            if isinstance(a, tuple):
                return [js(t) for t in a]
            return {"tensor": enc(a), "requiresGrad": a.requires_grad}

        x = live
        if pack is not None:
            packed = pack_padded_sequence(live[0], torch.tensor(pack["lengths"]),
                                          batch_first=pack.get("batchFirst", False),
                                          enforce_sorted=pack.get("enforceSorted", True))
            x = [packed] + live[1:]
        out = forward(m, *x, **(torch_kwargs or {}))
        if pack is not None:
            padded, _ = pad_packed_sequence(out[0], batch_first=pack.get("batchFirst", False))
            out = {"padded": padded, **{i: o for i, o in enumerate(out)}}
        checked = []
        loss = 0
        for path in outputs:
            o = out["padded"] if path == "padded" else at(out, path)
            g = torch.randn(o.shape)
            loss = loss + (o * g).sum()
            checked.append({"path": path, "out": enc(o), "gradOut": enc(g)})
        loss.backward()
        fkw = {}
        for k, v in (forward_kwargs or {}).items():
            fkw[k] = {"tensor": enc(v), "requiresGrad": False} if isinstance(v, torch.Tensor) else v
        self.cases.append({
            "name": name, "kind": "module", "target": target, "args": args, "kwargs": kwargs,
            "state": state, "mode": mode, "inputs": [js(a) for a in live], "forwardKwargs": fkw,
            "pack": pack, "outputs": checked,
            "inputGrads": [enc(t.grad) if t.is_floating_point() and t.grad is not None else None
                           for t in leaves],
            "paramGrads": {k: enc(p.grad) for k, p in m.named_parameters()},
            "stateAfter": {k: enc(v) for k, v in m.state_dict().items()},
            "tol": tol,
        })


def generate(g):
    r = torch.randn
    # ---- Embedding ---------------------------------------------------------------
    m = nn.Embedding(10, 4, padding_idx=0)
    idx = torch.tensor([[0, 2, 0, 5], [9, 0, 2, 2]])
    g.module("EmbeddingPaddingIdx", "Embedding", [10, 4], {"paddingIdx": 0}, m, [idx],
             lambda m, x: m(x), [[]])
    m = nn.EmbeddingBag(10, 3, mode="sum")
    flat = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9])
    offs = torch.tensor([0, 4])
    g.module("EmbeddingBagSumOffsets", "EmbeddingBag", [10, 3], {"mode": "sum"}, m, [flat],
             lambda m, x, offsets: m(x, offsets), [[]], forward_kwargs={"offsets": offs},
             torch_kwargs={"offsets": offs})
    m = nn.EmbeddingBag(10, 3, mode="mean")
    g.module("EmbeddingBagMean2d", "EmbeddingBag", [10, 3], {"mode": "mean"}, m,
             [torch.tensor([[1, 2, 4], [4, 3, 9]])], lambda m, x: m(x), [[]])
    m = nn.EmbeddingBag(10, 3, mode="max")
    g.module("EmbeddingBagMax", "EmbeddingBag", [10, 3], {"mode": "max"}, m,
             [torch.tensor([[1, 2, 4], [4, 3, 9]])], lambda m, x: m(x), [[]])

    # ---- recurrent layers ----------------------------------------------------------
    m = nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True)
    g.module("RNNReluBidirectional2LayerH0", "RNN", [3, 4],
             {"numLayers": 2, "nonlinearity": "relu", "bidirectional": True}, m,
             [r(5, 2, 3), r(4, 2, 4)], lambda m, x, h: m(x, h), [[0], [1]])
    m = nn.RNN(3, 4)
    g.module("RNNUnbatched", "RNN", [3, 4], {}, m, [r(5, 3)], lambda m, x: m(x), [[0], [1]])
    m = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    g.module("LSTMBidirectionalStates", "LSTM", [3, 4], {"bidirectional": True, "batchFirst": True}, m,
             [r(2, 5, 3), (r(2, 2, 4), r(2, 2, 4))], lambda m, x, hc: m(x, hc),
             [[0], [1, 0], [1, 1]])
    m = nn.LSTM(3, 5, proj_size=2, num_layers=2)
    g.module("LSTMProjSize", "LSTM", [3, 5], {"projSize": 2, "numLayers": 2}, m,
             [r(4, 2, 3)], lambda m, x: m(x), [[0], [1, 0], [1, 1]])
    m = nn.GRU(3, 4, num_layers=2, batch_first=True)
    g.module("GRU2LayerBatchFirstH0", "GRU", [3, 4], {"numLayers": 2, "batchFirst": True}, m,
             [r(2, 6, 3), r(2, 2, 4)], lambda m, x, h: m(x, h), [[0], [1]])
    m = nn.GRU(3, 4, bias=False)
    g.module("GRUNoBias", "GRU", [3, 4], {"bias": False}, m, [r(5, 2, 3)], lambda m, x: m(x), [[0], [1]])
    # Sizes past the fused cells' SIMD threshold (batch · 4·hidden >= 256): the CPU
    # backend's fused LSTM/GRU layers run their wasm exp path here.
    m = nn.LSTM(5, 32, batch_first=True)
    g.module("LSTMSimdWide", "LSTM", [5, 32], {"batchFirst": True}, m,
             [r(8, 4, 5)], lambda m, x: m(x), [[0], [1, 0], [1, 1]])
    m = nn.LSTM(6, 20, num_layers=2)
    g.module("LSTMSimdMixed2Layer", "LSTM", [6, 20], {"numLayers": 2}, m,
             [r(3, 4, 6), (r(2, 4, 20), r(2, 4, 20))], lambda m, x, hc: m(x, hc), [[0], [1, 0], [1, 1]])
    m = nn.GRU(6, 24, batch_first=True, bidirectional=True)
    g.module("GRUSimdWideBidirectional", "GRU", [6, 24], {"batchFirst": True, "bidirectional": True}, m,
             [r(12, 3, 6)], lambda m, x: m(x), [[0], [1]])

    # ---- packed (variable-length) batches -------------------------------------------
    m = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    x = r(3, 5, 3)
    g.module("LSTMPackedUnsorted", "LSTM", [3, 4], {"bidirectional": True, "batchFirst": True}, m,
             [x], lambda m, x: m(x), ["padded", [1, 0], [1, 1]],
             pack={"lengths": [2, 5, 3], "batchFirst": True, "enforceSorted": False})
    m = nn.GRU(3, 4, num_layers=2)
    g.module("GRUPackedSortedH0", "GRU", [3, 4], {"numLayers": 2}, m,
             [r(4, 3, 3), r(2, 3, 4)], lambda m, x, h: m(x, h), ["padded", [1]],
             pack={"lengths": [4, 2, 1]})
    m = nn.RNN(3, 4, bidirectional=True)
    g.module("RNNPackedBidirectional", "RNN", [3, 4], {"bidirectional": True}, m,
             [r(4, 3, 3)], lambda m, x: m(x), ["padded", [1]],
             pack={"lengths": [1, 4, 3], "enforceSorted": False})

    # ---- cells -------------------------------------------------------------------------
    m = nn.RNNCell(3, 4, nonlinearity="relu")
    g.module("RNNCellRelu", "RNNCell", [3, 4], {"nonlinearity": "relu"}, m, [r(2, 3), r(2, 4)],
             lambda m, x, h: m(x, h), [[]])
    m = nn.LSTMCell(3, 4)
    g.module("LSTMCell", "LSTMCell", [3, 4], {}, m, [r(2, 3), (r(2, 4), r(2, 4))],
             lambda m, x, hc: m(x, hc), [[0], [1]])
    m = nn.GRUCell(3, 4)
    g.module("GRUCell", "GRUCell", [3, 4], {}, m, [r(2, 3), r(2, 4)], lambda m, x, h: m(x, h), [[]])
    m = nn.GRUCell(3, 4)
    g.module("GRUCellUnbatchedNoState", "GRUCell", [3, 4], {}, m, [r(3)], lambda m, x: m(x), [[]])

    # ---- MultiheadAttention -------------------------------------------------------------
    m = nn.MultiheadAttention(8, 2)
    q = r(4, 2, 8)
    causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)
    g.module("MHASelfCausalMask", "MultiheadAttention", [8, 2], {}, m, [q, q, q],
             lambda m, q, k, v, attn_mask: m(q, k, v, attn_mask=attn_mask), [[0], [1]],
             forward_kwargs={"attnMask": causal}, torch_kwargs={"attn_mask": causal})
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    pad = torch.tensor([[False, False, False, True, True], [False] * 5])
    g.module("MHAKeyPaddingPerHead", "MultiheadAttention", [8, 2], {"batchFirst": True}, m,
             [r(2, 3, 8), r(2, 5, 8), r(2, 5, 8)],
             lambda m, q, k, v, key_padding_mask: m(q, k, v, key_padding_mask=key_padding_mask,
                                                    average_attn_weights=False),
             [[0], [1]], forward_kwargs={"keyPaddingMask": pad, "averageAttnWeights": False},
             torch_kwargs={"key_padding_mask": pad})
    m = nn.MultiheadAttention(8, 2, kdim=5, vdim=3, batch_first=True)
    g.module("MHACrossKdimVdim", "MultiheadAttention", [8, 2], {"kdim": 5, "vdim": 3, "batchFirst": True}, m,
             [r(2, 3, 8), r(2, 6, 5), r(2, 6, 3)], lambda m, q, k, v: m(q, k, v), [[0], [1]])
    m = nn.MultiheadAttention(8, 4, add_bias_kv=True, add_zero_attn=True)
    fmask = torch.randn(3, 5)
    g.module("MHABiasKvZeroAttnFloatMask", "MultiheadAttention", [8, 4], {"addBiasKv": True, "addZeroAttn": True},
             m, [r(3, 2, 8), r(5, 2, 8), r(5, 2, 8)],
             lambda m, q, k, v, attn_mask: m(q, k, v, attn_mask=attn_mask), [[0], [1]],
             forward_kwargs={"attnMask": fmask}, torch_kwargs={"attn_mask": fmask})
    m = nn.MultiheadAttention(6, 3, bias=False)
    x = r(4, 6)
    g.module("MHAUnbatchedNoBias", "MultiheadAttention", [6, 3], {"bias": False}, m, [x, x, x],
             lambda m, q, k, v: m(q, k, v), [[0], [1]])

    # ---- Transformer ----------------------------------------------------------------------
    m = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, activation="gelu", norm_first=True)
    pad = torch.tensor([[False, False, False, False, True], [False, False, True, True, True]])
    g.module("EncoderLayerNormFirstGeluPadding", "TransformerEncoderLayer", [8, 2],
             {"dimFeedforward": 12, "dropout": 0.0, "activation": "gelu", "normFirst": True}, m, [r(5, 2, 8)],
             lambda m, x, src_key_padding_mask: m(x, src_key_padding_mask=src_key_padding_mask), [[]],
             forward_kwargs={"srcKeyPaddingMask": pad}, torch_kwargs={"src_key_padding_mask": pad})
    m = nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, dropout=0.0, batch_first=True)
    tmask = nn.Transformer.generate_square_subsequent_mask(4)
    mpad = torch.tensor([[False] * 6, [False, False, False, False, True, True]])
    g.module("DecoderLayerCausalMemoryPadding", "TransformerDecoderLayer", [8, 2],
             {"dimFeedforward": 12, "dropout": 0.0, "batchFirst": True}, m, [r(2, 4, 8), r(2, 6, 8)],
             lambda m, t, mem, tgt_mask, memory_key_padding_mask: m(
                 t, mem, tgt_mask=tgt_mask, memory_key_padding_mask=memory_key_padding_mask), [[]],
             forward_kwargs={"tgtMask": tmask, "memoryKeyPaddingMask": mpad},
             torch_kwargs={"tgt_mask": tmask, "memory_key_padding_mask": mpad})
    m = nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, dropout=0.0, norm_first=True, activation="gelu")
    g.module("DecoderLayerNormFirst", "TransformerDecoderLayer", [8, 2],
             {"dimFeedforward": 12, "dropout": 0.0, "normFirst": True, "activation": "gelu"}, m,
             [r(3, 2, 8), r(5, 2, 8)], lambda m, t, mem: m(t, mem), [[]])
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, batch_first=True)
    m = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))
    g.module("TransformerEncoder2LayersNorm", "TransformerEncoder",
             [{"module": "TransformerEncoderLayer", "args": [8, 2],
               "kwargs": {"dimFeedforward": 12, "dropout": 0.0, "batchFirst": True}}, 2],
             {"norm": {"module": "LayerNorm", "args": [8], "kwargs": {}}}, m, [r(2, 5, 8)],
             lambda m, x, mask: m(x, mask=mask), [[]],
             forward_kwargs={"mask": nn.Transformer.generate_square_subsequent_mask(5)},
             torch_kwargs={"mask": nn.Transformer.generate_square_subsequent_mask(5)})
    m = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=12,
                       dropout=0.0)
    tmask = nn.Transformer.generate_square_subsequent_mask(3)
    g.module("TransformerFull", "Transformer", [],
             {"dModel": 8, "nhead": 2, "numEncoderLayers": 1, "numDecoderLayers": 2, "dimFeedforward": 12,
              "dropout": 0.0}, m, [r(5, 2, 8), r(3, 2, 8)],
             lambda m, s, t, tgt_mask: m(s, t, tgt_mask=tgt_mask), [[]],
             forward_kwargs={"tgtMask": tmask}, torch_kwargs={"tgt_mask": tmask})

    # ---- Bahdanau and Luong ----------------------------------------------------------------
    m = AdditiveAttention(6, 4, 5)
    kpm = torch.tensor([[False, False, False, True, True], [False] * 5])
    g.module("AdditiveAttentionStepPadding", "AdditiveAttention", [6, 4, 5], {}, m,
             [r(2, 6), r(2, 5, 4), r(2, 5, 3)],
             lambda m, q, k, v, key_padding_mask: m(q, k, v, key_padding_mask), [[0], [1]],
             forward_kwargs={"keyPaddingMask": kpm}, torch_kwargs={"key_padding_mask": kpm})
    m = AdditiveAttention(6, 4, 5)
    g.module("AdditiveAttentionSequence", "AdditiveAttention", [6, 4, 5], {}, m,
             [r(2, 3, 6), r(2, 5, 4), r(2, 5, 3)], lambda m, q, k, v: m(q, k, v), [[0], [1]])
    m = MultiplicativeAttention(6, 4, "general")
    g.module("LuongGeneral", "MultiplicativeAttention", [6, 4], {"score": "general"}, m,
             [r(2, 3, 6), r(2, 5, 4), r(2, 5, 3)], lambda m, q, k, v: m(q, k, v), [[0], [1]])
    m = MultiplicativeAttention(4, 4, "dot", scale=True)
    g.module("LuongDotScaledStepPadding", "MultiplicativeAttention", [4, 4], {"score": "dot", "scale": True}, m,
             [r(2, 4), r(2, 5, 4), r(2, 5, 3)],
             lambda m, q, k, v, key_padding_mask: m(q, k, v, key_padding_mask), [[0], [1]],
             forward_kwargs={"keyPaddingMask": kpm}, torch_kwargs={"key_padding_mask": kpm})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="test/fixtures/torch-sequence.json")
    args = ap.parse_args()
    g = Gen(args.seed)
    generate(g)
    with open(args.out, "w") as f:
        json.dump({"torch": torch.__version__, "seed": args.seed, "cases": g.cases}, f)
    print(f"{len(g.cases)} cases -> {args.out}")


if __name__ == "__main__":
    main()
