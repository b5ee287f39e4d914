"""The engine: graph walking, accumulation, freeing, modes, hooks, errors, dtypes."""
import gc
import itertools
import threading
import weakref
import warnings

import numpy as np
import pytest

import autograd as ag


def leaf(values, dtype=np.float64):
    return ag.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ---------------------------------------------------------------- graph shapes
def test_diamond_sums_both_paths():
    a = leaf(3.0)
    b = a + a
    c = b * b          # c = 4a^2, dc/da = 8a
    c.backward()
    assert a.grad.item() == 24.0


def test_reuse_of_a_tensor_in_many_ops():
    x = leaf([1.0, 2.0])
    y = (x * x * x + x.exp() * x).sum()     # d/dx = 3x^2 + e^x (1 + x)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2 + np.exp(x.data) * (1 + x.data))


def test_gradients_accumulate_over_backward_calls():
    x = leaf([1.0, -2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 + 2 * x.data)


def test_grad_buffers_are_not_shared_between_leaves():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data *= 10       # as clip_grad_norm_ would do
    np.testing.assert_allclose(b.grad.data, [1.0, 1.0])


def test_million_node_chain_backward_and_free():
    x = leaf(np.ones(1))
    y = x * 1.0
    probe = weakref.ref(y.grad_fn)          # the deepest node of the chain
    for _ in range(1_000_000 - 1):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.data[0] == 1.0
    del y
    gc.collect()
    assert probe() is None


def test_intermediate_arrays_are_freed_after_backward():
    x = leaf(np.ones(1000))
    h = x.exp()
    probe = weakref.ref(h.data)
    loss = (h * 2).tanh().sum()
    del h
    assert probe() is not None      # saved for exp's backward
    loss.backward()
    gc.collect()
    assert probe() is None


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 4 * x.data)


# ---------------------------------------------------------------- grad()
def test_grad_returns_without_touching_dot_grad():
    x = leaf([1.0, 2.0])
    (g,) = ag.grad((x ** 3).sum(), x)
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)
    assert x.grad is None


def test_grad_of_non_leaf_input():
    x = leaf([1.0, 2.0])
    h = x * 2
    (g,) = ag.grad((h * h).sum(), [h])
    np.testing.assert_allclose(g.data, 2 * h.data)


def test_grad_allow_unused():
    x, z = leaf(1.0), leaf(2.0)
    with pytest.raises(RuntimeError, match="allow_unused"):
        ag.grad(x * 2, [x, z])
    gx, gz = ag.grad(x * 2, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None


def test_create_graph_gives_higher_derivatives():
    x = leaf(0.7)
    y = x.sin()
    (d1,) = ag.grad(y, x, create_graph=True)
    (d2,) = ag.grad(d1, x, create_graph=True)
    (d3,) = ag.grad(d2, x)
    assert np.isclose(d1.item(), np.cos(0.7))
    assert np.isclose(d2.item(), -np.sin(0.7))
    assert np.isclose(d3.item(), -np.cos(0.7))


def test_backward_create_graph_makes_dot_grad_differentiable():
    x = leaf([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gg,) = ag.grad(x.grad.sum(), x)
    np.testing.assert_allclose(gg.data, 6 * x.data)


def test_gradient_penalty_needs_no_explicit_retain_graph():
    x = leaf([1.0, 2.0])
    loss = (x ** 2).sum()
    (g,) = ag.grad(loss, x, create_graph=True)
    (loss + (g * g).sum()).backward()          # retain_graph defaults to create_graph
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 8 * x.data)


# ---------------------------------------------------------------- modes
def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with ag.no_grad():
        assert not (x * 2).requires_grad
        with ag.enable_grad():
            assert (x * 2).requires_grad

    @ag.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert (x * 2).requires_grad
    ag.set_grad_enabled(False)
    assert not ag.is_grad_enabled()
    ag.set_grad_enabled(True)
    with ag.set_grad_enabled(False):
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()


def test_no_grad_is_thread_local():
    # apply skips the thread-local reads while every thread is in the default modes
    # (grad_mode.ALL_DEFAULT): one thread's no_grad must still stop only its own ops.
    from autograd import grad_mode
    x = leaf([1.0, 2.0])
    seen = {}
    started, release = threading.Event(), threading.Event()

    def worker():
        with ag.no_grad():
            started.set()
            release.wait(5)
            seen["worker"] = (ag.is_grad_enabled(), (x * 2).requires_grad)

    t = threading.Thread(target=worker)
    t.start()
    started.wait(5)
    seen["main"] = (ag.is_grad_enabled(), (x * 2).requires_grad)
    seen["all default during"] = grad_mode.ALL_DEFAULT[0]
    release.set()
    t.join()
    seen["all default after"] = grad_mode.ALL_DEFAULT[0]
    assert seen == {"main": (True, True), "worker": (False, False),
                    "all default during": False, "all default after": True}


def test_modes_and_the_fast_path_flag_agree():
    from autograd import grad_mode
    x = leaf([1.0, 2.0])
    with ag.no_grad():
        assert not grad_mode.ALL_DEFAULT[0] and not (x * 2).requires_grad
    assert grad_mode.ALL_DEFAULT[0] and (x * 2).requires_grad
    with ag.detect_anomaly():
        assert not grad_mode.ALL_DEFAULT[0]
    (x * 2).sum().backward()
    with pytest.raises(RuntimeError):
        (x * 2).sum().backward(gradient=[1.0, 2.0])     # fails inside the walk
    assert grad_mode.ALL_DEFAULT[0] and ag.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.data, d.data)


# ---------------------------------------------------------------- hooks
def test_hooks_see_and_replace_gradients():
    x = leaf([1.0, 2.0])
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))
    handle = x.register_hook(lambda g: g * 0 + 7)
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(x.grad.data, [7.0, 7.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_retain_grad_on_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)


# ---------------------------------------------------------------- in place and versions
def test_in_place_change_of_saved_tensor_raises_naming_the_op():
    x = leaf([1.0, 2.0])
    h = x * 2
    y = (h * h).sum()
    with ag.no_grad():
        h += 1
    with pytest.raises(RuntimeError, match="needed by `mul` for its gradient was modified in place"):
        y.backward()


def test_in_place_on_a_view_bumps_the_base_version():
    x = leaf(np.ones((2, 2)))
    h = x.exp()
    y = h.sum()          # exp saved its output h
    v = h.reshape(4)
    with ag.no_grad():
        v *= 2
    with pytest.raises(RuntimeError, match="exp"):
        y.backward()


def test_in_place_on_leaf_requiring_grad_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf"):
        x += 1
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 5.0
    with ag.no_grad():
        x -= 1
        x[1] = 5.0
    np.testing.assert_allclose(x.data, [0.0, 5.0])
    assert x._version == 2


def test_in_place_on_non_leaf_is_recorded():
    x = leaf([1.0, 2.0])
    h = x * 2
    h *= x           # h = 2x^2
    h += 1
    h.sum().backward()
    np.testing.assert_allclose(x.grad.data, 4 * x.data)


def test_setitem_on_non_leaf_is_recorded():
    x = leaf([1.0, 2.0, 3.0])
    w = leaf(5.0)
    h = x * 1.0
    h[1] = w * 2
    h.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 0.0, 1.0])
    assert w.grad.item() == 2.0


def test_setitem_on_plain_tensor_with_grad_value():
    w = leaf([1.0, 2.0])
    buf = ag.zeros(3, dtype=np.float64)
    buf[1:] = w * w
    buf.sum().backward()
    np.testing.assert_allclose(w.grad.data, 2 * w.data)


