"""Activations: gradients (first and second order), sub-gradients at kinks, the texts'
identities and worked numbers, stability at the extremes, modules."""
import inspect
import warnings

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F


def leaf(values, dtype=np.float64):
    return ag.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def f64(values):
    return ag.tensor(np.asarray(values, dtype=np.float64))


def grad_of(fn, x):
    """d(sum fn(x))/dx at the float64 point(s) x."""
    t = leaf(x)
    (g,) = ag.grad([fn(t).sum()], [t])
    return g.data


# Sample points: |x| in [0.2, 2], so no sample sits on a kink (0, or the threshold).
AWAY = np.array([[-1.7, -0.9, -0.25, 0.3], [0.8, 1.9, -1.2, 0.45]])

ACTIVATIONS = {
    "binary_step": lambda x: F.binary_step(x, threshold=0.1),
    "identity": F.identity,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "leaky_relu_steep": lambda x: F.leaky_relu(x, 1.7),   # a slope > 1 (max() would fail)
    "elu": lambda x: F.elu(x, 0.7),
    "selu": F.selu,
    "softplus": lambda x: F.softplus(x, beta=2.0, threshold=3.0),
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "swish": lambda x: F.swish(x, beta=1.5),
    "softmax": F.softmax,
    "softmax_axis0": lambda x: F.softmax(x, axis=0),
    "log_softmax": F.log_softmax,
    "log_softmax_axis0": lambda x: F.log_softmax(x, axis=0),
}


def test_every_exported_activation_is_covered():
    covered = {name.removesuffix("_steep").removesuffix("_tanh").removesuffix("_axis0")
               for name in ACTIVATIONS} | {"prelu"}
    assert set(F.activation.__all__) == covered


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_gradcheck(name):
    assert ag.gradcheck(ACTIVATIONS[name], [leaf(AWAY)])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_gradgradcheck(name):
    assert ag.gradgradcheck(ACTIVATIONS[name], [leaf(AWAY)])


def test_prelu_gradcheck_per_channel_and_shared():
    x = leaf(np.r_[AWAY.ravel(), -AWAY.ravel()[:4]].reshape(1, 3, 2, 2))
    w = leaf([0.1, 0.3, -0.2])
    assert ag.gradcheck(F.prelu, [x, w])
    assert ag.gradgradcheck(F.prelu, [x, w])
    assert ag.gradcheck(F.prelu, [leaf(AWAY), leaf([0.25])])


def test_swish_gradcheck_with_respect_to_beta():
    assert ag.gradcheck(F.swish, [leaf(AWAY), leaf(1.3)])
    assert ag.gradgradcheck(F.swish, [leaf(AWAY), leaf(1.3)])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_float32_in_float32_out(name):
    x = ag.Tensor(AWAY.astype(np.float32), requires_grad=True)
    y = ACTIVATIONS[name](x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert y.shape == x.shape


# ---------------------------------------------------------------- kinks: the sub-gradient we return
def test_relu_derivative_at_zero_is_zero():
    np.testing.assert_array_equal(grad_of(F.relu, [-1.0, 0.0, 1.0]), [0.0, 0.0, 1.0])


def test_leaky_relu_derivative_at_zero_is_the_slope():
    np.testing.assert_allclose(grad_of(lambda x: F.leaky_relu(x, 0.1), [-1.0, 0.0, 1.0]),
                               [0.1, 0.1, 1.0])


def test_prelu_derivatives_at_zero():
    x, w = leaf([-2.0, 0.0, 3.0]), leaf([0.3])
    gx, gw = ag.grad([F.prelu(x, w).sum()], [x, w])
    np.testing.assert_allclose(gx.data, [0.3, 0.3, 1.0])     # slope a at 0, as PyTorch
    np.testing.assert_allclose(gw.data, [-2.0])                # d/da = x where x <= 0


def test_elu_and_selu_derivative_at_zero():
    np.testing.assert_allclose(grad_of(lambda x: F.elu(x, 0.4), [0.0]), [0.4])
    np.testing.assert_allclose(grad_of(F.selu, [0.0]),
                               [F.activation.SELU_SCALE * F.activation.SELU_ALPHA])


def test_binary_step_gradient_is_zero_everywhere_including_the_threshold():
    x = leaf([-1.0, 0.5, 0.5 + 1e-12, 2.0])
    y = F.binary_step(x, threshold=0.5)
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 1.0, 1.0])
    assert y.requires_grad          # stays in the graph: a network using it backpropagates
    (g,) = ag.grad([y.sum()], [x])
    np.testing.assert_array_equal(g.data, 0.0)


