"""Recurrent layers: RNN, LSTM, GRU and their one-step cells, with PyTorch's arguments,
parameter names, shapes, gate order and default initialisation, so state dicts move
between chainrule and PyTorch unchanged.

Everything is composed from autograd ops (matmul, sigmoid, tanh, indexing, stack); the
loop over time steps is inherent to a recurrence, nothing else loops. Each layer
projects the whole input sequence with one matmul before stepping through time.
"""
import math
import numbers
import warnings

import numpy as np

import autograd as ag
from autograd.tensor import Tensor

from . import init
from .functional.layers import dropout as _dropout
from .module import Module, Parameter

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]


# ---------------------------------------------------------------- one time step
# Each step receives ``xw``, the input projection x W_ih^T + b_ih of that step (for
# RNN/LSTM layers b_hh is folded into it too and ``b_hh`` is None), and ``whh_t``,
# W_hh^T transposed once per forward rather than once per step.
def _rnn_step(xw, h, whh_t, b_hh, nonlinearity):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu."""
    pre = xw + h @ whh_t
    if b_hh is not None:
        pre = pre + b_hh
    return ag.tanh(pre) if nonlinearity == "tanh" else ag.relu(pre)


def _lstm_step(xw, h, c, whh_t, b_hh):
    """Gates in PyTorch's order i, f, g, o:
    i = σ(.), f = σ(.), g = tanh(.), o = σ(.) of x W_ih^T + b_ih + h W_hh^T + b_hh;
    c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')."""
    gates = xw + h @ whh_t
    if b_hh is not None:
        gates = gates + b_hh
    H = h.shape[-1]
    ifo = ag.sigmoid(gates[..., :2 * H])
    i, f = ifo[..., :H], ifo[..., H:]
    g = ag.tanh(gates[..., 2 * H:3 * H])
    o = ag.sigmoid(gates[..., 3 * H:])
    c_new = f * c + i * g
    return o * ag.tanh(c_new), c_new


def _gru_step(xw, h, whh_t, b_hh):
    """Gates in PyTorch's order r, z, n:
    r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr),  z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz),
    n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h."""
    hw = h @ whh_t
    if b_hh is not None:
        hw = hw + b_hh
    H = h.shape[-1]
    rz = ag.sigmoid(xw[..., :2 * H] + hw[..., :2 * H])
    r, z = rz[..., :H], rz[..., H:]
    n = ag.tanh(xw[..., 2 * H:] + r * hw[..., 2 * H:])
    return n + z * (h - n)


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _time_steps(x):
    """The slices x[0], ..., x[T-1] along the first axis.

    Taken through a balanced tree of half-slices: the gradient of each slice is a
    zero-filled array of its parent's shape, so T direct slices of the whole sequence
    would cost O(T^2) in backward; the tree costs O(T log T).
    """
    T = x.shape[0]
    if T <= 4:
        return [x[t] for t in range(T)]
    mid = T // 2
    return _time_steps(x[:mid]) + _time_steps(x[mid:])


# ---------------------------------------------------------------- shared checks
def _check_size(fn, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}: {name} should be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{fn}: {name} must be greater than zero, got {value}")
    return int(value)


def _check_bool(fn, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} should be a bool, got {type(value).__name__}")
    return bool(value)


def _as_input(fn, x):
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be floating point, got dtype {x.dtype} "
                        f"(shape {x.shape})")
    return x


def _as_state(fn, what, s, expected, dtype):
    s = s if isinstance(s, Tensor) else Tensor(np.asarray(s, dtype=dtype))
    if s.shape != tuple(expected):
        raise ValueError(f"{fn}: expected {what} of shape {tuple(expected)}, got {s.shape}")
    if s.dtype.kind != "f":
        raise TypeError(f"{fn}: {what} must be floating point, got dtype {s.dtype}")
    return s


def _uniform_init(module, bound):
    """PyTorch's default for recurrent layers: every parameter ~ U(−bound, bound)."""
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


