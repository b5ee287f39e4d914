"""The update rules, each written once, as functions over Tensors.

``rule(param, grad, state, *, lr, ...) -> new_param``: ``state`` is a dict the rule
reads and updates (``state["step"]``, ``state["exp_avg"]``, ...; names and layout as
PyTorch's optimizer state). A rule never modifies ``param`` or ``grad``; it returns the
new parameter. (The one exception is private: ``Optimizer.step``, which overwrites the
parameter with the result anyway, lets its rule write the result there directly.)

- With grad mode on, a rule is a composite of Tensor ops: it rebinds the state entries to
  new tensors and modifies none in place, so the whole update is recorded in the graph
  and the loss after a few steps can be differentiated with respect to ``lr``,
  ``betas``, the initial parameters, ... (unrolled optimisation, hyper-gradients).
  Hyper-parameters may therefore be Python numbers or Tensors.
- With grad mode off (how the optimizer classes call it), nothing is recorded and the
  state tensors are updated in place, as PyTorch does: their arrays are allocated on
  the first step and reused. A state tensor held from before a step has changed after
  it; copy it to keep its value (``Optimizer.state_dict()`` copies).

Both modes go through the same building blocks (``_accumulate``, ``_running_max``,
``_div_root``, ``_descend``, ``_decay``): each is written once as the Tensor expression
and once as in-place NumPy that does the same floating-point operations in the same
order, so the two modes give the same numbers. No rule carries derivative code. The
formulas are PyTorch's (docs/formulas.md §3), with the bias corrections folded into
scalars.
"""
import threading

import numpy as np

import autograd as ag
from autograd.tensor import _make

__all__ = ["sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam",
           "lamb"]


# ---------------------------------------------------------------- building blocks
# NumPy's ufuncs for the in-place updates, bound once: CPython 3.11 does not specialize
# attribute loads on NumPy's module (it defines __getattr__), ~15 ns per `np.<name>`.
_np_add, _np_subtract, _np_multiply, _np_divide, _np_sqrt, _np_maximum = (
    np.add, np.subtract, np.multiply, np.divide, np.sqrt, np.maximum)


class _Target(threading.local):
    # The parameter that Optimizer.step overwrites with the rule's result (set around
    # the call; None otherwise). A rule run without recording may write its update
    # straight into that parameter's array: one pass and one temporary fewer than
    # returning a new array for the class to copy in.
    param = None


_target = _Target()
# Grad mode alone decides, not whether an operand requires grad: with grad mode on, a
# state tensor may have been saved by a recorded op (lr·buf with a Tensor lr) and must
# keep its value for that graph's backward.
_recording = ag.is_grad_enabled


def _data(x):
    """The array (or number) behind a Tensor operand or hyper-parameter."""
    return x.data if isinstance(x, ag.Tensor) else x


def _array(a):
    # An op on 0-d arrays returns a NumPy scalar; in-place ops on it need the array.
    return a if isinstance(a, np.ndarray) else np.asarray(a)


def _is_one(x):
    # A Tensor hyper-parameter always takes part, so that it can be differentiated.
    return not isinstance(x, ag.Tensor) and x == 1


def _nonzero(x):
    return isinstance(x, ag.Tensor) or x != 0


def _buffer(state, key, param, fill=0.0):
    """``state[key]``, created as an array of ``fill`` shaped like ``param`` (and stored)
    before the first step."""
    buf = state.get(key)
    if buf is None:
        buf = state[key] = ag.Tensor(np.full_like(param.data, fill))
    return buf


