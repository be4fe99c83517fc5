#!/usr/bin/env python3
"""PyTorch's side of examples/resnet.ts: the same SmallResNet (BasicBlocks at
16/32/64 channels), the same augmentation (random 28x28 crops of the image
padded by 2, horizontal flips), inputs standardized with Fashion-MNIST's mean
and std, Adam 1e-3 with cosine annealing over the run, batch 128.

  /usr/bin/python3 bench/resnet_torch.py [epochs] [--threads 1] [--no-augment] [--width 16] [--lr 1e-3]
"""
import os
import sys
import time

threads = 1
args = list(sys.argv[1:])
augment = "--no-augment" not in args
args = [a for a in args if a != "--no-augment"]


def option(name, default):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return type(default)(value)
    return default


WIDTH = option("--width", 16)
LR = option("--lr", 1e-3)
if "--threads" in args:
    i = args.index("--threads")
    threads = int(args[i + 1])
    del args[i:i + 2]
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from fashion_mnist_torch import load  # noqa: E402

torch.set_num_threads(threads)


class BasicBlock(nn.Module):
    def __init__(self, in_c, out_c, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, out_c, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_c)
        self.conv2 = nn.Conv2d(out_c, out_c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_c)
        self.downsample = None
        if stride != 1 or in_c != out_c:
            self.downsample = nn.Sequential(nn.Conv2d(in_c, out_c, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_c))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class SmallResNet(nn.Module):
    def __init__(self):
        super().__init__()
        w = WIDTH
        self.conv1 = nn.Conv2d(1, w, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.layer1 = nn.Sequential(BasicBlock(w, w, 1))
        self.layer2 = nn.Sequential(BasicBlock(w, 2 * w, 2))
        self.layer3 = nn.Sequential(BasicBlock(2 * w, 4 * w, 2))
        self.fc = nn.Linear(4 * w, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def augment_batch(x):
    """Random 28x28 crop of each image zero-padded by 2 (in standardized units: the
    padding is the background value), then a horizontal flip with probability 1/2."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2), value=float(x.min()))
    tops = torch.randint(0, 5, (n,))
    lefts = torch.randint(0, 5, (n,))
    out = torch.stack([padded[i, :, t:t + 28, l:l + 28] for i, (t, l) in enumerate(zip(tops.tolist(), lefts.tolist()))])
    flip = torch.rand(n) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def main():
    epochs = int(args[0]) if args else 6
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = load()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x_train, y_train), batch_size=128, shuffle=True)
    model = SmallResNet()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        total, batches = 0.0, 0
        for xb, yb in loader:
            if augment:
                xb = augment_batch(xb)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
            batches += 1
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            acc = sum((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum().item()
                      for i in range(0, 10000, 1000)) / 10000
        model.train()
        print(f"epoch {epoch}: train loss {total / batches:.4f}, test accuracy {acc * 100:.2f}%, {seconds:.1f} s",
              flush=True)
    print(f"total {time.perf_counter() - start:.1f} s ({threads} thread)")


main()
