"""Layers: values against direct loop implementations, gradcheck in float64 at small
sizes, train/eval behaviour, and the modules' parameters."""
import math

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F


@pytest.fixture(autouse=True)
def _float64():
    ag.set_default_dtype(np.float64)


def _t(a, grad=True):
    return ag.Tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _distinct(*shape, seed=0):
    """Values at least 0.05 apart: no ties for max pooling, even under gradcheck's eps."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(np.arange(n) * 0.05 - n * 0.025).reshape(shape)


def _pad2(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ---------------------------------------------------------------- linear
def test_linear_values_and_gradcheck():
    x, w, b = _t(_randn(2, 3, 4)), _t(_randn(5, 4, seed=1)), _t(_randn(5, seed=2))
    np.testing.assert_allclose(F.linear(x, w, b).data, x.data @ w.data.T + b.data)
    np.testing.assert_allclose(F.linear(x, w).data, x.data @ w.data.T)
    assert ag.gradcheck(F.linear, [x, w, b])
    assert ag.gradgradcheck(F.linear, [x, w, b])


@pytest.mark.parametrize("xdt,bdt", [(np.float32, np.float32), (np.float64, np.float32),
                                     (np.float32, np.float64)])
def test_linear_bias_gradient_is_the_column_sum_in_the_bias_dtype(xdt, bdt):
    # The rule sums a 2-d gradient over the batch itself (3-d and more: the engine);
    # the result is the bias's dtype, the sum exactly NumPy's.
    rng = np.random.default_rng(3)
    x = ag.Tensor(rng.standard_normal((7, 4)).astype(xdt), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((3, 4)).astype(xdt), requires_grad=True)
    b = ag.Tensor(rng.standard_normal(3).astype(bdt), requires_grad=True)
    y = F.linear(x, w, b)
    g = rng.standard_normal(y.shape).astype(y.dtype)
    y.backward(g)
    assert b.grad.dtype == bdt and b.grad.shape == (3,)
    np.testing.assert_array_equal(b.grad.data, g.sum(axis=0).astype(bdt))
    x3 = ag.Tensor(rng.standard_normal((2, 7, 4)).astype(xdt))
    y3 = F.linear(x3, w, b)
    g3 = rng.standard_normal(y3.shape).astype(y3.dtype)
    b.grad = None
    y3.backward(g3)
    assert b.grad.dtype == bdt
    np.testing.assert_array_equal(b.grad.data, g3.sum(axis=(0, 1)).astype(bdt))


def test_linear_module():
    m = nn.Linear(4, 3)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [("weight", (3, 4)), ("bias", (3,))]
    x = _t(_randn(2, 4))
    np.testing.assert_allclose(m(x).data, x.data @ m.weight.data.T + m.bias.data)
    m2 = nn.Linear(4, 3, bias=False)
    assert m2.bias is None and [n for n, _ in m2.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match=r"linear.*\(2, 5\).*\(3, 4\)"):
        m(_t(_randn(2, 5)))


@pytest.mark.parametrize("make,fn,x", [
    (lambda: nn.Linear(4, 3), F.linear, _randn(2, 4)),
    (lambda: nn.Conv2d(2, 3, 3, padding=1), lambda x, w, b: F.conv2d(x, w, b, padding=1),
     _randn(1, 2, 4, 4)),
])
def test_linear_and_conv2d_use_the_parameters_their_attributes_show(make, fn, x):
    # Their forward reads the parameters from _parameters (the attribute goes through
    # Module.__getattr__, which costs more): it must use what the attributes show.
    m = make()
    x = _t(x, grad=False)
    before = m(x).data
    m.weight = w = nn.Parameter(m.weight.data * 2.0)     # replaced by assignment
    out = m(x)
    np.testing.assert_array_equal(out.data, fn(x, w, m.bias).data)
    assert not np.allclose(out.data, before)
    out.sum().backward()
    assert w.grad is not None and m.bias.grad is not None
    m.bias = None                                        # the bias removed
    np.testing.assert_array_equal(m(x).data, fn(x, w, None).data)
    zeros = ag.tensor(np.zeros_like(w.data), requires_grad=True)     # functional_call's
    np.testing.assert_array_equal(nn.functional_call(m, {"weight": zeros}, x).data, 0.0)
    del m.bias
    with pytest.raises(AttributeError, match="bias"):
        m(x)
    m.bias = None                                        # a plain attribute now
    np.testing.assert_array_equal(m(x).data, fn(x, w, None).data)
    del m.weight
    with pytest.raises(AttributeError, match="weight"):
        m(x)
    # A weight computed from other parameters, as weight normalisation makes it: a
    # plain attribute once the parameter is gone.
    m.v = v = nn.Parameter(w.data.copy())
    m.weight = v * 3.0
    out = m(x)
    np.testing.assert_array_equal(out.data, fn(x, v.data * 3.0, None).data)
    out.sum().backward()
    assert v.grad is not None


@pytest.mark.parametrize("base,fn,x", [
    (nn.Linear, F.linear, _randn(2, 4)),
    (nn.Conv2d, lambda x, w, b: F.conv2d(x, w, b), _randn(1, 4, 3, 3)),
])
def test_linear_and_conv2d_honour_a_weight_defined_otherwise(base, fn, x):
    # A subclass's property, and an entry of the instance's own dict, come before the
    # registered parameter in the attribute lookup: forward must use them too.
    class Frozen(base):
        @property
        def weight(self):
            return nn.Module.__getattr__(self, "weight").detach()

    args = (4, 3) if base is nn.Linear else (4, 3, 2)
    x = _t(x, grad=False)
    m = Frozen(*args)
    m(x).sum().backward()
    assert m._parameters["weight"].grad is None and m.bias.grad is not None
    m = base(*args)
    doubled = ag.tensor(m.weight.data * 2.0)
    object.__setattr__(m, "weight", doubled)            # shadows the registered one
    np.testing.assert_array_equal(m(x).data, fn(x, doubled, m.bias).data)


def test_flatten():
    x = _t(_randn(2, 3, 4, 5))
    assert F.flatten(x).shape == (120,)
    assert F.flatten(x, 1, 2).shape == (2, 12, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, -2)(x).shape == (24, 5)
    y = nn.Flatten()(x)
    y.backward(ag.ones_like(y))
    np.testing.assert_array_equal(x.grad.data, 1.0)
    with pytest.raises(ValueError, match="start_dim"):
        F.flatten(x, 3, 1)


# ---------------------------------------------------------------- conv2d
def conv_reference(x, w, b, stride, padding, dilation, groups):
    """Cross-correlation by a loop over output positions (vectorised over batch/channels)."""
    sh, sw = _pad2(stride)
    dh, dw = _pad2(dilation)
    o, cg, kh, kw = w.shape
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    elif padding == "valid":
        pads = ((0, 0), (0, 0))
    else:
        ph, pw = _pad2(padding)
        pads = ((ph, ph), (pw, pw))
    xp = np.pad(x, ((0, 0), (0, 0)) + pads)
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    out = np.zeros((x.shape[0], o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
            cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
            patch = xp[:, :, rows, cols]
            for g in range(groups):
                out[:, g * og:(g + 1) * og, i, j] = np.einsum(
                    "nckl,ockl->no", patch[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
    return out if b is None else out + b[None, :, None, None]


CONV_CASES = [
    dict(),
    dict(stride=2),
    dict(stride=(2, 1), padding=(1, 2)),
    dict(padding=1, dilation=2),
    dict(kernel=(2, 3), dilation=(1, 2), stride=(1, 2)),
    dict(groups=2, padding=1),
    dict(groups=4, kernel=(1, 2)),
    dict(bias=False, kernel=(3, 1)),
    dict(padding="same", kernel=(2, 3), dilation=(2, 1)),
    dict(padding="valid", kernel=2),
]
CONV_IDS = [",".join(f"{k}={v}" for k, v in c.items()) or "default" for c in CONV_CASES]


def _conv_inputs(case, n=2, c=4, h=5, w=6, o=4):
    k = _pad2(case.get("kernel", 3))
    g = case.get("groups", 1)
    x = _t(_randn(n, c, h, w))
    wt = _t(_randn(o, c // g, *k, seed=1) * 0.5)
    b = None if case.get("bias") is False else _t(_randn(o, seed=2))
    kw = dict(stride=case.get("stride", 1), padding=case.get("padding", 0),
              dilation=case.get("dilation", 1), groups=g)
    return x, wt, b, kw


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_values_match_loops(case):
    x, w, b, kw = _conv_inputs(case)
    out = F.conv2d(x, w, b, **kw)
    ref = conv_reference(x.data, w.data, None if b is None else b.data, **kw)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_gradcheck(case):
    x, w, b, kw = _conv_inputs(case, n=1, h=4, w=5)
    if b is None:
        assert ag.gradcheck(lambda x, w: F.conv2d(x, w, None, **kw), [x, w])
    else:
        assert ag.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])


def test_conv2d_gradgradcheck():
    x, w, b, kw = _conv_inputs(dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2,
                                    kernel=(2, 2)), n=1, h=4, w=5)
    assert ag.gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])


def test_conv2d_unbatched_input():
    x, w, b, kw = _conv_inputs(dict(padding=1))
    out = F.conv2d(x[0], w, b, **kw)
    np.testing.assert_allclose(out.data, F.conv2d(x, w, b, **kw).data[0])


def test_conv2d_module():
    m = nn.Conv2d(4, 6, (2, 3), stride=(1, 2), padding=1, dilation=(2, 1), groups=2)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [
        ("weight", (6, 2, 2, 3)), ("bias", (6,))]
    x = _t(_randn(2, 4, 6, 7))
    ref = conv_reference(x.data, m.weight.data, m.bias.data, (1, 2), 1, (2, 1), 2)
    np.testing.assert_allclose(m(x).data, ref, rtol=1e-12)
    assert nn.Conv2d(2, 2, 3, bias=False).bias is None
    assert "groups=2" in repr(m) and "kernel_size=(2, 3)" in repr(m)


@pytest.mark.parametrize("call,match", [
    (lambda x, w: F.conv2d(x, w[:, :3]), "groups=1"),
    (lambda x, w: F.conv2d(x, w, groups=3), "groups=3"),
    (lambda x, w: F.conv2d(x, w, ag.zeros(5)), r"bias of shape \(5,\)"),
    (lambda x, w: F.conv2d(x, w, stride=2, padding="same"), "same"),
    (lambda x, w: F.conv2d(x, w, padding="full"), "full"),
    (lambda x, w: F.conv2d(x[0, 0], w), r"\(5, 6\)"),
    (lambda x, w: F.conv2d(x[:, :, :2], w), "does not fit"),
])
def test_conv2d_errors(call, match):
    x, w, _, _ = _conv_inputs({})
    with pytest.raises(ValueError, match=match):
        call(x, w)


def test_conv2d_module_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(4, 6, 3, padding_mode="reflect")


# ---------------------------------------------------------------- pooling
def _out_size(n, k, s, p, d, ceil):
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def pool_reference(x, kind, k, s, p, d=1, ceil=False, include_pad=True, divisor=None):
    """PyTorch's pooling loops: window start y*s - p, clipped as in its kernels."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pad2, (k, s, p, d))
    h, w = x.shape[-2:]
    oh, ow = _out_size(h, kh, sh, ph, dh, ceil), _out_size(w, kw, sw, pw, dw, ceil)
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * sh - ph, j * sw - pw
            if kind == "max":
                rows = [r for r in range(hs, hs + dh * (kh - 1) + 1, dh) if 0 <= r < h]
                cols = [c for c in range(ws, ws + dw * (kw - 1) + 1, dw) if 0 <= c < w]
                out[..., i, j] = x[..., rows, :][..., cols].max(axis=(-2, -1))
            else:
                he, we = min(hs + kh, h + ph), min(ws + kw, w + pw)
                size = (he - hs) * (we - ws)
                hs0, ws0, he0, we0 = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
                total = x[..., hs0:he0, ws0:we0].sum(axis=(-2, -1))
                div = divisor or (size if include_pad else (he0 - hs0) * (we0 - ws0))
                out[..., i, j] = total / div
    return out


MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=1),
    dict(kernel_size=2, stride=1, dilation=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, ceil_mode=True),
]
AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=2, padding=(1, 1), ceil_mode=True),
    dict(kernel_size=(2, 3), stride=2, padding=(1, 1), ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, divisor_override=3),
]


def _ids(cases):
    return [",".join(f"{k}={v}" for k, v in c.items()) for c in cases]


def _ref_args(c):
    k = c["kernel_size"]
    return dict(k=k, s=c.get("stride") or k, p=c.get("padding", 0), d=c.get("dilation", 1),
                ceil=c.get("ceil_mode", False), include_pad=c.get("count_include_pad", True),
                divisor=c.get("divisor_override"))


@pytest.mark.parametrize("case", MAX_CASES, ids=_ids(MAX_CASES))
def test_max_pool2d_values_and_gradcheck(case):
    x = _t(_distinct(2, 2, 5, 7))
    out = F.max_pool2d(x, **case)
    np.testing.assert_array_equal(out.data, pool_reference(x.data, "max", **_ref_args(case)))
    assert ag.gradcheck(lambda t: F.max_pool2d(t, **case), [x])
    np.testing.assert_array_equal(nn.MaxPool2d(**case)(x).data, out.data)


@pytest.mark.parametrize("case", AVG_CASES, ids=_ids(AVG_CASES))
def test_avg_pool2d_values_and_gradcheck(case):
    x = _t(_randn(2, 2, 5, 7))
    out = F.avg_pool2d(x, **case)
    np.testing.assert_allclose(out.data, pool_reference(x.data, "avg", **_ref_args(case)),
                               rtol=1e-12)
    assert ag.gradcheck(lambda t: F.avg_pool2d(t, **case), [x])
    np.testing.assert_array_equal(nn.AvgPool2d(**case)(x).data, out.data)