def _accumulate(state, key, param, x, decay, scale=1.0, square=False, fill=0.0):
    """state[key] ← decay·state[key] + scale·x (x² with ``square``), the buffer starting
    at ``fill``; returns the new value. An exponential moving average is
    ``decay = β, scale = 1 − β``. Not recording, the buffer is updated in place."""
    buf = _buffer(state, key, param, fill)
    if _recording():
        if square:
            x = x * x
        if not _is_one(scale):
            x = scale * x
        new = state[key] = (buf if _is_one(decay) else decay * buf) + x
        return new
    b, t = buf.data, _data(x)
    if square:
        t = _array(t * t)
        if not _is_one(scale):
            _np_multiply(_data(scale), t, out=t)
    elif not _is_one(scale):
        t = _np_multiply(_data(scale), t)    # (no out=None: it slows the call)
    if not _is_one(decay):
        _np_multiply(_data(decay), b, out=b)
    _np_add(b, t, out=b)
    buf._bump_version()
    return buf


def _running_max(state, key, x):
    """state[key] ← max(state[key], x), starting at x; returns it (AMSGrad)."""
    prev = state.get(key)
    if prev is None:
        # A copy: x's own buffer is updated in place by the next step.
        new = state[key] = 1.0 * x
        return new
    if _recording():
        new = state[key] = ag.maximum(prev, x)
        return new
    _np_maximum(prev.data, _data(x), out=prev.data)
    prev._bump_version()
    return prev


def _div_root(x, sq, eps):
    """x / (√sq + ε): the adaptive methods' normalised direction (a new tensor)."""
    if _recording():
        return x / (ag.sqrt(sq) + eps)
    d = _array(_np_sqrt(_data(sq)))
    _np_add(d, _data(eps), out=d)
    _np_divide(_data(x), d, out=d)
    return _make(d, None)       # a new array: Tensor()'s checks are not needed


def _descend(param, lr, d):
    """The new parameter θ − η·d."""
    if _recording():
        return param - d if _is_one(lr) else param - lr * d
    step = _data(d) if _is_one(lr) else _np_multiply(_data(lr), _data(d))
    if param is _target.param:
        _np_subtract(param.data, step, out=param.data)
        return param
    return ag.Tensor(_np_subtract(param.data, step))


def _decay(param, factor):
    """θ·factor: decoupled weight decay (before the rest of the rule)."""
    if _recording() or param is not _target.param:
        return param * factor
    _np_multiply(param.data, _data(factor), out=param.data)
    return param


def _prepare(param, grad, weight_decay, maximize):
    """The gradient the rule steps along: −g when maximizing, plus the L2 term λθ."""
    if maximize:
        grad = -grad
    if _nonzero(weight_decay):
        grad = grad + weight_decay * param
    return grad


def _next_step(state):
    step = state.get("step", 0) + 1
    state["step"] = step
    return step


def _adam_moments(grad, state, beta1, beta2, param):
    """Update Adam's first and second moments in ``state``; return them."""
    return (_accumulate(state, "exp_avg", param, grad, beta1, 1 - beta1),
            _accumulate(state, "exp_avg_sq", param, grad, beta2, 1 - beta2, square=True))


# ---------------------------------------------------------------- the rules
def sgd(param, grad, state, *, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
        nesterov=False, maximize=False):
    """Stochastic gradient descent with optional (Nesterov) momentum, as PyTorch.

    g ← ∇ + λθ;  b ← g on the first step, else μb + (1 − τ)g;
    d = g + μb (Nesterov) or b (classical) or g (no momentum);  θ ← θ − η·d.
    State: ``momentum_buffer`` (only when momentum ≠ 0).
    """
    g = _prepare(param, grad, weight_decay, maximize)
    if _nonzero(momentum):
        if state.get("momentum_buffer") is None:
            # PyTorch starts the buffer at g itself: the first step is not dampened. It
            # is a new tensor (1·g), since the caller may zero or accumulate into g in
            # place, and later steps may update the buffer in place.
            buf = state["momentum_buffer"] = 1.0 * g
        else:
            buf = _accumulate(state, "momentum_buffer", param, g, momentum, 1 - dampening)
        g = g + momentum * buf if nesterov else buf
    return _descend(param, lr, g)


