"""Activation modules: thin Modules over nn.functional.activation (formulas there)."""
import numpy as np

import autograd as ag

from .functional import activation as F
from .module import Module, Parameter

__all__ = ["BinaryStep", "Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU",
           "ELU", "SELU", "Softplus", "GELU", "SiLU", "Swish", "Softmax", "LogSoftmax"]


class BinaryStep(Module):
    """1.0 where x > threshold else 0.0; gradient 0 everywhere."""

    def __init__(self, threshold=0.0):
        super().__init__()
        self.threshold = threshold

    def forward(self, x):
        return F.binary_step(x, self.threshold)

    def extra_repr(self):
        return f"threshold={self.threshold}"


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any arguments, as PyTorch.

    Both the "linear" activation and the placeholder layer of DESIGN's layer list.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^(−x))."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x):
        return F.tanh(x)


class ReLU(Module):
    """max(0, x)."""

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope·x."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """x if x > 0 else a·x with a learnable ``weight`` of shape (num_parameters,),
    initialised to ``init``; with num_parameters = C it acts per channel (axis 1)."""

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full((num_parameters,), init,
                                        dtype=ag.get_default_dtype()))

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x if x > 0 else α(e^x − 1)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class SELU(Module):
    """λ·elu(x, α) with α ≈ 1.6733, λ ≈ 1.0507 (PyTorch's constants)."""

    def forward(self, x):
        return F.selu(x)


class Softplus(Module):
    """(1/β)·log(1 + e^(βx)), linear where βx > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    """x·Φ(x); ``approximate="tanh"`` for the tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x·σ(x)."""

    def forward(self, x):
        return F.silu(x)


class Swish(Module):
    """x·σ(βx). With ``trainable=True``, β is a 0-d Parameter ``beta`` (default dtype)
    learned with the rest of the model; otherwise a plain float."""

    def __init__(self, beta=1.0, trainable=False):
        super().__init__()
        self.trainable = trainable
        if trainable:
            self.beta = Parameter(np.asarray(beta, dtype=ag.get_default_dtype()))
        else:
            self.beta = beta

    def forward(self, x):
        return F.swish(x, self.beta)

    def extra_repr(self):
        beta = self.beta.item() if self.trainable else self.beta
        return f"beta={beta}, trainable={self.trainable}"


class Softmax(Module):
    """e^(z_i) / Σ_j e^(z_j) along ``axis``."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.softmax(x, self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """z_i − logsumexp(z) along ``axis``."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.log_softmax(x, self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"
