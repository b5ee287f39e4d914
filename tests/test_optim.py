"""Optimizers: the functional rules, the classes around them, state dicts, hyper-gradients,
convergence and bad input. (Trajectories against PyTorch: tests/reference/.)"""
import copy

import numpy as np
import pytest

import autograd as ag
import nn
import optim
from optim import functional as F

ALL = ["SGD", "Momentum", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "LAMB"]
RULE_OF = {"SGD": F.sgd, "Momentum": F.momentum, "Adagrad": F.adagrad, "RMSprop": F.rmsprop,
           "Adadelta": F.adadelta, "Adam": F.adam, "AdamW": F.adamw, "NAdam": F.nadam,
           "LAMB": F.lamb}
# Options that exercise every branch of each rule (the class defaults otherwise).
OPTIONS = {
    "SGD": [{"lr": 0.1}, {"lr": 0.05, "momentum": 0.9},
            {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1},
            {"lr": 0.05, "momentum": 0.9, "nesterov": True, "maximize": True}],
    "Momentum": [{}, {"lr": 0.1, "beta": 0.5}],
    "Adagrad": [{}, {"lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5}],
    "RMSprop": [{}, {"centered": True, "momentum": 0.5, "weight_decay": 0.1},
                {"momentum": 0.9, "maximize": True}],
    "Adadelta": [{}, {"rho": 0.5, "weight_decay": 0.1}],
    "Adam": [{}, {"amsgrad": True, "weight_decay": 0.1, "betas": (0.8, 0.9)}],
    "AdamW": [{}, {"amsgrad": True, "maximize": True}],
    "NAdam": [{}, {"weight_decay": 0.1}, {"weight_decay": 0.1, "decoupled_weight_decay": True}],
    "LAMB": [{}, {"weight_decay": 0.1, "betas": (0.8, 0.9)}],
}
CASES = [pytest.param(name, kw, id=f"{name}-{i}")
         for name, configs in OPTIONS.items() for i, kw in enumerate(configs)]


def leaf(values, dtype=np.float64):
    return ag.Tensor(np.array(values, dtype=dtype), requires_grad=True)


def quadratic_problem(dtype=np.float64):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5, 3)).astype(dtype)
    w = ag.Tensor(rng.normal(size=(3, 4)).astype(dtype), requires_grad=True)
    b = ag.Tensor(np.zeros(4, dtype), requires_grad=True)   # a zero tensor: LAMB's ratio 1
    target = ag.Tensor(rng.normal(size=(5, 4)).astype(dtype))

    def loss():
        return ((ag.tanh(ag.Tensor(a) @ w + b) - target) ** 2).mean()
    return [w, b], loss


def run(opt, params, loss, steps):
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
        out.append(np.concatenate([p.data.ravel() for p in params]))
    return np.array(out)


# ---------------------------------------------------------------- the rules vs the texts
def test_momentum_matches_the_texts_ema_form():
    """000 §3.2: v ← βv + (1 − β)g, v₀ = 0, θ ← θ − ηv, written out in NumPy."""
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(20, 4))
    theta = rng.normal(size=4)
    lr, beta = 0.05, 0.8
    p = leaf(theta.copy())
    opt = optim.Momentum([p], lr=lr, beta=beta)
    v = np.zeros(4)
    for g in grads:
        v = beta * v + (1 - beta) * g
        theta = theta - lr * v
        p.grad = ag.Tensor(g.copy())
        opt.step()
        np.testing.assert_allclose(p.data, theta, rtol=1e-13)


def test_momentum_equals_sgd_with_scaled_learning_rate():
    params_a, loss_a = quadratic_problem()
    params_b, loss_b = quadratic_problem()
    got = run(optim.Momentum(params_a, lr=0.5, beta=0.9), params_a, loss_a, 30)
    want = run(optim.SGD(params_b, lr=0.5 * (1 - 0.9), momentum=0.9), params_b, loss_b, 30)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def _lamb_reference(theta, grads, lr, beta1, beta2, eps, wd):
    """You et al. 2019, Algorithm 2, per tensor, with the ratio guarded (DESIGN)."""
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    out = []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        r = m_hat / (np.sqrt(v_hat) + eps) + wd * theta
        w_norm, r_norm = np.linalg.norm(theta), np.linalg.norm(r)
        ratio = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        theta = theta - lr * ratio * r
        out.append(theta)
    return np.array(out)


