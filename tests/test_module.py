"""nn.Module, Parameter and the containers: registration, traversal order, train/eval,
zero_grad, dtype conversion, state_dict/load_state_dict, repr, functional_call."""
import copy
import re
import sys
from collections import OrderedDict

import numpy as np
import pytest

import autograd as ag
import nn


class Affine(nn.Module):
    """A tiny layer of our own, so these tests do not depend on nn.Linear."""

    def __init__(self, n_in, n_out, bias=True):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.weight = nn.Parameter(ag.randn(n_out, n_in))
        if bias:
            self.bias = nn.Parameter(ag.randn(n_out))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return f"{self.n_in}, {self.n_out}"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(ag.ones(3))
        self.body = nn.Sequential(Affine(2, 3), Affine(3, 3))
        self.register_buffer("count", np.zeros((), np.int64))
        self.heads = nn.ModuleList([Affine(3, 1), Affine(3, 2, bias=False)])
        self.register_buffer("scratch", ag.zeros(4), persistent=False)

    def forward(self, x):
        h = self.body(x) * self.scale
        return [head(h) for head in self.heads]


def keys(pairs):
    return [k for k, _ in pairs]


# ---------------------------------------------------------------- registration
def test_assignment_registers_in_order():
    net = Net()
    assert keys(net.named_parameters()) == [
        "scale", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
        "heads.0.weight", "heads.0.bias", "heads.1.weight"]
    assert keys(net.named_buffers()) == ["count", "scratch"]
    assert list(net.state_dict()) == [
        "scale", "count", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
        "heads.0.weight", "heads.0.bias", "heads.1.weight"]
    assert keys(net.named_modules()) == ["", "body", "body.0", "body.1", "heads",
                                         "heads.0", "heads.1"]
    assert keys(net.named_children()) == ["body", "heads"]
    assert list(net.children()) == [net.body, net.heads]
    assert keys(net.named_parameters(recurse=False)) == ["scale"]
    assert keys(net.body.named_parameters(prefix="body")) == [
        "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias"]
    assert len(list(net.parameters())) == 8 and len(list(net.buffers())) == 2
    assert net.heads[1].bias is None


def test_registered_members_are_reachable_as_attributes_and_in_dir():
    net = Net()
    assert net.scale is net._parameters["scale"]
    assert net.body is net._modules["body"]
    assert isinstance(net.count, ag.Tensor) and net.count.dtype == np.int64
    assert {"scale", "body", "count", "heads"} <= set(dir(net))
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        net.nope


def test_reassignment_rules():
    m = Affine(2, 2)
    with pytest.raises(TypeError, match="as parameter 'weight'.*Parameter or None"):
        m.weight = ag.zeros(2, 2)
    m.bias = None                           # an absent parameter, as PyTorch
    assert keys(m.named_parameters()) == ["weight"] and "bias" not in m.state_dict()
    net = Net()
    with pytest.raises(TypeError, match="as child module 'body'"):
        net.body = 3
    with pytest.raises(TypeError, match="as buffer 'count'"):
        net.count = 3
    net.count = np.ones((), np.int64)       # an ndarray is wrapped
    assert isinstance(net._buffers["count"], ag.Tensor) and net.count.item() == 1
    net.plain = ag.zeros(2)                 # a plain Tensor attribute is not registered
    assert "plain" not in dict(net.named_buffers()) and "plain" not in net.state_dict()
    # A Parameter assigned over a buffer or module replaces it in its own registry.
    net.count = nn.Parameter(ag.zeros(1))
    assert "count" in dict(net.named_parameters()) and "count" not in dict(net.named_buffers())
    net.body = nn.Parameter(ag.zeros(1))
    assert "body" not in net._modules and not any(k.startswith("body.") for k in net.state_dict())
    with pytest.raises(TypeError, match="as parameter 'scale'"):   # as PyTorch
        net.scale = Affine(1, 1)
    del net.scale
    net.scale = Affine(1, 1)
    assert "scale" not in net._parameters and "scale.weight" in net.state_dict()


