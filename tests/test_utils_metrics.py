"""nn.utils (gradient clipping, mini-batches) and nn.metrics (accuracy, 0-1 loss)."""
import math

import numpy as np
import pytest

import autograd as ag
import nn
from nn.metrics import accuracy, zero_one_loss
from nn.utils import batches, clip_grad_norm_, clip_grad_value_


def with_grads(*grads, dtype=np.float64):
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros(np.shape(g), dtype))
        p.grad = ag.Tensor(np.array(g, dtype))
        params.append(p)
    return params


# ---------------------------------------------------------------- clip_grad_norm_
def test_clip_grad_norm_scales_to_max_norm():
    a, b = with_grads([3.0, 4.0], [[12.0]])        # joint 2-norm: sqrt(9 + 16 + 144) = 13
    ga = a.grad
    total = clip_grad_norm_([a, b], max_norm=6.5)
    assert isinstance(total, ag.Tensor) and total.shape == () and total.dtype == np.float64
    assert total.item() == pytest.approx(13.0, rel=1e-15)
    coef = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(a.grad.data, [3 * coef, 4 * coef], rtol=1e-15)
    np.testing.assert_allclose(b.grad.data, [[12 * coef]], rtol=1e-15)
    assert a.grad is ga                                   # in place


def test_clip_grad_norm_leaves_small_gradients_alone():
    a, b = with_grads([0.3, -0.4], [1.2])
    total = clip_grad_norm_(iter([a, b]), 2.0)            # a generator works too
    assert total.item() == pytest.approx(1.3)
    np.testing.assert_array_equal(a.grad.data, [0.3, -0.4])
    np.testing.assert_array_equal(b.grad.data, [1.2])


@pytest.mark.parametrize("norm_type,expected", [
    (1, 3 + 4 + 12),
    (3.0, (27 + 64 + 1728) ** (1 / 3)),
    (math.inf, 12.0),
    ("inf", 12.0),
])
def test_clip_grad_norm_other_orders(norm_type, expected):
    norm_type = float(norm_type)
    a, b = with_grads([3.0, -4.0], [-12.0])
    total = clip_grad_norm_([a, b], 1.0, norm_type=norm_type)
    assert total.item() == pytest.approx(expected, rel=1e-14)
    coef = 1.0 / (expected + 1e-6)
    np.testing.assert_allclose(b.grad.data, [-12.0 * coef], rtol=1e-14)


def test_clip_grad_norm_skips_params_without_grad_and_takes_one_tensor():
    (a,) = with_grads([6.0, 8.0])
    bare = nn.Parameter(np.ones(3))
    assert clip_grad_norm_([a, bare], 5.0).item() == pytest.approx(10.0)
    assert bare.grad is None
    np.testing.assert_allclose(a.grad.data, np.array([6.0, 8.0]) * 5 / (10 + 1e-6))
    assert clip_grad_norm_(a, 100.0).item() == pytest.approx(5.0, rel=1e-6)
    empty = clip_grad_norm_([bare], 1.0)
    assert empty.item() == 0.0


def test_clip_grad_norm_float32_does_not_overflow():
    big = 1e30
    (a,) = with_grads([big, big], dtype=np.float32)       # big**2 overflows float32
    total = clip_grad_norm_([a], 1.0)
    assert total.dtype == np.float32
    assert total.item() == pytest.approx(big * math.sqrt(2), rel=1e-6)
    np.testing.assert_allclose(a.grad.data, [2 ** -0.5] * 2, rtol=1e-6)


