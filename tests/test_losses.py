"""Losses: gradients (first and second order), reductions, closed forms and the texts'
identities and worked numbers, sub-gradients at kinks, stability, bad input, modules."""
import inspect
import math
import warnings

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F


def leaf(values, dtype=np.float64):
    return ag.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def const(values, dtype=np.float64):
    return ag.Tensor(np.asarray(values, dtype=dtype))


def grad_of(fn, x):
    t = leaf(x)
    (g,) = ag.grad([fn(t)], [t])
    return g.data


def sigmoid(v):
    return 1 / (1 + np.exp(-np.asarray(v)))


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- sample data (float64)
# Every sample keeps a distance >= 0.1 from the loss's kinks, so finite differences
# with eps = 1e-6 never straddle one; the kinks themselves are tested further down.
rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4))
D = np.array([[0.3, -1.6, 0.7, -0.4], [1.5, -0.2, 2.2, -0.8], [0.5, -1.3, 0.25, 1.8]])
Y = X - D                                          # input − target = D
P = rng.uniform(0.05, 0.95, (3, 4))                # probabilities
T = rng.uniform(0.0, 1.0, (3, 4))                  # soft targets
T01 = (rng.uniform(size=(3, 4)) > 0.5).astype(float)
LOGITS = rng.standard_normal((4, 3))
CLS = np.array([0, 2, 1, 2])
LOGITS_SP = rng.standard_normal((2, 3, 2, 2))      # (N, C, d1, d2)
CLS_SP = np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]])
Q = softmax(rng.standard_normal((4, 3)))           # probability targets
W3 = np.array([0.5, 2.0, 1.3])
PM = np.array([[1.0, -1.0, 1.0, -1.0], [-1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, -1.0]])
F_HINGE = PM * np.array([[0.3, 1.5, -0.4, 2.0], [0.7, -1.2, 1.8, 0.1], [0.5, 0.85, -0.6, 1.3]])
MM = np.array([[0.2, 1.9, -0.6], [1.1, -0.3, 0.35], [-1.4, 0.4, 2.2], [0.8, 0.75, -0.9]])
MM_CLS = np.array([1, 0, 2, 1])
EMB = [rng.standard_normal((3, 4)) for _ in range(3)]
PAIR_Y = np.array([1.0, 0.0, 0.0])
COS_Y = np.array([1.0, -1.0, -1.0])
IMG = rng.standard_normal((2, 2, 3, 3))
LOGQ = np.log(Q)
KL_P = softmax(rng.standard_normal((4, 3)))


def _check_distance_to_kinks():
    assert min(np.abs(np.abs(D) - k).min() for k in (1.0, 0.9, 0.6)) > 0.05
    assert np.abs(1 - PM * F_HINGE).min() > 0.1
    xy = MM[np.arange(4), MM_CLS][:, None]
    assert np.abs(1.0 - xy + MM).min() > 0.05 and np.abs(0.5 - xy + MM).min() > 0.05
    a, p, n = EMB
    gap = 1.0 + np.linalg.norm(a - p + 1e-6, axis=1) - np.linalg.norm(a - n + 1e-6, axis=1)
    assert np.abs(gap).min() > 0.1
    d = np.linalg.norm(EMB[0] - EMB[1], axis=1)
    assert np.abs(d - 2.5).min() > 0.1
    cos = (EMB[0] * EMB[1]).sum(1) / np.linalg.norm(EMB[0], axis=1) / np.linalg.norm(EMB[1], axis=1)
    assert np.abs(cos - 0.3).min() > 0.05
    assert np.abs(np.diff(IMG, axis=2)).min() > 1e-3 and np.abs(np.diff(IMG, axis=3)).min() > 1e-3


_check_distance_to_kinks()

# name -> (loss of the leaves, leaves); the losses are reduced with "mean" unless a
# case says otherwise. Targets that can carry a gradient are leaves too.
CASES = {
    "mse": (lambda x, y: F.mse_loss(x, y), [X, Y]),
    "l1": (lambda x: F.l1_loss(x, const(Y)), [X]),
    "huber": (lambda x: F.huber_loss(x, const(Y)), [X]),
    "huber_delta": (lambda x: F.huber_loss(x, const(Y), delta=0.6), [X]),
    "smooth_l1": (lambda x: F.smooth_l1_loss(x, const(Y), beta=0.9), [X]),
    "log_cosh": (lambda x, y: F.log_cosh_loss(x, y), [X, Y]),
    "bce": (lambda p, w: F.binary_cross_entropy(p, const(T), weight=w), [P, np.arange(1.0, 5.0)]),
    "bce_sum": (lambda p: F.binary_cross_entropy(p, const(T01), reduction="sum"), [P]),
    "bce_logits": (lambda x, w, pw: F.binary_cross_entropy_with_logits(
        x, const(T), weight=w, pos_weight=pw), [X, np.arange(1.0, 5.0), [0.5, 2.0, 1.0, 3.0]]),
    "cross_entropy": (lambda z: F.cross_entropy(z, CLS), [LOGITS]),
    "cross_entropy_weighted": (lambda z, w: F.cross_entropy(z, CLS, weight=w), [LOGITS, W3]),
    "cross_entropy_all_options": (lambda z, w: F.cross_entropy(
        z, np.array([0, -100, 1, 2]), weight=w, label_smoothing=0.2), [LOGITS, W3]),
    "cross_entropy_spatial": (lambda z: F.cross_entropy(z, CLS_SP, label_smoothing=0.1),
                              [LOGITS_SP]),
    "cross_entropy_unbatched": (lambda z: F.cross_entropy(z, np.array(2)), [LOGITS[0]]),
    "cross_entropy_probs": (lambda z, w: F.cross_entropy(z, const(Q), weight=w,
                                                         label_smoothing=0.1), [LOGITS, W3]),
    "nll": (lambda lp, w: F.nll_loss(lp, np.array([1, 0, -100, 2]), weight=w),
            [np.log(Q), W3]),
    "sigmoid_focal": (lambda x: F.sigmoid_focal_loss(x, const(T01)), [X]),
    "sigmoid_focal_soft_gamma_half": (lambda x: F.sigmoid_focal_loss(
        x, const(T), alpha=0.6, gamma=0.5, reduction="sum"), [X]),
    "softmax_focal": (lambda z: F.softmax_focal_loss(z, CLS, alpha=W3), [LOGITS]),
    "softmax_focal_gamma_half": (lambda z: F.softmax_focal_loss(z, CLS, gamma=0.5), [LOGITS]),
    "dice": (lambda p: F.dice_loss(p, const(T01)), [P]),
    "iou": (lambda p, t: F.iou_loss(p, t, smooth=0.5), [P, T]),
    "kl_div": (lambda lq, p: F.kl_div(lq, p, reduction="batchmean"), [LOGQ, KL_P]),
    "kl_div_log_target": (lambda lq, lp: F.kl_div(lq, lp, log_target=True), [LOGQ, np.log(KL_P)]),
    "hinge": (lambda f: F.hinge_loss(f, const(PM)), [F_HINGE]),
    "exponential": (lambda f: F.exponential_loss(f, const(PM)), [F_HINGE]),
    "multi_margin": (lambda x: F.multi_margin_loss(x, MM_CLS), [MM]),
    "multi_margin_p2_weighted": (lambda x, w: F.multi_margin_loss(
        x, MM_CLS, p=2, margin=0.5, weight=w), [MM, W3]),
    "categorical_hinge": (lambda x: F.categorical_hinge_loss(x, MM_CLS), [MM]),
    "triplet": (lambda a, p, n: F.triplet_margin_loss(a, p, n), EMB),
    "triplet_p1_swap": (lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=0.7, p=1,
                                                              swap=True), EMB),
    "triplet_p3": (lambda a, p, n: F.triplet_margin_loss(a, p, n, p=3), EMB),
    "contrastive": (lambda a, b: F.contrastive_loss(a, b, const(PAIR_Y), margin=2.5), EMB[:2]),
    "cosine_embedding": (lambda a, b: F.cosine_embedding_loss(a, b, const(COS_Y), margin=0.3),
                         EMB[:2]),
    "total_variation": (lambda img: F.total_variation_loss(img), [IMG]),
}


