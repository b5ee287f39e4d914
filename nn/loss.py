"""Loss modules: thin Modules over nn.functional.loss (formulas there).

Constructor arguments follow PyTorch's names, order and defaults (without the
deprecated size_average/reduce). Class weights and ``pos_weight`` are buffers, as in
PyTorch, so state dicts match; a loss given None has no such entry.
"""
import numpy as np

import autograd as ag
from autograd.tensor import Tensor

from .functional import loss as F
from .module import Module

__all__ = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "LogCoshLoss", "BCELoss",
           "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "FocalLoss",
           "SoftmaxFocalLoss", "DiceLoss", "IoULoss", "KLDivLoss", "HingeLoss",
           "MultiMarginLoss", "CategoricalHingeLoss", "TripletMarginLoss", "ContrastiveLoss",
           "CosineEmbeddingLoss", "TotalVariationLoss", "PerceptualLoss", "ExponentialLoss"]


def _as_buffer(value):
    # Lists and arrays of any numeric type become the default float dtype.
    if value is None or isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value, dtype=ag.get_default_dtype()))


class _Loss(Module):
    _reductions = F._REDUCTIONS

    def __init__(self, reduction="mean"):
        super().__init__()
        F._check_reduction(reduction, type(self).__name__, self._reductions)
        self.reduction = reduction

    def _options(self):
        return ""

    def extra_repr(self):
        opts = self._options()
        return (opts + ", " if opts else "") + f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error (ŷ − y)²."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |ŷ − y|."""

    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """½e² for |e| < δ, else δ(|e| − ½δ)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)

    def _options(self):
        return f"delta={self.delta}"


class SmoothL1Loss(_Loss):
    """½e²/β for |e| < β, else |e| − ½β."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)

    def _options(self):
        return f"beta={self.beta}"


class LogCoshLoss(_Loss):
    """log cosh(ŷ − y), stable form."""

    def forward(self, input, target):
        return F.log_cosh_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities, optional per-element ``weight`` (buffer)."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _as_buffer(weight))

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (stable), ``weight`` and ``pos_weight`` buffers."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", _as_buffer(weight))
        self.register_buffer("pos_weight", _as_buffer(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits with class indices or probability targets."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(reduction)
        self.register_buffer("weight", _as_buffer(weight))
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)

    def _options(self):
        return f"ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}"


class NLLLoss(_Loss):
    """Negative log-likelihood of class indices given log-probabilities."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _as_buffer(weight))
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)

    def _options(self):
        return f"ignore_index={self.ignore_index}"


class FocalLoss(_Loss):
    """Binary focal loss on logits (torchvision's sigmoid_focal_loss)."""

    def __init__(self, alpha=0.25, gamma=2.0, reduction="mean"):
        super().__init__(reduction)
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, input, target):
        return F.sigmoid_focal_loss(input, target, self.alpha, self.gamma, self.reduction)

    def _options(self):
        return f"alpha={self.alpha}, gamma={self.gamma}"


class SoftmaxFocalLoss(_Loss):
    """Multi-class focal loss on logits; ``alpha`` None, a number or per-class weights."""

    def __init__(self, alpha=None, gamma=2.0, reduction="mean"):
        super().__init__(reduction)
        if alpha is None or (np.ndim(alpha) == 0 and not isinstance(alpha, Tensor)):
            self.alpha = alpha
        else:
            self.register_buffer("alpha", _as_buffer(alpha))
        self.gamma = gamma

    def forward(self, input, target):
        return F.softmax_focal_loss(input, target, self.alpha, self.gamma, self.reduction)

    def _options(self):
        alpha = self.alpha.tolist() if isinstance(self.alpha, Tensor) else self.alpha
        return f"alpha={alpha}, gamma={self.gamma}"


class DiceLoss(_Loss):
    """Soft Dice loss per sample, 1 − (2Σpt + s)/(Σp + Σt + s)."""

    def __init__(self, smooth=1.0, reduction="mean"):
        super().__init__(reduction)
        self.smooth = smooth

    def forward(self, input, target):
        return F.dice_loss(input, target, self.smooth, self.reduction)

    def _options(self):
        return f"smooth={self.smooth}"


class IoULoss(_Loss):
    """Soft IoU (Jaccard) loss per sample, 1 − (Σpt + s)/(Σp + Σt − Σpt + s)."""

    def __init__(self, smooth=1.0, reduction="mean"):
        super().__init__(reduction)
        self.smooth = smooth

    def forward(self, input, target):
        return F.iou_loss(input, target, self.smooth, self.reduction)

    def _options(self):
        return f"smooth={self.smooth}"


class KLDivLoss(_Loss):
    """KL divergence; input log Q, target P (or log P with ``log_target``)."""

    _reductions = F._REDUCTIONS + ("batchmean",)

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, self.reduction, self.log_target)

    def _options(self):
        return f"log_target={self.log_target}"