@pytest.mark.parametrize("wd", [0.0, 0.1])
@pytest.mark.parametrize("start", ["random", "zeros"])
def test_lamb_matches_the_paper(wd, start):
    rng = np.random.default_rng(1)
    theta = rng.normal(size=(3, 2)) if start == "random" else np.zeros((3, 2))
    grads = rng.normal(size=(15, 3, 2))
    want = _lamb_reference(theta, grads, 0.01, 0.9, 0.99, 1e-6, wd)
    p = leaf(theta.copy())
    opt = optim.LAMB([p], lr=0.01, betas=(0.9, 0.99), weight_decay=wd)
    for g, w in zip(grads, want):
        p.grad = ag.Tensor(g.copy())
        opt.step()
        np.testing.assert_allclose(p.data, w, rtol=1e-12, atol=1e-15)


def test_lamb_trust_ratio_is_per_tensor():
    a, b = leaf([3.0, 4.0]), leaf([0.1, 0.0, 0.0])
    opt = optim.LAMB([a, b], lr=0.1)
    a.grad = ag.Tensor(np.array([1.0, 1.0]))
    b.grad = ag.Tensor(np.array([1.0, -1.0, 0.0]))
    opt.step()
    # First step: r = m̂/(√v̂ + ε) ≈ sign(g); each tensor moves by lr·‖θ‖ in norm.
    np.testing.assert_allclose(np.linalg.norm(a.data - [3.0, 4.0]), 0.1 * 5.0, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(b.data - [0.1, 0, 0]), 0.1 * 0.1, rtol=1e-6)


def test_sgd_first_momentum_step_is_not_dampened():
    p = leaf([1.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
    for expected in (1.0 - 2.0, 1.0 - 2.0 - (0.9 * 2.0 + 0.5 * 2.0)):
        p.grad = ag.Tensor(np.array([2.0]))
        opt.step()
        np.testing.assert_allclose(p.data, [expected])


def test_adam_puts_eps_outside_the_square_root():
    """docs/formulas.md §9.3: Adam's first step with g = 1e-5, η = 1e-3 is ≈ 9.99e-4."""
    p = leaf([0.0])
    opt = optim.Adam([p], lr=1e-3)
    p.grad = ag.Tensor(np.array([1e-5]))
    opt.step()
    np.testing.assert_allclose(-p.data[0], 1e-3 * 1e-5 / (1e-5 + 1e-8), rtol=1e-12)


# ---------------------------------------------------------------- classes apply the rules
@pytest.mark.parametrize("name,kwargs", CASES)
def test_class_step_is_the_functional_rule_under_no_grad(name, kwargs):
    params, loss = quadratic_problem()
    twins = [leaf(p.data.copy()) for p in params]
    opt = getattr(optim, name)(params, **kwargs)
    states = [{} for _ in twins]
    for _ in range(4):
        opt.zero_grad()
        loss().backward()
        versions = [p._version for p in params]
        with ag.no_grad():
            for twin, p, state in zip(twins, params, states):
                new = RULE_OF[name](twin, p.grad, state, **kwargs)
                twin.data = new.data
        opt.step()
        for twin, p, v in zip(twins, params, versions):
            np.testing.assert_array_equal(p.data, twin.data)
            assert p._version == v + 1
    for p in params:                      # nothing recorded, parameters stay leaves
        assert p.is_leaf and p.requires_grad
        for value in opt.state[p].values():
            if isinstance(value, ag.Tensor):
                assert value.grad_fn is None and not value.requires_grad
                assert value.dtype == np.float64


@pytest.mark.parametrize("name", ALL)
def test_float32_parameters_stay_float32(name):
    params, loss = quadratic_problem(np.float32)
    arrays = [p.data for p in params]
    opt = getattr(optim, name)(params)
    run(opt, params, loss, 3)
    for p, arr in zip(params, arrays):
        assert p.data is arr and p.dtype == np.float32      # updated in place
        for value in opt.state[p].values():
            if isinstance(value, ag.Tensor):
                assert value.dtype == np.float32


def test_rules_record_a_graph_with_grad_mode_on():
    w = leaf([1.0, -2.0])
    g = leaf([0.5, 0.25])
    state = {}
    new = F.adam(w, g, state, lr=0.1)
    assert new.grad_fn is not None
    assert state["exp_avg"].grad_fn is not None
    with ag.no_grad():
        assert F.adam(w, g, {}, lr=0.1).grad_fn is None


def test_parameters_without_gradient_are_skipped_and_get_no_state():
    a, b = leaf([1.0]), leaf([2.0])
    opt = optim.Adam([a, b], lr=0.1)
    (a * 3.0).sum().backward()
    opt.step()
    assert b.data[0] == 2.0 and b not in opt.state and a in opt.state


def test_step_runs_the_closure_with_grad_and_returns_its_loss():
    w = leaf([3.0])
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with ag.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(w.data, [3.0 - 0.1 * 6.0])


def test_zero_grad():
    w = leaf([1.0, 2.0])
    opt = optim.SGD([w])
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and np.all(w.grad.data == 0)
    opt.zero_grad()
    assert w.grad is None


@pytest.mark.parametrize("name,kwargs", CASES)
def test_zeroing_gradients_in_place_leaves_the_state_alone(name, kwargs):
    """The state must not alias p.grad, which zero_grad and backward change in place."""
    params_a, loss_a = quadratic_problem()
    params_b, loss_b = quadratic_problem()
    opt_a = getattr(optim, name)(params_a, **kwargs)
    opt_b = getattr(optim, name)(params_b, **kwargs)
    for _ in range(5):
        opt_a.zero_grad(set_to_none=True)
        loss_a().backward()
        opt_a.step()
        opt_b.zero_grad(set_to_none=False)
        loss_b().backward()
        opt_b.step()
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(a.data, b.data)


def test_param_groups_and_add_param_group():
    a, b, c = leaf([1.0]), leaf([1.0]), leaf([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9, 0.0]
    for p in (a, b, c):
        p.grad = ag.Tensor(np.array([1.0]))
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0], c.data[0]], [0.9, 0.5, 0.9])
    assert "momentum_buffer" not in opt.state[c]