def test_every_exported_loss_has_a_gradient_case():
    covered = {"mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss",
               "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
               "nll_loss", "sigmoid_focal_loss", "softmax_focal_loss", "dice_loss", "iou_loss",
               "kl_div", "hinge_loss", "exponential_loss", "multi_margin_loss",
               "categorical_hinge_loss", "triplet_margin_loss", "contrastive_loss",
               "cosine_embedding_loss", "total_variation_loss"}
    assert set(F.loss.__all__) == covered


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name):
    fn, values = CASES[name]
    assert ag.gradcheck(fn, [leaf(v) for v in values])


@pytest.mark.parametrize("name", CASES)
def test_gradgradcheck(name):
    fn, values = CASES[name]
    assert ag.gradgradcheck(fn, [leaf(v) for v in values])


# ---------------------------------------------------------------- reductions
# name -> (call(reduction) on fixed data, shape of "none", how "mean" is formed)
def _ce_weighted_mean(none, weights):
    return none.sum() / weights.sum()


REDUCTION_CASES = {
    "mse": (lambda r: F.mse_loss(const(X), const(Y), reduction=r), (3, 4), "mean"),
    "l1": (lambda r: F.l1_loss(const(X), const(Y), reduction=r), (3, 4), "mean"),
    "huber": (lambda r: F.huber_loss(const(X), const(Y), reduction=r), (3, 4), "mean"),
    "smooth_l1": (lambda r: F.smooth_l1_loss(const(X), const(Y), reduction=r), (3, 4), "mean"),
    "log_cosh": (lambda r: F.log_cosh_loss(const(X), const(Y), reduction=r), (3, 4), "mean"),
    "bce": (lambda r: F.binary_cross_entropy(const(P), const(T), reduction=r), (3, 4), "mean"),
    "bce_logits": (lambda r: F.binary_cross_entropy_with_logits(const(X), const(T), reduction=r),
                   (3, 4), "mean"),
    "cross_entropy": (lambda r: F.cross_entropy(const(LOGITS), CLS, reduction=r), (4,), "mean"),
    "cross_entropy_weighted": (lambda r: F.cross_entropy(
        const(LOGITS), np.array([0, -100, 1, 2]), weight=W3, reduction=r), (4,),
        W3[[0, 1, 2]].sum()),
    "cross_entropy_spatial": (lambda r: F.cross_entropy(const(LOGITS_SP), CLS_SP, reduction=r),
                              (2, 2, 2), "mean"),
    "cross_entropy_probs": (lambda r: F.cross_entropy(const(LOGITS), const(Q), weight=W3,
                                                      reduction=r), (4,), "mean"),
    "nll": (lambda r: F.nll_loss(const(np.log(Q)), CLS, weight=W3, reduction=r), (4,),
            W3[CLS].sum()),
    "sigmoid_focal": (lambda r: F.sigmoid_focal_loss(const(X), const(T01), reduction=r),
                      (3, 4), "mean"),
    "softmax_focal": (lambda r: F.softmax_focal_loss(const(LOGITS), CLS, alpha=W3, reduction=r),
                      (4,), "mean"),
    "dice": (lambda r: F.dice_loss(const(P), const(T01), reduction=r), (3,), "mean"),
    "iou": (lambda r: F.iou_loss(const(P), const(T01), reduction=r), (3,), "mean"),
    "kl_div": (lambda r: F.kl_div(const(LOGQ), const(KL_P), reduction=r), (4, 3), "mean"),
    "hinge": (lambda r: F.hinge_loss(const(F_HINGE), const(PM), reduction=r), (3, 4), "mean"),
    "exponential": (lambda r: F.exponential_loss(const(F_HINGE), const(PM), reduction=r),
                    (3, 4), "mean"),
    "multi_margin": (lambda r: F.multi_margin_loss(const(MM), MM_CLS, reduction=r), (4,), "mean"),
    "categorical_hinge": (lambda r: F.categorical_hinge_loss(const(MM), MM_CLS, reduction=r),
                          (4,), "mean"),
    "triplet": (lambda r: F.triplet_margin_loss(*map(const, EMB), reduction=r), (3,), "mean"),
    "contrastive": (lambda r: F.contrastive_loss(const(EMB[0]), const(EMB[1]), const(PAIR_Y),
                                                 reduction=r), (3,), "mean"),
    "cosine_embedding": (lambda r: F.cosine_embedding_loss(
        const(EMB[0]), const(EMB[1]), const(COS_Y), reduction=r), (3,), "mean"),
    "total_variation": (lambda r: F.total_variation_loss(const(IMG), reduction=r), (2,), "mean"),
}


@pytest.mark.parametrize("name", REDUCTION_CASES)
def test_reductions_none_sum_mean(name):
    call, shape, mean_rule = REDUCTION_CASES[name]
    none = call("none").data
    assert none.shape == shape
    assert call("sum").data == pytest.approx(none.sum(), rel=1e-12)
    expected_mean = none.mean() if mean_rule == "mean" else none.sum() / mean_rule
    assert call("mean").data == pytest.approx(expected_mean, rel=1e-12)
    with pytest.raises(ValueError, match="reduction must be one of"):
        call("avg")


def test_kl_div_batchmean_divides_by_the_batch_size():
    none = F.kl_div(const(LOGQ), const(KL_P), reduction="none").data
    assert F.kl_div(const(LOGQ), const(KL_P), reduction="batchmean").item() == \
        pytest.approx(none.sum() / 4, rel=1e-12)
    with pytest.raises(ValueError, match="mse_loss: reduction"):
        F.mse_loss(const(X), const(Y), reduction="batchmean")


def test_unbatched_inputs_give_0d_losses():
    assert F.cross_entropy(const(LOGITS[0]), np.array(1), reduction="none").shape == ()
    assert F.nll_loss(const(LOGITS[0]), np.array(1), reduction="none").shape == ()
    assert F.multi_margin_loss(const(MM[0]), np.array(1), reduction="none").shape == ()
    assert F.categorical_hinge_loss(const(MM[0]), np.array(1), reduction="none").shape == ()
    assert F.triplet_margin_loss(*[const(e[0]) for e in EMB], reduction="none").shape == ()
    assert F.cosine_embedding_loss(const(EMB[0][0]), const(EMB[1][0]), const(1.0),
                                   reduction="none").shape == ()
    assert F.contrastive_loss(const(EMB[0][0]), const(EMB[1][0]), const(1.0),
                              reduction="none").shape == ()


