"""Workload 3: n × ``a = tanh(a*w + b)`` on 0-d tensors (3 ops per iteration), then
backward; microseconds per op, forward and backward separately. Pure per-op overhead:
the arithmetic is one float each.
"""
import math
import sys

import numpy as np

from .. import impls
from ..measure import clock, median
from .spec import Metric, Workload

A0, W, B = 0.5, 0.9, 0.1
OPS_PER_ITERATION = 3


def _summary(runs, n):
    """Median over the repeats of each phase, as seconds per op."""
    ops = OPS_PER_ITERATION * n
    fwd = median([r[0] for r in runs]) / ops
    bwd = median([r[1] for r in runs]) / ops
    return {"forward": fwd, "backward": bwd, "total": median([r[0] + r[1] for r in runs]) / ops}


def _repeat(once, cfg):
    for _ in range(cfg["warmup"]):
        once()
    runs = [once() for _ in range(cfg["repeats"])]
    metrics = _summary(runs, cfg["n"])
    return metrics, runs[-1][2]


def run_framework(fw, cfg):
    n = cfg["n"]

    def once():
        a0, w, b = (fw.leaf(np.float32(v)) for v in (A0, W, B))
        t0 = clock()
        a = a0
        for _ in range(n):
            a = (a * w + b).tanh()
        t1 = clock()
        a.backward()
        t2 = clock()
        grads = [fw.to_numpy(t.grad).item() for t in (a0, w, b)]
        return t1 - t0, t2 - t1, {"out": fw.to_numpy(a).item(), "grads": grads}

    return _repeat(once, cfg)


def run_numpy(cfg):
    """The floor: NumPy float32 scalars, the forward values kept in a list and the
    chain rule walked back by hand: z = a w + b, a' = tanh z, dz = da' (1 - a'²)."""
    n = cfg["n"]

    def once():
        a0, w, b = np.float32(A0), np.float32(W), np.float32(B)
        t0 = clock()
        a = a0
        outs = []
        for _ in range(n):
            a = np.tanh(a * w + b)
            outs.append(a)
        t1 = clock()
        g, gw, gb = np.float32(1), np.float32(0), np.float32(0)
        for i in range(n - 1, -1, -1):
            out = outs[i]
            gz = g * (1 - out * out)
            gw += gz * (outs[i - 1] if i else a0)
            gb += gz
            g = gz * w
        t2 = clock()
        return t1 - t0, t2 - t1, {"out": float(a), "grads": [float(g), float(gw), float(gb)]}

    return _repeat(once, cfg)


def micrograd_tanh(Value, v):
    """tanh as micrograd's own ops are written (micrograd 0.1.0 has none): the output
    Value with a closure that adds the local derivative times the output's grad."""
    t = math.tanh(v.data)
    out = Value(t, (v,), "tanh")

    def _backward():
        v.grad += (1 - t * t) * out.grad

    out._backward = _backward
    return out


def run_micrograd(cfg):
    Value, _ = impls.micrograd()
    n = cfg["n"]
    # micrograd's backward sorts the graph recursively: one frame per node.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * OPS_PER_ITERATION * n + 1000))

    def once():
        a0, w, b = Value(A0), Value(W), Value(B)
        t0 = clock()
        a = a0
        for _ in range(n):
            a = micrograd_tanh(Value, a * w + b)
        t1 = clock()
        a.backward()
        t2 = clock()
        return t1 - t0, t2 - t1, {"out": a.data, "grads": [a0.grad, w.grad, b.grad]}

    return _repeat(once, cfg)


SCALAR_CHAIN = Workload(
    name="scalar_chain",
    description="6,666 × a = tanh(a*w + b) on 0-d tensors, then backward: time per op",
    metrics=(Metric("forward", "forward", "µs/op"),
             Metric("backward", "backward", "µs/op"),
             Metric("total", "forward + backward", "µs/op",
                    target="≤ 0.33× torch and ≤ micrograd (≈7 µs/op)")),
    configs={"full": {"n": 6666, "warmup": 1, "repeats": 5},
             "quick": {"n": 300, "warmup": 0, "repeats": 1},
             "check": {"n": 50, "warmup": 0, "repeats": 1}},
    impls={"chainrule": lambda cfg: run_framework(impls.chainrule(), cfg),
           "numpy": run_numpy,
           "torch": lambda cfg: run_framework(impls.torch(cfg.get("threads", 1)), cfg),
           "micrograd": run_micrograd})