# ---------------------------------------------------------------- state dicts
def _fresh(name, kwargs):
    params, loss = quadratic_problem()
    return params, loss, getattr(optim, name)(params, **kwargs)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_state_dict_resumes_the_same_trajectory(name, kwargs):
    params, loss, opt = _fresh(name, kwargs)
    run(opt, params, loss, 10)
    saved = opt.state_dict()
    saved_params = [p.data.copy() for p in params]
    want = run(opt, params, loss, 10)

    params2, loss2, opt2 = _fresh(name, {})      # hyper-parameters come from the dict
    for p, arr in zip(params2, saved_params):
        p.data[...] = arr
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    got = run(opt2, params2, loss2, 10)
    np.testing.assert_array_equal(got, want)


def test_state_dict_layout_and_copies():
    params, loss, opt = _fresh("Adam", {"amsgrad": True})
    run(opt, params, loss, 2)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert set(sd["state"]) == {0, 1}
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 2
    before = sd["state"][0]["exp_avg"].data.copy()
    run(opt, params, loss, 2)                      # stepping does not change the saved dict
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].data, before)
    # Arrays are accepted in place of Tensors, and are copied in.
    sd["state"][0]["exp_avg"] = before
    opt.load_state_dict(sd)
    assert isinstance(opt.state[params[0]]["exp_avg"], ag.Tensor)
    assert opt.state[params[0]]["exp_avg"].data is not before


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    params, loss, opt = _fresh("Adam", {})
    run(opt, params, loss, 2)
    sd = opt.state_dict()
    p32 = [ag.Tensor(p.data.astype(np.float32), requires_grad=True) for p in params]
    opt32 = optim.Adam(p32)
    opt32.load_state_dict(sd)
    assert opt32.state[p32[0]]["exp_avg"].dtype == np.float32
    assert opt32.state[p32[0]]["step"] == 2


def test_load_state_dict_rejects_a_different_layout():
    params, loss, opt = _fresh("Adam", {})
    run(opt, params, loss, 1)
    sd = opt.state_dict()
    other = optim.Adam([leaf([1.0])])
    with pytest.raises(ValueError, match="Adam.load_state_dict.*2 parameters.*1"):
        other.load_state_dict(sd)
    two_groups = optim.Adam([{"params": [leaf([1.0])]}, {"params": [leaf([1.0])]}])
    with pytest.raises(ValueError, match="1 parameter groups.*2"):
        two_groups.load_state_dict(sd)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_dict_resumes_the_same_trajectory(line_search_fn):
    def make():
        params, loss = quadratic_problem()
        opt = optim.LBFGS(params, max_iter=3, history_size=4, line_search_fn=line_search_fn)

        def closure():
            opt.zero_grad()
            out = loss()
            out.backward()
            return out
        return params, opt, closure

    params, opt, closure = make()
    for _ in range(3):
        opt.step(closure)
    saved, saved_params = opt.state_dict(), [p.data.copy() for p in params]
    want = []
    for _ in range(3):
        opt.step(closure)
        want.append(np.concatenate([p.data.ravel() for p in params]))
    params2, opt2, closure2 = make()
    for p, arr in zip(params2, saved_params):
        p.data[...] = arr
    opt2.load_state_dict(saved)
    for w in want:
        opt2.step(closure2)
        np.testing.assert_array_equal(np.concatenate([p.data.ravel() for p in params2]), w)


