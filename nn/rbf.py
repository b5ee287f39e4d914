"""RBF: a layer of Gaussian radial basis functions."""
import numpy as np

import autograd as ag

from . import init
from .functional import layers as F
from .module import Module, Parameter

__all__ = ["RBF"]


class RBF(Module):
    """phi_j(x) = exp(-gamma_j * ||x - c_j||^2) for j = 1..out_features.

    Parameters ``centers`` (out_features, in_features) and ``gammas`` (out_features,).
    Input (..., in_features) gives (..., out_features).

    Initialisation (PyTorch has no RBF layer): centers ~ N(0, 1), matching
    standardised inputs; gammas = 1 / in_features, scikit-learn's gamma='scale' for
    unit-variance features. Then E||x - c||^2 = 2 in_features for standardised x, so
    gamma * ||x - c||^2 is about 2 whatever the width and the units start neither
    saturated at 0 nor flat at 1. Nothing keeps gammas positive during training.
    """

    def __init__(self, in_features, out_features, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        dtype = np.dtype(dtype or ag.get_default_dtype())
        self.centers = Parameter(np.empty((out_features, in_features), dtype))
        self.gammas = Parameter(np.empty((out_features,), dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.centers)
        init.constant_(self.gammas, 1.0 / max(self.in_features, 1))

    def forward(self, input):
        return F.rbf(input, self.centers, self.gammas)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"
