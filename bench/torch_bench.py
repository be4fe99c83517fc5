#!/usr/bin/env python3
"""PyTorch's side of `npm run bench`: the same work as bench/flint_bench.ts, timed the same way.

Run by bench/run.ts (one process per thread count) as
  /usr/bin/python3 bench/torch_bench.py --threads 1 --tasks add16,sgemm,mlp,lenet,gpt,lstm,epoch --sizes 64,256
and prints one JSON object per line (the Measurement of bench/timing.ts; seconds per call).
With --device auto (what `npm run bench -- --device webgpu` passes) it runs on CUDA when
torch.cuda.is_available(), else on the CPU, and says which in each line's "device".
"""
import argparse
import gzip
import json
import math
import os
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--tasks", default="add16,sgemm")
ap.add_argument("--sizes", default="64,256")
ap.add_argument("--budget", type=float, default=2.0)
ap.add_argument("--system", default="torch")
ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
args = ap.parse_args()
# The thread pools read these when torch loads; set_num_threads covers the rest.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402

from torch_models import LSTMClassifier, TinyGPT, lenet, mlp, train_step  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)
ADD16_BATCH = 1000
MAX_SGEMM_CALL_S = 20

if args.device == "auto":
    args.device = "cuda" if torch.cuda.is_available() else "cpu"
DEV = torch.device(args.device)
ON_CUDA = DEV.type == "cuda"
if ON_CUDA:
    # Plain float32 arithmetic, as flint's kernels do: no TF32 tensor-core shortcut.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    DEVICE_LABEL = f"cuda: {torch.cuda.get_device_name(DEV)}"
else:
    DEVICE_LABEL = "cpu"


def sync():
    """Waits for queued GPU work, so that a timing includes it."""
    if ON_CUDA:
        torch.cuda.synchronize()


WARM_UP_S = 1
WARM_UP_MAX_CALLS = 200


