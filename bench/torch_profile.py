#!/usr/bin/env python3
"""Where PyTorch's training step time goes: bench/profile.ts's counterpart.

Runs one of the bench's training steps under torch.profiler (CPU activities,
this process) and prints the step time without the profiler, then self CPU
time per step split into matmul (the GEMM ops), convolution, and the top
other ops, so that it reads side by side with bench/profile.ts's summary.

  /usr/bin/python3 bench/torch_profile.py [gpt|mlp|lenet|lstm] [--threads 1] [--steps 20] [--top 15] [--json]
"""
import argparse
import json
import os
import time

TASKS = ("gpt", "mlp", "lenet", "lstm")
ap = argparse.ArgumentParser()
ap.add_argument("task", nargs="?", default="gpt", choices=TASKS)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--steps", type=int, default=20)
ap.add_argument("--top", type=int, default=15)
ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
args = ap.parse_args()
# Before torch loads (as in torch_bench.py): without these OpenBLAS keeps 2
# threads even after torch.set_num_threads(1).
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from torch_models import LSTMClassifier, TinyGPT, lenet, mlp, train_step  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)

# Ops whose self CPU time is a GEMM (BLAS sgemm under the hood). aten::addmm_
# counts too: it is not an optimizer op here but the GEMM that aten::baddbmm
# runs once per batch entry on this build (gpt: 128 calls per step, shapes
# [64,32]x[32,64] under aten::baddbmm, the masked attention scores; checked
# with the profiler's cpu_parent). aten::matmul / aten::linear are wrappers
# whose self time is dispatch only, so they count as "other".
MATMUL_OPS = {"aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::baddbmm", "aten::addbmm",
              "aten::addmv", "aten::mv", "aten::dot", "aten::_addmm_activation"}
CONV_OPS = {"aten::mkldnn_convolution", "aten::_convolution", "aten::convolution",
            "aten::conv2d", "aten::thnn_conv2d", "aten::_slow_conv2d_forward",
            "aten::_slow_conv2d_backward", "aten::convolution_backward",
            "aten::mkldnn_convolution_backward", "aten::slow_conv2d_forward",
            "aten::thnn_conv2d_forward", "aten::thnn_conv2d_backward"}


# The optimizers, hyper-parameters and batch shapes mirror bench/torch_bench.py's
# `if "<task>" in tasks:` blocks; the models are shared (bench/torch_models.py).
def setup(task):
    """(model, optimizer, x, y) as in torch_bench.py's block for `task`."""
    if task == "mlp":
        m = mlp()
        return m, torch.optim.Adam(m.parameters(), lr=1e-3), torch.randn(128, 784), \
            torch.randint(0, 10, (128,))
    if task == "lenet":
        m = lenet()
        return m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9), \
            torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    if task == "gpt":
        m = TinyGPT()
        return m, torch.optim.AdamW(m.parameters(), lr=3e-4, weight_decay=0.01), \
            torch.randint(0, 256, (16, 64)), torch.randint(0, 256, (16, 64))
    m = LSTMClassifier()
    return m, torch.optim.Adam(m.parameters(), lr=1e-3), torch.randn(32, 32, 64), \
        torch.randint(0, 10, (32,))


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[(n - 1) // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main():
    step = train_step(*setup(args.task))
    for _ in range(5):  # warm-up: allocator, optimizer state
        step()
    times = []
    for _ in range(max(args.steps, 5)):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    step_ms = 1e3 * median(times)

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        profiled_ms = 1e3 * (time.perf_counter() - t0) / args.steps

    n = args.steps
    ops = {}  # name -> [self CPU ms per step, calls per step]
    for e in prof.key_averages():
        ops[e.key] = [e.self_cpu_time_total / 1e3 / n, e.count / n]
    total = sum(v[0] for v in ops.values())
    mm = {k: v for k, v in ops.items() if k in MATMUL_OPS}
    conv = {k: v for k, v in ops.items() if k in CONV_OPS}
    rest = sorted(((k, v) for k, v in ops.items() if k not in MATMUL_OPS and k not in CONV_OPS),
                  key=lambda kv: -kv[1][0])
    other_ms = sum(v[0] for _, v in rest)
    group = lambda d: {"ms": sum(v[0] for v in d.values()),  # noqa: E731
                       "ops": {k: {"ms": v[0], "calls": v[1]} for k, v in d.items()}}
    out = {
        "system": "torch", "torch": torch.__version__, "task": args.task,
        "threads": args.threads, "steps": n,
        "step_ms": step_ms, "profiled_step_ms": profiled_ms, "self_cpu_ms": total,
        "matmul": group(mm), "convolution": group(conv),
        "other": [{"op": k, "ms": v[0], "calls": v[1]} for k, v in rest[:args.top]],
        "other_ms": other_ms,
        # Step time under the profiler that no op's self time covers (Python, autograd glue).
        "outside_ops_ms": profiled_ms - total,
    }
    if args.json:
        print(json.dumps(out))
        return

    def row(ms, name, calls=None):
        share = 100 * ms / total if total else 0
        c = f"{calls:8.1f}" if calls is not None else " " * 8
        return f"  {ms:8.2f} ms  {share:5.1f}%  {c}  {name}"
    print(f"{args.task} step, {args.threads} thread(s), torch {torch.__version__}: "
          f"{step_ms:.1f} ms per step without the profiler (median of {len(times)}), "
          f"{profiled_ms:.1f} ms under it ({n} steps)")
    print(f"self CPU per step ({total:.2f} ms in all):        calls/step")
    print(row(out["matmul"]["ms"], "matmul (" + ", ".join(sorted(mm)) + ")"))
    for k, v in sorted(mm.items(), key=lambda kv: -kv[1][0]):
        print(row(v[0], f"  {k}", v[1]))
    if conv:
        print(row(out["convolution"]["ms"], "convolution"))
        for k, v in sorted(conv.items(), key=lambda kv: -kv[1][0]):
            print(row(v[0], f"  {k}", v[1]))
    print(row(other_ms, "other total"))
    for k, v in rest[:args.top]:
        print(row(v[0], f"  {k}", v[1]))
    print(f"  {profiled_ms - total:8.2f} ms  outside any op (profiled step - self CPU total)")


main()
