"""Loss functions, composed from autograd ops (no derivative code here).

Every loss takes ``(input, target)`` in PyTorch's order and
``reduction="mean"|"sum"|"none"``. Targets are checked before anything is computed:
a target of the wrong shape, a class index out of range, a probability outside
[0, 1], a label outside {−1, 1} or a NaN is a ValueError that names the loss and the
offending values, never a silent NaN in the result.

Stable forms: cross-entropy through log-softmax (log-sum-exp), BCE on logits as
(1 − y)·x + softplus(−x), log-cosh as |d| + softplus(−2|d|) − log 2, BCE's logs
clamped at −100 as PyTorch does. ``where`` evaluates both branches, so the unused
branch is always kept finite (its zero gradient would otherwise meet an inf).
"""
import math

import numpy as np

import autograd as ag
from autograd.tensor import Tensor

from .activation import _stable_softplus, log_softmax

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "nll_loss", "sigmoid_focal_loss", "softmax_focal_loss", "dice_loss", "iou_loss",
           "kl_div", "hinge_loss", "multi_margin_loss", "categorical_hinge_loss",
           "triplet_margin_loss", "contrastive_loss", "cosine_embedding_loss",
           "total_variation_loss", "exponential_loss"]

_REDUCTIONS = ("mean", "sum", "none")
_UNSIGNED = {np.dtype(f"i{n}"): np.dtype(f"u{n}") for n in (1, 2, 4, 8)}
_max_reduce = np.maximum.reduce
_LOG2 = math.log(2.0)
_COSINE_EPS = 1e-12          # torch's EPSILON in cosine_embedding_loss


# ---------------------------------------------------------------- checks and helpers
def _check_reduction(reduction, name, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, allowed))}, "
                         f"got {reduction!r}")


def _empty_mean(name, shape):
    return ValueError(f"{name}: reduction='mean' of an empty batch (input shape {shape}) is "
                      "undefined; use reduction='sum' or 'none' for such batches")


def _reduce(loss, reduction, name, shape):
    """Apply ``reduction``; ``name`` and the input's ``shape`` are for the error of a mean
    over no elements."""
    if reduction == "mean":
        if loss.size == 0:
            raise _empty_mean(name, shape)
        return ag.mean(loss)
    if reduction == "sum":
        return ag.sum(loss)
    return loss


def _offending(values, bad, limit=6):
    """'3 offending values: 2, 7 (first at index (1,))' for the error messages."""
    shown = np.unique(values[bad])
    text = ", ".join(repr(v.item()) for v in shown[:limit])
    if shown.size > limit:
        text += ", ..."
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if values.ndim else ()
    return f"{int(bad.sum())} offending value(s): {text} (first at index {first})"


def _input(x, name, what="input"):
    x = x if isinstance(x, Tensor) else ag.tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: {what} must be a floating-point tensor, got dtype "
                        f"{x.dtype} (shape {x.shape})")
    return x


def _float_target(target, like, name, what="target", shape=None):
    """``target`` as a Tensor of ``like``'s dtype and shape, with no NaN."""
    if isinstance(target, Tensor):
        t = target if target.dtype == like.dtype else ag.astype(target, like.dtype)
    else:
        arr = np.asarray(target)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"{name}: {what} must be numeric, got dtype {arr.dtype}")
        t = Tensor(arr.astype(like.dtype))
    shape = like.shape if shape is None else shape
    if t.shape != shape:
        raise ValueError(f"{name}: {what} shape {t.shape} does not match the expected "
                         f"shape {shape} (input shape {like.shape})")
    nan = np.isnan(t.data)
    if nan.any():
        raise ValueError(f"{name}: {what} contains NaN: {_offending(t.data, nan)}")
    return t


def _check_range(t, name, what, lo=0.0, hi=1.0):
    data = t.data
    bad = ~((data >= lo) & (data <= hi))           # NaN counts as outside
    if bad.any():
        raise ValueError(f"{name}: {what} must lie in [{lo}, {hi}], got "
                         f"{_offending(data, bad)}")


