"""A tour of bad input through the public API, area by area.

Every case ends in one of two ways, both listed in docs/errors.md:
- a clear exception: the test checks its type and that the message names the function
  or op and the shapes/dtypes (or values) involved;
- a documented, correct result: the test checks the value.

Cases marked xfail(strict=True) are known gaps: the reason says what happens today;
docs/errors.md ("Known gaps") gives the fix. Fixing one turns its xfail into an XPASS
failure, the signal to drop the mark.
"""
import warnings

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F
import optim


def case(name, fn, exc, *needles, xfail=None):
    """One row of an error table: ``fn()`` raises ``exc`` whose message holds ``needles``."""
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(fn, exc, needles, id=name, marks=marks)


def value(name, fn, check, xfail=None):
    """One row of a result table: ``check(fn())`` holds."""
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(fn, check, id=name, marks=marks)


def assert_raises(fn, exc, needles):
    with pytest.raises(exc) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fn()
    msg = str(info.value)
    missing = [n for n in needles if n not in msg]
    assert not missing, f"{type(info.value).__name__}({msg!r}) does not mention {missing}"


def assert_value(fn, check):
    with np.errstate(all="ignore"):
        out = fn()
    assert check(out), out


def readonly(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


def t32(*shape):
    return ag.randn(*shape)


def leaf(values, dtype=np.float32):
    return ag.tensor(values, dtype=dtype, requires_grad=True)


def grad_of(fn, x):
    """x.grad after fn(x).sum().backward()."""
    fn(x).sum().backward()
    return x.grad.data


def same(expected, dtype=None):
    """A check: the result (Tensor or array) equals ``expected`` (NaN equal to NaN)."""
    def check(out):
        arr = np.asarray(out.data if isinstance(out, ag.Tensor) else out)
        if dtype is not None and arr.dtype != dtype:
            return False
        return arr.shape == np.shape(expected) and np.allclose(arr, expected, equal_nan=True)
    return check


def shape_is(shape):
    return lambda out: tuple(out.shape) == shape


# ================================================================ autograd: factories
FACTORY_ERRORS = [
    case("tensor(None)", lambda: ag.tensor(None), TypeError, "tensor", "NoneType"),
    case("tensor(dict)", lambda: ag.tensor({}), TypeError, "tensor", "dict"),
    case("tensor([1, None])", lambda: ag.tensor([1, None]), TypeError, "tensor", "list"),
    case("tensor('abc')", lambda: ag.tensor("abc"), TypeError, "tensor", "<U3"),
    case("tensor([1, 'a'])", lambda: ag.tensor([1, "a"]), TypeError, "tensor", "<U21"),
    case("Tensor(str array)", lambda: ag.Tensor(np.array(["a", "b"])), TypeError, "tensor",
         "<U1"),
    case("Tensor(object array)", lambda: ag.Tensor(np.array([None], dtype=object)),
         TypeError, "tensor", "object"),
    case("full(fill_value='a')", lambda: ag.full((2,), "a"), TypeError, "tensor", "<U1"),
    case("tensor(ragged list)", lambda: ag.tensor([[1.0, 2.0], [3.0]]), ValueError, "tensor",
         "inhomogeneous"),
    case("tensor(int, requires_grad)", lambda: ag.tensor([1, 2], requires_grad=True),
         TypeError, "requires_grad", "int64", "(2,)"),
    case("tensor(bool, requires_grad)", lambda: ag.tensor([True], requires_grad=True),
         TypeError, "requires_grad", "bool"),
    case("tensor(complex, requires_grad)", lambda: ag.tensor(1 + 2j, requires_grad=True),
         TypeError, "requires_grad", "complex128"),
    case("zeros(int dtype, requires_grad)",
         lambda: ag.zeros(2, dtype=np.int64, requires_grad=True), TypeError,
         "requires_grad", "int64"),
    case("requires_grad_() on int", lambda: ag.tensor([1, 2]).requires_grad_(), TypeError,
         "requires_grad_", "int64"),
    case("zeros(-1)", lambda: ag.zeros(-1), ValueError, "zeros", "-1"),
    case("ones(2, -3)", lambda: ag.ones(2, -3), ValueError, "ones", "-3"),
    case("full(-1, 1.0)", lambda: ag.full(-1, 1.0), ValueError, "full", "-1"),
    case("eye(-1)", lambda: ag.eye(-1), ValueError, "eye", "-1"),
    case("rand(-1)", lambda: ag.rand(-1), ValueError, "rand", "-1"),
    case("zeros(2.5)", lambda: ag.zeros(2.5), TypeError, "zeros", "2.5"),
    case("randn('3')", lambda: ag.randn("3"), TypeError, "randn", "'3'"),
    case("zeros(None)", lambda: ag.zeros(None), TypeError, "zeros", "None"),
    case("ones(dtype='foo')", lambda: ag.ones(2, dtype="foo"), TypeError, "ones", "foo"),
    case("tensor(dtype='foo')", lambda: ag.tensor([1.0], dtype="foo"), TypeError, "tensor",
         "foo"),
    case("arange(step=0)", lambda: ag.arange(0, 1, 0), ValueError, "arange", "step"),
    case("set_default_dtype(int32)", lambda: ag.set_default_dtype(np.int32), TypeError,
         "set_default_dtype", "int32"),
    case("set_default_dtype('foo')", lambda: ag.set_default_dtype("foo"), TypeError,
         "set_default_dtype", "foo"),
    case("manual_seed('a')", lambda: ag.manual_seed("a"), TypeError, "manual_seed", "str"),
    case("manual_seed(-1)", lambda: ag.manual_seed(-1), ValueError, "manual_seed", "-1"),
]


@pytest.mark.parametrize("fn, exc, needles", FACTORY_ERRORS)
def test_factory_errors(fn, exc, needles):
    assert_raises(fn, exc, needles)


FACTORY_RESULTS = [
    value("tensor(complex) without grad", lambda: ag.tensor(1 + 2j).dtype,
          lambda d: d == np.complex128),
    value("tensor([1.0, 2]) is float32", lambda: ag.tensor([1.0, 2]).dtype,
          lambda d: d == np.float32),
    value("tensor([1, True]) is int64", lambda: ag.tensor([1, True]).dtype,
          lambda d: d == np.int64),
    value("float16 may require grad", lambda: leaf([1.0], np.float16).requires_grad,
          lambda r: r is True),
    value("zeros(0, 3) is empty", lambda: ag.zeros(0, 3), shape_is((0, 3))),
    value("tensor([]) is float32 (0,)", lambda: ag.tensor([]),
          lambda t: t.shape == (0,) and t.dtype == np.float32),
]


@pytest.mark.parametrize("fn, check", FACTORY_RESULTS)
def test_factory_results(fn, check):
    assert_value(fn, check)


# ================================================================ autograd: ops
OP_ERRORS = [
    # shapes
    case("add (2,3)+(4,)", lambda: t32(2, 3) + t32(4), ValueError, "add", "(2, 3)", "(4,)",
         "float32"),
    case("matmul (2,3)@(4,5)", lambda: t32(2, 3) @ t32(4, 5), ValueError, "matmul",
         "(2, 3)", "(4, 5)"),
    case("matmul with 0-d", lambda: t32(2) @ ag.tensor(2.0), ValueError, "matmul", "()"),
    case("reshape 6 -> (4,)", lambda: t32(2, 3).reshape(4), ValueError, "reshape", "(4,)",
         "(2, 3)"),
    case("reshape(-1, -1)", lambda: t32(2, 3).reshape(-1, -1), ValueError, "reshape",
         "unknown dimension"),
    case("transpose(0, 0)", lambda: t32(2, 3).transpose(0, 0), ValueError, "transpose",
         "(0, 0)"),
    case("broadcast_to (3,)->(2,4)", lambda: t32(3).broadcast_to((2, 4)), ValueError,
         "broadcast_to", "(3,)"),
    case("sum_to (2,3)->(4,)", lambda: ag.sum_to(t32(2, 3), (4,)), ValueError, "sum_to",
         "(2, 3)", "(4,)"),
    case("where cond (2,) vs (3,)",
         lambda: ag.where(np.array([True, False]), t32(3), t32(3)), ValueError, "where",
         "(2,)", "(3,)"),
    case("concatenate (2,3),(2,4)", lambda: ag.concatenate([t32(2, 3), t32(2, 4)]),
         ValueError, "concatenate", "(2, 3)", "(2, 4)"),
    case("concatenate([])", lambda: ag.concatenate([]), ValueError, "concatenate"),
    case("stack (2,),(3,)", lambda: ag.stack([t32(2), t32(3)]), ValueError, "stack",
         "(2,)", "(3,)"),
    case("split 5 into 2", lambda: ag.split(t32(5), 2), ValueError, "split", "5"),
    case("pad(-1)", lambda: ag.pad(t32(3), -1), ValueError, "pad", "-1"),
    case("pad 2-d widths on 1-d", lambda: ag.pad(t32(3), ((1, 1), (1, 1))), ValueError,
         "pad", "(3,)"),
    case("squeeze a size-3 axis", lambda: t32(1, 3).squeeze(1), ValueError, "squeeze",
         "(1, 3)"),
    case("clip without bounds", lambda: t32(3).clip(), ValueError, "clip"),
    # axes
    case("sum(axis=5)", lambda: t32(2, 3).sum(axis=5), ValueError, "sum", "axis 5", "2 dims"),
    case("mean(axis=(0, 0))", lambda: t32(2, 3).mean(axis=(0, 0)), ValueError, "mean",
         "repeated"),
    case("max(axis=5)", lambda: t32(2, 3).max(axis=5), ValueError, "max", "axis 5"),
    case("sum(axis='a')", lambda: t32(2, 3).sum(axis="a"), TypeError, "sum", "'a'"),
    case("mean(axis=1.5)", lambda: t32(2, 3).mean(axis=1.5), TypeError, "mean", "1.5"),
    case("argmax(axis=5)", lambda: t32(2, 3).argmax(axis=5), ValueError, "argmax", "axis 5"),
    case("squeeze(axis=2) of (1, 3)", lambda: t32(1, 3).squeeze(2), ValueError, "squeeze",
         "2"),
    case("squeeze(axis=5) of (1, 3)", lambda: t32(1, 3).squeeze(5), ValueError, "squeeze",
         "axis 5"),
    case("moveaxis(2, 0) of 2-d", lambda: ag.moveaxis(t32(2, 3), 2, 0), ValueError,
         "moveaxis", "2"),
    case("swapaxes(0, 5)", lambda: t32(2, 3).swapaxes(0, 5), ValueError, "swapaxes", "5"),
    case("expand_dims(5) of 1-d", lambda: t32(3).expand_dims(5), ValueError, "expand_dims",
         "5"),
    case("split(axis=3) of 1-d", lambda: ag.split(t32(4), 2, axis=3), ValueError, "split",
         "axis 3"),
    case("split into 0 sections", lambda: ag.split(t32(4), 0), ValueError, "split", "0"),
    case("moveaxis repeated source", lambda: ag.moveaxis(t32(2, 3), (0, 0), (0, 1)),
         ValueError, "moveaxis", "repeated"),
    case("argmin(axis=(0, 1))", lambda: t32(2, 3).argmin(axis=(0, 1)), TypeError, "argmin",
         "(0, 1)"),
    # indexing
    case("x[5] of (3,)", lambda: t32(3)[5], IndexError, "getitem", "5", "(3,)"),
    case("x[1.5]", lambda: t32(3)[1.5], IndexError, "getitem", "(3,)"),
    case("x['a']", lambda: t32(3)["a"], IndexError, "getitem", "(3,)"),
    case("x[0, 0] of 1-d", lambda: t32(3)[0, 0], IndexError, "getitem", "too many"),
    case("bool mask of length 2 on (3,)", lambda: t32(3)[np.array([True, False])],
         IndexError, "getitem", "boolean"),
    case("bool mask on axis 1 of the wrong length",
         lambda: t32(2, 3)[:, np.array([True, False])], IndexError, "getitem", "axis 1"),
    case("x[mask of length 2] = 1 on (3,)",
         lambda: t32(3).__setitem__(np.array([True, False]), 1.0), IndexError, "setitem",
         "boolean", "(3,)"),
    case("list[float tensor]", lambda: [1, 2][ag.tensor(1.0)], TypeError, "index", "float32"),
    # conversions
    case("item() of (3,)", lambda: t32(3).item(), ValueError, "item", "(3,)"),
    case("bool() of (3,)", lambda: bool(t32(3)), ValueError, "bool", "3 elements"),
    case("len() of 0-d", lambda: len(ag.tensor(1.0)), TypeError, "len", "0-d"),
    case("astype('foo')", lambda: t32(3).astype("foo"), TypeError, "astype", "foo"),
]


@pytest.mark.parametrize("fn, exc, needles", OP_ERRORS)
def test_op_errors(fn, exc, needles):
    assert_raises(fn, exc, needles)


# Python scalars and containers of the wrong kind.
SCALAR_ERRORS = [
    case("x + 'a'", lambda: t32(3) + "a", TypeError, "add", "float32", "<U1"),
    case("'a' + x", lambda: "a" + t32(3), TypeError, "add", "float32"),
    case("x + None", lambda: t32(3) + None, TypeError, "add", "NoneType", "(3,)"),
    case("x + {}", lambda: t32(3) + {}, TypeError, "add", "dict"),
    case("x * [1, 'a']", lambda: t32(2) * [1, "a"], TypeError, "mul", "float32", "<U21"),
    case("x ** '2'", lambda: t32(2) ** "2", TypeError, "pow", "(2,)"),
    case("exp('a')", lambda: ag.exp("a"), TypeError, "exp"),
    case("exp(None)", lambda: ag.exp(None), TypeError, "exp", "NoneType"),
    case("reshape('a')", lambda: t32(2).reshape("a"), TypeError, "reshape", "str"),
    case("clip('a', 1)", lambda: t32(3).clip("a", 1), TypeError, "clip", "float32"),
    case("x[0] = 'a'", lambda: t32(2).__setitem__(0, "a"), ValueError, "setitem", "(2,)",
         "float32"),
    case("x += 'a'", lambda: t32(2).__iadd__("a"), TypeError, "add_", "float32"),
    case("int tensor += 0.5", lambda: ag.tensor([1, 2]).__iadd__(0.5), TypeError, "add_",
         "int64"),
    case("requires-grad x * 1j", lambda: ag.randn(2, requires_grad=True) * 1j, TypeError,
         "mul", "complex"),
]


@pytest.mark.parametrize("fn, exc, needles", SCALAR_ERRORS)
def test_wrong_kind_of_python_value(fn, exc, needles):
    assert_raises(fn, exc, needles)


def test_numbers_of_other_kinds_follow_numpy_promotion():
    assert (ag.tensor([1, 2]) * 0.5).dtype == np.float64          # int with a float
    assert (t32(2) * 2.0).dtype == np.float32                     # Python float: NEP 50
    assert (t32(2) * np.float64(2)).dtype == np.float64           # NumPy scalar promotes
    assert (t32(2) * np.ones(2)).dtype == np.float64
    assert ag.exp(ag.tensor([1, 2])).dtype == np.float64
    assert (t32(2) + (1 + 2j)).dtype == np.complex64               # complex, no grad
    np.testing.assert_allclose(ag.exp([0.0, 1.0]).data, [1.0, np.e], rtol=1e-6)


# ================================================================ NaN and Inf
def test_nan_propagates_through_ops_as_in_numpy():
    with np.errstate(all="ignore"):
        nan = np.nan
        x = ag.tensor([nan, 1.0])
        for out in (ag.exp(x), ag.log(x), x * 2, x + x, ag.tanh(x), ag.sigmoid(x)):
            assert np.isnan(out.data[0]) and np.isfinite(out.data[1])
        assert np.isnan(x.sum().item()) and np.isnan(x.mean().item())
        assert np.isnan(x.max().item()) and np.isnan(x.var().item())
        assert np.isnan(ag.relu(x).data[0])                      # max(nan, 0) is nan
        assert np.isnan(x.clip(0, 0.5).data[0])
        assert np.isnan(ag.maximum(x, ag.tensor([0.0, 0.0])).data[0])
        assert x.argmax().item() == 0                            # NaN counts as the max
        assert not (x == x).data[0]
        # Invalid arguments give NaN/Inf, as NumPy (with its RuntimeWarning).
        assert np.isnan(ag.log(ag.tensor(-1.0)).item())
        assert np.isnan(ag.sqrt(ag.tensor(-1.0)).item())
        np.testing.assert_array_equal((ag.tensor([1.0, 0.0]) / 0.0).data, [np.inf, nan])
        assert ag.tensor(0.0) ** -1.0 == np.inf
        assert np.isnan(ag.tensor([np.inf, -np.inf]).mean().item())


def test_nan_in_the_gradient():
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(grad_of(lambda x: x * 2, leaf([1.0, np.nan])), [2, 2])
        # relu's gradient is [x > 0]: 0 at NaN, so the NaN stops there.
        np.testing.assert_array_equal(grad_of(ag.relu, leaf([1.0, np.nan])), [1, 0])
        assert np.isnan(grad_of(ag.exp, leaf([np.nan])).item())
        x = leaf([1.0, 2.0])
        (x * 2).backward(gradient=np.array([np.nan, 1.0], np.float32))
        np.testing.assert_array_equal(x.grad.data, [np.nan, 2.0])


def test_max_routes_the_gradient_to_a_nan():
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(grad_of(lambda x: x.max(), leaf([1.0, np.nan])), [0, 1])
        # several NaNs share it as tied maxima; rows without NaN are unchanged
        np.testing.assert_array_equal(grad_of(lambda x: x.max(), leaf([np.nan, np.nan, 1.0])),
                                      [0.5, 0.5, 0])
        np.testing.assert_array_equal(
            grad_of(lambda x: x.min(axis=1), leaf([[1.0, np.nan], [2.0, 3.0]])),
            [[0, 1], [1, 0]])


def test_infinities_in_ops_and_activations():
    with np.errstate(all="ignore"):
        inf = np.inf
        np.testing.assert_array_equal(ag.sigmoid(ag.tensor([inf, -inf])).data, [1, 0])
        np.testing.assert_array_equal(ag.tanh(ag.tensor([inf, -inf])).data, [1, -1])
        assert ag.exp(ag.tensor(100.0)).item() == inf            # float32 overflow
        # -inf logits are masks: probability 0 and a finite gradient.
        x = leaf([-inf, 0.0, 1.0])
        np.testing.assert_allclose(F.softmax(x).data, [0, 0.268941, 0.731059], rtol=1e-5)
        F.log_softmax(x)[1].backward()
        assert np.isfinite(x.grad.data).all()
        assert ag.logsumexp(ag.tensor([-inf, -inf])).item() == -inf
        assert ag.logsumexp(ag.tensor([inf, 1.0])).item() == inf
        # +inf logits are not representable: NaN, as PyTorch.
        assert np.isnan(F.softmax(ag.tensor([inf, 0.0])).data[0])
        y = leaf([-inf, -inf])
        y.logsumexp().backward()
        assert np.isnan(y.grad.data).all()


# ================================================================ empty tensors
EMPTY_ERRORS = [
    case("mean of (0,)", lambda: ag.tensor([]).mean(), ValueError, "mean", "(0,)"),
    case("mean(axis=0) of (0, 3)", lambda: ag.zeros(0, 3).mean(axis=0), ValueError, "mean",
         "(0, 3)"),
    case("max of (0,)", lambda: ag.tensor([]).max(), ValueError, "max", "(0,)"),
    case("max(axis=0) of (0, 3)", lambda: ag.zeros(0, 3).max(axis=0), ValueError, "max",
         "(0, 3)"),
    case("min of (0,)", lambda: ag.tensor([]).min(), ValueError, "min", "(0,)"),
    case("var of (0,)", lambda: ag.tensor([]).var(), ValueError, "var", "0 elements"),
    case("std of (0,)", lambda: ag.tensor([]).std(), ValueError, "var", "0 elements"),
    case("argmax of (0,)", lambda: ag.tensor([]).argmax(), ValueError, "argmax", "empty"),
]


@pytest.mark.parametrize("fn, exc, needles", EMPTY_ERRORS)
def test_empty_reduction_errors(fn, exc, needles):
    assert_raises(fn, exc, needles)


EMPTY_RESULTS = [
    value("sum of (0,) is 0", lambda: ag.tensor([]).sum(), same(0.0, np.float32)),
    value("prod of (0,) is 1", lambda: ag.tensor([]).prod(), same(1.0, np.float32)),
    value("sum(axis=0) of (0, 3)", lambda: ag.zeros(0, 3).sum(axis=0), same(np.zeros(3))),
    value("mean(axis=1) of (0, 3)", lambda: ag.zeros(0, 3).mean(axis=1), shape_is((0,))),
    value("softmax of (0, 3)", lambda: F.softmax(ag.zeros(0, 3)), shape_is((0, 3))),
    value("concatenate of empties", lambda: ag.concatenate([ag.zeros(0), ag.zeros(0)]),
          shape_is((0,))),
    value("backward through sum of (0, 3)",
          lambda: grad_of(lambda x: x, ag.zeros(0, 3, requires_grad=True)), shape_is((0, 3))),
    value("dropout of (0,)", lambda: F.dropout(ag.zeros(0)), shape_is((0,))),
    value("max(axis=1) of (0, 3)", lambda: ag.zeros(0, 3).max(axis=1), shape_is((0,))),
    value("logsumexp of (0,) is -inf", lambda: ag.tensor([]).logsumexp(), same(-np.inf)),
    value("softmax of (0,)", lambda: F.softmax(ag.tensor([])), shape_is((0,))),
    value("log_softmax over an empty axis (3, 0)", lambda: F.log_softmax(ag.zeros(3, 0)),
          shape_is((3, 0))),
]


@pytest.mark.parametrize("fn, check", EMPTY_RESULTS)
def test_empty_results(fn, check):
    assert_value(fn, check)


# ================================================================ strided and read-only arrays
def test_non_contiguous_inputs_give_the_same_values_and_gradients():
    base = np.arange(24, dtype=np.float64).reshape(4, 6) / 10
    views = {"transposed": base.T, "strided": base[::2, ::-3],
             "fortran": np.asfortranarray(base), "broadcast": np.broadcast_to(base[0], (3, 6))}
    for name, arr in views.items():
        strided = ag.Tensor(arr, requires_grad=True)
        dense = ag.Tensor(np.ascontiguousarray(arr), requires_grad=True)
        outs = []
        for x in (strided, dense):
            y = (ag.tanh(x) @ ag.ones(arr.shape[-1], dtype=np.float64)).sum() + x.max()
            y.backward()
            outs.append((y.item(), x.grad.data))
        assert outs[0][0] == outs[1][0], name
        np.testing.assert_array_equal(outs[0][1], outs[1][1], err_msg=name)


def test_layers_accept_strided_inputs():
    ag.manual_seed(0)
    lin, conv = nn.Linear(4, 2), nn.Conv2d(2, 3, 3)
    x = np.arange(32, dtype=np.float32).reshape(8, 4) / 10
    np.testing.assert_allclose(lin(x.T.copy().T).data, lin(np.ascontiguousarray(x)).data)
    img = np.random.default_rng(0).standard_normal((1, 2, 10, 12)).astype(np.float32)
    np.testing.assert_allclose(conv(img[:, :, ::2, ::2]).data,
                               conv(np.ascontiguousarray(img[:, :, ::2, ::2])).data,
                               rtol=1e-6)


def test_in_place_on_a_strided_view_writes_through():
    # Tensor(array) wraps without copying (as torch.from_numpy).
    a = np.zeros((2, 4))
    t = ag.Tensor(a[:, ::2])
    t += 1
    np.testing.assert_array_equal(a, [[1, 0, 1, 0], [1, 0, 1, 0]])


READONLY_ERRORS = [
    case("x += 1", lambda: ag.Tensor(readonly(np.ones((2, 3)))).__iadd__(1), ValueError,
         "add_", "read-only", "(2, 3)", "float64"),
    case("x *= 2", lambda: ag.Tensor(readonly(np.ones(3))).__imul__(2), ValueError, "mul_",
         "read-only", "(3,)"),
    case("x /= 2", lambda: ag.Tensor(readonly(np.ones(3))).__itruediv__(2), ValueError,
         "div_", "read-only"),
    case("x[0] = 1", lambda: ag.Tensor(readonly(np.ones(3))).__setitem__(0, 1.0), ValueError,
         "setitem", "read-only", "(3,)"),
    case("broadcast view += 1",
         lambda: ag.Tensor(np.broadcast_to(np.ones(3), (2, 3))).__iadd__(1), ValueError,
         "add_", "read-only", "(2, 3)"),
]


@pytest.mark.parametrize("fn, exc, needles", READONLY_ERRORS)
def test_in_place_on_read_only_arrays(fn, exc, needles):
    assert_raises(fn, exc, needles)


def test_backward_through_read_only_inputs():
    a = readonly(np.arange(6, dtype=np.float32).reshape(2, 3))
    x = ag.Tensor(a, requires_grad=True)
    for _ in range(2):                      # the second backward accumulates
        (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 4 * a)
    assert x.grad.data.flags.writeable and not a.flags.writeable
    m = nn.Linear(3, 2)
    m(ag.Tensor(a)).sum().backward()
    np.testing.assert_allclose(m.weight.grad.data, np.tile(a.sum(0), (2, 1)))
    b = ag.Tensor(np.broadcast_to(np.float32(2), (2, 3)), requires_grad=True)
    (b * b).sum().backward()
    np.testing.assert_array_equal(b.grad.data, np.full((2, 3), 4.0))
    c = ag.tensor(a)                        # ag.tensor copies: a writeable array
    c += 1
    np.testing.assert_array_equal(c.data, a + 1)


# ================================================================ backward, grad, gradcheck
def _nonscalar():
    return ag.randn(3, requires_grad=True) * 2


def _twice():
    y = ag.randn(3, requires_grad=True).exp().sum()
    y.backward()
    y.backward()


def _gradcheck_single_tensor():
    return ag.gradcheck(lambda x: x * 2, ag.randn(3, dtype=np.float64, requires_grad=True))


BACKWARD_ERRORS = [
    case("backward() of (3,)", lambda: _nonscalar().backward(), RuntimeError, "backward",
         "(3,)", "gradient="),
    case("backward(gradient (4,)) of (3,)", lambda: _nonscalar().backward(ag.ones(4)),
         RuntimeError, "backward", "(4,)", "(3,)"),
    case("backward() without grad", lambda: ag.randn(3).sum().backward(), RuntimeError,
         "backward", "does not require grad"),
    case("backward() of an int tensor", lambda: ag.tensor([1, 2]).sum().backward(),
         RuntimeError, "backward", "int64"),
    case("backward twice", _twice, RuntimeError, "second time", "`sum`", "retain_graph"),
    case("backward(gradient='a')", lambda: _nonscalar().backward("a"), TypeError,
         "backward", "str"),
    case("backward(gradient=[1, None, 1])", lambda: _nonscalar().backward([1.0, None, 1.0]),
         TypeError, "backward", "None"),
    case("grad of an unused input",
         lambda: ag.grad(_nonscalar().sum(), [ag.randn(3, requires_grad=True)]),
         RuntimeError, "grad", "input 0", "allow_unused"),
    case("grad w.r.t. a tensor without grad",
         lambda: ag.grad(_nonscalar().sum(), [ag.randn(3)]), RuntimeError, "grad",
         "input 0", "does not require grad"),
    case("grad with 2 grad_outputs for 1 output",
         lambda: ag.grad(_nonscalar().sum(), [ag.randn(3, requires_grad=True)],
                         grad_outputs=[1, 2]), ValueError, "grad", "2 grad_outputs"),
    case("grad([1], ...)", lambda: ag.grad([1], [ag.randn(2, requires_grad=True)]),
         TypeError, "backward", "int"),
    case("grad(3.0, ...)", lambda: ag.grad(3.0, [ag.randn(3, requires_grad=True)]),
         TypeError, "grad", "float"),
    case("grad(..., grad_outputs=[[1, None, 1]])",
         lambda: ag.grad(_nonscalar(), [ag.randn(3, requires_grad=True)],
                         grad_outputs=[[1.0, None, 1.0]]), TypeError, "backward", "None"),
    case("in place on a leaf that requires grad",
         lambda: ag.randn(2, requires_grad=True).__iadd__(1), RuntimeError, "add_",
         "leaf", "(2,)", "no_grad"),
    case("gradcheck on float32",
         lambda: ag.gradcheck(lambda x: x * 2, (ag.randn(3, requires_grad=True),)),
         TypeError, "gradcheck", "float32", "float64"),
    case("gradgradcheck on float32",
         lambda: ag.gradgradcheck(lambda x: x * x, (ag.randn(3, requires_grad=True),)),
         TypeError, "gradcheck", "float32"),
    case("gradcheck: nothing requires grad",
         lambda: ag.gradcheck(lambda x: x * 2, (ag.randn(3, dtype=np.float64),)),
         ValueError, "gradcheck", "no input requires grad"),
    case("gradcheck: fn returns a float",
         lambda: ag.gradcheck(lambda x: 3.0, (ag.randn(3, dtype=np.float64,
                                                        requires_grad=True),)),
         TypeError, "gradcheck", "float"),
    case("gradcheck at a NaN input",
         lambda: ag.gradcheck(lambda x: x * 2, (leaf([np.nan, 1.0], np.float64),)),
         ag.GradcheckError, "gradcheck", "input 0", "nan"),
]


@pytest.mark.parametrize("fn, exc, needles", BACKWARD_ERRORS)
def test_backward_and_grad_errors(fn, exc, needles):
    assert_raises(fn, exc, needles)


def test_gradcheck_accepts_a_single_tensor():
    assert _gradcheck_single_tensor() is True
    x = ag.randn(3, dtype=np.float64, requires_grad=True)
    assert ag.gradgradcheck(lambda t: t * t, x)
    assert ag.numerical_jacobian(lambda t: t * 2, x)[0].shape == (3, 3)


# ================================================================ nn layers
LAYER_ERRORS = [
    case("Linear(3, 4) on (2, 5)", lambda: nn.Linear(3, 4)(t32(2, 5)), ValueError, "linear",
         "(2, 5)", "(4, 3)"),
    case("Linear on a 0-d tensor", lambda: nn.Linear(3, 4)(ag.tensor(1.0)), ValueError,
         "linear", "()"),
    case("Linear(-1, 3)", lambda: nn.Linear(-1, 3), ValueError, "Linear", "-1"),
    case("Linear(2.5, 3)", lambda: nn.Linear(2.5, 3), TypeError, "Linear", "2.5"),
    case("Conv2d(-1, 2, 3)", lambda: nn.Conv2d(-1, 2, 3), ValueError, "Conv2d", "-1"),
    case("Embedding(-1, 2)", lambda: nn.Embedding(-1, 2), ValueError, "Embedding", "-1"),
    case("Linear(dtype=int64)", lambda: nn.Linear(2, 3, dtype=np.int64), TypeError,
         "requires_grad", "int64"),
    case("Parameter(bool array)", lambda: nn.Parameter(np.array([True])), TypeError,
         "requires_grad", "bool"),
    case("Conv2d(3, 4, 3) on 2 channels", lambda: nn.Conv2d(3, 4, 3)(t32(1, 2, 5, 5)),
         ValueError, "conv2d", "2 channels", "(4, 3, 3, 3)"),
    case("Conv2d on (5, 5)", lambda: nn.Conv2d(3, 4, 3)(t32(5, 5)), ValueError, "conv2d",
         "(5, 5)"),
    case("Conv2d kernel 7 on 5x5", lambda: nn.Conv2d(1, 1, 7)(t32(1, 1, 5, 5)), ValueError,
         "kernel_size (7, 7)", "(5, 5)"),
    case("Conv2d stride 0", lambda: nn.Conv2d(1, 1, 3, stride=0)(t32(1, 1, 5, 5)),
         ValueError, "stride (0, 0)"),
    case("Conv2d padding -1", lambda: nn.Conv2d(1, 1, 3, padding=-1)(t32(1, 1, 5, 5)),
         ValueError, "conv2d", "negative padding"),
    case("Conv2d groups=2 with 3 channels", lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError,
         "Conv2d", "groups 2"),
    case("Conv2d kernel_size 0", lambda: nn.Conv2d(1, 1, 0), ValueError, "Conv2d",
         "kernel_size", "0"),
    case("MaxPool2d(7) on 5x5", lambda: nn.MaxPool2d(7)(t32(1, 1, 5, 5)), ValueError,
         "max_pool2d", "(7, 7)", "(5, 5)"),
    case("MaxPool2d on (5, 5)", lambda: nn.MaxPool2d(2)(t32(5, 5)), ValueError,
         "max_pool2d", "(5, 5)"),
    case("BatchNorm1d(3) on 2 channels", lambda: nn.BatchNorm1d(3)(t32(4, 2)), ValueError,
         "BatchNorm1d", "(4, 2)", "expected 3"),
    case("BatchNorm1d training on 1 sample", lambda: nn.BatchNorm1d(3)(t32(1, 3)),
         ValueError, "batch_norm", "(1, 3)"),
    case("BatchNorm1d training on 0 samples", lambda: nn.BatchNorm1d(3)(ag.zeros(0, 3)),
         ValueError, "batch_norm", "(0, 3)"),
    case("BatchNorm2d on 3-d", lambda: nn.BatchNorm2d(3)(t32(4, 3, 5)), ValueError,
         "BatchNorm2d", "(4, 3, 5)"),
    case("LayerNorm(4) on (2, 3)", lambda: nn.LayerNorm(4)(t32(2, 3)), ValueError,
         "layer_norm", "(4,)", "(2, 3)"),
    case("Embedding float indices", lambda: nn.Embedding(4, 2)(ag.tensor([1.0])), TypeError,
         "embedding", "float32"),
    case("Embedding index 4 of 4", lambda: nn.Embedding(4, 2)(np.array([4])), IndexError,
         "embedding", "[4, 4]", "(4, 2)"),
    case("Embedding index -1", lambda: nn.Embedding(4, 2)(np.array([-1])), IndexError,
         "embedding", "-1"),
    case("Embedding padding_idx 4 of 4", lambda: nn.Embedding(4, 2, padding_idx=4),
         ValueError, "Embedding", "padding_idx 4"),
    case("Dropout(1.5)", lambda: nn.Dropout(1.5), ValueError, "Dropout", "1.5"),
    case("F.dropout(p=-0.1)", lambda: F.dropout(t32(3), -0.1), ValueError, "dropout", "-0.1"),
    case("RNN input_size 3 on (5, 2, 7)", lambda: nn.RNN(3, 4)(t32(5, 2, 7)), ValueError,
         "RNN", "input_size=3", "(5, 2, 7)"),
    case("RNN h0 of the wrong batch", lambda: nn.RNN(3, 4)(t32(5, 2, 3), t32(1, 3, 4)),
         ValueError, "RNN", "(1, 2, 4)", "(1, 3, 4)"),
    case("LSTM input_size 3 on (5, 2, 7)", lambda: nn.LSTM(3, 4)(t32(5, 2, 7)), ValueError,
         "LSTM", "(5, 2, 7)"),
    case("GRUCell(3, 4) on (2, 5)", lambda: nn.GRUCell(3, 4)(t32(2, 5)), ValueError,
         "GRUCell", "(2, 5)"),
    case("RBF(3, 4) on (2, 5)", lambda: nn.RBF(3, 4)(t32(2, 5)), ValueError, "rbf", "(2, 5)",
         "(4, 3)"),
    case("PReLU(3) on 4 channels", lambda: nn.PReLU(3)(t32(2, 4)), ValueError, "prelu",
         "(2, 4)"),
    case("Flatten(2, 1)", lambda: nn.Flatten(2, 1)(t32(2, 3, 4)), ValueError, "flatten",
         "(2, 3, 4)"),
    case("gelu(approximate='foo')", lambda: F.gelu(t32(2), approximate="foo"), ValueError,
         "gelu", "'foo'"),
    case("Sequential(..., 'relu')", lambda: nn.Sequential(nn.Linear(2, 2), "relu"),
         TypeError, "add_module", "str"),
]


@pytest.mark.parametrize("fn, exc, needles", LAYER_ERRORS)
def test_layer_errors(fn, exc, needles):
    assert_raises(fn, exc, needles)


LAYER_RESULTS = [
    value("Linear on a (0, 3) batch", lambda: nn.Linear(3, 4)(ag.zeros(0, 3)),
          shape_is((0, 4))),
    value("Linear weight grad from an empty batch",
          lambda: (lambda m: (m(ag.zeros(0, 3)).sum().backward(), m.weight.grad)[1])(
              nn.Linear(3, 4)), same(np.zeros((4, 3)))),
    value("Conv2d on a (0, 2, 5, 5) batch", lambda: nn.Conv2d(2, 3, 3)(ag.zeros(0, 2, 5, 5)),
          shape_is((0, 3, 3, 3))),
    value("BatchNorm1d eval on (0, 3)", lambda: nn.BatchNorm1d(3).eval()(ag.zeros(0, 3)),
          shape_is((0, 3))),
    value("LayerNorm on (0, 3)", lambda: nn.LayerNorm(3)(ag.zeros(0, 3)), shape_is((0, 3))),
    value("Embedding of no indices", lambda: nn.Embedding(4, 2)(np.zeros(0, np.int64)),
          shape_is((0, 2))),
    value("RNN on a batch of 0", lambda: nn.RNN(3, 4, batch_first=True)(ag.zeros(0, 5, 3))[0],
          shape_is((0, 5, 4))),
    value("Linear on int64 input is float64 (NumPy promotion)",
          lambda: nn.Linear(3, 4)(ag.tensor([[1, 2, 3]])).dtype, lambda d: d == np.float64),
    value("Linear on float64 input is float64", lambda: nn.Linear(3, 4)(ag.randn(
        2, 3, dtype=np.float64)).dtype, lambda d: d == np.float64),
    value("Linear on a list", lambda: nn.Linear(3, 4)([[1.0, 2.0, 3.0]]),
          lambda t: t.shape == (1, 4) and t.dtype == np.float32),
    value("Linear on a NaN input", lambda: nn.Linear(3, 4)(ag.tensor([[np.nan, 1, 1]])),
          lambda t: np.isnan(t.data).all()),
    value("relu of int64 stays int64", lambda: F.relu(ag.tensor([-1, 2])), same([0, 2],
                                                                               np.int64)),
    value("MaxPool2d on a (0, 2, 4, 4) batch", lambda: nn.MaxPool2d(2)(ag.zeros(0, 2, 4, 4)),
          shape_is((0, 2, 2, 2))),
    value("AvgPool2d on a (0, 2, 4, 4) batch", lambda: nn.AvgPool2d(2)(ag.zeros(0, 2, 4, 4)),
          shape_is((0, 2, 2, 2))),
]


@pytest.mark.parametrize("fn, check", LAYER_RESULTS)
def test_layer_results(fn, check):
    assert_value(fn, check)


# ================================================================ nn losses
X3 = np.array([0.2, 0.7, 0.4], np.float32)
# Losses whose target has the input's shape, with a valid target for the input X3.
ELEMENTWISE = {
    "mse_loss": np.array([0.0, 1.0, 1.0]), "l1_loss": np.array([0.0, 1.0, 1.0]),
    "huber_loss": np.array([0.0, 1.0, 1.0]), "smooth_l1_loss": np.array([0.0, 1.0, 1.0]),
    "log_cosh_loss": np.array([0.0, 1.0, 1.0]),
    "binary_cross_entropy": np.array([0.0, 1.0, 1.0]),
    "binary_cross_entropy_with_logits": np.array([0.0, 1.0, 1.0]),
    "sigmoid_focal_loss": np.array([0.0, 1.0, 1.0]), "kl_div": np.array([0.2, 0.3, 0.5]),
    "hinge_loss": np.array([1.0, -1.0, 1.0]), "exponential_loss": np.array([1.0, -1.0, 1.0]),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_loss_with_nan_target_raises(name):
    target = ELEMENTWISE[name].copy()
    target[1] = np.nan
    assert_raises(lambda: getattr(F, name)(ag.tensor(X3), target), ValueError,
                  (name, "target contains NaN", "index (1,)"))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_loss_with_wrong_target_shape_raises(name):
    assert_raises(lambda: getattr(F, name)(ag.tensor(X3), np.zeros(4)), ValueError,
                  (name, "(4,)", "(3,)"))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_loss_rejects_int_input_and_string_target(name):
    fn = getattr(F, name)
    assert_raises(lambda: fn(ag.tensor([0, 1, 1]), ELEMENTWISE[name]), TypeError,
                  (name, "floating-point", "int64", "(3,)"))
    assert_raises(lambda: fn(ag.tensor(X3), np.array(["a", "b", "c"])), TypeError,
                  (name, "numeric", "<U1"))
    assert_raises(lambda: fn(ag.tensor(X3), ELEMENTWISE[name], reduction="avg"), ValueError,
                  (name, "reduction", "'avg'"))


NAN_INPUT_RAISES = {"binary_cross_entropy"}      # probabilities: NaN is out of [0, 1]


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_loss_with_nan_input(name):
    x = ag.tensor([0.2, np.nan, 0.4])
    if name in NAN_INPUT_RAISES:
        assert_raises(lambda: getattr(F, name)(x, ELEMENTWISE[name]), ValueError,
                      (name, "input probabilities", "nan"))
    else:       # NaN predictions propagate, as in PyTorch
        assert_value(lambda: getattr(F, name)(x, ELEMENTWISE[name]),
                     lambda out: np.isnan(out.item()))


EMPTY_BATCH = [(name, lambda n=name: getattr(F, n)(ag.zeros(0), np.zeros(0)), "(0,)")
               for name in sorted(ELEMENTWISE)] + [
    ("dice_loss", lambda: F.dice_loss(ag.zeros(0, 2), np.zeros((0, 2))), "(0, 2)"),
    ("total_variation_loss", lambda: F.total_variation_loss(ag.zeros(0, 1, 4, 4)),
     "(0, 1, 4, 4)"),
    ("softmax_focal_loss", lambda: F.softmax_focal_loss(ag.zeros(0, 4), np.zeros(0, int)),
     "(0, 4)"),
    ("multi_margin_loss", lambda: F.multi_margin_loss(ag.zeros(0, 4), np.zeros(0, int)),
     "(0, 4)"),
    ("categorical_hinge_loss",
     lambda: F.categorical_hinge_loss(ag.zeros(0, 4), np.zeros(0, int)), "(0, 4)"),
    ("cross_entropy", lambda: F.cross_entropy(ag.zeros(0, 4), np.zeros(0, int)), "(0, 4)"),
    ("nll_loss", lambda: F.nll_loss(ag.zeros(0, 4), np.zeros(0, int)), "(0, 4)"),
]


@pytest.mark.parametrize("name, fn, shape", [pytest.param(n, f, s, id=n)
                                             for n, f, s in EMPTY_BATCH])
def test_loss_mean_over_an_empty_batch_names_the_loss(name, fn, shape):
    assert_raises(fn, ValueError, (name, "empty", shape))


def test_loss_sum_and_none_over_an_empty_batch():
    for name in sorted(ELEMENTWISE):
        fn = getattr(F, name)
        assert fn(ag.zeros(0), np.zeros(0), reduction="sum").item() == 0.0, name
        assert fn(ag.zeros(0), np.zeros(0), reduction="none").shape == (0,), name
    assert F.cross_entropy(ag.zeros(0, 3), np.zeros(0, int), reduction="sum").item() == 0
    assert F.cross_entropy(ag.zeros(0, 3), np.zeros(0, int), reduction="none").shape == (0,)


CLASS_LOSSES = ["cross_entropy", "nll_loss", "softmax_focal_loss", "multi_margin_loss",
                "categorical_hinge_loss"]
LOGITS = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)


@pytest.mark.parametrize("name", CLASS_LOSSES)
@pytest.mark.parametrize("bad", [4, -1, 100])
def test_out_of_range_class_index(name, bad):
    assert_raises(lambda: getattr(F, name)(ag.tensor(LOGITS), np.array([0, bad, 1])),
                  ValueError, (name, "class indices must be in [0, 3]", repr(bad),
                               "index (1,)"))


@pytest.mark.parametrize("name", CLASS_LOSSES)
@pytest.mark.parametrize("dtype", ["i1", "i2", "i4", "i8", ">i8", "u1", "u8"])
def test_out_of_range_class_index_of_every_integer_dtype(name, dtype):
    # The range check reads a signed index array as unsigned (a negative index is then
    # larger than any class count): every width, a byte-swapped one, unsigned ones.
    fn = getattr(F, name)
    bads = [4, np.iinfo(dtype).max] + ([-1, np.iinfo(dtype).min] if dtype[-2] == "i" else [])
    for bad in bads:
        assert_raises(lambda: fn(ag.tensor(LOGITS), np.array([0, bad, 1], dtype)),
                      ValueError, (name, "class indices must be in [0, 3]", "index (1,)"))
    good = fn(ag.tensor(LOGITS), np.array([3, 0, 1], dtype)).item()
    assert good == fn(ag.tensor(LOGITS), np.array([3, 0, 1])).item()


@pytest.mark.parametrize("name", CLASS_LOSSES)
def test_class_target_errors(name):
    fn = getattr(F, name)
    assert_raises(lambda: fn(ag.tensor(LOGITS), np.array([0, 1])), ValueError,
                  (name, "target shape (2,)", "(3,)"))
    assert_raises(lambda: fn(ag.tensor(LOGITS), np.array([True, False, True])), TypeError,
                  (name, "integers", "bool"))
    assert_raises(lambda: fn(ag.tensor([[1, 2, 3, 4]]), np.array([0])), TypeError,
                  (name, "floating-point", "int64"))
    if name != "cross_entropy":     # float targets are probabilities for cross_entropy
        assert_raises(lambda: fn(ag.tensor(LOGITS), np.array([0.0, 1.5, 1.0])), TypeError,
                      (name, "integers", "float64"))
    assert_value(lambda: fn(ag.tensor([[np.nan, 0, 0, 0]]), np.array([0])),
                 lambda out: np.isnan(out.item()))


LOSS_ERRORS = [
    case("cross_entropy float target (3,) for (3, 4)",
         lambda: F.cross_entropy(ag.tensor(LOGITS), np.array([0.0, 1.0, 2.0])), ValueError,
         "cross_entropy", "probability target shape (3,)", "(3, 4)"),
    case("cross_entropy probability target with NaN",
         lambda: F.cross_entropy(ag.tensor(LOGITS), np.full((3, 4), np.nan)), ValueError,
         "cross_entropy", "contains NaN"),
    case("cross_entropy probability target 2.0",
         lambda: F.cross_entropy(ag.tensor(LOGITS), np.full((3, 4), 2.0)), ValueError,
         "cross_entropy", "[0.0, 1.0]", "2.0"),
    case("cross_entropy weight (3,) for 4 classes",
         lambda: F.cross_entropy(ag.tensor(LOGITS), np.array([0, 1, 2]), weight=np.ones(3)),
         ValueError, "cross_entropy", "(4,)", "(3,)"),
    case("cross_entropy weight with NaN",
         lambda: F.cross_entropy(ag.tensor(LOGITS), np.array([0, 1, 2]),
                                 weight=np.array([1, np.nan, 1, 1])), ValueError,
         "cross_entropy", "weight contains NaN"),
    case("cross_entropy label_smoothing=2",
         lambda: F.cross_entropy(ag.tensor(LOGITS), np.array([0, 1, 2]), label_smoothing=2),
         ValueError, "cross_entropy", "label_smoothing", "2"),
    case("cross_entropy on a 0-d input", lambda: F.cross_entropy(ag.tensor(1.0), np.array(0)),
         ValueError, "cross_entropy", "0-d"),
    case("cross_entropy string targets",
         lambda: F.cross_entropy(ag.tensor(LOGITS), ["a", "b", "c"]), TypeError,
         "cross_entropy", "<U1"),
    case("cross_entropy target None", lambda: F.cross_entropy(ag.tensor(LOGITS), None),
         TypeError, "cross_entropy", "object"),
    case("CrossEntropyLoss()(x, [9, 0, 0])",
         lambda: nn.CrossEntropyLoss()(ag.tensor(LOGITS), np.array([9, 0, 0])), ValueError,
         "cross_entropy", "9"),
    case("cross_entropy with 0 classes",
         lambda: F.cross_entropy(ag.zeros(2, 0), np.zeros(2, int)), ValueError,
         "cross_entropy", "(2, 0)"),
    case("binary_cross_entropy input 1.5",
         lambda: F.binary_cross_entropy(ag.tensor([0.5, 1.5]), np.zeros(2)), ValueError,
         "binary_cross_entropy", "input probabilities", "1.5"),
    case("binary_cross_entropy target inf",
         lambda: F.binary_cross_entropy(ag.tensor(X3), np.array([0.0, np.inf, 1.0])),
         ValueError, "binary_cross_entropy", "target probabilities", "inf"),
    case("binary_cross_entropy weight (4,)",
         lambda: F.binary_cross_entropy(ag.tensor(X3), np.zeros(3), weight=np.ones(4)),
         ValueError, "binary_cross_entropy", "(4,)", "(3,)"),
    case("hinge_loss 0/1 labels",
         lambda: F.hinge_loss(ag.tensor(X3), np.array([1.0, 0.0, 1.0])), ValueError,
         "hinge_loss", "{-1, 1}", "0.0"),
    case("huber_loss delta=0", lambda: F.huber_loss(ag.tensor(X3), np.zeros(3), delta=0),
         ValueError, "huber_loss", "delta"),
    case("sigmoid_focal_loss gamma=-1",
         lambda: F.sigmoid_focal_loss(ag.tensor(X3), np.zeros(3), gamma=-1), ValueError,
         "sigmoid_focal_loss", "gamma"),
    case("kl_div log_target +inf",
         lambda: F.kl_div(ag.tensor(X3), np.array([0.0, np.inf, 1.0]), log_target=True),
         ValueError, "kl_div", "inf"),
    case("kl_div target -0.5",
         lambda: F.kl_div(ag.tensor(X3), np.array([0.5, -0.5, 1.0])), ValueError, "kl_div",
         ">= 0", "-0.5"),
    case("kl_div target +inf", lambda: F.kl_div(ag.tensor(X3), np.array([0.0, np.inf, 1.0])),
         ValueError, "kl_div", "inf"),
    case("kl_div batchmean of an empty batch",
         lambda: F.kl_div(ag.zeros(0, 3), np.zeros((0, 3)), reduction="batchmean"), ValueError,
         "kl_div", "empty", "(0, 3)"),
    case("multi_margin_loss with 0 classes",
         lambda: F.multi_margin_loss(ag.zeros(2, 0), np.zeros(2, int)), ValueError,
         "multi_margin_loss", "(2, 0)", "no classes"),
    case("dice_loss NaN target",
         lambda: F.dice_loss(ag.tensor([[0.2, 0.7]]), np.array([[1.0, np.nan]])), ValueError,
         "dice_loss", "NaN"),
    case("dice_loss on a 0-d input", lambda: F.dice_loss(ag.tensor(0.5), 1.0), ValueError,
         "dice_loss", "0-d"),
    case("triplet_margin_loss shapes",
         lambda: F.triplet_margin_loss(t32(3, 2), t32(3, 2), t32(3, 3)), ValueError,
         "triplet_margin_loss", "(3, 3)", "(3, 2)"),
    case("contrastive_loss y NaN",
         lambda: F.contrastive_loss(t32(3, 2), t32(3, 2), np.array([1.0, np.nan, 0.0])),
         ValueError, "contrastive_loss", "NaN"),
    case("contrastive_loss y 2",
         lambda: F.contrastive_loss(t32(3, 2), t32(3, 2), np.array([1.0, 2.0, 0.0])),
         ValueError, "contrastive_loss", "{0, 1}", "2.0"),
    case("cosine_embedding_loss target NaN",
         lambda: F.cosine_embedding_loss(t32(3, 2), t32(3, 2), np.array([1.0, np.nan, -1.0])),
         ValueError, "cosine_embedding_loss", "NaN"),
    case("total_variation_loss on (1, 4, 4)",
         lambda: F.total_variation_loss(t32(1, 4, 4)), ValueError, "total_variation_loss",
         "(1, 4, 4)"),
    case("MSELoss(reduction='avg')", lambda: nn.MSELoss(reduction="avg"), ValueError,
         "MSELoss", "'avg'"),
]


@pytest.mark.parametrize("fn, exc, needles", LOSS_ERRORS)
def test_other_loss_errors(fn, exc, needles):
    assert_raises(fn, exc, needles)


LOSS_RESULTS = [
    value("mse_loss with an inf target is inf",
          lambda: F.mse_loss(ag.tensor(X3), np.array([0.0, np.inf, 1.0])), same(np.inf)),
    value("cross_entropy: -inf logit of the true class gives inf",
          lambda: F.cross_entropy(ag.tensor([[-np.inf, 1.0, 0.0]]), np.array([0])),
          same(np.inf)),
    value("cross_entropy: -inf logit of another class is a mask",
          lambda: F.cross_entropy(ag.tensor([[1.0, -np.inf, 1.0]]), np.array([0])),
          same(np.log(2.0))),
    value("cross_entropy: +inf logit gives NaN",
          lambda: F.cross_entropy(ag.tensor([[np.inf, 0.0]]), np.array([0])),
          lambda out: np.isnan(out.item())),
    value("cross_entropy: a list target is read as class indices",
          lambda: F.cross_entropy(ag.tensor([[0.0, 0.0]]), [1]), same(np.log(2.0))),
]


@pytest.mark.parametrize("fn, check", LOSS_RESULTS)
def test_loss_results(fn, check):
    assert_value(fn, check)


# ================================================================ optim
def _param(n=3, data=None):
    return nn.Parameter(np.ones(n, np.float32) if data is None else data)


def _step(param, grad, opt_cls=optim.SGD, **kw):
    opt = opt_cls([param], **kw)
    param.grad = grad
    opt.step()
    return param


OPTIM_ERRORS = [
    case("SGD(lr=-1)", lambda: optim.SGD([_param()], lr=-1), ValueError, "SGD", "lr", "-1"),
    case("SGD(lr=nan)", lambda: optim.SGD([_param()], lr=float("nan")), ValueError, "SGD",
         "lr", "nan"),
    case("SGD(lr='a')", lambda: optim.SGD([_param()], lr="a"), TypeError, "SGD", "lr", "str"),
    case("SGD(lr=None)", lambda: optim.SGD([_param()], lr=None), TypeError, "SGD", "lr",
         "NoneType"),
    case("SGD([])", lambda: optim.SGD([], lr=0.1), ValueError, "SGD", "empty"),
    case("SGD(one tensor)", lambda: optim.SGD(_param(), lr=0.1), TypeError, "SGD",
         "single Tensor"),
    case("SGD(set of params)", lambda: optim.SGD({_param()}, lr=0.1), TypeError, "SGD", "set"),
    case("SGD([ndarray])", lambda: optim.SGD([np.ones(2)], lr=0.1), TypeError, "SGD",
         "ndarray"),
    case("SGD([non-leaf])", lambda: optim.SGD([_param() * 2], lr=0.1), ValueError, "SGD",
         "non-leaf", "`mul`"),
    case("SGD([int tensor])", lambda: optim.SGD([ag.tensor([1, 2])], lr=0.1), ValueError,
         "SGD", "int64", "does not require grad"),
    case("SGD([p, p])", lambda: (lambda p: optim.SGD([p, p], lr=0.1))(_param()), ValueError,
         "SGD", "more than once"),
    case("SGD(nesterov without momentum)",
         lambda: optim.SGD([_param()], lr=0.1, nesterov=True), ValueError, "SGD", "nesterov"),
    case("Adam(betas=(1.0, 0.9))", lambda: optim.Adam([_param()], betas=(1.0, 0.9)),
         ValueError, "Adam", "betas[0]", "1.0"),
    case("Adam(betas=0.9)", lambda: optim.Adam([_param()], betas=0.9), TypeError, "Adam",
         "betas", "0.9"),
    case("Adam(eps=-1)", lambda: optim.Adam([_param()], eps=-1), ValueError, "Adam", "eps"),
    case("RMSprop(alpha=-1)", lambda: optim.RMSprop([_param()], alpha=-1), ValueError,
         "RMSprop", "alpha"),
    case("LBFGS.step() without closure", lambda: optim.LBFGS([_param()]).step(), ValueError,
         "LBFGS", "closure"),
    case("StepLR(step_size=0)",
         lambda: optim.lr_scheduler.StepLR(optim.SGD([_param()], lr=0.1), step_size=0),
         ValueError, "StepLR", "step_size", "0"),
    case("StepLR('x')", lambda: optim.lr_scheduler.StepLR("x", step_size=1), TypeError,
         "StepLR", "str"),
    case("step with a (4,) grad for a (3,) param", lambda: _step(_param(), ag.ones(4)),
         ValueError, "SGD", "(4,)", "(3,)"),
    case("step on a read-only parameter",
         lambda: _step(_param(data=readonly(np.ones(3, np.float32))), ag.ones(3)),
         ValueError, "SGD", "read-only", "(3,)"),
    case("Adam step with a (4,) grad for a (3,) param",
         lambda: _step(_param(), ag.ones(4), optim.Adam), ValueError, "Adam", "(4,)", "(3,)"),
    case("LBFGS step on a read-only parameter",
         lambda: optim.LBFGS([_param(data=readonly(np.ones(3, np.float32)))]).step(
             lambda: 0.0), ValueError, "LBFGS", "read-only", "(3,)"),
    case("LBFGS step with a (4,) grad for a (3,) param",
         lambda: (lambda p: optim.LBFGS([p]).step(lambda: setattr(p, "grad", ag.ones(4))
                                                  or 0.0))(_param()),
         ValueError, "LBFGS", "(4,)", "(3,)"),
]


@pytest.mark.parametrize("fn, exc, needles", OPTIM_ERRORS)
def test_optimizer_errors(fn, exc, needles):
    assert_raises(fn, exc, needles)


def test_optimizer_results_on_odd_gradients():
    # A NaN gradient makes a NaN parameter (as PyTorch); only that element.
    p = _step(_param(), ag.tensor([np.nan, 1.0, 1.0]), optim.Adam, lr=1e-3)
    assert np.isnan(p.data[0]) and np.isfinite(p.data[1:]).all()
    # An integer gradient is cast into the parameter's dtype.
    p = _step(_param(), ag.tensor([1, 2, 3]), lr=0.1)
    np.testing.assert_allclose(p.data, [0.9, 0.8, 0.7], rtol=1e-6)
    assert p.dtype == np.float32
    # clip_grad_norm_ can refuse a non-finite norm.
    p = _param()
    p.grad = ag.tensor([np.nan, 1.0, 1.0])
    assert_raises(lambda: nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True),
                  RuntimeError, ("clip_grad_norm_", "non-finite", "nan"))


