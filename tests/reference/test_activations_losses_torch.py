"""Activations and losses against PyTorch (float64): values, and gradients of every
differentiable argument for a random output seed. Where PyTorch has no function
(sigmoid focal loss lives in torchvision; swish, log-cosh, Dice, IoU, hinge, ...),
the formula is written out in torch. Points on kinks and at ±1000 are included:
the sub-gradients and the stable forms must agree with PyTorch's too."""
import warnings

import numpy as np
import pytest

import autograd as ag
import nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

rng = np.random.default_rng(7)
X = rng.standard_normal((3, 4))
KINKY = np.array([[-2.0, -0.5, 0.0, 0.5], [3.0, 20.0 / 3, -1000.0, 1000.0],
                  [1e-3, -1e-3, 7.0, -7.0]])          # kinks, thresholds, extremes
Y = rng.standard_normal((3, 4))
P = rng.uniform(0.05, 0.95, (3, 4))
T = rng.uniform(0.0, 1.0, (3, 4))
T01 = (rng.uniform(size=(3, 4)) > 0.5).astype(float)
Z = rng.standard_normal((5, 3))
CLS = np.array([0, 2, 1, 2, 1])
Z_SP = rng.standard_normal((2, 3, 2, 3))
CLS_SP = rng.integers(0, 3, (2, 2, 3))
Q = np.exp(Z[::-1]) / np.exp(Z[::-1]).sum(1, keepdims=True)
Q_SP = np.exp(Z_SP[::-1]) / np.exp(Z_SP[::-1]).sum(1, keepdims=True)
W3 = np.array([0.5, 2.0, 1.3])
PM = np.where(rng.uniform(size=(3, 4)) > 0.5, 1.0, -1.0)
EMB = [rng.standard_normal((4, 5)) for _ in range(3)]
PAIR_Y = np.array([1.0, 0.0, 1.0, 0.0])
COS_Y = np.array([1.0, -1.0, -1.0, 1.0])
IMG = rng.standard_normal((2, 2, 3, 4))


def _t(a):
    return torch.tensor(np.asarray(a))


class Fixed:
    """An argument passed to both sides as a constant (PyTorch does not differentiate
    class weights), not differentiated."""

    def __init__(self, value):
        self.value = np.asarray(value, dtype=np.float64)


def _tv_torch(img):
    return ((img[:, :, 1:] - img[:, :, :-1]).abs().sum((1, 2, 3))
            + (img[..., 1:] - img[..., :-1]).abs().sum((1, 2, 3)))


def _reduce_torch(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="mean"):
    """torchvision.ops.sigmoid_focal_loss, written out."""
    p = torch.sigmoid(inputs)
    ce_loss = TF.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return _reduce_torch(loss, reduction)


def torch_softmax_focal(z, t, alpha=None, gamma=2.0, reduction="mean"):
    logp = TF.log_softmax(z, 1).gather(1, t[:, None])[:, 0]
    loss = -(1 - logp.exp()) ** gamma * logp
    if alpha is not None:
        loss = alpha[t] * loss
    return _reduce_torch(loss, reduction)


def torch_dice(p, t, smooth=1.0, reduction="mean", iou=False):
    axes = tuple(range(1, p.ndim))
    inter, sp, st = (p * t).sum(axes), p.sum(axes), t.sum(axes)
    if iou:
        return _reduce_torch(1 - (inter + smooth) / (sp + st - inter + smooth), reduction)
    return _reduce_torch(1 - (2 * inter + smooth) / (sp + st + smooth), reduction)


def torch_contrastive(a, b, y, margin=1.0, reduction="mean"):
    d = (a - b).norm(dim=-1)
    return _reduce_torch(y * d ** 2 + (1 - y) * torch.clamp(margin - d, min=0) ** 2, reduction)