def test_pooling_gradgradcheck_and_unbatched_input():
    x = _t(_distinct(1, 5, 6))
    assert ag.gradgradcheck(lambda t: F.max_pool2d(t, 3, 2, padding=1) ** 2, [x])
    assert ag.gradgradcheck(lambda t: F.avg_pool2d(t, 2, 1) ** 2, [x])
    assert F.max_pool2d(x, 2).shape == (1, 2, 3)


def test_max_pool_ties_share_the_gradient():
    x = _t(np.ones((1, 1, 2, 2)))
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 0.25)


def test_pooling_errors():
    x = _t(_randn(1, 1, 4, 4))
    with pytest.raises(ValueError, match="at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="does not fit"):
        F.avg_pool2d(x, 5)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        F.max_pool2d(x[0, 0, 0], 2)
    with pytest.raises(ValueError, match="return_indices"):
        nn.MaxPool2d(2, return_indices=True)


# ---------------------------------------------------------------- dropout
def test_dropout_training_zeroes_a_fraction_p_and_scales_the_rest():
    x = _t(np.full((200, 500), 2.0))
    out = F.dropout(x, p=0.3)
    kept = out.data != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.005)
    np.testing.assert_allclose(out.data[kept], 2.0 / 0.7)
    out.backward(ag.ones_like(out))
    np.testing.assert_allclose(x.grad.data, kept / 0.7)


