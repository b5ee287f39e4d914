"""Every autograd op, declared once with sample inputs.

tests/test_ops.py runs gradcheck, gradgradcheck, dtype and broadcasting checks
over this table, and tests/reference/test_ops_torch.py compares values and
gradients with PyTorch. A test asserts that every op exported by `autograd`
appears here, so an op cannot be added without its tests.

Each sample is a tuple of input specs. A spec is a shape tuple (random normal
float64 values), or ``(shape, kind)`` with kind one of
  "pos"   values in [0.5, 2]      (log, sqrt, pow bases, divisors)
  "unit"  values in [-0.9, 0.9]
  "kink"  |values| in [0.2, 2]    (away from the kink at 0: relu, abs)
  "distinct" a permutation of spread values (no ties for max/min/sort-like ops)
"""
from dataclasses import dataclass, field

import numpy as np

import autograd as ag
import nn.functional as F


@dataclass
class Op:
    name: str                       # the autograd function this entry covers
    fn: object                      # (*tensors) -> Tensor, on chainrule tensors
    samples: list
    torch_fn: object = None         # the same on torch tensors; None: no twin
    gradgrad: bool = True           # second derivatives are checked too
    covers: tuple = field(default_factory=tuple)  # other exported names this entry tests
    tol: dict = field(default_factory=dict)       # gradcheck keyword overrides


def make_input(spec, rng):
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], str):
        shape, kind = spec
    else:
        shape, kind = spec, "normal"
    n = int(np.prod(shape)) if shape else 1
    if kind == "pos":
        v = rng.uniform(0.5, 2.0, n)
    elif kind == "unit":
        v = rng.uniform(-0.9, 0.9, n)
    elif kind == "kink":
        v = rng.uniform(0.2, 2.0, n) * rng.choice([-1.0, 1.0], n)
    elif kind == "distinct":
        # spread by >= 0.36 and shifted by a random amount below 0.1: never a tie,
        # neither within one input nor between two
        v = rng.permutation(np.linspace(-2.0, 2.0, max(n, 12))[:n]) + rng.uniform(0, 0.1)
    else:
        v = rng.standard_normal(n)
    return v.reshape(shape)


BINARY = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), ()), ((4,), (2, 3, 4))]


def _pos(samples):
    return [tuple((s, "pos") for s in sample) for sample in samples]