# ================================================================ checkpoints and state dicts
# Corrupted, truncated and disguised files: tests/test_save_load.py.
def _linear_sd(**changes):
    m = nn.Linear(2, 3)
    sd = m.state_dict()
    sd.update(changes)
    return m, sd


STATE_ERRORS = [
    case("nn.save(list)", lambda: nn.save([1], "unused.npz"), TypeError, "nn.save", "list"),
    case("load_state_dict wrong shape",
         lambda: (lambda m, sd: m.load_state_dict(sd))(*_linear_sd(weight=np.zeros((4, 4)))),
         ValueError, "load_state_dict", "'weight'", "(4, 4)", "(3, 2)"),
    case("load_state_dict missing key",
         lambda: nn.Linear(2, 3).load_state_dict({"weight": np.zeros((3, 2))}), KeyError,
         "load_state_dict", "missing", "'bias'"),
    case("load_state_dict string value",
         lambda: (lambda m, sd: m.load_state_dict(sd))(*_linear_sd(weight="abc")), TypeError,
         "load_state_dict", "'weight'", "<U3"),
    case("load_state_dict(list)", lambda: nn.Linear(2, 3).load_state_dict([1, 2]), TypeError,
         "load_state_dict", "list"),
]


@pytest.mark.parametrize("fn, exc, needles", STATE_ERRORS)
def test_state_dict_errors(fn, exc, needles, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_raises(fn, exc, needles)
    assert not list(tmp_path.iterdir())


def test_state_dict_values_are_converted_not_checked():
    m, sd = _linear_sd(weight=np.arange(6, dtype=np.int64).reshape(3, 2))
    m.load_state_dict(sd)
    assert m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight.data, np.arange(6).reshape(3, 2))
    m, sd = _linear_sd(weight=np.full((3, 2), np.nan))
    m.load_state_dict(sd)                   # a NaN checkpoint loads as it is
    assert np.isnan(m.weight.data).all()