# ---------------------------------------------------------------- cells
class _CellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks):
        super().__init__()
        fn = type(self).__name__
        self.input_size = _check_size(fn, "input_size", input_size)
        self.hidden_size = _check_size(fn, "hidden_size", hidden_size)
        self.bias = _check_bool(fn, "bias", bias)
        dt = ag.get_default_dtype()
        G, H = num_chunks * self.hidden_size, self.hidden_size
        self.weight_ih = Parameter(np.empty((G, self.input_size), dt))
        self.weight_hh = Parameter(np.empty((G, H), dt))
        if self.bias:
            self.bias_ih = Parameter(np.empty(G, dt))
            self.bias_hh = Parameter(np.empty(G, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_init(self, 1.0 / math.sqrt(self.hidden_size))

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, states):
        """Input as (N, input_size), states as (N, hidden_size) (zeros when None), and
        whether the input was unbatched."""
        fn = type(self).__name__
        x = _as_input(fn, input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{fn}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {x.shape}")
        batched = x.ndim == 2
        if not batched:
            x = ag.expand_dims(x, 0)
        shape = (x.shape[0], self.hidden_size)
        out = []
        for what, s in states:
            if s is None:
                out.append(Tensor(np.zeros(shape, x.dtype)))
                continue
            s = _as_state(fn, what, s, shape if batched else shape[1:], x.dtype)
            out.append(s if batched else ag.expand_dims(s, 0))
        return x, out, batched

    def _project(self, x):
        xw = x @ self.weight_ih.T
        return xw if self.bias_ih is None else xw + self.bias_ih


class RNNCell(_CellBase):
    """One Elman step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    ``forward(input, hx=None)``: input (N, input_size) or (input_size,), hx of shape
    (N, hidden_size) or (hidden_size,), zeros when omitted; returns h'.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; "
                             "choose 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, num_chunks=1)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, [("hx", hx)])
        h = _rnn_step(self._project(x), h, self.weight_hh.T, self.bias_hh, self.nonlinearity)
        return h if batched else h[0]


class LSTMCell(_CellBase):
    """One LSTM step (gates i, f, g, o as PyTorch; see ``_lstm_step``).

    ``forward(input, hx=None)``: hx is a pair (h, c) or None for zeros; returns (h', c').
    """

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, bias, num_chunks=4)

    def forward(self, input, hx=None):
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTMCell: hx must be a pair (h_0, c_0) or None")
        x, (h, c), batched = self._prepare(input, [("h_0", hx[0]), ("c_0", hx[1])])
        h, c = _lstm_step(self._project(x), h, c, self.weight_hh.T, self.bias_hh)
        return (h, c) if batched else (h[0], c[0])


class GRUCell(_CellBase):
    """One GRU step (gates r, z, n as PyTorch; see ``_gru_step``); returns h'."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, bias, num_chunks=3)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, [("hx", hx)])
        h = _gru_step(self._project(x), h, self.weight_hh.T, self.bias_hh)
        return h if batched else h[0]


# ---------------------------------------------------------------- multi-layer layers
class _RNNBase(Module):
    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False):
        super().__init__()
        fn = type(self).__name__
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
                or not 0 <= dropout <= 1):
            raise ValueError(f"{fn}: dropout should be a number in [0, 1] (the probability "
                             f"of zeroing an element), got {dropout!r}")
        self.mode = mode
        self.input_size = _check_size(fn, "input_size", input_size)
        self.hidden_size = _check_size(fn, "hidden_size", hidden_size)
        self.num_layers = _check_size(fn, "num_layers", num_layers)
        self.bias = _check_bool(fn, "bias", bias)
        self.batch_first = _check_bool(fn, "batch_first", batch_first)
        self.dropout = float(dropout)
        self.bidirectional = _check_bool(fn, "bidirectional", bidirectional)
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{fn}: dropout is applied between recurrent layers, so "
                          f"dropout={dropout} with num_layers=1 has no effect", stacklevel=3)
        dt = ag.get_default_dtype()
        G, H, D = _GATES[mode] * self.hidden_size, self.hidden_size, self.num_directions
        # Registered layer by layer, forward direction first, each as (w_ih, w_hh, b_ih,
        # b_hh): PyTorch's order, so named_parameters() and state_dict() line up.
        self._all_weights = []
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else H * D
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                names = ["weight_ih" + sfx, "weight_hh" + sfx]
                setattr(self, names[0], Parameter(np.empty((G, in_size), dt)))
                setattr(self, names[1], Parameter(np.empty((G, H), dt)))
                if self.bias:
                    names += ["bias_ih" + sfx, "bias_hh" + sfx]
                    setattr(self, names[2], Parameter(np.empty(G, dt)))
                    setattr(self, names[3], Parameter(np.empty(G, dt)))
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def reset_parameters(self):
        _uniform_init(self, 1.0 / math.sqrt(self.hidden_size))

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # -- input handling
    def _prepare(self, input, states):
        """Time-major input (T, N, input_size), the initial states as lists of per
        layer-and-direction (N, H) tensors (None for zeros), and whether it was batched."""
        fn = type(self).__name__
        x = _as_input(fn, input)
        if x.ndim not in (2, 3):
            raise ValueError(f"{fn}: expected input of 3 dimensions (batched) or 2 "
                             f"(unbatched), got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{fn}: input.shape[-1] must equal input_size="
                             f"{self.input_size}, got shape {x.shape}")
        batched = x.ndim == 3
        if not batched:
            x = ag.expand_dims(x, 1)
        elif self.batch_first:
            x = ag.swapaxes(x, 0, 1)
        if x.shape[0] == 0:
            raise ValueError(f"{fn}: the input sequence is empty (time-major shape {x.shape})")
        LD = self.num_layers * self.num_directions
        expected = (LD, x.shape[1], self.hidden_size) if batched else (LD, self.hidden_size)
        out = []
        for what, s in states:
            if s is None:
                out.append([None] * LD)
                continue
            s = _as_state(fn, what, s, expected, x.dtype)
            if not batched:
                s = ag.expand_dims(s, 1)
            out.append(list(s) if LD > 1 else [s[0]])
        return x, out, batched

    def _run(self, x, states):
        """Run every layer and direction over the time-major input ``x``; ``states`` is a
        list (one entry per state kind: h, or h and c) of per layer-direction initial
        states. Returns the last layer's outputs (T, N, D*H) and the final states."""
        T, N = x.shape[0], x.shape[1]
        D, H = self.num_directions, self.hidden_size
        # b_hh joins b_ih in the projection, except in GRU whose b_hn sits inside r ⊙ (...)
        fold = self.mode != "GRU"
        zeros = np.zeros((N, H), x.dtype)
        finals = [[] for _ in states]
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for d in range(D):
                k = layer * D + d
                params = [getattr(self, n) for n in self._all_weights[k]]
                w_ih, w_hh = params[0], params[1]
                b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
                # One 2-d matmul for all steps (a 3-d one with a transposed operand is
                # several times slower in NumPy).
                xw = ag.reshape(layer_input, (T * N, layer_input.shape[-1])) @ w_ih.T
                if b_ih is not None:
                    xw = xw + (b_ih + b_hh if fold else b_ih)
                xw = ag.reshape(xw, (T, N, xw.shape[-1]))
                step_b = None if fold else b_hh
                whh_t = w_hh.T
                xs = _time_steps(xw)
                state = [Tensor(zeros) if s[k] is None else s[k] for s in states]
                hs = [None] * T
                for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                    state = self._step(xs[t], state, whh_t, step_b)
                    hs[t] = state[0]
                outputs.append(ag.stack(hs, axis=0))
                for f, s in zip(finals, state):
                    f.append(s)
            layer_input = outputs[0] if D == 1 else ag.concatenate(outputs, axis=-1)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout, training=True)
        return layer_input, [ag.stack(f, axis=0) for f in finals]

    def _finish(self, output, finals, batched):
        if not batched:
            return output[:, 0], [f[:, 0] for f in finals]
        if self.batch_first:
            output = ag.swapaxes(output, 0, 1)
        return output, finals