def test_softplus_derivative_at_zero_and_at_the_threshold():
    # sigmoid(0) = 1/2 at the point where the stable form switches branches, and the
    # soft branch is still used at bx == threshold (switch is strict), as PyTorch.
    np.testing.assert_allclose(grad_of(F.softplus, [0.0]), [0.5])
    x = leaf([20.0])
    (g,) = ag.grad([F.softplus(x).sum()], [x], create_graph=True)
    np.testing.assert_allclose(g.data, 1 / (1 + np.exp(-20.0)))
    np.testing.assert_allclose(grad_of(F.softplus, [20.5]), [1.0])
    # second derivative at 0: sigmoid'(0) = 1/4
    x = leaf([0.0])
    (g,) = ag.grad([F.softplus(x).sum()], [x], create_graph=True)
    (h,) = ag.grad([g.sum()], [x])
    np.testing.assert_allclose(h.data, [0.25])


# ---------------------------------------------------------------- the texts' identities
def test_sigmoid_derivative_is_s_times_one_minus_s():
    x = np.linspace(-6, 6, 13)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(grad_of(F.sigmoid, x), s * (1 - s), rtol=1e-12)


def test_tanh_derivative_is_one_minus_tanh_squared():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(grad_of(F.tanh, x), 1 - np.tanh(x) ** 2, rtol=1e-12)


def test_relu_derivative_is_zero_or_one():
    x = np.linspace(-3, 3, 14)
    g = grad_of(F.relu, x)
    assert set(np.unique(g)) <= {0.0, 1.0}
    np.testing.assert_array_equal(g, (x > 0).astype(float))


def test_tanh_is_twice_sigmoid_of_twice_x_minus_one():
    x = ag.tensor(np.linspace(-4, 4, 9))
    np.testing.assert_allclose(F.tanh(x).data, 2 * F.sigmoid(2 * x).data - 1, atol=1e-15)


def test_softmax_jacobian_is_s_i_times_delta_minus_s_j():
    z = np.array([0.3, -1.2, 2.0, 0.5])
    s = np.exp(z) / np.exp(z).sum()
    (J,) = ag.numerical_jacobian(F.softmax, [leaf(z)])
    np.testing.assert_allclose(J, np.diag(s) - np.outer(s, s), atol=1e-9)
    t = leaf(z)
    rows = [ag.grad([F.softmax(t)[i]], [t])[0].data for i in range(4)]
    np.testing.assert_allclose(np.stack(rows), np.diag(s) - np.outer(s, s), atol=1e-15)


def test_two_class_softmax_is_the_sigmoid_of_the_difference():
    z = ag.tensor(np.array([[2.0, 1.0], [-0.3, 1.4]]))
    np.testing.assert_allclose(F.softmax(z).data[:, 0],
                               F.sigmoid(z[:, 0] - z[:, 1]).data, rtol=1e-12)


def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log():
    z = ag.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)))
    for axis in (0, 1, -1):
        s = F.softmax(z, axis=axis).data
        np.testing.assert_allclose(s.sum(axis=axis), 1.0)
        np.testing.assert_allclose(F.log_softmax(z, axis=axis).data, np.log(s), atol=1e-12)


def test_swish_is_silu_at_beta_one_and_gelu_matches_x_phi():
    x = ag.tensor(np.linspace(-3, 3, 7))
    np.testing.assert_array_equal(F.swish(x).data, F.silu(x).data)
    from scipy.special import ndtr
    np.testing.assert_allclose(F.gelu(x).data, x.data * ndtr(x.data), rtol=1e-12)
    tanh_form = 0.5 * x.data * (1 + np.tanh(np.sqrt(2 / np.pi) * (x.data + 0.044715 * x.data ** 3)))
    np.testing.assert_allclose(F.gelu(x, approximate="tanh").data, tanh_form, rtol=1e-12)


def test_selu_constants_make_mean_zero_variance_one_a_fixed_point():
    z = np.random.default_rng(0).standard_normal(1_000_000)
    y = F.selu(ag.tensor(z)).data
    assert abs(y.mean()) < 0.005 and abs(y.var() - 1) < 0.005
    assert F.activation.SELU_ALPHA == pytest.approx(1.6732632423543772, abs=1e-15)
    assert F.activation.SELU_SCALE == pytest.approx(1.0507009873554805, abs=1e-15)