# ================================================================ draw_graph
def _loss():
    return (ag.randn(2, requires_grad=True) * 2).sum()


DRAW_ERRORS = [
    case("draw_graph(ndarray)", lambda: ag.draw_graph(np.ones(2)), TypeError, "draw_graph",
         "ndarray"),
    case("draw_graph(rankdir='XX')", lambda: ag.draw_graph(_loss(), rankdir="XX"), ValueError,
         "draw_graph", "'XX'"),
    case("draw_graph(names='w')", lambda: ag.draw_graph(_loss(), names="w"), TypeError,
         "draw_graph", "str"),
    case("draw_graph(names={'w': ndarray})",
         lambda: ag.draw_graph(_loss(), names={"w": np.ones(2)}), TypeError, "draw_graph",
         "'w'", "ndarray"),
    case("draw_graph(names=[1, 2])", lambda: ag.draw_graph(_loss(), names=[1, 2]), TypeError,
         "draw_graph", "1"),
    case("draw_graph(max_nodes=0)", lambda: ag.draw_graph(_loss(), max_nodes=0), ValueError,
         "draw_graph", "max_nodes", "0"),
]


@pytest.mark.parametrize("fn, exc, needles", DRAW_ERRORS)
def test_draw_graph_errors(fn, exc, needles):
    assert_raises(fn, exc, needles)


