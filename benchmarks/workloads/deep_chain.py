"""Workload 6: 100,000 sequential elementwise ops on a 16-element tensor (alternately
y*c and y+c with constant tensors), a sum, and backward: the time, and the process's
resident memory once the graph is gone compared with before it was built.
"""
import numpy as np

from .. import data, impls
from ..measure import clock, median, mib, rss_bytes
from .spec import Metric, Workload

SIZE = 16
WARMUP_OPS = 1000


def _measure(once, cfg):
    """A short chain first (one-time lazy allocations are not a leak), then the
    repeats; "left" is RSS after the last graph is dropped minus RSS before the first."""
    once(WARMUP_OPS)
    start = rss_bytes()
    runs = [once(cfg["n"]) for _ in range(cfg["repeats"])]
    end = rss_bytes()
    metrics = {
        "forward": median([r[0] for r in runs]),
        "backward": median([r[1] for r in runs]),
        "total": median([r[0] + r[1] for r in runs]),
        "graph_mib": max(r[2] for r in runs) if start is not None else None,
        "left_mib": mib(end - start) if start is not None else None,
    }
    return metrics, runs[-1][3]


def run_framework(fw, cfg):
    x0, scale, shift = data.chain_constants("deep_chain", SIZE)
    c_mul, c_add = fw.const(scale), fw.const(shift)

    def once(n):
        before = rss_bytes()
        x = fw.leaf(x0)
        t0 = clock()
        y = x
        for _ in range(n // 2):
            y = y * c_mul
            y = y + c_add
        s = y.sum()
        t1 = clock()
        graph = rss_bytes()
        s.backward()
        t2 = clock()
        values = {"out": fw.to_numpy(y).copy(), "grad": fw.to_numpy(x.grad).copy()}
        del s, y
        return t1 - t0, t2 - t1, mib(graph - before) if before else None, values

    return _measure(once, cfg)


def run_numpy(cfg):
    """The floor: the forward keeps nothing (y*c needs only c for its gradient), the
    backward multiplies the ones of the sum by c once per multiplication."""
    x0, c_mul, c_add = data.chain_constants("deep_chain", SIZE)

    def once(n):
        before = rss_bytes()
        t0 = clock()
        y = x0
        for _ in range(n // 2):
            y = y * c_mul
            y = y + c_add
        y.sum()
        t1 = clock()
        graph = rss_bytes()
        g = np.ones_like(y)
        for _ in range(n // 2):
            g = g * c_mul
        t2 = clock()
        return (t1 - t0, t2 - t1, mib(graph - before) if before else None,
                {"out": y, "grad": g})

    return _measure(once, cfg)


DEEP_CHAIN = Workload(
    name="deep_chain",
    description="100,000 sequential elementwise ops (y*c, y+c) on a 16-element tensor, "
                "forward and backward; RSS left once the graph is dropped",
    metrics=(Metric("forward", "forward", "ms"),
             Metric("backward", "backward", "ms"),
             Metric("total", "forward + backward", "ms", target="≤ 0.5× torch"),
             Metric("graph_mib", "RSS growth with the graph alive", "MiB", kind="memory"),
             Metric("left_mib", "RSS left after dropping the graph", "MiB", kind="memory",
                    target="≈ 0 (no memory left behind)")),
    configs={"full": {"n": 100_000, "repeats": 3},
             "quick": {"n": 4_000, "repeats": 1},
             "check": {"n": 2_000, "repeats": 1}},
    impls={"chainrule": lambda cfg: run_framework(impls.chainrule(), cfg),
           "numpy": run_numpy,
           "torch": lambda cfg: run_framework(impls.torch(cfg.get("threads", 1)), cfg)})
