"""Registry-driven op tests: every op in tests/op_registry.py gets each check."""
import numpy as np
import pytest

import autograd as ag
from op_registry import NOT_OPS, build, covered_names, sample_params

PARAMS = sample_params()
IDS = [f"{op.name}-{i}" for op, i in PARAMS]


def test_every_exported_op_is_in_the_registry():
    exported = set(ag.__all__) - NOT_OPS
    missing = exported - covered_names()
    assert not missing, f"ops without registry entries (add them to tests/op_registry.py): {missing}"


@pytest.mark.parametrize("op,i", PARAMS, ids=IDS)
def test_gradcheck(op, i):
    assert ag.gradcheck(op.fn, build(op, i), **op.tol)


@pytest.mark.parametrize("op,i", [p for p in PARAMS if p[0].gradgrad],
                         ids=[f"{op.name}-{i}" for op, i in PARAMS if op.gradgrad])
def test_gradgradcheck(op, i):
    assert ag.gradgradcheck(op.fn, build(op, i), **op.tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("op,i", PARAMS, ids=IDS)
def test_gradients_have_input_shapes_and_dtypes(op, i, dtype):
    # float32 (or float16) in, the same out and gradients of each input's own shape and
    # dtype: broadcasting is undone, dtype is never silently promoted.
    xs = build(op, i, dtype=dtype)
    with np.errstate(all="ignore"):     # (float16 overflows where float32 does not)
        out = op.fn(*xs)
        assert out.dtype == (np.float32 if op.name == "astype" else dtype)
        out.backward(ag.ones_like(out))
    for x in xs:
        assert x.grad is not None
        assert x.grad.shape == x.shape
        assert x.grad.dtype == dtype


@pytest.mark.parametrize("op,i", PARAMS, ids=IDS)
def test_no_grad_records_nothing_and_gives_the_same_values(op, i):
    xs = build(op, i)
    with ag.no_grad():
        out = op.fn(*xs)
    assert out.grad_fn is None and not out.requires_grad
    np.testing.assert_allclose(out.data, op.fn(*xs).data)


@pytest.mark.parametrize("op,i", PARAMS, ids=IDS)
def test_backward_twice_with_retain_graph_accumulates(op, i):
    xs = build(op, i)
    out = op.fn(*xs)
    seed = ag.ones_like(out)
    out.backward(seed, retain_graph=True)
    first = [x.grad.data.copy() for x in xs]
    out.backward(seed)
    for x, g in zip(xs, first):
        np.testing.assert_allclose(x.grad.data, 2 * g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op,i", PARAMS, ids=IDS)
def test_array_walk_matches_the_tensor_walk(op, i, dtype):
    # Without create_graph the rules run on plain arrays (Function.array_rule); with it,
    # on Tensors. Both must give the same gradients, bit for bit, shapes and dtypes.
    xs = build(op, i, dtype=dtype)
    out = op.fn(*xs)
    seed = ag.Tensor(np.random.default_rng(i).standard_normal(out.shape).astype(dtype))
    fast = ag.grad(out, xs, seed, retain_graph=True, allow_unused=True)
    slow = ag.grad(out, xs, seed, create_graph=True, allow_unused=True)
    for x, f, s in zip(xs, fast, slow):
        assert type(f) is ag.Tensor and type(f.data) is np.ndarray
        assert f.shape == s.shape == x.shape and f.dtype == s.dtype == x.dtype
        np.testing.assert_array_equal(f.data, s.data)


@pytest.mark.parametrize("src,shape", [((), (3, 4)), ((1,), (5,)), ((3, 1), (3, 4)),
                                       ((1, 4), (2, 3, 4)), ((2, 3), (2, 3)), ((0,), (0,)),
                                       ((1, 0), (3, 0)), ((3,), (2, 3))])
def test_broadcast_view_is_numpys_broadcast_to(src, shape):
    from autograd.ops.shape import _broadcast_view
    x = np.random.default_rng(0).standard_normal(src).astype(np.float32)
    for arg in (x, x[()] if x.ndim == 0 else x, np.asfortranarray(x)):
        got, want = _broadcast_view(arg, shape), np.broadcast_to(arg, shape)
        assert got.shape == want.shape and got.strides == want.strides
        assert got.dtype == want.dtype and not got.flags.writeable
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("src,shape", [((3,), (4,)), ((2, 3), (3,)), ((3, 1), (3, -1))])
def test_broadcast_view_raises_numpys_error(src, shape):
    from autograd.ops.shape import _broadcast_view
    with pytest.raises(ValueError):
        _broadcast_view(np.ones(src), shape)


@pytest.mark.parametrize("shape,axes", [((3, 4, 2, 2), (2, 3)), ((5, 3), (1,)), ((2, 3, 4), (0, 2)),
                                        ((4, 8, 8), (1, 2)), ((3,), (0,)), ((2, 0, 2), (2,)),
                                        ((2, 3, 1), (2,)), ((2, 5, 9, 9), (2, 3))])
def test_count_true_is_numpys_sum(shape, axes):
    # max/min's tie count: per-slice adds over small trailing axes (pooling windows).
    from autograd.ops.reduce import _count_true
    mask = np.random.default_rng(0).random(shape) > 0.5
    got, want = _count_true(mask, axes), mask.sum(axis=axes, keepdims=True)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(4, 5), (40, 60), (3, 2, 1000)])   # filled / view
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (1, True),
                                           ((0, 1), True), (-1, False)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_and_mean_spread_their_gradient_over_the_summed_axes(shape, axis, keepdims,
                                                                  dtype):
    # The gradient of a reduction is the output's gradient repeated along the reduced
    # axes: a new small array, or a zero-stride view of a large one (reduce._expand).
    rng = np.random.default_rng(1)
    x = ag.Tensor(rng.random(shape).astype(dtype), requires_grad=True)
    for op, scale in ((ag.sum, 1.0), (ag.mean, None)):
        x.grad = None
        out = op(x, axis=axis, keepdims=keepdims)
        g = rng.random(out.shape).astype(dtype)
        out.backward(g)
        axes = tuple(range(len(shape))) if axis is None else \
            tuple(a % len(shape) for a in np.atleast_1d(axis))
        n = np.prod([shape[a] for a in axes])
        want = np.broadcast_to(np.expand_dims(g, axes) if not keepdims else g, shape)
        want = want * (1.0 if scale else np.asarray(1.0 / n, dtype))
        assert x.grad.dtype == dtype and x.grad.shape == shape
        np.testing.assert_allclose(x.grad.data, want, rtol=1e-6)
        x.grad.data[...] = 0.0      # the leaf owns a writeable gradient


