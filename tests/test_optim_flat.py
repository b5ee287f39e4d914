"""optim.flat: a group of small parameters stepped as one flat array gives the numbers
of the per-parameter loop to the last bit, keeps the per-parameter state that
Optimizer.state shows and state_dict saves, and steps back to the loop whenever the
group or its state no longer qualifies."""
import numpy as np
import pytest

import autograd as ag
import optim
from optim import flat

from test_optim import CASES

SHAPES = [(3, 4), (4,), (2, 3, 2), ()]


def make_params(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [ag.Tensor(rng.normal(size=s).astype(dtype), requires_grad=True) for s in SHAPES]


def set_grads(params, step, skip=None):
    rng = np.random.default_rng(100 + step)
    for i, p in enumerate(params):
        p.grad = None if i == skip else ag.Tensor(
            rng.normal(size=p.data.shape).astype(p.data.dtype))


def snapshot(opt, params):
    out = [p.data.copy() for p in params]
    for p in params:
        for k, v in sorted(opt.state.get(p, {}).items()):
            out.append((k, np.array(v.data if isinstance(v, ag.Tensor) else v)))
    return out


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, tuple):
            assert x[0] == y[0]
            x, y = x[1], y[1]
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)     # bit for bit (NaN-free values)


def trajectory(name, kwargs, steps=5, skip_at=None, flat_on=True, monkeypatch=None,
               between=None):
    if not flat_on:
        monkeypatch.setattr(flat, "AVERAGE_MAX", 0)
    params = make_params()
    opt = getattr(optim, name)(params, **kwargs)
    snaps = []
    for k in range(steps):
        set_grads(params, k, skip=1 if k == skip_at else None)
        opt.step()
        if between is not None:
            opt = between(k, opt, params) or opt
        snaps.append(snapshot(opt, params))
    if not flat_on:
        monkeypatch.undo()
    return opt, params, snaps


@pytest.mark.parametrize("name,kwargs", CASES)
def test_the_flat_step_gives_the_per_parameter_numbers(name, kwargs, monkeypatch):
    opt, params, got = trajectory(name, kwargs)
    _, _, want = trajectory(name, kwargs, flat_on=False, monkeypatch=monkeypatch)
    for a, b in zip(got, want):
        assert_same(a, b)
    if name == "LAMB":      # a trust ratio per tensor: never flat
        assert not opt._flat
        return
    (record,) = opt._flat.values()
    for p in params:        # the state shown per parameter is a view of the flat state
        for k, v in opt.state[p].items():
            if isinstance(v, ag.Tensor):
                assert np.shares_memory(v.data, record.state[k].data)
                assert v.shape == p.shape


@pytest.mark.parametrize("name,kwargs", [c for c in CASES if c.values[0] != "LAMB"])
def test_a_parameter_without_a_gradient_sends_the_group_back_to_the_loop(name, kwargs,
                                                                          monkeypatch):
    # Its step count falls behind the others', so the group cannot be flat again.
    _, _, got = trajectory(name, kwargs, steps=6, skip_at=2)
    _, _, want = trajectory(name, kwargs, steps=6, skip_at=2, flat_on=False,
                            monkeypatch=monkeypatch)
    for a, b in zip(got, want):
        assert_same(a, b)


@pytest.mark.parametrize("name,kwargs", [c for c in CASES if c.values[0] != "LAMB"])
def test_load_state_dict_and_a_replaced_state_tensor_are_followed(name, kwargs, monkeypatch):
    def between(k, opt, params):
        if k == 1:      # a new optimizer restored from the state dict
            new = getattr(optim, name)(params, **kwargs)
            new.load_state_dict(opt.state_dict())
            return new
        if k == 3:      # a state tensor replaced by the user
            p = params[2]
            for key, v in opt.state[p].items():
                if isinstance(v, ag.Tensor):
                    opt.state[p][key] = ag.Tensor(v.data * 0.5)
        return None

    _, _, got = trajectory(name, kwargs, steps=6, between=between)
    _, _, want = trajectory(name, kwargs, steps=6, between=between, flat_on=False,
                            monkeypatch=monkeypatch)
    for a, b in zip(got, want):
        assert_same(a, b)


def test_state_tensors_written_by_the_flat_step_are_versioned_and_kept():
    params = make_params()
    opt = optim.Adam(params)
    set_grads(params, 0)
    opt.step()
    held = {id(p): (opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]) for p in params}
    versions = [(m._version, v._version) for m, v in held.values()]
    arrays = [p.data for p in params]
    set_grads(params, 1)
    opt.step()
    for p, a, (m0, v0) in zip(params, arrays, versions):
        m, v = held[id(p)]
        assert opt.state[p]["exp_avg"] is m and opt.state[p]["exp_avg_sq"] is v
        assert m._version > m0 and v._version > v0
        assert p.data is a and p._version >= 2      # updated in place, versioned
    saved = opt.state_dict()["state"][0]["exp_avg"]
    assert not np.shares_memory(saved.data, held[id(params[0])][0].data)   # a copy


def test_groups_that_do_not_qualify_are_stepped_per_parameter(monkeypatch):
    def stepped_flat(params, **kw):
        opt = optim.Adam(params, **kw)
        for p in params:
            p.grad = ag.Tensor(np.ones_like(p.data))
        opt.step()
        return bool(opt._flat)

    assert stepped_flat(make_params())
    assert not stepped_flat(make_params()[:1])                     # one parameter
    mixed = make_params()
    mixed[0] = ag.Tensor(mixed[0].data.astype(np.float64), requires_grad=True)
    assert not stepped_flat(mixed)                                 # two dtypes
    base = np.zeros(20, np.float32)
    views = [ag.Tensor(base[:10], requires_grad=True), ag.Tensor(base[10:], requires_grad=True)]
    assert not stepped_flat(views)                                 # views of one array
    shared = make_params()
    shared[1] = ag.Tensor(shared[0].data, requires_grad=True)
    assert not stepped_flat(shared)                                # one array twice
    big = [ag.Tensor(np.zeros(flat.AVERAGE_MAX + 1, np.float32), requires_grad=True)
           for _ in range(2)]
    assert not stepped_flat(big)                                   # large on average
    frozen = make_params()
    frozen[2].data.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):             # the loop's error
        stepped_flat(frozen)


def test_two_parameters_sharing_an_array_are_updated_one_after_the_other(monkeypatch):
    def run(flat_on):
        if not flat_on:
            monkeypatch.setattr(flat, "AVERAGE_MAX", 0)
        a = ag.Tensor(np.ones(3, np.float32), requires_grad=True)
        b = ag.Tensor(a.data, requires_grad=True)
        opt = optim.SGD([a, b], lr=0.5)
        a.grad, b.grad = ag.Tensor(np.ones(3, np.float32)), ag.Tensor(np.ones(3, np.float32))
        opt.step()
        monkeypatch.undo()
        return a.data.copy()

    np.testing.assert_array_equal(run(True), run(False))
    np.testing.assert_array_equal(run(True), 0.0)       # both updates applied
