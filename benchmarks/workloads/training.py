"""The training-step loop shared by the classifier workloads (the two MLPs, the CNN).

chainrule and PyTorch run the very same lines (their APIs agree); the NumPy floor
supplies an object with ``step()``, ``loss``, ``params`` and ``grads``.
"""
from ..measure import timed_steps


def step_metrics(times):
    """Mean seconds per step: what a training loop pays, occasional collector pauses
    included (per-step samples are kept in the JSON for other statistics)."""
    return {"step": sum(times) / len(times)}, {"step": times}


def train_framework(fw, model, make_optimizer, x, y, cfg):
    opt = make_optimizer(fw.optim, list(model.parameters()))
    xt, yt = fw.const(x), fw.const(y)
    cross_entropy = fw.F.cross_entropy
    last = [None]

    def step():
        opt.zero_grad()
        loss = cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        last[0] = loss

    times = timed_steps(step, cfg["warmup"], cfg["steps"])
    metrics, samples = step_metrics(times)
    values = {"loss": float(fw.to_numpy(last[0])), "params": fw.params(model),
              "grads": fw.grads(model), "samples": samples}
    return metrics, values


def train_floor(trainer, cfg):
    times = timed_steps(trainer.step, cfg["warmup"], cfg["steps"])
    metrics, samples = step_metrics(times)
    values = {"loss": float(trainer.loss),
              "params": {k: p.copy() for k, p in trainer.params.items()},
              "grads": {k: g.copy() for k, g in trainer.grads.items()},
              "samples": samples}
    return metrics, values