# ---------------------------------------------------------------- closed forms and identities
def test_mse_value_and_gradient():
    x = leaf(X)
    loss = F.mse_loss(x, const(Y))
    assert loss.item() == pytest.approx((D ** 2).mean(), rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 2 * D / D.size, rtol=1e-12)   # 2(ŷ − y)/N


def test_l1_value_and_gradient():
    assert F.l1_loss(const(X), const(Y)).item() == pytest.approx(np.abs(D).mean())
    np.testing.assert_allclose(grad_of(lambda x: F.l1_loss(x, const(Y)), X),
                               np.sign(D) / D.size)


def test_001_code_reference_values_for_bce_and_mse():
    y = const([0, 1, 0, 1, 1])
    p = const([0.1, 0.9, 0.2, 0.8, 0.7])
    assert F.binary_cross_entropy(p, y).item() == pytest.approx(0.20274, abs=5e-6)
    assert F.mse_loss(p, y).item() == pytest.approx(0.038, abs=1e-12)


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_value_and_derivative_is_clip_of_the_error(delta):
    loss = F.huber_loss(const(X), const(Y), delta=delta, reduction="none").data
    a = np.abs(D)
    np.testing.assert_allclose(loss, np.where(a < delta, 0.5 * D ** 2, delta * (a - 0.5 * delta)))
    np.testing.assert_allclose(grad_of(lambda x: F.huber_loss(x, const(Y), delta=delta,
                                                              reduction="sum"), X),
                               np.clip(D, -delta, delta), rtol=1e-12)


def test_smooth_l1_is_huber_over_beta_and_l1_at_beta_zero():
    for beta in (0.5, 1.0, 2.0):
        np.testing.assert_allclose(
            F.smooth_l1_loss(const(X), const(Y), beta=beta, reduction="none").data,
            F.huber_loss(const(X), const(Y), delta=beta, reduction="none").data / beta,
            rtol=1e-12)
    np.testing.assert_array_equal(F.smooth_l1_loss(const(X), const(Y), beta=0.0).data,
                                  F.l1_loss(const(X), const(Y)).data)


def test_log_cosh_value_and_gradient_is_tanh():
    np.testing.assert_allclose(F.log_cosh_loss(const(X), const(Y), reduction="none").data,
                               np.log(np.cosh(D)), rtol=1e-12)
    np.testing.assert_allclose(grad_of(lambda x: F.log_cosh_loss(x, const(Y), reduction="sum"),
                                       X), np.tanh(D), rtol=1e-12)


def test_bce_value_and_weight():
    expected = -(T * np.log(P) + (1 - T) * np.log(1 - P))
    np.testing.assert_allclose(F.binary_cross_entropy(const(P), const(T), reduction="none").data,
                               expected, rtol=1e-12)
    w = np.array([1.0, 0.0, 2.0, 0.5])
    assert F.binary_cross_entropy(const(P), const(T), weight=w).item() == \
        pytest.approx((expected * w).mean(), rel=1e-12)


def test_d_bce_of_sigmoid_dz_is_sigmoid_minus_y():
    n = X.size
    g = grad_of(lambda z: F.binary_cross_entropy_with_logits(z, const(T)), X)
    np.testing.assert_allclose(g, (sigmoid(X) - T) / n, rtol=1e-10, atol=1e-15)
    # the same through the probability form, BCE(σ(z), y)
    g = grad_of(lambda z: F.binary_cross_entropy(F.activation.sigmoid(z), const(T)), X)
    np.testing.assert_allclose(g, (sigmoid(X) - T) / n, rtol=1e-10, atol=1e-15)


def test_bce_with_logits_pos_weight_and_weight_closed_form():
    pw, w = np.array([0.5, 2.0, 1.0, 3.0]), np.array([1.0, 0.0, 2.0, 0.5])
    s = sigmoid(X)
    expected = -w * (pw * T * np.log(s) + (1 - T) * np.log(1 - s))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(
        const(X), const(T), weight=w, pos_weight=pw, reduction="none").data, expected, rtol=1e-10)


def test_cross_entropy_worked_example_of_003():
    z = const([[2.1, 0.1, -1.0], [1.0, 3.0, 0.2]])
    assert F.cross_entropy(z, np.array([0, 1])).item() == pytest.approx(0.1725, abs=5e-5)
    np.testing.assert_allclose(F.cross_entropy(z, np.array([0, 1]), reduction="none").data,
                               [0.1658, 0.1791], atol=5e-5)
    # float32, as the text's PyTorch code
    assert F.cross_entropy(ag.tensor([[2.1, 0.1, -1.0], [1.0, 3.0, 0.2]]),
                           [0, 1]).item() == pytest.approx(0.17247, abs=1e-5)


def test_d_ce_of_softmax_dz_is_softmax_minus_y():
    onehot = np.eye(3)[CLS]
    g = grad_of(lambda z: F.cross_entropy(z, CLS), LOGITS)
    np.testing.assert_allclose(g, (softmax(LOGITS) - onehot) / 4, rtol=1e-10, atol=1e-15)
    g = grad_of(lambda z: F.cross_entropy(z, const(Q), reduction="sum"), LOGITS)
    np.testing.assert_allclose(g, softmax(LOGITS) - Q, rtol=1e-10, atol=1e-15)
    # label smoothing moves the target to (1 − ε)·y + ε/C
    g = grad_of(lambda z: F.cross_entropy(z, CLS, label_smoothing=0.3, reduction="sum"), LOGITS)
    np.testing.assert_allclose(g, softmax(LOGITS) - (0.7 * onehot + 0.1), rtol=1e-10, atol=1e-15)


def test_index_and_one_hot_targets_agree_including_label_smoothing():
    onehot = const(np.eye(3)[CLS])
    for ls in (0.0, 0.25):
        a = F.cross_entropy(const(LOGITS), CLS, label_smoothing=ls).item()
        b = F.cross_entropy(const(LOGITS), onehot, label_smoothing=ls).item()
        assert a == pytest.approx(b, rel=1e-12)


