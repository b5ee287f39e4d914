"""Reductions. Primitives: sum, max/min, prod; composites: mean, var, std, logsumexp."""
import builtins
import math
import operator

import numpy as np

from .. import buffers
from ..function import Primitive
from ..tensor import Tensor, _make
from . import elementwise as ew
from .shape import _broadcast_view, broadcast_to, moveaxis, ndim_of, reshape, sum_array


def _axes(axis, ndim, op):
    """Normalise ``axis`` (None, int or tuple) to a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if axis.__class__ is int and 0 <= axis < ndim:
        return (axis,)
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    elif isinstance(axis, str) or not hasattr(axis, "__iter__"):
        raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axis:
        try:
            a = operator.index(a)
        except TypeError:
            raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, got "
                            f"{axis!r}") from None
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dims")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def _shape(x):
    # np.shape is a Python function: an attribute read is several times cheaper (as
    # shape.ndim_of), and this runs on every mean, max and min.
    return x.data.shape if isinstance(x, Tensor) else np.shape(x)


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


_FILL_BELOW = 2048     # elements; see _expand


def _expand(g, x_shape, axes):
    """A reduced gradient back to the input's shape (the adjoint of a reduction)."""
    if g.__class__ is np.ndarray or isinstance(g, np.generic):
        # An array rule's gradient: what reshape and broadcast_to return for it, without
        # their two trips through apply (this runs for every sum and mean).
        if g.ndim:
            g = g.reshape(_keepdims_shape(x_shape, axes))
        if g.shape != x_shape:
            if math.prod(x_shape) <= _FILL_BELOW:
                # Small: a new array filled by NumPy costs half as much as building
                # the zero-stride view in Python. Read-only as the view is: the same
                # gradient may reach several inputs (x + y).
                out = np.empty(x_shape, g.dtype)
                out[...] = g
                out.setflags(write=False)
                return out
            g = _broadcast_view(g, x_shape)
        # A large one as a Tensor, as apply returns it (see Function.apply).
        return g if g.nbytes < buffers.MIN_BYTES else _make(g, None)
    if g.ndim:      # a 0-d gradient broadcasts as it is
        g = reshape(g, _keepdims_shape(x_shape, axes))
    return broadcast_to(g, x_shape)


class Sum(Primitive):
    derivative = "d sum(x)/dx_i = 1"

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        return sum_array(x, axes, keepdims)

    @staticmethod
    def backward(ctx, g):                       # each summed element gets g
        # x's shape is its edge's: a node's output shape, or a leaf's own. (x is the one
        # input that can need a gradient, so a recorded node's edge to it is one of
        # those, never a constant: nothing to save for it.)
        return _expand(g, ctx[0].shape, ctx[1]), None, None


class _Extreme(Primitive):
    """max/min over axes; tied extremes share the gradient equally."""

    derivative = "d max(x)/dx_i = [x_i is the extreme] / (number of ties)"

    ufunc = reduce = None   # np.maximum and np.max (np.minimum, np.min)

    @classmethod
    def forward(cls, ctx, x, axes, keepdims):
        # A plain array goes to the ufunc's reduce, anything else to NumPy's function
        # (see shape.sum_array).
        reduce = cls.ufunc.reduce if x.__class__ is np.ndarray else cls.reduce
        out = reduce(x, axis=axes, keepdims=True)
        ctx.save_for_backward(x, out)
        return out if keepdims else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        axes = ctx.next[1]
        # out is saved with keepdims: a Tensor when it is the op's output, else an array
        x_, out = ew._arr(x), ew._arr(out)
        hit = x_ == out
        ties = _count_true(hit, axes)
        if not ties.all():
            # A NaN extreme equals nothing (NaN != NaN): its gradient goes to the NaNs,
            # as PyTorch, instead of 0/0 everywhere.
            hit |= np.isnan(x_) & np.isnan(out)
            ties = _count_true(hit, axes)
        # Share g among the ties at the reduced size, then let the boolean mask place
        # it: one full-size pass, where a float weight array would take three.
        g = reshape(g, ties.shape)
        if ties.size and ties.max() > 1:
            g = g / ties.astype(g.dtype)
        return broadcast_to(g, x.shape) * hit, None, None


def _count_true(mask, axes):
    """``mask.sum(axes, keepdims=True)``, exact in integers. Over a few trailing axes (a
    pooling window) it adds one slice per window position over the whole array: NumPy's
    reduction would run one tiny loop per window instead, about 15x slower."""
    n, k = mask.ndim, len(axes)
    taps = 1
    for a in axes:
        taps *= mask.shape[a]
    if not (k and axes == tuple(range(n - k, n)) and 1 < taps <= 64
            and mask.flags.c_contiguous):
        return mask.sum(axis=axes, keepdims=True)
    flat = mask.reshape(mask.shape[:n - k] + (taps,))
    total = flat[..., 0].astype(np.uint8)      # at most 64 ties: uint8 is exact
    for t in range(1, taps):
        total += flat[..., t]
    return total.reshape(mask.shape[:n - k] + (1,) * k)


