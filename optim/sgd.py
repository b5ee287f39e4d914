"""Gradient descent with momentum: PyTorch's SGD and the reference texts' Momentum."""
from . import functional as F
from .optimizer import Optimizer

__all__ = ["SGD", "Momentum"]


class SGD(Optimizer):
    """Stochastic gradient descent (rule: ``optim.functional.sgd``), PyTorch's arguments.

    Batch, mini-batch and stochastic gradient descent are this one rule; they differ
    only in how many examples the gradient is averaged over.
    """

    rule = staticmethod(F.sgd)

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        self._check_nonnegative(group, "momentum", "weight_decay")
        self._number(group, "dampening")
        if group["nesterov"] and (self._number(group, "momentum") <= 0
                                  or self._number(group, "dampening") != 0):
            raise ValueError("SGD: nesterov=True requires momentum > 0 and dampening = 0, "
                             f"got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")


class Momentum(Optimizer):
    """The reference texts' momentum (rule: ``optim.functional.momentum``).

    v ← βv + (1 − β)g with v₀ = 0, θ ← θ − lr·v. Equal to
    ``SGD(lr=lr·(1 − β), momentum=β)``.
    """

    rule = staticmethod(F.momentum)

    def __init__(self, params, lr=0.01, beta=0.9):
        super().__init__(params, dict(lr=lr, beta=beta))

    def _validate(self, group):
        super()._validate(group)
        self._check_unit(group, "beta")