def _check_labels(t, name, allowed=(-1.0, 1.0), what="target"):
    bad = ~np.isin(t.data, allowed)
    if bad.any():
        labels = "{" + ", ".join(f"{a:g}" for a in allowed) + "}"
        raise ValueError(f"{name}: {what} labels must be in {labels}, got "
                         f"{_offending(t.data, bad)}")


def _class_targets(target, expected_shape, n_classes, name, ignore_index=None):
    """Integer class indices: (indices with ignored ones set to 0, valid mask). The mask
    is None when every target counts (the common case, which then needs no mask; a
    byte-swapped signed dtype gets an all-True one)."""
    if ignore_index is not None and not isinstance(ignore_index, (int, float, np.number)):
        raise TypeError(f"{name}: ignore_index must be an integer, got {ignore_index!r}")
    idx = np.asarray(target.data if isinstance(target, Tensor) else target)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers, got dtype "
                        f"{idx.dtype} (shape {idx.shape})")
    if idx.shape != tuple(expected_shape):
        raise ValueError(f"{name}: target shape {idx.shape} does not match the expected "
                         f"shape {tuple(expected_shape)} (the input's shape without the "
                         f"class axis)")
    # One pass for both bounds: seen as unsigned (a view of the same bytes), a negative
    # index is larger than any class count. (A byte-swapped dtype takes the path below.)
    unsigned = _UNSIGNED.get(idx.dtype) if idx.dtype.kind == "i" else idx.dtype
    if idx.size and unsigned is not None:
        hi = int(_max_reduce(idx.view(unsigned), axis=None))      # all in [0, hi] if < C
        if hi < n_classes and (ignore_index is None or not 0 <= ignore_index <= hi
                               or (idx != ignore_index).all()):
            # The common case, in fewer passes. A copy, as np.where makes below: the
            # graph keeps the indices, and the caller may refill its target array
            # before backward.
            return idx.copy(), None
    valid = np.ones(idx.shape, bool) if ignore_index is None else idx != ignore_index
    bad = valid & ((idx < 0) | (idx >= n_classes))
    if bad.any():
        ignored = "" if ignore_index is None else f" or ignore_index={ignore_index}"
        raise ValueError(f"{name}: class indices must be in [0, {n_classes - 1}]{ignored}, "
                         f"got {_offending(idx, bad)}")
    return np.where(valid, idx, 0), valid


def _class_weight(weight, n_classes, like, name, what="weight"):
    if weight is None:
        return None
    w = _float_target(weight, like, name, what, shape=np.shape(weight))
    if w.shape != (n_classes,):
        raise ValueError(f"{name}: {what} must have shape ({n_classes},), one entry per "
                         f"class, got {w.shape}")
    return w


def _broadcast_weight(weight, like, name, what="weight"):
    """A per-element weight that broadcasts to ``like``'s shape (and not beyond it)."""
    if weight is None:
        return None
    w = _float_target(weight, like, name, what, shape=np.shape(weight))
    try:
        shape = np.broadcast_shapes(w.shape, like.shape)
    except ValueError:
        shape = None
    if shape != like.shape:
        raise ValueError(f"{name}: {what} of shape {w.shape} does not broadcast to the "
                         f"input shape {like.shape}")
    return w


def _pick(x, idx, axis):
    """x's entries at class ``idx`` along ``axis``; shape = idx.shape."""
    moved = ag.moveaxis(x, axis, -1) if axis != x.ndim - 1 else x
    # (N, C) needs no reshape either way: two ops fewer, forward and backward.
    flat = moved if moved.ndim == 2 else ag.reshape(moved, (-1, moved.shape[-1]))
    picked = flat[np.arange(flat.shape[0]), idx.reshape(-1)]
    return picked if picked.shape == idx.shape else ag.reshape(picked, idx.shape)


def _class_axis(x, name):
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class axis: shape (C,), (N, C) or "
                         f"(N, C, d1, ...), got a 0-d tensor")
    axis = 0 if x.ndim == 1 else 1
    _check_classes(x, axis, name)
    return axis


def _check_classes(x, axis, name):
    if x.shape[axis] == 0:
        raise ValueError(f"{name}: input of shape {x.shape} has no classes (its class axis "
                         f"{axis} is empty)")


