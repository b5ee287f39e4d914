"""Random programs over the autograd ops, for differential fuzzing.

A *program* is straight-line code: leaves (inputs of random shape, dtype and kind)
and steps, each one op applied to earlier values. Every op is written three times,
as source text: with chainrule (``ag``), with plain NumPy, and with PyTorch. So one
program runs on any of the three backends, and its ``repr`` is a Python reproducer
that can be pasted into a file.

Programs are built by Hypothesis (``programs()``): the structure (which op, which
operands, axes, shapes, index expressions, spellings) is drawn from Hypothesis so
failures shrink; the leaf values come from a NumPy generator seeded by a drawn
integer. Each step is evaluated with NumPy while the program is built, which keeps
every step inside its op's domain and away from its kinks:

- log, sqrt, log1p, divisors, pow bases and fractional/negative powers only see
  values >= 0.25 (otherwise the step is preceded by the guard ``x * x + 0.5``);
- relu, abs, sign, clip bounds, ``where`` conditions and maximum/minimum only see
  operands at least ``MARGIN`` away from their kink (otherwise the operand is
  shifted by a threshold that lies in a gap of its values);
- max/min/argmax reductions only run where the two largest (smallest) elements of
  every reduced group differ by ``MARGIN`` (no ties), std only where var >= MARGIN;
- a step whose result is not finite or exceeds ``BOUND`` in magnitude is dropped.

With these guards central finite differences (eps = 1e-6) never cross a kink, so a
gradient mismatch is a real engine bug rather than a fuzzer artefact.

CI runs a bounded, derandomized number of examples; ``CHAINRULE_FUZZ=long`` selects
the long profile (thousands of random examples; ``CHAINRULE_FUZZ_EXAMPLES=N`` sets
the count). See docs/fuzzing.md.
"""
import math
import os
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from scipy import special

import autograd as ag

MARGIN = 0.02      # minimum distance of any operand from a kink, tie or domain edge
BOUND = 1e3        # largest magnitude any intermediate value may reach
POSITIVE = 0.25    # smallest value a log/sqrt/divisor/pow base may see

# ------------------------------------------------------------------ Hypothesis profiles
_QUIET = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
settings.register_profile("chainrule-ci", max_examples=60, deadline=None,
                          derandomize=True, database=None, suppress_health_check=_QUIET)
settings.register_profile("chainrule-long", deadline=None, derandomize=False, database=None,
                          max_examples=int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "3000")),
                          suppress_health_check=_QUIET, print_blob=True)
LONG = os.environ.get("CHAINRULE_FUZZ", "").lower() == "long"


def fuzz_settings(ci_examples):
    """The CI profile with ``ci_examples`` examples, or the long profile when
    ``CHAINRULE_FUZZ=long``. Applied per test, never loaded globally."""
    if LONG:
        return settings(settings.get_profile("chainrule-long"))
    return settings(settings.get_profile("chainrule-ci"), max_examples=ci_examples)


# ------------------------------------------------------------------ program representation
class Raw(str):
    """A parameter inserted into the source text as is (its repr is itself)."""

    def __repr__(self):
        return str(self)


@dataclass
class Leaf:
    values: np.ndarray
    kind: str           # "grad": Tensor requiring grad, "const": Tensor, "array": np.ndarray
    layout: str = "C"   # memory layout of the array handed over; see LAYOUTS

    def source(self, backend, name, float64=False):
        v = _cast64(self.values) if float64 else self.values
        arr = LAYOUTS[self.layout][0].format(f"np.array({v.tolist()!r}, dtype={str(v.dtype)!r})",
                                             shape=v.shape)
        if backend == "ag":
            if self.kind == "array":
                return f"{name} = {arr}"
            grad = ", requires_grad=True" if self.kind == "grad" else ""
            return f"{name} = ag.Tensor({arr}{grad})"
        return f"{name} = {arr}"


def _strided(v):
    return np.repeat(v, 2, axis=-1)[..., ::2]


# The same values in different memory: (source template, function). Tensor() wraps
# arrays without copying, so every op must cope with any of these.
LAYOUTS = {
    "C": ("{0}", lambda v: v),
    "F": ("np.asfortranarray({0})", np.asfortranarray),
    "strided": ("np.repeat({0}, 2, axis=-1)[..., ::2]", _strided),
    "readonly": ("np.broadcast_to({0}, {shape})", lambda v: np.broadcast_to(v, v.shape)),
}


@dataclass
class Step:
    op: str
    args: tuple
    params: dict = field(default_factory=dict)

    def source(self, backend, name, float64=False):
        template = OPS[self.op][backend]
        params = {k: (_dtype64(v) if float64 and k == "dtype" else v)
                  for k, v in self.params.items()}
        if backend == "torch" and "dtype" in params:
            params["dtype"] = Raw(f"torch.{np.dtype(params['dtype'])}")
        fields = {k: _src(v) for k, v in params.items()}
        names = [f"v{i}" for i in self.args]
        text = template.format(*names, args=", ".join(names), out=name, **fields)
        return text if "{out}" in template else f"{name} = {text}"


def _src(v):
    """Python source for a parameter value (arrays and dtypes spelled with ``np.``)."""
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, np.ndarray):
        return f"np.array({v.tolist()!r}, dtype={str(v.dtype)!r})"
    if isinstance(v, np.dtype):
        return f"np.dtype({str(v)!r})"
    if isinstance(v, tuple):
        inner = ", ".join(_src(e) for e in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, list):
        return "[" + ", ".join(_src(e) for e in v) + "]"
    if isinstance(v, slice):
        return f"slice({_src(v.start)}, {_src(v.stop)}, {_src(v.step)})"
    return repr(v)


def _cast64(values):
    return values.astype(np.float64) if values.dtype.kind == "f" else values


def _dtype64(dtype):
    return np.dtype(np.float64) if np.dtype(dtype).kind == "f" else dtype


