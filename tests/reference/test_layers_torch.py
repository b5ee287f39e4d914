"""Layers against PyTorch (float64): the same weights moved through state_dict in both
directions, then outputs, input gradients, parameter gradients and running statistics."""
import numpy as np
import pytest

import autograd as ag
import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


@pytest.fixture(autouse=True)
def _float64():
    ag.set_default_dtype(np.float64)


def _to_ours(sd):
    return {k: v.detach().numpy() for k, v in sd.items()}


def _to_torch(sd):
    return {k: torch.tensor(v.numpy()) for k, v in sd.items()}


def _distinct(shape, seed):
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(np.arange(n) * 0.05 - n * 0.025).reshape(shape)


# name, our module, torch's module, input shape ("int:<n>" for indices below n)
CASES = [
    ("linear", lambda: nn.Linear(4, 3), lambda: tnn.Linear(4, 3), (2, 5, 4)),
    ("linear_nobias", lambda: nn.Linear(4, 3, bias=False),
     lambda: tnn.Linear(4, 3, bias=False), (2, 4)),
    ("conv", lambda: nn.Conv2d(3, 4, 3), lambda: tnn.Conv2d(3, 4, 3), (2, 3, 6, 7)),
    ("conv_all_options",
     lambda: nn.Conv2d(4, 6, (2, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2,
                       bias=False),
     lambda: tnn.Conv2d(4, 6, (2, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2,
                        bias=False), (2, 4, 6, 7)),
    ("conv_same", lambda: nn.Conv2d(2, 3, (2, 3), padding="same", dilation=2),
     lambda: tnn.Conv2d(2, 3, (2, 3), padding="same", dilation=2), (2, 2, 6, 5)),
    ("conv_depthwise", lambda: nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3),
     lambda: tnn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3), (2, 3, 7, 6)),
    ("conv_unbatched", lambda: nn.Conv2d(2, 3, 2), lambda: tnn.Conv2d(2, 3, 2), (2, 4, 5)),
    ("maxpool", lambda: nn.MaxPool2d(2), lambda: tnn.MaxPool2d(2), (2, 3, 6, 7)),
    ("maxpool_overlap_pad_dil", lambda: nn.MaxPool2d(3, stride=(1, 2), padding=1, dilation=2),
     lambda: tnn.MaxPool2d(3, stride=(1, 2), padding=1, dilation=2), (2, 2, 7, 8)),
    ("maxpool_ceil", lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
     lambda: tnn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 2, 6, 8)),
    ("avgpool", lambda: nn.AvgPool2d(2), lambda: tnn.AvgPool2d(2), (2, 3, 6, 7)),
    ("avgpool_pad", lambda: nn.AvgPool2d(3, stride=2, padding=1),
     lambda: tnn.AvgPool2d(3, stride=2, padding=1), (2, 2, 7, 6)),
    ("avgpool_exclude_pad_ceil",
     lambda: nn.AvgPool2d((3, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     lambda: tnn.AvgPool2d((3, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     (2, 2, 6, 7)),
    ("avgpool_ceil", lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
     lambda: tnn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 6, 8)),
    ("avgpool_divisor", lambda: nn.AvgPool2d(2, divisor_override=3),
     lambda: tnn.AvgPool2d(2, divisor_override=3), (1, 2, 4, 4)),
    ("flatten", lambda: nn.Flatten(), lambda: tnn.Flatten(), (2, 3, 4)),
    ("batchnorm1d", lambda: nn.BatchNorm1d(3), lambda: tnn.BatchNorm1d(3), (6, 3)),
    ("batchnorm1d_3d", lambda: nn.BatchNorm1d(3, momentum=0.3, eps=1e-3),
     lambda: tnn.BatchNorm1d(3, momentum=0.3, eps=1e-3), (4, 3, 5)),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3), lambda: tnn.BatchNorm2d(3), (4, 3, 3, 5)),
    ("batchnorm2d_cumulative", lambda: nn.BatchNorm2d(2, momentum=None),
     lambda: tnn.BatchNorm2d(2, momentum=None), (3, 2, 2, 2)),
    ("batchnorm_no_affine", lambda: nn.BatchNorm1d(3, affine=False),
     lambda: tnn.BatchNorm1d(3, affine=False), (5, 3)),
    ("batchnorm_no_tracking", lambda: nn.BatchNorm2d(2, track_running_stats=False),
     lambda: tnn.BatchNorm2d(2, track_running_stats=False), (3, 2, 2, 3)),
    ("layernorm", lambda: nn.LayerNorm((3, 4)), lambda: tnn.LayerNorm((3, 4)), (2, 3, 4)),
    ("layernorm_plain", lambda: nn.LayerNorm(4, eps=1e-3, elementwise_affine=False),
     lambda: tnn.LayerNorm(4, eps=1e-3, elementwise_affine=False), (3, 4)),
    ("embedding", lambda: nn.Embedding(7, 3), lambda: tnn.Embedding(7, 3), ("int", 7, (2, 5))),
    ("embedding_padding", lambda: nn.Embedding(7, 3, padding_idx=2),
     lambda: tnn.Embedding(7, 3, padding_idx=2), ("int", 7, (4, 6))),
    ("dropout_eval", lambda: nn.Dropout(0.3).eval(), lambda: tnn.Dropout(0.3).eval(), (3, 4)),
]


