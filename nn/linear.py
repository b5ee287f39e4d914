"""Linear (fully connected) layer and Flatten."""

import numpy as np

import autograd as ag
from autograd.creation import _check_size

from . import init
from .functional import layers as F
from .module import Module, Parameter, weight_and_bias

__all__ = ["Linear", "Flatten"]


class Linear(Module):
    """y = x W^T + b with weight (out_features, in_features) and bias (out_features,).

    PyTorch's default initialisation: weight ~ kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(in_features), 1/sqrt(in_features)); bias ~ U(-1/sqrt(in_features),
    1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        in_features = _check_size("Linear", "in_features", in_features)
        out_features = _check_size("Linear", "out_features", out_features)
        self.in_features = in_features
        self.out_features = out_features
        dtype = np.dtype(dtype or ag.get_default_dtype())
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        if bias:
            self.bias = Parameter(np.empty((out_features,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input):
        weight, bias = weight_and_bias(self, Linear)
        return F.linear(input, weight, bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Merge the axes start_dim..end_dim (default: all but the batch axis) into one."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
