# Regenerates torch-data-reference.json: the index orders PyTorch's data
# utilities produce for fixed seeds, which flint's samplers, DataLoader and
# randomSplit must reproduce. Run with Debian's python3-torch:
#   /usr/bin/python3 test/data/make_torch_reference.py
import json
import os

import torch
from torch.utils.data import (BatchSampler, DataLoader, RandomSampler, SequentialSampler,
                              SubsetRandomSampler, TensorDataset, WeightedRandomSampler, random_split)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def epochs(loader, n=3):
    return [[b[0].tolist() for b in loader] for _ in range(n)]


cases = {"torch": torch.__version__}
ds = TensorDataset(torch.arange(10))
cases["shuffle_generator"] = {
    "n": 10, "batchSize": 4, "seed": 42,
    "epochs": epochs(DataLoader(ds, batch_size=4, shuffle=True, generator=gen(42)))}
cases["shuffle_generator_droplast"] = {
    "n": 10, "batchSize": 3, "seed": 7,
    "epochs": epochs(DataLoader(ds, batch_size=3, shuffle=True, drop_last=True, generator=gen(7)))}
torch.manual_seed(0)
cases["shuffle_global"] = {
    "n": 10, "batchSize": 4, "seed": 0,
    "epochs": epochs(DataLoader(ds, batch_size=4, shuffle=True)),
    "after": torch.rand(3).tolist()}
torch.manual_seed(5)
loader = DataLoader(ds, batch_size=5)
[b for b in loader]
cases["sequential_consumes_base_seed"] = {"seed": 5, "after": torch.rand(3).tolist()}
cases["random_split"] = [
    {"n": n, "lengths": lengths, "seed": seed,
     "indices": [s.indices for s in random_split(range(n), lengths, generator=gen(seed))]}
    for n, lengths, seed in [(10, [0.5, 0.3, 0.2], 42), (11, [0.5, 0.3, 0.2], 1), (7, [0.34, 0.33, 0.33], 3),
                             (100, [60, 30, 10], 0), (5, [0.25, 0.25, 0.25, 0.25], 9)]]
cases["random_sampler"] = [
    {"n": n, "replacement": rep, "numSamples": num, "seed": seed,
     "epochs": [list(s) for s in [RandomSampler(range(n), replacement=rep, num_samples=num, generator=g)] for _ in range(2)]}
    for n, rep, num, seed, g in [(6, False, None, 1, None), (6, False, 15, 2, None), (5, True, 40, 3, None),
                                 (5, True, 7, 4, None)] for g in [gen(seed)]]
cases["subset_random_sampler"] = {
    "indices": [3, 1, 4, 1, 5, 9, 2, 6], "seed": 11,
    "order": list(SubsetRandomSampler([3, 1, 4, 1, 5, 9, 2, 6], generator=gen(11)))}
cases["weighted_random_sampler"] = {
    "weights": [0.1, 0.5, 2.0, 0.0, 1.0], "numSamples": 20, "seed": 3,
    "order": list(WeightedRandomSampler([0.1, 0.5, 2.0, 0.0, 1.0], 20, generator=gen(3)))}
cases["batch_sampler"] = [
    {"n": 10, "batchSize": 3, "dropLast": d, "batches": list(BatchSampler(SequentialSampler(range(10)), 3, d))}
    for d in [False, True]]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch-data-reference.json")
with open(out, "w") as f:
    json.dump(cases, f)
    f.write("\n")
