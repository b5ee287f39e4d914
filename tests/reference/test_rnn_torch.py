"""Recurrent layers and cells against PyTorch: the same weights moved through state_dict
in both directions give the same outputs and the same gradients with respect to the
input, the initial states and every parameter."""
import numpy as np
import pytest
import torch

import autograd as ag
import nn

N, T, IN, H = 3, 5, 4, 3

LAYERS = [
    ("rnn_tanh", "RNN", {}),
    ("rnn_relu_2layers", "RNN", dict(num_layers=2, nonlinearity="relu")),
    ("rnn_bidirectional_batch_first", "RNN", dict(bidirectional=True, batch_first=True)),
    ("lstm", "LSTM", {}),
    ("lstm_3layers_bidirectional", "LSTM", dict(num_layers=3, bidirectional=True)),
    ("lstm_nobias_batch_first", "LSTM", dict(bias=False, batch_first=True)),
    ("gru", "GRU", {}),
    ("gru_2layers_batch_first", "GRU", dict(num_layers=2, batch_first=True)),
    ("gru_2layers_bidirectional_nobias", "GRU", dict(num_layers=2, bidirectional=True,
                                                     bias=False)),
    ("gru_eval_with_dropout", "GRU", dict(num_layers=2, dropout=0.5)),
]

CELLS = [
    ("rnn_tanh", "RNNCell", {}),
    ("rnn_relu_nobias", "RNNCell", dict(nonlinearity="relu", bias=False)),
    ("lstm", "LSTMCell", {}),
    ("lstm_nobias", "LSTMCell", dict(bias=False)),
    ("gru", "GRUCell", {}),
    ("gru_nobias", "GRUCell", dict(bias=False)),
]


@pytest.fixture(autouse=True)
def _float64():
    ag.set_default_dtype(np.float64)


def torch_to_ours(tm, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


def ours_to_torch(ours, tm):
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})


def flat(out):
    """(output, h) or (output, (h, c)) or h or (h, c) as a flat list."""
    if not isinstance(out, tuple):
        return [out]
    items = []
    for o in out:
        items.extend(o if isinstance(o, tuple) else [o])
    return items


def compare(ours, tm, x, states, rng):
    """Forward both, backward a random linear function of every output, compare all."""
    xs = ag.Tensor(x.copy(), requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ss = [ag.Tensor(s.copy(), requires_grad=True) for s in states]
    st = [torch.tensor(s, requires_grad=True) for s in states]
    pack = (lambda s: tuple(s) if len(s) == 2 else s[0]) if states else (lambda s: None)
    outs, outt = flat(ours(xs, pack(ss))), flat(tm(xt, pack(st)))
    assert len(outs) == len(outt)
    seeds = [rng.standard_normal(o.shape) for o in outt]
    for a, b in zip(outs, outt):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    sum(((o * s).sum() for o, s in zip(outs, seeds)), start=ag.tensor(0.0)).backward()
    sum(((o * torch.tensor(s)).sum() for o, s in zip(outt, seeds))).backward()
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for a, b in zip(ss, st):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-9, atol=1e-12)
    tparams = dict(tm.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, tparams[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


def layer_data(tm, rng, batched=True, with_states=True):
    D = 2 if tm.bidirectional else 1
    LD = tm.num_layers * D
    if batched:
        x = rng.standard_normal((N, T, IN) if tm.batch_first else (T, N, IN))
        shape = (LD, N, H)
    else:
        x, shape = rng.standard_normal((T, IN)), (LD, H)
    k = 2 if isinstance(tm, torch.nn.LSTM) else 1
    return x, ([rng.standard_normal(shape) for _ in range(k)] if with_states else [])


@pytest.mark.parametrize("name,cls,kw", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_torch_weights_into_ours(name, cls, kw):
    rng = np.random.default_rng(0)
    tm = getattr(torch.nn, cls)(IN, H, **kw)
    ours = getattr(nn, cls)(IN, H, **kw)
    assert list(ours.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert ours.state_dict()[k].shape == tuple(v.shape), k
    if kw.get("dropout"):
        tm.eval()
        ours.eval()
    torch_to_ours(tm, ours)
    compare(ours, tm, *layer_data(tm, rng), rng)


@pytest.mark.parametrize("name,cls,kw", LAYERS[::2], ids=[c[0] for c in LAYERS[::2]])
def test_layer_our_weights_into_torch(name, cls, kw):
    rng = np.random.default_rng(1)
    ours = getattr(nn, cls)(IN, H, **kw)
    tm = getattr(torch.nn, cls)(IN, H, **kw)
    if kw.get("dropout"):
        tm.eval()
        ours.eval()
    ours_to_torch(ours, tm)
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(tm.state_dict()[k].numpy(), v.numpy())
    compare(ours, tm, *layer_data(tm, rng, with_states=False), rng)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_layer_unbatched_input(cls):
    rng = np.random.default_rng(2)
    tm = getattr(torch.nn, cls)(IN, H, num_layers=2, bidirectional=True, batch_first=True)
    ours = getattr(nn, cls)(IN, H, num_layers=2, bidirectional=True, batch_first=True)
    torch_to_ours(tm, ours)
    compare(ours, tm, *layer_data(tm, rng, batched=False), rng)


@pytest.mark.parametrize("name,cls,kw", CELLS, ids=[c[0] for c in CELLS])
@pytest.mark.parametrize("direction", ["torch_to_ours", "ours_to_torch"])
@pytest.mark.parametrize("batched", [True, False])
def test_cell(name, cls, kw, direction, batched):
    rng = np.random.default_rng(3)
    tm = getattr(torch.nn, cls)(IN, H, **kw)
    ours = getattr(nn, cls)(IN, H, **kw)
    assert list(ours.state_dict()) == list(tm.state_dict())
    if direction == "torch_to_ours":
        torch_to_ours(tm, ours)
    else:
        ours_to_torch(ours, tm)
    lead = (N,) if batched else ()
    k = 2 if cls == "LSTMCell" else 1
    states = [rng.standard_normal(lead + (H,)) for _ in range(k)]
    compare(ours, tm, rng.standard_normal(lead + (IN,)), states, rng)


def test_cell_without_state_matches():
    rng = np.random.default_rng(4)
    for cls in ("RNNCell", "LSTMCell", "GRUCell"):
        tm, ours = getattr(torch.nn, cls)(IN, H), getattr(nn, cls)(IN, H)
        torch_to_ours(tm, ours)
        compare(ours, tm, rng.standard_normal((N, IN)), [], rng)


def test_float32_model_loads_torch_float32_weights():
    ag.set_default_dtype(np.float32)
    tm = torch.nn.LSTM(IN, H, num_layers=2).float()
    ours = nn.LSTM(IN, H, num_layers=2)
    torch_to_ours(tm, ours)
    x = np.random.default_rng(5).standard_normal((T, N, IN)).astype(np.float32)
    out, (hn, cn) = ours(ag.tensor(x))
    tout, (thn, tcn) = tm(torch.tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cn.data, tcn.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_default_init_bounds_match_torch():
    ours, tm = nn.GRU(IN, 16, num_layers=2), torch.nn.GRU(IN, 16, num_layers=2)
    bound = 1 / np.sqrt(16)
    for (k, a), b in zip(ours.state_dict().items(), tm.state_dict().values()):
        assert a.shape == tuple(b.shape), k
        assert np.abs(a.numpy()).max() <= bound and np.abs(b.numpy()).max() <= bound