class Program:
    """Straight-line code over leaves and steps; ``output`` names the result."""

    def __init__(self):
        self.nodes = []         # Leaf | Step, in order; value i is named v{i}
        self.output = None
        self.deps = frozenset()  # the "grad" leaves the output depends on differentiably
        self.error = None       # exception class NumPy raised at the last step, if any
        self.expected = None    # the NumPy value of the output, computed while building
        self.expected_is_tensor = True
        self.float32 = False    # some value is float32 (its rounding reaches the output)
        self.focus_landed = False  # the Config's focus op is one of the steps
        self._code = {}

    def grad_leaves(self):
        return [i for i, n in enumerate(self.nodes) if isinstance(n, Leaf) and n.kind == "grad"]

    def ops(self):
        return [n.op for n in self.nodes if isinstance(n, Step)]

    def source(self, backend="ag", float64=False, with_leaves=True):
        lines = []
        for i, n in enumerate(self.nodes):
            if isinstance(n, Leaf) and not with_leaves:
                continue
            lines.append(n.source(backend, f"v{i}", float64))
        lines.append(f"out = v{self.output}")
        return "\n".join(lines)

    def run(self, backend, float64=False, leaves=None):
        """Evaluate on ``backend`` ("ag", "np" or "torch"); ``leaves`` maps a leaf
        index to the object to use for it (gradcheck passes its own Tensors)."""
        key = (backend, float64)
        code = self._code.get(key)
        if code is None:
            code = compile(self.source(backend, float64, with_leaves=False),
                           f"<fuzz program, {backend}>", "exec")
            self._code[key] = code
        ns = {}
        for i, n in enumerate(self.nodes):
            if isinstance(n, Leaf):
                ns[f"v{i}"] = (leaves[i] if leaves and i in leaves
                               else make_leaf(n, backend, float64))
        exec(code, env(backend), ns)
        return ns["out"]

    def __repr__(self):
        return ("\nimport numpy as np\nimport autograd as ag\n" + self.source("ag")
                + "\n# NumPy reference\n" + self.source("np", with_leaves=False) + "\n")


def make_leaf(leaf, backend, float64=False, layout=None):
    v = _cast64(leaf.values) if float64 or backend == "torch" else leaf.values
    v = LAYOUTS[layout or leaf.layout][1](v.copy())
    if backend == "ag":
        if leaf.kind == "array":
            return v
        return ag.Tensor(v, requires_grad=leaf.kind == "grad")
    if backend == "torch":
        import torch
        return torch.tensor(v, requires_grad=leaf.kind == "grad")
    return v


# ------------------------------------------------------------------ reference helpers
def n_sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the adjoint of broadcasting), in plain NumPy."""
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead))) if lead else x
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and x.shape[i] != 1)
    return np.asarray(x.sum(axis=axes, keepdims=True) if axes else x)


def n_logsumexp(x, axis, keepdims):
    """SciPy's logsumexp, with NumPy's result shape (SciPy makes a 0-d input 1-d)."""
    shape = np.sum(x, axis=axis, keepdims=keepdims).shape
    return np.asarray(special.logsumexp(x, axis=axis, keepdims=keepdims)).reshape(shape)


def n_window(x, kernel, stride, dilation):
    """Sliding windows via NumPy's sliding_window_view, then stride/dilation slices."""
    d = len(kernel)
    span = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))
    w = np.lib.stride_tricks.sliding_window_view(x, span, axis=tuple(range(x.ndim - d, x.ndim)))
    index = ((Ellipsis,) + tuple(slice(None, None, s) for s in stride)
             + tuple(slice(None, None, dl) for dl in dilation))
    return w[index]


def n_flat(shape, index):
    """The flat positions ``x[index]`` reads: lets torch gather with any NumPy index."""
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)[index]


def _torch_env():
    import torch
    import torch.nn.functional as F

    def dims(x, axis):
        if axis is None:
            return tuple(range(x.ndim))
        return (axis,) if isinstance(axis, int) else tuple(axis)

    def t_reduce(name, x, axis, keepdims, ddof=0):
        d = dims(x, axis)
        if not d:                       # torch reads dim=() as "all"; NumPy as "none"
            if name in ("var", "std"):
                return x * 0.0
            return x
        if name == "sum":
            return torch.sum(x, dim=d, keepdim=keepdims)
        if name == "mean":
            return torch.mean(x, dim=d, keepdim=keepdims)
        if name == "var":
            return torch.var(x, dim=d, correction=ddof, keepdim=keepdims)
        if name == "std":
            return torch.std(x, dim=d, correction=ddof, keepdim=keepdims)
        if name == "max":
            return torch.amax(x, dim=d, keepdim=keepdims)
        if name == "min":
            return torch.amin(x, dim=d, keepdim=keepdims)
        if name == "logsumexp":
            return torch.logsumexp(x, dim=d, keepdim=keepdims)
        if name == "prod":
            for a in sorted((a % x.ndim for a in d), reverse=True):
                x = torch.prod(x, dim=a, keepdim=True)
            return x if keepdims else x.reshape(
                [s for i, s in enumerate(x.shape) if i not in {a % x.ndim for a in d}])
        raise ValueError(name)

    def t_arg(name, x, axis, keepdims):
        fn = torch.argmax if name == "argmax" else torch.argmin
        if axis is None:
            r = fn(x)
            return r.reshape((1,) * x.ndim) if keepdims else r
        return fn(x, dim=axis, keepdim=keepdims)

    def t_index(x, flat):
        return x.reshape(-1)[torch.as_tensor(flat)]

    def t_setitem(t, flat, value):
        out = t.reshape(-1).clone()
        v = value if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=t.dtype)
        out[torch.as_tensor(flat.reshape(-1))] = torch.broadcast_to(v.to(t.dtype),
                                                                     flat.shape).reshape(-1)
        return out.reshape(t.shape)

    def t_window(x, kernel, stride, dilation):
        d = len(kernel)
        first = x.ndim - d
        for i, (k, s, dl) in enumerate(zip(kernel, stride, dilation)):
            x = x.unfold(first + i, dl * (k - 1) + 1, s)
        index = (Ellipsis,) + tuple(slice(None, None, dl) for dl in dilation)
        return x[index]

    def t_scalar_like(s, x):
        return torch.tensor(s, dtype=x.dtype)

    return dict(torch=torch, F=F, np=np, t_reduce=t_reduce,
                t_arg=t_arg, t_index=t_index, t_setitem=t_setitem, t_window=t_window,
                t_scalar_like=t_scalar_like)


_ENVS = {}


def env(backend):
    e = _ENVS.get(backend)
    if e is None:
        if backend == "torch":
            e = _torch_env()
        else:
            e = dict(ag=ag, np=np, special=special, n_sum_to=n_sum_to, n_window=n_window,
                     n_logsumexp=n_logsumexp)
        _ENVS[backend] = e
    return e


# ------------------------------------------------------------------ the op table
# name -> {"ag": template, "np": template, "torch": template}, plus
#   "diff": positions of arguments gradients flow to (default: all),
#   "method": the ag template calls a Tensor method on its first argument,
#   "operator": the ag template is a Python operator (an ndarray op ndarray stays an ndarray).
OPS = {}


def _op(name, ag_t, np_t, torch_t, diff=None, method=False, operator=False):
    OPS[name] = dict(ag=ag_t, np=np_t, torch=torch_t, diff=diff, method=method,
                     operator=operator)


_NP_UNARY = {"sigmoid": "special.expit({0})", "erf": "special.erf({0})",
             "relu": "np.maximum({0}, 0)"}
for _u in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf", "log1p", "expm1",
           "relu", "abs", "sign"):
    _np_t = _NP_UNARY.get(_u, f"np.{_u}({{0}})")
    _op(_u, f"ag.{_u}({{0}})", _np_t, f"torch.{_u}({{0}})")
    _op(_u + ".m", f"{{0}}.{_u}()", _np_t, f"torch.{_u}({{0}})", method=True)
