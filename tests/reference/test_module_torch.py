"""Module bookkeeping against PyTorch: the same model built in both libraries has the same
parameter/buffer/module names in the same order, the same state_dict keys and repr;
state dicts move in both directions; clipping, functional_call and a short SGD training
run give PyTorch's numbers."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import autograd as ag
import nn
from nn.utils import clip_grad_norm_, clip_grad_value_


@pytest.fixture(autouse=True)
def _float64():
    ag.set_default_dtype(np.float64)


def make_classes(lib):
    """The same three classes written against ``nn`` (ours) or ``torch.nn``, with the same
    class names so that their reprs can be compared too."""
    param = nn.Parameter if lib is nn else torch.nn.Parameter
    zeros = (lambda *s: ag.zeros(*s)) if lib is nn else (lambda *s: torch.zeros(*s))
    ones = (lambda *s: ag.ones(*s)) if lib is nn else (lambda *s: torch.ones(*s))
    count = (lambda: np.zeros((), np.int64)) if lib is nn else \
        (lambda: torch.zeros((), dtype=torch.int64))

    class Affine(lib.Module):
        def __init__(self, n_in, n_out, bias=True):
            super().__init__()
            self.n_in, self.n_out = n_in, n_out
            self.weight = param(zeros(n_out, n_in))
            if bias:
                self.bias = param(zeros(n_out))
            else:
                self.register_parameter("bias", None)
            self.register_buffer("steps", count())

        def forward(self, x):
            y = x @ self.weight.T
            return y if self.bias is None else y + self.bias

        def extra_repr(self):
            return f"{self.n_in}, {self.n_out}" + ("" if self.bias is not None else ", bias=False")

    class Act(lib.Module):
        def forward(self, x):
            return x.tanh()

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.scale = param(ones(3))
            self.body = lib.Sequential(Affine(2, 3), Act(), Affine(3, 3))
            self.register_buffer("count", count())
            self.heads = lib.ModuleList([Affine(3, 1), Affine(3, 1), Affine(3, 2, bias=False)])
            self.branches = lib.ModuleDict({
                "z": Affine(3, 2),
                "a": lib.Sequential(OrderedDict([("first", Affine(3, 3)), ("second", Act())])),
            })
            self.register_buffer("scratch", zeros(4), persistent=False)
            self.offset = param(zeros(1))
            self.empty = lib.ModuleList()
            self.shared = self.body[0]                        # one module, two names
            self.heads[1].weight = self.heads[0].weight       # one parameter, two names
            self.add_module("missing", None)

        def forward(self, x):
            h = self.body(x) * self.scale + self.offset
            outs = [head(h) for head in self.heads]
            outs += [self.branches["z"](h), self.branches["a"](h), self.shared(x)]
            return sum((o * o).sum() for o in outs)

    return Net


OurNet, TorchNet = make_classes(nn), make_classes(torch.nn)


def random_torch_net(seed=0):
    torch.manual_seed(seed)
    net = TorchNet()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p))
    return net


def names(pairs):
    return [k for k, _ in pairs]


def test_names_and_order_match_pytorch():
    ours, theirs = OurNet(), TorchNet()
    assert names(ours.named_parameters()) == names(theirs.named_parameters())
    assert names(ours.named_parameters(remove_duplicate=False)) == \
        names(theirs.named_parameters(remove_duplicate=False))
    assert names(ours.named_buffers()) == names(theirs.named_buffers())
    assert names(ours.named_modules()) == names(theirs.named_modules())
    assert names(ours.named_modules(remove_duplicate=False)) == \
        names(theirs.named_modules(remove_duplicate=False))
    assert names(ours.named_children()) == names(theirs.named_children())
    sd_ours, sd_theirs = ours.state_dict(), theirs.state_dict()
    assert list(sd_ours) == list(sd_theirs)
    assert [tuple(v.shape) for v in sd_ours.values()] == \
        [tuple(v.shape) for v in sd_theirs.values()]


def test_repr_matches_pytorch():
    assert repr(OurNet()) == repr(TorchNet())
    ml = [OurNet().heads, TorchNet().heads]
    assert repr(ml[0]) == repr(ml[1])


def test_torch_state_dict_loads_into_ours_and_gives_the_same_model():
    theirs = random_torch_net()
    ours = OurNet()
    ours.load_state_dict(theirs.state_dict())
    x_np = np.random.default_rng(0).normal(size=(5, 2))
    x = ag.Tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    loss, loss_t = ours(x), theirs(xt)
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-12)
    loss.backward()
    loss_t.backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    grads_t = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, grads_t[k].grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=k)


def test_our_state_dict_loads_into_torch():
    source = OurNet()
    source.load_state_dict(random_torch_net(seed=3).state_dict())
    ag.manual_seed(1)
    with ag.no_grad():
        for p in source.parameters():
            p.data[...] = ag.randn(*p.shape).data
    target = TorchNet()
    result = target.load_state_dict({k: torch.from_numpy(v.data.copy())
                                     for k, v in source.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    sd_t = target.state_dict()
    for k, v in source.state_dict().items():
        np.testing.assert_array_equal(v.data, sd_t[k].numpy(), err_msg=k)
    x = np.random.default_rng(2).normal(size=(4, 2))
    np.testing.assert_allclose(source(ag.Tensor(x)).item(),
                               target(torch.tensor(x)).item(), rtol=1e-12)


def test_functional_call_matches_torch_func():
    theirs = random_torch_net(seed=4)
    ours = OurNet()
    ours.load_state_dict(theirs.state_dict())
    rng = np.random.default_rng(5)
    new = {k: rng.normal(size=tuple(v.shape)) for k, v in theirs.named_parameters()
           if k in ("scale", "body.2.weight", "heads.0.weight", "branches.a.first.bias")}
    x = rng.normal(size=(3, 2))
    ours_p = {k: ag.Tensor(v.copy(), requires_grad=True) for k, v in new.items()}
    theirs_p = {k: torch.tensor(v, requires_grad=True) for k, v in new.items()}
    out = nn.functional_call(ours, ours_p, ag.Tensor(x))
    out_t = torch.func.functional_call(theirs, theirs_p, (torch.tensor(x),))
    np.testing.assert_allclose(out.item(), out_t.item(), rtol=1e-12)
    out.backward()
    out_t.backward()
    for k in new:
        np.testing.assert_allclose(ours_p[k].grad.data, theirs_p[k].grad.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=k)


# ---------------------------------------------------------------- clipping
def grads_pair(seed, scale=1.0, poison=None):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2, 2), ()]
    ours, theirs = [], []
    for i, s in enumerate(shapes):
        g = rng.normal(size=s) * scale
        if poison is not None and i == 1:
            g[0] = poison
        p = nn.Parameter(np.zeros(s))
        p.grad = ag.Tensor(g.copy())
        t = torch.zeros(s, requires_grad=True)
        t.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = grads_pair(0)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(total.item(), total_t.item(), rtol=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("poison", [np.inf, np.nan])
def test_clip_grad_norm_non_finite_matches_torch(poison):
    ours, theirs = grads_pair(1, poison=poison)
    total = clip_grad_norm_(ours, 1.0)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(total.item(), total_t.item())
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())
    ours, theirs = grads_pair(1, poison=poison)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch():
    ours, theirs = grads_pair(2, scale=3.0)
    clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())


# ---------------------------------------------------------------- training
def test_sequential_mlp_sgd_training_matches_torch():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8),
                                 torch.nn.Tanh(), torch.nn.Linear(8, 2))
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
                         nn.Linear(8, 2))
    ours.load_state_dict(theirs.state_dict())
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)), rng.normal(size=(16, 2))
    xt, yt = torch.tensor(x), torch.tensor(y)
    lr = 0.1
    losses, losses_t = [], []
    for _ in range(30):
        ours.zero_grad()
        loss = ((ours(ag.Tensor(x)) - ag.Tensor(y)) ** 2).mean()
        loss.backward()
        with ag.no_grad():
            for p in ours.parameters():
                p.data -= lr * p.grad.data
        losses.append(loss.item())

        theirs.zero_grad()
        loss_t = ((theirs(xt) - yt) ** 2).mean()
        loss_t.backward()
        with torch.no_grad():
            for p in theirs.parameters():
                p -= lr * p.grad
        losses_t.append(loss_t.item())
    np.testing.assert_allclose(losses, losses_t, rtol=1e-10)
    assert losses[-1] < 0.8 * losses[0]                 # it did train
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].data, v.numpy(), rtol=1e-9, err_msg=k)
