"""Learning-rate schedules: closed forms, plateau logic, state dicts, bad input.
(Sequences against PyTorch: tests/reference/test_lr_scheduler_torch.py.)"""
import math

import numpy as np
import pytest

import autograd as ag
import optim
from optim import lr_scheduler as S


def sgd(lr=0.1, groups=1):
    return optim.SGD([{"params": [ag.Tensor(np.ones(2), requires_grad=True)],
                       "lr": lr * (i + 1)} for i in range(groups)])


def lrs(sched, epochs=30):
    """Rates for epochs 0..epochs (the value set at creation comes first)."""
    out = [sched.get_last_lr()[0]]
    for _ in range(epochs):
        sched.optimizer.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return np.array(out)


t = np.arange(31)


def test_step_lr_is_step_decay():
    np.testing.assert_allclose(lrs(S.StepLR(sgd(), step_size=7, gamma=0.5)),
                               0.1 * 0.5 ** (t // 7), rtol=1e-12)


def test_multistep_lr_counts_milestones_passed():
    got = lrs(S.MultiStepLR(sgd(), milestones=[5, 12, 12], gamma=0.1))
    np.testing.assert_allclose(got, 0.1 * 0.1 ** ((t >= 5) + 2 * (t >= 12)), rtol=1e-12)


def test_exponential_lr():
    np.testing.assert_allclose(lrs(S.ExponentialLR(sgd(), gamma=0.9)), 0.1 * 0.9 ** t,
                               rtol=1e-12)


def test_cosine_annealing_follows_the_closed_form_within_a_period():
    got = lrs(S.CosineAnnealingLR(sgd(), T_max=30, eta_min=0.01))
    np.testing.assert_allclose(got, 0.01 + 0.5 * 0.09 * (1 + np.cos(np.pi * t / 30)),
                               rtol=1e-12)
    # Past T_max it climbs back (the recursion continues the cosine periodically).
    more = lrs(S.CosineAnnealingLR(sgd(), T_max=10), epochs=20)
    np.testing.assert_allclose(more, 0.05 * (1 + np.cos(np.pi * np.arange(21) / 10)),
                               rtol=1e-9, atol=1e-15)


def test_warm_restarts():
    got = lrs(S.CosineAnnealingWarmRestarts(sgd(), T_0=3, T_mult=2, eta_min=0.0))
    # Periods 3, 6, 12, 24: restarts at epochs 3, 9, 21.
    starts = [0, 3, 9, 21, 45]
    want = []
    for e in t:
        k = max(i for i, s in enumerate(starts) if s <= e)
        want.append(0.05 * (1 + math.cos(math.pi * (e - starts[k]) / (3 * 2 ** k))))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[3] == got[9] == got[21] == 0.1


def test_linear_warmup_reaches_the_base_rate_and_stays():
    got = lrs(S.LinearLR(sgd(), start_factor=0.25, total_iters=4))
    want = 0.1 * (0.25 + 0.75 * np.minimum(t, 4) / 4)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_lambda_lr_per_group():
    opt = sgd(groups=2)
    sched = S.LambdaLR(opt, [lambda e: 1.0 / (e + 1), lambda e: 0.5])
    for _ in range(3):
        opt.step()
        sched.step()
    np.testing.assert_allclose(sched.get_last_lr(), [0.1 / 4, 0.2 * 0.5])
    assert sched.last_epoch == 3


def test_schedulers_set_the_optimizers_rate_and_record_initial_lr():
    opt = sgd(groups=2)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.2]
    opt.step()
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.1] == sched.get_last_lr()
    assert sched.base_lrs == [0.1, 0.2]