# ---------------------------------------------------------------- custom functions
class Cube(ag.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x ** 2 * grad


def test_custom_function_passes_gradcheck_and_gradgradcheck():
    x = leaf(np.linspace(-1, 1, 5))
    assert ag.gradcheck(Cube.apply, [x])
    assert ag.gradgradcheck(Cube.apply, [x])
    assert Cube.apply(x).grad_fn.name == "cube"


def test_wrong_custom_function_fails_gradcheck_with_details():
    x = leaf(np.linspace(-1, 1, 5))
    with pytest.raises(ag.GradcheckError, match=r"input 0 .* analytic .* numeric"):
        ag.gradcheck(WrongCube.apply, [x])
    assert ag.gradcheck(WrongCube.apply, [x], raise_exception=False) is False


def test_gradcheck_refuses_float32():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        ag.gradcheck(lambda t: t * 2, [x])


def test_numerical_jacobian_shape_and_values():
    x = leaf([1.0, 2.0, 3.0])
    (J,) = ag.numerical_jacobian(lambda t: t[:2] * t[1:], [x])
    np.testing.assert_allclose(J, [[2, 1, 0], [0, 3, 2]], atol=1e-6)


# ---------------------------------------------------------------- dtypes and factories
def test_default_dtype_rules():
    assert ag.tensor([1.0, 2.0]).dtype == np.float32
    assert ag.tensor(3.0).dtype == np.float32
    assert ag.tensor([1, 2]).dtype == np.int64
    assert ag.tensor(np.ones(2)).dtype == np.float64
    assert (ag.tensor([1.0]) * 2.5).dtype == np.float32
    ag.set_default_dtype("float64")
    assert ag.tensor([1.0]).dtype == np.float64
    assert ag.zeros(2, 3).dtype == np.float64
    with pytest.raises(TypeError):
        ag.set_default_dtype(np.int32)


def test_factories():
    assert ag.zeros(2, 3).shape == ag.zeros((2, 3)).shape == (2, 3)
    assert ag.ones(4).dtype == np.float32
    assert ag.full((2,), 1.5).dtype == np.float32
    assert ag.arange(5).dtype == np.int64
    assert ag.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert ag.eye(3).data.trace() == 3
    ag.manual_seed(3)
    a = ag.randn(4)
    ag.manual_seed(3)
    np.testing.assert_array_equal(a.data, ag.randn(4).data)
    assert ag.rand(2, 2, requires_grad=True).requires_grad
    assert ag.zeros_like(a).shape == (4,) and ag.ones_like(a).data.sum() == 4


def test_tensor_copies_but_Tensor_wraps():
    arr = np.ones(3)
    assert ag.Tensor(arr).data is arr
    assert ag.tensor(arr).data is not arr


def test_tensor_api_basics():
    t = ag.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert t.shape == (2, 2) and t.ndim == 2 and t.size == 4 and t.is_leaf
    assert t.T.shape == (2, 2) and len(t) == 2
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert np.asarray(t).shape == (2, 2)
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=<mul>" in repr(t * 2)
    assert (t > 2).dtype == bool and not (t > 2).requires_grad
    assert {t: 1}[t] == 1
    assert (t.sum() * 1).item() == 10.0
    assert float(t[0, 0]) == 1.0
    assert [row.shape for row in t] == [(2,), (2,)]
    assert t.argmax().item() == 3 and t.argmin(axis=0).tolist() == [0, 0]


def test_numpy_array_on_the_left_gives_a_tensor():
    t = ag.tensor([1.0, 2.0], requires_grad=True)
    for out in (np.ones(2) + t, np.ones(2) * t, np.ones(2) - t, np.ones(2) / t,
                np.ones((3, 2)) @ t):
        assert isinstance(out, ag.Tensor) and out.requires_grad


def test_float32_grads_flow_through_float64_constants():
    w = ag.tensor([1.0, 2.0], requires_grad=True)         # float32
    (w * np.array([0.5, 0.5])).sum().backward()           # float64 constant
    assert w.grad.dtype == np.float32


# ---------------------------------------------------------------- bad input
def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(TypeError, match="int64"):
        ag.tensor([1, 2], requires_grad=True)


def test_broadcast_mismatch_names_op_and_shapes():
    a, b = ag.ones(2, 3), ag.ones(4)
    with pytest.raises(ValueError, match=r"add: .*\(2, ?3\).*\(4,\).*float32"):
        a + b


def test_matmul_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 3\).*\(4, 5\)"):
        ag.ones(2, 3) @ ag.ones(4, 5)


def test_backward_on_non_scalar_without_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"one element.*\(2,\)"):
        (x * 2).backward()


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.tensor(1.0).backward()


def test_backward_gradient_of_wrong_shape():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(np.ones(3))


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("returned", [(3,), (2, 2), (4, 3), (2, 1, 3)])
def test_a_rule_returning_a_gradient_that_does_not_reduce_to_the_input_is_refused(
        returned, create_graph):
    class Bad(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return ag.ones(*returned, dtype=np.float64)

    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"`bad` returned a gradient of shape .* for an "
                                           r"input of shape \(2, 3\)"):
        (Bad.apply(x) * 1.0).sum().backward(create_graph=create_graph)


@pytest.mark.parametrize("shape,target", [((4, 3), (1, 3)), ((4, 3), (4, 1)), ((4, 3), (3,)),
                                          ((4, 3), (1, 1)), ((4, 3), ()), ((2, 4, 3), (4, 1)),
                                          ((2, 4, 3), (1, 1, 3)), ((2, 4, 3), (2, 4, 3))])
def test_broadcast_gradients_are_summed_back_to_each_input(shape, target):
    # the engine's reduction of a broadcast gradient, against NumPy's sums
    g = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    x = leaf(np.zeros(target))
    (x + np.zeros(shape)).backward(g)
    lead = len(shape) - len(target)
    want = g.sum(axis=tuple(range(lead))) if lead else g
    want = want.sum(axis=tuple(i for i, s in enumerate(target) if s == 1 and want.shape[i] != 1),
                    keepdims=True)
    np.testing.assert_array_equal(x.grad.numpy(), want.reshape(target))


def test_forward_returning_a_tuple_is_refused():
    class Two(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x, x

    with pytest.raises(TypeError, match="one array"):
        Two.apply(leaf([1.0]))


def test_reduction_errors():
    with pytest.raises(ValueError, match="axis"):
        ag.ones(2, 3).sum(axis=2)
    with pytest.raises(ValueError, match="empty"):
        ag.zeros(0).max()
    with pytest.raises(ValueError, match="ddof"):
        ag.ones(1).var(ddof=1)


def test_split_follows_numpy():
    x = ag.arange(6.0)
    assert [p.tolist() for p in ag.split(x, 3)] == [[0, 1], [2, 3], [4, 5]]
    assert [p.tolist() for p in x.split([1, 4])] == [[0], [1, 2, 3], [4, 5]]
    with pytest.raises(ValueError, match="equal"):
        ag.split(x, 4)


def test_max_ties_share_the_gradient():
    x = leaf([1.0, 3.0, 3.0])
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.5, 0.5])


def test_getitem_repeated_indices_accumulate():
    x = leaf([1.0, 2.0, 3.0])
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 1.0])


# ---------------------------------------------------------------- found in review
def test_recorded_in_place_op_invalidates_earlier_saves_of_the_old_value():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = (y * y).sum()          # mul saved the tensor y
    y += 1                     # recorded: y now holds a new value
    with pytest.raises(RuntimeError, match="needed by `mul`"):
        z.backward()


def test_recorded_in_place_op_keeps_tracking_its_saved_output():
    # No in-place operator records an op that saves its output (div keeps its inputs,
    # as PyTorch's), so the rebinding is driven directly, as an in-place exp would.
    x = leaf([1.0, 2.0])
    y = x * 1
    y._rebind(ag.exp(y._alias()))   # exp saved its output, which is now y's value
    with ag.no_grad():
        y += 100
    with pytest.raises(RuntimeError, match="needed by `exp`"):
        y.sum().backward()


def test_in_place_division_keeps_the_inputs_it_needs():
    # div's rule needs a and b, not a/b: changing y after y /= w leaves them intact.
    x, w = leaf([1.0, 2.0]), leaf([2.0, 4.0])
    y = x * 3
    y /= w
    with ag.no_grad():
        y += 100
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 / np.array([2.0, 4.0]))
    np.testing.assert_allclose(w.grad.data, -3 * np.array([1.0, 2.0]) / np.array([4.0, 16.0]))