# ---------------------------------------------------------------- derivatives of the rules
def _two_steps(rule, kwargs):
    """Two steps from an empty state: covers the first-step and the running branches."""
    def fn(param, g1, g2, lr):
        state = {}
        p = rule(param, g1, state, lr=lr, **kwargs)
        return rule(p, g2, state, lr=lr, **kwargs)
    return fn


@pytest.mark.parametrize("name,kwargs", CASES)
def test_rules_pass_gradcheck_and_gradgradcheck(name, kwargs):
    kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
    rng = np.random.default_rng(5)
    param, g1, g2 = (leaf(rng.normal(size=3)) for _ in range(3))
    lr = leaf(0.1)
    fn = _two_steps(RULE_OF[name], kwargs)
    assert ag.gradcheck(fn, (param, g1, g2, lr))
    assert ag.gradgradcheck(fn, (param, g1, g2, lr))


def test_adam_betas_can_be_tensors_and_are_differentiated():
    rng = np.random.default_rng(6)
    param, g1, g2 = (leaf(rng.normal(size=3)) for _ in range(3))
    b1, b2 = leaf(0.9), leaf(0.99)

    def fn(b1, b2):
        state = {}
        p = F.adam(param, g1, state, lr=0.1, betas=(b1, b2))
        return F.adam(p, g2, state, lr=0.1, betas=(b1, b2))
    assert ag.gradcheck(fn, (b1, b2))


# ---------------------------------------------------------------- hyper-gradients
def _toy_loss(w):
    """A smooth non-quadratic loss of a vector w."""
    return ((w - 1.0) ** 2).sum() + 0.5 * (ag.sin(3.0 * w)).sum()


def _unrolled(rule, lr, w0, steps=3, **kwargs):
    w = ag.Tensor(w0.copy(), requires_grad=True)
    state = {}
    for _ in range(steps):
        (g,) = ag.grad(_toy_loss(w), [w], create_graph=True)
        w = rule(w, g, state, lr=lr, **kwargs)
    return _toy_loss(w)


@pytest.mark.parametrize("rule,kwargs,lr0", [
    (F.sgd, {}, 0.1), (F.sgd, {"momentum": 0.9, "nesterov": True}, 0.05),
    (F.adam, {}, 0.1), (F.adam, {"amsgrad": True, "weight_decay": 0.1}, 0.1)])
def test_hypergradient_of_the_learning_rate_matches_finite_differences(rule, kwargs, lr0):
    w0 = np.array([0.3, -0.7, 1.9])
    lr = leaf(lr0)
    loss = _unrolled(rule, lr, w0, **kwargs)
    loss.backward()
    h = 1e-6
    up = _unrolled(rule, lr0 + h, w0, **kwargs).item()
    down = _unrolled(rule, lr0 - h, w0, **kwargs).item()
    numeric = (up - down) / (2 * h)
    assert abs(numeric) > 1e-3
    np.testing.assert_allclose(lr.grad.item(), numeric, rtol=1e-6, atol=1e-9)


def test_hypergradient_matches_the_design_example():
    """DESIGN.md's snippet, verbatim in spirit: three sgd steps, lr.grad = d loss / d lr."""
    w0 = ag.Tensor(np.array([1.5, -0.5]), requires_grad=True)
    lr = leaf(0.1)
    w, state = w0, {}
    for _ in range(3):
        (g,) = ag.grad(_toy_loss(w), [w], create_graph=True)
        w = optim.functional.sgd(w, g, state, lr=lr)
    _toy_loss(w).backward()
    assert lr.grad is not None and w0.grad is not None      # also d loss / d w0


class TinyMLP(nn.Module):
    """2 → 8 → 1 tanh network made of Parameters and autograd ops."""

    def __init__(self, rng):
        super().__init__()
        self.w1 = nn.Parameter(rng.normal(size=(8, 2)) / np.sqrt(2))
        self.b1 = nn.Parameter(np.zeros(8))
        self.w2 = nn.Parameter(rng.normal(size=(1, 8)) / np.sqrt(8))
        self.b2 = nn.Parameter(np.zeros(1))

    def forward(self, x):
        return ag.tanh(x @ self.w1.T + self.b1) @ self.w2.T + self.b2