class Max(_Extreme):
    ufunc = np.maximum
    reduce = staticmethod(np.max)


class Min(_Extreme):
    derivative = "d min(x)/dx_i = [x_i is the extreme] / (number of ties)"
    ufunc = np.minimum
    reduce = staticmethod(np.min)


class Prod(Primitive):
    derivative = "d prod(x)/dx_i = product of the other elements"

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        out = np.prod(x, axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):                       # d prod = (product of the others) dx_i
        x, out = ctx.saved_tensors
        axes = ctx.next[1]
        ge = _expand(g, x.shape, axes)
        if np.all(ew._arr(x) != 0):
            return ge * (_expand(out, x.shape, axes) / x), None, None
        return ge * _product_of_others(x, axes), None, None


def _product_of_others(x, axes):
    # With zeros present out / x is undefined: multiply the others explicitly, with
    # Tensor ops so the rule stays differentiable. Costs n^2 per reduced group.
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    moved = moveaxis(x, axes + rest, tuple(range(x.ndim)))      # reduced axes first
    lead = moved.shape[:len(axes)]
    n = int(np.prod(lead))
    flat = reshape(moved, (n,) + moved.shape[len(axes):])
    rows = broadcast_to(reshape(flat, (1,) + flat.shape), (n,) + flat.shape)
    eye = np.eye(n, dtype=bool).reshape((n, n) + (1,) * (flat.ndim - 1))
    others = prod(ew.where(eye, 1.0, rows), axis=1)              # (n, rest...)
    back = reshape(others, moved.shape)
    return moveaxis(back, tuple(range(x.ndim)), axes + rest)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return Sum.apply(x, _axes(axis, ndim_of(x), "sum"), keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    axes = _axes(axis, ndim_of(x), "max")
    _check_nonempty(x, axes, "max")
    return Max.apply(x, axes, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    axes = _axes(axis, ndim_of(x), "min")
    _check_nonempty(x, axes, "min")
    return Min.apply(x, axes, keepdims)


def prod(x, axis=None, keepdims=False):
    return Prod.apply(x, _axes(axis, ndim_of(x), "prod"), keepdims)


def _check_nonempty(x, axes, op):
    # Only an empty reduced axis has no extreme: (0, 3) over axis 1 is an empty result.
    shape = _shape(x)
    if 0 in shape:
        if builtins.any(shape[a] == 0 for a in axes):
            raise ValueError(f"{op}: the reduction of an empty tensor (shape {shape}) over "
                             f"axes {axes} has no identity")


def _count(x, axes):
    shape = _shape(x)
    return math.prod([shape[a] for a in axes])


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean: sum(x) / n."""
    axes = _axes(axis, ndim_of(x), "mean")
    n = _count(x, axes)
    if n == 0:
        raise ValueError(f"mean: mean of an empty selection (shape {np.shape(x)}, axis {axis})")
    return sum(x, axes, keepdims) / n


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance: sum((x - mean(x))^2) / (n - ddof)."""
    axes = _axes(axis, ndim_of(x), "var")
    n = _count(x, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} elements with ddof={ddof} leave no degrees of freedom")
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) / (n - ddof)


def std(x, axis=None, ddof=0, keepdims=False):
    """Standard deviation: sqrt(var(x))."""
    return ew.sqrt(var(x, axis, ddof, keepdims))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m = max(x)."""
    axes = _axes(axis, ndim_of(x), "logsumexp")
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    # An empty axis has no max; shifting by 0 gives log(0) = -inf there.
    m = np.max(data, axis=axes, keepdims=True) if data.size else \
        np.zeros(_keepdims_shape(data.shape, axes), data.dtype)
    m = np.where(np.isfinite(m), m, 0.0).astype(data.dtype)   # all -inf rows stay -inf
    out = ew.log(sum(ew.exp(x - m), axes, keepdims=True)) + m
    return out if keepdims else reshape(out, tuple(s for i, s in enumerate(out.shape) if i not in axes))


def _one_axis(axis, ndim, op):
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"{op}: axis must be None or an int, got {axis!r}")
    return _axes(axis, ndim, op)[0] if ndim else axis


def argmax(x, axis=None, keepdims=False):
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    axis = _one_axis(axis, data.ndim, "argmax")
    return _make(np.asarray(np.argmax(data, axis=axis, keepdims=keepdims)), None)


def argmin(x, axis=None, keepdims=False):
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    axis = _one_axis(axis, data.ndim, "argmin")
    return _make(np.asarray(np.argmin(data, axis=axis, keepdims=keepdims)), None)
