"""Workload 4: micrograd's demo. make_moons(100, noise=0.1) with labels ±1, an MLP
2-16-16-1 (ReLU hidden, linear output), the max-margin loss
mean(relu(1 - y·score)) + 1e-4·Σ p², and 100 full-batch SGD steps with
lr = 1.0 - 0.9·k/100: the total training time, and the final accuracy.
"""
import numpy as np

from .. import data, impls
from ..measure import clock, median
from .spec import Metric, Workload

SIZES = (2, 16, 16, 1)
ALPHA = 1e-4
NEEDS = ("nn.Linear", "nn.ReLU", "nn.Sequential", "optim.SGD")


def learning_rate(k):
    return 1.0 - 0.9 * k / 100


def build(nn):
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 1))


def _accuracy(scores, y):
    return float(np.mean((scores > 0) == (y > 0)))


def _repeat(train, repeats):
    runs = [train() for _ in range(repeats)]
    values = runs[-1][1]
    return {"train": median([r[0] for r in runs]), "accuracy": values["accuracy"]}, values


def run_framework(fw, cfg):
    x, y = data.moons_data(cfg["samples"])

    def train():
        model = fw.load(build(fw.nn), data.moons_weights(SIZES))
        params = list(model.parameters())
        opt = fw.optim.SGD(params, lr=learning_rate(0))
        xt, yt = fw.const(x), fw.const(y)
        relu = fw.ops.relu
        t0 = clock()
        for k in range(cfg["steps"]):
            scores = model(xt).reshape(-1)
            loss = relu(1 - yt * scores).mean() + ALPHA * sum((p * p).sum() for p in params)
            opt.zero_grad()
            loss.backward()
            opt.param_groups[0]["lr"] = learning_rate(k)
            opt.step()
        elapsed = clock() - t0
        final = fw.to_numpy(model(xt)).reshape(-1)
        return elapsed, {"loss": float(fw.to_numpy(loss)), "accuracy": _accuracy(final, y),
                         "params": fw.params(model)}

    return _repeat(train, cfg["repeats"])


def run_numpy(cfg):
    """The floor: forward and backward by hand.
    margin = 1 - y·s, d loss/d s = -y·[margin > 0] / N, d(α Σp²)/dp = 2αp."""
    x, y = data.moons_data(cfg["samples"])

    def train():
        weights = data.moons_weights(SIZES)
        names = list(weights)
        (w1, b1, w2, b2, w3, b3) = (weights[k] for k in names)
        n = len(y)
        t0 = clock()
        for k in range(cfg["steps"]):
            h1 = x @ w1.T
            h1 += b1
            np.maximum(h1, 0, out=h1)
            h2 = h1 @ w2.T
            h2 += b2
            np.maximum(h2, 0, out=h2)
            scores = (h2 @ w3.T)[:, 0] + b3
            margin = 1 - y * scores
            reg = sum(float(np.vdot(p, p)) for p in (w1, b1, w2, b2, w3, b3))
            loss = np.maximum(margin, 0).mean() + ALPHA * reg
            gs = (-(y * (margin > 0)) / n)[:, None]
            gw3, gb3 = gs.T @ h2, gs.sum(axis=0)
            g = (gs @ w3) * (h2 > 0)
            gw2, gb2 = g.T @ h1, g.sum(axis=0)
            g = (g @ w2) * (h1 > 0)
            gw1, gb1 = g.T @ x, g.sum(axis=0)
            lr = learning_rate(k)
            for p, gp in zip((w1, b1, w2, b2, w3, b3), (gw1, gb1, gw2, gb2, gw3, gb3)):
                gp += (2 * ALPHA) * p
                p -= lr * gp
        elapsed = clock() - t0
        h = np.maximum(np.maximum(x @ w1.T + b1, 0) @ w2.T + b2, 0)
        final = (h @ w3.T)[:, 0] + b3
        return elapsed, {"loss": float(loss), "accuracy": _accuracy(final, y),
                         "params": weights}

    return _repeat(train, cfg["repeats"])


def run_micrograd(cfg):
    """micrograd's demo loop, with micrograd's own MLP, loaded with the shared weights
    (Python floats: micrograd computes in float64)."""
    Value, mg_nn = impls.micrograd()
    x, y = data.moons_data(cfg["samples"])

    def train():
        weights = data.moons_weights(SIZES)
        model = mg_nn.MLP(2, list(SIZES[1:]))
        for i, layer in enumerate(model.layers):
            w, b = weights[f"{2 * i}.weight"], weights[f"{2 * i}.bias"]
            for j, neuron in enumerate(layer.neurons):
                for wi, v in zip(neuron.w, w[j]):
                    wi.data = float(v)
                neuron.b.data = float(b[j])
        inputs = [[Value(float(v)) for v in row] for row in x]
        ys = [float(v) for v in y]
        t0 = clock()
        for k in range(cfg["steps"]):
            scores = [model(row) for row in inputs]
            losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
            data_loss = sum(losses) * (1.0 / len(losses))
            reg_loss = ALPHA * sum(p * p for p in model.parameters())
            loss = data_loss + reg_loss
            model.zero_grad()
            loss.backward()
            lr = learning_rate(k)
            for p in model.parameters():
                p.data -= lr * p.grad
        elapsed = clock() - t0
        final = np.array([model(row).data for row in inputs])
        params = {}
        for i, layer in enumerate(model.layers):
            params[f"{2 * i}.weight"] = np.array([[p.data for p in n.w] for n in layer.neurons])
            params[f"{2 * i}.bias"] = np.array([n.b.data for n in layer.neurons])
        return elapsed, {"loss": loss.data, "accuracy": _accuracy(final, y), "params": params}

    # One run: the 100 steps take minutes.
    return _repeat(train, cfg["micrograd_repeats"])


MOONS = Workload(
    name="moons",
    description="micrograd's demo: make_moons(100), MLP 2-16-16-1, max-margin + L2, "
                "100 full-batch SGD steps: total time",
    metrics=(Metric("train", "100 SGD steps", "s", target="≤ 0.5× torch"),
             Metric("accuracy", "final accuracy", "%", kind="score")),
    configs={"full": {"samples": 100, "steps": 100, "repeats": 3, "micrograd_repeats": 1},
             "quick": {"samples": 100, "steps": 5, "repeats": 1, "micrograd_repeats": 1},
             "check": {"samples": 16, "steps": 2, "repeats": 1, "micrograd_repeats": 1}},
    impls={"chainrule": lambda cfg: run_framework(impls.chainrule(*NEEDS), cfg),
           "numpy": run_numpy,
           "torch": lambda cfg: run_framework(impls.torch(cfg.get("threads", 1)), cfg),
           "micrograd": run_micrograd},
    # micrograd spends about 2 s of CPU per step (a third of it in Python's cycle
    # collector: every Value sits in a cycle through its _backward closure).
    max_rounds={"micrograd": 1})
