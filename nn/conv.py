"""2-d convolution layer (NCHW), through nn.functional.conv2d."""

import numpy as np

import autograd as ag
from autograd.creation import _check_size

from . import init
from .functional import layers as F
from .module import Module, Parameter, weight_and_bias

__all__ = ["Conv2d"]


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(e) for e in v)


class Conv2d(Module):
    """2-d cross-correlation with PyTorch's arguments and layout: weight
    (out_channels, in_channels / groups, kh, kw), bias (out_channels,).

    ``padding`` is an int, a pair, 'valid' or 'same'; only padding_mode='zeros'.
    Default initialisation as PyTorch: weight ~ kaiming_uniform_(a=sqrt(5)) and
    bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels / groups * kh * kw.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        in_channels = _check_size("Conv2d", "in_channels", in_channels)
        out_channels = _check_size("Conv2d", "out_channels", out_channels)
        if any(k < 1 for k in _pair(kernel_size)):
            raise ValueError(f"Conv2d: kernel_size must be positive, got {kernel_size}")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels {in_channels} and out_channels "
                             f"{out_channels} must both be divisible by groups {groups}")
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: padding_mode {padding_mode!r} is not supported "
                             "(only 'zeros')")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: padding {padding!r} must be 'valid', 'same', an "
                                 "int or a pair")
            if padding == "same" and _pair(stride) != (1, 1):
                raise ValueError("Conv2d: padding='same' needs stride 1")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype or ag.get_default_dtype())
        self.weight = Parameter(np.empty(
            (out_channels, in_channels // groups) + self.kernel_size, dtype))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input):
        weight, bias = weight_and_bias(self, Conv2d)
        return F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) \
                else f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
