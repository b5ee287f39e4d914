"""Recurrent layers and cells: gradients, shapes, layouts, dropout, init, errors."""
import math
import warnings

import numpy as np
import pytest

import autograd as ag
import nn

N, T, IN, H = 2, 3, 2, 3       # batch, time steps, input size, hidden size


def f64(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return ag.Tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.fixture
def float64():
    ag.set_default_dtype(np.float64)


def run(module, x, hx):
    """All of a layer's or cell's outputs as a flat tuple of Tensors."""
    out = module(x, hx)
    if isinstance(out, tuple):
        first, rest = out
        return (first,) + (tuple(rest) if isinstance(rest, tuple) else (rest,))
    return (out,)


# ---------------------------------------------------------------- gradients: cells
CELLS = [
    ("rnn_tanh", lambda: nn.RNNCell(IN, H)),
    ("rnn_relu", lambda: nn.RNNCell(IN, H, nonlinearity="relu")),
    ("rnn_nobias", lambda: nn.RNNCell(IN, H, bias=False)),
    ("lstm", lambda: nn.LSTMCell(IN, H)),
    ("lstm_nobias", lambda: nn.LSTMCell(IN, H, bias=False)),
    ("gru", lambda: nn.GRUCell(IN, H)),
    ("gru_nobias", lambda: nn.GRUCell(IN, H, bias=False)),
]


def cell_state(cell, seed=1):
    if isinstance(cell, nn.LSTMCell):
        return (f64(N, H, seed=seed), f64(N, H, seed=seed + 1))
    return f64(N, H, seed=seed)


@pytest.mark.parametrize("name,make", CELLS, ids=[c[0] for c in CELLS])
def test_cell_gradcheck_input_state_and_parameters(float64, name, make):
    cell = make()
    hx = cell_state(cell)
    states = list(hx) if isinstance(hx, tuple) else [hx]
    params = list(cell.parameters())
    k = len(states)

    def fn(x, *rest):
        s = tuple(rest[:k]) if k == 2 else rest[0]
        return run(cell, x, s)

    assert ag.gradcheck(fn, [f64(N, IN)] + states + params)


@pytest.mark.parametrize("name,make", CELLS[::2], ids=[c[0] for c in CELLS[::2]])
def test_cell_gradgradcheck(float64, name, make):
    cell = make()
    hx = cell_state(cell)
    states = list(hx) if isinstance(hx, tuple) else [hx]
    k = len(states)

    def fn(x, *rest):
        return run(cell, x, tuple(rest) if k == 2 else rest[0])

    assert ag.gradgradcheck(fn, [f64(N, IN)] + states)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_cell_default_state_is_zeros_and_unbatched_input_works(float64, cls):
    cell = cls(IN, H)
    x = f64(N, IN)
    zero = ag.zeros(N, H, dtype=np.float64)
    hx = (zero, zero) if cls is nn.LSTMCell else zero
    for a, b in zip(run(cell, x, None), run(cell, x, hx)):
        np.testing.assert_array_equal(a.data, b.data)
    h0 = f64(N, H, seed=3)
    hx = (h0, h0 * 2) if cls is nn.LSTMCell else h0
    batched = run(cell, x, hx)
    unbatched = run(cell, x[1], tuple(s[1] for s in hx) if cls is nn.LSTMCell else hx[1])
    for a, b in zip(batched, unbatched):
        assert b.shape == (H,)
        np.testing.assert_allclose(b.data, a.data[1], rtol=1e-12)


# ---------------------------------------------------------------- gradients: layers
LAYERS = [
    ("rnn_tanh", nn.RNN, {}),
    ("rnn_relu_2layers", nn.RNN, dict(num_layers=2, nonlinearity="relu")),
    ("rnn_batch_first_nobias", nn.RNN, dict(batch_first=True, bias=False)),
    ("lstm", nn.LSTM, {}),
    ("lstm_2layers_batch_first", nn.LSTM, dict(num_layers=2, batch_first=True)),
    ("lstm_bidirectional", nn.LSTM, dict(bidirectional=True)),
    ("gru", nn.GRU, {}),
    ("gru_2layers_bidirectional", nn.GRU, dict(num_layers=2, bidirectional=True)),
    ("gru_nobias_batch_first", nn.GRU, dict(batch_first=True, bias=False)),
]


def layer_states(m, seed=1):
    LD = m.num_layers * m.num_directions
    if isinstance(m, nn.LSTM):
        return [f64(LD, N, H, seed=seed), f64(LD, N, H, seed=seed + 1)]
    return [f64(LD, N, H, seed=seed)]


def layer_input(m, steps=T):
    return f64(N, steps, IN) if m.batch_first else f64(steps, N, IN)


@pytest.mark.parametrize("name,cls,kw", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_gradcheck_input_initial_states_and_parameters(float64, name, cls, kw):
    m = cls(IN, H, **kw)
    states = layer_states(m)
    k = len(states)

    def fn(x, *rest):
        return run(m, x, tuple(rest[:k]) if k == 2 else rest[0])

    assert ag.gradcheck(fn, [layer_input(m)] + states + list(m.parameters()))


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_layer_gradcheck_without_initial_state_over_a_longer_sequence(float64, cls):
    # 9 steps take the tree of half-slices that keeps backward O(T log T).
    m = cls(IN, 2)
    assert ag.gradcheck(lambda x: run(m, x, None), [layer_input(m, steps=9)])


def test_layer_gradgradcheck(float64):
    m = nn.GRU(IN, 2)
    assert ag.gradgradcheck(lambda x, h: run(m, x, h), [f64(2, 1, IN), f64(1, 1, 2)])


# ---------------------------------------------------------------- shapes and layouts
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("layers,bidir,batch_first", [(1, False, False), (2, False, True),
                                                      (3, True, False), (2, True, True)])
def test_output_shapes(cls, layers, bidir, batch_first):
    m = cls(5, 4, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    D = 2 if bidir else 1
    x = ag.randn(3, 7, 5)                     # (N, L, in) or (L, N, in)
    output, hn = m(x)
    length, batch = (7, 3) if batch_first else (3, 7)
    assert output.shape == (x.shape[0], x.shape[1], D * 4)
    finals = hn if cls is nn.LSTM else (hn,)
    for s in finals:
        assert s.shape == (layers * D, batch, 4)
        assert s.dtype == np.float32
    # Unbatched (L, in) gives (L, D*H) and states (layers*D, H), whatever batch_first.
    output, hn = m(x[0])
    assert output.shape == (7, D * 4)
    for s in (hn if cls is nn.LSTM else (hn,)):
        assert s.shape == (layers * D, 4)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_batch_first_and_unbatched_agree_with_time_major(float64, cls):
    tm = cls(IN, H, num_layers=2, bidirectional=True)
    bf = cls(IN, H, num_layers=2, bidirectional=True, batch_first=True)
    bf.load_state_dict(tm.state_dict())
    x = f64(T, N, IN)
    out_tm, h_tm = tm(x)
    out_bf, h_bf = bf(ag.swapaxes(x, 0, 1))
    np.testing.assert_allclose(out_bf.data, out_tm.data.swapaxes(0, 1), rtol=1e-12)
    out_u, h_u = tm(x[:, 1])
    np.testing.assert_allclose(out_u.data, out_tm.data[:, 1], rtol=1e-12)
    pairs = zip(h_tm, h_bf, h_u) if cls is nn.LSTM else [(h_tm, h_bf, h_u)]
    for a, b, u in pairs:
        np.testing.assert_allclose(b.data, a.data, rtol=1e-12)
        np.testing.assert_allclose(u.data, a.data[:, 1], rtol=1e-12)


@pytest.mark.parametrize("layer_cls,cell_cls", [(nn.RNN, nn.RNNCell), (nn.LSTM, nn.LSTMCell),
                                                (nn.GRU, nn.GRUCell)])
def test_single_layer_equals_its_cell_stepped_through_time(float64, layer_cls, cell_cls):
    layer, cell = layer_cls(IN, H), cell_cls(IN, H)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})   # drop "_l0"
    x = f64(T, N, IN)
    output, hn = layer(x)
    state = None
    for t in range(T):
        state = cell(x[t], state)
        h = state[0] if isinstance(state, tuple) else state
        np.testing.assert_allclose(output.data[t], h.data, rtol=1e-12)
    if layer_cls is nn.LSTM:
        np.testing.assert_allclose(hn[1].data[0], state[1].data, rtol=1e-12)
        hn = hn[0]
    np.testing.assert_allclose(hn.data[0], h.data, rtol=1e-12)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_reverse_direction_reads_the_sequence_backwards(float64, cls):
    bi = cls(IN, H, bidirectional=True)
    fwd = cls(IN, H)
    fwd.load_state_dict({k.replace("_reverse", ""): v for k, v in bi.state_dict().items()
                         if k.endswith("_reverse")})
    x = f64(T, N, IN)
    out_bi, h_bi = bi(x)
    out_rev, h_rev = fwd(x[::-1])
    np.testing.assert_allclose(out_bi.data[:, :, H:], out_rev.data[::-1], rtol=1e-12)
    h_bi, h_rev = (h_bi[0], h_rev[0]) if cls is nn.LSTM else (h_bi, h_rev)
    np.testing.assert_allclose(h_bi.data[1], h_rev.data[0], rtol=1e-12)


def test_multi_layer_feeds_each_layer_the_previous_outputs(float64):
    two = nn.GRU(IN, H, num_layers=2)
    first, second = nn.GRU(IN, H), nn.GRU(H, H)
    sd = two.state_dict()
    first.load_state_dict({k: v for k, v in sd.items() if k.endswith("_l0")})
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in sd.items()
                            if k.endswith("_l1")})
    x, h0 = f64(T, N, IN), f64(2, N, H)
    out, hn = two(x, h0)
    mid, h_a = first(x, h0[:1])
    out2, h_b = second(mid, h0[1:])
    np.testing.assert_allclose(out.data, out2.data, rtol=1e-12)
    np.testing.assert_allclose(hn.data, np.concatenate([h_a.data, h_b.data]), rtol=1e-12)