# ---------------------------------------------------------------- the texts' worked numbers
def test_worked_numbers():
    np.testing.assert_allclose(F.softmax(f64([0.8, 1.2, 3.1])).data,
                               [0.08021815, 0.11967141, 0.80011044], atol=5e-8)
    np.testing.assert_allclose(F.softmax(f64([1.2, 0.9, 0.75])).data,
                               [0.42, 0.31, 0.27], atol=5e-3)
    assert F.elu(f64(-5.0), alpha=0.1).item() == pytest.approx(-0.0993262053, abs=1e-9)
    assert F.elu(f64(5.0), alpha=0.1).item() == 5.0
    assert F.leaky_relu(f64(-7.0)).item() == pytest.approx(-0.07)
    assert F.leaky_relu(f64(7.0)).item() == 7.0
    assert F.relu(f64(7.0)).item() == 7.0 and F.relu(f64(-7.0)).item() == 0.0
    np.testing.assert_array_equal(F.relu(f64([-2.0, -1.0, 0.0, 1.0, 2.0])).data,
                                  [0, 0, 0, 1, 2])                       # 001's code
    assert F.sigmoid(f64(2.0)).item() == pytest.approx(0.880797, abs=1e-6)
    np.testing.assert_allclose(F.softmax(f64([2.0, 1.0])).data, [0.731059, 0.268941],
                               atol=1e-6)


def test_swish_values_where_003_printed_those_of_its_misprinted_formula():
    # 003 §2.9 prints 5.35e-28 and 4.0746 from x/(1 - e^-x); x·σ(x) gives these:
    x = ag.tensor(np.array([-67.0, 4.0]))
    np.testing.assert_allclose(F.swish(x).data, [-67.0 / (1 + np.exp(67.0)), 3.928055160151634],
                               rtol=1e-12)
    assert F.swish(x).data[0] < 0


# ---------------------------------------------------------------- stability at the extremes
# Warnings are errors, and so are overflow, division by zero and invalid results.
# Underflow is not: e^-1000 = 0 is the correctly rounded result (NumPy ignores it by
# default too), and products of tiny values in any backward pass can underflow.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh", "elu", "selu", "gelu",
                                  "gelu_tanh", "silu", "swish", "leaky_relu", "relu"])
def test_elementwise_finite_at_plus_minus_1000(name, dtype):
    fn = ACTIVATIONS[name]
    x = ag.Tensor(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype),
                  requires_grad=True)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise",
                                                invalid="raise"):
        warnings.simplefilter("error")
        y = fn(x)
        (g,) = ag.grad([y.sum()], [x], create_graph=True)
        # piecewise-linear ones have a constant gradient: nothing to differentiate again
        h = ag.grad([g.sum()], [x])[0] if g.requires_grad else g
    assert np.isfinite(y.data).all() and np.isfinite(g.data).all() and np.isfinite(h.data).all()


def test_sigmoid_and_softplus_values_at_the_extremes():
    x = ag.tensor([-1000.0, 1000.0])
    np.testing.assert_array_equal(F.sigmoid(x).data, [0.0, 1.0])
    np.testing.assert_array_equal(F.softplus(x).data, [0.0, 1000.0])
    # a huge threshold leaves the soft branch in charge: still finite (stable form)
    np.testing.assert_array_equal(F.softplus(x, threshold=1e9).data, [0.0, 1000.0])
    np.testing.assert_allclose(grad_of(lambda t: F.softplus(t, threshold=1e9), [-1000.0, 1000.0]),
                               [0.0, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_with_logits_of_1e4(fn, dtype):
    z = ag.Tensor(np.array([[1e4, 0.0, -1e4], [1e4, 1e4, -5e3]], dtype=dtype),
                  requires_grad=True)
    seed = ag.Tensor(np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]], dtype=dtype))
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise",
                                                invalid="raise"):
        warnings.simplefilter("error")
        y = fn(z)
        (g,) = ag.grad([(y * seed).sum()], [z], create_graph=True)
        (h,) = ag.grad([(g * g).sum()], [z])
    assert np.isfinite(y.data).all() and np.isfinite(g.data).all() and np.isfinite(h.data).all()
    if fn is F.softmax:
        np.testing.assert_allclose(y.data, [[1, 0, 0], [0.5, 0.5, 0]])
    else:
        ln2 = np.log(2)
        np.testing.assert_allclose(y.data, [[0, -1e4, -2e4], [-ln2, -ln2, -1.5e4 - ln2]],
                                   rtol=1e-6)


