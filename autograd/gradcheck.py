"""Finite-difference checks of the engine's derivatives.

``gradcheck`` compares every vector-Jacobian product the engine computes with a
central difference ``(f(x + eps) - f(x - eps)) / (2 eps)``, element by element, in
float64. ``gradgradcheck`` applies the same check to the backward pass itself.
"""
import numpy as np

from . import engine
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """An analytic derivative disagrees with its finite-difference estimate."""


def _as_tuple(out, what="fn"):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: {what} must return a Tensor or a tuple of Tensors, "
                            f"got {type(o).__name__}")
    return tuple(outs)


def _input_tuple(inputs):
    # One Tensor is one input (as PyTorch); tuple(tensor) would unpack it into its rows.
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _flat_outputs(fn, inputs):
    outs = _as_tuple(fn(*inputs))   # grad mode stays on: fn may itself call grad()
    return np.concatenate([np.asarray(o.data, dtype=np.float64).ravel() for o in outs]) \
        if outs else np.zeros(0)


def _check_inputs(inputs):
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} requires grad but is {t.dtype}; finite differences "
                "need float64 (with float32 the rounding error of f(x+eps) - f(x-eps) swamps "
                "the difference). Build it with dtype=np.float64 or call .astype(np.float64)")


def numerical_jacobian(fn, inputs, eps=1e-6):
    """Central-difference Jacobians: one array of shape (output.size, input.size) per
    input (None for inputs that are not floating-point Tensors)."""
    inputs = _input_tuple(inputs)
    base = _flat_outputs(fn, inputs)
    jacobians = []
    for t in inputs:
        if not isinstance(t, Tensor) or t.dtype.kind != "f":
            jacobians.append(None)
            continue
        # Perturb a private C-ordered copy (the input may be read-only or strided) and
        # put the caller's array back afterwards.
        original = t.data
        t.data = np.array(original, order="C", copy=True)
        flat = t.data.reshape(-1)
        J = np.zeros((base.size, flat.size))
        try:
            for j in range(flat.size):
                orig = flat[j].copy()
                flat[j] = orig + eps
                plus = _flat_outputs(fn, inputs)
                flat[j] = orig - eps
                minus = _flat_outputs(fn, inputs)
                flat[j] = orig
                J[:, j] = (plus - minus) / (2 * eps)
        finally:
            t.data = original
        jacobians.append(J)
    return jacobians


def _analytic_jacobian(fn, inputs, diff_idx):
    outs = _as_tuple(fn(*inputs))
    sizes = [o.data.size for o in outs]
    total = sum(sizes)
    diff = [inputs[i] for i in diff_idx]
    Js = [np.zeros((total, inputs[i].data.size)) for i in diff_idx]
    row = 0
    for o, n in zip(outs, sizes):
        if not o.requires_grad:
            row += n
            continue
        for k in range(n):
            seed = np.zeros(o.data.size, dtype=o.dtype)
            seed[k] = 1
            grads = engine.grad([o], diff, [Tensor(seed.reshape(o.shape))],
                                retain_graph=True, allow_unused=True)
            for J, g in zip(Js, grads):
                if g is not None:
                    J[row + k] = np.asarray(g.data, dtype=np.float64).ravel()
        row += n
    return Js


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check ``fn``'s gradients w.r.t. every input that requires grad.

    ``fn(*inputs)`` returns a Tensor or a tuple of Tensors. Each analytic Jacobian
    entry ``a`` must satisfy ``|a - n| <= atol + rtol * |n|`` against the central
    difference ``n``. Returns True, or raises ``GradcheckError`` naming the input,
    the elements and both values (returns False with ``raise_exception=False``).
    """
    inputs = _input_tuple(inputs)
    _check_inputs(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    analytic = _analytic_jacobian(fn, inputs, diff_idx)
    numeric = numerical_jacobian(fn, inputs, eps)
    for i, A in zip(diff_idx, analytic):
        N = numeric[i]
        bad = np.abs(A - N) > atol + rtol * np.abs(N)
        bad |= np.isnan(A) != np.isnan(N)
        if bad.any():
            k, j = np.argwhere(bad)[0]
            elem = np.unravel_index(j, inputs[i].shape) if inputs[i].ndim else ()
            msg = (f"gradcheck: Jacobian mismatch for input {i} (shape {inputs[i].shape}) at "
                   f"input element {tuple(int(e) for e in elem)}, output element {int(k)}: "
                   f"analytic {A[k, j]:.10g}, numeric {N[k, j]:.10g} "
                   f"({int(bad.sum())} of {bad.size} entries differ; atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True):
    """Check second derivatives: gradcheck of ``v -> grad(fn(x), x, v, create_graph=True)``
    with respect to the inputs and to ``v`` (random float64 when not given)."""
    inputs = _input_tuple(inputs)
    _check_inputs(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _as_tuple(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]
    else:
        given = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
        grad_outputs = [g if isinstance(g, Tensor) else Tensor(np.asarray(g, dtype=np.float64))
                        for g in given]
    n = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:n], args[n:]
        ys = _as_tuple(fn(*xs))
        live = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
        diff = [xs[i] for i in diff_idx]
        if not live:
            return tuple(Tensor(np.zeros(x.shape)) for x in diff)
        gs = engine.grad([y for y, _ in live], diff, [v for _, v in live],
                         create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(np.zeros(x.shape)) for g, x in zip(gs, diff))

    return gradcheck(first_derivatives, inputs + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)
