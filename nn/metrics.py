"""Classification metrics (no gradient; Python floats).

``scores`` follow the losses' conventions:
- (N, C) or (N, C, d1, ...) class scores (logits or probabilities): the prediction is
  the argmax over axis 1, as for ``cross_entropy``;
- (N,) or (N, 1) scores of a binary classifier, read as probabilities of class 1
  (as for ``binary_cross_entropy``): the prediction is 1 where the score is > 0.5.
  Logits must go through ``sigmoid`` first (a logit of 0.3 is a probability of 0.57).

``target`` holds integer classes of the prediction's shape (floats such as 0.0/1.0 are
accepted when they are whole numbers), or, for (N, C, ...) scores, one-hot or
probability targets of the scores' shape (their argmax is the class).
"""
import numpy as np

from autograd.tensor import Tensor

__all__ = ["accuracy", "zero_one_loss"]


def _array(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _predictions(fn, scores, target):
    s, t = _array(scores), _array(target)
    if s.dtype.kind not in "biuf" or t.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: scores and target must be numeric, got dtypes {s.dtype} "
                        f"and {t.dtype}")
    if s.ndim == 0 or s.shape[0] == 0:
        raise ValueError(f"{fn}: expected scores with at least one sample, got shape "
                         f"{s.shape}")
    if s.ndim == 1 or (s.ndim == 2 and s.shape[1] == 1):
        pred = (s.reshape(-1) > 0.5).astype(np.int64)
        if t.shape not in ((s.shape[0],), (s.shape[0], 1)):
            raise ValueError(f"{fn}: binary scores of shape {s.shape} need a target of "
                             f"shape ({s.shape[0]},), got {t.shape}")
        t = t.reshape(-1)
    else:
        pred = s.argmax(axis=1)
        if t.shape == s.shape:
            t = t.argmax(axis=1)
        elif t.shape != pred.shape:
            raise ValueError(f"{fn}: scores of shape {s.shape} need class targets of "
                             f"shape {pred.shape} (or one-hot targets of shape {s.shape}), "
                             f"got {t.shape}")
        else:
            # A class no score exists for would silently count as a miss.
            n_classes = s.shape[1]
            bad = (t < 0) | (t >= n_classes)
            if bad.any():
                shown = ", ".join(repr(v.item()) for v in np.unique(t[bad])[:6])
                raise ValueError(f"{fn}: class targets must be in [0, {n_classes - 1}] for "
                                 f"scores of shape {s.shape}, got {int(bad.sum())} "
                                 f"offending value(s): {shown}")
    if t.dtype.kind == "f" and not np.array_equal(t, np.round(t)):
        raise ValueError(f"{fn}: target must hold class indices, got non-integer values "
                         f"(dtype {t.dtype})")
    return pred, t


def accuracy(scores, target):
    """Fraction of samples whose predicted class equals the target: (1/N) Σ [ŷ_i = y_i]."""
    pred, t = _predictions("accuracy", scores, target)
    return float(np.mean(pred == t))


def zero_one_loss(scores, target):
    """Fraction of misclassified samples: 1 − accuracy(scores, target)."""
    pred, t = _predictions("zero_one_loss", scores, target)
    return float(np.mean(pred != t))
