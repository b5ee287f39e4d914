"""Differential fuzzing of the autograd engine (issue 9).

Hypothesis builds random programs over the autograd ops (tests/fuzz_strategies.py):
elementwise unary/binary ops on broadcast-compatible shapes with rank promotion,
Python scalars on either side, reductions with random axes and keepdims, reshape,
transpose, indexing, concatenate/stack/split, pad, sliding windows, matmul, in-place
updates, float32/float64/int64 values, Tensors and plain ndarrays in any memory
layout. Each program is checked:

- its value, shape and dtype against NumPy evaluating the same program, with and
  without grad mode;
- backward from a random seed gives every input that requires grad a gradient of its
  own shape and dtype (None exactly for the inputs the output does not depend on),
  agrees with ag.grad(), accumulates over a retained graph and passes detect_anomaly;
- its gradients (and, for smaller programs, second derivatives) against central
  finite differences in float64.

CI runs a fixed, derandomized set of examples; ``CHAINRULE_FUZZ=long`` runs thousands
(docs/fuzzing.md). tests/reference/test_fuzz_torch.py compares with PyTorch.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd as ag
from fuzz_strategies import (COVERED, FOCI, Config, Leaf, Program, Step,
                             fuzz_settings, make_leaf, programs)
from op_registry import NOT_OPS

SMALL = Config(max_steps=4, max_leaf=6, max_size=24)


def _array(x):
    return np.asarray(x.data if isinstance(x, ag.Tensor) else x)


def _assert_close(got, want, float32):
    # ag and NumPy run the same ufuncs for primitives; composites (mean, var,
    # logsumexp, sum_to, ...) may round differently, by a few ulps of the largest
    # value -- float32 ulps wherever a float32 value took part.
    want = np.asarray(want)
    rtol = 1e-4 if float32 else 1e-11
    scale = 1.0 + (np.abs(want).max() if want.size else 0.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def check_forward(program):
    """Value, shape, dtype and type against NumPy; or the same exception class."""
    if program.error is not None:
        with pytest.raises(program.error):
            program.run("ag")
        return
    out = program.run("ag")
    want = np.asarray(program.run("np"))
    assert isinstance(out, ag.Tensor) == program.expected_is_tensor
    got = _array(out)
    assert got.shape == want.shape, f"shape {got.shape}, NumPy {want.shape}"
    assert got.dtype == want.dtype, f"dtype {got.dtype}, NumPy {want.dtype}"
    _assert_close(got, want, program.float32 or got.dtype == np.float32)
    assert out.requires_grad == bool(program.deps)


def check_backward(program):
    """backward() fills .grad with each leaf's own shape and dtype, only where used;
    a second backward through the retained graph doubles it; ag.grad() agrees; the
    same backward under detect_anomaly() finds nothing to complain about."""
    if program.error is not None:
        return
    idx = program.grad_leaves()
    leaves = {i: make_leaf(program.nodes[i], "ag") for i in idx}
    out = program.run("ag", leaves=leaves)
    seed = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
    out.backward(seed, retain_graph=True)
    used = [i for i in idx if i in program.deps]
    for i, x in leaves.items():
        if i in program.deps:
            assert x.grad is not None, f"v{i} is used but got no gradient"
            assert x.grad.shape == x.shape and x.grad.dtype == x.dtype, \
                f"v{i}: gradient {x.grad.shape} {x.grad.dtype} for {x.shape} {x.dtype}"
            assert np.all(np.isfinite(x.grad.data))
        else:
            assert x.grad is None, f"v{i} is not used, yet got a gradient"
    first = {i: leaves[i].grad.data.copy() for i in used}
    grads = ag.grad(out, [leaves[i] for i in used], seed, retain_graph=True)
    for i, g in zip(used, grads):
        np.testing.assert_array_equal(g.data, first[i])
    with ag.detect_anomaly():
        out.backward(seed)
    for i in used:
        _assert_close(leaves[i].grad.data, 2 * first[i], program.float32)


def check_no_grad(program):
    """Under no_grad the program gives the same result and records nothing."""
    if program.error is not None:
        return
    with ag.no_grad():
        out = program.run("ag")
    # (an output may be an input itself: broadcast_to/astype/sum_to to what it is)
    assert getattr(out, "grad_fn", None) is None
    np.testing.assert_array_equal(_array(out), _array(program.run("ag")))


def _scalarized(program):
    """(f, inputs): f(*inputs) = sum(program(inputs) * w) in float64, for a fixed
    random w, so one backward checks a random vector-Jacobian product."""
    idx = program.grad_leaves()
    # gradcheck cannot perturb a read-only input (bug 2 in docs/fuzzing.md)
    layout = None
    xs = [make_leaf(program.nodes[i], "ag", float64=True, layout=layout) for i in idx]
    shape = np.shape(program.expected)
    w = ag.Tensor(np.random.default_rng(1).standard_normal(shape))

    def f(*ts):
        return ag.sum(program.run("ag", float64=True, leaves=dict(zip(idx, ts))) * w)
    return f, xs


def check_gradients(program, second_order=False):
    if program.error is not None:
        return
    f, xs = _scalarized(program)
    scale = 1.0 + abs(f(*xs).item())
    tol = dict(eps=1e-6, atol=1e-5 * scale, rtol=1e-3)
    assert ag.gradcheck(f, xs, **tol)
    if second_order:
        assert ag.gradgradcheck(f, xs, **tol)


# In CI each test runs a few derandomized programs per op (``focus``: the op the
# program starts with); with CHAINRULE_FUZZ=long, thousands of unfocused ones.
@pytest.mark.parametrize("focus", FOCI)
@fuzz_settings(6)
@given(data=st.data())
def test_forward_matches_numpy_and_backward_is_consistent(focus, data):
    program = data.draw(programs(Config(focus=focus)), label="program")
    assert focus is None or program.focus_landed, f"the generator never produced {focus}"
    check_forward(program)
    check_no_grad(program)
    check_backward(program)


@pytest.mark.parametrize("focus", FOCI)
@fuzz_settings(3)
@given(data=st.data())
def test_gradients_match_finite_differences(focus, data):
    check_gradients(data.draw(programs(Config(focus=focus)), label="program"))


@fuzz_settings(30)
@given(programs(SMALL))
def test_second_derivatives_match_finite_differences(program):
    check_gradients(program, second_order=True)


# ------------------------------------------------------------------ the fuzzer itself
def test_every_exported_op_is_fuzzed():
    missing = set(ag.__all__) - NOT_OPS - COVERED
    assert not missing, f"ops the fuzzer never generates (add them to fuzz_strategies): {missing}"


def _hand_program(*steps):
    """A program written by hand: one float64 (2, 3) input, then ``steps``."""
    p = Program()
    p.nodes.append(Leaf(np.linspace(-1.5, 1.3, 6).reshape(2, 3), "grad"))
    for s in steps:
        p.nodes.append(s)
    p.output = len(p.nodes) - 1
    p.deps = frozenset([0])
    p.expected = np.asarray(p.run("np"))
    return p


def test_the_checks_catch_a_wrong_derivative(monkeypatch):
    from autograd.ops import elementwise
    p = _hand_program(Step("sin", (0,)), Step("sum", (1,), dict(axis=1, keepdims=False)))
    check_gradients(p)
    monkeypatch.setattr(elementwise.Sin, "backward",
                        staticmethod(lambda ctx, g: g * ag.sin(ctx.saved_tensors[0])))
    with pytest.raises(ag.GradcheckError):
        check_gradients(p)


def test_the_checks_catch_a_wrong_value_and_a_wrong_dtype(monkeypatch):
    from autograd.ops import elementwise
    # (sin: its forward is its own code; exp's ufunc is called by apply, not its forward)
    p = _hand_program(Step("sin", (0,)))
    check_forward(p)
    forward = elementwise.Sin.forward
    monkeypatch.setattr(elementwise.Sin, "forward",
                        staticmethod(lambda ctx, x: forward(ctx, x) * (1 + 1e-3)))
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        check_forward(p)
    monkeypatch.setattr(elementwise.Sin, "forward",
                        staticmethod(lambda ctx, x: forward(ctx, x).astype(np.float32)))
    with pytest.raises(AssertionError, match="dtype"):
        check_forward(p)


def test_a_program_prints_as_a_runnable_reproducer():
    p = _hand_program(
        Step("getitem", (0,), dict(index=(np.array([1, -1, 1]), slice(None, None, -2)),
                                   flat=None)),
        Step("astype", (1,), dict(dtype=np.dtype(np.float32))),
        Step("iadd.rs", (2,), dict(s=1.5)),
        Step("logsumexp", (3,), dict(axis=(-1, 0), keepdims=True)))
    ns = {}
    exec(repr(p).split("# NumPy reference")[0], ns)
    np.testing.assert_array_equal(ns["out"].data, p.run("ag").data)
    assert ns["out"].dtype == np.float32
    check_forward(p)
    check_backward(p)


# ------------------------------------------------------------------ bugs the fuzzer found
# Each was reduced from a falsifying example and is fixed; docs/fuzzing.md has the details.
def test_recorded_inplace_op_keeps_the_tensors_dtype():
    x = ag.Tensor(np.array([0.25, -1.5], dtype=np.float32), requires_grad=True)
    b = ag.Tensor(np.array(-0.5), requires_grad=True)               # float64
    t = x * 1.0
    t += b              # as NumPy, PyTorch and the no-grad path: t stays float32
    assert t.dtype == np.float32
    t.sum().backward()
    assert x.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(b.grad.data, 2.0)


def test_recorded_inplace_op_cannot_change_the_tensors_shape():
    x = ag.Tensor(np.array(0.5), requires_grad=True)
    with ag.no_grad():
        t = x * 1.0
        with pytest.raises(ValueError, match="add_"):
            t += np.ones(2)     # the unrecorded path refuses, as NumPy
    t = x * 1.0
    with pytest.raises(ValueError, match="add_"):
        t += ag.ones(2)


def test_gradcheck_accepts_read_only_and_non_contiguous_inputs():
    base = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    readonly = ag.Tensor(np.broadcast_to(base, base.shape), requires_grad=True)
    assert ag.gradcheck(lambda x: ag.sum(ag.sin(x)), [readonly])
    for array in (np.repeat(base, 2, axis=-1)[..., ::2], np.asfortranarray(base)):
        x = ag.Tensor(array, requires_grad=True)
        assert ag.gradcheck(lambda x: ag.sum(ag.sin(x)), [x])
        assert x.data is array      # the caller's tensor still wraps the caller's array


def test_broadcast_to_and_sum_to_of_an_array_return_a_tensor():
    a = np.ones((2, 3))
    assert isinstance(ag.broadcast_to(a, (4, 2, 3)), ag.Tensor)     # passes today
    assert isinstance(ag.broadcast_to(a, (2, 3)), ag.Tensor)
    assert isinstance(ag.sum_to(a, (2, 3)), ag.Tensor)
