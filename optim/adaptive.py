"""Optimizers with per-element step sizes: Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam.

Arguments, defaults and update formulas are PyTorch's; each class only names its rule
in ``optim.functional`` and checks its hyper-parameters.
"""
from . import functional as F
from .optimizer import Optimizer

__all__ = ["Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam"]


class Adagrad(Optimizer):
    """Adagrad (rule: ``optim.functional.adagrad``)."""

    rule = staticmethod(F.adagrad)

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        self._check_nonnegative(group, "lr_decay", "weight_decay",
                                "initial_accumulator_value", "eps")


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum (rule: ``optim.functional.rmsprop``)."""

    rule = staticmethod(F.rmsprop)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        self._check_nonnegative(group, "alpha", "eps", "weight_decay", "momentum")


class Adadelta(Optimizer):
    """Adadelta (rule: ``optim.functional.adadelta``)."""

    rule = staticmethod(F.adadelta)

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        self._check_unit(group, "rho", closed=True)
        self._check_nonnegative(group, "eps", "weight_decay")


class Adam(Optimizer):
    """Adam, optionally AMSGrad (rule: ``optim.functional.adam``); weight decay is L2."""

    rule = staticmethod(F.adam)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        self._check_betas(group)
        self._check_nonnegative(group, "eps", "weight_decay")


class AdamW(Adam):
    """Adam with decoupled weight decay (rule: ``optim.functional.adamw``)."""

    rule = staticmethod(F.adamw)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)


class NAdam(Optimizer):
    """Adam with Nesterov momentum (rule: ``optim.functional.nadam``)."""

    rule = staticmethod(F.nadam)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        self._check_betas(group)
        self._check_nonnegative(group, "eps", "weight_decay", "momentum_decay")
