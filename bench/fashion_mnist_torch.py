"""Fashion-MNIST from Debian's dataset-fashion-mnist, standardized with
torchvision's Normalize((0.2860,), (0.3530,)), as flint's examples load it."""
import gzip
import os

import numpy as np
import torch

ROOT = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.286, 0.353


def idx(name):
    for path in (f"{ROOT}/{name}.gz", f"{ROOT}/{name}"):
        if os.path.exists(path):
            with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
                data = f.read()
            ndim = data[3]
            dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    raise SystemExit(f"Fashion-MNIST not found in {ROOT} (apt-get install dataset-fashion-mnist)")


def load():
    def images(name):
        return (torch.tensor(idx(name), dtype=torch.float32).unsqueeze(1) / 255 - MEAN) / STD

    def labels(name):
        return torch.tensor(idx(name), dtype=torch.long)

    return (images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte"),
            images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte"))
