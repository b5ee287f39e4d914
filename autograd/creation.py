"""Tensor factories. Shapes are a tuple or separate ints; float factories default
to the default dtype (float32)."""
import operator

import numpy as np

from . import grad_mode, random
from .ops.shape import _shape_arg
from .tensor import Tensor, _as_data


def _float(dtype, name):
    return grad_mode._default_dtype if dtype is None else grad_mode._as_dtype(dtype, name)


def _check_size(name, what, value):
    """``value`` as a non-negative int: TypeError for a non-integer, ValueError below 0."""
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: {what} must be a non-negative int, got "
                        f"{type(value).__name__} {value!r}") from None
    if n < 0:
        raise ValueError(f"{name}: {what} must be non-negative, got {n}")
    return n


def _shape(name, shape):
    """A shape tuple of non-negative ints, checked here so that the error names the
    factory instead of coming from NumPy."""
    out = []
    for s in shape:
        try:
            n = operator.index(s)
        except TypeError:
            raise TypeError(f"{name}: shape must be a sequence of ints, got {shape!r}") from None
        if n < 0:
            raise ValueError(f"{name}: negative dimension {n} in shape {shape}")
        out.append(n)
    return tuple(out)


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a number, nested list or array)."""
    return Tensor(_as_data(data, dtype, copy=True), requires_grad=requires_grad)


def zeros(*shape, dtype=None, requires_grad=False):
    return Tensor(np.zeros(_shape("zeros", _shape_arg(shape)), _float(dtype, "zeros")),
                  requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return Tensor(np.ones(_shape("ones", _shape_arg(shape)), _float(dtype, "ones")),
                  requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, float):
        dtype = grad_mode._default_dtype
    elif dtype is not None:
        dtype = grad_mode._as_dtype(dtype, "full")
    try:
        shape = (operator.index(shape),)
    except TypeError:
        try:
            shape = tuple(shape)
        except TypeError:
            shape = (shape,)            # refused by _shape, with the name full
    return Tensor(np.full(_shape("full", shape), fill_value, dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    if dtype is not None:
        dtype = grad_mode._as_dtype(dtype, "zeros_like")
    return Tensor(np.zeros_like(np.asarray(t), dtype=dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    if dtype is not None:
        dtype = grad_mode._as_dtype(dtype, "ones_like")
    return Tensor(np.ones_like(np.asarray(t), dtype=dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False):
    """NumPy's arange: integer arguments give int64, float ones the default dtype."""
    if step == 0:
        raise ValueError("arange: step must not be zero")
    arr = np.arange(start, stop, step)      # stop None: arange(0, start, step)
    if dtype is not None:
        arr = arr.astype(grad_mode._as_dtype(dtype, "arange"))
    elif arr.dtype.kind == "f":
        arr = arr.astype(grad_mode._default_dtype)
    return Tensor(arr, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    shape = _shape("eye", (n,) if m is None else (n, m))
    return Tensor(np.eye(*shape, dtype=_float(dtype, "eye")), requires_grad)


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform on [0, 1), from the global generator (``ag.manual_seed``)."""
    shape = _shape("rand", _shape_arg(shape))
    dt = _float(dtype, "rand")
    return Tensor(random.get_rng().random(shape).astype(dt), requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal, from the global generator (``ag.manual_seed``)."""
    shape = _shape("randn", _shape_arg(shape))
    dt = _float(dtype, "randn")
    return Tensor(random.get_rng().standard_normal(shape).astype(dt), requires_grad)
