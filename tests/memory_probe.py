"""Train a small MLP and print the process's memory as JSON; run by tests/test_memory.py.

    python3 tests/memory_probe.py [--steps 1000] [--mark 200] [--leak]

It runs in a fresh process so that the resident set size (RSS, from /proc/self/statm)
reflects only this loop. ``--leak`` adds the classic user leak, ``total = total + loss``
(the running total keeps every step's graph alive), so the test can show that the
measurement would catch a leak.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import autograd as ag  # noqa: E402
import nn  # noqa: E402
import nn.functional as F  # noqa: E402
import optim  # noqa: E402

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def counts():
    """Live tensors and graph nodes (ag.debug.summary), as two totals."""
    s = ag.debug.summary()
    return sum(s["tensors"].values()), sum(s["nodes"].values())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--mark", type=int, default=200)
    parser.add_argument("--leak", action="store_true")
    args = parser.parse_args()

    ag.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 4, 64)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 4))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    total = 0.0
    out = {}
    for step in range(1, args.steps + 1):
        loss = F.cross_entropy(model(ag.Tensor(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total = total + loss if args.leak else total + loss.item()
        if step in (args.mark, args.steps):
            tensors, nodes = counts()
            out[step] = {"rss": rss_bytes(), "tensors": tensors, "nodes": nodes}
    out["final_loss"] = float(loss.item())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