OPS = [
    Op("add", lambda a, b: a + b, BINARY, lambda a, b: a + b),
    Op("sub", lambda a, b: a - b, BINARY, lambda a, b: a - b, covers=("neg",)),
    Op("mul", lambda a, b: a * b, BINARY, lambda a, b: a * b),
    Op("div", lambda a, b: a / b, _pos(BINARY), lambda a, b: a / b),
    Op("pow", lambda a, b: a ** b, _pos(BINARY), lambda a, b: a ** b),
    Op("pow_scalar", lambda a: a ** 3 + 2.0 ** a - 1.5 / (a + 3.0), [(((3, 4), "pos"),)],
       lambda a: a ** 3 + 2.0 ** a - 1.5 / (a + 3.0)),
    Op("neg", lambda a: -a, [((3, 4),)], lambda a: -a),
    Op("exp", ag.exp, [((3, 4),), ((),)], lambda a: a.exp()),
    Op("log", ag.log, [(((3, 4), "pos"),)], lambda a: a.log()),
    Op("sqrt", ag.sqrt, [(((3, 4), "pos"),)], lambda a: a.sqrt()),
    Op("sin", ag.sin, [((3, 4),)], lambda a: a.sin()),
    Op("cos", ag.cos, [((3, 4),)], lambda a: a.cos()),
    Op("tanh", ag.tanh, [((3, 4),)], lambda a: a.tanh()),
    Op("sigmoid", ag.sigmoid, [((3, 4),)], lambda a: a.sigmoid()),
    Op("relu", ag.relu, [(((3, 4), "kink"),)], lambda a: a.relu()),
    Op("abs", ag.abs, [(((3, 4), "kink"),)], lambda a: a.abs()),
    Op("sign", lambda a: ag.sign(a) * a, [(((3, 4), "kink"),)], lambda a: a.sign() * a),
    Op("clip", lambda a: ag.clip(a, -0.5, 0.7), [(((4, 5), "distinct"),)],
       lambda a: a.clamp(-0.5, 0.7)),
    Op("maximum", ag.maximum, [(((3, 4), "distinct"), ((3, 4), "distinct")),
                               (((3, 1), "distinct"), ((1, 4), "distinct"))],
       lambda a, b: a.maximum(b)),
    Op("minimum", ag.minimum, [(((3, 4), "distinct"), ((3, 4), "distinct")),
                               (((3, 1), "distinct"), ((1, 4), "distinct"))],
       lambda a, b: a.minimum(b)),
    Op("where", lambda a, b: ag.where(a.data > 0, a, b), [((3, 4), (3, 4)), ((3, 1), (1, 4))],
       lambda a, b: a.where(a > 0, b)),
    Op("erf", ag.erf, [((3, 4),)], lambda a: a.erf()),
    Op("log1p", ag.log1p, [(((3, 4), "pos"),)], lambda a: a.log1p()),
    Op("expm1", ag.expm1, [((3, 4),)], lambda a: a.expm1()),
    Op("astype", lambda a: ag.astype(a, np.float32) * 1.0,
       [((3, 4),)], None, tol=dict(eps=1e-3, atol=1e-3)),  # float32 round trip
    Op("sum", lambda a: ag.sum(a, axis=1), [((3, 4),), ((2, 3, 4),)], lambda a: a.sum(dim=1)),
    Op("sum_all", lambda a: a.sum() + a.sum(axis=(0, -1), keepdims=True).sum(), [((2, 3, 4),)],
       lambda a: a.sum() + a.sum(dim=(0, -1), keepdim=True).sum()),
    Op("mean", lambda a: ag.mean(a, axis=0), [((3, 4),)], lambda a: a.mean(dim=0)),
    Op("var", lambda a: ag.var(a, axis=1), [((3, 4),)],
       lambda a: a.var(dim=1, unbiased=False)),
    Op("std", lambda a: ag.std(a, axis=0, ddof=1), [((3, 4),)], lambda a: a.std(dim=0)),
    Op("max", lambda a: ag.max(a, axis=1), [(((3, 4), "distinct"),)],
       lambda a: a.max(dim=1).values),
    Op("min", lambda a: ag.min(a, axis=0, keepdims=True), [(((3, 4), "distinct"),)],
       lambda a: a.min(dim=0, keepdim=True).values),
    Op("logsumexp", lambda a: ag.logsumexp(a, axis=-1), [((3, 4),)],
       lambda a: a.logsumexp(dim=-1)),
    Op("prod", lambda a: ag.prod(a, axis=1), [((3, 4),)], lambda a: a.prod(dim=1)),
    Op("reshape", lambda a: ag.reshape(a, (4, 3)) * 1.0, [((3, 4),)],
       lambda a: a.reshape(4, 3) * 1.0),
    Op("transpose", lambda a: ag.transpose(a, 2, 0, 1), [((2, 3, 4),)],
       lambda a: a.permute(2, 0, 1)),
    Op("swapaxes", lambda a: ag.swapaxes(a, 0, 2), [((2, 3, 4),)],
       lambda a: a.transpose(0, 2)),
    Op("moveaxis", lambda a: ag.moveaxis(a, 0, -1), [((2, 3, 4),)],
       lambda a: a.movedim(0, -1)),
    Op("squeeze", lambda a: ag.squeeze(a, 1), [((3, 1, 4),)], lambda a: a.squeeze(1)),
    Op("expand_dims", lambda a: ag.expand_dims(a, 1), [((3, 4),)], lambda a: a.unsqueeze(1)),
    Op("flatten", ag.flatten, [((2, 3, 4),)], lambda a: a.flatten()),
    Op("broadcast_to", lambda a: ag.broadcast_to(a, (2, 3, 4)), [((3, 1),)],
       lambda a: a.broadcast_to((2, 3, 4))),
    Op("sum_to", lambda a: ag.sum_to(a, (3, 1)), [((2, 3, 4),)],
       lambda a: a.sum(dim=(0, 2)).reshape(3, 1)),
    Op("getitem", lambda a: a[1:, ::-2], [((3, 4),)], lambda a: a[1:].flip(1)[:, ::2]),
    Op("getitem_int_array", lambda a: a[[0, 2, 0], 1], [((3, 4),)],
       lambda a: a[[0, 2, 0], 1]),
    Op("getitem_bool", lambda a: a[a.data > 0], [((3, 4),)], lambda a: a[a > 0]),
    Op("concatenate", lambda a, b: ag.concatenate([a, b], axis=1), [((3, 2), (3, 4))],
       lambda a, b: __import__("torch").cat([a, b], dim=1)),
    Op("stack", lambda a, b: ag.stack([a, b], axis=-1), [((3, 4), (3, 4))],
       lambda a, b: __import__("torch").stack([a, b], dim=-1)),
    Op("split", lambda a: ag.split(a, [1, 3], axis=1)[1], [((3, 4),)],
       lambda a: a[:, 1:3]),
    Op("pad", lambda a: ag.pad(a, ((1, 0), (2, 1)), 0.5), [((3, 4),)],
       lambda a: __import__("torch").nn.functional.pad(a, (2, 1, 1, 0), value=0.5)),
    Op("linear", lambda x, w, b: F.linear(x, w, b),
       [((5, 3), (4, 3), (4,)), ((3,), (4, 3), (4,)), ((2, 5, 3), (4, 3), (1, 4)),
        ((4, 3), (2, 3), (5, 1, 2)), ((3,), (2, 3), (3, 2))],   # biases that widen
       lambda x, w, b: x @ w.T + b),
    Op("linear_no_bias", lambda x, w: F.linear(x, w), [((5, 3), (4, 3)), ((2, 2, 3), (4, 3))],
       lambda x, w: x @ w.T),
    Op("matmul", ag.matmul, [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)),
                             ((3, 4), (4,)), ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2))],
       lambda a, b: a @ b),
    Op("sliding_window", lambda a: ag.sliding_window(a, (2, 3), stride=(2, 1), dilation=(1, 2)),
       [((1, 2, 5, 7),)],
       lambda a: __import__("torch").nn.functional.unfold(
           a, (2, 3), dilation=(1, 2), stride=(2, 1)).reshape(1, 2, 2, 3, 2, 3)
       .permute(0, 1, 4, 5, 2, 3)),
    Op("sliding_window_1d", lambda a: ag.sliding_window(a, (3,), stride=2), [((3, 8),)],
       lambda a: a.unfold(-1, 3, 2)),
]