_op("abs.builtin", "abs({0})", "np.abs({0})", "torch.abs({0})", operator=True)
_op("neg", "-{0}", "-{0}", "-{0}", operator=True)
_op("neg.fn", "ag.neg({0})", "np.negative({0})", "-{0}")
_op("clip", "ag.clip({0}, {lo}, {hi})", "np.clip({0}, {lo}, {hi})", "torch.clamp({0}, {lo}, {hi})")
_op("clip.m", "{0}.clip({lo}, {hi})", "np.clip({0}, {lo}, {hi})", "torch.clamp({0}, {lo}, {hi})",
    method=True)
_op("astype", "ag.astype({0}, {dtype})", "{0}.astype({dtype})", "{0}.to({dtype})")
_op("astype.m", "{0}.astype({dtype})", "{0}.astype({dtype})", "{0}.to({dtype})", method=True)

_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
_NP_BINARY = {"add": "np.add", "sub": "np.subtract", "mul": "np.multiply",
              "div": "np.true_divide", "pow": "np.power"}
for _b, _sym in _BINARY.items():
    _op(_b, f"{{0}} {_sym} {{1}}", f"{{0}} {_sym} {{1}}", f"{{0}} {_sym} {{1}}", operator=True)
    _op(_b + ".fn", f"ag.{_b}({{0}}, {{1}})", f"{_NP_BINARY[_b]}({{0}}, {{1}})",
        f"{{0}} {_sym} {{1}}")
    _op(_b + ".rs", f"{{0}} {_sym} {{s}}", f"{{0}} {_sym} {{s}}", f"{{0}} {_sym} {{s}}",
        operator=True)                                  # tensor op python scalar
    _op(_b + ".ls", f"{{s}} {_sym} {{0}}", f"{{s}} {_sym} {{0}}", f"{{s}} {_sym} {{0}}",
        operator=True)                                  # python scalar op tensor
for _b in ("maximum", "minimum"):
    _op(_b, f"ag.{_b}({{0}}, {{1}})", f"np.{_b}({{0}}, {{1}})", f"torch.{_b}({{0}}, {{1}})")
    _op(_b + ".m", f"{{0}}.{_b}({{1}})", f"np.{_b}({{0}}, {{1}})", f"torch.{_b}({{0}}, {{1}})",
        method=True)
    _op(_b + ".rs", f"ag.{_b}({{0}}, {{s}})", f"np.{_b}({{0}}, {{s}})",
        f"torch.{_b}({{0}}, t_scalar_like({{s}}, {{0}}))")
_op("where", "ag.where({2} {cmp} {t}, {0}, {1})", "np.where({2} {cmp} {t}, {0}, {1})",
    "torch.where({2} {cmp} {t}, {0}, {1})", diff=(0, 1))
_op("where.rs", "ag.where({1} {cmp} {t}, {0}, {s})", "np.where({1} {cmp} {t}, {0}, {s})",
    "torch.where({1} {cmp} {t}, {0}, {s})", diff=(0,))

for _r in ("sum", "mean", "max", "min", "logsumexp", "prod"):
    _np_r = ("n_logsumexp({0}, {axis}, {keepdims})" if _r == "logsumexp" else
             f"np.asarray(np.{_r}({{0}}, axis={{axis}}, keepdims={{keepdims}}))")
    _t_r = f"t_reduce({_r!r}, {{0}}, {{axis}}, {{keepdims}})"
    _op(_r, f"ag.{_r}({{0}}, axis={{axis}}, keepdims={{keepdims}})", _np_r, _t_r)
    _op(_r + ".m", f"{{0}}.{_r}(axis={{axis}}, keepdims={{keepdims}})", _np_r, _t_r, method=True)
for _r in ("var", "std"):
    _np_r = f"np.asarray(np.{_r}({{0}}, axis={{axis}}, ddof={{ddof}}, keepdims={{keepdims}}))"
    _t_r = f"t_reduce({_r!r}, {{0}}, {{axis}}, {{keepdims}}, {{ddof}})"
    _op(_r, f"ag.{_r}({{0}}, axis={{axis}}, ddof={{ddof}}, keepdims={{keepdims}})", _np_r, _t_r)
    _op(_r + ".m", f"{{0}}.{_r}(axis={{axis}}, ddof={{ddof}}, keepdims={{keepdims}})", _np_r,
        _t_r, method=True)
for _r in ("argmax", "argmin"):
    _np_r = f"np.asarray(np.{_r}({{0}}, axis={{axis}}, keepdims={{keepdims}}))"
    _t_r = f"t_arg({_r!r}, {{0}}, {{axis}}, {{keepdims}})"
    _op(_r, f"ag.{_r}({{0}}, axis={{axis}}, keepdims={{keepdims}})", _np_r, _t_r, diff=())
    _op(_r + ".m", f"{{0}}.{_r}(axis={{axis}}, keepdims={{keepdims}})", _np_r, _t_r, diff=(),
        method=True)

_op("reshape", "ag.reshape({0}, {shape})", "np.reshape({0}, {shape})", "{0}.reshape({shape})")
_op("reshape.m", "{0}.reshape(*{shape})", "np.reshape({0}, {shape})", "{0}.reshape({shape})",
    method=True)
_op("transpose", "ag.transpose({0}, *{axes})", "np.transpose({0}, {axes})",
    "{0}.permute({axes})")
_op("transpose.m", "{0}.transpose({axes})", "np.transpose({0}, {axes})", "{0}.permute({axes})",
    method=True)
_op("T", "{0}.T", "np.transpose({0})", "{0}.permute({axes})", method=True)
_op("swapaxes", "ag.swapaxes({0}, {a}, {b})", "np.swapaxes({0}, {a}, {b})",
    "torch.swapaxes({0}, {a}, {b})")
_op("moveaxis", "ag.moveaxis({0}, {src}, {dst})", "np.moveaxis({0}, {src}, {dst})",
    "torch.movedim({0}, {src}, {dst})")
_op("squeeze", "ag.squeeze({0}, {axis})", "np.squeeze({0}, {axis})", "{0}.reshape({shape})")
_op("squeeze.m", "{0}.squeeze({axis})", "np.squeeze({0}, {axis})", "{0}.reshape({shape})",
    method=True)
_op("expand_dims", "ag.expand_dims({0}, {axis})", "np.expand_dims({0}, {axis})",
    "{0}.reshape({shape})")
_op("flatten", "ag.flatten({0})", "np.ravel({0})", "{0}.reshape(-1)")
_op("flatten.m", "{0}.flatten()", "np.ravel({0})", "{0}.reshape(-1)", method=True)
_op("broadcast_to", "ag.broadcast_to({0}, {shape})", "np.broadcast_to({0}, {shape})",
    "torch.broadcast_to({0}, {shape})")