def _mlp_data():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(32, 2))
    return ag.Tensor(x), ag.Tensor(np.sin(x[:, :1]) * np.cos(x[:, 1:]))


@pytest.mark.parametrize("rule", [F.sgd, F.adam])
def test_hypergradient_through_functional_call(rule):
    model = TinyMLP(np.random.default_rng(2))
    before = {k: p.data.copy() for k, p in model.named_parameters()}
    x, y = _mlp_data()

    def unrolled(lr):
        params = dict(model.named_parameters())
        states = {k: {} for k in params}
        for _ in range(3):
            loss = ((nn.functional_call(model, params, x) - y) ** 2).mean()
            grads = ag.grad(loss, list(params.values()), create_graph=True)
            params = {k: rule(p, g, states[k], lr=lr)
                      for (k, p), g in zip(params.items(), grads)}
        return ((nn.functional_call(model, params, x) - y) ** 2).mean()

    lr = leaf(0.05)
    unrolled(lr).backward()
    h = 1e-6
    numeric = (unrolled(0.05 + h).item() - unrolled(0.05 - h).item()) / (2 * h)
    assert abs(numeric) > 1e-3
    np.testing.assert_allclose(lr.grad.item(), numeric, rtol=1e-6)
    for k, p in model.named_parameters():  # the model itself was never modified,
        np.testing.assert_array_equal(p.data, before[k])
        assert p.grad is not None          # and d loss / d initial weights came along


# ---------------------------------------------------------------- convergence
def _rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] * p[0]) ** 2


# Tuned on the start (-1.5, 2), f = 12.5, for 500 steps; the bound each reaches, with margin.
ROSENBROCK = {
    "SGD": ({"lr": 2e-3, "momentum": 0.9}, 1e-3),
    "Momentum": ({"lr": 2e-2, "beta": 0.9}, 1e-3),
    "Adagrad": ({"lr": 2.0}, 0.1),
    "RMSprop": ({"lr": 1e-2, "alpha": 0.9}, 1.0),
    "Adadelta": ({"lr": 3.0}, 1.5),
    "Adam": ({"lr": 0.05, "betas": (0.9, 0.99)}, 0.01),
    "AdamW": ({"lr": 0.05, "betas": (0.9, 0.99), "weight_decay": 1e-3}, 0.05),
    "NAdam": ({"lr": 0.05, "betas": (0.9, 0.99)}, 0.1),
    # LAMB's steps scale with ‖θ‖, so it slows down crossing the origin (f ≈ 1 there).
    "LAMB": ({"lr": 0.02}, 1.1),
}


@pytest.mark.parametrize("name", ALL)
def test_each_optimizer_reduces_the_rosenbrock_function(name):
    kwargs, bound = ROSENBROCK[name]
    p = leaf([-1.5, 2.0])
    opt = getattr(optim, name)([p], **kwargs)
    for _ in range(500):
        opt.zero_grad()
        _rosenbrock(p).backward()
        opt.step()
    assert _rosenbrock(p).item() < bound


def test_lbfgs_minimises_the_rosenbrock_function():
    p = leaf([-1.5, 2.0])
    opt = optim.LBFGS([p], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(p)
        loss.backward()
        return loss
    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(p.data, [1.0, 1.0], atol=1e-4)


# Tuned for 100 steps of full-batch training; the initial loss is about 0.43.
MLP = {
    "SGD": {"lr": 0.1, "momentum": 0.9}, "Momentum": {"lr": 1.0, "beta": 0.9},
    "Adagrad": {"lr": 0.3}, "RMSprop": {"lr": 0.01}, "Adadelta": {"lr": 1.0},
    "Adam": {"lr": 0.03}, "AdamW": {"lr": 0.03}, "NAdam": {"lr": 0.01}, "LAMB": {"lr": 0.01},
}


@pytest.mark.parametrize("name", ALL)
def test_each_optimizer_trains_a_small_mlp(name):
    model = TinyMLP(np.random.default_rng(1))
    x, y = _mlp_data()
    opt = getattr(optim, name)(model.parameters(), **MLP[name])

    def loss():
        return ((model(x) - y) ** 2).mean()
    first = loss().item()
    for _ in range(100):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.15 * first


@pytest.mark.parametrize("line_search_fn,lr", [(None, 0.5), ("strong_wolfe", 1.0)])
def test_lbfgs_trains_a_small_mlp(line_search_fn, lr):
    model = TinyMLP(np.random.default_rng(1))
    x, y = _mlp_data()
    opt = optim.LBFGS(model.parameters(), lr=lr, line_search_fn=line_search_fn)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss
    first = closure().item()
    for _ in range(5):
        opt.step(closure)
    assert closure().item() < 0.05 * first


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", ALL + ["LBFGS"])
def test_negative_learning_rate(name):
    with pytest.raises(ValueError, match=f"{name}: invalid lr -0.1"):
        getattr(optim, name)([leaf([1.0])], lr=-0.1)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "NAdam", "LAMB"])