def momentum(param, grad, state, *, lr=0.01, beta=0.9):
    """The reference texts' momentum, an exponential moving average of the gradients.

    v ← βv + (1 − β)g with v₀ = 0;  θ ← θ − η·v.  State: ``velocity``.
    Takes exactly the steps of ``sgd(lr=η(1 − β), momentum=β)``.
    """
    return _descend(param, lr, _accumulate(state, "velocity", param, grad, beta, 1 - beta))


def adagrad(param, grad, state, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
            initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    """Adagrad: per-element steps shrink with the accumulated squared gradient.

    G ← G + g²;  η_t = η / (1 + (t − 1)·lr_decay);  θ ← θ − η_t·g / (√G + ε).
    State: ``step``, ``sum`` (starts at ``initial_accumulator_value``).
    """
    step = _next_step(state)
    g = _prepare(param, grad, weight_decay, maximize)
    total = _accumulate(state, "sum", param, g, 1.0, square=True,
                        fill=initial_accumulator_value)
    clr = lr / (1 + (step - 1) * lr_decay)
    return _descend(param, clr, _div_root(g, total, eps))


def rmsprop(param, grad, state, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
            momentum=0.0, centered=False, maximize=False):
    """RMSprop, optionally centered and with a momentum buffer, as PyTorch.

    v ← αv + (1 − α)g²;  centered: ḡ ← αḡ + (1 − α)g and s = √(v − ḡ²), else s = √v;
    with momentum μ: b ← μb + g/(s + ε), θ ← θ − η·b;  without: θ ← θ − η·g/(s + ε).
    State: ``step``, ``square_avg``, ``momentum_buffer``, ``grad_avg`` (the last two
    only when used).
    """
    _next_step(state)
    g = _prepare(param, grad, weight_decay, maximize)
    square_avg = _accumulate(state, "square_avg", param, g, alpha, 1 - alpha, square=True)
    if centered:
        grad_avg = _accumulate(state, "grad_avg", param, g, alpha, 1 - alpha)
        square_avg = square_avg - grad_avg * grad_avg
    d = _div_root(g, square_avg, eps)
    if _nonzero(momentum):
        d = _accumulate(state, "momentum_buffer", param, d, momentum)
    return _descend(param, lr, d)


def adadelta(param, grad, state, *, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0,
             maximize=False):
    """Adadelta (ε inside the square roots, as the paper and PyTorch).

    v ← ρv + (1 − ρ)g²;  Δ = √(u + ε)/√(v + ε)·g;  u ← ρu + (1 − ρ)Δ²;  θ ← θ − η·Δ.
    State: ``step``, ``square_avg`` (v), ``acc_delta`` (u).
    """
    _next_step(state)
    g = _prepare(param, grad, weight_decay, maximize)
    square_avg = _accumulate(state, "square_avg", param, g, rho, 1 - rho, square=True)
    acc_delta = _buffer(state, "acc_delta", param)
    delta = ag.sqrt(acc_delta + eps) / ag.sqrt(square_avg + eps) * g
    _accumulate(state, "acc_delta", param, delta, rho, 1 - rho, square=True)
    return _descend(param, lr, delta)


def adam(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
         amsgrad=False, maximize=False):
    """Adam (Kingma & Ba) with PyTorch's placement of ε, optionally AMSGrad.

    g ← ∇ + λθ (L2 form);  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
    AMSGrad: v_max ← max(v_max, v) replaces v below;
    θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε).
    State: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (AMSGrad).
    """
    beta1, beta2 = betas
    step = _next_step(state)
    g = _prepare(param, grad, weight_decay, maximize)
    exp_avg, exp_avg_sq = _adam_moments(g, state, beta1, beta2, param)
    if amsgrad:
        exp_avg_sq = _running_max(state, "max_exp_avg_sq", exp_avg_sq)
    # With c = √(1 − β₂ᵗ): m/(√v/c + ε) = c·m/(√v + cε), so both bias corrections
    # become scalars (one array pass fewer).
    c = (1 - beta2 ** step) ** 0.5
    return _descend(param, lr * c / (1 - beta1 ** step),
                    _div_root(exp_avg, exp_avg_sq, eps * c))


def adamw(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
          amsgrad=False, maximize=False):
    """AdamW (Loshchilov & Hutter): decoupled weight decay, then the Adam step.

    θ ← θ·(1 − ηλ), then ``adam`` without its L2 term. State as ``adam``.
    """
    if _nonzero(weight_decay):
        param = _decay(param, 1 - lr * weight_decay)
    return adam(param, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=0.0,
                amsgrad=amsgrad, maximize=maximize)


def nadam(param, grad, state, *, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
          momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    """NAdam (Dozat 2016) with PyTorch's momentum schedule.

    μ_t = β₁(1 − ½·0.96^(tψ)), ψ = ``momentum_decay``; Π_t = Π_{i≤t} μ_i;
    m, v as Adam;  v̂ = v/(1 − β₂ᵗ);
    θ ← θ − η(1 − μ_t)/(1 − Π_t) · g/(√v̂ + ε) − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/(√v̂ + ε).
    ``decoupled_weight_decay`` uses θ ← θ(1 − ηλ) instead of the L2 term.
    State: ``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``.
    """
    beta1, beta2 = betas
    step = _next_step(state)
    if decoupled_weight_decay:
        if _nonzero(weight_decay):
            param = _decay(param, 1 - lr * weight_decay)
        g = _prepare(param, grad, 0.0, maximize)
    else:
        g = _prepare(param, grad, weight_decay, maximize)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product = state.get("mu_product", 1.0) * mu
    state["mu_product"] = mu_product
    exp_avg, exp_avg_sq = _adam_moments(g, state, beta1, beta2, param)
    # With c = √(1 − β₂ᵗ): x/(√v̂ + ε) = c·x/(√v + cε); the two terms share that
    # denominator, so they are added first and divided once.
    c = (1 - beta2 ** step) ** 0.5
    a = lr * (1.0 - mu) / (1.0 - mu_product) * c
    b = lr * mu_next / (1.0 - mu_product * mu_next) * c
    return _descend(param, 1.0, _div_root(a * g + b * exp_avg, exp_avg_sq, eps * c))


def lamb(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
    """LAMB (You et al. 2019): Adam's direction, scaled per tensor by a trust ratio.

    m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ) (Adam's moments);  r = m̂/(√v̂ + ε) + λθ;
    ratio = ‖θ‖/‖r‖ (1 when either norm is 0);  θ ← θ − η·ratio·r.
    State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """
    beta1, beta2 = betas
    step = _next_step(state)
    exp_avg, exp_avg_sq = _adam_moments(grad, state, beta1, beta2, param)
    c = (1 - beta2 ** step) ** 0.5           # m̂/(√v̂ + ε) = c/(1 − β₁ᵗ)·m/(√v + cε)
    update = (c / (1 - beta1 ** step)) * _div_root(exp_avg, exp_avg_sq, eps * c)
    if _nonzero(weight_decay):
        update = update + weight_decay * param
    w2 = (param * param).sum()
    r2 = (update * update).sum()
    both = (w2.data > 0) & (r2.data > 0)
    # Norms of 1 stand in where a norm is 0, so the unused branch stays finite and
    # its derivative (1/(2√0)) never turns into NaN.
    w_norm = ag.sqrt(ag.where(both, w2, 1.0))
    r_norm = ag.sqrt(ag.where(both, r2, 1.0))
    ratio = ag.where(both, w_norm / r_norm, 1.0)
    return _descend(param, lr * ratio, update)


# The rules that compute every element of a parameter alike, given the same
# hyper-parameters and step count: Optimizer.step may run them on a group's small
# parameters concatenated (optim.flat). Not LAMB (its trust ratio is per tensor).
for _rule in (sgd, momentum, adagrad, rmsprop, adadelta, adam, adamw, nadam):
    _rule.elementwise = True
del _rule