def _input(spec, seed):
    if spec[0] == "int":
        _, n, shape = spec
        idx = np.random.default_rng(seed).integers(0, n, shape)
        idx.flat[:2] = 2                      # make sure the padding row appears
        return idx, torch.tensor(idx)
    x = _distinct(spec, seed)               # no ties, for max pooling
    return ag.Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)


def _run_and_compare(ours, theirs, spec, seed):
    x, tx = _input(spec, seed)
    out, tout = ours(x), theirs(tx)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(seed + 100).standard_normal(out.shape)
    if not out.requires_grad:
        return
    out.backward(g)
    tout.backward(torch.tensor(g))
    if isinstance(x, ag.Tensor):
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, tparams[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)
    ours.zero_grad()
    theirs.zero_grad()


def _compare_state(ours, theirs):
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        assert sd[k].shape == tuple(tsd[k].shape), k
        assert sd[k].dtype == tsd[k].numpy().dtype, k
        np.testing.assert_allclose(sd[k].numpy(), tsd[k].numpy(), rtol=1e-12, err_msg=k)


@pytest.mark.parametrize("name,make,make_torch,spec", CASES, ids=[c[0] for c in CASES])
def test_torch_weights_in_ours(name, make, make_torch, spec):
    torch.manual_seed(0)
    theirs = make_torch()
    ours = make()
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    ours.load_state_dict(_to_ours(theirs.state_dict()))
    _compare_state(ours, theirs)
    for step in range(2):                    # training mode (BatchNorm updates its stats)
        _run_and_compare(ours, theirs, spec, seed=step)
        _compare_state(ours, theirs)
    ours.eval()
    theirs.eval()
    _run_and_compare(ours, theirs, spec, seed=5)


@pytest.mark.parametrize("name,make,make_torch,spec", CASES, ids=[c[0] for c in CASES])
def test_our_weights_in_torch(name, make, make_torch, spec):
    ag.manual_seed(1)
    ours = make()
    if ours.state_dict():
        _run_and_compare(ours, _load_into_torch(ours, make_torch), spec, seed=3)
    theirs = _load_into_torch(ours, make_torch)
    _compare_state(ours, theirs)
    ours.eval()
    theirs.eval()
    _run_and_compare(ours, theirs, spec, seed=4)


def _load_into_torch(ours, make_torch):
    torch.manual_seed(1)
    theirs = make_torch()
    theirs.load_state_dict(_to_torch(ours.state_dict()))
    return theirs


def test_small_cnn_trains_identically():
    torch.manual_seed(0)
    theirs = tnn.Sequential(
        tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(4, 6, 3, groups=2, padding=1), tnn.AvgPool2d(2), tnn.Flatten(),
        tnn.Linear(12, 5), tnn.LayerNorm(5), tnn.Linear(5, 2))
    ours = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, groups=2, padding=1), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(12, 5), nn.LayerNorm(5), nn.Linear(5, 2))
    ours.load_state_dict(_to_ours(theirs.state_dict()))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 1, 8, 6))
    y = rng.standard_normal((8, 2))
    tparams = list(theirs.parameters())
    for _ in range(10):
        loss = ((ours(ag.Tensor(x)) - y) ** 2).mean()
        tloss = ((theirs(torch.tensor(x)) - torch.tensor(y)) ** 2).mean()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
        ours.zero_grad()
        theirs.zero_grad()
        loss.backward()
        tloss.backward()
        with ag.no_grad(), torch.no_grad():
            for p, tp in zip(ours.parameters(), tparams):
                p -= 0.1 * p.grad
                tp -= 0.1 * tp.grad
    _compare_state(ours, theirs)
