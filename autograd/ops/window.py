"""Sliding windows: the one primitive that convolution and pooling are built from.

``sliding_window`` returns every window of the last d axes as a strided view (no
copy); its adjoint ``window_sum`` adds each window's values back onto the array the
windows came from. The two are each other's derivative, like ``getitem`` and
``index_add``, so gradients of any order work.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import buffers
from ..function import Primitive


def _geometry(in_shape, kernel_size, stride, dilation):
    """Output sizes of the window grid; ValueError when a window does not fit."""
    d = len(kernel_size)
    if d > len(in_shape):
        raise ValueError(f"a {d}-d window needs an input with at least {d} axes, got shape "
                         f"{tuple(in_shape)}")
    for name, v in (("kernel_size", kernel_size), ("stride", stride),
                    ("dilation", dilation)):
        if len(v) != d or any(int(e) < 1 for e in v):
            raise ValueError(f"{name} {tuple(v)} must be {d} positive integers")
    spatial = in_shape[len(in_shape) - d:]
    out = tuple((n - dl * (k - 1) - 1) // s + 1
                for n, k, s, dl in zip(spatial, kernel_size, stride, dilation))
    if any(o < 1 for o in out):
        raise ValueError(f"kernel_size {tuple(kernel_size)} with dilation {tuple(dilation)} "
                         f"does not fit the spatial shape {tuple(spatial)}")
    return out


def _window_view(x, kernel_size, stride, dilation, out, writeable):
    d = len(kernel_size)
    lead = x.shape[:x.ndim - d]
    st = x.strides[x.ndim - d:]
    shape = lead + out + tuple(kernel_size)
    strides = (x.strides[:x.ndim - d] + tuple(s * k for s, k in zip(st, stride))
               + tuple(s * k for s, k in zip(st, dilation)))
    return as_strided(x, shape, strides, writeable=writeable)


def _disjoint(out, kernel_size, stride, dilation):
    # Windows never share an element when, along every axis, one window ends before
    # the next begins (or there is only one window / one kernel tap).
    return all(o == 1 or k == 1 or dl * (k - 1) < s
               for o, k, s, dl in zip(out, kernel_size, stride, dilation))


class SlidingWindow(Primitive):
    """All windows of the last d axes: (..., *spatial) -> (..., *out, *kernel_size)."""

    derivative = "add every window's gradient back at its positions (window_sum)"

    name = "sliding_window"
    returns_view = True

    @staticmethod
    def forward(ctx, x, kernel_size, stride, dilation):
        out = _geometry(x.shape, kernel_size, stride, dilation)
        return _window_view(x, kernel_size, stride, dilation, out, writeable=False)

    @staticmethod
    def backward(ctx, g):
        e, k, s, dl = ctx      # x's shape is its edge's (see reduce.Sum.backward)
        return WindowSum.apply(g, e.shape, k, s, dl), None, None, None


class WindowSum(Primitive):
    """zeros(shape) with each window's values added at its positions: the adjoint of
    ``sliding_window`` (col2im / fold)."""

    derivative = "take the sliding windows of the gradient"

    name = "window_sum"

    @staticmethod
    def forward(ctx, g, shape, kernel_size, stride, dilation):
        d = len(kernel_size)
        out_sizes = g.shape[g.ndim - 2 * d:g.ndim - d]
        disjoint = _disjoint(out_sizes, kernel_size, stride, dilation)
        # Disjoint windows that tile the whole array write every element once: no
        # zero-fill is needed.
        tiled = disjoint and all(o * k == n for o, k, n in
                                 zip(out_sizes, kernel_size, shape[len(shape) - d:]))
        res = buffers.empty(tuple(shape), g.dtype)
        if not tiled:
            res.fill(0)
        # One strided copy or add per kernel tap (kh * kw of them), each covering the
        # whole batch, so no loop ever runs over pixels or samples. Per tap, the inner
        # loop runs along a row of windows; a single copy of the whole window view
        # would run its inner loop over the few taps of one window, about 3x slower.
        for tap in np.ndindex(*kernel_size):
            dst = (Ellipsis,) + tuple(slice(t * dl, t * dl + s * (n - 1) + 1, s)
                                      for t, dl, s, n in zip(tap, dilation, stride, out_sizes))
            if disjoint:
                res[dst] = g[(Ellipsis,) + tap]
            else:
                res[dst] += g[(Ellipsis,) + tap]
        return res

    @staticmethod
    def backward(ctx, gg):
        _, _, k, s, dl = ctx.next
        return SlidingWindow.apply(gg, k, s, dl), None, None, None, None


def _tuple(v, d, name):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * d
    v = tuple(int(e) for e in v)
    if len(v) != d:
        raise ValueError(f"sliding_window: {name} {v} must have {d} entries, one per "
                         "window axis")
    return v


def sliding_window(x, kernel_size, stride=1, dilation=1):
    """Every window of the last d axes of ``x``, as a read-only strided view.

    ``kernel_size`` is a tuple (k_1, ..., k_d) for a d-dimensional window over the last
    d axes, or an int k for a k x k window over the last two (NCHW images). The result
    has shape ``x.shape[:-d] + (o_1, ..., o_d) + (k_1, ..., k_d)`` with
    o_i = (n_i - dilation_i * (k_i - 1) - 1) // stride_i + 1, and

        out[..., p_1, ..., p_d, q_1, ..., q_d] = x[..., p_1 s_1 + q_1 dl_1, ..., p_d s_d + q_d dl_d]

    Pad ``x`` first (``ag.pad``) for padded windows. Its gradient adds each window's
    gradient back onto the positions it was taken from.
    """
    d = 2 if isinstance(kernel_size, (int, np.integer)) else len(tuple(kernel_size))
    k = _tuple(kernel_size, d, "kernel_size")
    return SlidingWindow.apply(x, k, _tuple(stride, d, "stride"), _tuple(dilation, d, "dilation"))
