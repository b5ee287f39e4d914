"""Training helpers: gradient clipping (PyTorch's ``clip_grad_norm_`` and
``clip_grad_value_``) and a mini-batch iterator over arrays or Tensors."""
import math
import numbers

import numpy as np

import autograd as ag
from autograd.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "batches"]


def _grads(fn, parameters):
    """The gradient Tensors of ``parameters`` (one Tensor or an iterable), skipping
    parameters that have none."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    out = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: expected Tensors (e.g. model.parameters()), got "
                            f"{type(p).__name__} at position {i}")
        if p.grad is not None:
            out.append(p)
    return out


def _real(fn, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if isinstance(value, Tensor) and value.size == 1:
            return float(value.item())
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


@np.errstate(invalid="ignore")    # inf * 0 = NaN is the documented, PyTorch outcome
def _scale_in_place(p, factor):
    g = p.grad
    if g.grad_fn is None and g.data.flags.writeable:
        np.multiply(g.data, factor, out=g.data, casting="unsafe")
        g._bump_version()
    else:
        # A gradient with a graph of its own (create_graph=True) or a read-only array:
        # replace it by a scaled copy rather than write through it.
        p.grad = Tensor((g.data * factor).astype(g.dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients of ``parameters`` in place so that their joint norm is at most
    ``max_norm``; returns the joint norm before clipping, as a 0-d Tensor (as PyTorch).

        total = (Σ_p ‖g_p‖_q^q)^(1/q)     (q = norm_type; for q = inf, max_p max|g_p|)
        g_p ← g_p · min(1, max_norm / (total + 1e-6))

    The norm is computed in float64 with the largest magnitude factored out, so it does
    not overflow where the sum of q-th powers would. A non-finite norm scales the
    gradients anyway (giving NaN, as PyTorch) unless ``error_if_nonfinite``, which raises
    RuntimeError. Parameters without a gradient are skipped.
    """
    fn = "clip_grad_norm_"
    max_norm = _real(fn, "max_norm", max_norm)
    q = _real(fn, "norm_type", norm_type)
    if max_norm < 0 or math.isnan(max_norm):
        raise ValueError(f"{fn}: max_norm must be non-negative, got {max_norm}")
    if not q > 0:
        raise ValueError(f"{fn}: norm_type must be positive or inf, got {q}")
    params = _grads(fn, parameters)
    if not params:
        return ag.tensor(0.0)
    out_dtype = np.result_type(*[p.grad.dtype for p in params])
    if out_dtype.kind != "f":
        out_dtype = np.dtype(np.float64)
    with ag.no_grad():
        # np.max propagates NaN; Python's max() would not, hence the explicit check.
        peaks = [float(np.max(np.abs(p.grad.data), initial=0.0)) for p in params]
        peak = math.nan if any(math.isnan(x) for x in peaks) else max(peaks)
        if q == math.inf or peak == 0 or not math.isfinite(peak):
            total = peak
        else:
            acc = sum(float(np.sum((np.abs(p.grad.data.astype(np.float64)) / peak) ** q))
                      for p in params)
            total = peak * acc ** (1.0 / q)
        if error_if_nonfinite and not math.isfinite(total):
            raise RuntimeError(
                f"{fn}: the total norm of order {q} of the gradients is non-finite "
                f"({total}), so it cannot be clipped; pass error_if_nonfinite=False to "
                "scale the gradients by it anyway")
        coef = float(np.minimum(max_norm / (total + 1e-6), 1.0))
        if coef != 1.0:
            for p in params:
                _scale_in_place(p, coef)
    return Tensor(np.asarray(total, dtype=out_dtype))


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element of ``parameters`` to [−clip_value, clip_value], in
    place (as PyTorch). Parameters without a gradient are skipped."""
    fn = "clip_grad_value_"
    c = _real(fn, "clip_value", clip_value)
    if c < 0 or math.isnan(c):
        raise ValueError(f"{fn}: clip_value must be non-negative, got {c}")
    with ag.no_grad():
        for p in _grads(fn, parameters):
            g = p.grad
            if g.grad_fn is None and g.data.flags.writeable:
                np.clip(g.data, -c, c, out=g.data)
                g._bump_version()
            else:
                p.grad = Tensor(np.clip(g.data, -c, c).astype(g.dtype))


def batches(*arrays, batch_size, shuffle=True, drop_last=False, rng=None):
    """Yield tuples of mini-batches, one entry per array, cut along the first axis.

    ``arrays`` are NumPy arrays or Tensors of the same length (Tensors are indexed with
    Tensor indexing, so gradients flow through a batch). With ``shuffle`` each call
    draws a fresh permutation from ``rng`` (a ``np.random.Generator`` or an int seed) or,
    by default, the global generator (``ag.manual_seed``); without it the batches are
    consecutive slices. ``drop_last`` drops a final batch smaller than ``batch_size``.
    Always yields tuples, also for a single array: ``for (xb,) in batches(x, ...)``.
    """
    fn = "batches"
    if not arrays:
        raise ValueError(f"{fn}: expected at least one array")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"{fn}: batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"{fn}: batch_size must be at least 1, got {batch_size}")
    arrays = tuple(a if isinstance(a, (Tensor, np.ndarray)) else np.asarray(a) for a in arrays)
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"{fn}: array {i} is 0-d (shape ()); batches are cut along "
                             "the first axis")
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) != 1:
        shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
        raise ValueError(f"{fn}: arrays must have the same length along axis 0, got "
                         f"shapes {shapes}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
            raise TypeError(f"{fn}: rng must be a np.random.Generator, an int seed or "
                            f"None, got {type(rng).__name__}")
        rng = np.random.default_rng(rng)
    return _batches(arrays, lengths[0], int(batch_size), shuffle, drop_last, rng)


def _batches(arrays, n, batch_size, shuffle, drop_last, rng):
    # A separate generator so that argument errors surface at the call, not at the
    # first next(); the permutation is still drawn lazily, when iteration starts.
    order = None
    if shuffle:
        order = (rng if rng is not None else ag.get_rng()).permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        end = min(start + batch_size, n)
        idx = slice(start, end) if order is None else order[start:end]
        yield tuple(a[idx] for a in arrays)