# name -> (ours, theirs, arrays); ours/theirs take one tensor per array, each of which
# is differentiated unless it is wrapped in Fixed
ACTIVATIONS = {
    "binary_step": (lambda x: F.binary_step(x, 0.5),
                    lambda x: (x > 0.5).to(x.dtype) + 0 * x, [KINKY]),
    "identity": (F.identity, lambda x: x * 1, [X]),
    "sigmoid": (F.sigmoid, torch.sigmoid, [KINKY]),
    "tanh": (F.tanh, torch.tanh, [KINKY]),
    "relu": (F.relu, torch.relu, [KINKY]),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu, [KINKY]),
    "leaky_relu_steep": (lambda x: F.leaky_relu(x, 1.5), lambda x: TF.leaky_relu(x, 1.5), [KINKY]),
    "prelu_shared": (F.prelu, TF.prelu, [KINKY, [0.25]]),
    "prelu_channels": (F.prelu, TF.prelu, [np.r_[KINKY.ravel(), X.ravel()].reshape(2, 3, 4),
                                           [0.1, -0.3, 0.6]]),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7), [KINKY]),
    "selu": (F.selu, TF.selu, [KINKY]),
    "softplus": (F.softplus, TF.softplus, [KINKY]),
    "softplus_beta_threshold": (lambda x: F.softplus(x, 3.0, 20.0),
                                lambda x: TF.softplus(x, 3.0, 20.0), [KINKY]),  # 3·20/3 = 20
    "gelu": (F.gelu, TF.gelu, [KINKY]),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh"), [KINKY]),
    "silu": (F.silu, TF.silu, [KINKY]),
    "swish": (F.swish, lambda x, b: x * torch.sigmoid(b * x), [X, 1.7]),
    "softmax": (F.softmax, lambda x: torch.softmax(x, -1), [X]),
    "softmax_axis0": (lambda x: F.softmax(x, 0), lambda x: torch.softmax(x, 0), [X]),
    "softmax_1e4": (F.softmax, lambda x: torch.softmax(x, -1), [X * 1e4]),
    "log_softmax": (F.log_softmax, lambda x: torch.log_softmax(x, -1), [X]),
    "log_softmax_1e4": (lambda x: F.log_softmax(x, 0), lambda x: torch.log_softmax(x, 0),
                        [X * 1e4]),
}

REDUCTIONS = ("mean", "sum", "none")