def test_division_keeps_the_dividend_only_for_the_divisors_gradient():
    # As PyTorch: b's gradient needs a, a's needs only b. So a dividend changed after
    # x / c (c constant) is no error, while one changed after c / w is.
    x, c = leaf([1.0, 2.0]), ag.tensor([2.0, 4.0])
    z = x / c
    with ag.no_grad():
        x += 1
    z.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.5, 0.25])
    w, c = leaf([2.0, 4.0]), ag.tensor([1.0, 2.0])
    z = c / w
    c += 1
    with pytest.raises(RuntimeError, match="needed by `div`"):
        z.sum().backward()
    # b made to require grad after the op gets no gradient (nothing kept for it), as mul
    b = ag.tensor([2.0, 4.0])
    z = leaf([1.0, 2.0]) / b
    b.requires_grad = True
    z.sum().backward()
    assert b.grad is None


def test_create_graph_gradients_are_not_shared_between_leaves():
    a, b = leaf(1.0), leaf(1.0)
    (a + b).backward(create_graph=True)
    assert a.grad is not b.grad
    (a * 2).backward()
    assert (a.grad.item(), b.grad.item()) == (3.0, 1.0)


def test_grad_of_a_non_leaf_does_not_run_or_free_its_node():
    x = leaf([1.0, 2.0])
    h = x.exp()
    (g,) = ag.grad((h * 3).sum(), h)
    np.testing.assert_allclose(g.data, [3.0, 3.0])
    h.sum().backward()         # h's own node was neither run nor freed
    np.testing.assert_allclose(x.grad.data, np.exp(x.data))


def test_setitem_with_repeated_indices_gives_the_last_write_the_gradient():
    x = leaf([1.0, 2.0, 3.0])
    w = leaf([5.0, 7.0])
    y = x * 1
    y[np.array([0, 0])] = w            # NumPy keeps the last write: y[0] == 7
    assert y.data[0] == 7.0
    (y * ag.tensor([1.0, 2.0, 3.0], dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(w.grad.data, [0.0, 1.0])
    np.testing.assert_allclose(x.grad.data, [0.0, 2.0, 3.0])


# ---------------------------------------------------------------- what a node keeps
def test_product_keeps_only_the_input_the_other_gradient_needs():
    # d(h*c)/dh = c: with a constant c the graph keeps c, not h (as PyTorch).
    x = ag.tensor(np.arange(1.0, 5.0), requires_grad=True)
    c = ag.tensor(np.full(4, 3.0))
    h = x * 2.0
    probe = weakref.ref(h.data)
    z = (h * c).sum()
    del h
    assert probe() is None
    z.backward()
    np.testing.assert_array_equal(x.grad.data, np.full(4, 6.0))


def test_product_keeps_both_inputs_when_both_need_gradients():
    x = ag.tensor(np.arange(1.0, 5.0), requires_grad=True)
    w = ag.tensor(np.full(4, 3.0), requires_grad=True)
    h = x * 2.0
    probe = weakref.ref(h.data)
    z = (h * w).sum()
    del h
    assert probe() is not None              # w's gradient is h
    z.backward()
    np.testing.assert_array_equal(w.grad.data, 2.0 * np.arange(1.0, 5.0))
    np.testing.assert_array_equal(x.grad.data, np.full(4, 6.0))


def test_backward_order_follows_creation_even_when_built_out_of_order():
    # b is recorded before a although a feeds nothing b uses; every node must still
    # run after all of its consumers.
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = x * 3.0
    a = x.exp()
    c = a * b          # consumes both
    d = c + a          # a used twice, at two depths
    d.sum().backward()
    e = np.exp([1.0, 2.0])
    np.testing.assert_allclose(x.grad.data, e * 3 * np.array([1.0, 2.0]) + e * 3 + e)


def test_chains_pass_whole_gradients_through_the_walks_shortcut():
    # The walk hands a chain's gradient straight to the next node when no other node
    # has one. Where a node's output is used twice by one op (h * h) or two nodes get a
    # gradient from one op (a * b), the gradients must still be summed, run newest first
    # and reach hooks whole; again with retain_graph, and through grad(inputs=...).
    x = ag.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    h = (x * 2.0).tanh()
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))
    a = (h * h).exp()               # two edges of one node to h's node
    b = a * 3.0
    c = a.sin()                     # a feeds two nodes; c is newer than b, both than a
    y = (b * c).sum()
    t = np.tanh(2 * x.data)
    av = np.exp(t * t)
    dy_da = 3 * np.sin(av) + 3 * av * np.cos(av)
    dy_dh = dy_da * av * 2 * t
    dy_dx = dy_dh * (1 - t * t) * 2
    y.backward(retain_graph=True)
    np.testing.assert_allclose(seen[0], dy_dh)
    np.testing.assert_allclose(x.grad.data, dy_dx)
    y.backward()
    np.testing.assert_allclose(seen[1], dy_dh)
    np.testing.assert_allclose(x.grad.data, 2 * dy_dx)
    x2 = ag.tensor(x.data, requires_grad=True)
    h2 = (x2 * 2.0).tanh()
    a2 = (h2 * h2).exp()
    (gh,) = ag.grad(((a2 * 3.0) * a2.sin()).sum(), [h2])
    np.testing.assert_allclose(gh.data, dy_dh)


def test_a_chains_kept_node_runs_its_hooks_retain_grad_and_grad_targets():
    # Nodes reached only through the shortcut (never through the frontier): a hook that
    # replaces the gradient, retain_grad, grad(inputs=...) on one, pruning, a gradient
    # array that a rule hands to a leaf and a node at once, and create_graph.
    x = ag.tensor(np.array([0.3, -0.7]), requires_grad=True)
    m = x.exp().sin()
    m.retain_grad()
    m.register_hook(lambda g: g * 2.0)
    y = m.tanh().sum()
    y.backward()
    dm = 1 - np.tanh(np.sin(np.exp(x.data))) ** 2
    np.testing.assert_allclose(m.grad.data, 2 * dm)     # after the hook, as PyTorch 2
    np.testing.assert_allclose(x.grad.data, 2 * dm * np.cos(np.exp(x.data)) * np.exp(x.data))
    m2 = x.exp().sin()
    (gm,) = ag.grad(m2.tanh().sum(), [m2])
    np.testing.assert_allclose(gm.data, dm)
    # c leads nowhere near h: its edge is pruned before h's node is kept.
    c = ag.tensor(np.array([2.0, 3.0]), requires_grad=True) * 1.0
    h = x * 1.0
    (gh,) = ag.grad((c * h.exp()).sum(), [h])
    np.testing.assert_allclose(gh.data, c.data * np.exp(x.data))
    # Add's rule hands one array to the leaf x and to h's node; h's node then gets it
    # kept, and h + h later sums into it: neither x.grad nor the hook's copy may change.
    u = ag.tensor(np.array([0.0, 1.0]), requires_grad=True)
    w = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    seen = []
    h = w * 3.0
    h.register_hook(lambda g: seen.append(g))
    (u + (h + h)).sum().backward()
    np.testing.assert_array_equal(u.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(w.grad.data, [6.0, 6.0])
    w.grad = None
    h = w * 3.0
    h.register_hook(lambda g: seen.append(g))
    ((h + h) + w).sum().backward()
    np.testing.assert_array_equal(seen[0].data, [2.0, 2.0])
    np.testing.assert_array_equal(seen[1].data, [2.0, 2.0])
    np.testing.assert_array_equal(w.grad.data, [7.0, 7.0])
    # create_graph through a chain, then differentiated again.
    z = ag.tensor(np.array([0.5, 1.5]), requires_grad=True)
    (gz,) = ag.grad(z.exp().sin().sum(), [z], create_graph=True)
    gz.sum().backward()
    e = np.exp(z.data)
    np.testing.assert_allclose(gz.data, np.cos(e) * e)
    np.testing.assert_allclose(z.grad.data, -np.sin(e) * e * e + np.cos(e) * e)


def test_summed_gradients_reach_hooks_and_retain_grad_complete_and_unchanged():
    # h feeds three ops: its gradient is summed in place by the walk, and what a hook
    # or retain_grad gets must be the whole sum, never modified afterwards.
    x = ag.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    h = x * 1.0
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g))
    y = (h * 2.0).sum() + (h * 3.0).sum() + (h * 4.0).sum()
    y.backward()
    np.testing.assert_array_equal(seen[0].data, np.full(3, 9.0))
    np.testing.assert_array_equal(h.grad.data, np.full(3, 9.0))
    np.testing.assert_array_equal(x.grad.data, np.full(3, 9.0))
    assert not np.shares_memory(h.grad.data, x.grad.data)