def test_draw_graph_of_odd_graphs():
    y = _loss()
    y.backward()                                      # freed graphs can still be drawn
    assert "mul" in ag.draw_graph(y).source
    assert "sum" in ag.draw_graph((ag.zeros(0, requires_grad=True) * 2).sum()).source
    with np.errstate(all="ignore"):
        src = ag.draw_graph((ag.tensor([np.nan, np.inf], requires_grad=True) * 2).sum()).source
    assert "nan" in src and "inf" in src


# ================================================================ metrics, utils, init
OTHER_ERRORS = [
    case("accuracy of strings", lambda: nn.metrics.accuracy(np.array(["a"]), np.array([1])),
         TypeError, "accuracy", "<U1"),
    case("accuracy shapes", lambda: nn.metrics.accuracy(np.zeros((3, 2)), np.zeros(4, int)),
         ValueError, "accuracy", "(3, 2)", "(4,)"),
    case("accuracy of no samples",
         lambda: nn.metrics.accuracy(np.zeros((0, 3)), np.zeros(0, int)), ValueError,
         "accuracy", "(0, 3)"),
    case("accuracy with class 5 of 2",
         lambda: nn.metrics.accuracy(np.zeros((3, 2)), np.array([5, 0, 1])), ValueError,
         "accuracy", "5"),
    case("clip_grad_norm_(max_norm=-1)",
         lambda: nn.utils.clip_grad_norm_([_param()], -1.0), ValueError, "clip_grad_norm_",
         "-1.0"),
    case("batches of lengths 3 and 4",
         lambda: list(nn.utils.batches(np.ones(3), np.ones(4), batch_size=2)), ValueError,
         "batches", "(3,)", "(4,)"),
    case("batches(batch_size=0)", lambda: list(nn.utils.batches(np.ones(3), batch_size=0)),
         ValueError, "batches", "batch_size", "0"),
    case("xavier_uniform_ of (2,)", lambda: nn.init.xavier_uniform_(ag.zeros(2)), ValueError,
         "init", "(2,)"),
    case("kaiming_uniform_(mode='foo')",
         lambda: nn.init.kaiming_uniform_(ag.zeros(2, 2), mode="foo"), ValueError, "init",
         "'foo'"),
    case("calculate_gain('foo')", lambda: nn.init.calculate_gain("foo"), ValueError,
         "calculate_gain", "'foo'"),
] + [
    case(f"{fn}_ of an int64 tensor",
         lambda f=fn: getattr(nn.init, f + "_")(ag.zeros(2, 2, dtype=np.int64)), TypeError,
         fn + "_", "int64")
    for fn in ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
               "lecun_normal", "normal", "uniform")
]


@pytest.mark.parametrize("fn, exc, needles", OTHER_ERRORS)
def test_metrics_utils_init_errors(fn, exc, needles):
    assert_raises(fn, exc, needles)