class RNN(_RNNBase):
    """Multi-layer Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t−1} W_hh^T + b_hh),
    act = tanh or relu; layer k > 0 reads layer k−1's outputs (with dropout between
    layers in training mode).

    ``forward(input, hx=None) -> (output, h_n)``: input (L, N, input_size), or
    (N, L, input_size) with ``batch_first``, or unbatched (L, input_size); hx
    (num_layers * num_directions, N, hidden_size), zeros when omitted. output holds
    the last layer's h_t for every t, (L, N, num_directions * hidden_size); h_n the
    last step's state of every layer and direction, shaped like hx.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 bias=True, batch_first=False, dropout=0.0, bidirectional=False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; "
                             "choose 'tanh' or 'relu'")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional)
        self.nonlinearity = nonlinearity

    def _step(self, xw, state, whh_t, b_hh):
        return [_rnn_step(xw, state[0], whh_t, b_hh, self.nonlinearity)]

    def forward(self, input, hx=None):
        x, states, batched = self._prepare(input, [("hx", hx)])
        output, finals = self._finish(*self._run(x, states), batched)
        return output, finals[0]


class LSTM(_RNNBase):
    """Multi-layer LSTM (gates i, f, g, o in PyTorch's order):
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t,  h_t = o_t ⊙ tanh(c_t).

    ``forward(input, hx=None) -> (output, (h_n, c_n))``; hx is a pair (h_0, c_0), each
    (num_layers * num_directions, N, hidden_size), or None for zeros. Shapes as RNN.
    ``proj_size`` is not supported.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0):
        if proj_size:
            raise NotImplementedError("LSTM: proj_size (projected hidden states) is not "
                                      "supported; use proj_size=0")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional)
        self.proj_size = 0

    def _step(self, xw, state, whh_t, b_hh):
        return list(_lstm_step(xw, state[0], state[1], whh_t, b_hh))

    def forward(self, input, hx=None):
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTM: hx must be a pair (h_0, c_0) or None")
        x, states, batched = self._prepare(input, [("h_0", hx[0]), ("c_0", hx[1])])
        output, (h_n, c_n) = self._finish(*self._run(x, states), batched)
        return output, (h_n, c_n)


class GRU(_RNNBase):
    """Multi-layer GRU (gates r, z, n in PyTorch's order):
    n_t = tanh(x_t W_in^T + b_in + r_t ⊙ (h_{t−1} W_hn^T + b_hn)),
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}.

    ``forward(input, hx=None) -> (output, h_n)``; shapes as RNN.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional)

    def _step(self, xw, state, whh_t, b_hh):
        return [_gru_step(xw, state[0], whh_t, b_hh)]

    def forward(self, input, hx=None):
        x, states, batched = self._prepare(input, [("hx", hx)])
        output, finals = self._finish(*self._run(x, states), batched)
        return output, finals[0]