def test_two_schedulers_on_one_optimizer_compose():
    opt = sgd()
    a = S.ExponentialLR(opt, gamma=0.5)
    b = S.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(4):
        opt.step()
        a.step()
        b.step()
    np.testing.assert_allclose(opt.param_groups[0]["lr"], 0.1 * 0.5 ** 4 * 0.1 ** 2)


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, step_size=3, gamma=0.5),
    lambda o: S.CosineAnnealingLR(o, T_max=7),
    lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    lambda o: S.LinearLR(o, total_iters=10),
    lambda o: S.MultiStepLR(o, milestones=[4, 9]),
], ids=["step", "cosine", "restarts", "linear", "multistep"])
def test_state_dict_resumes_the_schedule(make):
    opt = sgd()
    sched = make(opt)
    first = lrs(sched, 8)
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    rest = lrs(sched, 12)[1:]
    assert "optimizer" not in saved_sched
    opt2 = sgd()
    sched2 = make(opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    assert sched2.get_last_lr()[0] == first[-1]
    np.testing.assert_array_equal(lrs(sched2, 12)[1:], rest)


def test_lambda_lr_state_dict_saves_callable_objects_not_functions():
    class Warmup:
        def __init__(self):
            self.scale = 2.0

        def __call__(self, epoch):
            return self.scale * epoch

    opt = sgd(groups=2)
    obj = Warmup()
    sched = S.LambdaLR(opt, [lambda e: 1.0, obj])
    obj.scale = 3.0
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"scale": 3.0}]
    fresh = Warmup()
    S.LambdaLR(sgd(groups=2), [lambda e: 1.0, fresh]).load_state_dict(sd)
    assert fresh.scale == 3.0


# ---------------------------------------------------------------- ReduceLROnPlateau
def test_reduce_on_plateau_waits_patience_epochs():
    opt = sgd()
    sched = S.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    seen = []
    for m in [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]:
        sched.step(m)
        seen.append(sched.get_last_lr()[0])
    # Best 0.9 at epoch 2; bad epochs 3, 4, 5 -> cut after the third; again after 3 more.
    np.testing.assert_allclose(seen, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])


def test_reduce_on_plateau_cooldown_min_lr_and_max_mode():
    opt = sgd()
    sched = S.ReduceLROnPlateau(opt, mode="max", patience=0, cooldown=2, factor=0.1,
                                min_lr=0.002)
    seen = []
    for m in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:
        sched.step(m)
        seen.append(sched.get_last_lr()[0])
    # Cut at epoch 2, two cooldown epochs, cut again (floored at min_lr), cooldown again.
    np.testing.assert_allclose(seen, [0.1, 0.01, 0.01, 0.01, 0.002, 0.002, 0.002])
    assert sched.best == 1.0 and not sched.in_cooldown


def test_reduce_on_plateau_thresholds():
    rel = S.ReduceLROnPlateau(sgd(), patience=0, threshold=0.1)
    rel.step(1.0)
    rel.step(0.95)          # not 10 % better: a bad epoch, and patience is 0
    assert rel.get_last_lr()[0] == pytest.approx(0.01)
    absolute = S.ReduceLROnPlateau(sgd(), patience=0, threshold=0.01, threshold_mode="abs")
    absolute.step(1.0)
    absolute.step(0.98)     # better by more than 0.01
    assert absolute.get_last_lr()[0] == 0.1


# ---------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(TypeError, match="StepLR: expected an optim.Optimizer"):
        S.StepLR("not an optimizer", step_size=2)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer"):
        S.StepLR(sgd(), step_size=0)
    with pytest.raises(ValueError, match="LinearLR: start_factor"):
        S.LinearLR(sgd(), start_factor=0.0)
    with pytest.raises(ValueError, match="LinearLR: end_factor"):
        S.LinearLR(sgd(), end_factor=1.5)
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts: T_0"):
        S.CosineAnnealingWarmRestarts(sgd(), T_0=0)
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts: T_mult"):
        S.CosineAnnealingWarmRestarts(sgd(), T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="LambdaLR: expected 2 lr_lambdas"):
        S.LambdaLR(sgd(groups=2), [lambda e: 1.0])
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor must be < 1.0"):
        S.ReduceLROnPlateau(sgd(), factor=1.0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: mode"):
        S.ReduceLROnPlateau(sgd(), mode="up")
    with pytest.raises(ValueError, match="ReduceLROnPlateau: threshold_mode"):
        S.ReduceLROnPlateau(sgd(), threshold_mode="percent")
    with pytest.raises(ValueError, match="expected 2 min_lrs"):
        S.ReduceLROnPlateau(sgd(groups=2), min_lr=[0.1])
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(sgd(), step_size=2, last_epoch=5)