@pytest.mark.parametrize("betas", [(1.0, 0.999), (-0.1, 0.9), (0.9, 1.0), (0.9, 1.5)])
def test_betas_outside_unit_interval(name, betas):
    with pytest.raises(ValueError, match=rf"{name}: invalid betas\[\d\]"):
        getattr(optim, name)([leaf([1.0])], betas=betas)


@pytest.mark.parametrize("name,kwargs,match", [
    ("Adam", {"betas": 0.9}, "betas must be a pair"),
    ("SGD", {"lr": "0.1"}, "lr must be a real number"),
    ("SGD", {"lr": None}, "lr must be a real number"),
])
def test_hyperparameters_of_the_wrong_type(name, kwargs, match):
    with pytest.raises(TypeError, match=f"{name}: {match}"):
        getattr(optim, name)([leaf([1.0])], **kwargs)


@pytest.mark.parametrize("name,kwargs,arg", [
    ("Adam", {"eps": -1e-8}, "eps"), ("AdamW", {"weight_decay": -0.1}, "weight_decay"),
    ("SGD", {"momentum": -0.5}, "momentum"), ("SGD", {"weight_decay": -1.0}, "weight_decay"),
    ("Adagrad", {"lr_decay": -1.0}, "lr_decay"), ("Adagrad", {"eps": -1.0}, "eps"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ("RMSprop", {"alpha": -0.1}, "alpha"), ("RMSprop", {"momentum": -0.1}, "momentum"),
    ("Adadelta", {"rho": 1.5}, "rho"), ("NAdam", {"momentum_decay": -1.0}, "momentum_decay"),
    ("Momentum", {"beta": 1.0}, "beta"), ("LAMB", {"eps": -1.0}, "eps"),
    ("LBFGS", {"tolerance_grad": -1.0}, "tolerance_grad"),
    ("LBFGS", {"history_size": 0}, "history_size"),
    ("LBFGS", {"line_search_fn": "armijo"}, "line_search_fn"),
])
def test_invalid_hyperparameters(name, kwargs, arg):
    with pytest.raises(ValueError, match=f"{name}: .*{arg}"):
        getattr(optim, name)([leaf([1.0])], **kwargs)


def test_nesterov_needs_momentum_and_no_dampening():
    with pytest.raises(ValueError, match="SGD: nesterov=True requires momentum > 0"):
        optim.SGD([leaf([1.0])], nesterov=True)
    with pytest.raises(ValueError, match="dampening = 0"):
        optim.SGD([leaf([1.0])], momentum=0.9, dampening=0.1, nesterov=True)


def test_invalid_hyperparameter_in_a_group():
    opt = optim.Adam([leaf([1.0])])
    with pytest.raises(ValueError, match="Adam: invalid lr -1"):
        opt.add_param_group({"params": [leaf([2.0])], "lr": -1.0})
    with pytest.raises(ValueError, match=r"Adam: invalid betas\[1\]"):
        optim.Adam([{"params": [leaf([2.0])], "betas": (0.9, 1.0)}])


def test_parameters_that_cannot_be_optimized():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="SGD: can't optimize a non-leaf Tensor.*`mul`"):
        optim.SGD([x * 2.0])
    with pytest.raises(TypeError, match="Adam: can only optimize Tensors.*ndarray"):
        optim.Adam([np.ones(3)])
    with pytest.raises(ValueError, match="Adam: parameter 0 .* does not require grad"):
        optim.Adam([ag.Tensor(np.ones(3))])
    with pytest.raises(TypeError, match="SGD: params must be an iterable.*single Tensor"):
        optim.SGD(x)
    with pytest.raises(TypeError, match="ordered collection"):
        optim.SGD({x})
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="a parameter group must be a dict"):
        optim.SGD([x]).add_param_group([x])