def _without(shape, axis):
    return shape[:axis] + shape[axis + 1:]


def _clamped_log(q):
    """log(q) clamped below at −100 as PyTorch's BCE; q = 0 gives −100, not −inf.

    Where clamped the gradient is 0 (the clamp is flat there); the log never sees 0.
    """
    with np.errstate(divide="ignore"):
        keep = np.log(q.data) > -100.0
    return ag.where(keep, ag.log(ag.where(keep, q, 1.0)), -100.0)


def _focal_factor(base, gamma, name):
    """base^γ with base = 1 − p_t ≥ 0, differentiable at base = 0 for every γ ≥ 0."""
    if gamma < 0:
        raise ValueError(f"{name}: gamma must be >= 0, got {gamma}")
    if gamma == 0:
        return 1.0
    if gamma >= 1:
        return base ** gamma                    # γ·base^(γ−1) is finite at 0
    # 0 < γ < 1: the derivative is infinite at base = 0 and would meet a zero there
    # (0·inf = NaN); the whole loss term vanishes at p_t = 1, so take 0.
    pos = base.data > 0
    return ag.where(pos, ag.where(pos, base, 1.0) ** gamma, 0.0)


def _elementwise(input, target, name):
    input = _input(input, name)
    return input, _float_target(target, input, name)


# ---------------------------------------------------------------- regression
def mse_loss(input, target, reduction="mean"):
    """(ŷ − y)² per element; "mean" is (1/N)Σ(ŷ − y)², gradient 2(ŷ − y)/N."""
    _check_reduction(reduction, "mse_loss")
    input, target = _elementwise(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction, "mse_loss", input.shape)


def l1_loss(input, target, reduction="mean"):
    """|ŷ − y| per element; gradient sign(ŷ − y) (0 where ŷ = y, as PyTorch)."""
    _check_reduction(reduction, "l1_loss")
    input, target = _elementwise(input, target, "l1_loss")
    return _reduce(ag.abs(input - target), reduction, "l1_loss", input.shape)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """e = ŷ − y: ½e² where |e| < δ, else δ(|e| − ½δ); gradient clip(e, −δ, δ)."""
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    input, target = _elementwise(input, target, "huber_loss")
    e = input - target
    a = ag.abs(e)
    return _reduce(ag.where(a.data < delta, 0.5 * e * e, delta * (a - 0.5 * delta)),
                   reduction, "huber_loss", input.shape)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """e = ŷ − y: ½e²/β where |e| < β, else |e| − ½β (= huber_loss(δ=β)/β); β = 0 is L1."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    input, target = _elementwise(input, target, "smooth_l1_loss")
    e = input - target
    a = ag.abs(e)
    if beta == 0:
        return _reduce(a, reduction, "smooth_l1_loss", input.shape)
    return _reduce(ag.where(a.data < beta, (0.5 / beta) * e * e, a - 0.5 * beta), reduction,
                   "smooth_l1_loss", input.shape)


def log_cosh_loss(input, target, reduction="mean"):
    """log cosh(ŷ − y), computed as |d| + log(1 + e^(−2|d|)) − log 2; gradient tanh(d).

    |d| is written as where(d > 0, d, −d) so the second derivative at d = 0 is
    1 − tanh²(0) = 1 (abs has a zero second derivative and sign'(0) = 0 there).
    """
    _check_reduction(reduction, "log_cosh_loss")
    input, target = _elementwise(input, target, "log_cosh_loss")
    d = input - target
    a = ag.where(d.data > 0, d, -d)
    return _reduce(a + ag.log1p(ag.exp(-2.0 * a)) - _LOG2, reduction, "log_cosh_loss",
                   input.shape)


# ---------------------------------------------------------------- binary classification
def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """−w·[y log p + (1 − y) log(1 − p)] on probabilities p, each log clamped at −100.

    Gradient −w·[y/p − (1 − y)/(1 − p)] = w(p − y)/(p(1 − p)). (PyTorch's own backward
    instead divides by max(p(1 − p), 1e-12), which differs only where p(1 − p) < 1e-12 or
    a log is clamped; there ours is the derivative of the clamped function.)
    """
    name = "binary_cross_entropy"
    _check_reduction(reduction, name)
    input = _input(input, name)
    target = _float_target(target, input, name)
    _check_range(input, name, "input probabilities")
    _check_range(target, name, "target probabilities")
    w = _broadcast_weight(weight, input, name)
    loss = -(target * _clamped_log(input) + (1.0 - target) * _clamped_log(1.0 - input))
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction, name, input.shape)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """−w·[p_w·y log σ(x) + (1 − y) log(1 − σ(x))] on logits x, computed stably as
    (1 − y)·x + (1 + (p_w − 1)y)·softplus(−x). Gradient w(σ(x) − y) when p_w = 1.

    ``pos_weight`` (p_w) broadcasts against the input (one entry per class on the last
    axis, as PyTorch); ``weight`` too.
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, name)
    input = _input(input, name)
    target = _float_target(target, input, name)
    _check_range(target, name, "target probabilities")
    w = _broadcast_weight(weight, input, name)
    pw = _broadcast_weight(pos_weight, input, name, "pos_weight")
    log_weight = 1.0 if pw is None else 1.0 + (pw - 1.0) * target
    loss = (1.0 - target) * input + log_weight * _stable_softplus(-input)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction, name, input.shape)