_op("sum_to", "ag.sum_to({0}, {shape})", "n_sum_to({0}, {shape})", "{0}.sum_to_size({shape})")
_op("getitem", "{0}[{index}]", "{0}[{index}]", "t_index({0}, {flat})", method=True)
_op("getitem.fn", "ag.getitem({0}, {index})", "{0}[{index}]", "t_index({0}, {flat})")
_op("concatenate", "ag.concatenate([{args}], axis={axis})", "np.concatenate([{args}], axis={axis})",
    "torch.cat([{args}], dim={axis})")
_op("stack", "ag.stack([{args}], axis={axis})", "np.stack([{args}], axis={axis})",
    "torch.stack([{args}], dim={axis})")
_op("split", "ag.split({0}, {sections}, axis={axis})[{k}]",
    "np.split({0}, {sections}, axis={axis})[{k}]",
    "torch.tensor_split({0}, {sections}, dim={axis})[{k}]")
_op("split.m", "{0}.split({sections}, axis={axis})[{k}]",
    "np.split({0}, {sections}, axis={axis})[{k}]",
    "torch.tensor_split({0}, {sections}, dim={axis})[{k}]", method=True)
_op("pad", "ag.pad({0}, {width}, {value})", "np.pad({0}, {width}, constant_values={value})",
    "F.pad({0}, {twidth}, value={value})")
_op("pad.m", "{0}.pad({width}, constant_values={value})",
    "np.pad({0}, {width}, constant_values={value})", "F.pad({0}, {twidth}, value={value})",
    method=True)
_op("sliding_window", "ag.sliding_window({0}, {kernel}, stride={stride}, dilation={dilation})",
    "n_window({0}, {kernel}, {stride}, {dilation})",
    "t_window({0}, {kernel}, {stride}, {dilation})")
_op("matmul", "{0} @ {1}", "{0} @ {1}", "torch.matmul({0}, {1})", operator=True)
_op("matmul.fn", "ag.matmul({0}, {1})", "np.matmul({0}, {1})", "torch.matmul({0}, {1})")
_op("matmul.m", "{0}.matmul({1})", "np.matmul({0}, {1})", "torch.matmul({0}, {1})", method=True)
for _b, _sym in (("iadd", "+"), ("isub", "-"), ("imul", "*"), ("idiv", "/")):
    _t = f"{{out}} = {{0}} * 1.0\n{{out}} {_sym}= {{1}}"
    _nt = f"{{out}} = np.array({{0}} * 1.0)\n{{out}} {_sym}= {{1}}"   # 0-d stays an array
    _op(_b, _t, _nt, _t, method=True)       # on an ndarray, += would rebind, not update
    _ts = f"{{out}} = {{0}} * 1.0\n{{out}} {_sym}= {{s}}"
    _nts = f"{{out}} = np.array({{0}} * 1.0)\n{{out}} {_sym}= {{s}}"
    _op(_b + ".rs", _ts, _nts, _ts, diff=(0,), method=True)
_op("setitem", "{out} = {0} * 1.0\n{out}[{index}] = {1}",
    "{out} = np.array({0} * 1.0)\n{out}[{index}] = {1}",
    "{out} = t_setitem({0} * 1.0, {flat}, {1})", method=True)
_op("setitem.rs", "{out} = {0} * 1.0\n{out}[{index}] = {s}",
    "{out} = np.array({0} * 1.0)\n{out}[{index}] = {s}",
    "{out} = t_setitem({0} * 1.0, {flat}, {s})", diff=(0,), method=True)

# The autograd names each fuzzed op exercises (checked against ag.__all__ in the tests).
COVERED = {"add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "sin", "cos",
           "tanh", "sigmoid", "relu", "abs", "sign", "clip", "maximum", "minimum", "where",
           "erf", "log1p", "expm1", "astype", "sum", "mean", "var", "std", "max", "min",
           "logsumexp", "prod", "argmax", "argmin", "reshape", "transpose", "swapaxes",
           "moveaxis", "squeeze", "expand_dims", "flatten", "broadcast_to", "sum_to",
           "getitem", "concatenate", "stack", "split", "pad", "matmul", "sliding_window"}


# ------------------------------------------------------------------ the generator
@dataclass(frozen=True)
class Config:
    max_steps: int = 10 if LONG else 6
    dtypes: tuple = ("float32", "float64")
    ints: bool = True           # int64 leaves (constants) may appear
    arrays: bool = True         # plain ndarray leaves may appear (ag sees them as arrays)
    exclude: tuple = ()         # op families (keys of FAMILIES) never to generate
    focus: str = None           # an op (a key of FOCUS) the program starts with
    layouts: bool = True        # Fortran-order, strided and read-only input arrays too
    max_leaf: int = 12          # elements per leaf: finite differences cost 2 runs each
    max_size: int = 48          # elements per intermediate value
    max_rank: int = 4


class _Skip(Exception):
    """The drawn step does not fit the current values; draw another."""


