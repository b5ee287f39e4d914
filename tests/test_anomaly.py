"""detect_anomaly, leak-hunting aids and grad-mode thread safety."""
import threading

import numpy as np
import pytest

import autograd as ag


def test_anomaly_names_op_input_and_user_line():
    x = ag.tensor([0.0, 1.0], dtype=np.float64, requires_grad=True)
    with ag.detect_anomaly():
        y = ag.sqrt(x)                      # d sqrt/dx = inf at 0
        loss = y.sum()
        with pytest.raises(RuntimeError) as info, np.errstate(divide="ignore"):
            loss.backward()
    msg = str(info.value)
    assert "`sqrt`" in msg and "input 0" in msg and "Inf" in msg
    assert "test_anomaly.py" in msg and "ag.sqrt(x)" in msg


def test_no_gradient_is_computed_for_an_input_that_needs_none():
    # A Inf that only such an input's gradient would carry is no anomaly: bias-only
    # training of a linear layer (frozen weight, constant input), and a product whose
    # leaf stopped requiring grad after the op was recorded.
    import nn.functional as F
    x = ag.Tensor(np.ones((2, 3)))
    w = ag.Tensor(np.full((4, 3), np.inf))
    b = ag.Tensor(np.zeros(4), requires_grad=True)
    a = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = ag.Tensor(np.array([np.inf, 1.0]), requires_grad=True)
    with ag.detect_anomaly(), np.errstate(all="raise"):
        F.linear(x, w, b).sum().backward()
        y = (a * c).sum()
        a.requires_grad = False
        y.backward()
    np.testing.assert_array_equal(b.grad.data, [2.0, 2.0, 2.0, 2.0])
    np.testing.assert_array_equal(c.grad.data, [1.0, 2.0])
    assert a.grad is None


def test_anomaly_off_by_default_lets_nan_through():
    x = ag.tensor([0.0, 1.0], dtype=np.float64, requires_grad=True)
    assert not ag.is_anomaly_enabled()
    with np.errstate(divide="ignore"):
        ag.sqrt(x).sum().backward()
    assert np.isinf(x.grad.data[0])


def test_anomaly_mode_restores_on_exit():
    with ag.detect_anomaly():
        assert ag.is_anomaly_enabled()
    assert not ag.is_anomaly_enabled()


def test_finite_gradients_pass_under_anomaly_mode():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    with ag.detect_anomaly():
        (x.log() * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.log(x.data) + 1)


def test_debug_summary_counts_live_nodes():
    x = ag.tensor(np.ones(3), requires_grad=True)
    before = ag.debug.summary()["nodes"].get("exp", 0)
    y = x.exp()
    assert ag.debug.summary()["nodes"].get("exp", 0) == before + 1
    del y
    assert ag.debug.summary()["nodes"].get("exp", 0) == before


def test_two_threads_train_like_serial():
    def train(seed, out, key):
        rng = np.random.default_rng(seed)
        w = ag.Tensor(rng.standard_normal((5, 1)), requires_grad=True)
        X, y = rng.standard_normal((32, 5)), rng.standard_normal((32, 1))
        for _ in range(50):
            loss = ((ag.Tensor(X) @ w - y) ** 2).mean()
            w.grad = None
            loss.backward()
            with ag.no_grad():
                w -= 0.1 * w.grad
        out[key] = w.data.copy()

    serial, threaded = {}, {}
    train(1, serial, 1)
    train(2, serial, 2)
    ts = [threading.Thread(target=train, args=(s, threaded, s)) for s in (1, 2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for k in (1, 2):
        np.testing.assert_array_equal(serial[k], threaded[k])