def sigmoid_focal_loss(input, target, alpha=0.25, gamma=2.0, reduction="mean"):
    """Focal loss on logits (Lin et al.; torchvision's formula): −α_t(1 − p_t)^γ log p_t
    with p = σ(x), p_t = p if y = 1 else 1 − p, α_t = α if y = 1 else 1 − α.

    Computed as α_t·(1 − p_t)^γ·BCE-with-logits(x, y), with 1 − p_t = y·σ(−x) + (1 − y)·σ(x)
    (exact, where 1 − σ(x) would round to 0). ``alpha < 0`` drops the α_t factor.
    """
    name = "sigmoid_focal_loss"
    _check_reduction(reduction, name)
    input = _input(input, name)
    target = _float_target(target, input, name)
    _check_range(target, name, "target probabilities")
    ce = (1.0 - target) * input + _stable_softplus(-input)
    one_minus_pt = target * ag.sigmoid(-input) + (1.0 - target) * ag.sigmoid(input)
    loss = ce * _focal_factor(one_minus_pt, gamma, name)
    if alpha >= 0:
        loss = (alpha * target + (1.0 - alpha) * (1.0 - target)) * loss
    return _reduce(loss, reduction, name, input.shape)


def exponential_loss(input, target, reduction="mean"):
    """exp(−y·f) with labels y ∈ {−1, 1} (AdaBoost's loss); gradient −y·exp(−y·f)."""
    _check_reduction(reduction, "exponential_loss")
    input, target = _elementwise(input, target, "exponential_loss")
    _check_labels(target, "exponential_loss")
    return _reduce(ag.exp(-(target * input)), reduction, "exponential_loss", input.shape)


def hinge_loss(input, target, reduction="mean"):
    """max(0, 1 − y·f) with labels y ∈ {−1, 1}; sub-gradient −y where y·f < 1, 0 where
    y·f ≥ 1 (0 at the kink y·f = 1)."""
    _check_reduction(reduction, "hinge_loss")
    input, target = _elementwise(input, target, "hinge_loss")
    _check_labels(target, "hinge_loss")
    return _reduce(ag.relu(1.0 - target * input), reduction, "hinge_loss", input.shape)


# ---------------------------------------------------------------- multi-class
def _nll_terms(logp, idx, valid, w, cdim):
    """Per-element −w[y]·logp[y] (0 where ignored) and the weights w[y] (0 where ignored)."""
    picked = _pick(logp, idx, cdim)
    if valid is None:       # every target counts
        if w is None:
            return -picked, None
        wt = w[idx]
        return -(wt * picked), wt
    if w is None:
        wt = valid.astype(logp.dtype)
        per = -picked if valid.all() else ag.where(valid, -picked, 0.0)
    else:
        wt = ag.where(valid, w[idx], 0.0)
        per = ag.where(valid, -(wt * picked), 0.0)
    return per, wt