def _losses(r):
    """Loss cases for reduction r."""
    c = {
        "mse": (lambda x, y: F.mse_loss(x, y, r), lambda x, y: TF.mse_loss(x, y, reduction=r),
                [X, Y]),
        "l1": (lambda x: F.l1_loss(x, _c(np.where(np.arange(12).reshape(3, 4) % 5 == 0, X, Y)), r),
               lambda x: TF.l1_loss(x, _t(np.where(np.arange(12).reshape(3, 4) % 5 == 0, X, Y)),
                                    reduction=r), [X]),            # includes input == target
        "huber": (lambda x: F.huber_loss(x, _c(X - KINKY / 4), r, 0.5),
                  lambda x: TF.huber_loss(x, _t(X - KINKY / 4), reduction=r, delta=0.5), [X]),
        "smooth_l1": (lambda x, y: F.smooth_l1_loss(x, y, r, 0.9),
                      lambda x, y: TF.smooth_l1_loss(x, y, reduction=r, beta=0.9), [X, Y]),
        "smooth_l1_beta0": (lambda x: F.smooth_l1_loss(x, _c(Y), r, 0.0),
                            lambda x: TF.smooth_l1_loss(x, _t(Y), reduction=r, beta=0.0), [X]),
        "log_cosh": (lambda x, y: F.log_cosh_loss(x, y, r),
                     lambda x, y: _reduce_torch(torch.log(torch.cosh(x - y)), r), [X, Y]),
        "bce": (lambda p, t, w: F.binary_cross_entropy(p, t, w, r),
                lambda p, t, w: TF.binary_cross_entropy(p, t, w, reduction=r),
                [P, T, Fixed([1.0, 2.0, 0.5, 3.0])]),
        "bce_logits": (lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, r, pw),
                       lambda x, t, w, pw: TF.binary_cross_entropy_with_logits(
                           x, t, w, reduction=r, pos_weight=pw),
                       [KINKY, T, Fixed([[1.0], [2.0], [0.5]]), Fixed([1.0, 2.0, 0.5, 3.0])]),
        "cross_entropy": (lambda z: F.cross_entropy(z, CLS, reduction=r),
                          lambda z: TF.cross_entropy(z, _t(CLS), reduction=r), [Z]),
        "cross_entropy_all_options": (
            lambda z, w: F.cross_entropy(z, np.array([0, 3, 1, 3, 2]), w, 3, r, 0.2),
            lambda z, w: TF.cross_entropy(z, _t([0, 3, 1, 3, 2]), w, ignore_index=3,
                                          reduction=r, label_smoothing=0.2), [Z, Fixed(W3)]),
        "cross_entropy_ignore_class": (
            lambda z: F.cross_entropy(z, CLS, ignore_index=2, reduction=r, label_smoothing=0.1),
            lambda z: TF.cross_entropy(z, _t(CLS), ignore_index=2, reduction=r,
                                       label_smoothing=0.1), [Z]),
        "cross_entropy_spatial": (
            lambda z, w: F.cross_entropy(z, CLS_SP, w, reduction=r, label_smoothing=0.3),
            lambda z, w: TF.cross_entropy(z, _t(CLS_SP), w, reduction=r, label_smoothing=0.3),
            [Z_SP, Fixed(W3)]),
        "cross_entropy_unbatched": (
            lambda z, w: F.cross_entropy(z, np.array(1), w, reduction=r, label_smoothing=0.1),
            lambda z, w: TF.cross_entropy(z, _t(1), w, reduction=r, label_smoothing=0.1),
            [Z[0], Fixed(W3)]),
        "cross_entropy_probs": (
            lambda z, q, w: F.cross_entropy(z, q, w, reduction=r, label_smoothing=0.15),
            lambda z, q, w: TF.cross_entropy(z, q, w, reduction=r, label_smoothing=0.15),
            [Z, Q, Fixed(W3)]),
        "cross_entropy_probs_spatial": (
            lambda z: F.cross_entropy(z, _c(Q_SP), reduction=r),
            lambda z: TF.cross_entropy(z, _t(Q_SP), reduction=r), [Z_SP]),
        "nll": (lambda lp, w: F.nll_loss(lp, np.array([1, 0, -100, 2, 2]), w, reduction=r),
                lambda lp, w: TF.nll_loss(lp, _t([1, 0, -100, 2, 2]), w, reduction=r),
                [np.log(Q), Fixed(W3)]),
        "nll_spatial": (lambda lp: F.nll_loss(lp, CLS_SP, reduction=r),
                        lambda lp: TF.nll_loss(lp, _t(CLS_SP), reduction=r), [Z_SP]),
        "sigmoid_focal": (lambda x: F.sigmoid_focal_loss(x, _c(T01), reduction=r),
                          lambda x: torchvision_sigmoid_focal_loss(x, _t(T01), reduction=r),
                          [X * 3]),
        "sigmoid_focal_options": (
            lambda x: F.sigmoid_focal_loss(x, _c(T), 0.7, 1.5, r),
            lambda x: torchvision_sigmoid_focal_loss(x, _t(T), 0.7, 1.5, r), [X]),
        "sigmoid_focal_no_alpha": (
            lambda x: F.sigmoid_focal_loss(x, _c(T01), -1.0, 3.0, r),
            lambda x: torchvision_sigmoid_focal_loss(x, _t(T01), -1.0, 3.0, r), [X]),
        "softmax_focal": (lambda z, a: F.softmax_focal_loss(z, CLS, a, 2.0, r),
                          lambda z, a: torch_softmax_focal(z, _t(CLS), a, 2.0, r), [Z, Fixed(W3)]),
        "dice": (lambda p, t: F.dice_loss(p, t, 0.5, r),
                 lambda p, t: torch_dice(p, t, 0.5, r), [P, T]),
        "iou": (lambda p, t: F.iou_loss(p, t, 1.0, r),
                lambda p, t: torch_dice(p, t, 1.0, r, iou=True), [P, T]),
        "kl_div": (lambda lq, p: F.kl_div(lq, p, r),
                   lambda lq, p: TF.kl_div(lq, p, reduction=r), [np.log(Q), Q[::-1].copy()]),
        "kl_div_log_target": (lambda lq, lp: F.kl_div(lq, lp, r, log_target=True),
                              lambda lq, lp: TF.kl_div(lq, lp, reduction=r, log_target=True),
                              [np.log(Q), np.log(Q[::-1])]),
        "hinge": (lambda f: F.hinge_loss(f, _c(PM), r),
                  lambda f: _reduce_torch(torch.relu(1 - _t(PM) * f), r), [KINKY]),
        "exponential": (lambda f: F.exponential_loss(f, _c(PM), r),
                        lambda f: _reduce_torch(torch.exp(-_t(PM) * f), r), [X]),
        "multi_margin": (lambda x: F.multi_margin_loss(x, CLS, reduction=r),
                         lambda x: TF.multi_margin_loss(x, _t(CLS), reduction=r), [Z]),
        "multi_margin_p2_weighted": (
            lambda x, w: F.multi_margin_loss(x, CLS, 2, 0.6, w, r),
            lambda x, w: TF.multi_margin_loss(x, _t(CLS), 2, 0.6, w, reduction=r), [Z, Fixed(W3)]),
        "multi_margin_unbatched": (
            lambda x: F.multi_margin_loss(x, np.array(2), reduction=r),
            lambda x: TF.multi_margin_loss(x, _t(2), reduction=r), [Z[1]]),
        "categorical_hinge": (
            lambda x: F.categorical_hinge_loss(x, CLS, r),
            lambda x: _reduce_torch(torch.relu(1 + x.masked_fill(
                TF.one_hot(_t(CLS), 3).bool(), -torch.inf).max(1).values
                - x.gather(1, _t(CLS)[:, None])[:, 0]), r), [Z]),
        "triplet": (lambda a, p, n: F.triplet_margin_loss(a, p, n, reduction=r),
                    lambda a, p, n: TF.triplet_margin_loss(a, p, n, reduction=r), EMB),
        "triplet_options": (
            lambda a, p, n: F.triplet_margin_loss(a, p, n, 2.0, 1, 1e-3, True, r),
            lambda a, p, n: TF.triplet_margin_loss(a, p, n, 2.0, 1, 1e-3, True, reduction=r), EMB),
        "triplet_p3": (lambda a, p, n: F.triplet_margin_loss(a, p, n, 1.5, 3, reduction=r),
                       lambda a, p, n: TF.triplet_margin_loss(a, p, n, 1.5, 3, reduction=r), EMB),
        "contrastive": (lambda a, b: F.contrastive_loss(a, b, _c(PAIR_Y), 3.0, r),
                        lambda a, b: torch_contrastive(a, b, _t(PAIR_Y), 3.0, r), EMB[:2]),
        "cosine_embedding": (
            lambda a, b: F.cosine_embedding_loss(a, b, _c(COS_Y), 0.1, r),
            lambda a, b: TF.cosine_embedding_loss(a, b, _t(COS_Y), 0.1, reduction=r), EMB[:2]),
        "total_variation": (lambda img: F.total_variation_loss(img, r),
                            lambda img: _reduce_torch(_tv_torch(img), r), [IMG]),
    }
    return c


