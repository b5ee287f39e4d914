"""Workload 7: 20 elementwise ops (mul, add, sub, div, tanh, exp, sigmoid, log, sqrt)
on two 1,000,000-element float32 tensors, then a sum; forward and backward. Memory
traffic: each op reads and writes megabytes, the per-op overhead is negligible.
"""
import numpy as np

from .. import data, impls
from ..measure import clock, median
from .spec import Metric, Workload


def chain(x, y, ops):
    """The 20 ops, written once for every library with the same function names
    (``ops`` is ``autograd`` or ``torch``). All intermediate values stay in safe ranges
    for x, y in (-1, 1): the log's argument is in (0.06, 2), the sqrt's above 0.7."""
    t = x * y                              # 1
    t = t + x                              # 2
    t = ops.tanh(t)                        # 3
    t = t * 0.5                            # 4
    t = ops.exp(t)                         # 5
    t = t - y                              # 6
    t = ops.sigmoid(t)                     # 7
    t = t * x                              # 8
    t = t + 1.0                            # 9
    t = ops.log(t)                         # 10
    u = t * t                              # 11
    t = u + t                              # 12
    t = ops.sqrt(t + 1.0)                  # 13, 14
    t = t / (y * y + 1.0)                  # 15, 16, 17
    t = ops.tanh(t - 1.0)                  # 18, 19
    return (t * y).sum()                   # 20, then the sum


def floor_forward(x, y):
    """The same 20 ops by hand, keeping what the backward needs (the sigmoid as
    1/(1+e^-v) is safe here: v stays within (-0.4, 2.7))."""
    a1 = x * y
    a2 = a1 + x
    a3 = np.tanh(a2)
    a4 = a3 * 0.5
    a5 = np.exp(a4)
    a6 = a5 - y
    a7 = 1 / (1 + np.exp(-a6))
    a8 = a7 * x
    a9 = a8 + 1
    a10 = np.log(a9)
    a11 = a10 * a10
    a12 = a11 + a10
    a13 = a12 + 1
    a14 = np.sqrt(a13)
    a15 = y * y
    a16 = a15 + 1
    a17 = a14 / a16
    a18 = a17 - 1
    a19 = np.tanh(a18)
    a20 = a19 * y
    saved = (x, y, a3, a5, a7, a9, a10, a14, a16, a17, a19)
    return a20.sum(), saved


def floor_backward(saved):
    """The chain rule walked back from d(sum)/d(a20) = 1, so g19 = y and dy gets a19."""
    x, y, a3, a5, a7, a9, a10, a14, a16, a17, a19 = saved
    gy = a19.copy()                        # 20: d(a19·y)/dy
    g = y * (1 - a19 * a19)                # 20, 19: through tanh
    gy -= 2 * y * (g * a17 / a16)          # 17, 16, 15: d(a14/a16)/da16 = -a17/a16
    g = g / a16                            # 17: d/da14
    g = g * (0.5 / a14)                    # 14: sqrt
    g = g * (2 * a10 + 1)                  # 12, 11: d(a10² + a10)
    g = g / a9                             # 10: log
    gx = g * a7                            # 8: d(a7·x)/dx
    g = g * x * (a7 * (1 - a7))            # 8, 7: through sigmoid
    gy -= g                                # 6
    g = g * a5 * 0.5                       # 5, 4: exp, then the 0.5
    g = g * (1 - a3 * a3)                  # 3: tanh
    gx += g                                # 2
    gx += g * y                            # 1
    gy += g * x                            # 1
    return gx, gy


def _summary(runs):
    fwd, bwd = [r[0] for r in runs], [r[1] for r in runs]
    return {"forward": median(fwd), "backward": median(bwd),
            "total": median([f + b for f, b in zip(fwd, bwd)])}


def run_framework(fw, cfg):
    x0, y0 = data.elementwise_inputs(cfg["size"])

    def once():
        x, y = fw.leaf(x0), fw.leaf(y0)
        t0 = clock()
        total = chain(x, y, fw.ops)
        t1 = clock()
        total.backward()
        t2 = clock()
        return t1 - t0, t2 - t1, {"sum": float(fw.to_numpy(total)),
                                  "grad_x": fw.to_numpy(x.grad).copy(),
                                  "grad_y": fw.to_numpy(y.grad).copy()}

    for _ in range(cfg["warmup"]):
        once()
    runs = [once() for _ in range(cfg["repeats"])]
    return _summary(runs), runs[-1][2]


def run_numpy(cfg):
    x, y = data.elementwise_inputs(cfg["size"])

    def once():
        t0 = clock()
        total, saved = floor_forward(x, y)
        t1 = clock()
        gx, gy = floor_backward(saved)
        t2 = clock()
        return t1 - t0, t2 - t1, {"sum": float(total), "grad_x": gx, "grad_y": gy}

    for _ in range(cfg["warmup"]):
        once()
    runs = [once() for _ in range(cfg["repeats"])]
    return _summary(runs), runs[-1][2]


BIG_ELEMENTWISE = Workload(
    name="big_elementwise",
    description="20 elementwise ops on two 1,000,000-element tensors, then sum; "
                "forward and backward",
    metrics=(Metric("forward", "forward", "ms"),
             Metric("backward", "backward", "ms"),
             Metric("total", "forward + backward", "ms", target="≤ 1.0× torch")),
    configs={"full": {"size": 1_000_000, "warmup": 1, "repeats": 10},
             "quick": {"size": 100_000, "warmup": 0, "repeats": 2},
             "check": {"size": 1000, "warmup": 0, "repeats": 1}},
    impls={"chainrule": lambda cfg: run_framework(impls.chainrule(), cfg),
           "numpy": run_numpy,
           "torch": lambda cfg: run_framework(impls.torch(cfg.get("threads", 1)), cfg)})