def test_cross_entropy_is_nll_of_log_softmax_and_respects_ignore_index():
    z = const(LOGITS)
    t = np.array([2, 0, 7, 1])
    a = F.cross_entropy(z, t, weight=W3, ignore_index=7, reduction="none").data
    b = F.nll_loss(F.activation.log_softmax(z, axis=1), t, weight=W3, ignore_index=7,
                   reduction="none").data
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert a[2] == 0.0
    mean = F.cross_entropy(z, t, weight=W3, ignore_index=7).item()
    assert mean == pytest.approx(a.sum() / W3[[2, 0, 1]].sum(), rel=1e-12)
    # an ignore_index inside [0, C) ignores that class
    a = F.cross_entropy(z, np.array([2, 0, 2, 1]), ignore_index=2, reduction="none").data
    assert a[0] == 0.0 and a[2] == 0.0 and a[1] > 0


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_class_targets_refilled_before_backward_do_not_change_the_gradient(loss):
    # A data loader may refill its target array for the next batch before backward:
    # the graph keeps its own copy of the class indices.
    z = leaf(LOGITS)
    t = np.array([2, 0, 1, 1])
    expected = grad_of(lambda x: getattr(F, loss)(x, t), LOGITS)
    out = getattr(F, loss)(z, t)
    t[:] = [0, 1, 0, 2]
    out.backward()
    np.testing.assert_array_equal(z.grad.data, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight", [None, W3])
@pytest.mark.parametrize("ignore_index,target", [
    (-100, [2, 0, 1, 1]),       # nothing ignored (the targets' fast path)
    (1, [2, 0, 0, 2]),          # an ignore_index in [0, C) that no target equals
    (1, [2, 0, 1, 1]),          # two targets ignored
    (-100, [[0, 2], [1, 1]]),   # spatial (N, C, d) input
])
def test_class_index_mean_is_the_weighted_mean_of_the_per_sample_losses(
        dtype, weight, ignore_index, target):
    # "mean" over the targets that count, value and gradient, the same with and
    # without the shortcut taken when every target counts with weight 1.
    target = np.array(target)
    x = LOGITS.astype(dtype) if target.ndim == 1 else LOGITS_SP[:, :, :2, 0].astype(dtype)
    for loss in ("cross_entropy", "nll_loss"):
        fn = getattr(F, loss)

        def mean(z):
            return fn(z, target, weight=weight, ignore_index=ignore_index)

        def by_hand(z):
            per = fn(z, target, weight=weight, ignore_index=ignore_index, reduction="none")
            w = np.ones(3) if weight is None else weight
            wt = np.where(target == ignore_index, 0.0, w[np.where(target == ignore_index, 0,
                                                                   target)])
            return per.sum() / float(wt.astype(dtype).sum())

        z1, z2 = leaf(x, dtype), leaf(x, dtype)
        a, b = mean(z1), by_hand(z2)
        a.backward()
        b.backward()
        assert a.dtype == dtype
        np.testing.assert_allclose(a.item(), b.item(), rtol=1e-6 if dtype == np.float32 else 1e-14)
        np.testing.assert_allclose(z1.grad.data, z2.grad.data,
                                   rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-7)
        if weight is None and ignore_index == -100:
            # the shortcut rounds exactly as Σ(−p)/n
            assert a.item() == b.item()
            np.testing.assert_array_equal(z1.grad.data, z2.grad.data)


def test_an_ignore_index_that_is_not_a_number_is_refused():
    for loss in (F.cross_entropy, F.nll_loss):
        with pytest.raises(TypeError, match="ignore_index must be an integer"):
            loss(leaf(LOGITS), CLS, ignore_index="a")


def test_cross_entropy_spatial_equals_flattened_rows():
    flat_z = np.moveaxis(LOGITS_SP, 1, -1).reshape(-1, 3)
    a = F.cross_entropy(const(LOGITS_SP), CLS_SP, weight=W3, label_smoothing=0.2).item()
    b = F.cross_entropy(const(flat_z), CLS_SP.reshape(-1), weight=W3, label_smoothing=0.2).item()
    assert a == pytest.approx(b, rel=1e-12)


def test_entropy_and_the_cross_entropy_table_of_003():
    p = const([0.7, 0.3])
    h = F.cross_entropy(ag.log(p), p).item()          # H(P) as cross_entropy(log P, P)
    assert h == pytest.approx(0.611, abs=5e-4)
    assert h == pytest.approx(-(0.7 * math.log(0.7) + 0.3 * math.log(0.3)), rel=1e-12)
    # H(P, Q) in nats for the text's three Q (it printed 0.985, 0.610, 1.100: see formulas.md)
    for q, h_pq, kl in (([0.5, 0.5], 0.6931, 0.0823), ([0.7, 0.3], 0.6109, 0.0),
                        ([0.9, 0.1], 0.7645, 0.1537)):
        q = const(q)
        assert F.cross_entropy(ag.log(q), p).item() == pytest.approx(h_pq, abs=5e-5)
        d_kl = F.kl_div(ag.log(q), p, reduction="sum").item()
        assert d_kl == pytest.approx(kl, abs=5e-5)
        # H(P, Q) = H(P) + D_KL(P‖Q)
        assert F.cross_entropy(ag.log(q), p).item() == pytest.approx(h + d_kl, rel=1e-12)


def test_kl_div_closed_form_zero_targets_and_log_target():
    p = np.array([[0.0, 0.25, 0.75], [0.5, 0.5, 0.0]])
    lq = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]]))
    expected = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - lq), 0.0)
    np.testing.assert_allclose(F.kl_div(const(lq), const(p), reduction="none").data, expected)
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    np.testing.assert_allclose(
        F.kl_div(const(lq), const(log_p), reduction="none", log_target=True).data, expected)
    np.testing.assert_allclose(grad_of(lambda x: F.kl_div(x, const(p), reduction="sum"), lq), -p)


def test_sigmoid_focal_reduces_to_bce_and_matches_its_formula():
    bce = F.binary_cross_entropy_with_logits(const(X), const(T), reduction="none").data
    np.testing.assert_allclose(
        F.sigmoid_focal_loss(const(X), const(T), alpha=-1, gamma=0.0, reduction="none").data,
        bce, rtol=1e-12)
    p = sigmoid(X)
    pt = p * T01 + (1 - p) * (1 - T01)
    at = 0.25 * T01 + 0.75 * (1 - T01)
    np.testing.assert_allclose(F.sigmoid_focal_loss(const(X), const(T01), reduction="none").data,
                               -at * (1 - pt) ** 2 * np.log(pt), rtol=1e-10)


def test_softmax_focal_reduces_to_cross_entropy_and_matches_its_formula():
    ce = F.cross_entropy(const(LOGITS), CLS, reduction="none").data
    np.testing.assert_allclose(F.softmax_focal_loss(const(LOGITS), CLS, gamma=0.0,
                                                    reduction="none").data, ce, rtol=1e-12)
    pt = softmax(LOGITS)[np.arange(4), CLS]
    np.testing.assert_allclose(
        F.softmax_focal_loss(const(LOGITS), CLS, alpha=W3, gamma=1.5, reduction="none").data,
        -W3[CLS] * (1 - pt) ** 1.5 * np.log(pt), rtol=1e-10)
    np.testing.assert_allclose(
        F.softmax_focal_loss(const(LOGITS), CLS, alpha=0.5, reduction="none").data,
        -0.5 * (1 - pt) ** 2 * np.log(pt), rtol=1e-10)


def test_dice_and_iou_closed_forms():
    ones, zeros = np.ones((2, 2, 2)), np.zeros((2, 2, 2))
    assert F.dice_loss(const(ones), const(ones)).item() == pytest.approx(0.0)
    assert F.dice_loss(const(zeros), const(ones)).item() == pytest.approx(0.8)  # 1 − 1/(4 + 1)
    assert F.iou_loss(const(zeros), const(ones)).item() == pytest.approx(1 - 1 / 5)
    inter, sp, st = (P * T01).sum(1), P.sum(1), T01.sum(1)
    np.testing.assert_allclose(F.dice_loss(const(P), const(T01), smooth=0.5, reduction="none").data,
                               1 - (2 * inter + 0.5) / (sp + st + 0.5), rtol=1e-12)
    np.testing.assert_allclose(F.iou_loss(const(P), const(T01), reduction="none").data,
                               1 - (inter + 1) / (sp + st - inter + 1), rtol=1e-12)