def test_reductions_honour_array_subclasses():
    # Plain arrays go to the ufuncs' reduce for speed; a masked array keeps its own
    # sum and max (as np.sum and np.max give).
    m = np.ma.array([1.0, 5.0, 3.0], mask=[0, 1, 0])
    assert ag.sum(m).item() == 4.0
    assert ag.max(m).item() == 3.0
    assert ag.min(m).item() == 1.0
    from autograd.ops.shape import sum_to_array
    assert sum_to_array(np.ma.array([[1.0, 2.0], [4.0, 8.0]], mask=[[0, 1], [0, 0]]),
                        (2,)).tolist() == [5.0, 8.0]


def test_max_pool_shares_the_gradient_among_tied_zeros():
    import nn.functional as F
    x = ag.Tensor(np.maximum(np.random.default_rng(0).standard_normal((2, 3, 8, 8)), 0),
                  requires_grad=True)               # many windows of tied zeros
    F.max_pool2d(x, 2).sum().backward()
    windows = x.grad.data.reshape(2, 3, 4, 2, 4, 2).sum(axis=(3, 5))
    np.testing.assert_allclose(windows, 1.0)        # each window passes on exactly g = 1


def test_scipy_is_imported_only_when_erf_or_a_small_sigmoid_needs_it():
    # scipy.special is most of `import autograd`'s time; it loads on first use, by
    # whichever of the two comes first.
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p))
    x = "x = ag.tensor(np.linspace(-3, 3, 5), requires_grad=True)\n"
    sigmoid = ("y = ag.sigmoid(x); y.sum().backward()\n"
               "print(np.abs(y.data - 1 / (1 + np.exp(-x.data))).max() < 1e-15)\n")
    erf = ("y = ag.erf(x); y.sum().backward()\n"
           "print(np.abs(y.data - [-0.9999779095, -0.9661051465, 0.0, 0.9661051465,"
           " 0.9999779095]).max() < 1e-9)\n")
    loaded = "print('scipy.special' in sys.modules)\n"
    for first, then in ((sigmoid, erf), (erf, sigmoid)):
        code = ("import sys, numpy as np, autograd as ag, nn, optim\n"
                "print('scipy' in sys.modules)\n" + x + first + loaded + then)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["False", "True", "True", "True"]
