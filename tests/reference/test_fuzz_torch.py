"""Differential fuzzing against PyTorch: random programs (tests/fuzz_strategies.py) run
with chainrule and with torch in float64; values, gradients and second derivatives
(the gradient of <grad, u> for a random u, through create_graph=True) must agree.

The CI profile runs a fixed set of examples (a few starting with each op);
CHAINRULE_FUZZ=long runs thousands (docs/fuzzing.md).
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autograd as ag
from fuzz_strategies import FOCI, Config, fuzz_settings, make_leaf, programs

torch = pytest.importorskip("torch")

# float64 only, no integers (torch's promotion rules for ints differ from NumPy's: no
# int64 @ float64, no mean of ints; float32 would only measure rounding); plain ndarray
# inputs become constant tensors.
TORCH = dict(dtypes=("float64",), ints=False, exclude=("arg",))


def _run_both(program):
    idx = program.grad_leaves()
    ours = {i: make_leaf(program.nodes[i], "ag", float64=True) for i in idx}
    theirs = {i: make_leaf(program.nodes[i], "torch") for i in idx}
    out = program.run("ag", float64=True, leaves=ours)
    ref = program.run("torch", float64=True, leaves=theirs)
    return idx, ours, theirs, out, ref


def _close(got, want, what):
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11, err_msg=what)


@pytest.mark.parametrize("focus", FOCI)
@fuzz_settings(3)
@given(data=st.data())
def test_values_and_gradients_match_torch(focus, data):
    program = data.draw(programs(Config(focus=focus, **TORCH)), label="program")
    assume(program.error is None)
    idx, ours, theirs, out, ref = _run_both(program)
    assert out.shape == tuple(ref.shape)
    _close(out.data, ref.detach().numpy(force=True), "value")
    seed = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(seed)
    ref.backward(torch.tensor(seed))
    for i in idx:
        x, t = ours[i], theirs[i]
        if t.grad is None:
            assert x.grad is None, f"v{i}: torch has no gradient, chainrule has one"
        else:
            _close(x.grad.data, t.grad.numpy(force=True), f"gradient of v{i}")


@fuzz_settings(30)
@given(programs(Config(**TORCH)))
def test_second_derivatives_match_torch(program):
    assume(program.error is None)
    idx, ours, theirs, out, ref = _run_both(program)
    used = [i for i in idx if i in program.deps]
    rng = np.random.default_rng(0)
    seed = rng.standard_normal(out.shape)
    us = [rng.standard_normal(ours[i].shape) for i in used]

    gs = ag.grad(out, [ours[i] for i in used], ag.Tensor(seed), create_graph=True)
    inner = sum(ag.sum(g * u) for g, u in zip(gs, us))
    if not inner.requires_grad:     # every first derivative is constant
        hs = [None] * len(used)
    else:
        hs = ag.grad(inner, [ours[i] for i in used], allow_unused=True)

    tgs = torch.autograd.grad(ref, [theirs[i] for i in used], torch.tensor(seed),
                              create_graph=True)
    tinner = sum((g * torch.tensor(u)).sum() for g, u in zip(tgs, us))
    ths = (torch.autograd.grad(tinner, [theirs[i] for i in used], allow_unused=True)
           if tinner.requires_grad else [None] * len(used))
    for i, g, tg, h, th in zip(used, gs, tgs, hs, ths):
        _close(g.data, tg.detach().numpy(force=True), f"gradient of v{i}")
        h = np.zeros(ours[i].shape) if h is None else h.data
        th = np.zeros(ours[i].shape) if th is None else th.numpy(force=True)
        _close(h, th, f"second derivative of v{i}")