def _mean_nll(logp, idx, valid, w, cdim, name, ignore_index, shape):
    """The "mean" of −w[y]·logp[y] over the targets that count (nll_loss, cross_entropy)."""
    if valid is None and w is None:
        # Every target counts, each with weight 1: the mean over the samples. Σ(−p)/n is
        # computed as Σp/(−n), which rounds the same (negation is exact): one op fewer,
        # forward and backward.
        picked = _pick(logp, idx, cdim)
        return ag.sum(picked) / -float(picked.size)
    per, wt = _nll_terms(logp, idx, valid, w, cdim)
    return _mean_over_weights(per, wt, valid, name, ignore_index, shape)


def _mean_over_weights(per, wt, valid, name, ignore_index, shape):
    if valid is None:       # every target counts (_class_targets): none is empty
        return ag.sum(per) / (per.size if wt is None else ag.sum(wt))
    if valid.size == 0:
        raise _empty_mean(name, shape)
    if not valid.any():
        raise ValueError(f"{name}: every target equals ignore_index={ignore_index}; the "
                         "weighted mean over zero targets is undefined (PyTorch returns "
                         "NaN); use reduction='sum' or 'none' for such batches")
    denom = float(wt.sum()) if isinstance(wt, np.ndarray) else ag.sum(wt)
    return ag.sum(per) / denom


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices given log-probabilities:
    −w[y]·input[y] per sample; "mean" divides by Σ w[y] over the non-ignored targets.

    input (C,), (N, C) or (N, C, d1, ...); target (), (N,) or (N, d1, ...) integers in
    [0, C) or ``ignore_index``. Pair with log_softmax (not log of softmax).
    """
    name = "nll_loss"
    _check_reduction(reduction, name)
    input = _input(input, name)
    cdim = _class_axis(input, name)
    n_classes = input.shape[cdim]
    w = _class_weight(weight, n_classes, input, name)
    idx, valid = _class_targets(target, _without(input.shape, cdim), n_classes, name,
                                ignore_index)
    if reduction == "mean":
        return _mean_nll(input, idx, valid, w, cdim, name, ignore_index, input.shape)
    per, _ = _nll_terms(input, idx, valid, w, cdim)
    return _reduce(per, reduction, name, input.shape)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy of logits, through log_softmax (log-sum-exp), exactly as PyTorch.

    Class-index target (sparse categorical CE), integers of shape (), (N,) or (N, d1, ...):
        per sample ℓ = (1 − ε)·(−w[y] log p_y) + (ε/C)·(−Σ_c w_c log p_c), p = softmax(z),
        0 where y = ignore_index; "mean" is Σℓ / Σ w[y] over the non-ignored samples.
    Probability target (categorical CE), floats of the input's shape:
        per sample ℓ = −Σ_c w_c q_c log p_c with q = (1 − ε)·y + ε/C; "mean" is the plain
        mean over samples (weights do not normalise, as PyTorch).
    Gradient of the unweighted loss per sample: softmax(z) − q.
    """
    name = "cross_entropy"
    _check_reduction(reduction, name)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    input = _input(input, name)
    cdim = _class_axis(input, name)
    n_classes = input.shape[cdim]
    w = _class_weight(weight, n_classes, input, name)
    w_b = None if w is None else ag.reshape(w, (n_classes,) + (1,) * (input.ndim - cdim - 1))
    logp = log_softmax(input, axis=cdim)

    tdtype = target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    if tdtype.kind == "f":
        if ignore_index >= 0:
            raise ValueError(f"{name}: ignore_index={ignore_index} is not supported with "
                             "probability (floating-point) targets")
        q = _float_target(target, input, name, "probability target")
        _check_range(q, name, "probability targets")
        if label_smoothing > 0:
            q = q * (1.0 - label_smoothing) + label_smoothing / n_classes
        terms = logp * q if w_b is None else logp * q * w_b
        return _reduce(-ag.sum(terms, axis=cdim), reduction, name, input.shape)

    idx, valid = _class_targets(target, _without(input.shape, cdim), n_classes, name,
                                ignore_index)
    if label_smoothing == 0 and reduction == "mean":
        return _mean_nll(logp, idx, valid, w, cdim, name, ignore_index, input.shape)
    per, wt = _nll_terms(logp, idx, valid, w, cdim)
    if label_smoothing > 0:
        lw = logp if w_b is None else logp * w_b
        smooth = -ag.sum(lw, axis=cdim)
        if valid is not None:
            smooth = ag.where(valid, smooth, 0.0)
        per = (1.0 - label_smoothing) * per + (label_smoothing / n_classes) * smooth
    if reduction == "mean":
        return _mean_over_weights(per, wt, valid, name, ignore_index, input.shape)
    return _reduce(per, reduction, name, input.shape)