class HingeLoss(_Loss):
    """max(0, 1 − y·f), y ∈ {−1, 1}."""

    def forward(self, input, target):
        return F.hinge_loss(input, target, self.reduction)


class MultiMarginLoss(_Loss):
    """PyTorch's multi-class margin loss, optional class ``weight`` (buffer)."""

    def __init__(self, p=1, margin=1.0, weight=None, reduction="mean"):
        super().__init__(reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p = 1 and p = 2 are supported, got {p}")
        self.p = p
        self.margin = margin
        self.register_buffer("weight", _as_buffer(weight))

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                   self.reduction)

    def _options(self):
        return f"p={self.p}, margin={self.margin}"


class CategoricalHingeLoss(_Loss):
    """max(0, 1 + max_(j≠y) s_j − s_y) with integer targets."""

    def forward(self, input, target):
        return F.categorical_hinge_loss(input, target, self.reduction)


class TripletMarginLoss(_Loss):
    """max(d(a, p) − d(a, n) + margin, 0) with p-norm distances."""

    def __init__(self, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p,
                                     self.eps, self.swap, self.reduction)

    def _options(self):
        return f"margin={self.margin}, p={self.p}, eps={self.eps}, swap={self.swap}"


class ContrastiveLoss(_Loss):
    """y·d² + (1 − y)·max(0, margin − d)², d = ‖x1 − x2‖₂, y = 1 for similar pairs."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, x1, x2, y):
        return F.contrastive_loss(x1, x2, y, self.margin, self.reduction)

    def _options(self):
        return f"margin={self.margin}"


class CosineEmbeddingLoss(_Loss):
    """1 − cos for y = 1, max(0, cos − margin) for y = −1."""

    def __init__(self, margin=0.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)

    def _options(self):
        return f"margin={self.margin}"


class TotalVariationLoss(_Loss):
    """Anisotropic total variation of (N, C, H, W) images, per sample."""

    def forward(self, img):
        return F.total_variation_loss(img, self.reduction)


class ExponentialLoss(_Loss):
    """exp(−y·f), y ∈ {−1, 1}."""

    def forward(self, input, target):
        return F.exponential_loss(input, target, self.reduction)


class PerceptualLoss(_Loss):
    """MSE between ``feature_extractor(input)`` and ``feature_extractor(target)``.

    The extractor is frozen: its parameters stop requiring grad and it is put in
    eval mode, and stays there when the loss (or a model holding it) is switched
    to train mode. Gradients still flow through it to ``input``.
    """

    def __init__(self, feature_extractor, reduction="mean"):
        super().__init__(reduction)
        if not isinstance(feature_extractor, Module):
            raise TypeError(f"PerceptualLoss: feature_extractor must be an nn.Module, got "
                            f"{type(feature_extractor).__name__}")
        for p in feature_extractor.parameters():
            p.requires_grad_(False)
        self.feature_extractor = feature_extractor.eval()

    def train(self, mode=True):
        super().train(mode)
        self.feature_extractor.eval()
        return self

    def forward(self, input, target):
        # A parent's train() sets every descendant's flag directly, bypassing train()
        # above, so the frozen extractor is put back in eval mode here.
        if self.feature_extractor.training:
            self.feature_extractor.eval()
        return F.mse_loss(self.feature_extractor(input), self.feature_extractor(target),
                          self.reduction)