def test_state_dict_keys_follow_pytorch_order():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    keys = []
    for layer in range(2):
        for sfx in ("", "_reverse"):
            keys += [f"{w}_l{layer}{sfx}" for w in ("weight_ih", "weight_hh", "bias_ih",
                                                    "bias_hh")]
    assert list(m.state_dict()) == keys
    shapes = {k: v.shape for k, v in m.state_dict().items()}
    assert shapes["weight_ih_l0"] == (16, 3) and shapes["weight_ih_l1_reverse"] == (16, 8)
    assert shapes["weight_hh_l1"] == (16, 4) and shapes["bias_hh_l0_reverse"] == (16,)
    assert list(nn.GRU(3, 4, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert list(nn.GRUCell(3, 4).state_dict()) == ["weight_ih", "weight_hh", "bias_ih",
                                                   "bias_hh"]
    assert list(nn.RNNCell(3, 4, bias=False).state_dict()) == ["weight_ih", "weight_hh"]


def test_gradients_reach_float32_parameters_and_keep_their_dtype():
    m = nn.LSTM(IN, H, num_layers=2)
    out, (hn, cn) = m(ag.randn(T, N, IN))
    (out.sum() + cn.sum()).backward()
    for name, p in m.named_parameters():
        assert p.dtype == np.float32 and p.grad.dtype == np.float32, name
        assert p.grad.shape == p.shape and np.abs(p.grad.data).sum() > 0, name


def test_functional_call_substitutes_parameters(float64):
    m = nn.RNN(IN, H)
    params = {k: ag.Tensor(np.zeros(v.shape), requires_grad=True)
              for k, v in m.state_dict().items()}
    out, hn = nn.functional_call(m, params, f64(T, N, IN))
    np.testing.assert_array_equal(out.data, 0.0)      # tanh(0) with all-zero weights
    assert not np.all(m(f64(T, N, IN))[0].data == 0.0)


# ---------------------------------------------------------------- dropout
def test_dropout_only_in_training_mode(float64):
    m = nn.LSTM(IN, H, num_layers=3, dropout=0.5)
    ref = nn.LSTM(IN, H, num_layers=3)
    ref.load_state_dict(m.state_dict())
    x = f64(T, N, IN)
    m.eval()
    np.testing.assert_array_equal(m(x)[0].data, ref(x)[0].data)
    m.train()
    ag.manual_seed(5)
    a = m(x)[0].data
    ag.manual_seed(5)
    b = m(x)[0].data
    c = m(x)[0].data
    np.testing.assert_array_equal(a, b)                 # the global generator drives it
    assert not np.allclose(a, c)                        # a fresh mask each call
    assert not np.allclose(a, ref(x)[0].data)


def test_dropout_one_zeroes_the_inputs_of_the_upper_layers(float64):
    m = nn.GRU(IN, H, num_layers=2, dropout=1.0).train()
    top = nn.GRU(H, H)
    top.load_state_dict({k.replace("_l1", "_l0"): v for k, v in m.state_dict().items()
                         if k.endswith("_l1")})
    out, _ = m(f64(T, N, IN))
    np.testing.assert_allclose(out.data, top(ag.zeros(T, N, H, dtype=np.float64))[0].data,
                               rtol=1e-12)


def test_dropout_is_differentiable_with_a_fixed_mask(float64):
    m = nn.RNN(IN, H, num_layers=2, dropout=0.4).train()

    def fn(x):
        ag.manual_seed(11)                              # same mask on every evaluation
        return run(m, x, None)

    assert ag.gradcheck(fn, [f64(T, N, IN)])


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="num_layers"):
        nn.GRU(IN, H, dropout=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.GRU(IN, H, num_layers=2, dropout=0.3)


# ---------------------------------------------------------------- initialisation
@pytest.mark.parametrize("make", [lambda: nn.LSTM(64, 100, num_layers=2),
                                  lambda: nn.GRUCell(64, 100), lambda: nn.RNN(64, 100)])
def test_default_init_is_uniform_within_one_over_sqrt_hidden(make):
    m = make()
    bound = 1 / math.sqrt(100)
    values = np.concatenate([p.data.ravel() for p in m.parameters()])
    assert np.all(np.abs(values) <= bound)
    assert abs(values.mean()) < 0.05 * bound
    np.testing.assert_allclose(values.std(), bound / math.sqrt(3), rtol=0.02)
    for p in m.parameters():
        assert p.dtype == np.float32 and p.requires_grad and p.is_leaf


def test_init_follows_the_global_seed_and_default_dtype(float64):
    ag.manual_seed(3)
    a = nn.GRU(IN, H).state_dict()
    ag.manual_seed(3)
    b = nn.GRU(IN, H).state_dict()
    for k in a:
        assert a[k].dtype == np.float64
        np.testing.assert_array_equal(a[k].data, b[k].data)


def test_repr_matches_pytorch_style():
    assert repr(nn.LSTM(10, 20, num_layers=2, batch_first=True)) == \
        "LSTM(10, 20, num_layers=2, batch_first=True)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    assert repr(nn.GRU(3, 4, bias=False, bidirectional=True, num_layers=2, dropout=0.5)) == \
        "GRU(3, 4, num_layers=2, bias=False, dropout=0.5, bidirectional=True)"


# ---------------------------------------------------------------- errors
def test_constructor_errors():
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRU(3, 0)
    with pytest.raises(TypeError, match="input_size"):
        nn.LSTMCell(3.0, 4)
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)


def test_forward_errors_name_the_layer_and_shapes():
    m = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: expected input of 3 dim.*shape \(2, 5, 7, 3\)"):
        m(ag.randn(2, 5, 7, 3))
    with pytest.raises(ValueError, match=r"LSTM: input.shape\[-1\].*input_size=3"):
        m(ag.randn(5, 2, 4))
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(2, 2, 4\)"):
        m(ag.randn(5, 2, 3), (ag.zeros(1, 2, 4), ag.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match=r"LSTM: expected c_0 of shape \(2, 4\)"):
        m(ag.randn(5, 3), (ag.zeros(2, 4), ag.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="pair"):
        m(ag.randn(5, 2, 3), ag.zeros(2, 2, 4))
    with pytest.raises(TypeError, match="floating point"):
        m(ag.Tensor(np.ones((5, 2, 3), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(2, 4\)"):
        nn.GRUCell(3, 4)(ag.randn(2, 3), ag.zeros(3, 4))
    with pytest.raises(ValueError, match=r"RNNCell: expected input of shape"):
        nn.RNNCell(3, 4)(ag.randn(2, 5))