def _c(a):
    return ag.Tensor(np.asarray(a, dtype=np.float64))


LOSS_PARAMS = [(name, r) for r in REDUCTIONS for name in _losses(r)]


def _compare(ours, theirs, arrays):
    xs = [ag.Tensor(a.value) if isinstance(a, Fixed) else
          ag.Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.value) if isinstance(a, Fixed) else
          torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = ours(*xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # kl_div's "mean" warning
        ref = theirs(*ts)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert out.shape == tuple(ref.shape)
    seed = np.random.default_rng(1).standard_normal(out.shape)
    diff = [i for i, a in enumerate(arrays) if not isinstance(a, Fixed)]
    grads = ag.grad([out], [xs[i] for i in diff], [ag.Tensor(seed)], allow_unused=True)
    tgrads = torch.autograd.grad([ref], [ts[i] for i in diff], [torch.tensor(seed)],
                                 allow_unused=True)
    for i, g, tg in zip(diff, grads, tgrads):
        g = np.zeros(xs[i].shape) if g is None else g.data
        tg = np.zeros(xs[i].shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(g, tg, rtol=1e-9, atol=1e-12, err_msg=f"argument {i}")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch(name):
    _compare(*ACTIVATIONS[name])


@pytest.mark.parametrize("name,reduction", LOSS_PARAMS, ids=[f"{n}-{r}" for n, r in LOSS_PARAMS])
def test_loss_matches_torch(name, reduction):
    _compare(*_losses(reduction)[name])


def test_kl_div_batchmean_matches_torch():
    ours = lambda lq, p: F.kl_div(lq, p, "batchmean")
    theirs = lambda lq, p: TF.kl_div(lq, p, reduction="batchmean")
    _compare(ours, theirs, [np.log(Q), Q[::-1].copy()])


def test_bce_with_logits_at_the_extremes_matches_torch():
    x = np.array([-1000.0, 1000.0, -1000.0, 1000.0, 0.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.3])
    _compare(lambda z: F.binary_cross_entropy_with_logits(z, _c(t), pos_weight=_c([3.0] * 5)),
             lambda z: TF.binary_cross_entropy_with_logits(z, _t(t), pos_weight=_t([3.0] * 5)),
             [x])


def test_cross_entropy_with_logits_of_1e4_matches_torch():
    z = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]])
    _compare(lambda x: F.cross_entropy(x, np.array([2, 1]), label_smoothing=0.1),
             lambda x: TF.cross_entropy(x, _t([2, 1]), label_smoothing=0.1), [z])


def test_bce_clamps_its_log_at_minus_100_like_torch():
    p, y = np.array([0.0, 1.0, 1e-60, 0.5]), np.array([1.0, 0.0, 1.0, 0.0])
    ours = F.binary_cross_entropy(_c(p), _c(y), reduction="none").data
    np.testing.assert_allclose(ours, TF.binary_cross_entropy(_t(p), _t(y), reduction="none"))


def test_module_state_dicts_load_into_torch():
    import nn
    ours = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])
    theirs = torch.nn.CrossEntropyLoss(weight=torch.zeros(3))
    theirs.load_state_dict({k: torch.tensor(v.data) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(theirs.weight.numpy(), [1.0, 2.0, 3.0])
    ours = nn.BCEWithLogitsLoss(weight=[1.0, 2.0], pos_weight=[3.0, 4.0])
    theirs = torch.nn.BCEWithLogitsLoss(weight=torch.zeros(2), pos_weight=torch.zeros(2))
    theirs.load_state_dict({k: torch.tensor(v.data) for k, v in ours.state_dict().items()})
    ours = nn.PReLU(3, 0.1)
    theirs = torch.nn.PReLU(3)
    theirs.load_state_dict({k: torch.tensor(v.data) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(theirs.weight.detach().numpy(), 0.1, rtol=1e-6)
