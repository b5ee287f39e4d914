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

SHAPES = [(3, 4), (4,), (2, 3, 2), (1,)]


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
        assert not getattr(opt, "_flat", None)
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
    scalar = make_params()
    scalar[3] = ag.Tensor(np.float32(2.0), requires_grad=True)
    assert not stepped_flat(scalar)         # 0-d: NumPy 1 computes it in float64
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


def test_clearing_the_state_starts_it_again_and_it_stays_in_optimizer_state(monkeypatch):
    def between(k, opt, params):
        if k == 0:
            opt.state.clear()
        if k == 1:
            opt.param_groups[0]["momentum"] = 0.9
        return None

    opt, params, got = trajectory("SGD", {"lr": 0.1}, steps=5, between=between)
    _, _, want = trajectory("SGD", {"lr": 0.1}, steps=5, between=between, flat_on=False,
                            monkeypatch=monkeypatch)
    for a, b in zip(got, want):
        assert_same(a, b)
    assert all("momentum_buffer" in opt.state[p] for p in params)
    assert set(opt.state_dict()["state"]) == {0, 1, 2, 3}


def test_a_state_tensor_held_by_the_user_keeps_following_the_steps():
    params = make_params()
    opt = optim.Adam(params)
    set_grads(params, 0)
    opt.step()
    opt.load_state_dict(opt.state_dict())               # new state: made flat again
    m = opt.state[params[1]]["exp_avg"]
    before = m.data.copy()
    set_grads(params, 1)
    opt.step()
    assert opt.state[params[1]]["exp_avg"] is m and not np.array_equal(m.data, before)
    params[0].data = params[0].data.copy()              # a parameter's array replaced
    before = m.data.copy()
    set_grads(params, 2)
    opt.step()
    assert opt.state[params[1]]["exp_avg"] is m and not np.array_equal(m.data, before)
    assert opt.state[params[1]]["step"] == 3


def test_a_parameter_stepped_alone_leaves_the_others_state_versions_alone():
    w, v = make_params()[:2]
    scale = ag.Tensor(np.float32(2.0), requires_grad=True)
    opt = optim.SGD([w, v], lr=0.1, momentum=0.9)
    set_grads([w, v], 0)
    opt.step()                                          # flat
    y = (scale * opt.state[v]["momentum_buffer"]).sum()     # saves v's buffer
    v.grad = None
    set_grads([w], 1)
    opt.step()                                          # w alone, per parameter
    y.backward()                                        # v's buffer was not written
    assert scale.grad is not None


def test_array_gradients_set_by_hand_and_optimizers_without_the_flat_record():
    params = make_params()
    opt = optim.Adam(params)
    for p in params:
        p.grad = np.ones_like(p.data)                   # not a Tensor: per parameter
    opt.step()
    set_grads(params, 1)
    opt.step()
    del opt._flat                                       # as an optimizer pickled before
    opt.step()
    assert all(opt.state[p]["step"] == 3 for p in params)


def test_records_of_removed_groups_are_dropped():
    params = make_params()
    opt = optim.Adam(params[:2])
    for _ in range(20):
        opt.add_param_group({"params": params[2:]})
        set_grads(params, 0)
        opt.step()
        opt.param_groups.pop()
    set_grads(params, 1)
    opt.step()
    assert len(opt._flat) <= len(opt.param_groups)


def test_a_gradient_that_is_a_parameters_array_is_stepped_per_parameter(monkeypatch):
    def run(flat_on):
        if not flat_on:
            monkeypatch.setattr(flat, "AVERAGE_MAX", 0)
        params = [ag.Tensor(np.full(4, v, np.float32), requires_grad=True)
                  for v in (1.0, 2.0, 3.0)]
        opt = optim.SGD(params, lr=0.5)
        params[0].grad = ag.Tensor(np.ones(4, np.float32))
        params[1].grad = ag.Tensor(params[0].data)      # read after params[0] is updated
        params[2].grad = ag.Tensor(params[0].data[::-1])    # a view of it
        opt.step()
        monkeypatch.undo()
        return [p.data.copy() for p in params]

    for a, b in zip(run(True), run(False)):
        np.testing.assert_array_equal(a, b)


