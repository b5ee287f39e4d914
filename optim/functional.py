"""The update rules, each written once, as pure functions over Tensors.

``rule(param, grad, state, *, lr, ...) -> new_param``: ``state`` is a dict the rule
reads and rebinds (``state["step"]``, ``state["exp_avg"]``, ...; names and layout as
PyTorch's optimizer state). A rule never modifies a tensor in place, so:

- the optimizer classes call it under ``ag.no_grad()`` and copy the result into the
  parameter (nothing is recorded, state tensors are plain detached Tensors);
- called with grad mode on, the whole update is recorded in the graph, and the loss
  after a few steps can be differentiated with respect to ``lr``, ``betas``, the
  initial parameters, ... (unrolled optimisation, hyper-gradients). Hyper-parameters
  may therefore be Python numbers or Tensors.

Every rule is built from Tensor operators and ``ag.sqrt``/``ag.where``/sums only; no
rule carries derivative code. The formulas are PyTorch's (docs/formulas.md §3).
"""
import numpy as np

import autograd as ag

__all__ = ["sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam",
           "lamb"]


# ---------------------------------------------------------------- shared pieces
def _ema(avg, x, beta):
    """Exponential moving average: beta·avg + (1 − beta)·x."""
    return beta * avg + (1 - beta) * x


def _buffer(state, key, param):
    """``state[key]``, or zeros shaped like ``param`` before the first step."""
    buf = state.get(key)
    return ag.Tensor(np.zeros_like(param.data)) if buf is None else buf


def _prepare(param, grad, weight_decay, maximize):
    """The gradient the rule steps along: −g when maximizing, plus the L2 term λθ."""
    if maximize:
        grad = -grad
    if _nonzero(weight_decay):
        grad = grad + weight_decay * param
    return grad


def _nonzero(x):
    # A Tensor hyper-parameter always takes part, so that it can be differentiated.
    return isinstance(x, ag.Tensor) or x != 0


def _next_step(state):
    step = state.get("step", 0) + 1
    state["step"] = step
    return step


def _adam_moments(grad, state, beta1, beta2, param):
    """Update Adam's first and second moments in ``state``; return them."""
    exp_avg = _ema(_buffer(state, "exp_avg", param), grad, beta1)
    exp_avg_sq = _ema(_buffer(state, "exp_avg_sq", param), grad * grad, beta2)
    state["exp_avg"] = exp_avg
    state["exp_avg_sq"] = exp_avg_sq
    return exp_avg, exp_avg_sq


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
        buf = state.get("momentum_buffer")
        # PyTorch starts the buffer at g itself: the first step is not dampened. It is
        # a new tensor (1·g), since the caller may zero or accumulate into g in place.
        buf = 1.0 * g if buf is None else momentum * buf + (1 - dampening) * g
        state["momentum_buffer"] = buf
        g = g + momentum * buf if nesterov else buf
    return param - lr * g


def momentum(param, grad, state, *, lr=0.01, beta=0.9):
    """The reference texts' momentum, an exponential moving average of the gradients.

    v ← βv + (1 − β)g with v₀ = 0;  θ ← θ − η·v.  State: ``velocity``.
    Takes exactly the steps of ``sgd(lr=η(1 − β), momentum=β)``.
    """
    v = _ema(_buffer(state, "velocity", param), grad, beta)
    state["velocity"] = v
    return param - lr * v


def adagrad(param, grad, state, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
            initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    """Adagrad: per-element steps shrink with the accumulated squared gradient.

    G ← G + g²;  η_t = η / (1 + (t − 1)·lr_decay);  θ ← θ − η_t·g / (√G + ε).
    State: ``step``, ``sum`` (starts at ``initial_accumulator_value``).
    """
    step = _next_step(state)
    g = _prepare(param, grad, weight_decay, maximize)
    total = state.get("sum")
    if total is None:
        total = ag.Tensor(np.full_like(param.data, initial_accumulator_value))
    total = total + g * g
    state["sum"] = total
    clr = lr / (1 + (step - 1) * lr_decay)
    return param - clr * (g / (ag.sqrt(total) + eps))


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
    square_avg = _ema(_buffer(state, "square_avg", param), g * g, alpha)
    state["square_avg"] = square_avg
    if centered:
        grad_avg = _ema(_buffer(state, "grad_avg", param), g, alpha)
        state["grad_avg"] = grad_avg
        avg = ag.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = ag.sqrt(square_avg) + eps
    if _nonzero(momentum):
        buf = _buffer(state, "momentum_buffer", param)
        buf = momentum * buf + g / avg
        state["momentum_buffer"] = buf
        return param - lr * buf
    return param - lr * (g / avg)


def adadelta(param, grad, state, *, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0,
             maximize=False):
    """Adadelta (ε inside the square roots, as the paper and PyTorch).

    v ← ρv + (1 − ρ)g²;  Δ = √(u + ε)/√(v + ε)·g;  u ← ρu + (1 − ρ)Δ²;  θ ← θ − η·Δ.
    State: ``step``, ``square_avg`` (v), ``acc_delta`` (u).
    """
    _next_step(state)
    g = _prepare(param, grad, weight_decay, maximize)
    square_avg = _ema(_buffer(state, "square_avg", param), g * g, rho)
    acc_delta = _buffer(state, "acc_delta", param)
    delta = ag.sqrt(acc_delta + eps) / ag.sqrt(square_avg + eps) * g
    state["square_avg"] = square_avg
    state["acc_delta"] = _ema(acc_delta, delta * delta, rho)
    return param - lr * delta


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
        prev = state.get("max_exp_avg_sq")
        exp_avg_sq = exp_avg_sq if prev is None else ag.maximum(prev, exp_avg_sq)
        state["max_exp_avg_sq"] = exp_avg_sq
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
    denom = ag.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
    return param - (lr / bias_correction1) * (exp_avg / denom)


def adamw(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
          amsgrad=False, maximize=False):
    """AdamW (Loshchilov & Hutter): decoupled weight decay, then the Adam step.

    θ ← θ·(1 − ηλ), then ``adam`` without its L2 term. State as ``adam``.
    """
    if _nonzero(weight_decay):
        param = param * (1 - lr * weight_decay)
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
            param = param * (1 - lr * weight_decay)
        g = _prepare(param, grad, 0.0, maximize)
    else:
        g = _prepare(param, grad, weight_decay, maximize)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product = state.get("mu_product", 1.0) * mu
    state["mu_product"] = mu_product
    exp_avg, exp_avg_sq = _adam_moments(g, state, beta1, beta2, param)
    denom = ag.sqrt(exp_avg_sq / (1 - beta2 ** step)) + eps
    return (param - (lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
            - (lr * mu_next / (1.0 - mu_product * mu_next)) * (exp_avg / denom))


def lamb(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
    """LAMB (You et al. 2019): Adam's direction, scaled per tensor by a trust ratio.

    m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ) (Adam's moments);  r = m̂/(√v̂ + ε) + λθ;
    ratio = ‖θ‖/‖r‖ (1 when either norm is 0);  θ ← θ − η·ratio·r.
    State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """
    beta1, beta2 = betas
    step = _next_step(state)
    exp_avg, exp_avg_sq = _adam_moments(grad, state, beta1, beta2, param)
    update = (exp_avg / (1 - beta1 ** step)) / (ag.sqrt(exp_avg_sq / (1 - beta2 ** step))
                                                + eps)
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
    return param - lr * ratio * update
