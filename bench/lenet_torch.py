#!/usr/bin/env python3
"""PyTorch's side of examples/lenet.ts: the same LeNet-5, data, seed and recipe
(Adam 1e-3, batch 128, shuffled), so the two accuracy curves can be compared.

  /usr/bin/python3 bench/lenet_torch.py [epochs] [--threads 1]
flint draws the same random numbers as PyTorch for the same seed (initialization and shuffling),
so the runs start from the same weights and see the same batches.
"""
import os
import sys
import time

threads = 1
args = [a for a in sys.argv[1:]]
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


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def main():
    epochs = int(args[0]) if args else 8
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = load()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x_train, y_train), batch_size=128, shuffle=True)
    model = LeNet5()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        total, batches = 0.0, 0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
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
