"""PyTorch twin of flint's names-gpt task (src/cli/tasks/names.ts).

Same data (the two first-name lists from the installed npm packages,
lowercased and deduplicated in file order), same 80/10/10 split
(torch.randperm with the same seed), same GPT (2 pre-norm blocks, 4 heads,
width 64, GELU MLP, learned positions, PyTorch's default init), same
optimizer (AdamW lr 3e-3, weight decay 0.01), batches drawn with
torch.randint from a generator seeded seed + 1, and the same step count.
Prints the validation loss in nats per character as JSON.

    /usr/bin/python3 bench/names_gpt_torch.py [--steps 600] [--threads 2]
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node_modules", "@stdlib")


def load_names():
    names, seen = [], set()
    for sex in ("female", "male"):
        path = os.path.join(ROOT, f"datasets-{sex}-first-names-en", "data", "names.txt")
        with open(path, encoding="utf-8") as f:
            for line in f:
                n = line.strip().lower()
                if n and n not in seen:
                    seen.add(n)
                    names.append(n)
    return names


def split(names, seed):
    perm = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    n1 = math.floor(0.8 * len(names))
    n2 = n1 + math.floor(0.1 * len(names))
    pick = lambda idx: [names[i] for i in idx]
    return pick(perm[:n1]), pick(perm[n1:n2]), pick(perm[n2:])


def encode(names, stoi, block):
    x = torch.zeros(len(names), block, dtype=torch.long)
    y = torch.full((len(names), block), -1, dtype=torch.long)
    for i, n in enumerate(names):
        ids = [stoi[c] for c in n]
        x[i, : len(ids) + 1] = torch.tensor([0] + ids)
        y[i, : len(ids) + 1] = torch.tensor(ids + [0])
    return x, y


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_dropout = nn.Dropout(0.0)
        self.n_head = n_head

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)  # (B, H, T, T)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~causal, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.c_proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(0.0)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab, block, n_embd=64, n_head=4, n_layer=2):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block, n_embd)
        self.drop = nn.Dropout(0.0)
        self.h = nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = load_names()
    train, val, _ = split(names, args.seed)
    chars = sorted(set("".join(names)) - {"."})
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    V = len(chars) + 1
    block = max(len(n) for n in names) + 1
    X, Y = encode(train, stoi, block)
    Xv, Yv = encode(val, stoi, block)
    torch.manual_seed(args.seed)
    model = GPT(V, block)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(args.seed + 1)
    t0 = time.time()
    first = None
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, X.shape[0], (args.batch_size,), generator=g)
        loss = F.cross_entropy(model(X[idx]).reshape(-1, V), Y[idx].reshape(-1), ignore_index=-1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if first is None:
            first = loss.item()
    seconds = time.time() - t0
    model.eval()
    with torch.no_grad():
        val_loss = F.cross_entropy(model(Xv).reshape(-1, V), Yv.reshape(-1), ignore_index=-1).item()
    print(json.dumps({
        "task": "names-gpt", "framework": "pytorch " + torch.__version__, "steps": args.steps,
        "first_loss": first, "train_loss": loss.item(), "val_loss": val_loss,
        "seconds": round(seconds, 1), "val_names": len(val), "first_val_names": val[:3],
    }))


if __name__ == "__main__":
    main()