def softmax_focal_loss(input, target, alpha=None, gamma=2.0, reduction="mean"):
    """Multi-class focal loss on logits: −α_y(1 − p_y)^γ log p_y, p = softmax(z).

    Integer targets as cross_entropy's (no ignore_index); ``alpha`` is None, a number,
    or one weight per class. "mean" is the plain mean over samples. γ = 0 with
    alpha None is cross_entropy. 1 − p_y is computed as −expm1(log p_y).
    """
    name = "softmax_focal_loss"
    _check_reduction(reduction, name)
    input = _input(input, name)
    cdim = _class_axis(input, name)
    n_classes = input.shape[cdim]
    idx, _ = _class_targets(target, _without(input.shape, cdim), n_classes, name)
    logp_t = _pick(log_softmax(input, axis=cdim), idx, cdim)
    loss = -(_focal_factor(-ag.expm1(logp_t), gamma, name) * logp_t)
    if alpha is not None:
        if np.ndim(alpha) == 0:
            loss = _float_target(alpha, input, name, "alpha", shape=()) * loss
        else:
            loss = _class_weight(alpha, n_classes, input, name, "alpha")[idx] * loss
    return _reduce(loss, reduction, name, input.shape)


def _batched_scores(input, target, name):
    """(N, C) scores and (N,) class indices, from (N, C)/(N,) or unbatched (C,)/()."""
    input = _input(input, name)
    if input.ndim not in (1, 2):
        raise ValueError(f"{name}: input must be (N, C) or (C,), got shape {input.shape}")
    _check_classes(input, input.ndim - 1, name)
    n_classes = input.shape[-1]
    idx, _ = _class_targets(target, input.shape[:-1], n_classes, name)
    x = input if input.ndim == 2 else ag.reshape(input, (1, n_classes))
    return input, x, idx.reshape(-1), n_classes


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """Multi-class margin loss as PyTorch: per sample
    (1/C)·Σ_(j≠y) w[y]·max(0, margin − x_y + x_j)^p, p ∈ {1, 2}; sub-gradient 0 at the kink.
    """
    name = "multi_margin_loss"
    _check_reduction(reduction, name)
    if p not in (1, 2):
        raise ValueError(f"{name}: only p = 1 and p = 2 are supported, got {p}")
    input, x, idx, n_classes = _batched_scores(input, target, name)
    w = _class_weight(weight, n_classes, input, name)
    x_y = ag.reshape(_pick(x, idx, 1), (-1, 1))
    h = ag.relu(margin - x_y + x)
    if p == 2:
        h = h * h
    h = ag.where(np.arange(n_classes) == idx[:, None], 0.0, h)
    if w is not None:
        h = h * ag.reshape(w[idx], (-1, 1))
    per = ag.sum(h, axis=1) / n_classes
    return _reduce(per if input.ndim == 2 else ag.reshape(per, ()), reduction, name,
                   input.shape)


def categorical_hinge_loss(input, target, reduction="mean"):
    """Crammer–Singer multi-class hinge: max(0, 1 + max_(j≠y) s_j − s_y) per sample.

    Sub-gradient: +1 on the best wrong class (shared equally between ties), −1 on the
    true class where the margin is violated; 0 at the kink.
    """
    name = "categorical_hinge_loss"
    _check_reduction(reduction, name)
    input, x, idx, n_classes = _batched_scores(input, target, name)
    if n_classes < 2:
        raise ValueError(f"{name}: needs at least 2 classes, got input shape {input.shape}")
    s_y = _pick(x, idx, 1)
    others = ag.where(np.arange(n_classes) == idx[:, None], -np.inf, x)
    per = ag.relu(1.0 + ag.max(others, axis=1) - s_y)
    return _reduce(per if input.ndim == 2 else ag.reshape(per, ()), reduction, name,
                   input.shape)