def test_clip_grad_norm_non_finite():
    a, b = with_grads([1.0, np.inf], [2.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(b.grad.data, [2.0])                   # untouched
    total = clip_grad_norm_([a, b], 1.0)                                # PyTorch: scaled by 0
    assert total.item() == math.inf
    np.testing.assert_array_equal(b.grad.data, [0.0])
    assert np.isnan(a.grad.data[1])
    c, d = with_grads([1.0, np.nan], [2.0])
    assert math.isnan(clip_grad_norm_([d, c], 1.0).item())              # NaN wins, any order
    assert np.isnan(d.grad.data).all()


def test_clip_grad_norm_argument_errors():
    (a,) = with_grads([1.0])
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_([a], -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_([a], 1.0, norm_type=0)
    with pytest.raises(TypeError, match="position 1"):
        clip_grad_norm_([a, np.ones(2)], 1.0)


def test_clip_grad_norm_on_a_graph_carrying_grad_replaces_it():
    x = ag.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    (x ** 2).sum().backward(create_graph=True)         # x.grad = 2x, with a graph
    clip_grad_norm_([x], 5.0)
    assert x.grad.grad_fn is None
    np.testing.assert_allclose(x.grad.data, np.array([6.0, 8.0]) * 5 / (10 + 1e-6))


# ---------------------------------------------------------------- clip_grad_value_
def test_clip_grad_value():
    a, b = with_grads([-3.0, 0.5, 2.0], [[0.1, -0.2]])
    g = a.grad
    assert clip_grad_value_([a, b], 1.0) is None
    np.testing.assert_array_equal(a.grad.data, [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad.data, [[0.1, -0.2]])
    assert a.grad is g
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_([a], -1)


# ---------------------------------------------------------------- batches
def test_batches_in_order_without_shuffle():
    x = np.arange(10).reshape(10, 1)
    y = np.arange(10) * 10
    got = list(batches(x, y, batch_size=4, shuffle=False))
    assert [len(xb) for xb, _ in got] == [4, 4, 2]
    for i, (xb, yb) in enumerate(got):
        np.testing.assert_array_equal(xb[:, 0], np.arange(4 * i, min(4 * i + 4, 10)))
        np.testing.assert_array_equal(yb, xb[:, 0] * 10)
    dropped = list(batches(x, batch_size=4, shuffle=False, drop_last=True))
    assert [xb.shape for (xb,) in dropped] == [(4, 1), (4, 1)]
    assert list(batches(x, batch_size=5, drop_last=True, shuffle=False))[-1][0][0, 0] == 5


def test_batches_shuffle_covers_everything_once_and_keeps_rows_aligned():
    x = np.arange(23)
    y = -np.arange(23)
    got = list(batches(x, y, batch_size=5, rng=np.random.default_rng(3)))
    assert [len(xb) for xb, _ in got] == [5, 5, 5, 5, 3]
    seen = np.concatenate([xb for xb, _ in got])
    assert sorted(seen) == list(range(23)) and not np.array_equal(seen, x)
    for xb, yb in got:
        np.testing.assert_array_equal(yb, -xb)
    dropped = np.concatenate([xb for xb, _ in batches(x, y, batch_size=5, rng=1,
                                                      drop_last=True)])
    assert len(dropped) == 20 and len(set(dropped)) == 20


def test_batches_randomness_comes_from_rng_or_the_global_generator():
    x = np.arange(50)

    def order(**kw):
        return np.concatenate([b for (b,) in batches(x, batch_size=7, **kw)])

    np.testing.assert_array_equal(order(rng=5), order(rng=np.random.default_rng(5)))
    ag.manual_seed(11)
    first = order()
    second = order()
    ag.manual_seed(11)
    np.testing.assert_array_equal(order(), first)
    assert not np.array_equal(first, second)           # a fresh permutation per epoch


def test_batches_of_tensors_are_tensors_and_carry_gradients():
    x = ag.Tensor(np.arange(6.0).reshape(6, 1), requires_grad=True)
    total = None
    for (xb,) in batches(x, batch_size=4, rng=0):
        assert isinstance(xb, ag.Tensor)
        s = (xb * xb).sum()
        total = s if total is None else total + s
    total.backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)
    (lb,) = next(batches([[1, 2], [3, 4]], batch_size=1, shuffle=False))
    assert isinstance(lb, np.ndarray) and lb.tolist() == [[1, 2]]


def test_batches_argument_errors_come_at_the_call():
    x = np.zeros(10)
    with pytest.raises(ValueError, match=r"same length.*\(10,\), \(9, 2\)"):
        batches(x, np.zeros((9, 2)), batch_size=2)
    with pytest.raises(ValueError, match="at least 1"):
        batches(x, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        batches(x, batch_size=2.5)
    with pytest.raises(ValueError, match="at least one array"):
        batches(batch_size=2)
    with pytest.raises(ValueError, match="0-d"):
        batches(np.float64(1.0), batch_size=2)
    with pytest.raises(TypeError, match="rng"):
        batches(x, batch_size=2, rng="seed")
    assert list(batches(np.zeros((0, 3)), batch_size=2)) == []


# ---------------------------------------------------------------- metrics
def test_accuracy_from_class_scores():
    scores = np.array([[2.0, 1.0, 0.0], [0.1, 0.2, 0.7], [0.3, 0.5, 0.2], [1.0, 3.0, 2.0]])
    target = np.array([0, 2, 0, 1])
    assert accuracy(scores, target) == 0.75
    assert zero_one_loss(scores, target) == 0.25
    assert isinstance(accuracy(scores, target), float)
    assert accuracy(ag.Tensor(scores, requires_grad=True), ag.Tensor(target)) == 0.75
    one_hot = np.eye(3)[target]
    assert accuracy(scores, one_hot) == 0.75
    assert accuracy(scores, target.astype(np.float32)) == 0.75


def test_accuracy_binary_probabilities():
    p = np.array([0.9, 0.2, 0.5, 0.51, 0.0])
    y = np.array([1, 0, 1, 1, 1])
    # 0.5 is not above the threshold, so it predicts 0
    assert accuracy(p, y) == 0.6
    assert accuracy(p[:, None], y) == 0.6 and accuracy(p[:, None], y[:, None]) == 0.6
    assert zero_one_loss(p, y.astype(np.float64)) == pytest.approx(0.4)


def test_accuracy_per_pixel_scores():
    scores = np.zeros((2, 3, 2, 2))
    scores[:, 1] = 1.0                       # class 1 everywhere
    target = np.ones((2, 2, 2), np.int64)
    target[0, 0, 0] = 2
    assert accuracy(scores, target) == 7 / 8


def test_accuracy_errors():
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*got \(3,\)"):
        accuracy(np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="binary scores"):
        accuracy(np.zeros(4), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least one sample"):
        accuracy(np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="class indices"):
        zero_one_loss(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(TypeError, match="numeric"):
        accuracy(np.array(["a", "b"]), np.zeros(2))