# Exported names that are not differentiable ops (factories, modes, helpers) or that
# have no gradient by design; each is tested in tests/test_engine.py instead.
NOT_OPS = {
    "Tensor", "Function", "tensor", "zeros", "ones", "full", "zeros_like", "ones_like",
    "arange", "eye", "rand", "randn", "manual_seed", "get_rng", "no_grad", "enable_grad",
    "set_grad_enabled", "is_grad_enabled", "set_default_dtype", "get_default_dtype", "grad",
    "gradcheck", "gradgradcheck", "numerical_jacobian", "GradcheckError", "argmax", "argmin",
    "draw_graph", "backward_steps", "GraphvizNotFoundError",
    "detect_anomaly", "is_anomaly_enabled", "debug",
}


def covered_names():
    names = set()
    for op in OPS:
        names.add(op.name)
        names.update(op.covers)
    return names


def sample_params():
    """(op, sample index) pairs for pytest parametrisation, with readable ids."""
    return [(op, i) for op in OPS for i in range(len(op.samples))]


def build(op, i, dtype=np.float64, requires_grad=True, seed=0):
    rng = np.random.default_rng(seed + 17 * i)
    return [ag.Tensor(make_input(spec, rng).astype(dtype), requires_grad=requires_grad)
            for spec in op.samples[i]]
