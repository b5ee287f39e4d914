"""The sliding-window primitive: values, view semantics, adjointness and derivatives."""
import numpy as np
import pytest

import autograd as ag
from autograd.ops.window import WindowSum

# (input shape, kernel_size, stride, dilation): overlapping and disjoint windows,
# dilation, 1-d and 3-d windows, and an int kernel (square over the last two axes).
CASES = [
    ((1, 2, 5, 6), (3, 3), 1, 1),
    ((2, 1, 6, 6), (2, 2), 2, 1),            # disjoint windows (pooling)
    ((1, 2, 6, 7), (2, 3), (2, 1), (2, 1)),  # stride and dilation on different axes
    ((1, 1, 7, 5), (2, 2), 3, 3),            # dilated taps interleave, windows disjoint
    ((3, 9), (3,), 2, 2),                    # a 1-d window
    ((2, 4, 3, 4), (2, 1, 2), 1, (1, 1, 2)),  # a 3-d window
    ((1, 1, 5, 5), 2, 1, 1),                 # int kernel
]
IDS = [f"{s}-k{k}-s{st}-d{d}" for s, k, st, d in CASES]


def reference(x, kernel, stride, dilation):
    """Windows by explicit loops over every output position and tap."""
    d = len(kernel)
    stride = (stride,) * d if isinstance(stride, int) else stride
    dilation = (dilation,) * d if isinstance(dilation, int) else dilation
    spatial = x.shape[x.ndim - d:]
    outs = [(n - dl * (k - 1) - 1) // s + 1
            for n, k, s, dl in zip(spatial, kernel, stride, dilation)]
    res = np.empty(x.shape[:x.ndim - d] + tuple(outs) + tuple(kernel), x.dtype)
    for p in np.ndindex(*outs):
        for q in np.ndindex(*kernel):
            src = tuple(pi * s + qi * dl for pi, qi, s, dl in zip(p, q, stride, dilation))
            res[(Ellipsis,) + p + q] = x[(Ellipsis,) + src]
    return res


def _kernel(k):
    return (k, k) if isinstance(k, int) else k


@pytest.mark.parametrize("shape,k,s,d", CASES, ids=IDS)
def test_values_match_explicit_loops(shape, k, s, d):
    x = np.random.default_rng(0).standard_normal(shape)
    out = ag.sliding_window(ag.Tensor(x), k, s, d)
    np.testing.assert_array_equal(out.data, reference(x, _kernel(k), s, d))


@pytest.mark.parametrize("view", [lambda a: a.transpose(0, 1, 3, 2), lambda a: a[:, :, ::-1, ::2]],
                         ids=["transposed", "reversed-and-strided"])
def test_non_contiguous_inputs(view):
    # as_strided must start from the view's own strides, negative ones included
    base = ag.Tensor(np.random.default_rng(5).standard_normal((2, 3, 7, 10)), requires_grad=True)
    x = view(base)
    out = ag.sliding_window(x, (2, 3), (2, 1), (1, 2))
    np.testing.assert_array_equal(out.data, reference(x.data, (2, 3), (2, 1), (1, 2)))
    w = np.random.default_rng(6).standard_normal(out.shape)
    (out * w).sum().backward()
    dense = ag.Tensor(np.ascontiguousarray(x.data), requires_grad=True)
    (ag.sliding_window(dense, (2, 3), (2, 1), (1, 2)) * w).sum().backward()
    expected = np.zeros(base.shape)
    view(expected)[...] = dense.grad.data
    np.testing.assert_allclose(base.grad.data, expected, rtol=1e-12)


def test_forward_is_a_read_only_view_without_copy():
    x = ag.randn(2, 3, 8, 8)
    out = ag.sliding_window(x, 3)
    assert out.shape == (2, 3, 6, 6, 3, 3)
    assert np.shares_memory(out.data, x.data)
    assert not out.data.flags.writeable
    with pytest.raises(ValueError):
        out += 1.0