def test_dropout_eval_p0_p1_and_seeding():
    x = _t(_randn(4, 5))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0.0)
    ag.manual_seed(5)
    a = F.dropout(x).data
    ag.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x).data, a)
    with pytest.raises(ValueError, match="1.5"):
        F.dropout(x, 1.5)


def test_dropout_module_follows_train_and_eval():
    m = nn.Dropout(0.5)
    x = _t(np.ones((50, 40)))
    assert (m(x).data == 0).any()
    m.eval()
    np.testing.assert_array_equal(m(x).data, x.data)
    m.train()
    assert (m(x).data == 0).any()
    assert list(m.parameters()) == []
    with pytest.raises(ValueError):
        nn.Dropout(-0.1)


def test_dropout_gradcheck_with_a_fixed_mask():
    x = _t(_randn(3, 4))

    def f(t):
        ag.manual_seed(11)   # the same mask on every evaluation
        return F.dropout(t, 0.4)
    assert ag.gradcheck(f, [x])


# ---------------------------------------------------------------- batch norm
@pytest.mark.parametrize("shape", [(4, 3), (3, 3, 2), (2, 3, 2, 2)])
def test_batch_norm_train_gradcheck(shape):
    x, w, b = _t(_randn(*shape)), _t(_randn(3, seed=1)), _t(_randn(3, seed=2))
    assert ag.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                        [x, w, b])