def test_margin_losses_closed_forms():
    f, y = const([0.5, 2.0, -0.3, 0.2]), const([1.0, 1.0, -1.0, -1.0])
    np.testing.assert_allclose(F.hinge_loss(f, y, reduction="none").data, [0.5, 0.0, 0.7, 1.2])
    np.testing.assert_allclose(F.exponential_loss(f, y, reduction="none").data,
                               np.exp([-0.5, -2.0, -0.3, 0.2]))
    s = const([[2.0, 1.0, 0.5], [2.0, 1.0, 0.5]])
    np.testing.assert_allclose(F.categorical_hinge_loss(s, np.array([0, 2]), reduction="none").data,
                               [0.0, 2.5])
    # multi_margin_loss: (1/C)·Σ_(j≠y) w_y·max(0, margin − x_y + x_j)^p
    for p, margin in ((1, 1.0), (2, 0.5)):
        expected = [sum(W3[t] * max(0.0, margin - row[t] + row[j]) ** p
                        for j in range(3) if j != t) / 3 for row, t in zip(MM, MM_CLS)]
        np.testing.assert_allclose(F.multi_margin_loss(const(MM), MM_CLS, p=p, margin=margin,
                                                       weight=W3, reduction="none").data,
                                   expected, rtol=1e-12)


