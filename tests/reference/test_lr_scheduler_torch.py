"""Learning-rate schedules against PyTorch: 30 epochs, every scheduler, two groups."""
import math

import numpy as np
import pytest
import torch

import autograd as ag
import optim
from optim import lr_scheduler as ours_lr

EPOCHS = 30


def _optimizers(lrs=(0.1, 0.03), **kwargs):
    mine = optim.SGD([{"params": [ag.Tensor(np.ones(2), requires_grad=True)], "lr": lr}
                      for lr in lrs], momentum=0.9, **kwargs)
    ref = torch.optim.SGD([{"params": [torch.ones(2, requires_grad=True)], "lr": lr}
                           for lr in lrs], momentum=0.9, **kwargs)
    return mine, ref


def _lambda(epoch):
    return 0.9 ** epoch + 0.1 * (epoch % 3)


CASES = [
    ("StepLR", {"step_size": 7}), ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [3, 8, 8, 20], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),                 # runs past T_max: periodic
    ("CosineAnnealingLR", {"T_max": 30, "eta_min": 1e-3}),
    ("CosineAnnealingWarmRestarts", {"T_0": 5}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 1e-3}),
    ("LinearLR", {}), ("LinearLR", {"start_factor": 0.1, "total_iters": 10}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 25}),
    ("LambdaLR", {"lr_lambda": _lambda}),
    ("LambdaLR", {"lr_lambda": [_lambda, lambda e: 1.0 / (e + 1)]}),
]


def _sequence(sched, opt):
    out = [sched.get_last_lr()]
    for _ in range(EPOCHS):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return np.array(out)


@pytest.mark.parametrize("name,kwargs", CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_learning_rates_match_torch(name, kwargs):
    mine, ref = _optimizers()
    got = _sequence(getattr(ours_lr, name)(mine, **kwargs), mine)
    want = _sequence(getattr(torch.optim.lr_scheduler, name)(ref, **kwargs), ref)
    assert np.ptp(want[:, 0]) > 0                        # the schedule does change the rate
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose([g["lr"] for g in mine.param_groups],
                               [g["lr"] for g in ref.param_groups], rtol=1e-12)


def test_chained_schedulers_match_torch():
    """Warm-up then exponential decay, both stepping the same optimizer every epoch."""
    def run(mod, opt):
        a = mod.LinearLR(opt, start_factor=0.2, total_iters=5)
        b = mod.ExponentialLR(opt, gamma=0.95)
        c = mod.MultiStepLR(opt, milestones=[12], gamma=0.5)
        out = []
        for _ in range(EPOCHS):
            opt.step()
            for s in (a, b, c):
                s.step()
            out.append([g["lr"] for g in opt.param_groups])
        return np.array(out)

    mine, ref = _optimizers()
    np.testing.assert_allclose(run(ours_lr, mine), run(torch.optim.lr_scheduler, ref),
                               rtol=1e-12)


@pytest.mark.parametrize("kwargs", [
    {}, {"patience": 2, "factor": 0.5}, {"patience": 1, "cooldown": 3, "min_lr": 0.02},
    {"mode": "max", "patience": 2, "threshold": 0.1, "threshold_mode": "abs"},
    {"patience": 0, "threshold": 0.05, "min_lr": [0.01, 0.001]}])
def test_reduce_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(4)
    metrics = np.concatenate([np.linspace(1.0, 0.5, 8), 0.5 + 0.02 * rng.normal(size=22)])
    mine, ref = _optimizers()
    a = ours_lr.ReduceLROnPlateau(mine, **kwargs)
    b = torch.optim.lr_scheduler.ReduceLROnPlateau(ref, **kwargs)
    got, want = [], []
    for m in metrics:
        mine.step()
        ref.step()
        a.step(m)
        b.step(m)
        got.append(a.get_last_lr())
        want.append(b.get_last_lr())
        assert a.num_bad_epochs == b.num_bad_epochs and a.best == b.best
    assert np.ptp(np.array(want)[:, 0]) > 0
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", {"step_size": 4}), ("MultiStepLR", {"milestones": [2, 9]}),
    ("ExponentialLR", {"gamma": 0.8}), ("CosineAnnealingLR", {"T_max": 12}),
    ("LinearLR", {"total_iters": 8})])
def test_step_with_an_epoch_uses_torchs_closed_form(name, kwargs):
    mine, ref = _optimizers()
    a = getattr(ours_lr, name)(mine, **kwargs)
    b = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    for epoch in (3, 7, 1, 11, 20):
        with pytest.warns(UserWarning):
            a.step(epoch)
        with pytest.warns(UserWarning):
            b.step(epoch)
        np.testing.assert_allclose(a.get_last_lr(), b.get_last_lr(), rtol=1e-12)


@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_with_fractional_epochs_match_torch(T_mult):
    mine, ref = _optimizers()
    a = ours_lr.CosineAnnealingWarmRestarts(mine, T_0=4, T_mult=T_mult, eta_min=0.001)
    b = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ref, T_0=4, T_mult=T_mult,
                                                             eta_min=0.001)
    for epoch in np.arange(0, 20, 0.25):
        a.step(float(epoch))
        b.step(float(epoch))
        np.testing.assert_allclose(a.get_last_lr(), b.get_last_lr(), rtol=1e-12)
        assert a.last_epoch == b.last_epoch and math.isclose(a.T_cur, b.T_cur)