@pytest.mark.parametrize("shape,k,s,d", CASES, ids=IDS)
def test_window_sum_is_the_adjoint(shape, k, s, d):
    # <W x, y> = <x, W^T y> for random x and y, on both the disjoint and the
    # overlapping path of window_sum.
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    wx = ag.sliding_window(ag.Tensor(x), k, s, d).data
    y = rng.standard_normal(wx.shape)
    kk = _kernel(k)
    nd = len(kk)
    st = (s,) * nd if isinstance(s, int) else s
    dl = (d,) * nd if isinstance(d, int) else d
    wty = WindowSum.apply(ag.Tensor(y), shape, kk, st, dl).data
    assert wty.shape == shape
    np.testing.assert_allclose(np.sum(wx * y), np.sum(x * wty), rtol=1e-12)


def test_window_sum_counts_how_often_each_element_is_used():
    x = ag.ones(1, 1, 4, 5, requires_grad=True)
    ag.sliding_window(x, (2, 3)).sum().backward()
    rows = np.array([1, 2, 2, 1])[:, None]
    cols = np.array([1, 2, 3, 2, 1])[None, :]
    np.testing.assert_array_equal(x.grad.data[0, 0], rows * cols)


def test_elements_no_window_reaches_get_zero_gradient():
    x = ag.ones(1, 1, 5, 5, requires_grad=True)
    ag.sliding_window(x, 2, stride=2).sum().backward()
    g = x.grad.data[0, 0]
    np.testing.assert_array_equal(g[:4, :4], 1.0)
    np.testing.assert_array_equal(g[4], 0.0)
    np.testing.assert_array_equal(g[:, 4], 0.0)


@pytest.mark.parametrize("shape,k,s,d", CASES, ids=IDS)
def test_gradcheck(shape, k, s, d):
    x = ag.Tensor(np.random.default_rng(2).standard_normal(shape), requires_grad=True)
    # a weighted sum keeps gradcheck to one backward per input-sized output
    w = np.random.default_rng(3).standard_normal(ag.sliding_window(x, k, s, d).shape)
    assert ag.gradcheck(lambda t: ag.sliding_window(t, k, s, d) * w, [x])


@pytest.mark.parametrize("shape,k,s,d", CASES[:4], ids=IDS[:4])
def test_gradgradcheck(shape, k, s, d):
    x = ag.Tensor(np.random.default_rng(4).standard_normal(shape), requires_grad=True)
    assert ag.gradgradcheck(lambda t: ag.sliding_window(t, k, s, d) ** 2, [x])


def test_float32_in_float32_gradient():
    x = ag.randn(1, 2, 5, 5, requires_grad=True)
    out = ag.sliding_window(x, 3, stride=2)
    assert out.dtype == np.float32
    out.backward(ag.ones_like(out))
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


def test_records_the_op_name():
    x = ag.randn(1, 1, 4, 4, requires_grad=True)
    out = ag.sliding_window(x, 2)
    assert out.grad_fn.name == "sliding_window"
    (g,) = ag.grad((out * out).sum(), [x], create_graph=True)
    assert g.grad_fn.name == "window_sum"


@pytest.mark.parametrize("args,match", [
    (((1, 1, 3, 3), (4, 4), 1, 1), "does not fit"),
    (((1, 1, 5, 5), (3, 3), 1, 3), "does not fit"),
    (((1, 1, 5, 5), (2, 2), 0, 1), "stride"),
    (((1, 1, 5, 5), (2, 2), (1, 1, 1), 1), "stride"),
    (((5,), (2, 2), 1, 1), "at least 2 axes"),
])
def test_errors_name_the_op_and_the_shapes(args, match):
    shape, k, s, d = args
    with pytest.raises(ValueError, match=match) as e:
        ag.sliding_window(ag.zeros(shape), k, s, d)
    assert "sliding_window" in str(e.value)