def test_an_error_in_the_rule_leaves_the_state_consistent_and_the_parameters_alone():
    params = make_params(np.float16)
    opt = optim.Adam(params)
    set_grads(params, 0)
    opt.step()
    before = [p.data.copy() for p in params]
    for p in params:
        p.grad = ag.Tensor(np.full(p.shape, 1e4, np.float16))
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        opt.step()                                      # g² overflows float16
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.data, b)
    steps = {opt.state[p]["step"] for p in params}
    assert steps == {2}                                 # counted with the moments
    set_grads(params, 2)
    with np.errstate(all="ignore"):                     # (the moments hold inf now)
        opt.step()
    assert isinstance(opt._flat[id(opt.param_groups[0])], flat.Flat)


def _record(opt):
    return opt._flat.get(id(opt.param_groups[0]))


def test_a_group_stepped_per_parameter_goes_flat_again_when_its_state_agrees():
    params = make_params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    set_grads(params, 0, skip=1)        # one parameter gets no momentum buffer yet
    opt.step()
    set_grads(params, 1)
    opt.step()                          # the states differ: per parameter
    assert isinstance(_record(opt), flat.PerParameter)
    set_grads(params, 2)
    opt.step()                          # every parameter has a buffer now (no step counts)
    assert isinstance(_record(opt), flat.Flat)
    adam = optim.Adam(params)
    set_grads(params, 0, skip=1)
    adam.step()
    set_grads(params, 1)
    adam.step()                         # step counts 2 and 1: per parameter for good
    assert isinstance(_record(adam), flat.PerParameter)
    adam.state.clear()                  # until the state changes shape
    set_grads(params, 2)
    adam.step()
    assert isinstance(_record(adam), flat.Flat)