def test_the_same_parameter_twice():
    a, b = leaf([1.0]), leaf([2.0])
    with pytest.raises(ValueError, match="Adam: some parameters appear in more than one"):
        optim.Adam([{"params": [a, b]}, {"params": [b]}])
    with pytest.raises(ValueError, match="SGD: .*same parameter more than once"):
        optim.SGD([a, a])
    opt = optim.SGD([a])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_lbfgs_needs_a_closure_and_one_group():
    w = leaf([1.0])
    opt = optim.LBFGS([w])
    with pytest.raises(ValueError, match="LBFGS.step: a closure is required"):
        opt.step()
    with pytest.raises(ValueError, match="LBFGS: doesn't support per-parameter options"):
        optim.LBFGS([{"params": [leaf([1.0])]}, {"params": [leaf([2.0])]}])
    with pytest.raises(ValueError, match="LBFGS: doesn't support per-parameter options"):
        opt.add_param_group({"params": [leaf([3.0])]})


def test_repr_lists_the_groups():
    text = repr(optim.Adam([leaf([1.0])], lr=0.5))
    assert text.startswith("Adam (") and "lr: 0.5" in text and "Parameter Group 0" in text


def test_state_is_a_plain_dict_the_rule_can_read():
    """The class's per-parameter state is exactly the dict handed to the rule."""
    w = leaf([1.0, 2.0])
    opt = optim.NAdam([w])
    w.grad = ag.Tensor(np.array([0.5, -0.5]))
    opt.step()
    state = copy.copy(opt.state[w])
    assert set(state) == {"step", "mu_product", "exp_avg", "exp_avg_sq"}
    assert state["step"] == 1 and isinstance(state["mu_product"], float)


# ---------------------------------------------------------------- in place vs recorded
# Under no_grad a rule updates the state tensors in place (and the classes let it write
# into the parameter); with grad mode on it builds the recorded expression. Both must
# give the same numbers, and state dicts must not alias the live state.
GRADS = np.random.default_rng(11).normal(size=(6, 3, 2))


def _tensors(state):
    return {k: v for k, v in state.items() if isinstance(v, ag.Tensor)}


def _value(x):
    return np.asarray(x.data if isinstance(x, ag.Tensor) else x)


@pytest.mark.parametrize("shape", [(3, 2), ()], ids=["matrix", "0-d"])
@pytest.mark.parametrize("name,kwargs", CASES)
def test_in_place_and_recorded_paths_give_the_same_numbers(name, kwargs, shape):
    rule = RULE_OF[name]
    start = np.random.default_rng(12).normal(size=(3, 2))[(...,) if shape else (0, 0)]
    recorded, in_place = leaf(start.copy()), leaf(start.copy())
    rec_state, inp_state = {}, {}
    for g in GRADS:
        grad = ag.Tensor(g[(...,) if shape else (0, 0)].copy())
        # Grad mode on: every state entry is rebound to a new tensor, none is modified.
        before = {k: (v, v.data.copy()) for k, v in _tensors(rec_state).items()}
        recorded = rule(recorded, grad, rec_state, **kwargs)
        assert recorded.grad_fn is not None
        for k, (old, value) in before.items():
            assert rec_state[k] is not old
            np.testing.assert_array_equal(old.data, value)
        # No grad: the state tensors are the same objects, updated in place.
        held = _tensors(inp_state)
        with ag.no_grad():
            new = rule(in_place, grad, inp_state, **kwargs)
        assert new.grad_fn is None and new is not in_place
        for k, t in held.items():
            assert inp_state[k] is t
        in_place = leaf(new.data)
        np.testing.assert_array_equal(in_place.data, recorded.data)
        assert rec_state.keys() == inp_state.keys()
        for k, v in rec_state.items():
            np.testing.assert_array_equal(_value(inp_state[k]), _value(v))


