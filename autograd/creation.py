"""Tensor factories. Shapes are a tuple or separate ints; float factories default
to the default dtype (float32)."""
import numpy as np

from . import grad_mode, random
from .ops.shape import _shape_arg
from .tensor import Tensor, _as_data


def _float(dtype):
    return grad_mode._default_dtype if dtype is None else np.dtype(dtype)


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a number, nested list or array)."""
    return Tensor(_as_data(data, dtype, copy=True), requires_grad=requires_grad)


def zeros(*shape, dtype=None, requires_grad=False):
    return Tensor(np.zeros(_shape_arg(shape), _float(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return Tensor(np.ones(_shape_arg(shape), _float(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, float):
        dtype = grad_mode._default_dtype
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return Tensor(np.full(shape, fill_value, dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return Tensor(np.zeros_like(np.asarray(t), dtype=dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return Tensor(np.ones_like(np.asarray(t), dtype=dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False):
    """NumPy's arange: integer arguments give int64, float ones the default dtype."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "f":
        arr = arr.astype(grad_mode._default_dtype)
    return Tensor(arr, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return Tensor(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform on [0, 1), from the global generator (``ag.manual_seed``)."""
    dt = _float(dtype)
    return Tensor(random.get_rng().random(_shape_arg(shape)).astype(dt), requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal, from the global generator (``ag.manual_seed``)."""
    dt = _float(dtype)
    return Tensor(random.get_rng().standard_normal(_shape_arg(shape)).astype(dt), requires_grad)