def test_a_pickled_or_copied_optimizer_steps_its_own_parameters():
    import copy
    import pickle
    params = make_params()
    opt = optim.Adam(params)
    set_grads(params, 0)
    opt.step()
    for clone in (pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        assert "_flat" not in clone.__dict__
        ps = clone.param_groups[0]["params"]
        before = [p.data.copy() for p in ps]
        set_grads(ps, 1)
        clone.step()
        assert all(not np.array_equal(p.data, b) for p, b in zip(ps, before))
        assert clone.state[ps[0]]["step"] == 2


def test_replacing_a_parameters_array_or_a_state_tensors_array_is_followed(monkeypatch):
    def between(k, opt, params):
        if k == 0:
            params[0].data = params[0].data.copy()
        if k == 2:
            t = opt.state[params[2]]["exp_avg"]
            t.data = t.data * 2.0               # the Tensor kept, its array replaced
        return None

    opt, params, got = trajectory("Adam", {}, steps=5, between=between)
    _, _, want = trajectory("Adam", {}, steps=5, between=between, flat_on=False,
                            monkeypatch=monkeypatch)
    for a, b in zip(got, want):
        assert_same(a, b)


def stepped_once(flat_on, monkeypatch):
    """Three parameters under SGD with momentum after one step, flat unless ``flat_on``
    is False (then the loop: monkeypatch.undo() restores the flat step)."""
    if not flat_on:
        monkeypatch.setattr(flat, "AVERAGE_MAX", 0)
    params = [ag.Tensor(np.full(4, v, np.float32), requires_grad=True)
              for v in (1.0, 2.0, 3.0)]
    opt = optim.SGD(params, lr=0.5, momentum=0.9)
    for p in params:
        p.grad = ag.Tensor(np.ones(4, np.float32))
    opt.step()
    return params, opt


def test_a_gradient_that_views_a_parameter_or_is_a_state_tensor_goes_per_parameter(
        monkeypatch):
    def run(flat_on, how):
        params, opt = stepped_once(flat_on, monkeypatch)
        opt.load_state_dict(opt.state_dict())
        if how == "view":
            params[2].grad = ag.Tensor(params[0].data[::-1])
        else:
            params[1].grad = opt.state[params[0]]["momentum_buffer"]
        opt.step()
        monkeypatch.undo()
        return [p.data.copy() for p in params]

    for how in ("view", "state"):
        for a, b in zip(run(True, how), run(False, how)):
            np.testing.assert_array_equal(a, b)


def test_a_state_tensor_the_step_does_not_write_keeps_its_version():
    params = make_params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    set_grads(params, 0)
    opt.step()
    opt.param_groups[0]["momentum"] = 0.0       # the buffers stay, unused
    held = [opt.state[p]["momentum_buffer"] for p in params]
    versions = [t._version for t in held]
    set_grads(params, 1)
    opt.step()
    assert [t._version for t in held] == versions


def test_the_record_of_a_removed_group_is_dropped_when_another_takes_its_place():
    params = make_params()
    opt = optim.Adam(params[:2])
    opt.add_param_group({"params": params[2:]})
    set_grads(params, 0)
    opt.step()
    removed = opt.param_groups.pop()
    opt.add_param_group({"params": params[3:]})     # one parameter: never flat
    set_grads(params, 1)
    opt.step()
    assert all(r.group is not removed for r in opt._flat.values())


@pytest.mark.parametrize("how", ["grad view", "grad shared", "grad is a parameter",
                                 "parameter reshaped", "state reshaped"])
def test_what_changes_after_a_flat_step_gives_the_loops_numbers_or_error(how, monkeypatch):
    # The second step finds the record the first made (Flat.matches), and goes per
    # parameter, flat with the layout made again, or flat as it is; whichever, the
    # numbers (or the error) are the loop's.
    def run(flat_on):
        params, opt = stepped_once(flat_on, monkeypatch)
        assert bool(getattr(opt, "_flat", None)) == flat_on
        for p in params:
            p.grad = ag.Tensor(np.full(4, 0.5, np.float32))
        if how == "grad view":
            params[2].grad = ag.Tensor(params[0].data[::-1])
        elif how == "grad shared":
            params[2].grad = params[1].grad
        elif how == "grad is a parameter":
            params[1].grad = ag.Tensor(params[0].data)      # read after params[0] changes
        elif how == "parameter reshaped":
            params[1].data.shape = (2, 2)                   # in place: the same array
            params[1].grad = ag.Tensor(np.full((2, 2), 0.5, np.float32))
            opt.state[params[1]]["momentum_buffer"].data.shape = (2, 2)
        else:
            opt.state[params[1]]["momentum_buffer"].data.shape = (2, 2)
        try:
            opt.step()
        except ValueError as e:
            monkeypatch.undo()
            return str(e)
        monkeypatch.undo()
        return [p.data.copy() for p in params] + [opt.state[p]["momentum_buffer"].data.copy()
                                                  for p in params]

    got, want = run(True), run(False)
    if how == "state reshaped":
        assert isinstance(want, str) and got == want        # the loop's error
        return
    for a, b in zip(got, want):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_a_parameter_made_read_only_after_a_flat_step_gets_the_loops_error():
    params = make_params()
    opt = optim.Adam(params)
    set_grads(params, 0)
    opt.step()
    assert opt._flat
    set_grads(params, 1)
    params[2].data.flags.writeable = False
    before = [p.data.copy() for p in params]
    with pytest.raises(ValueError, match="read-only"):
        opt.step()
    for p, b in zip(params[:2], before[:2]):        # (the loop stops at the read-only one)
        assert not np.array_equal(p.data, b)
    np.testing.assert_array_equal(params[3].data, before[3])
    assert [opt.state[p]["step"] for p in params] == [2, 2, 1, 1]