def test_batch_norm_train_gradgradcheck_and_eval_gradcheck():
    x, w, b = _t(_randn(4, 2, 2)), _t(_randn(2, seed=1)), _t(_randn(2, seed=2))
    assert ag.gradgradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                            [x, w, b])
    rm, rv = np.array([0.3, -0.2]), np.array([0.5, 2.0])
    assert ag.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b), [x, w, b])


def test_batchnorm2d_train_normalises_and_updates_running_stats():
    m = nn.BatchNorm2d(3)
    x = _t(_randn(4, 3, 2, 5) * 2 + 1)
    y = m(x).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)   # eps = 1e-5
    mean = x.data.mean(axis=(0, 2, 3))
    var_unbiased = x.data.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(m.running_mean.data, 0.1 * mean)
    np.testing.assert_allclose(m.running_var.data, 0.9 + 0.1 * var_unbiased)
    assert m.num_batches_tracked.dtype == np.int64 and m.num_batches_tracked.item() == 1
    m(x)
    np.testing.assert_allclose(m.running_mean.data, 0.19 * mean)
    assert m.num_batches_tracked.item() == 2


def test_batchnorm_eval_uses_running_stats_and_leaves_them():
    m = nn.BatchNorm1d(3, eps=1e-3)
    with ag.no_grad():
        m.running_mean[...] = [1.0, -1.0, 0.5]
        m.running_var[...] = [4.0, 0.25, 1.0]
        m.weight[...] = [2.0, 1.0, -1.0]
        m.bias[...] = [0.0, 0.5, 1.0]
    m.eval()
    x = _t(_randn(5, 3, 4))          # BatchNorm1d also takes (N, C, L)
    y = m(x)
    rm, rv = m.running_mean.data[:, None], m.running_var.data[:, None]
    ref = (x.data - rm) / np.sqrt(rv + 1e-3) * m.weight.data[:, None] + m.bias.data[:, None]
    np.testing.assert_allclose(y.data, ref)
    np.testing.assert_array_equal(m.running_mean.data, [1.0, -1.0, 0.5])
    assert m.num_batches_tracked.item() == 0
    y.sum().backward()
    np.testing.assert_allclose(m.bias.grad.data, 20.0)


def test_batchnorm_momentum_none_is_the_cumulative_average():
    m = nn.BatchNorm1d(2, momentum=None)
    xs = [_t(_randn(6, 2, seed=s)) for s in range(3)]
    for x in xs:
        m(x)
    np.testing.assert_allclose(m.running_mean.data, np.mean([x.data.mean(0) for x in xs], 0))


def test_batchnorm_without_running_stats_or_affine():
    m = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert list(m.state_dict()) == [] and m.running_mean is None
    m.eval()
    x = _t(_randn(6, 2))
    np.testing.assert_allclose(m(x).data, (x.data - x.data.mean(0)) / np.sqrt(x.data.var(0) + 1e-5))
    keys = list(nn.BatchNorm2d(2).state_dict())
    assert keys == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(_t(_randn(1, 3)))
    with pytest.raises(ValueError, match="4-d"):
        nn.BatchNorm2d(3)(_t(_randn(2, 3)))
    with pytest.raises(ValueError, match="expected 3"):
        nn.BatchNorm1d(3)(_t(_randn(2, 4)))
    with pytest.raises(ValueError, match="evaluation"):
        F.batch_norm(_t(_randn(2, 3)), None, None)


# ---------------------------------------------------------------- layer norm
def test_layer_norm_values_and_gradcheck():
    x, w, b = _t(_randn(2, 3, 4)), _t(_randn(3, 4, seed=1)), _t(_randn(3, 4, seed=2))
    y = F.layer_norm(x, (3, 4)).data
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1, rtol=1e-4)
    assert ag.gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), [x, w, b])
    assert ag.gradgradcheck(lambda x, w, b: F.layer_norm(x, 4, w[0], b[0]), [x, w, b])


def test_layer_norm_module():
    m = nn.LayerNorm(4)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [("weight", (4,)), ("bias", (4,))]
    x = _t(_randn(3, 4))
    np.testing.assert_allclose(m(x).data, F.layer_norm(x, 4).data)
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    assert nn.LayerNorm(4, bias=False).bias is None
    with pytest.raises(ValueError, match=r"layer_norm.*\(3, 5\)"):
        m(_t(_randn(3, 5)))


