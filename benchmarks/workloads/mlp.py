"""Workloads 1 and 2: an MLP classifier (ReLU between Linear layers), cross-entropy,
Adam (lr 1e-3), trained on one fixed batch; the time of a whole training step
(zero_grad, forward, loss, backward, optimizer step).

mlp_large (784-256-128-10, batch 128) is dominated by the matmuls; mlp_small
(64-32-10, batch 32) by the per-op overhead of the framework.
"""
import numpy as np

from .. import data, impls
from .floor import Adam, cross_entropy
from .spec import Metric, Workload
from .training import train_floor, train_framework

LR = 1e-3
NEEDS = ("nn.Linear", "nn.ReLU", "nn.Sequential", "F.cross_entropy", "optim.Adam")


def build(nn, sizes):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


def make_adam(optim, params):
    return optim.Adam(params, lr=LR)


class FloorMLP:
    """Forward and backward by hand: z = h W^T + b, h' = max(z, 0); the ReLU's
    derivative is read off its output (h' > 0 exactly where z > 0)."""

    def __init__(self, weights, x, y):
        self.params = weights
        indices = sorted({int(k.split(".")[0]) for k in weights})
        self.layers = [(weights[f"{i}.weight"], weights[f"{i}.bias"]) for i in indices]
        self.names = [f"{i}.{n}" for i in indices for n in ("weight", "bias")]
        self.x, self.y = x, y
        self.optimizer = Adam([p for w, b in self.layers for p in (w, b)], lr=LR)
        self.loss, self.grads = None, {}

    def step(self):
        hs = [self.x]
        last = len(self.layers) - 1
        for i, (w, b) in enumerate(self.layers):
            z = hs[-1] @ w.T
            z += b
            if i < last:
                np.maximum(z, 0, out=z)
            hs.append(z)
        self.loss, g = cross_entropy(hs[-1], self.y)
        grads = []
        for i in range(last, -1, -1):
            w, _ = self.layers[i]
            grads.append((g.T @ hs[i], g.sum(axis=0)))
            if i:
                g = g @ w
                g *= hs[i] > 0
        flat = [t for pair in reversed(grads) for t in pair]
        self.optimizer.step(flat)
        self.grads = dict(zip(self.names, flat))


def _workload(name, sizes, batch, description, target, full_steps, warmup):
    def inputs():
        x, y = data.classification_batch(name, batch, sizes[0], sizes[-1])
        return data.mlp_weights(name, sizes), x, y

    def run_framework(fw, cfg):
        weights, x, y = inputs()
        return train_framework(fw, fw.load(build(fw.nn, sizes), weights), make_adam, x, y, cfg)

    def run_numpy(cfg):
        weights, x, y = inputs()
        return train_floor(FloorMLP(weights, x, y), cfg)

    return Workload(
        name=name, description=description,
        metrics=(Metric("step", "training step", "ms", target=target),),
        configs={"full": {"warmup": warmup, "steps": full_steps},
                 "quick": {"warmup": 1, "steps": 3},
                 "check": {"warmup": 0, "steps": 2}},
        impls={"chainrule": lambda cfg: run_framework(impls.chainrule(*NEEDS), cfg),
               "numpy": run_numpy,
               "torch": lambda cfg: run_framework(impls.torch(cfg.get("threads", 1)), cfg)})


MLP_LARGE = _workload(
    "mlp_large", (784, 256, 128, 10), 128,
    "MLP 784-256-128-10, ReLU, cross-entropy, Adam, batch 128: one training step",
    "≤ 1.0× torch", full_steps=60, warmup=5)
MLP_SMALL = _workload(
    "mlp_small", (64, 32, 10), 32,
    "MLP 64-32-10, ReLU, cross-entropy, Adam, batch 32 (overhead-bound): one training step",
    "≤ 0.4× torch", full_steps=1000, warmup=50)