def test_registration_name_checks():
    m = Affine(2, 2)
    with pytest.raises(KeyError, match="can't contain '.'"):
        m.register_buffer("a.b", ag.zeros(1))
    with pytest.raises(KeyError, match="empty"):
        m.register_parameter("", nn.Parameter(ag.zeros(1)))
    with pytest.raises(TypeError, match="str"):
        m.add_module(3, Affine(1, 1))
    with pytest.raises(KeyError, match="'weight' already exists"):
        m.register_buffer("weight", ag.zeros(1))
    with pytest.raises(KeyError, match="'forward' already exists"):
        m.register_parameter("forward", nn.Parameter(ag.zeros(1)))
    with pytest.raises(TypeError, match="not a Module"):
        m.add_module("x", ag.zeros(1))
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("x", ag.zeros(1))
    with pytest.raises(TypeError, match="as buffer 'x'"):
        m.register_buffer("x", [1, 2])


def test_assignment_before_init_is_an_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ag.zeros(1))
            super().__init__()
    with pytest.raises(AttributeError, match=re.escape("call super().__init__() first")):
        Bad()


def test_delattr_and_persistent_flag():
    net = Net()
    del net.scale, net.count, net.heads
    assert "scale" not in net.state_dict() and "count" not in net.state_dict()
    assert keys(net.named_modules()) == ["", "body", "body.0", "body.1"]
    with pytest.raises(AttributeError):
        net.scale
    net.register_buffer("scratch", ag.ones(4))          # re-registered as persistent
    assert "scratch" in net.state_dict()
    net.register_buffer("scratch", ag.ones(4), persistent=False)
    assert "scratch" not in net.state_dict()


def test_get_submodule_and_parameter():
    net = Net()
    assert net.get_submodule("heads.1") is net.heads[1]
    assert net.get_submodule("") is net
    assert net.get_parameter("body.0.weight") is net.body[0].weight
    assert net.get_buffer("count") is net.count
    with pytest.raises(AttributeError, match="no submodule 'x'"):
        net.get_submodule("body.x")
    with pytest.raises(AttributeError, match="no parameter 'w'"):
        net.get_parameter("body.0.w")


# ---------------------------------------------------------------- Parameter
def test_parameter_construction():
    p = nn.Parameter([1.0, 2.0])
    assert p.dtype == np.float32 and p.requires_grad and p.is_leaf
    a = np.zeros(3)
    q = nn.Parameter(a)
    assert q.dtype == np.float64 and q.data is a            # shares, as torch
    t = ag.ones(2) * 2
    r = nn.Parameter(t)
    assert r.data is t.data and r.is_leaf and r.grad_fn is None
    assert nn.Parameter(a, requires_grad=False).requires_grad is False
    assert nn.Parameter().shape == (0,)
    assert repr(p).startswith("Parameter containing:\ntensor(")
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.arange(3))


