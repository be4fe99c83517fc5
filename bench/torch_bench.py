#!/usr/bin/env python3
"""PyTorch side of `npm run bench`: the same work as bench/run.ts, timed the same way.

Run by bench/run.ts as
  /usr/bin/python3 bench/torch_bench.py --threads 1 --tasks add16,sgemm,mlp --sizes 64,256,512
and prints one JSON object per line: {"task", "size", "threads", "median", "min", "max", "reps"} (seconds per call).
"""
import argparse
import json
import os
import statistics
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--tasks", default="add16,sgemm")
ap.add_argument("--sizes", default="64,256,512")
ap.add_argument("--budget", type=float, default=2.0)
args = ap.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)


def measure(fn, budget):
    """Warm up, then repeat batches of calls; per-call seconds of each batch."""
    fn()
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-9)
    inner = max(1, int(0.1 / one))
    reps = max(3, min(15, int(budget / (one * inner))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return times


def emit(task, size, times):
    print(json.dumps({"task": task, "size": size, "threads": args.threads,
                      "median": statistics.median(times), "min": min(times), "max": max(times),
                      "reps": len(times), "version": torch.__version__}), flush=True)


tasks = args.tasks.split(",")
if "add16" in tasks:
    a = torch.randn(16)
    b = torch.randn(16)
    emit("add16", 16, measure(lambda: torch.add(a, b), args.budget))

if "sgemm" in tasks:
    for n in [int(s) for s in args.sizes.split(",")]:
        a = torch.randn(n, n)
        b = torch.randn(n, n)
        emit("sgemm", n, measure(lambda: torch.mm(a, b), args.budget))

if "mlp" in tasks:
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(128, 784)
    y = torch.randint(0, 10, (128,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    emit("mlp", 128, measure(step, args.budget * 2))

if "epoch" in tasks:
    import gzip
    import numpy as np

    root = "/usr/share/datasets/fashion-mnist"

    def idx(name):
        for path in (f"{root}/{name}.gz", f"{root}/{name}"):
            if os.path.exists(path):
                opener = gzip.open if path.endswith(".gz") else open
                with opener(path, "rb") as f:
                    data = f.read()
                ndim = data[3]
                dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
                return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
        return None

    images = idx("train-images-idx3-ubyte")
    labels = idx("train-labels-idx1-ubyte")
    if images is not None:
        x_all = torch.tensor(images.reshape(-1, 784), dtype=torch.float32) / 255
        y_all = torch.tensor(labels, dtype=torch.long)
        ds = torch.utils.data.TensorDataset(x_all, y_all)
        loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True)
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        t0 = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        t = time.perf_counter() - t0
        emit("epoch", 60000, [t])
