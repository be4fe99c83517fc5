"""The models and the training step of `npm run bench`'s PyTorch side, shared by
bench/torch_bench.py and bench/torch_profile.py (bench/flint_tasks.ts builds the same ones in flint).

Import it after setting OMP_NUM_THREADS / OPENBLAS_NUM_THREADS: it imports torch.
"""
import torch


def mlp():
    nn = torch.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def lenet():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


class TinyGPT(torch.nn.Module):
    """vocab 256, context 64, d_model 128, 4 heads, 2 pre-norm TransformerEncoderLayers (causal)."""

    def __init__(self, vocab=256, ctx=64, d=128, heads=4, layers=2):
        super().__init__()
        nn = torch.nn
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(d, heads, dim_feedforward=4 * d, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
            for _ in range(layers)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.register_buffer("mask", torch.triu(torch.full((ctx, ctx), float("-inf")), 1))

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        for layer in self.layers:
            x = layer(x, src_mask=self.mask[:t, :t])
        return self.head(self.norm(x))


class LSTMClassifier(torch.nn.Module):
    """2-layer LSTM (input 64, hidden 128, batch first), linear head on the last step, 10 classes."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(64, 128, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(128, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def train_step(model, opt, x, y):
    """One training step; loss.item() reads the loss back (on CUDA it waits for the step)."""
    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()
    return step
