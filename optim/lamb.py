"""LAMB (You et al. 2019): layer-wise adaptive moments for large-batch training."""
from . import functional as F
from .optimizer import Optimizer

__all__ = ["LAMB"]


class LAMB(Optimizer):
    """LAMB (rule: ``optim.functional.lamb``): Adam's direction r = m̂/(√v̂ + ε) + λθ,
    scaled per parameter tensor by the trust ratio ‖θ‖/‖r‖ (1 when either is 0)."""

    rule = staticmethod(F.lamb)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay))

    def _validate(self, group):
        super()._validate(group)
        self._check_betas(group)
        self._check_nonnegative(group, "eps", "weight_decay")