# ---------------------------------------------------------------- segmentation
def _overlap_sums(input, target, name):
    input = _input(input, name)
    target = _float_target(target, input, name)
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a batch axis, got a 0-d tensor")
    _check_range(input, name, "input probabilities")
    _check_range(target, name, "target values")
    axes = tuple(range(1, input.ndim))
    return (ag.sum(input * target, axis=axes), ag.sum(input, axis=axes),
            ag.sum(target, axis=axes))


def dice_loss(input, target, smooth=1.0, reduction="mean"):
    """Soft Dice per sample over the non-batch axes: 1 − (2Σpt + s)/(Σp + Σt + s).

    ``reduction="none"`` gives shape (N,).
    """
    _check_reduction(reduction, "dice_loss")
    inter, sp, st = _overlap_sums(input, target, "dice_loss")
    return _reduce(1.0 - (2.0 * inter + smooth) / (sp + st + smooth), reduction, "dice_loss",
                   np.shape(input))


def iou_loss(input, target, smooth=1.0, reduction="mean"):
    """Soft IoU (Jaccard) per sample over the non-batch axes:
    1 − (Σpt + s)/(Σp + Σt − Σpt + s); ``reduction="none"`` gives shape (N,)."""
    _check_reduction(reduction, "iou_loss")
    inter, sp, st = _overlap_sums(input, target, "iou_loss")
    return _reduce(1.0 - (inter + smooth) / (sp + st - inter + smooth), reduction, "iou_loss",
                   np.shape(input))


# ---------------------------------------------------------------- distributions
def kl_div(input, target, reduction="mean", log_target=False):
    """KL divergence with PyTorch's convention: ``input`` is log Q, ``target`` is P
    (or log P with ``log_target``); per element P·(log P − log Q), 0 where P = 0.

    D_KL(P‖Q) per sample is ``reduction="batchmean"`` (sum / N); "mean" divides by
    the number of elements. Gradient with respect to the input: −P.
    """
    name = "kl_div"
    _check_reduction(reduction, name, _REDUCTIONS + ("batchmean",))
    input, target = _elementwise(input, target, name)
    if log_target:
        bad = target.data == np.inf
        if bad.any():
            raise ValueError(f"{name}: log-probability targets must be < inf, got "
                             f"{_offending(target.data, bad)}")
        # log P = −inf is P = 0: its term is 0 (0·(−inf − input) would be NaN)
        live = np.isfinite(target.data)
        t = ag.where(live, target, 0.0)
        loss = ag.where(live, ag.exp(t) * (t - input), 0.0)
    else:
        bad = ~(target.data >= 0) | (target.data == np.inf)   # inf·log inf − inf·x is NaN
        if bad.any():
            raise ValueError(f"{name}: probability targets must be finite and >= 0, got "
                             f"{_offending(target.data, bad)}")
        pos = target.data > 0
        loss = ag.where(pos, target * ag.log(ag.where(pos, target, 1.0)), 0.0) - target * input
    if reduction == "batchmean":
        if input.ndim and input.shape[0] == 0:
            raise ValueError(f"{name}: reduction='batchmean' of an empty batch (input shape "
                             f"{input.shape}) is undefined; use 'sum' or 'none'")
        return ag.sum(loss) / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction, name, input.shape)


# ---------------------------------------------------------------- embeddings
def _pairwise_distance(a, b, p, eps):
    d = a - b + eps
    if p == 2:
        return ag.sqrt(ag.sum(d * d, axis=-1))
    if p == 1:
        return ag.sum(ag.abs(d), axis=-1)
    if p == np.inf:
        return ag.max(ag.abs(d), axis=-1)
    return ag.sum(ag.abs(d) ** p, axis=-1) ** (1.0 / p)


