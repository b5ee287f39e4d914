"""Optimizer trajectories against PyTorch: 50 steps in float64, every option."""
import numpy as np
import pytest
import torch

import autograd as ag
import optim

STEPS = 50
RTOL = 1e-6

_rng = np.random.default_rng(7)
X = _rng.normal(size=(8, 4))
Y = _rng.normal(size=(8, 3)) * 0.5
W0 = _rng.normal(size=(3, 4)) * 0.5
B0 = _rng.normal(size=3) * 0.1


def loss_of(w, b, lib, x, y, sign=1.0):
    """A small tanh regression with a quartic penalty: curved, not too easy."""
    h = lib.tanh(x @ w.T + b)
    return sign * (((h - y) ** 2).mean() + 0.01 * (w ** 4).sum())


def ours(cls, kwargs, steps=STEPS, sign=1.0):
    w = ag.Tensor(W0.copy(), requires_grad=True)
    b = ag.Tensor(B0.copy(), requires_grad=True)
    x, y = ag.Tensor(X), ag.Tensor(Y)
    opt = cls([w, b], **kwargs)
    path = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(w, b, ag, x, y, sign).backward()
        opt.step()
        path.append(np.concatenate([w.data.ravel(), b.data.ravel()]))
    return np.array(path), opt


def theirs(cls, kwargs, steps=STEPS, sign=1.0):
    w = torch.tensor(W0.copy(), requires_grad=True)
    b = torch.tensor(B0.copy(), requires_grad=True)
    x, y = torch.tensor(X), torch.tensor(Y)
    opt = cls([w, b], **kwargs)
    path = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(w, b, torch, x, y, sign).backward()
        opt.step()
        path.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()]))
    return np.array(path), opt


def _cases():
    wd = [{}, {"weight_decay": 0.1}]
    table = {
        "SGD": [{"lr": 0.1}, {"lr": 0.05, "momentum": 0.9},
                {"lr": 0.05, "momentum": 0.9, "dampening": 0.5},
                {"lr": 0.05, "momentum": 0.9, "nesterov": True},
                {"lr": 0.1, "maximize": True},
                {"lr": 0.05, "momentum": 0.8, "nesterov": True, "maximize": True}],
        "Adagrad": [{}, {"lr": 0.1, "lr_decay": 0.05}, {"initial_accumulator_value": 0.2},
                    {"lr": 0.05, "eps": 1e-3}, {"maximize": True}],
        "RMSprop": [{}, {"momentum": 0.9, "lr": 1e-3}, {"centered": True},
                    {"centered": True, "momentum": 0.5, "lr": 1e-3}, {"alpha": 0.9},
                    {"maximize": True}],
        "Adadelta": [{}, {"rho": 0.5, "lr": 0.5}, {"eps": 1e-3}, {"maximize": True}],
        "Adam": [{"lr": 0.01}, {"lr": 0.01, "amsgrad": True},
                 {"lr": 0.02, "betas": (0.8, 0.9)}, {"lr": 0.01, "eps": 1e-3},
                 {"lr": 0.01, "maximize": True},
                 {"lr": 0.01, "amsgrad": True, "maximize": True}],
        "AdamW": [{"lr": 0.01}, {"lr": 0.01, "amsgrad": True},
                  {"lr": 0.01, "betas": (0.5, 0.8)}, {"lr": 0.01, "maximize": True}],
        "NAdam": [{}, {"lr": 0.01, "momentum_decay": 0.01}, {"betas": (0.8, 0.99)},
                  {"decoupled_weight_decay": True, "weight_decay": 0.1},
                  {"maximize": True}],
    }
    for name, configs in table.items():
        for cfg in configs:
            for extra in wd:
                if "weight_decay" in cfg and extra:
                    continue
                kwargs = {**cfg, **extra}
                label = name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())
                yield pytest.param(name, kwargs, id=label)
    # AdamW's own default weight decay, and none at all.
    yield pytest.param("AdamW", {"lr": 0.01, "weight_decay": 0.0}, id="AdamW-no-decay")


@pytest.mark.parametrize("name,kwargs", list(_cases()))
def test_trajectory_matches_torch(name, kwargs):
    sign = -1.0 if kwargs.get("maximize") else 1.0
    got, _ = ours(getattr(optim, name), kwargs, sign=sign)
    want, _ = theirs(getattr(torch.optim, name), kwargs, sign=sign)
    assert np.abs(got[-1] - got[0]).max() > 1e-3          # the parameters did move
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adagrad", {}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "lr": 1e-3}), ("Adadelta", {}),
    ("Adam", {"amsgrad": True}), ("AdamW", {}), ("NAdam", {})])
