"""nn.init: PyTorch's formulas, checked by statistics over large tensors, and the
default initialisation of every layer."""
import math

import numpy as np
import pytest

import autograd as ag
import nn
from nn import init

# 200,000 draws: the sample std of a mean or a std is below 0.3 % of the scale.
BIG = (400, 500)


def _param(shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype))


def _uniform_ok(x, bound):
    """U(-bound, bound): inside the bounds, reaching near them, mean 0, std bound/sqrt(3)."""
    assert np.abs(x).max() <= bound
    assert np.abs(x).max() > 0.99 * bound
    assert abs(x.mean()) < 0.01 * bound
    assert x.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)


def _normal_ok(x, std):
    assert abs(x.mean()) < 0.01 * std
    assert x.std() == pytest.approx(std, rel=0.01)
    # a normal, not a uniform of the same std: about 4.55 % beyond 2 std
    assert np.mean(np.abs(x) > 2 * std) == pytest.approx(0.0455, abs=0.003)


@pytest.mark.parametrize("name,param,gain", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
])
def test_calculate_gain(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain, rel=1e-12)


def test_calculate_gain_rejects_unknown_names_and_bad_slopes():
    with pytest.raises(ValueError, match="softsign"):
        init.calculate_gain("softsign")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "0.1")


def test_uniform_and_normal():
    t = _param(BIG)
    init.uniform_(t, -2.0, 3.0)
    assert t.data.min() >= -2.0 and t.data.max() < 3.0
    assert t.data.mean() == pytest.approx(0.5, abs=0.01)
    assert t.data.std() == pytest.approx(5 / math.sqrt(12), rel=0.01)
    init.normal_(t, 1.5, 0.5)
    _normal_ok(t.data - 1.5, 0.5)


def test_constant_ones_zeros():
    t = _param((3, 4))
    assert init.constant_(t, 0.25) is t
    np.testing.assert_array_equal(t.data, 0.25)
    np.testing.assert_array_equal(init.ones_(t).data, 1.0)
    np.testing.assert_array_equal(init.zeros_(t).data, 0.0)


def test_xavier():
    # fan_in = 500, fan_out = 400 for a (400, 500) weight
    t = _param(BIG)
    init.xavier_uniform_(t, gain=2.0)
    _uniform_ok(t.data, 2.0 * math.sqrt(6 / 900))
    init.xavier_normal_(t, gain=0.5)
    _normal_ok(t.data, 0.5 * math.sqrt(2 / 900))


def test_kaiming_uses_the_receptive_field_and_the_mode():
    # conv weight (out=50, in=40, 10, 10): fan_in = 4000, fan_out = 5000
    t = _param((50, 40, 10, 10))
    init.kaiming_uniform_(t, nonlinearity="relu")
    _uniform_ok(t.data, math.sqrt(2) * math.sqrt(3 / 4000))
    init.kaiming_uniform_(t, a=0.3, mode="fan_out")
    _uniform_ok(t.data, math.sqrt(2 / 1.09) * math.sqrt(3 / 5000))
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    _normal_ok(t.data, math.sqrt(2 / 5000))
    init.kaiming_normal_(t)        # default leaky_relu with a = 0: the relu gain
    _normal_ok(t.data, math.sqrt(2 / 4000))


def test_lecun_normal():
    t = _param((400, 100, 5))
    init.lecun_normal_(t)
    _normal_ok(t.data, 1 / math.sqrt(500))


def test_fills_in_place_without_recording_and_keeps_dtype():
    p = _param((20, 30))
    arr = p.data
    v = p._version
    out = init.kaiming_uniform_(p)
    assert out is p and p.data is arr
    assert p.dtype == np.float32 and p.is_leaf and p.requires_grad
    assert p._version > v
    p64 = _param((20, 30), np.float64)
    init.normal_(p64)
    assert p64.dtype == np.float64


def test_works_on_numpy_arrays_too():
    a = np.zeros((30, 40))
    assert init.xavier_uniform_(a) is a
    assert np.abs(a).max() <= math.sqrt(6 / 70) and a.std() > 0


def test_draws_from_the_global_generator_or_the_given_one():
    a, b = _param((5, 6)), _param((5, 6))
    ag.manual_seed(3)
    init.xavier_normal_(a)
    ag.manual_seed(3)
    init.xavier_normal_(b)
    np.testing.assert_array_equal(a.data, b.data)
    init.uniform_(a, generator=np.random.default_rng(7))
    init.uniform_(b, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.data, b.data)


def test_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_param((5,)))
    with pytest.raises(ValueError, match="fan_avg"):
        init.kaiming_normal_(_param((5, 5)), mode="fan_avg")
    with pytest.raises(TypeError, match="list"):
        init.zeros_([1.0, 2.0])


# ---------------------------------------------------------------- layer defaults
def test_linear_and_conv_defaults_are_pytorchs():
    # kaiming_uniform_(a=sqrt(5)) gives bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in)
    lin = nn.Linear(300, 600)
    _uniform_ok(lin.weight.data, 1 / math.sqrt(300))
    assert np.abs(lin.bias.data).max() <= 1 / math.sqrt(300)
    conv = nn.Conv2d(32, 256, (3, 5), groups=2)       # fan_in = 16 * 15 = 240
    _uniform_ok(conv.weight.data, 1 / math.sqrt(240))
    assert np.abs(conv.bias.data).max() <= 1 / math.sqrt(240)
    assert np.abs(conv.bias.data).max() > 0.8 / math.sqrt(240)


def test_embedding_and_normalisation_defaults():
    emb = nn.Embedding(1000, 200, padding_idx=3)
    rest = np.delete(emb.weight.data, 3, axis=0)
    _normal_ok(rest, 1.0)
    np.testing.assert_array_equal(emb.weight.data[3], 0.0)
    bn = nn.BatchNorm2d(7)
    np.testing.assert_array_equal(bn.weight.data, 1.0)
    np.testing.assert_array_equal(bn.bias.data, 0.0)
    np.testing.assert_array_equal(bn.running_mean.data, 0.0)
    np.testing.assert_array_equal(bn.running_var.data, 1.0)
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.item() == 0
    ln = nn.LayerNorm((3, 4))
    np.testing.assert_array_equal(ln.weight.data, np.ones((3, 4)))
    np.testing.assert_array_equal(ln.bias.data, np.zeros((3, 4)))


def test_rbf_default():
    rbf = nn.RBF(50, 4000)
    _normal_ok(rbf.centers.data, 1.0)
    np.testing.assert_allclose(rbf.gammas.data, 1 / 50)


def test_parameters_take_the_default_dtype():
    layers = lambda: [nn.Linear(2, 3), nn.Conv2d(1, 2, 3), nn.BatchNorm1d(3),  # noqa: E731
                      nn.LayerNorm(3), nn.Embedding(4, 2), nn.RBF(2, 3)]
    for m in layers():
        assert all(p.dtype == np.float32 for p in m.parameters())
    ag.set_default_dtype(np.float64)
    for m in layers():
        assert all(p.dtype == np.float64 for p in m.parameters())
        assert all(b.dtype in (np.float64, np.int64) for b in m.buffers())