# ---------------------------------------------------------------- prelu shapes and errors
def test_prelu_broadcasts_on_axis_one():
    x = ag.tensor(-np.ones((2, 3, 2)))
    y = F.prelu(x, ag.tensor([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(y.data[1, :, 0], [-0.1, -0.2, -0.3])
    with pytest.raises(ValueError, match="prelu.*3 elements.*2 channels"):
        F.prelu(ag.tensor(np.ones((4, 2))), ag.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="prelu"):
        F.prelu(ag.tensor([1.0, -1.0, 2.0]), ag.tensor([0.1, 0.2, 0.3]))    # 1-d: one channel


def test_gelu_rejects_an_unknown_approximation():
    with pytest.raises(ValueError, match="gelu.*'sigmoid'"):
        F.gelu(ag.tensor([1.0]), approximate="sigmoid")
    with pytest.raises(ValueError, match="GELU"):
        nn.GELU("erf")


# ---------------------------------------------------------------- modules
MODULES = [
    (nn.BinaryStep(0.5), lambda x: F.binary_step(x, 0.5), "BinaryStep(threshold=0.5)"),
    (nn.Identity(), F.identity, "Identity()"),
    (nn.Sigmoid(), F.sigmoid, "Sigmoid()"),
    (nn.Tanh(), F.tanh, "Tanh()"),
    (nn.ReLU(), F.relu, "ReLU()"),
    (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2), "LeakyReLU(negative_slope=0.2)"),
    (nn.ELU(0.5), lambda x: F.elu(x, 0.5), "ELU(alpha=0.5)"),
    (nn.SELU(), F.selu, "SELU()"),
    (nn.Softplus(2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0), "Softplus(beta=2.0, threshold=5.0)"),
    (nn.GELU("tanh"), lambda x: F.gelu(x, "tanh"), "GELU(approximate='tanh')"),
    (nn.SiLU(), F.silu, "SiLU()"),
    (nn.Swish(2.0), lambda x: F.swish(x, 2.0), "Swish(beta=2.0, trainable=False)"),
    (nn.Softmax(0), lambda x: F.softmax(x, 0), "Softmax(axis=0)"),
    (nn.LogSoftmax(), F.log_softmax, "LogSoftmax(axis=-1)"),
]


@pytest.mark.parametrize("module,fn,text", MODULES, ids=[t for _, _, t in MODULES])
def test_module_matches_functional_and_repr(module, fn, text):
    x = ag.tensor(AWAY)
    np.testing.assert_array_equal(module(x).data, fn(x).data)
    assert repr(module) == text
    assert isinstance(module, nn.Module)


FUNCTIONAL_OF = {nn.BinaryStep: F.binary_step, nn.LeakyReLU: F.leaky_relu, nn.ELU: F.elu,
                 nn.Softplus: F.softplus, nn.GELU: F.gelu, nn.Swish: F.swish,
                 nn.Softmax: F.softmax, nn.LogSoftmax: F.log_softmax}


@pytest.mark.parametrize("cls", FUNCTIONAL_OF, ids=lambda c: c.__name__)
def test_functional_defaults_equal_module_defaults(cls):
    fparams = inspect.signature(FUNCTIONAL_OF[cls]).parameters
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if p.default is not inspect.Parameter.empty and name in fparams:
            assert fparams[name].default == p.default, name
    assert inspect.signature(nn.PReLU.__init__).parameters["init"].default == 0.25


def test_prelu_module_parameter_layout_and_learning():
    m = nn.PReLU(3, init=0.1)
    assert m.weight.shape == (3,) and m.weight.dtype == np.float32
    np.testing.assert_allclose(m.weight.data, 0.1)
    assert list(m.state_dict()) == ["weight"]
    x = ag.tensor(-np.ones((2, 3, 4)))
    m(x).sum().backward()
    np.testing.assert_allclose(m.weight.grad.data, [-8.0, -8.0, -8.0])
    ag.set_default_dtype(np.float64)
    assert nn.PReLU().weight.dtype == np.float64


def test_swish_trainable_beta_is_a_parameter():
    m = nn.Swish(beta=1.5, trainable=True)
    assert [n for n, _ in m.named_parameters()] == ["beta"]
    assert m.beta.shape == () and m.beta.dtype == np.float32
    x = ag.tensor([1.0, -2.0])
    m(x).sum().backward()
    s = lambda v: 1 / (1 + np.exp(-v))     # d/dβ x·σ(βx) = x²·σ(βx)(1 − σ(βx))
    expected = sum(v * v * s(1.5 * v) * (1 - s(1.5 * v)) for v in (1.0, -2.0))
    assert m.beta.grad.item() == pytest.approx(expected, rel=1e-6)
    assert repr(m) == "Swish(beta=1.5, trainable=True)"
    assert list(nn.Swish().parameters()) == []


def test_identity_accepts_arguments_and_returns_its_input():
    x = ag.tensor([1.0, 2.0])
    assert nn.Identity(54, unused="x")(x) is x
    assert F.identity(x) is x


def test_modules_work_inside_sequential():
    net = nn.Sequential(nn.PReLU(), nn.Swish(trainable=True), nn.Softmax())
    x = ag.tensor(AWAY)
    y = net(x)
    np.testing.assert_allclose(y.data.sum(axis=-1), 1.0, rtol=1e-6)
    y[:, 0].sum().backward()
    assert all(p.grad is not None for p in net.parameters())