def _embeddings(tensors, names, name):
    ts = [_input(t, name, n) for t, n in zip(tensors, names)]
    for t, n in zip(ts[1:], names[1:]):
        if t.shape != ts[0].shape:
            raise ValueError(f"{name}: {n} shape {t.shape} does not match {names[0]} shape "
                             f"{ts[0].shape}")
    if ts[0].ndim not in (1, 2):
        raise ValueError(f"{name}: inputs must be (N, D) or (D,), got shape {ts[0].shape}")
    return ts


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        reduction="mean"):
    """max(d(a, p) − d(a, n) + margin, 0) with d(x, y) = ‖x − y + eps‖_p (as PyTorch).

    ``swap`` uses min(d(a, n), d(p, n)) as the negative distance. Like PyTorch's
    clamp_min, the gradient is passed at the kink (loss exactly 0).
    """
    name = "triplet_margin_loss"
    _check_reduction(reduction, name)
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    if not p > 0:
        raise ValueError(f"{name}: p must be > 0, got {p}")
    a, pos, neg = _embeddings((anchor, positive, negative),
                              ("anchor", "positive", "negative"), name)
    d_pos = _pairwise_distance(a, pos, p, eps)
    d_neg = _pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = ag.minimum(d_neg, _pairwise_distance(pos, neg, p, eps))
    return _reduce(ag.clip(margin + d_pos - d_neg, 0.0, None), reduction, name, a.shape)


def contrastive_loss(x1, x2, y, margin=1.0, reduction="mean"):
    """Pairwise contrastive loss (Hadsell et al.): d = ‖x1 − x2‖₂ per row,
    y·d² + (1 − y)·max(0, margin − d)², y = 1 for similar pairs, 0 for dissimilar.

    At d = 0 the norm has no gradient; the sub-gradient 0 is used there.
    """
    name = "contrastive_loss"
    _check_reduction(reduction, name)
    x1, x2 = _embeddings((x1, x2), ("x1", "x2"), name)
    y = _float_target(y, x1, name, "y", shape=x1.shape[:-1])
    _check_labels(y, name, (0.0, 1.0), "y")
    diff = x1 - x2
    sq = ag.sum(diff * diff, axis=-1)
    nz = sq.data > 0
    d = ag.where(nz, ag.sqrt(ag.where(nz, sq, 1.0)), 0.0)
    gap = ag.relu(margin - d)
    return _reduce(y * sq + (1.0 - y) * gap * gap, reduction, name, x1.shape)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1, with
    cos = x1·x2 / √((‖x1‖² + 1e-12)(‖x2‖² + 1e-12)) as PyTorch (gradient passed at the
    kink, like its clamp_min)."""
    name = "cosine_embedding_loss"
    _check_reduction(reduction, name)
    x1, x2 = _embeddings((input1, input2), ("input1", "input2"), name)
    y = _float_target(target, x1, name, shape=x1.shape[:-1])
    _check_labels(y, name)
    dot = ag.sum(x1 * x2, axis=-1)
    m1 = ag.sum(x1 * x1, axis=-1) + _COSINE_EPS
    m2 = ag.sum(x2 * x2, axis=-1) + _COSINE_EPS
    cos = dot / ag.sqrt(m1 * m2)
    loss = ag.where(y.data == 1, 1.0 - cos, ag.clip(cos - margin, 0.0, None))
    return _reduce(loss, reduction, name, x1.shape)


# ---------------------------------------------------------------- images
def total_variation_loss(img, reduction="mean"):
    """Anisotropic total variation of (N, C, H, W) images, per sample:
    Σ|x[i+1, j] − x[i, j]| + Σ|x[i, j+1] − x[i, j]| over channels and pixels;
    ``reduction="none"`` gives (N,). Sub-gradient 0 where neighbours are equal."""
    name = "total_variation_loss"
    _check_reduction(reduction, name)
    img = _input(img, name, "img")
    if img.ndim != 4:
        raise ValueError(f"{name}: img must be (N, C, H, W), got shape {img.shape}")
    dh = img[:, :, 1:, :] - img[:, :, :-1, :]
    dw = img[:, :, :, 1:] - img[:, :, :, :-1]
    per = ag.sum(ag.abs(dh), axis=(1, 2, 3)) + ag.sum(ag.abs(dw), axis=(1, 2, 3))
    return _reduce(per, reduction, name, img.shape)
