"""The implementations a workload can run on, each loaded on demand behind one small
adapter, so the model code for chainrule and PyTorch can be the very same lines.

``Skip`` says an implementation cannot run here (not installed, or a chainrule piece
that is not written yet); the driver shows the reason instead of a number.
"""
import importlib
import importlib.util

import numpy as np

IMPLS = ("chainrule", "numpy", "torch", "micrograd")


class Skip(Exception):
    """This implementation cannot run on this machine; the message says why."""


class Framework:
    """What the shared model code needs from chainrule or PyTorch.

    ``nn``, ``F``, ``optim`` and ``ops`` (the module with tanh, exp, relu, ...) are the
    library's own; the methods convert NumPy arrays in and out.
    """

    def __init__(self, name, nn, F, optim, ops, leaf, const, to_numpy, state):
        self.name, self.nn, self.F, self.optim, self.ops = name, nn, F, optim, ops
        self.leaf = leaf            # (array, requires_grad) -> tensor owning a copy
        self.const = const          # array -> tensor without grad
        self.to_numpy = to_numpy    # tensor -> array
        self.state = state          # dict of arrays -> what load_state_dict takes

    def load(self, model, weights):
        model.load_state_dict(self.state(weights))
        return model

    def params(self, model):
        return {k: self.to_numpy(p).copy() for k, p in model.named_parameters()}

    def grads(self, model):
        return {k: self.to_numpy(p.grad).copy() for k, p in model.named_parameters()
                if p.grad is not None}


def _resolve(namespace, dotted):
    obj = namespace[dotted.split(".")[0]]
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def chainrule(*needs):
    """chainrule through its public API; ``needs`` are dotted names such as
    ``"nn.Linear"`` or ``"F.cross_entropy"``: if one is missing the run is skipped as
    pending instead of failing halfway."""
    import autograd as ag
    import nn
    import nn.functional as F
    import optim
    namespace = {"ag": ag, "nn": nn, "F": F, "optim": optim}
    missing = [n for n in needs if _resolve(namespace, n) is None]
    if missing:
        raise Skip("pending: chainrule has no " + ", ".join(missing) + " yet")
    return Framework(
        "chainrule", nn, F, optim, ag,
        leaf=lambda a, requires_grad=True: ag.Tensor(np.array(a), requires_grad=requires_grad),
        const=lambda a: ag.Tensor(np.asarray(a)),
        to_numpy=lambda t: t.data,
        state=lambda weights: weights)


def torch(threads=1):
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        raise Skip("torch not installed") from None
    torch.set_num_threads(threads)
    import torch.nn.functional as F
    return Framework(
        "torch", torch.nn, F, torch.optim, torch,
        leaf=lambda a, requires_grad=True: torch.tensor(np.array(a),
                                                        requires_grad=requires_grad),
        const=lambda a: torch.from_numpy(np.ascontiguousarray(a)),
        to_numpy=lambda t: t.detach().numpy(),
        state=lambda weights: {k: torch.from_numpy(np.array(v)) for k, v in weights.items()})


def micrograd():
    """karpathy's micrograd 0.1.0 (pure Python scalars): its Value class and nn module."""
    try:
        engine = importlib.import_module("micrograd.engine")
        mg_nn = importlib.import_module("micrograd.nn")
    except ImportError:
        raise Skip("micrograd not installed (pip install micrograd==0.1.0)") from None
    return engine.Value, mg_nn


def available(impl):
    """None if ``impl`` can be imported here, else the reason it cannot (cheap: no
    import, so the driver can skip a process it would only start to learn this)."""
    module = {"torch": "torch", "micrograd": "micrograd"}.get(impl)
    if module and importlib.util.find_spec(module) is None:
        return {"torch": "torch not installed",
                "micrograd": "micrograd not installed (pip install micrograd==0.1.0)"}[impl]
    return None