def test_shared_modules_and_parameters_follow_pytorch():
    shared = Affine(2, 2)
    seq = nn.Sequential(shared, nn.Sequential(shared))
    # listed once by named_parameters/named_modules, under every name in the state dict
    assert keys(seq.named_parameters()) == ["0.weight", "0.bias"]
    assert keys(seq.named_modules()) == ["", "0", "1"]
    assert keys(seq.named_modules(remove_duplicate=False)) == ["", "0", "1", "1.0"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.0.weight", "1.0.bias"]
    tied = Affine(2, 2)
    other = Affine(2, 2)
    other.weight = tied.weight
    pair = nn.ModuleList([tied, other])
    assert keys(pair.named_parameters()) == ["0.weight", "0.bias", "1.bias"]
    assert keys(pair.named_parameters(remove_duplicate=False)) == [
        "0.weight", "0.bias", "1.weight", "1.bias"]
    assert list(pair.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_a_module_containing_itself_is_an_error_not_a_hang():
    a = nn.Sequential(Affine(1, 1))
    a.append(nn.Sequential(a))
    assert keys(a.named_modules()) == ["", "0", "1"]     # duplicates removed: finite
    with pytest.raises(ValueError, match="contains itself"):
        a.state_dict()
    assert "<cycle>" in repr(a)


def test_apply_visits_children_before_parents_in_pytorch_order():
    net = Net()
    names = {id(m): n for n, m in net.named_modules()}
    seen = []
    assert net.apply(lambda m: seen.append(names[id(m)])) is net
    assert seen == ["body.0", "body.1", "body", "heads.0", "heads.1", "heads", ""]


# ---------------------------------------------------------------- modes and grads
def test_train_eval_propagate():
    net = Net()
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train(1)


def test_train_hands_the_call_to_an_override():
    class FrozenBody(nn.Module):
        """Keeps its children in eval mode whatever the parent says."""

        def __init__(self):
            super().__init__()
            self.inner = Affine(1, 1)

        def train(self, mode=True):
            super().train(mode)
            self.inner.train(False)
            return self

    outer = nn.Sequential(FrozenBody(), Affine(1, 1))
    outer.train()
    assert outer.training and outer[0].training and outer[1].training
    assert not outer[0].inner.training


def test_zero_grad():
    net = Net()
    out = net(ag.randn(4, 2))
    (out[0].sum() + out[1].sum()).backward()
    g = net.body[0].weight.grad
    assert g is not None and np.any(g.data != 0)
    net.zero_grad(set_to_none=False)
    assert net.body[0].weight.grad is g and np.all(g.data == 0)     # zeroed in place
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_():
    net = Net()
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


# ---------------------------------------------------------------- dtype conversion
def test_to_keeps_parameter_objects_and_converts_grads():
    net = Net()
    params = list(net.parameters())
    (net(ag.randn(4, 2))[0].sum()).backward()
    assert net.double() is net
    assert all(a is b for a, b in zip(net.parameters(), params))
    assert all(p.dtype == np.float64 and p.requires_grad for p in params)
    assert net.body[0].weight.grad.dtype == np.float64
    assert net.scratch.dtype == np.float64
    assert net.count.dtype == np.int64                      # integer buffers untouched
    assert net(ag.Tensor(np.ones((1, 2))))[0].dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in params) and net.scale.grad.dtype == np.float32
    net.to("float64")
    assert net.scale.dtype == np.float64
    for bad in (np.int32, None, "cpu"):
        with pytest.raises(TypeError, match="floating"):
            net.to(bad)


def test_to_invalidates_graphs_that_saved_the_old_arrays():
    m = Affine(2, 2)
    loss = (m(ag.randn(3, 2)) ** 2).sum()
    m.double()
    with pytest.raises(RuntimeError, match="modified"):
        loss.backward()


# ---------------------------------------------------------------- state dicts
def test_state_dict_values_are_detached_views():
    net = Net()
    sd = net.state_dict()
    w = sd["body.0.weight"]
    assert type(w) is ag.Tensor and not w.requires_grad and w.grad_fn is None
    assert np.shares_memory(w.data, net.body[0].weight.data)
    assert net.state_dict(keep_vars=True)["body.0.weight"] is net.body[0].weight
    assert list(net.body.state_dict(prefix="model.body.")) == [
        "model.body.0.weight", "model.body.0.bias", "model.body.1.weight", "model.body.1.bias"]


def test_load_state_dict_round_trip_with_arrays_and_tensors():
    a, b = Net(), Net()
    x = ag.randn(5, 2)
    arrays = {k: v.data.copy() for k, v in a.state_dict().items()}
    arrays["count"] = np.array(7)
    result = b.load_state_dict(arrays)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for ya, yb in zip(a(x), b(x)):
        np.testing.assert_array_equal(ya.data, yb.data)
    assert b.count.item() == 7 and b.count.dtype == np.int64
    arrays["scale"][:] = 42                 # the model holds a copy, not the caller's array
    assert not np.any(b.scale.data == 42)
    c = Net()
    c.load_state_dict(a.state_dict())       # Tensors
    np.testing.assert_array_equal(c.heads[0].weight.data, a.heads[0].weight.data)


def test_load_state_dict_casts_to_the_model_dtype_in_place():
    m = Affine(2, 3)
    w = m.weight
    version = w._version
    m.load_state_dict({"weight": np.full((3, 2), 0.1), "bias": np.zeros(3)})
    assert m.weight is w and w.dtype == np.float32
    np.testing.assert_array_equal(w.data, np.float32(0.1))
    assert w._version > version


def test_strict_loading_lists_every_bad_key_and_changes_nothing():
    m = Net()
    before = {k: v.data.copy() for k, v in m.state_dict().items()}
    sd = {k: v.data.copy() + 1 for k, v in m.state_dict().items()}
    del sd["scale"], sd["heads.0.bias"]
    sd["extra"] = np.zeros(1)
    sd["heads.1.weight"] = np.zeros((5, 5))
    with pytest.raises(KeyError) as err:
        m.load_state_dict(sd)
    msg = str(err.value)
    assert "missing keys ['scale', 'heads.0.bias']" in msg and "unexpected keys ['extra']" in msg
    assert "'heads.1.weight'" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    # Not strict: the missing and unexpected keys are returned, but shapes still matter.
    with pytest.raises(ValueError, match=r"'heads.1.weight': checkpoint shape \(5, 5\), "
                                         r"model shape \(2, 3\)"):
        m.load_state_dict(sd, strict=False)
    sd["heads.1.weight"] = np.zeros((2, 3))
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["scale", "heads.0.bias"]
    assert result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(m.heads[1].weight.data, 0)
    np.testing.assert_array_equal(m.scale.data, before["scale"])


def test_load_state_dict_rejects_non_numeric_values():
    m = Affine(1, 1)
    with pytest.raises(TypeError, match="'weight' is not numeric"):
        m.load_state_dict({"weight": np.array([["a"]]), "bias": np.zeros(1)})
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([("weight", np.zeros((1, 1)))])


# ---------------------------------------------------------------- repr
def test_repr_tree_matches_pytorch_layout():
    class Two(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    seq = nn.Sequential(Affine(2, 3), nn.ModuleList([Affine(3, 3), Affine(3, 3), Two()]),
                        nn.ModuleDict({"out": Affine(3, 1)}), nn.ModuleList(), Two())
    seq.add_module("gone", None)
    assert repr(seq) == (
        "Sequential(\n"
        "  (0): Affine(2, 3)\n"
        "  (1): ModuleList(\n"
        "    (0-1): 2 x Affine(3, 3)\n"
        "    (2): Two(\n"
        "      a=1\n"
        "      b=2\n"
        "    )\n"
        "  )\n"
        "  (2): ModuleDict(\n"
        "    (out): Affine(3, 1)\n"
        "  )\n"
        "  (3): ModuleList()\n"
        "  (4): Two(\n"
        "    a=1\n"
        "    b=2\n"
        "  )\n"
        "  (gone): None\n"
        ")")
    assert repr(nn.Sequential()) == "Sequential()"


def test_repr_of_a_child_with_its_own_repr_is_indented():
    class Custom(nn.Module):
        def __repr__(self):
            return "Custom<\nbody\n>"

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = Custom()

        def __repr__(self):                   # an override that builds on the default
            return "# note\n" + super().__repr__()

    assert repr(nn.Sequential(nn.Sequential(Custom()))) == (
        "Sequential(\n  (0): Sequential(\n    (0): Custom<\n    body\n    >\n  )\n)")
    assert repr(Wrapped()) == "# note\nWrapped(\n  (c): Custom<\n  body\n  >\n)"


def test_deep_models_do_not_hit_the_recursion_limit():
    depth = sys.getrecursionlimit() + 200
    root = node = nn.Sequential(Affine(1, 1))
    for _ in range(depth):
        child = nn.Sequential(Affine(1, 1))
        node.append(child)
        node = child
    assert len(list(root.named_modules())) == 2 * depth + 2
    names = keys(root.named_parameters())
    assert len(names) == 2 * (depth + 1) and names[-1] == "1." * depth + "0.bias"
    sd = root.state_dict()
    assert len(sd) == 2 * (depth + 1)
    root.load_state_dict(sd)
    root.eval()
    assert not node.training
    root.double()
    assert node[0].weight.dtype == np.float64
    text = repr(root)
    lines = text.split("\n")
    assert len(lines) == 3 * (depth + 1)
    assert lines[-(depth + 1)] == "  " * depth + ")" and lines[-1] == ")"
    assert lines[-(depth + 2)] == "  " * (depth + 1) + "(0): Affine(1, 1)"
    copy.deepcopy(root.state_dict())


# ---------------------------------------------------------------- containers
def test_sequential():
    a, b, c = Affine(2, 3), Affine(3, 3), Affine(3, 1)
    seq = nn.Sequential(a, b, c)
    x = ag.randn(4, 2)
    np.testing.assert_allclose(seq(x).data, c(b(a(x))).data)
    assert len(seq) == 3 and list(seq) == [a, b, c] and seq[-1] is c
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail._modules) == ["1", "2"]
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and seq[0] is b
    seq.insert(0, a)
    assert list(seq) == [a, b, c] and list(seq._modules) == ["0", "1", "2"]
    assert seq.pop(1) is b and list(seq) == [a, c]
    seq[1] = b
    assert list(seq) == [a, b]
    seq.append(c).extend([Affine(1, 1)])
    assert len(seq) == 4 and keys(seq.named_children()) == ["0", "1", "2", "3"]
    named = nn.Sequential(OrderedDict([("first", a), ("second", b)]))
    assert keys(named.named_parameters()) == ["first.weight", "first.bias",
                                              "second.weight", "second.bias"]
    assert named.first is a
    assert list(nn.Sequential(a) + nn.Sequential(b)) == [a, b]


def test_module_list():
    mods = [Affine(1, 1) for _ in range(4)]
    ml = nn.ModuleList(mods[:2])
    ml += mods[2:3]
    ml.append(mods[3])
    assert list(ml) == mods and len(ml) == 4 and ml[-1] is mods[3]
    sub = ml[1:3]
    assert isinstance(sub, nn.ModuleList) and list(sub._modules) == ["0", "1"]
    del ml[1]
    assert list(ml) == [mods[0], mods[2], mods[3]] and list(ml._modules) == ["0", "1", "2"]
    assert "2.weight" in ml.state_dict() and "3.weight" not in ml.state_dict()
    ml.insert(1, mods[1])
    assert list(ml) == mods
    ml[0] = mods[3]
    assert ml[0] is mods[3]
    assert ml.pop() is mods[3] and len(ml) == 3
    with pytest.raises(IndexError):
        ml[7]
    with pytest.raises(TypeError, match="iterable"):
        nn.ModuleList(Affine(1, 1))
    with pytest.raises(NotImplementedError, match="forward"):
        ml(ag.zeros(1))


def test_module_dict():
    a, b = Affine(1, 1), Affine(1, 2)
    md = nn.ModuleDict({"b": b, "a": a})            # insertion order, not sorted
    assert list(md) == ["b", "a"] and list(md.keys()) == ["b", "a"]
    assert keys(md.named_parameters())[0] == "b.weight"
    assert md["a"] is a and "a" in md and "c" not in md and len(md) == 2
    md["c"] = Affine(2, 2)
    md.update([("d", Affine(1, 1))])
    assert list(md) == ["b", "a", "c", "d"]
    del md["b"]
    assert md.pop("a") is a and list(md) == ["c", "d"]
    assert [k for k, _ in md.items()] == ["c", "d"] and len(list(md.values())) == 2
    with pytest.raises(KeyError, match="can't contain"):
        md["x.y"] = a
    with pytest.raises(KeyError, match="'update' already exists"):
        md["update"] = a
    md.clear()
    assert len(md) == 0 and md.state_dict() == {}


def test_deepcopy_gives_an_independent_model():
    net = Net()
    twin = copy.deepcopy(net)
    assert type(twin.scale) is nn.Parameter and twin.scale is not net.scale
    np.testing.assert_array_equal(twin.scale.data, net.scale.data)
    with ag.no_grad():
        twin.scale.data += 1
    assert not np.array_equal(twin.scale.data, net.scale.data)


# ---------------------------------------------------------------- functional_call
def test_functional_call_substitutes_and_restores():
    m = Affine(3, 2)
    w_before, b_before = m.weight, m.bias
    x = ag.randn(4, 3)
    w = ag.randn(2, 3, requires_grad=True)
    y = nn.functional_call(m, {"weight": w}, x)
    np.testing.assert_allclose(y.data, x.data @ w.data.T + m.bias.data, rtol=1e-6)
    assert m.weight is w_before and m.bias is b_before
    y.sum().backward()
    assert w.grad is not None and m.weight.grad is None and m.bias.grad is not None
    # keyword arguments reach forward
    y2 = nn.functional_call(m, {}, x=x)
    np.testing.assert_allclose(y2.data, m(x).data)


def test_functional_call_restores_when_forward_raises():
    class Boom(Affine):
        def forward(self, x):
            assert self.weight is not orig
            raise RuntimeError("boom")

    m = Boom(2, 2)
    orig = m.weight
    with pytest.raises(RuntimeError, match="boom"):
        nn.functional_call(m, {"weight": ag.zeros(2, 2)}, ag.zeros(1, 2))
    assert m.weight is orig and m._parameters["weight"] is orig


def test_functional_call_nested_buffers_ties_and_errors():
    net = Net()
    x = ag.randn(2, 2)
    new_scale = ag.full((3,), 2.0)
    out = nn.functional_call(net, {"scale": new_scale, "body.1.bias": ag.zeros(3)}, x)
    with ag.no_grad():
        h = net.body[1](net.body[0](x)) - net.body[1].bias
        np.testing.assert_allclose(out[0].data, net.heads[0](h * 2.0).data, rtol=1e-5)
    seen = {}

    class ReadsBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("k", ag.ones(1))

        def forward(self):
            seen["k"] = self.k
            return self.k

    rb = ReadsBuffer()
    nn.functional_call(rb, {"k": np.array([5.0])})
    assert seen["k"].item() == 5.0 and rb.k.item() == 1.0
    tied = Affine(2, 2)
    other = Affine(2, 2)
    other.weight = tied.weight
    pair = nn.Sequential(tied, other)
    w = ag.zeros(2, 2)
    seen_w = []
    pair[1].forward = lambda x: seen_w.append(pair[1].weight) or x
    nn.functional_call(pair, {"0.weight": w}, ag.zeros(1, 2))
    assert seen_w[0] is w                           # the tied copy was replaced too
    with pytest.raises(ValueError, match="tied"):
        nn.functional_call(pair, {"0.weight": w, "1.weight": ag.ones(2, 2)}, ag.zeros(1, 2))
    with pytest.raises(KeyError, match="no parameter or buffer 'nope'"):
        nn.functional_call(pair, {"nope": w}, ag.zeros(1, 2))
    with pytest.raises(TypeError, match="must be a Tensor"):
        nn.functional_call(pair, {"0.weight": [[1.0, 2.0]]}, ag.zeros(1, 2))
    assert pair[0].weight is pair[1].weight is tied.weight


def test_functional_call_gives_hypergradients():
    """d loss(w − lr·∇loss(w)) / d lr, through functional_call, against finite differences."""
    m = Affine(3, 1)
    m.double()
    x = ag.Tensor(np.random.default_rng(1).normal(size=(5, 3)))
    t = ag.Tensor(np.random.default_rng(2).normal(size=(5, 1)))

    def loss_after_step(lr):
        params = dict(m.named_parameters())
        loss = ((nn.functional_call(m, params, x) - t) ** 2).mean()
        grads = ag.grad(loss, list(params.values()), create_graph=True)
        stepped = {k: p - lr * g for (k, p), g in zip(params.items(), grads)}
        return ((nn.functional_call(m, stepped, x) - t) ** 2).mean()

    lr = ag.tensor(0.1, dtype=np.float64, requires_grad=True)
    loss_after_step(lr).backward()
    eps = 1e-6
    hi = loss_after_step(ag.tensor(0.1 + eps, dtype=np.float64)).item()
    lo = loss_after_step(ag.tensor(0.1 - eps, dtype=np.float64)).item()
    np.testing.assert_allclose(lr.grad.item(), (hi - lo) / (2 * eps), rtol=1e-5)