@pytest.mark.parametrize("name,kwargs", CASES)
def test_the_class_steps_a_0d_parameter_as_the_rule_does(name, kwargs):
    p, twin = leaf(0.5), leaf(0.5)
    opt = getattr(optim, name)([p], **kwargs)
    state = {}
    for g in GRADS[:, 0, 0]:
        p.grad = ag.Tensor(np.array(g))
        opt.step()
        twin = RULE_OF[name](twin, ag.Tensor(np.array(g)), state, **kwargs)   # recorded
        assert p.shape == () and p.is_leaf
        np.testing.assert_array_equal(p.data, twin.data)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_the_class_reuses_its_state_arrays(name, kwargs):
    params, loss = quadratic_problem()
    opt = getattr(optim, name)(params, **kwargs)
    run(opt, params, loss, 1)
    held = {id(p): {k: (t, t.data, t._version) for k, t in _tensors(opt.state[p]).items()}
            for p in params}
    run(opt, params, loss, 2)
    for p in params:
        for k, (t, arr, version) in held[id(p)].items():
            assert opt.state[p][k] is t and t.data is arr
            assert t._version > version            # in-place writes are versioned
            assert t.grad_fn is None and not t.requires_grad


@pytest.mark.parametrize("name,kwargs", CASES)
def test_state_dict_is_not_changed_by_later_steps(name, kwargs):
    params, loss = quadratic_problem()
    opt = getattr(optim, name)(params, **kwargs)
    run(opt, params, loss, 2)
    sd = opt.state_dict()
    saved = {i: {k: v.data.copy() for k, v in _tensors(entries).items()}
             for i, entries in sd["state"].items()}
    for i, p in enumerate(params):
        for k, t in _tensors(opt.state[p]).items():
            assert not np.shares_memory(sd["state"][i][k].data, t.data)
    run(opt, params, loss, 2)
    for i, entries in saved.items():
        for k, value in entries.items():
            np.testing.assert_array_equal(sd["state"][i][k].data, value)
    # Loading copies too: the dict handed in is not changed by later steps either.
    opt.load_state_dict(sd)
    run(opt, params, loss, 2)
    for i, entries in saved.items():
        for k, value in entries.items():
            np.testing.assert_array_equal(sd["state"][i][k].data, value)


def test_amsgrad_running_max_does_not_alias_the_second_moment():
    p = leaf([0.0, 0.0])
    opt = optim.Adam([p], lr=0.1, amsgrad=True)
    for g in ([1.0, 2.0], [0.0, 0.0], [0.0, 0.0]):      # v shrinks, its maximum stays
        p.grad = ag.Tensor(np.array(g))
        opt.step()
    state = opt.state[p]
    assert state["max_exp_avg_sq"] is not state["exp_avg_sq"]
    np.testing.assert_allclose(state["max_exp_avg_sq"].data, 0.001 * np.array([1.0, 4.0]))
    assert np.all(state["exp_avg_sq"].data < state["max_exp_avg_sq"].data)


@pytest.mark.parametrize("name", ALL)
def test_no_grad_rules_accept_tensor_hyperparameters(name):
    """Called under no_grad with a Tensor lr, a rule gives the numbers of a float lr."""
    kw = {"lr": 0.05}
    rule = RULE_OF[name]
    a, b = leaf(np.ones((3, 2))), leaf(np.ones((3, 2)))
    sa, sb = {}, {}
    with ag.no_grad():
        for g in GRADS[:3]:
            a = rule(a, ag.Tensor(g), sa, **kw)
            b = rule(b, ag.Tensor(g), sb, lr=ag.tensor(0.05, dtype=np.float64))
    np.testing.assert_allclose(b.data, a.data, rtol=1e-12)


def test_a_custom_rule_built_on_a_builtin_sees_the_old_parameter():
    """Only optim.functional's own rules write into the parameter: a rule of another
    module that calls one and reads the parameter again gets its old value."""
    def half_step(param, grad, state, *, lr=0.1):
        return 0.5 * (F.sgd(param, grad, state, lr=lr) + param)

    class HalfSGD(optim.Optimizer):
        rule = staticmethod(half_step)

        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

    p = leaf([1.0, 2.0])
    opt = HalfSGD([p], lr=0.1)
    p.grad = ag.Tensor(np.array([1.0, -1.0]))
    opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 0.05, 2.0 + 0.05])
    assert not optim.Optimizer._rule_is_ours and HalfSGD._rule_is_ours is False
    assert optim.Adam._rule_is_ours and optim.AdamW._rule_is_ours


def test_in_place_writes_keep_version_checks_right():
    """A state tensor used by a recorded graph and then updated in place by a class step
    is caught when that graph is differentiated."""
    w = leaf([1.0, 2.0])
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = ag.Tensor(np.array([1.0, 1.0]))
    opt.step()
    buf = opt.state[w]["momentum_buffer"]
    scale = leaf(2.0)
    y = (scale * buf).sum()                   # saves buf for d y / d scale
    w.grad = ag.Tensor(np.array([1.0, 1.0]))
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