def test_a_leaf_used_many_times_gets_its_own_summed_gradient():
    x = ag.tensor(np.array([1.0, -2.0]), requires_grad=True)
    w = ag.tensor(np.array([0.5, 0.25]), requires_grad=True)
    y = x * w + x * w + x * w + x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 3 * w.data + 1)
    np.testing.assert_array_equal(w.grad.data, 3 * x.data)
    first = x.grad.data
    (x * w).sum().backward()                # accumulates into the same buffer
    assert x.grad.data is first
    np.testing.assert_array_equal(x.grad.data, 4 * w.data + 1)


# ---------------------------------------------------------------- review regressions
def test_a_leaf_hook_keeps_the_gradient_it_saw():
    x = ag.tensor(np.array([1.0, 1.0]), requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g))
    (x * 2.0 + x * 3.0).sum().backward()          # two contributions: a sum made by the walk
    (x * 2.0 + x * 3.0).sum().backward()          # accumulates into x.grad in place
    np.testing.assert_array_equal(seen[0].data, [5.0, 5.0])
    np.testing.assert_array_equal(x.grad.data, [10.0, 10.0])


def test_a_tensor_subclass_as_gradient_is_handled_as_a_tensor():
    import nn
    x = ag.tensor(np.ones(3), requires_grad=True)
    (x * 1.0).backward(gradient=nn.Parameter(np.full(3, 2.0)))
    assert type(x.grad.data) is np.ndarray
    np.testing.assert_array_equal((x.grad + 1).data, [3.0, 3.0, 3.0])
    y = ag.tensor(np.ones(3), requires_grad=True)
    (y * 1.0 + y * 2.0).backward(gradient=nn.Parameter(np.full(3, 2.0)))
    np.testing.assert_array_equal(y.grad.data, [6.0, 6.0, 6.0])


def test_an_input_made_to_require_grad_after_the_op_gets_no_gradient():
    a = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = ag.tensor(np.array([5.0, 7.0]))
    y = a * b                                     # b needed no gradient: not kept
    b.requires_grad_()
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [5.0, 7.0])
    assert b.grad is None                          # as PyTorch: not part of the graph


def test_a_graph_cannot_be_pickled_or_copied():
    import copy
    import pickle
    x = ag.tensor(np.ones(2), requires_grad=True)
    y = x * 2.0
    with pytest.raises(TypeError, match="detach"):
        pickle.dumps(y)
    with pytest.raises(TypeError, match="detach"):
        copy.deepcopy(y)
    assert pickle.loads(pickle.dumps(y.detach())).data.tolist() == [2.0, 2.0]


def test_float16_max_ties_share_the_gradient_exactly():
    x = ag.tensor(np.zeros((3000, 2), np.float16), requires_grad=True)
    ag.max(x, axis=0).sum().backward()
    np.testing.assert_allclose(x.grad.data.astype(np.float64).sum(axis=0), [1.0, 1.0],
                               rtol=1e-3)


def test_linear_does_not_keep_its_bias():
    import nn.functional as F
    x = ag.tensor(np.ones((2, 3)), requires_grad=True)
    w = ag.tensor(np.ones((4, 3)), requires_grad=True)
    b = ag.tensor(np.zeros(4), requires_grad=True)
    y = F.linear(x, w, b)
    with ag.no_grad():
        b += 1.0                                   # no gradient needs b's value
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 4.0))
    np.testing.assert_array_equal(b.grad.data, np.full(4, 2.0))


# ---------------------------------------------------------------- the array walk
class _Twice(ag.Function):
    """A user-written op: its rule must see Tensors even in the array walk."""

    seen = []

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        _Twice.seen.append((type(g), type(x)))
        return g * 2


def test_user_functions_get_tensors_in_the_array_walk():
    _Twice.seen.clear()
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    (_Twice.apply(x.tanh()) * x).sum().backward()
    assert _Twice.seen == [(ag.Tensor, ag.Tensor)]
    np.testing.assert_allclose(x.grad.data, 2 * np.tanh(x.data) + 2 * x.data
                               * (1 - np.tanh(x.data) ** 2), rtol=1e-6)


def _square(seen):
    """x², with ``array_rule`` set; its rule records the types it is handed in ``seen``."""

    class Square(ag.Function):
        array_rule = True

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            seen.append((type(g), type(x)))
            return 2 * x * g

    return Square


def test_an_array_rule_function_gets_arrays():
    seen = []
    square = _square(seen)
    x = ag.tensor([1.0, 3.0], requires_grad=True)
    square.apply(x).sum().backward()
    assert seen == [(np.ndarray, np.ndarray)]
    np.testing.assert_allclose(x.grad.data, [2.0, 6.0])
    # With create_graph the same rule gets Tensors and can be differentiated again.
    (g,) = ag.grad(square.apply(x).sum(), [x], create_graph=True)
    assert seen[-1] == (ag.Tensor, ag.Tensor) and g.grad_fn is not None


def test_hooks_and_retain_grad_get_tensors_in_the_array_walk():
    seen = []
    x = ag.tensor(0.5, requires_grad=True)
    y = x * 3.0                     # 0-d: travels as a NumPy scalar in the walk
    y.register_hook(lambda g: seen.append(type(g)) or g * 10)
    y.retain_grad()
    (y.tanh()).backward()
    assert seen == [ag.Tensor]
    assert type(y.grad) is ag.Tensor and type(y.grad.data) is np.ndarray
    np.testing.assert_allclose(x.grad.data, 30 * (1 - np.tanh(1.5) ** 2), rtol=1e-6)


def test_scalar_chains_leave_array_gradients():
    w = ag.tensor(0.9, requires_grad=True)
    a = ag.tensor(0.5)
    for _ in range(5):
        a = (a * w).tanh()
    a.backward()
    assert type(w.grad) is ag.Tensor and type(w.grad.data) is np.ndarray
    assert w.grad.shape == () and w.grad.dtype == np.float32
    w.grad.data += 1                # owned by .grad: writeable


def test_array_mode_is_off_after_a_failed_backward():
    from autograd.grad_mode import _state

    class Broken(ag.Function):
        array_rule = True

        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            raise ZeroDivisionError("rule failed")

    x = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(ZeroDivisionError):
        Broken.apply(x).sum().backward()
    assert _state.arrays is False
    assert type(ag.exp(np.zeros(2))) is ag.Tensor     # apply wraps results again


def test_array_walk_checks_saved_versions():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y.tanh()                    # saves its output
    w = y * y                       # saves y
    y += 1
    with pytest.raises(RuntimeError, match="mul"):
        (z + w).sum().backward()


@pytest.mark.parametrize("kind", ["mul", "rmul", "linear_input", "linear_weight"])
def test_a_product_with_one_constant_factor_checks_and_uses_it(kind):
    # A product whose other factor needs no gradient keeps that factor alone (no tuple;
    # Function.apply): its gradient, retain_graph, double backward, and the
    # version check when the kept factor is modified in place, or was already.
    import nn.functional as F
    x = ag.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=np.float64, requires_grad=True)
    c = ag.tensor([[2.0, 3.0], [-1.0, 4.0]], dtype=np.float64)
    ops = {"mul": lambda x, c: x * c, "rmul": lambda x, c: c * x,
           "linear_input": lambda x, c: F.linear(c, x),
           "linear_weight": lambda x, c: F.linear(x, c)}
    f = ops[kind]
    want = {"mul": c.data, "rmul": c.data, "linear_input": np.ones((2, 2)) @ c.data,
            "linear_weight": np.ones((2, 2)) @ c.data}[kind]
    y = f(x, c)
    y.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.data, want)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2 * want)
    (gx,) = ag.grad([f(x, c).sum()], [x], create_graph=True)
    np.testing.assert_array_equal(gx.data, want)

    y = f(x, c)
    with ag.no_grad():
        c += 1.0
    with pytest.raises(RuntimeError, match=r"`(mul|linear)`.*modified in place"):
        y.sum().backward()
    y = f(x, c)     # c is at version 1 now: kept with its version
    want = c.data if kind in ("mul", "rmul") else np.ones((2, 2)) @ c.data
    np.testing.assert_array_equal(ag.grad([y.sum()], [x], retain_graph=True)[0].data, want)
    c += 1.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_number_returned_for_an_input_that_takes_no_gradient_is_ignored(create_graph):
    # A rule may return a plain number for a non-Tensor argument or a frozen parameter:
    # the walk drops it, also with create_graph (where gradients are not converted).
    import nn

    class Scale(ag.Function):
        @staticmethod
        def forward(ctx, x, k, p):
            return x * k + p

        @staticmethod
        def backward(ctx, g):
            return g * 2.0, 0.0, 1.0

    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    p = nn.Parameter(np.zeros(2))
    p.requires_grad_(False)
    (gx,) = ag.grad([Scale.apply(x, 2.0, p).sum()], [x], create_graph=create_graph)
    np.testing.assert_array_equal(gx.data, [2.0, 2.0])