def test_embedding_losses_closed_forms():
    a, p, n = EMB
    dp = np.linalg.norm(a - p + 1e-6, axis=1)
    dn = np.linalg.norm(a - n + 1e-6, axis=1)
    np.testing.assert_allclose(F.triplet_margin_loss(*map(const, EMB), reduction="none").data,
                               np.maximum(dp - dn + 1.0, 0), rtol=1e-12)
    x1, x2 = const([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]), const([[3.0, 4.0]] * 3)
    np.testing.assert_allclose(F.contrastive_loss(x1, x2, const([1.0, 0.0, 0.0]), margin=6.0,
                                                  reduction="none").data, [25.0, 1.0, 1.0])
    assert F.contrastive_loss(x1, x2, const([0.0, 0.0, 0.0]), margin=4.0).item() == 0.0
    u = const([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    v = const([[2.0, 0.0], [0.0, 1.0], [1.0, 3**0.5]])
    np.testing.assert_allclose(F.cosine_embedding_loss(u, v, const([1.0, -1.0, -1.0]), margin=0.1,
                                                       reduction="none").data, [0.0, 0.0, 0.4],
                               atol=1e-12)


def test_total_variation_closed_form():
    img = np.zeros((1, 1, 3, 3))
    img[0, 0, 1, 1] = 2.0        # a spike: 4 neighbours differ by 2
    assert F.total_variation_loss(const(img)).item() == 8.0
    expected = (np.abs(np.diff(IMG, axis=2)).sum((1, 2, 3))
                + np.abs(np.diff(IMG, axis=3)).sum((1, 2, 3)))
    np.testing.assert_allclose(F.total_variation_loss(const(IMG), reduction="none").data,
                               expected, rtol=1e-12)


# ---------------------------------------------------------------- kinks: the sub-gradient we return
def test_l1_gradient_is_zero_where_input_equals_target():
    np.testing.assert_array_equal(grad_of(lambda x: F.l1_loss(x, const([1.0, 2.0]),
                                                              reduction="sum"), [1.0, 3.0]),
                                  [0.0, 1.0])


def test_huber_and_smooth_l1_gradients_at_the_switch_are_continuous():
    g = grad_of(lambda x: F.huber_loss(x, const([0.0, 0.0]), delta=0.5, reduction="sum"),
                [0.5, -0.5])
    np.testing.assert_array_equal(g, [0.5, -0.5])          # clip(e, −δ, δ) at |e| = δ
    g = grad_of(lambda x: F.smooth_l1_loss(x, const([0.0, 0.0]), beta=0.5, reduction="sum"),
                [0.5, -0.5])
    np.testing.assert_array_equal(g, [1.0, -1.0])


def test_log_cosh_at_zero_gradient_zero_second_derivative_one():
    x = leaf([0.0])
    (g,) = ag.grad([F.log_cosh_loss(x, const([0.0]), reduction="sum")], [x], create_graph=True)
    (h,) = ag.grad([g.sum()], [x])
    assert g.item() == 0.0 and h.item() == pytest.approx(1.0)


def test_bce_with_logits_at_zero_gradient_and_curvature():
    x = leaf([0.0, 0.0])
    (g,) = ag.grad([F.binary_cross_entropy_with_logits(x, const([1.0, 0.0]), reduction="sum")],
                   [x], create_graph=True)
    (h,) = ag.grad([g.sum()], [x])
    np.testing.assert_allclose(g.data, [-0.5, 0.5])
    np.testing.assert_allclose(h.data, [0.25, 0.25])


def test_hinge_and_margin_kinks_give_zero():
    # y·f = 1 exactly: relu'(0) = 0
    assert grad_of(lambda f: F.hinge_loss(f, const([1.0])), [1.0])[0] == 0.0
    # margin − x_y + x_j = 0 exactly (PyTorch counts only z > 0)
    g = grad_of(lambda x: F.multi_margin_loss(x, np.array([0]), reduction="sum"),
                [[2.0, 1.0, -3.0]])
    np.testing.assert_array_equal(g, 0.0)
    g = grad_of(lambda x: F.categorical_hinge_loss(x, np.array([0]), reduction="sum"),
                [[2.0, 1.0, -3.0]])
    np.testing.assert_array_equal(g, 0.0)


def test_categorical_hinge_ties_share_the_gradient():
    g = grad_of(lambda x: F.categorical_hinge_loss(x, np.array([0]), reduction="sum"),
                [[1.0, 1.5, 1.5]])
    np.testing.assert_allclose(g, [[-1.0, 0.5, 0.5]])


def test_triplet_and_cosine_pass_the_gradient_at_their_kink_as_pytorch_clamp_min():
    a, p, n = [0.0, 0.0], [3.0, 4.0], [10.0, 0.0]     # d(a,p) = 5, d(a,n) = 10, margin 5: kink
    ta = leaf(a)
    loss = F.triplet_margin_loss(ta, const(p), const(n), margin=5.0, eps=0.0)
    assert loss.item() == 0.0
    (g,) = ag.grad([loss], [ta])
    # passed through: (a − p)/d(a,p) − (a − n)/d(a,n)
    np.testing.assert_allclose(g.data, [-0.6 + 1.0, -0.8 - 0.0], atol=1e-12)
    u, v = leaf([1.0, 0.0]), const([1.0, 1.0])
    margin = 1.0 / np.sqrt((1.0 + 1e-12) * (2.0 + 1e-12))   # = cos(u, v) as computed
    loss = F.cosine_embedding_loss(u, v, const(-1.0), margin=margin)
    assert loss.item() == 0.0
    (g,) = ag.grad([loss], [u])
    np.testing.assert_allclose(g.data, [0.0, 0.5 ** 0.5], atol=1e-9)    # ∂cos/∂u, passed


def test_contrastive_at_zero_distance_uses_the_zero_subgradient():
    x = leaf([[1.0, 2.0]])
    (g,) = ag.grad([F.contrastive_loss(x, const([[1.0, 2.0]]), const([0.0]))], [x])
    np.testing.assert_array_equal(g.data, 0.0)
    (g,) = ag.grad([F.contrastive_loss(x, const([[1.0, 2.0]]), const([1.0]))], [x])
    np.testing.assert_array_equal(g.data, 0.0)


def test_total_variation_gradient_is_zero_on_a_flat_image():
    np.testing.assert_array_equal(grad_of(F.total_variation_loss, np.ones((1, 1, 2, 2))), 0.0)


def test_bce_clamped_log_gives_a_flat_gradient_at_the_clamp():
    # p = 0 with y = 1: loss 100 (log clamped at −100), gradient 0 (PyTorch: −1e12)
    p = leaf([0.0, 1.0, 0.5])
    loss = F.binary_cross_entropy(p, const([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, math.log(2)])
    (g,) = ag.grad([loss.sum()], [p])
    np.testing.assert_allclose(g.data, [0.0, 0.0, -2.0])


# ---------------------------------------------------------------- stability at the extremes
STABILITY = {
    "bce_logits": lambda x: F.binary_cross_entropy_with_logits(
        x, const([1.0, 0.0, 1.0, 0.0], x.dtype), pos_weight=const([2.0] * 4, x.dtype)),
    "sigmoid_focal": lambda x: F.sigmoid_focal_loss(x, const([1.0, 0.0, 1.0, 0.0], x.dtype)),
    "sigmoid_focal_gamma_half": lambda x: F.sigmoid_focal_loss(
        x, const([1.0, 0.0, 0.0, 1.0], x.dtype), gamma=0.5),
    "log_cosh": lambda x: F.log_cosh_loss(x, const([0.0] * 4, x.dtype)),
    "cross_entropy": lambda x: F.cross_entropy(ag.reshape(x * 10, (2, 2)), np.array([1, 0])),
    "cross_entropy_smoothed": lambda x: F.cross_entropy(ag.reshape(x * 10, (2, 2)),
                                                        np.array([1, 0]), label_smoothing=0.1),
    "cross_entropy_probs": lambda x: F.cross_entropy(ag.reshape(x * 10, (2, 2)),
                                                     const([[0.0, 1.0], [1.0, 0.0]], x.dtype)),
    "softmax_focal": lambda x: F.softmax_focal_loss(ag.reshape(x * 10, (2, 2)),
                                                    np.array([1, 0]), gamma=0.5),
    "bce_at_0_and_1": lambda x: F.binary_cross_entropy(
        ag.sigmoid(x), const([1.0, 0.0, 1.0, 0.0], x.dtype)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", STABILITY)
def test_finite_values_and_gradients_at_the_extremes(name, dtype):
    # logits ±1000 (×10 = ±1e4 for the softmax losses); warnings are errors, and so are
    # overflow, division by zero and invalid results (underflow to 0 is correct rounding)
    x = ag.Tensor(np.array([-1000.0, 1000.0, 1000.0, -1000.0], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss = STABILITY[name](x)
        (g,) = ag.grad([loss], [x], create_graph=True)
        h = ag.grad([(g * g).sum()], [x])[0] if g.requires_grad else g
    assert np.isfinite(loss.data) and np.isfinite(g.data).all() and np.isfinite(h.data).all()
    assert loss.dtype == dtype


def test_extreme_values_are_the_right_ones():
    x = const([-1000.0, 1000.0, 1000.0, -1000.0])
    y = const([1.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y, reduction="none").data,
                               [1000.0, 1000.0, 0.0, 0.0])
    np.testing.assert_allclose(grad_of(lambda z: F.binary_cross_entropy_with_logits(
        z, y, reduction="sum"), x.data), [-1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(F.log_cosh_loss(x, const([0.0] * 4), reduction="none").data,
                               1000.0 - math.log(2))
    z = const([[1e4, 0.0, -1e4]])
    np.testing.assert_allclose(F.cross_entropy(z, np.array([2])).item(), 2e4)
    np.testing.assert_allclose(grad_of(lambda t: F.cross_entropy(t, np.array([2])), z.data),
                               [[1.0, 0.0, -1.0]])


# ---------------------------------------------------------------- bad input
BAD = [
    # (call, loss name in the message, offending value in the message)
    (lambda: F.mse_loss(const(X), const(Y[:2])), "mse_loss", r"\(2, 4\)"),
    (lambda: F.mse_loss(const(X), const(Y).reshape(4, 3)), "mse_loss", r"\(4, 3\)"),
    (lambda: F.mse_loss(const([1.0, 2.0]), const([1.0, np.nan])), "mse_loss", "NaN"),
    (lambda: F.l1_loss(const([1.0, 2.0]), const([np.nan, 1.0])), "l1_loss", "NaN"),
    (lambda: F.huber_loss(const([1.0]), const([1.0, 2.0])), "huber_loss", "shape"),
    (lambda: F.huber_loss(const([1.0]), const([1.0]), delta=0.0), "huber_loss", "delta"),
    (lambda: F.smooth_l1_loss(const([1.0]), const([np.nan])), "smooth_l1_loss", "NaN"),
    (lambda: F.smooth_l1_loss(const([1.0]), const([1.0]), beta=-1.0), "smooth_l1_loss", "beta"),
    (lambda: F.log_cosh_loss(const([1.0]), const([[1.0]])), "log_cosh_loss", "shape"),
    (lambda: F.binary_cross_entropy(const([0.2, 1.5]), const([0.0, 1.0])),
     "binary_cross_entropy", "1.5"),
    (lambda: F.binary_cross_entropy(const([0.2, -0.1]), const([0.0, 1.0])),
     "binary_cross_entropy", "-0.1"),
    (lambda: F.binary_cross_entropy(const([0.2, np.nan]), const([0.0, 1.0])),
     "binary_cross_entropy", "nan"),
    (lambda: F.binary_cross_entropy(const([0.2, 0.4]), const([0.0, 2.0])),
     "binary_cross_entropy", "2.0"),
    (lambda: F.binary_cross_entropy(const([0.2, 0.4]), const([0.0, np.nan])),
     "binary_cross_entropy", "NaN"),
    (lambda: F.binary_cross_entropy(const([0.2, 0.4]), const([0.0, 1.0, 1.0])),
     "binary_cross_entropy", "shape"),
    (lambda: F.binary_cross_entropy(const([0.2, 0.4]), const([0.0, 1.0]), weight=[1.0, 2.0, 3.0]),
     "binary_cross_entropy", "weight"),
    (lambda: F.binary_cross_entropy_with_logits(const([0.2, 3.0]), const([0.0, -1.0])),
     "binary_cross_entropy_with_logits", "-1.0"),
    (lambda: F.binary_cross_entropy_with_logits(const([0.2, 3.0]), const([0.0, 1.0]),
                                                pos_weight=[1.0, 2.0, 3.0]),
     "binary_cross_entropy_with_logits", "pos_weight"),
    (lambda: F.cross_entropy(const(LOGITS), np.array([0, 3, 1, 2])), "cross_entropy", r"\b3\b"),
    (lambda: F.cross_entropy(const(LOGITS), np.array([0, -1, 1, 2])), "cross_entropy", "-1"),
    (lambda: F.cross_entropy(const(LOGITS), np.array([0, 1, 2])), "cross_entropy", r"\(3,\)"),
    (lambda: F.cross_entropy(const(LOGITS), const([0.0, 1.0, 2.0, 1.0])), "cross_entropy",
     r"\(4,\)"),
    (lambda: F.cross_entropy(const(LOGITS), const(Q * 2)), "cross_entropy", r"\[0.0, 1.0\]"),
    (lambda: F.cross_entropy(const(LOGITS), const(np.where(Q > 0.5, np.nan, Q))),
     "cross_entropy", "NaN"),
    (lambda: F.cross_entropy(const(LOGITS), CLS, weight=[1.0, 2.0]), "cross_entropy", r"\(2,\)"),
    (lambda: F.cross_entropy(const(LOGITS), CLS, label_smoothing=1.5), "cross_entropy", "1.5"),
    (lambda: F.cross_entropy(const(LOGITS), np.full(4, -100)), "cross_entropy", "ignore_index"),
    (lambda: F.cross_entropy(const(LOGITS), const(Q), ignore_index=1), "cross_entropy",
     "ignore_index=1"),
    (lambda: F.cross_entropy(const(LOGITS_SP), CLS_SP[:, :1]), "cross_entropy", r"\(2, 1, 2\)"),
    (lambda: F.cross_entropy(const(LOGITS_SP), np.full((2, 2, 2), 5)), "cross_entropy", "5"),
    (lambda: F.cross_entropy(const(1.0), np.array(0)), "cross_entropy", "0-d"),
    (lambda: F.nll_loss(const(LOGITS), np.array([0, 9, 1, 2])), "nll_loss", "9"),
    (lambda: F.nll_loss(const(LOGITS), np.array([0, 1])), "nll_loss", "shape"),
    (lambda: F.sigmoid_focal_loss(const([0.2, 3.0]), const([0.0, 2.0])), "sigmoid_focal_loss",
     "2.0"),
    (lambda: F.sigmoid_focal_loss(const([0.2]), const([1.0]), gamma=-1.0), "sigmoid_focal_loss",
     "gamma"),
    (lambda: F.softmax_focal_loss(const(LOGITS), np.array([0, 3, 1, 2])), "softmax_focal_loss",
     r"\b3\b"),
    (lambda: F.softmax_focal_loss(const(LOGITS), CLS, alpha=[1.0, 2.0]), "softmax_focal_loss",
     "alpha"),
    (lambda: F.dice_loss(const(X), const(T01)), "dice_loss", "input probabilities"),
    (lambda: F.dice_loss(const(P), const(T01[:2])), "dice_loss", "shape"),
    (lambda: F.iou_loss(const(P), const(T01 * 3)), "iou_loss", "3.0"),
    (lambda: F.kl_div(const(LOGQ), const(-KL_P)), "kl_div", ">= 0"),
    (lambda: F.kl_div(const(LOGQ), const(KL_P[:2])), "kl_div", "shape"),
    (lambda: F.kl_div(const(LOGQ), const(np.full((4, 3), np.inf)), log_target=True), "kl_div",
     "inf"),
    (lambda: F.hinge_loss(const([0.5, 0.2]), const([1.0, 0.0])), "hinge_loss", r"\{-1, 1\}.*0\.0"),
    (lambda: F.hinge_loss(const([0.5, 0.2]), const([1.0])), "hinge_loss", "shape"),
    (lambda: F.exponential_loss(const([0.5, 0.2]), const([2.0, 1.0])), "exponential_loss", "2.0"),
    (lambda: F.multi_margin_loss(const(MM), MM_CLS, p=3), "multi_margin_loss", "p = 2"),
    (lambda: F.multi_margin_loss(const(MM), np.array([0, 1, 2, 3])), "multi_margin_loss",
     r"\b3\b"),
    (lambda: F.categorical_hinge_loss(const(MM), np.array([0, 1, 5, 2])), "categorical_hinge_loss",
     "5"),
    (lambda: F.categorical_hinge_loss(const(MM[:, :1]), np.array([0, 0, 0, 0])),
     "categorical_hinge_loss", "2 classes"),
    (lambda: F.triplet_margin_loss(*map(const, EMB), margin=0.0), "triplet_margin_loss", "margin"),
    (lambda: F.triplet_margin_loss(const(EMB[0]), const(EMB[1]), const(EMB[2][:2])),
     "triplet_margin_loss", r"\(2, 4\)"),
    (lambda: F.contrastive_loss(const(EMB[0]), const(EMB[1]), const([1.0, 0.0, 2.0])),
     "contrastive_loss", r"\{0, 1\}.*2\.0"),
    (lambda: F.contrastive_loss(const(EMB[0]), const(EMB[1]), const([1.0, -1.0, 0.0])),
     "contrastive_loss", "-1.0"),
    (lambda: F.contrastive_loss(const(EMB[0]), const(EMB[1]), const([1.0, 0.0])),
     "contrastive_loss", "shape"),
    (lambda: F.cosine_embedding_loss(const(EMB[0]), const(EMB[1]), const([1.0, 0.0, -1.0])),
     "cosine_embedding_loss", "0.0"),
    (lambda: F.cosine_embedding_loss(const(EMB[0]), const(EMB[1]), const([1.0, np.nan, -1.0])),
     "cosine_embedding_loss", "NaN"),
    (lambda: F.total_variation_loss(const(IMG[0])), "total_variation_loss", r"\(2, 3, 3\)"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_input_is_a_value_error_naming_the_loss_and_the_values(case):
    call, name, detail = BAD[case]
    with pytest.raises(ValueError, match=name) as info:
        call()
    assert info.match(detail)


def test_dtype_problems_are_type_errors():
    with pytest.raises(TypeError, match="cross_entropy: class-index targets must be integers"):
        F.cross_entropy(const(LOGITS), np.array([True, False, True, True]))
    with pytest.raises(TypeError, match="nll_loss.*integers"):
        F.nll_loss(const(LOGITS), const([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(TypeError, match="mse_loss: input must be a floating-point"):
        F.mse_loss(ag.tensor([1, 2]), ag.tensor([1, 2]))


@pytest.mark.parametrize("name", CASES)
def test_float32_inputs_give_float32_losses_and_gradients(name):
    # float64 NumPy targets and weights are cast to the input's dtype, not the reverse
    fn, values = CASES[name]
    xs = [ag.Tensor(np.asarray(v, dtype=np.float32), requires_grad=True) for v in values]
    loss = fn(*xs)
    loss.backward()
    assert loss.dtype == np.float32
    assert all(x.grad.dtype == np.float32 for x in xs)


# ---------------------------------------------------------------- modules
MODULE_OF = {
    nn.MSELoss: F.mse_loss, nn.L1Loss: F.l1_loss, nn.HuberLoss: F.huber_loss,
    nn.SmoothL1Loss: F.smooth_l1_loss, nn.LogCoshLoss: F.log_cosh_loss,
    nn.BCELoss: F.binary_cross_entropy, nn.BCEWithLogitsLoss: F.binary_cross_entropy_with_logits,
    nn.CrossEntropyLoss: F.cross_entropy, nn.NLLLoss: F.nll_loss,
    nn.FocalLoss: F.sigmoid_focal_loss, nn.SoftmaxFocalLoss: F.softmax_focal_loss,
    nn.DiceLoss: F.dice_loss, nn.IoULoss: F.iou_loss, nn.KLDivLoss: F.kl_div,
    nn.HingeLoss: F.hinge_loss, nn.MultiMarginLoss: F.multi_margin_loss,
    nn.CategoricalHingeLoss: F.categorical_hinge_loss,
    nn.TripletMarginLoss: F.triplet_margin_loss, nn.ContrastiveLoss: F.contrastive_loss,
    nn.CosineEmbeddingLoss: F.cosine_embedding_loss,
    nn.TotalVariationLoss: F.total_variation_loss, nn.ExponentialLoss: F.exponential_loss,
}


def test_every_loss_module_is_exported():
    assert set(nn.loss.__all__) == {c.__name__ for c in MODULE_OF} | {"PerceptualLoss"}


@pytest.mark.parametrize("cls", MODULE_OF, ids=lambda c: c.__name__)
def test_functional_has_the_module_defaults(cls):
    fparams = inspect.signature(MODULE_OF[cls]).parameters
    mparams = inspect.signature(cls.__init__).parameters
    for name, p in mparams.items():
        if name == "self":
            continue
        assert name in fparams, f"{cls.__name__}({name}) has no counterpart in the functional"
        assert fparams[name].default == p.default, name
    assert mparams.get("reduction", fparams["reduction"]).default == "mean"


MODULE_CASES = [
    (nn.MSELoss(), lambda: F.mse_loss(const(X), const(Y)), (X, Y)),
    (nn.HuberLoss(delta=0.5, reduction="sum"),
     lambda: F.huber_loss(const(X), const(Y), "sum", 0.5), (X, Y)),
    (nn.SmoothL1Loss(beta=0.3), lambda: F.smooth_l1_loss(const(X), const(Y), beta=0.3), (X, Y)),
    (nn.LogCoshLoss(), lambda: F.log_cosh_loss(const(X), const(Y)), (X, Y)),
    (nn.L1Loss(reduction="none"), lambda: F.l1_loss(const(X), const(Y), "none"), (X, Y)),
    (nn.BCELoss(weight=[1, 2, 3, 4]),
     lambda: F.binary_cross_entropy(const(P), const(T), weight=[1.0, 2, 3, 4]), (P, T)),
    (nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 3.0, 4.0]),
     lambda: F.binary_cross_entropy_with_logits(const(X), const(T), pos_weight=[1.0, 2, 3, 4]),
     (X, T)),
    (nn.CrossEntropyLoss(weight=W3, ignore_index=1, label_smoothing=0.1),
     lambda: F.cross_entropy(const(LOGITS), CLS, W3, 1, label_smoothing=0.1), (LOGITS, CLS)),
    (nn.NLLLoss(weight=W3), lambda: F.nll_loss(const(LOGQ), CLS, W3), (LOGQ, CLS)),
    (nn.FocalLoss(alpha=0.4, gamma=1.0),
     lambda: F.sigmoid_focal_loss(const(X), const(T01), 0.4, 1.0), (X, T01)),
    (nn.SoftmaxFocalLoss(alpha=W3), lambda: F.softmax_focal_loss(const(LOGITS), CLS, W3),
     (LOGITS, CLS)),
    (nn.DiceLoss(smooth=0.1), lambda: F.dice_loss(const(P), const(T01), 0.1), (P, T01)),
    (nn.IoULoss(), lambda: F.iou_loss(const(P), const(T01)), (P, T01)),
    (nn.KLDivLoss(reduction="batchmean"),
     lambda: F.kl_div(const(LOGQ), const(KL_P), "batchmean"), (LOGQ, KL_P)),
    (nn.HingeLoss(), lambda: F.hinge_loss(const(F_HINGE), const(PM)), (F_HINGE, PM)),
    (nn.ExponentialLoss(), lambda: F.exponential_loss(const(F_HINGE), const(PM)), (F_HINGE, PM)),
    (nn.MultiMarginLoss(p=2, weight=W3),
     lambda: F.multi_margin_loss(const(MM), MM_CLS, 2, weight=W3), (MM, MM_CLS)),
    (nn.CategoricalHingeLoss(), lambda: F.categorical_hinge_loss(const(MM), MM_CLS), (MM, MM_CLS)),
    (nn.TripletMarginLoss(swap=True), lambda: F.triplet_margin_loss(*map(const, EMB), swap=True),
     EMB),
    (nn.ContrastiveLoss(margin=2.0),
     lambda: F.contrastive_loss(const(EMB[0]), const(EMB[1]), const(PAIR_Y), 2.0),
     (EMB[0], EMB[1], PAIR_Y)),
    (nn.CosineEmbeddingLoss(margin=0.2),
     lambda: F.cosine_embedding_loss(const(EMB[0]), const(EMB[1]), const(COS_Y), 0.2),
     (EMB[0], EMB[1], COS_Y)),
    (nn.TotalVariationLoss(), lambda: F.total_variation_loss(const(IMG)), (IMG,)),
]


@pytest.mark.parametrize("case", range(len(MODULE_CASES)),
                         ids=[type(m).__name__ for m, _, _ in MODULE_CASES])
def test_module_forward_equals_functional(case):
    module, fn, args = MODULE_CASES[case]
    args = [a if np.asarray(a).dtype.kind == "i" else const(a) for a in args]
    np.testing.assert_allclose(module(*args).data, fn().data, rtol=1e-6)
    assert isinstance(module, nn.Module)
    assert "reduction=" in repr(module)


def test_weights_are_buffers_as_in_pytorch():
    m = nn.CrossEntropyLoss(weight=[1, 2, 3])
    sd = m.state_dict()
    assert list(sd) == ["weight"] and sd["weight"].dtype == np.float32
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert list(nn.BCEWithLogitsLoss(weight=[1.0], pos_weight=[2.0]).state_dict()) == \
        ["weight", "pos_weight"]
    assert list(m.parameters()) == []
    assert repr(m) == "CrossEntropyLoss(ignore_index=-100, label_smoothing=0.0, reduction='mean')"


def test_module_constructors_check_their_arguments():
    with pytest.raises(ValueError, match="MSELoss: reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="MultiMarginLoss.*p = 2"):
        nn.MultiMarginLoss(p=3)
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.raises(TypeError, match="PerceptualLoss"):
        nn.PerceptualLoss(lambda x: x)


class _Features(nn.Module):
    """A tiny extractor with a parameter and a train/eval-dependent branch."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.array([[1.0, -1.0], [0.5, 2.0]]))

    def forward(self, x):
        out = ag.tanh(x @ self.w)
        return out * 100.0 if self.training else out


def test_perceptual_loss_freezes_its_extractor_and_passes_gradients_to_the_input():
    feats = _Features()
    loss_fn = nn.PerceptualLoss(feats)
    assert not feats.w.requires_grad and not feats.training
    holder = nn.ModuleDict({"model": nn.Identity(), "loss": loss_fn})
    holder.train()                                   # a parent's train() ...
    x = leaf([[0.3, -0.2], [1.0, 0.5]])
    target = const([[0.1, 0.1], [0.0, 0.4]])
    value = loss_fn(x, target)                       # ... does not unfreeze the extractor
    assert not feats.training
    fx, ft = np.tanh(x.data @ feats.w.data), np.tanh(target.data @ feats.w.data)
    assert value.item() == pytest.approx(((fx - ft) ** 2).mean(), rel=1e-12)
    value.backward()
    assert feats.w.grad is None and x.grad is not None
    assert np.abs(x.grad.data).sum() > 0
    loss_fn.train()
    assert loss_fn.training and not feats.training
