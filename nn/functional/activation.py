"""Activation functions, composed from autograd ops (no derivative code here).

Every function takes and returns Tensors; its gradient, and the gradient of that
gradient, come from the engine. Where a formula can overflow, both branches of each
``ag.where`` are kept finite: ``where`` evaluates both and only then picks one, and an
inf or NaN in the unused branch would still poison the backward pass (0 * inf).

Sub-gradients at kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = prelu'(0) =
negative slope, elu'(0) = alpha, selu'(0) = scale * alpha.
"""
import math

import numpy as np

import autograd as ag
from autograd.tensor import Tensor

__all__ = ["binary_step", "identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu",
           "elu", "selu", "softplus", "gelu", "silu", "swish", "softmax", "log_softmax"]

# Klambauer et al. (2017), as torch.nn.SELU: the values that make mean 0 / variance 1
# a fixed point (001 §7 rounds alpha to 1.673 and misprints it as 1.676).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO_OVER_PI = math.sqrt(2.0 / math.pi)
# (bound once: see _shift)
_all, _isfinite, _max = np.logical_and.reduce, np.isfinite, np.maximum.reduce


def _t(x):
    return x if isinstance(x, Tensor) else ag.tensor(x)


def _nonpositive_part(x):
    """min(x, 0) with derivative 1 at x = 0 (minimum would split a tie in half)."""
    return ag.where(x > 0, 0.0, x)


def _stable_softplus(z):
    """log(1 + e^z) = max(z, 0) + log(1 + e^(-|z|)); exp never sees a positive argument.

    The pieces are written with ``where`` instead of relu/abs so the derivative at
    z = 0 is sigmoid(0) = 1/2 and the second derivative is sigmoid'(z) everywhere.
    """
    pos = z > 0
    return ag.where(pos, z, 0.0) + ag.log1p(ag.exp(ag.where(pos, -z, z)))


def binary_step(x, threshold=0.0):
    """Heaviside step: 1.0 where x > threshold else 0.0; gradient 0 everywhere.

    Written as sign(relu(x - threshold)) so the result stays in the graph (a network
    using it still backpropagates, with zeros) and keeps x's float dtype.
    """
    return ag.sign(ag.relu(_t(x) - threshold))


def identity(x):
    """f(x) = x (the "linear" activation); returns its input itself."""
    return x


def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)); σ' = σ(1 − σ). Stable at any |x| (the primitive)."""
    return ag.sigmoid(x)


def tanh(x):
    """tanh(x) = (e^x − e^(−x)) / (e^x + e^(−x)); tanh' = 1 − tanh²."""
    return ag.tanh(x)


def relu(x):
    """max(0, x); derivative 1 for x > 0, 0 for x ≤ 0 (0 at the kink, as PyTorch)."""
    return ag.relu(x)


def leaky_relu(x, negative_slope=0.01):
    """x if x > 0 else negative_slope·x; derivative 1 or negative_slope (slope at 0).

    Written with ``where``, not max(x, αx), which is only right for 0 ≤ α ≤ 1.
    """
    x = _t(x)
    return ag.where(x > 0, x, x * negative_slope)


def prelu(x, weight):
    """x if x > 0 else a·x with learnable a = ``weight``.

    ``weight`` has 1 or C elements; with C it is broadcast along axis 1 (the channel
    axis of (N, C, ...) inputs), as torch.nn.functional.prelu. ∂/∂x = 1 or a
    (a at x = 0), ∂/∂a = x where x ≤ 0.
    """
    x, weight = _t(x), _t(weight)
    n = weight.size
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-d or 1-d, got shape {weight.shape}")
    if n == 1:
        a = ag.reshape(weight, ())
    else:
        channels = x.shape[1] if x.ndim > 1 else 1
        if x.ndim == 0 or channels != n:
            raise ValueError(f"prelu: weight has {n} elements but the input (shape "
                             f"{x.shape}) has {channels} channels on axis 1")
        a = ag.reshape(weight, (n,) + (1,) * (x.ndim - 2))
    return ag.where(x > 0, x, a * x)


def elu(x, alpha=1.0):
    """x if x > 0 else α(e^x − 1); derivative 1 or α·e^x (α at x = 0, as PyTorch)."""
    x = _t(x)
    return ag.where(x > 0, x, alpha * ag.expm1(_nonpositive_part(x)))


def selu(x):
    """λ·elu(x, α) with PyTorch's α = 1.6732632423543772, λ = 1.0507009873554805."""
    return SELU_SCALE * elu(x, SELU_ALPHA)


def softplus(x, beta=1.0, threshold=20.0):
    """(1/β)·log(1 + e^(βx)), and x itself where βx > threshold (as PyTorch).

    Derivative σ(βx) (1 above the threshold). Computed in the stable form
    max(βx, 0) + log(1 + e^(−|βx|)), so it is finite for any x and any threshold.
    """
    x = _t(x)
    bx = x * beta
    return ag.where(bx > threshold, x, _stable_softplus(bx) / beta)


def gelu(x, approximate="none"):
    """GELU(x) = x·Φ(x) = ½x(1 + erf(x/√2)); derivative Φ(x) + x·φ(x).

    ``approximate="tanh"``: ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as PyTorch.
    """
    x = _t(x)
    if approximate == "none":
        return 0.5 * x * (1.0 + ag.erf(x * _SQRT_HALF))
    if approximate == "tanh":
        return 0.5 * x * (1.0 + ag.tanh(_SQRT_TWO_OVER_PI * (x + 0.044715 * x * x * x)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x):
    """SiLU(x) = x·σ(x) (swish with β = 1); derivative σ(x)(1 + x(1 − σ(x)))."""
    x = _t(x)
    return x * ag.sigmoid(x)


def swish(x, beta=1.0):
    """swish(x) = x·σ(βx) = x / (1 + e^(−βx)); β may be a Tensor (a learnable Parameter).

    Derivative σ(βx) + βx·σ(βx)(1 − σ(βx)). (003 §2.9 writes x/(1 − e^(−x)): a slip.)
    """
    x = _t(x)
    return x * ag.sigmoid(x * beta)


def _shift(x, axis):
    # Subtracting the (constant) max changes nothing mathematically, so it needs no
    # gradient; it keeps exp() from overflowing. All -inf slices shift by 0 instead.
    d = x.data
    if d.size == 0:             # an empty axis has no max, and nothing to shift
        return x
    # np.maximum.reduce is what ndarray.max calls, without its Python helper; a
    # subclass (a masked array) keeps its own max.
    m = _max(d, axis=axis, keepdims=True) if d.__class__ is np.ndarray else \
        d.max(axis=axis, keepdims=True)
    if not _all(_isfinite(m), axis=None):     # (m.all() goes through a Python helper)
        m = np.where(np.isfinite(m), m, 0.0).astype(x.dtype)
    return x - m


def softmax(x, axis=-1):
    """s_i = e^(z_i) / Σ_j e^(z_j) along ``axis``, computed with z − max z.

    Jacobian ∂s_i/∂z_j = s_i(δ_ij − s_j).
    """
    x = _t(x)
    e = ag.exp(_shift(x, axis))
    return e / ag.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    """log s_i = z_i − logsumexp(z) along ``axis``; derivative δ_ij − s_j.

    Computed as (z − m) − log Σ_j e^(z_j − m), m = max z: adding m back into the
    log-sum-exp first would round away the small log term next to a large m.
    """
    shifted = _shift(_t(x), axis)
    return shifted - ag.log(ag.sum(ag.exp(shifted), axis=axis, keepdims=True))