# ---------------------------------------------------------------- embedding
def test_embedding_repeated_indices_accumulate():
    w = _t(_randn(5, 3))
    idx = np.array([[1, 3, 1], [1, 0, 3]])
    out = F.embedding(idx, w)
    np.testing.assert_array_equal(out.data, w.data[idx])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.data[:, 0], [1, 3, 0, 2, 0])
    assert ag.gradcheck(lambda w: F.embedding(idx, w) ** 2, [w])


def test_embedding_padding_idx_gets_no_gradient():
    m = nn.Embedding(5, 3, padding_idx=-1)
    assert m.padding_idx == 4
    with ag.no_grad():
        m.weight[4] = 7.0
    idx = ag.tensor([4, 2, 4, 0])
    out = m(idx)
    np.testing.assert_array_equal(out.data[0], 7.0)     # the row's value is still used
    (out * out).sum().backward()
    np.testing.assert_array_equal(m.weight.grad.data[4], 0.0)
    np.testing.assert_allclose(m.weight.grad.data[2], 2 * m.weight.data[2])
    # the other rows' gradients are exact (the padding row itself is held constant here,
    # since by design its analytic gradient is 0, not the finite difference)
    pad_row = np.ones((1, 3))
    assert ag.gradcheck(
        lambda w: F.embedding(idx, ag.concatenate([w, pad_row]), padding_idx=4) ** 2,
        [_t(_randn(4, 3))])


def test_embedding_module_and_errors():
    m = nn.Embedding(6, 2)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [("weight", (6, 2))]
    assert m(np.array(3)).shape == (2,)
    with pytest.raises(IndexError, match="6 rows"):
        m(np.array([0, 6]))
    with pytest.raises(IndexError, match="out of range"):
        m(np.array([-1]))
    with pytest.raises(TypeError, match="float64"):
        m(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)
    pre = nn.Embedding.from_pretrained(np.eye(3))
    assert not pre.weight.requires_grad
    np.testing.assert_array_equal(pre(np.array([2])).data, [[0, 0, 1]])


# ---------------------------------------------------------------- rbf
def test_rbf_closed_form():
    x, c, g = _t(_randn(4, 3)), _t(_randn(5, 3, seed=1)), _t(np.abs(_randn(5, seed=2)))
    d2 = ((x.data[:, None, :] - c.data[None]) ** 2).sum(-1)
    phi = np.exp(-g.data * d2)
    out = F.rbf(x, c, g)
    np.testing.assert_allclose(out.data, phi, rtol=1e-12)
    out.sum().backward()
    # d phi_j / d gamma_j = -d2 phi; d phi_j / d x = -2 gamma_j (x - c_j) phi_j
    np.testing.assert_allclose(g.grad.data, (-d2 * phi).sum(0))
    gx = (-2 * g.data[None, :, None] * (x.data[:, None] - c.data[None]) * phi[..., None]).sum(1)
    np.testing.assert_allclose(x.grad.data, gx)
    np.testing.assert_allclose(F.rbf(c, c, g).data.diagonal(), 1.0)   # at its center
    assert ag.gradcheck(F.rbf, [x, c, g])
    assert ag.gradgradcheck(F.rbf, [x, c, g])


def test_rbf_module():
    m = nn.RBF(3, 5)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [("centers", (5, 3)),
                                                               ("gammas", (5,))]
    x = _t(_randn(2, 7, 3))
    assert m(x).shape == (2, 7, 5)
    with pytest.raises(ValueError, match="rbf"):
        m(_t(_randn(2, 4)))


# ---------------------------------------------------------------- a small CNN end to end
def test_small_cnn_gradcheck_through_every_layer():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8, 3), nn.LayerNorm(3), nn.RBF(3, 2))
    x = _t(_randn(2, 1, 4, 4), grad=False)
    params = list(model.parameters())
    names = [n for n, _ in model.named_parameters()]

    def f(*ps):
        return nn.functional_call(model, dict(zip(names, ps)), x)
    assert ag.gradcheck(f, params, atol=1e-5, rtol=1e-3)
    assert math.isfinite(model(x).sum().item())