def measure(fn, budget, min_rep_time=0.1, min_reps=3, max_reps=15):
    """bench/timing.ts's measure(): warm-up, then reps of `inner` calls; median per call.

    On CUDA each timed stretch ends with a synchronize (measureAsync's `sync`)."""
    def once():
        t0 = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t0
    # Warm-up: timing.ts's warmUp (calls until WARM_UP_S has passed, at least 2, at most 200).
    start = time.perf_counter()
    one = once()
    if one < 5:
        calls = 1
        while calls < 2 or (time.perf_counter() - start < WARM_UP_S and calls < WARM_UP_MAX_CALLS):
            one = once()
            calls += 1
    one = max(one, 1e-9)
    inner = max(1, math.ceil(min_rep_time / one)) if min_rep_time > 0 else 1
    reps = max(min_reps, min(max_reps, int(budget / (one * inner))))
    times = []
    for _ in range(reps):
        s = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        times.append((time.perf_counter() - s) / inner)
    times.sort()
    m = len(times)
    median = times[(m - 1) // 2] if m % 2 else (times[m // 2 - 1] + times[m // 2]) / 2
    return {"median": median, "min": times[0], "max": times[-1], "reps": m}


def emit(task, size, **rec):
    print(json.dumps({"system": args.system, "task": task, "size": size,
                      "threads": args.threads, "device": DEVICE_LABEL, **rec}), flush=True)


def fashion():
    root = "/usr/share/datasets/fashion-mnist"

    def idx(name):
        for path in (f"{root}/{name}.gz", f"{root}/{name}"):
            if os.path.exists(path):
                with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
                    data = f.read()
                nd = data[3]
                dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
                t = torch.frombuffer(bytearray(data[4 + 4 * nd:]), dtype=torch.uint8)
                return t.reshape(dims)
        return None

    return idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte")


tasks = args.tasks.split(",")
if "add16" in tasks and ON_CUDA:
    emit("add16", 16, skipped="per-op overhead is measured on the CPU only")
elif "add16" in tasks:
    a, b = torch.randn(16), torch.randn(16)

    def adds():
        for _ in range(ADD16_BATCH):
            torch.add(a, b)
    t = measure(adds, args.budget)
    emit("add16", 16, **{k: (v / ADD16_BATCH if k != "reps" else v) for k, v in t.items()})

if "sgemm" in tasks:
    prev_t, prev_n = 0.0, 0
    for n in [int(s) for s in args.sizes.split(",")]:
        predicted = prev_t * (n / max(prev_n, 1)) ** 3
        if prev_t > 0 and predicted > MAX_SGEMM_CALL_S:
            emit("sgemm", n, skipped=f"predicted {predicted:.0f} s per call from n={prev_n}")
            continue
        a, b = torch.randn(n, n).to(DEV), torch.randn(n, n).to(DEV)
        c = torch.empty(n, n, device=DEV)
        t = measure(lambda: torch.mm(a, b, out=c), args.budget * (2 if n >= 1024 else 1))
        emit("sgemm", n, **t)
        prev_t, prev_n = t["median"], n

OPS_SIZE = 1024  # bench/timing.ts's OPS_SIZE: ops on [1024, 1024] float32 tensors

if "ops" in tasks and ON_CUDA:
    emit("ops", 0, skipped="single ops are measured on the CPU only")
elif "ops" in tasks:
    # bench/flint_bench.ts's ops(): the same list, in the same order.
    n = OPS_SIZE
    x, y, row = torch.randn(n, n), torch.randn(n, n), torch.randn(n)
    pos = x.abs() + 0.1
    with torch.no_grad():
        for name, call in (
            ("x + y", lambda: x + y),
            ("x * 2", lambda: x * 2),
            ("x + row", lambda: x + row),
            ("x > 0", lambda: x > 0),
            ("x.pow(2)", lambda: x.pow(2)),
            ("x.exp()", lambda: x.exp()),
            ("x.log()", lambda: pos.log()),
            ("x.sum()", lambda: x.sum()),
            ("x.sum(1)", lambda: x.sum(1)),
            ("x.sum(0)", lambda: x.sum(0)),
            ("x.amax(1)", lambda: x.amax(1)),
            ("x.softmax(1)", lambda: x.softmax(1)),
        ):
            emit(f"ops:{name}", n * n, **measure(call, args.budget / 4))

if "mlp" in tasks:
    # The batch is drawn on the CPU (the same numbers on every device), then moved with the model.
    m = mlp().to(DEV)
    step = train_step(m, torch.optim.Adam(m.parameters(), lr=1e-3), torch.randn(128, 784).to(DEV),
                      torch.randint(0, 10, (128,)).to(DEV))
    emit("mlp", 128, **measure(step, args.budget * 3, min_rep_time=0))

if "lenet" in tasks:
    m = lenet().to(DEV)
    step = train_step(m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9),
                      torch.randn(64, 1, 28, 28).to(DEV), torch.randint(0, 10, (64,)).to(DEV))
    emit("lenet", 64, **measure(step, args.budget * 3, min_rep_time=0))

if "gpt" in tasks:
    m = TinyGPT().to(DEV)
    step = train_step(m, torch.optim.AdamW(m.parameters(), lr=3e-4, weight_decay=0.01),
                      torch.randint(0, 256, (16, 64)).to(DEV), torch.randint(0, 256, (16, 64)).to(DEV))
    emit("gpt", 16, **measure(step, args.budget * 3, min_rep_time=0))

if "lstm" in tasks:
    m = LSTMClassifier().to(DEV)
    step = train_step(m, torch.optim.Adam(m.parameters(), lr=1e-3), torch.randn(32, 32, 64).to(DEV),
                      torch.randint(0, 10, (32,)).to(DEV))
    emit("lstm", 32, **measure(step, args.budget * 3, min_rep_time=0))

for task, build in (("epoch", mlp), ("lenet-epoch", lenet)):
    if task not in tasks:
        continue
    images, labels = fashion()
    if ON_CUDA:
        emit(task, 60000, skipped="the epoch is measured on the CPU only")
    elif images is None:
        emit(task, 60000, skipped="Fashion-MNIST not installed (dataset-fashion-mnist)")
    else:
        x_all = images.float() / 255
        x_all = x_all.reshape(-1, 784) if task == "epoch" else x_all.reshape(-1, 1, 28, 28)
        y_all = labels.long()
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_all, y_all),
                                             batch_size=128, shuffle=True)
        m = build()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        t0 = time.perf_counter()
        for xb, yb in loader:
            train_step(m, opt, xb, yb)()
        t = time.perf_counter() - t0
        emit(task, 60000, median=t, min=t, max=t, reps=1)
