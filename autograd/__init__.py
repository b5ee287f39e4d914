"""chainrule's autodiff engine: Tensor, the ops, backward/grad, Function, gradcheck.

    import autograd as ag
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2 * x
"""
from .tensor import Tensor
from .function import Function
from .grad_mode import (enable_grad, get_default_dtype, is_grad_enabled, no_grad,
                        set_default_dtype, set_grad_enabled)
from .engine import grad
from .anomaly import detect_anomaly, is_anomaly_enabled
from . import debug
from .random import get_rng, manual_seed
from .creation import (arange, eye, full, ones, ones_like, rand, randn, tensor, zeros,
                       zeros_like)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_jacobian
from .ops.elementwise import (abs, add, astype, clip, cos, div, erf, exp, expm1, log,
                              log1p, maximum, minimum, mul, neg, pow, relu, sigmoid, sign,
                              sin, sqrt, sub, tanh, where)
from .ops.reduce import (argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var)
from .ops.shape import (broadcast_to, concatenate, expand_dims, flatten, getitem, moveaxis,
                        pad, reshape, split, squeeze, stack, swapaxes, sum_to, transpose)
from .ops.linalg import matmul
from .graph import GraphvizNotFoundError, backward_steps, draw_graph
from .ops.window import sliding_window

__all__ = [
    "Tensor", "Function", "tensor", "zeros", "ones", "full", "zeros_like", "ones_like",
    "arange", "eye", "rand", "randn", "manual_seed", "get_rng",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "set_default_dtype", "get_default_dtype", "grad", "detect_anomaly", "is_anomaly_enabled",
    "debug",
    "gradcheck", "gradgradcheck", "numerical_jacobian", "GradcheckError",
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "sin", "cos", "tanh",
    "sigmoid", "relu", "abs", "sign", "clip", "maximum", "minimum", "where", "erf",
    "log1p", "expm1", "astype",
    "sum", "mean", "var", "std", "max", "min", "logsumexp", "prod", "argmax", "argmin",
    "reshape", "transpose", "swapaxes", "moveaxis", "squeeze", "expand_dims", "flatten",
    "broadcast_to", "sum_to", "getitem", "concatenate", "stack", "split", "pad", "matmul",
    "draw_graph", "backward_steps", "GraphvizNotFoundError",
    "sliding_window",
]