class _Builder:
    def __init__(self, draw, cfg):
        self.draw = draw
        self.cfg = cfg
        self.rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
        self.p = Program()
        self.vals = []          # NumPy value of each node, in the program's dtypes
        self.deps = []          # grad leaves each node depends on differentiably
        self.is_tensor = []     # is the ag value a Tensor (not a plain ndarray)?
        self.focus = cfg.focus  # the op the first step must be (None: any)

    # ----- drawing helpers
    def d_int(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def d_pick(self, options):
        return self.draw(st.sampled_from(options))

    def d_bool(self):
        return self.draw(st.booleans())

    def choose(self, names):
        """Which op of a family: the focus op when it is one of them, else drawn."""
        return self.focus if self.focus in names else self.d_pick(names)

    def pick(self, pred=None):
        """An existing value, biased to recent ones (deeper programs); None if none fits."""
        cands = [i for i in range(len(self.vals)) if pred is None or pred(i)]
        if not cands:
            return None
        return cands[-1 - self.d_int(0, len(cands) - 1)]

    def shape(self, min_rank=0, min_dim=1):
        """Rank min_rank to max_rank - 1, axes of min_dim to 4, at most max_leaf elements."""
        dims = [self.d_int(min_dim, 4)
                for _ in range(self.d_int(min_rank, self.cfg.max_rank - 1))]
        while int(np.prod(dims)) > self.cfg.max_leaf:
            dims[dims.index(max(dims))] -= 1
        return tuple(dims)

    # ----- leaves and steps
    def leaf(self, shape, domain="any", kind=None, dtype=None):
        cfg = self.cfg
        if kind is None:
            kinds = ["grad", "grad", "grad", "const"] + (["array"] if cfg.arrays else [])
            kind = self.d_pick(kinds)
        if dtype is None:
            dts = list(cfg.dtypes)
            if kind != "grad" and cfg.ints and domain == "any":
                dts.append("int64")
            dtype = self.d_pick(dts)
        n = int(np.prod(shape))
        if n > cfg.max_leaf:
            raise _Skip
        if np.dtype(dtype).kind == "i":
            v = self.rng.integers(-3, 4, n)
        elif domain == "pos":
            v = self.rng.uniform(0.5, 2.0, n)
        else:
            v = self.rng.uniform(-2.0, 2.0, n)
        values = np.asarray(v.reshape(shape), dtype=dtype)
        layout = self.d_pick(["C", "readonly"] + ["strided"] * (len(shape) >= 1)
                             + ["F"] * (len(shape) >= 2) if self.cfg.layouts else ["C"])
        i = len(self.vals)
        self.p.nodes.append(Leaf(values, kind, layout))
        self.vals.append(values)
        self.deps.append(frozenset([i]) if kind == "grad" else frozenset())
        self.is_tensor.append(kind != "array")
        return i

    def step(self, ops, args, may_fail=False, **params):
        """Append one step: ``ops`` is an op name or a list of spellings to draw from.
        The step is evaluated with NumPy; raises _Skip when its result is too big, not
        finite or out of BOUND. ``may_fail``: a NumPy error ends the program there."""
        if not isinstance(ops, str):
            fits = [o for o in ops if not OPS[o]["method"] or self.is_tensor[args[0]]]
            if not fits:
                raise _Skip
            ops = self.d_pick(fits)
        spec = OPS[ops]
        if spec["method"] and not self.is_tensor[args[0]]:
            raise _Skip
        s = Step(ops, tuple(args), params)
        ns = {f"v{i}": self.vals[i] for i in args}
        try:
            with np.errstate(all="ignore"):
                exec(s.source("np", "r"), env("np"), ns)
        except (ValueError, TypeError, IndexError) as e:
            if may_fail:
                self.p.nodes.append(s)
                self.p.error = type(e)
                return None
            raise AssertionError(f"fuzz generator built an invalid step {s}: {e}") from e
        r = np.asarray(ns["r"])
        if r.size > self.cfg.max_size or r.ndim > self.cfg.max_rank or r.size == 0:
            raise _Skip
        if r.dtype.kind in "fi" and not (np.all(np.isfinite(r)) and np.abs(r).max() <= BOUND):
            raise _Skip
        i = len(self.vals)
        self.p.nodes.append(s)
        self.vals.append(r)
        diff = spec["diff"] if spec["diff"] is not None else range(len(args))
        self.deps.append(frozenset().union(*[self.deps[args[k]] for k in diff])
                         if r.dtype.kind == "f" else frozenset())
        self.is_tensor.append(not spec["operator"] or any(self.is_tensor[a] for a in args))
        return i

    # ----- guards
    def positive(self, i):
        """``i`` itself when all its values are >= POSITIVE, else the guard x*x + 0.5."""
        if np.min(self.vals[i]) >= POSITIVE:
            return i
        return self.step("add.rs", (self.step("mul", (i, i)),), s=0.5)

    @staticmethod
    def thresholds(values, interior=True):
        """Numbers at least MARGIN away from every value, ascending: the gaps between
        values (only those, when ``interior`` and there are any, so both sides are
        populated) and a point below and above them all."""
        v = np.unique(np.asarray(values, dtype=np.float64).ravel())
        gaps = [(a + b) / 2 for a, b in zip(v[:-1], v[1:]) if b - a > 2.5 * MARGIN]
        cands = gaps if gaps and interior else [v[0] - 0.5] + gaps + [v[-1] + 0.5]
        # round for a readable reproducer, unless that moves a threshold too close
        return [float(round(t, 4)) if min(abs(v - round(t, 4))) >= MARGIN else float(t)
                for t in cands]

    def threshold(self, values):
        cands = self.thresholds(values)
        return cands[self.d_int(0, len(cands) - 1)]

    def off_zero(self, i):
        """``i`` when no value is within MARGIN of 0, else ``i - t`` with t in a gap."""
        if self.vals[i].dtype.kind == "f" and np.min(np.abs(self.vals[i])) >= MARGIN:
            return i
        if self.vals[i].dtype.kind != "f" and np.all(self.vals[i] != 0):
            return i
        return self.step("sub.rs", (i,), s=self.threshold(self.vals[i]))

    def partner_shape(self, shape, max_size=None):
        """A shape broadcast-compatible with ``shape`` (rank promotion either way)."""
        max_size = max_size or self.cfg.max_size
        rank = self.d_int(0, min(self.cfg.max_rank, len(shape) + 1))
        out = []
        for k in range(1, rank + 1):
            if k <= len(shape):
                s = shape[-k]
                c = self.d_pick(["same", "one", "grow"] if s == 1 else ["same", "one"])
                out.append(s if c == "same" else 1 if c == "one" else self.d_int(2, 3))
            else:
                out.append(self.d_int(1, 3))
        out = tuple(reversed(out))
        if int(np.prod(np.broadcast_shapes(shape, out))) > max_size \
                or int(np.prod(out)) > self.cfg.max_leaf:
            out = tuple(1 for _ in out)
        return out

    def sub_shape(self, shape):
        """A shape that broadcasts *to* ``shape`` (fewer leading axes, some axes 1)."""
        drop = self.d_int(0, len(shape))
        return tuple(s if self.d_bool() else 1 for s in shape[drop:])

    def compatible(self, shape):
        """Pool values broadcast-compatible with ``shape`` (result small enough)."""
        def ok(j):
            try:
                b = np.broadcast_shapes(shape, self.vals[j].shape)
            except ValueError:
                return False
            return int(np.prod(b)) <= self.cfg.max_size
        return ok

    def operand(self, shape, domain="any"):
        """A second operand broadcast-compatible with ``shape``: a pool value or a new leaf."""
        j = None
        if self.d_bool():
            j = self.pick(self.compatible(shape))
        if j is None:
            j = self.leaf(self.partner_shape(shape), domain)
        return self.positive(j) if domain == "pos" else j

    def scalar(self, options=(0.5, 1.5, -2.0, 3.0, 2, -1, np.float32(0.75), np.float64(-1.25),
                              np.int64(2))):
        """Python scalars are weakly typed (NEP 50); NumPy scalars promote like arrays."""
        return self.d_pick(list(options))


def _axis_param(b, ndim, allow_tuple=True):
    """None, an int (maybe negative) or a tuple of distinct axes (maybe unordered/empty)."""
    kind = b.d_pick(["none", "int", "tuple"] if allow_tuple and ndim else
                    ["none", "int"] if ndim else ["none"])
    if kind == "none":
        return None
    if kind == "int":
        a = b.d_int(0, ndim - 1)
        return a - ndim if b.d_bool() else a
    k = b.d_int(0, ndim)
    axes = list(range(ndim))
    chosen = [axes.pop(b.d_int(0, len(axes) - 1)) for _ in range(k)]
    return tuple(a - ndim if b.d_bool() else a for a in chosen)


def _norm_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        return (axis % ndim,)
    return tuple(sorted(a % ndim for a in axis))


def _extreme_gap(values, axes, largest=True):
    """Smallest gap between the top two (bottom two) elements over reduced groups."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0 or not axes:
        return math.inf
    moved = np.moveaxis(v, axes, tuple(range(v.ndim - len(axes), v.ndim)))
    flat = moved.reshape(moved.shape[:v.ndim - len(axes)] + (-1,))
    if flat.shape[-1] < 2:
        return math.inf
    s = np.sort(flat, axis=-1)
    gap = s[..., -1] - s[..., -2] if largest else s[..., 1] - s[..., 0]
    return float(gap.min())


# ----- op families: each draws one step (and the guards or leaves it needs)
_UNARY = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf", "log1p", "expm1",
          "relu", "abs", "sign", "neg", "clip", "astype", "pow_s", "rpow_s"]
_BINARY_NAMES = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"]
_REDUCE_NAMES = ["sum", "mean", "var", "std", "max", "min", "logsumexp", "prod"]
_ARG_NAMES = ["argmax", "argmin"]
_SHAPE_NAMES = ["reshape", "transpose", "swapaxes", "moveaxis", "squeeze", "expand_dims",
                "flatten", "broadcast_to", "sum_to"]
_JOIN_NAMES = ["concatenate", "stack", "split"]
_INPLACE_NAMES = ["iadd", "isub", "imul", "idiv"]
_NEEDS_POSITIVE = {"log", "sqrt", "log1p"}
_KINKED = {"relu", "abs", "sign"}


def _unary(b):
    name = b.choose(_UNARY)
    i = b.pick()
    if name in _NEEDS_POSITIVE:
        i = b.positive(i)
    elif name in _KINKED:
        i = b.off_zero(i)
    if name == "pow_s":
        s = b.scalar((2, 3, 0.5, -1.0, 1.5, -0.5))
        if not (isinstance(s, int) and s > 0):
            i = b.positive(i)
        return b.step("pow.rs", (i,), may_fail=_int_power_fails(b.vals[i], s), s=s)
    if name == "rpow_s":
        s = b.scalar((2.0, 0.5, 3.0, 2))
        return b.step("pow.ls", (i,), may_fail=_int_power_fails(s, b.vals[i]), s=s)
    if name == "neg":
        return b.step(["neg", "neg.fn"], (i,))
    if name == "clip":
        cands = b.thresholds(b.vals[i], interior=False)     # at least two
        k = b.d_int(0, len(cands) - 2)
        lo, hi = cands[k], cands[b.d_int(k + 1, len(cands) - 1)]
        which = b.d_pick(["both", "lo", "hi"])
        lo, hi = (lo, hi) if which == "both" else (lo, None) if which == "lo" else (None, hi)
        return b.step(["clip", "clip.m"], (i,), lo=lo, hi=hi)
    if name == "astype":
        return b.step(["astype", "astype.m"], (i,),
                      dtype=np.dtype(b.d_pick(list(b.cfg.dtypes))))
    variants = [name, name + ".m"] + (["abs.builtin"] if name == "abs" else [])
    return b.step(variants, (i,))


def _int_power_fails(base, exponent):
    """NumPy refuses integers to negative integer powers; ag must refuse them too."""
    return (np.asarray(base).dtype.kind == "i" and np.asarray(exponent).dtype.kind == "i"
            and bool(np.any(np.asarray(exponent) < 0)))


def _binary(b):
    name = b.choose(_BINARY_NAMES)
    i = b.pick()
    if b.d_int(0, 2) == 0:                              # with a scalar
        if name in ("maximum", "minimum"):
            return b.step(name + ".rs", (i,), s=b.threshold(b.vals[i]))
        side = b.d_pick(["rs", "ls"])
        s = b.scalar()
        if name == "pow" and side == "ls":
            s = abs(float(s))                           # s ** x needs a positive base
        elif name == "pow" or (name == "div" and side == "ls"):
            i = b.positive(i)                           # x ** s, s / x
        return b.step(f"{name}.{side}", (i,), may_fail=name == "pow" and side == "rs"
                      and _int_power_fails(b.vals[i], s), s=s)
    if name == "pow":
        i = b.positive(i)                               # base on the left
    j = b.operand(b.vals[i].shape, "pos" if name == "div" else "any")
    if name in ("maximum", "minimum"):
        a, c = np.broadcast_arrays(b.vals[i], b.vals[j])
        if np.min(np.abs(a.astype(np.float64) - c)) < MARGIN:
            raise _Skip
        return b.step([name, name + ".m"], (i, j))
    if name in ("div", "pow"):                          # divisor / exponent on the right
        return b.step([name, name + ".fn"], (i, j),
                      may_fail=_int_power_fails(b.vals[i], b.vals[j]))
    return b.step([name, name + ".fn"], (i, j) if b.d_bool() else (j, i))


def _where(b):
    i = b.pick()
    c = b.pick(b.compatible(b.vals[i].shape))
    t = b.threshold(b.vals[c])
    cmp = b.d_pick([">", "<", ">=", "<="])
    if b.d_bool():
        return b.step("where.rs", (i, c), cmp=Raw(cmp), t=t, s=b.scalar())
    j = b.operand(np.broadcast_shapes(b.vals[i].shape, b.vals[c].shape))
    if int(np.prod(np.broadcast_shapes(b.vals[i].shape, b.vals[j].shape,
                                       b.vals[c].shape))) > b.cfg.max_size:
        raise _Skip
    return b.step("where", (i, j, c), cmp=Raw(cmp), t=t)


def _reduce(b):
    name = b.choose(_REDUCE_NAMES)
    i = b.pick()
    x = b.vals[i]
    keepdims = b.d_bool()
    axis = _axis_param(b, x.ndim)
    axes = _norm_axes(axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes]))
    params = dict(axis=axis, keepdims=keepdims)
    if name in ("var", "std"):
        params["ddof"] = b.d_int(0, 1)
        if n - params["ddof"] < 1:
            raise _Skip
        if name == "std":
            var = np.var(x.astype(np.float64), axis=axes, ddof=params["ddof"])
            if np.min(var) < MARGIN:
                raise _Skip
    if name in ("max", "min") and _extreme_gap(x, axes, name == "max") < MARGIN:
        raise _Skip
    if name == "prod" and n > 6:
        raise _Skip
    return b.step([name, name + ".m"], (i,), **params)


def _arg(b):
    """argmax/argmin: integer results that later steps may compute with."""
    name = b.choose(_ARG_NAMES)
    i = b.pick()
    x = b.vals[i]
    axis = _axis_param(b, x.ndim, allow_tuple=False)
    if _extreme_gap(x, _norm_axes(axis, x.ndim), name == "argmax") < MARGIN:
        raise _Skip
    return b.step([name, name + ".m"], (i,), axis=axis, keepdims=b.d_bool())


def _random_shape_of_size(b, size):
    """A random shape with ``size`` elements (rank 0..max_rank)."""
    factors = []
    n, p = size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    rank = b.d_int(1 if size > 1 else 0, b.cfg.max_rank)
    dims = [1] * rank
    for f in factors:
        dims[b.d_int(0, rank - 1)] *= f
    if rank and b.d_bool():
        dims[b.d_int(0, rank - 1)] = -1
    return tuple(dims)


def _shape(b):
    name = b.choose(_SHAPE_NAMES)
    i = b.pick()
    x = b.vals[i]
    nd = x.ndim
    if name == "reshape":
        return b.step(["reshape", "reshape.m"], (i,),
                      shape=_random_shape_of_size(b, x.size))
    if name == "transpose":
        axes = list(range(nd))
        perm = tuple(axes.pop(b.d_int(0, len(axes) - 1)) for _ in range(nd))
        if perm == tuple(reversed(range(nd))) and b.d_bool():
            return b.step("T", (i,), axes=perm)
        perm = tuple(a - nd if b.d_bool() else a for a in perm)
        return b.step(["transpose", "transpose.m"], (i,), axes=perm)
    if name in ("swapaxes", "moveaxis"):
        if nd == 0:
            raise _Skip
        a, c = b.d_int(-nd, nd - 1), b.d_int(-nd, nd - 1)
        if name == "swapaxes":
            return b.step("swapaxes", (i,), a=a, b=c)
        return b.step("moveaxis", (i,), src=a, dst=c)
    if name == "squeeze":
        ones = [k for k, s in enumerate(x.shape) if s == 1]
        axis = None
        if ones and b.d_bool():
            axis = ones[b.d_int(0, len(ones) - 1)]
            axis = axis - nd if b.d_bool() else axis
        shape = np.squeeze(x, axis).shape
        return b.step(["squeeze", "squeeze.m"], (i,), axis=axis, shape=shape)
    if name == "expand_dims":
        if nd >= b.cfg.max_rank:
            raise _Skip
        axis = b.d_int(-nd - 1, nd)
        return b.step("expand_dims", (i,), axis=axis, shape=np.expand_dims(x, axis).shape)
    if name == "flatten":
        return b.step(["flatten", "flatten.m"], (i,))
    target = (np.broadcast_shapes(x.shape, b.partner_shape(x.shape)) if name == "broadcast_to"
              else b.sub_shape(x.shape))
    return b.step(name, (i,), shape=tuple(target))


def _random_index(b, shape, unique=False):
    """A NumPy index into ``shape``: basic slices/ints (negative steps too), integer
    arrays (repeats unless ``unique``), a boolean mask, Ellipsis and None."""
    nd = len(shape)
    kind = b.d_pick(["basic", "basic", "int_array", "mask"] if nd else ["basic"])
    if kind == "mask":
        k = b.d_int(1, nd)
        mask = b.rng.random(shape[:k]) < 0.6
        mask.flat[b.d_int(0, mask.size - 1)] = True
        return (mask,) if b.d_bool() else mask
    n_idx = b.d_int(1 if kind == "int_array" else 0, nd)
    trailing = n_idx < nd and b.d_bool()        # "..." first, entries for the last axes
    axes = range(nd - n_idx, nd) if trailing else range(n_idx)
    entries = [Ellipsis] if trailing else []
    arrays = 0
    m = b.d_int(1, 4)                           # integer arrays must broadcast together
    if unique:                                  # ... and hold distinct positions
        m = min([m] + [shape[ax] for ax in axes])
    for k, ax in enumerate(axes):
        n = shape[ax]
        last_chance = kind == "int_array" and not arrays and k == n_idx - 1
        c = "array" if last_chance else b.d_pick(
            ["int", "slice", "slice", "array"] if kind == "int_array" and arrays < 2
            else ["int", "slice", "slice"])
        if c == "int":
            entries.append(b.d_int(-n, n - 1))
        elif c == "slice":
            step = b.d_pick([None, 1, 2, -1, -2])
            start = b.d_pick([None, b.d_int(-n - 1, n)])
            stop = b.d_pick([None, b.d_int(-n - 1, n)])
            entries.append(slice(start, stop, step))
        else:
            if unique:
                idx = b.rng.permutation(n)[:m]
            else:
                idx = b.rng.integers(0, n, m)
            idx = np.where(b.rng.random(m) < 0.3, idx - n, idx).astype(np.int64)
            entries.append(idx)
            arrays += 1
    if not trailing and n_idx < nd and b.d_bool():
        entries.append(Ellipsis)
    if not unique and b.d_int(0, 3) == 0:
        entries.insert(b.d_int(0, len(entries)), None)
    if len(entries) == 1 and b.d_bool():
        return entries[0]
    return tuple(entries)


def _index(b):
    i = b.pick()
    x = b.vals[i]
    index = _random_index(b, x.shape)
    flat = n_flat(x.shape, index)
    if flat.size == 0:
        raise _Skip
    return b.step(["getitem", "getitem.fn"], (i,), index=index, flat=flat)


def _join(b):
    name = b.choose(_JOIN_NAMES)
    i = b.pick(lambda k: b.vals[k].ndim >= (0 if name == "stack" else 1))
    if i is None:
        raise _Skip
    x = b.vals[i]
    nd = x.ndim
    if name == "split":
        axis = b.d_int(-nd, nd - 1)
        n = x.shape[axis]
        if b.d_bool():
            sections = b.d_pick([d for d in range(1, n + 1) if n % d == 0])
            k = b.d_int(0, sections - 1)
        else:
            cuts = sorted({b.d_int(1, n - 1) for _ in range(b.d_int(1, 2))}) if n > 1 else []
            sections, k = cuts, b.d_int(0, len(cuts))
        return b.step(["split", "split.m"], (i,), sections=sections, axis=axis, k=k)
    if name == "stack":
        axis = b.d_int(-nd - 1, nd)
        others = []
        for _ in range(b.d_int(1, 2)):
            j = b.pick(lambda k: b.vals[k].shape == x.shape) if b.d_bool() else None
            others.append(j if j is not None else b.leaf(x.shape))
    else:
        axis = b.d_int(-nd, nd - 1)
        a = axis % nd

        def fits(k):
            s = b.vals[k].shape
            return len(s) == nd and all(s[d] == x.shape[d] for d in range(nd) if d != a)
        others = []
        for _ in range(b.d_int(1, 2)):
            j = b.pick(fits) if b.d_bool() else None
            if j is None:
                shape = list(x.shape)
                shape[a] = b.d_int(1, 3)
                j = b.leaf(tuple(shape))
            others.append(j)
    args = [i] + others
    order = list(range(len(args)))
    pos = b.d_int(0, len(args) - 1)
    order.insert(pos, order.pop(0))
    return b.step(name, tuple(args[k] for k in order), axis=axis)


def _pad(b):
    i = b.pick(lambda k: b.vals[k].ndim >= 1)
    if i is None:
        raise _Skip
    nd = b.vals[i].ndim
    form = b.d_pick(["int", "pair", "per_axis"])
    if form == "int":
        p = b.d_int(0, 2)
        width, pairs = p, [(p, p)] * nd
    elif form == "pair":
        pair = (b.d_int(0, 2), b.d_int(0, 2))
        width, pairs = pair, [pair] * nd
    else:
        pairs = [(b.d_int(0, 2), b.d_int(0, 2)) for _ in range(nd)]
        width = tuple(pairs)
    twidth = tuple(v for p in reversed(pairs) for v in p)
    value = b.d_pick([0, 0.5, -1.0])
    return b.step(["pad", "pad.m"], (i,), width=width, value=value, twidth=twidth)


def _window(b):
    i = b.pick(lambda k: b.vals[k].ndim >= 1)
    if i is None:
        raise _Skip
    x = b.vals[i]
    d = b.d_int(1, min(2, x.ndim))
    kernel, stride, dilation = [], [], []
    for n in x.shape[x.ndim - d:]:
        k = b.d_int(1, n)
        dl = b.d_int(1, max(1, (n - 1) // max(k - 1, 1))) if k > 1 else 1
        dl = min(dl, 2)
        kernel.append(k)
        stride.append(b.d_int(1, 2))
        dilation.append(dl)
    return b.step("sliding_window", (i,), kernel=tuple(kernel), stride=tuple(stride),
                  dilation=tuple(dilation))


def _matmul(b):
    i = b.pick(lambda k: b.vals[k].ndim >= 1)
    if i is None:
        raise _Skip
    x = b.vals[i].shape
    left = b.d_bool()                       # x is the left operand
    inner = x[-1] if left else (x[0] if len(x) == 1 else x[-2])
    if b.d_int(0, 3) == 0:
        other = (inner,)
    else:
        m = b.d_int(1, 3)
        batch = b.partner_shape(x[:-2], max_size=8) if len(x) > 2 else \
            tuple(b.d_int(1, 2) for _ in range(b.d_int(0, 1)))
        other = batch + ((inner, m) if left else (m, inner))
    j = b.pick(lambda k: b.vals[k].shape == other) if b.d_bool() else None
    if j is None:
        if int(np.prod(other)) > b.cfg.max_leaf:
            raise _Skip
        j = b.leaf(other)
    args = (i, j) if left else (j, i)
    return b.step(["matmul", "matmul.fn", "matmul.m"], args)


def _inplace(b):
    name = b.choose(_INPLACE_NAMES)
    i = b.pick()
    x = b.vals[i]
    if b.d_bool():
        s = b.scalar((0.5, 1.5, -2.0, 2, np.float64(0.75)) if name != "idiv" else
                     (0.5, 1.5, -2.0, 4, np.float64(0.75)))
        return b.step(name + ".rs", (i,), s=s)
    grow = b.d_int(0, 5) == 0               # a partner that does not broadcast to x
    shape = b.partner_shape(x.shape) if grow else b.sub_shape(x.shape)
    j = b.leaf(shape, "pos" if name == "idiv" else "any")
    grows = np.broadcast_shapes(x.shape, shape) != x.shape
    return b.step(name, (i, j), may_fail=grows)


def _setitem(b):
    i = b.pick(lambda k: b.vals[k].ndim >= 1)
    if i is None:
        raise _Skip
    x = b.vals[i]
    index = _random_index(b, x.shape, unique=True)
    flat = n_flat(x.shape, index)
    if flat.size == 0 or np.unique(flat).size != flat.size:
        raise _Skip
    if b.d_bool():
        return b.step("setitem.rs", (i,), index=index, flat=flat, s=b.scalar())
    j = b.leaf(b.sub_shape(flat.shape))
    return b.step("setitem", (i, j), index=index, flat=flat)


FAMILIES = {"unary": _unary, "binary": _binary, "where": _where, "reduce": _reduce, "arg": _arg,
            "shape": _shape, "index": _index, "join": _join, "pad": _pad,
            "window": _window, "matmul": _matmul, "inplace": _inplace,
            "setitem": _setitem}
# Every op the families draw, by name -> its family. CI runs a few programs starting
# with each op (derandomized Hypothesis alone would leave some ops out); long mode
# draws everything at random.
FOCUS = {name: fam for fam, names in (
    ("unary", _UNARY), ("binary", _BINARY_NAMES), ("where", ["where"]),
    ("reduce", _REDUCE_NAMES), ("arg", _ARG_NAMES), ("shape", _SHAPE_NAMES),
    ("index", ["getitem"]), ("join", _JOIN_NAMES), ("pad", ["pad"]),
    ("window", ["sliding_window"]), ("matmul", ["matmul"]), ("inplace", _INPLACE_NAMES),
    ("setitem", ["setitem"])) for name in names}
_WEIGHTED = ["unary", "unary", "binary", "binary", "where", "reduce", "reduce", "arg", "shape",
             "shape", "index", "join", "pad", "window", "matmul", "matmul", "inplace",
             "setitem"]


@st.composite
def programs(draw, config=Config()):
    """A random program whose output is a float value that depends on a grad leaf
    (or, rarely, one that ends in an error NumPy raises too)."""
    b = _Builder(draw, config)
    families = [f for f in _WEIGHTED if f not in config.exclude]
    b.leaf(b.shape(), kind="grad", dtype=b.d_pick(list(config.dtypes)))
    if b.focus:
        # The focus op first. When it does not fit (a 0-d operand, a tie, a guard out
        # of bounds), add a fresh leaf of rank >= 1 for it and try again.
        for _ in range(12):
            try:
                if FAMILIES[FOCUS[b.focus]](b) is not None or b.p.error:
                    b.p.focus_landed = True
                    break
            except _Skip:
                b.leaf(b.shape(min_rank=1, min_dim=2), kind="grad")
        b.focus = None
    n = b.d_int(0 if config.focus else 1, config.max_steps)
    done = 0
    for _ in range(4 * n):
        if done == n or b.p.error:
            break
        try:
            r = FAMILIES[b.d_pick(families)](b)
        except _Skip:
            continue
        if r is not None or b.p.error:
            done += 1
    if b.p.error:
        b.p.output = len(b.p.nodes) - 1
        return b.p
    # the output: the latest value that is float and depends on a grad leaf
    for k in range(len(b.vals) - 1, -1, -1):
        if b.deps[k] and b.vals[k].dtype.kind == "f":
            b.p.output = k
            b.p.deps = b.deps[k]
            break
    b.p.expected = b.vals[b.p.output]
    b.p.float32 = any(v.dtype == np.float32 for v in b.vals)
    b.p.expected_is_tensor = b.is_tensor[b.p.output]
    return b.p


FOCI = [None] if LONG else sorted(FOCUS)