def test_state_layout_matches_torch(name, kwargs):
    _, mine = ours(getattr(optim, name), kwargs, steps=3)
    _, ref = theirs(getattr(torch.optim, name), kwargs, steps=3)
    sd_mine, sd_ref = mine.state_dict(), ref.state_dict()
    assert sorted(sd_mine["state"]) == sorted(sd_ref["state"]) == [0, 1]
    for i in (0, 1):
        assert set(sd_mine["state"][i]) == set(sd_ref["state"][i])
        for key, v in sd_ref["state"][i].items():
            mine_v = sd_mine["state"][i][key]          # a Tensor, or a number (step)
            np.testing.assert_allclose(np.asarray(getattr(mine_v, "data", mine_v)),
                                       v.numpy(), rtol=1e-10)
    assert sd_mine["param_groups"][0]["params"] == sd_ref["param_groups"][0]["params"]
    for key, v in sd_mine["param_groups"][0].items():
        assert sd_ref["param_groups"][0][key] == v


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.05, "momentum": 0.9}),
                                         ("Adam", {"lr": 0.01, "amsgrad": True}),
                                         ("NAdam", {}), ("RMSprop", {"centered": True})])
def test_loads_a_torch_state_dict_and_continues_torch_trajectory(name, kwargs):
    want, ref = theirs(getattr(torch.optim, name), kwargs, steps=20)
    w = ag.Tensor(want[9][:12].reshape(3, 4).copy(), requires_grad=True)
    b = ag.Tensor(want[9][12:].copy(), requires_grad=True)
    # Re-run torch for 10 steps to get its state at step 10.
    _, ref10 = theirs(getattr(torch.optim, name), kwargs, steps=10)
    opt = getattr(optim, name)([w, b], **kwargs)
    opt.load_state_dict(ref10.state_dict())
    x, y = ag.Tensor(X), ag.Tensor(Y)
    for k in range(10, 20):
        opt.zero_grad()
        loss_of(w, b, ag, x, y).backward()
        opt.step()
        got = np.concatenate([w.data.ravel(), b.data.ravel()])
        np.testing.assert_allclose(got, want[k], rtol=RTOL, atol=1e-12)


def test_param_groups_with_their_own_options_match_torch():
    def run(mod, make, ops, values):
        w, b = make(W0.copy()), make(B0.copy())
        opt = mod.Adam([{"params": [w], "lr": 0.02, "amsgrad": True},
                        {"params": [b], "weight_decay": 0.3}], lr=0.005)
        x, y = make(X, False), make(Y, False)
        out = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss_of(w, b, ops, x, y).backward()
            opt.step()
            out.append(np.concatenate([values(w).ravel(), values(b).ravel()]))
        return np.array(out)

    got = run(optim, lambda a, grad=True: ag.Tensor(a, requires_grad=grad), ag,
              lambda t: t.data)
    want = run(torch.optim, lambda a, grad=True: torch.tensor(a, requires_grad=grad), torch,
               lambda t: t.detach().numpy())
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)


# ---------------------------------------------------------------- LBFGS
def _lbfgs_run(mod, kwargs, steps):
    if mod is optim:
        w = ag.Tensor(W0.copy(), requires_grad=True)
        b = ag.Tensor(B0.copy(), requires_grad=True)
        xs, ys, ops = ag.Tensor(X), ag.Tensor(Y), ag
    else:
        w = torch.tensor(W0.copy(), requires_grad=True)
        b = torch.tensor(B0.copy(), requires_grad=True)
        xs, ys, ops = torch.tensor(X), torch.tensor(Y), torch
    opt = mod.LBFGS([w, b], **kwargs)
    evals = [0]

    def closure():
        evals[0] += 1
        opt.zero_grad()
        loss = loss_of(w, b, ops, xs, ys)
        loss.backward()
        return loss

    path, losses = [], []
    for _ in range(steps):
        losses.append(opt.step(closure).item())
        path.append(np.concatenate([np.asarray(w.data if mod is optim else w.detach()).ravel(),
                                    np.asarray(b.data if mod is optim else b.detach()).ravel()]))
    return np.array(path), np.array(losses), evals[0]


@pytest.mark.parametrize("kwargs,steps", [
    ({"max_iter": 2}, 50),
    ({"max_iter": 2, "lr": 0.5, "history_size": 3}, 50),
    ({"max_iter": 3, "line_search_fn": "strong_wolfe"}, 50),
    ({"max_iter": 4, "line_search_fn": "strong_wolfe", "history_size": 2}, 50),
    ({}, 3),
    ({"line_search_fn": "strong_wolfe"}, 3),
    ({"tolerance_grad": 1e-3, "tolerance_change": 1e-4}, 5),
    # A tiny first trial step makes the line search extrapolate before it brackets.
    ({"lr": 0.01, "max_iter": 5, "line_search_fn": "strong_wolfe"}, 20),
], ids=["fixed-step", "short-history", "wolfe", "wolfe-short-history", "default",
        "wolfe-default", "tolerances", "wolfe-extrapolates"])
def test_lbfgs_trajectory_matches_torch(kwargs, steps):
    got, got_loss, got_evals = _lbfgs_run(optim, kwargs, steps)
    want, want_loss, want_evals = _lbfgs_run(torch.optim, kwargs, steps)
    assert got_evals == want_evals
    np.testing.assert_allclose(got_loss, want_loss, rtol=RTOL)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-10)
    assert got_loss[-1] < 0.5 * got_loss[0]