def test_saved_tensors_of_a_node_that_saved_nothing_is_empty():
    class NoSave(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            assert tuple(ctx.saved_tensors) == ()
            return g * 2

    x = ag.tensor([1.0, 2.0], requires_grad=True)
    NoSave.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    for y in (x + 1, -x, x.sum(), x.reshape(2, 1), x[0]):
        assert tuple(y.grad_fn.saved_tensors) == ()


def test_a_gradient_reaching_two_inputs_is_read_only():
    # (x + y).sum() hands the same gradient to x and y: writing into one must not
    # change the other silently, for a small gradient as for a large one.
    for n in (6, 5000):
        x = ag.Tensor(np.ones(n), requires_grad=True)
        y = ag.Tensor(np.ones(n), requires_grad=True)
        gx, gy = ag.grad([(x + y).sum()], [x, y])
        with pytest.raises(ValueError, match="read-only"):
            gx.data[0] = 5.0
        assert gy.data[0] == 1.0


@pytest.mark.parametrize("factor", [0.0, 0, np.float32(0.0), np.zeros(2), False])
def test_a_product_with_a_zero_constant_has_a_zero_gradient(factor):
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    (x * factor).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    x.grad = None
    (factor * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


def test_a_constant_used_by_many_ops_gets_one_stand_in_and_is_freed():
    from autograd.function import _Released
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    c = ag.tensor([3.0, 4.0])
    y = x
    for _ in range(3):
        y = y * c + c
    from autograd.engine import topological_order
    nodes = topological_order([y.grad_fn])
    y.sum().backward()
    stand_ins = {id(e) for n in nodes for e in n.next if isinstance(e, _Released)}
    assert len(stand_ins) == 1
    ref = weakref.ref(c)
    del c
    gc.collect()
    assert ref() is None            # the graph (y is alive) does not keep it
    assert "released constant" in repr(nodes[0].next[1])


def test_in_place_on_a_result_that_saved_its_output_keeps_working():
    x = ag.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()
    y *= 2                          # recorded: y is now 2·exp(x), its own saved output moved
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(x.data), rtol=1e-6)


def test_array_rules_get_large_values_as_tensors():
    # Large arrays (autograd.buffers.MIN_BYTES) stay Tensors in the array walk, so the
    # rule's arithmetic on them goes through apply and reuses buffers.
    from autograd import buffers
    seen = []
    square = _square(seen)
    for n, kind in ((8, np.ndarray), (buffers.MIN_BYTES // 8 + 1, ag.Tensor)):
        x = ag.Tensor(np.full(n, 3.0), requires_grad=True)
        square.apply(x).sum().backward()
        assert seen[-1] == (kind, kind)
        np.testing.assert_array_equal(x.grad.data, np.full(n, 6.0))


def test_a_gradient_of_an_ndarray_subclass_is_not_written_into():
    class Sub(np.ndarray):
        pass

    x = ag.tensor([1.0, 2.0], requires_grad=True)
    seed = np.ones(2, np.float32).view(Sub)
    x.backward(gradient=ag.Tensor(seed))
    x.backward(gradient=ag.tensor([5.0, 5.0]))
    np.testing.assert_array_equal(seed, [1.0, 1.0])
    assert not np.shares_memory(x.grad.data, seed)
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_0d_pow_gradients_are_the_same_in_both_walks(dtype):
    for v in np.random.default_rng(1).uniform(0.1, 3.0, 200).astype(dtype):
        x = ag.Tensor(np.asarray(v), requires_grad=True)
        (fast,) = ag.grad(x ** 1.7, [x])
        (slow,) = ag.grad(x ** 1.7, [x], create_graph=True)
        assert fast.data.tobytes() == slow.data.tobytes(), v


def test_a_retained_gradient_of_a_0d_sum_is_writeable():
    x = ag.tensor(1.0, requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.sum().backward()
    y.grad.data += 1
    assert y.grad.item() == 2.0


def test_a_copy_made_by_reshape_does_not_keep_the_saved_output_alive():
    x = ag.Tensor(np.ones((64, 64)), requires_grad=True)
    y = x.exp()                     # saves its output
    ref = weakref.ref(y.data)
    z = y.T.reshape(-1)             # a copy, sharing y's version counter
    del y
    z.sum().backward()
    gc.collect()
    assert ref() is None
    assert z.shape == (4096,)


def test_a_users_subclass_of_a_builtin_op_gets_tensors():
    from autograd.ops.elementwise import Exp
    seen = []

    class MyExp(Exp):
        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            seen.append((type(g), type(out)))
            return g * out

    assert Exp.array_rule and not MyExp.array_rule
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    MyExp.apply(x).sum().backward()
    assert seen == [(ag.Tensor, ag.Tensor)]
    np.testing.assert_allclose(x.grad.data, np.exp([0.0, 1.0]), rtol=1e-6)


def test_a_large_result_inside_an_array_rule_is_a_tensor():
    # A small gradient broadcast to a large shape (max-pool's rule does this) comes back
    # from apply as a Tensor, so the rule's next arithmetic reuses buffers.
    from autograd import buffers
    n = buffers.MIN_BYTES // 8 + 1
    seen = []

    class Twice(ag.Function):
        array_rule = True

        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            small = ag.sum(g)                   # arrays in: an array out
            big = ag.broadcast_to(small, (n,))  # large: a Tensor
            seen.append((type(small), type(big)))
            return (ag.sum(big) / n) * np.ones(2)

    x = ag.Tensor(np.ones(2), requires_grad=True)
    Twice.apply(x).sum().backward()
    assert seen == [(np.float64, ag.Tensor)]
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


def test_a_mixin_backward_on_a_builtin_op_gets_tensors():
    from autograd.ops.elementwise import Mul

    class Detaching:
        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g.detach() * b, g.detach() * a

    class MyMul(Detaching, Mul):
        pass

    class Declared(Detaching, Mul):
        array_rule = False

    assert not MyMul.array_rule and not Declared.array_rule and Mul.array_rule
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    MyMul.apply(x, x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])


def test_broadcast_to_of_a_list_of_the_target_shape():
    t = ag.broadcast_to([1.0, 2.0], (2,))
    assert type(t) is ag.Tensor and t.shape == (2,)
    np.testing.assert_array_equal(t.data, [1.0, 2.0])


# ----- ops that are one ufunc (Function.ufunc): apply calls it for small operands
_UFUNC_OPS = [("add", np.add, 2), ("sub", np.subtract, 2), ("mul", np.multiply, 2),
              ("neg", np.negative, 1), ("exp", np.exp, 1), ("log", np.log, 1),
              ("sqrt", np.sqrt, 1), ("tanh", np.tanh, 1)]


@pytest.mark.parametrize("name, ufunc, arity", _UFUNC_OPS)
@pytest.mark.parametrize("size", [0, 5, "large"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ufunc_ops_equal_numpy_for_small_and_large_operands(name, ufunc, arity, size, dtype):
    from autograd import buffers
    from autograd.ops import elementwise
    fn = {"add": elementwise.Add, "sub": elementwise.Sub, "mul": elementwise.Mul,
          "neg": elementwise.Neg, "exp": elementwise.Exp, "log": elementwise.Log,
          "sqrt": elementwise.Sqrt, "tanh": elementwise.Tanh}[name]
    assert fn.ufunc is ufunc
    n = buffers.MIN_BYTES // np.dtype(dtype).itemsize + 3 if size == "large" else size
    shape = () if n == 0 else (n,)
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, shape).astype(dtype)
    b = rng.uniform(0.5, 2.0, shape).astype(dtype)
    ta = ag.tensor(a, requires_grad=True)
    args = (ta, ag.tensor(b)) if arity == 2 else (ta,)
    expected = ufunc(a, b) if arity == 2 else ufunc(a)
    for record in (True, False):
        with ag.set_grad_enabled(record):
            out = fn.apply(*args)
        assert out.data.__class__ is np.ndarray and out.dtype == expected.dtype
        np.testing.assert_array_equal(out.data, expected)
        assert (out.grad_fn is not None) == record
    if arity == 2:      # with a Python number beside the array, both ways round
        np.testing.assert_array_equal(fn.apply(ta, 2.0).data, ufunc(a, 2.0))
        np.testing.assert_array_equal(fn.apply(2.0, ta).data, ufunc(2.0, a))


class _TensorSubclass(ag.Tensor):
    __slots__ = ()


class _ArraySubclass(np.ndarray):
    pass


_GRAD_KINDS = ("leaf", "node", "product", "subclass")


def _operand(kind, values, version=None):
    """An operand of apply for the apply_ufunc comparison below (a new one per call)."""
    values = np.array(values, copy=True)
    if kind == "array":
        return values
    if kind == "float":
        return float(values.real.flat[0])
    if kind == "int":                   # (a NaN's stand-in: -3)
        v = values.real.flat[0]
        return int(v) if np.isfinite(v) else -3
    if kind == "strided":
        return ag.Tensor(np.repeat(values, 2, axis=-1)[..., ::2] if values.ndim else values)
    if kind == "readonly":
        values.setflags(write=False)
        return ag.Tensor(values)
    if kind == "array subclass":
        return ag.Tensor(values.view(_ArraySubclass), requires_grad=values.dtype.kind == "f")
    if kind == "object":                # requires grad, its array set to objects by hand
        t = ag.Tensor(values, requires_grad=True)
        t.data = values.astype(object)
        return t
    t = ag.Tensor(values, requires_grad=kind in _GRAD_KINDS or kind == "cleared")
    if kind == "subclass":
        t = _TensorSubclass(t.data, requires_grad=True)
    if version is not None:
        t.detach()                      # a version counter, at 0
        with ag.no_grad():
            for _ in range(version):
                t += 0                  # in place: the version moves on
    if kind == "node":                  # a non-leaf with a version counter (a view)
        t = t.reshape(t.shape)
    elif kind in ("product", "cleared"):     # a non-leaf without one
        t = t * 1.0
        if kind == "cleared":
            t.requires_grad = False     # by hand: its node is no edge any more
    return t


def _exact(x):
    """An array's class and every bit, for comparing results (-0.0, NaN)."""
    kind = type(x)
    x = np.asarray(x)
    return (kind, x.dtype, x.shape, x.tobytes() if x.dtype != object else repr(x.tolist()))


def _recorded(t, args):
    """What apply recorded for its output ``t`` from ``args``, comparable across two
    calls: the arguments (and their nodes) it refers to by position."""
    from autograd import buffers, function

    def ref(v):
        for i, a in enumerate(args):
            if v is a:
                return ("argument", i)
            if v is getattr(a, "grad_fn", 0):
                return ("node of argument", i)
        if hasattr(v, "vc"):            # a saved output
            return ("output", _exact(v.data), v.vc, v.version, v.vc is t._vc)
        return v

    n = t.grad_fn
    out = dict(cls=type(t), data=_exact(t.data), requires_grad=t.requires_grad, vc=t._vc,
               grad=t.grad, hooks=t._hooks, buffer=buffers.owns(t.data),
               operand_vcs=[getattr(a, "_vc", None) for a in args])
    if n is None:
        return out
    saved = n.saved
    saved = [type(saved)] + [ref(s) for s in saved] if isinstance(saved, (tuple, list)) \
        else ref(saved)
    input_seqs = [e.seq for e in n if isinstance(e, function.Node)]
    out.update(fn=n.fn, edges=[ref(e) for e in n], saved=saved, versions=n.versions,
               node_shape=n.shape, shared_shape=not n.shape or function._SHAPES.get(n.shape) is n.shape,
               node_dtype=n.dtype, hooks_=n.hooks, retain=n.retain,
               seq_after_inputs=type(n.seq) is int and n.seq > max(input_seqs, default=-1),
               seq_latest=n.seq == next(function._seqs) - 1,
               attributes=sorted(getattr(n, "__dict__", {})))
    return out


def _gradients(out, args, second):
    leaves = [a for a in args if isinstance(a, ag.Tensor) and a.requires_grad]
    if not out.requires_grad or not leaves:
        return None
    ones = ag.Tensor(np.ones(out.shape, out.dtype))
    gs = ag.grad(out, leaves, grad_outputs=ones, create_graph=second, allow_unused=True)
    result = [None if g is None else _exact(g.data) for g in gs]
    if second:      # and the gradients of their sum of squares
        s = sum((g * g).sum() for g in gs if g is not None)
        if isinstance(s, ag.Tensor) and s.requires_grad:
            result += [None if g is None else _exact(g.data)
                       for g in ag.grad(s, leaves, allow_unused=True)]
    return result


def _ufunc_call(call, cls, kinds, values, versions, mode, second, handed_on=()):
    """One call of ``call`` (an apply) on new operands: what it returned or raised,
    what it recorded, its warnings and gradients; and how many entries the call itself
    added to ``handed_on``."""
    import contextlib
    args = [_operand(k, v, ver) for k, v, ver in zip(kinds, values, versions)]
    if kinds[-1] == "same":     # x * x
        args[-1] = args[0]
    context = {"default": contextlib.nullcontext, "no_grad": ag.no_grad,
               "anomaly": ag.detect_anomaly}[mode]
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        before = len(handed_on)
        try:
            with context():
                out = call(cls, *args)
        except (ValueError, TypeError, ArithmeticError) as e:   # (x / 0 on object arrays)
            return (type(e), str(e), type(e.__cause__), type(e.__context__),
                    [(w.category, str(w.message)) for w in caught]), len(handed_on) - before
        calls = len(handed_on) - before
        rec = _recorded(out, args)
        rec["grads"] = _gradients(out, args, second)
    rec["warnings"] = [(w.category, str(w.message)) for w in caught]
    return rec, calls


_SMALL = {"0-d f32": np.float32(0.75), "0-d f64": np.float64(-0.25), "0-d f16": np.float16(0.5),
          "1-d f32": np.float32([0.5, 2.0]), "2-d f64": np.float64([[0.5, -2.0], [0.0, 3.0]]),
          "1-d f16": np.float16([0.5, 60000.0]), "1-d int": np.int64([1, 2]),
          "1-d bool": np.array([True, False]), "1-d c128": np.complex128([1j, 2.0]),
          "nan, -0": np.float64([np.nan, -0.0]), "3 f64": np.float64([1.0, 2.0, 3.0])}
_CONST_KINDS = ("const", "strided", "readonly", "array subclass", "cleared", "array", "float",
                "int")


def _ufunc_cases(binary):
    """(kinds, values, versions) of the apply_ufunc comparison."""
    from autograd import buffers
    kinds = _GRAD_KINDS + _CONST_KINDS + ("object",)
    names = list(_SMALL)
    for vals in itertools.product(names, repeat=2 if binary else 1):
        for ks in itertools.product(kinds, repeat=len(vals)):
            if any(k in _GRAD_KINDS + ("cleared", "object") and _SMALL[v].dtype.kind != "f"
                   for k, v in zip(ks, vals)):
                continue            # only floating-point tensors can require grad
            yield ks, [_SMALL[v] for v in vals], [None] * len(vals)
    tensors = _GRAD_KINDS + ("const", "cleared")
    for ks in itertools.product(tensors, repeat=2 if binary else 1):      # versions
        for vs in itertools.product([None, 0, 2], repeat=len(ks)):
            yield ks, [_SMALL["1-d f32"]] * len(ks), list(vs)
    for k in _GRAD_KINDS + ("const", "object"):
        for v in ("0-d f32", "1-d f32", "2-d f64"):
            yield ((k, "same"), [_SMALL[v]] * 2, [None, None]) if binary else \
                ((k,), [_SMALL[v]], [None])
    large = np.ones(buffers.MIN_BYTES // 8, np.float64)     # nbytes == MIN_BYTES: large
    for ks in itertools.product(("leaf", "const"), repeat=2 if binary else 1):
        for vals in itertools.product([large, large[:-1]], repeat=len(ks)):
            yield ks, list(vals), [None] * len(ks)


def _user_ufunc_ops():
    """Ufunc ops as a user could write them, for the comparison below."""
    from autograd.ops import elementwise

    class NegView(elementwise.Neg):     # (returns_view is read when the class is made)
        returns_view = True

    class Pair(elementwise._Unary):     # a ufunc of Python objects, that returns tuples
        ufunc = np.frompyfunc(lambda v: (v, v), 1, 1)

        @staticmethod
        def backward(ctx, g):
            return g

    class LogAddExp(elementwise._Binary):   # a NumPy ufunc with no operator
        ufunc = np.logaddexp

        @staticmethod
        def backward(ctx, g):
            return g, g

    return {"NegView": NegView, "Pair": Pair, "LogAddExp": LogAddExp}


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Neg", "Exp", "Log", "Sqrt",
                                "Tanh", "NegView", "Pair", "LogAddExp"])
def test_apply_ufunc_records_what_function_apply_records(op, monkeypatch):
    # apply_ufunc (the ufunc ops' apply) takes their common case in a pass of its own:
    # over operand kinds, dtypes, shapes, special values, version counters and modes it
    # must return or raise, record, warn and differentiate (twice) exactly as the
    # generic Function.apply, and run Function.apply at most once (when it hands on).
    from autograd.function import Function
    from autograd.ops import elementwise
    cls = getattr(elementwise, op, None) or _user_ufunc_ops()[op]
    generic = Function.__dict__["apply"].__func__
    handed_on = []
    from autograd import function
    monkeypatch.setattr(function, "_apply",     # apply_ufunc's way to Function.apply
                        lambda cls, *a: handed_on.append(1) or generic(cls, *a))
    binary = issubclass(cls, elementwise._Binary)
    cases = fast = 0
    for kinds, values, versions in _ufunc_cases(binary):
        modes = ["default"]
        if kinds[0] in ("leaf", "const") and versions[0] is None and values[0].ndim <= 1:
            modes += ["no_grad", "anomaly"]
        for mode in modes:
            second = mode == "default" and values[0].dtype == np.float64
            mine, calls = _ufunc_call(lambda c, *a: c.apply(*a), cls, kinds, values, versions,
                                      mode, second, handed_on)
            reference = _ufunc_call(generic, cls, kinds, values, versions, mode, second)[0]
            assert mine == reference, (kinds, values, versions, mode)
            assert calls <= 1
            cases += 1
            fast += calls == 0
    # (Most cases hand on; the common ones must not: see the test below too. An op
    # that returns a view is always handed on.)
    assert cases > (10000 if binary else 100)
    assert fast == 0 if op == "NegView" else fast > (300 if binary else 30)


def test_apply_ufunc_takes_the_common_case_itself(monkeypatch):
    # The comparison above holds also if apply_ufunc handed every call on: check that
    # plain Tensors of small arrays, one of them requiring grad, alone or beside a Python
    # number or a plain array, do not go there, and that a call it hands on or an error
    # runs Function.apply once at most.
    from autograd.function import Function
    calls = []
    generic = Function.__dict__["apply"]
    from autograd import function
    monkeypatch.setattr(function, "_apply",     # apply_ufunc's way to Function.apply
                        lambda cls, *a: calls.append(cls) or generic.__func__(cls, *a))
    x = ag.tensor([0.5, 2.0], requires_grad=True)
    c = ag.tensor([3.0, 4.0])
    s = ag.tensor(np.float32(0.5), requires_grad=True)
    import nn
    p = nn.Parameter(np.array([1.5, -1.0]))     # a Tensor subclass (p * p: an L2 term)
    m = np.array([[1.0], [2.0]], np.float32)
    for y in (x * c, c + x, x - x, (s * s + s).tanh(), x.exp().log().sqrt(), -x,
              p * p, c * p, p.exp(), x / c, c / x,
              x * 2.0, 1 - x, x / 3, 2.0 / x, 0 + p, s * 2, x - m, m * x,
              s - np.ones((), np.float32)):
        assert y.grad_fn is not None
    assert calls == []
    with pytest.raises(ValueError, match="^mul: ") as raised:
        x * ag.tensor(np.ones(3))               # shapes that do not broadcast
    assert calls == [] and isinstance(raised.value.__cause__, ValueError)
    with pytest.raises(ValueError, match="^add: "):
        x + np.ones(3)                          # an array operand, and an error there
    assert calls == []
    x * np.float64(2.0)                         # a NumPy scalar: the generic apply
    x + True                                    # a bool too
    c * 2.0                                     # nothing requires grad
    x * np.ones((2, 2), np.float32).view(_ArraySubclass)     # an array subclass
    ag.Tensor(np.ones(2).view(_ArraySubclass), requires_grad=True) * np.ones(2)  # in it
    assert [c.__name__ for c in calls] == ["Mul", "Add", "Mul", "Mul", "Mul"]


def test_apply_ufunc_keeps_applys_signature_name_and_errors():
    import pickle
    from autograd.ops import elementwise
    x = ag.tensor([0.5, 2.0], requires_grad=True)
    with pytest.raises(TypeError):
        elementwise.Add.apply(x, b=x)           # positional only, as Function.apply
    with pytest.raises(TypeError, match="^add: "):
        elementwise.Add.apply(x, x, x)          # the generic apply's refusal
    assert pickle.loads(pickle.dumps(elementwise.Mul.apply)) == elementwise.Mul.apply
    assert elementwise.Mul.apply.__name__ == "apply"


def test_a_ufunc_op_with_several_outputs_or_save_other_on_one_input_is_refused():
    from autograd.ops import elementwise

    class Frexp(elementwise._Unary):
        ufunc = np.frexp

        @staticmethod
        def backward(ctx, g):
            return g

    for value in ([0.5, 3.0], np.float32(3.0)):
        with pytest.raises(TypeError, match="^frexp: forward must return one array"):
            Frexp.apply(ag.tensor(value, requires_grad=True))
    with pytest.raises(TypeError, match="save_other"):
        class Halved(elementwise._Unary):    # noqa: F841
            ufunc = np.negative
            save_inputs = save_other = True


def test_apply_calls_the_ufunc_for_small_operands_and_forward_for_large_ones(monkeypatch):
    from autograd import buffers
    from autograd.ops import elementwise
    calls = []
    forward = elementwise._Binary.__dict__["forward"].__func__
    monkeypatch.setattr(elementwise._Binary, "forward",
                        classmethod(lambda cls, ctx, a, b: calls.append(1) or forward(cls, ctx, a, b)))
    small = ag.tensor(np.ones(4), requires_grad=True)
    np.testing.assert_array_equal((small * small).data, 1.0)
    assert calls == []
    large = ag.tensor(np.ones(buffers.MIN_BYTES // 8 + 1), requires_grad=True)
    np.testing.assert_array_equal((large * large).data, 1.0)
    assert calls == [1]


def test_two_0d_float_operands_take_numpys_scalar_arithmetic(monkeypatch):
    from autograd.ops import elementwise
    used = []
    monkeypatch.setattr(elementwise.Mul, "_scalar2",
                        lambda a, b: used.append((type(a), type(b))) or a * b)
    f32 = ag.tensor(np.float32(1.5), requires_grad=True)
    out = f32 * ag.tensor(np.float32(3.0))
    assert out.data.__class__ is np.ndarray and out.data.shape == () and out.dtype == np.float32
    assert out.item() == 4.5 and used == [(np.float32, np.float32)]
    mixed = f32 * ag.tensor(np.float64(0.1))         # promotes as the ufunc does
    assert mixed.dtype == np.float64
    assert mixed.item() == np.multiply(np.array(1.5, np.float32), np.array(0.1))
    assert mixed.item() != float(np.multiply(np.float32(1.5), np.float32(0.1)))
    used.clear()
    f32 * ag.tensor(np.ones(1, np.float32))          # one element, but not 0-d
    f32 * 2.0                                        # a Python number
    ag.tensor(np.ones(2)) * ag.tensor(np.ones(2))
    assert used == []


def test_a_0d_object_operand_of_a_unary_op_keeps_the_object_loop():
    # Its scalar is a Python number, which would select the float loop instead.
    with pytest.raises(TypeError, match="^exp: "):
        ag.exp(np.array(2.0, dtype=object))


def test_a_subclass_ufunc_attribute_need_not_be_hashable():
    from autograd.ops import elementwise

    class Scaled:
        __hash__ = None

        def __call__(self, a, b):
            return np.add(a, b) * 2

    class Twice(elementwise.Add):
        ufunc = Scaled()

    x = ag.tensor(np.float64(1.5), requires_grad=True)
    assert Twice.apply(x, x).item() == 6.0
    np.testing.assert_array_equal(Twice.apply(ag.tensor([1.0]), ag.tensor([2.0])).data, [6.0])


def test_0d_integer_operands_keep_the_ufuncs_wraparound():
    # NumPy's integer scalar arithmetic warns on overflow where the ufunc wraps silently:
    # only float operands take the scalar shortcut.
    big = ag.tensor(np.array(2 ** 62, dtype=np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = big * ag.tensor(np.array(4, dtype=np.int64))
    assert out.data.__class__ is np.ndarray
    assert out.item() == np.multiply(np.array(2 ** 62, np.int64), np.array(4, np.int64))


def test_a_subclass_or_mixin_forward_runs_instead_of_the_ufunc():
    from autograd.ops import elementwise

    class Twice(elementwise.Add):
        @staticmethod
        def forward(ctx, a, b):
            return np.add(a, b) * 2

    class Mixin:
        @staticmethod
        def forward(ctx, a, b):
            return np.add(a, b) * 10

    class Mixed(Mixin, elementwise.Add):
        pass

    class Logged(elementwise.Add):      # its own forward, calling the inherited one
        @classmethod
        def forward(cls, ctx, a, b):
            return super().forward(ctx, a, b) + 1

    x = ag.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(Twice.apply(x, x).data, [4.0, 8.0])
    np.testing.assert_array_equal(Mixed.apply(x, x).data, [20.0, 40.0])
    np.testing.assert_array_equal(Logged.apply(x, x).data, [3.0, 5.0])
    assert elementwise.Add._ufunc2 is np.add
    assert Twice._ufunc2 is Mixed._ufunc2 is Logged._ufunc2 is None


def test_a_users_ufunc_attribute_is_not_the_shortcut():
    class Reducer(ag.Function):
        ufunc = np.add          # the user's own attribute: forward still runs

        @staticmethod
        def forward(ctx, x, axis):
            return np.add.reduce(x, axis=axis)

        @staticmethod
        def backward(ctx, g):
            return g, None

    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(Reducer.apply(x, 0).data, [3.0, 5.0, 7.0])


def test_a_unary_op_given_two_arguments_refuses_them():
    from autograd.ops import elementwise
    x, y = ag.tensor([1.0, 2.0], requires_grad=True), ag.tensor([5.0, 6.0])
    with pytest.raises(TypeError, match="^neg: "):
        elementwise.Neg.apply(x, y)     # (NumPy would take y as out=)
    np.testing.assert_array_equal(y.data, [5.0, 6.0])


def test_a_ufunc_op_names_itself_and_the_shapes_when_numpy_refuses():
    x = ag.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"^add: .*Tensor\(3,\) float64, Tensor\(2,\) float64"):
        x + ag.tensor(np.ones(2))
    with pytest.raises(TypeError, match=r"^mul: "):
        x * "a"


# ----- a gradient nothing else refers to becomes .grad without a copy (AccumulateGrad)
class _Returns(ag.Function):
    """Identity forward; backward returns ``_Returns.grad`` (set by the test) and keeps
    the address of the array it returned."""
    grad = None
    address = None

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        made = _Returns.grad()
        _Returns.address = made.ctypes.data
        return made


def _big(n):
    from autograd import buffers
    return buffers.MIN_BYTES // 8 + 1 if n == "large" else n


@pytest.mark.parametrize("n", [3, 5000, "large"])
def test_an_unshared_leaf_gradient_is_taken_without_a_copy(n):
    x = leaf(np.zeros(_big(n)))
    _Returns.grad = lambda: np.full(x.shape, 2.0)     # a new array nobody keeps
    _Returns.apply(x).backward(np.ones(x.shape))
    assert x.grad.data.ctypes.data == _Returns.address
    np.testing.assert_array_equal(x.grad.data, 2.0)
    assert x.grad.data.flags.writeable


@pytest.mark.parametrize("n", [3, 5000, "large"])
def test_a_leaf_gradient_that_something_else_holds_is_copied(n):
    n = _big(n)
    kept = np.full(n, 2.0)
    x = leaf(np.zeros(n))
    _Returns.grad = lambda: kept                            # a global's array
    _Returns.apply(x).backward(np.ones(n))
    assert not np.shares_memory(x.grad.data, kept)
    base = np.full(2 * n, 2.0)
    _Returns.grad = lambda: base[:n]                        # a view: base is not None
    x.grad = None
    _Returns.apply(x).backward(np.ones(n))
    assert not np.shares_memory(x.grad.data, base)
    frozen = np.full(n, 2.0)
    frozen.flags.writeable = False
    _Returns.grad = lambda: _frozen_copy(frozen)
    x.grad = None
    _Returns.apply(x).backward(np.ones(n))
    assert x.grad.data.flags.writeable                      # a read-only one: copied


def _frozen_copy(a):
    c = a.copy()
    c.flags.writeable = False
    return c


@pytest.mark.parametrize("n", [3, 5000, "large"])
def test_two_leaves_given_the_same_gradient_get_their_own(n):
    n = _big(n)
    a, b = leaf(np.ones(n)), leaf(np.ones(n))
    _Returns.grad = lambda: np.full(n, 3.0)
    _Returns.apply(a + b).backward(np.ones(n))      # add hands one array to both
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 10
    np.testing.assert_array_equal(b.grad.data, 3.0)


def test_a_seed_a_retained_grad_or_a_hook_keeps_its_array_out_of_grad():
    x = leaf(np.zeros(4))
    seed = np.ones(4)
    x.backward(seed)                                 # a leaf root: the seed is the gradient
    assert not np.shares_memory(x.grad.data, seed)
    y = leaf(np.zeros(4))
    h = y + 0.0                 # add hands its gradient on as it is
    h.retain_grad()
    (h * 2.0).backward(np.ones(4))
    assert not np.shares_memory(y.grad.data, h.grad.data)
    h2 = leaf(np.zeros(4))
    z = _Returns.apply(h2)
    _Returns.grad = lambda: np.full(4, 5.0)
    seen = []
    h2.register_hook(lambda g: seen.append(g))
    z.backward(np.ones(4))
    assert not np.shares_memory(h2.grad.data, seen[0].data)
    seen[0].data[...] = 0
    np.testing.assert_array_equal(h2.grad.data, 5.0)


def test_a_gradient_from_the_buffer_cache_becomes_grad_and_is_not_handed_out_again():
    from autograd import buffers
    n = buffers.MIN_BYTES // 8 + 1
    x = leaf(np.ones(n))
    (x * ag.tensor(np.full(n, 3.0))).backward(np.ones(n))   # g * 3: a cached array
    assert buffers.owns(x.grad.data)                        # taken, not copied
    junk = [x.detach() * 7.0 for _ in range(3)]             # later large results
    assert not any(np.shares_memory(j.data, x.grad.data) for j in junk)
    np.testing.assert_array_equal(x.grad.data, 3.0)
