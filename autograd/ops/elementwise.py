"""Elementwise primitives and their derivative rules.

Each rule is written with Tensor operations, so ``create_graph=True`` can
differentiate it again. Broadcasting is undone once, in the engine, so a rule
may return a gradient of the broadcast shape.
"""
import operator

import numpy as np

from .. import buffers
from ..function import Node, Primitive, apply_ufunc, needs_grad
from ..grad_mode import _as_dtype
from ..tensor import Tensor

_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)
_special = None     # scipy.special, imported when first needed (_scipy_special)
_FLOAT16 = np.dtype(np.float16)
_UNARY = object()   # _ufunc's "no second operand" (None is a value: x + None must fail)


def _ufunc(f, a, b=_UNARY):
    """``f(a)`` or ``f(a, b)``; into a reused buffer (``_out``) when an operand is large.
    Small operands skip ``out=``: passing even ``out=None`` costs a ufunc call 15 %."""
    if b is _UNARY:
        if a.__class__ is _ndarray and a.nbytes >= _MIN:
            out = _out(a)
            if out is not None:
                return f(a, out=out)
        return f(a)
    if (a.__class__ is _ndarray and a.nbytes >= _MIN) or \
            (b.__class__ is _ndarray and b.nbytes >= _MIN):
        out = _out(a, b)
        if out is not None:
            return f(a, b, out=out)
    return f(a, b)


def _out(a, b=None):
    """``out=`` for a ufunc over ``a`` (and ``b``), one of them a large array (``_ufunc``
    checked): a reused buffer (autograd.buffers) when the result's dtype is plain: one
    float dtype, with booleans and Python numbers beside it. None (NumPy allocates)
    otherwise."""
    ca, cb = a.__class__, b.__class__
    if ca is not _ndarray:
        a, b, ca, cb = b, a, cb, ca
    dtype = a.dtype
    if dtype.kind != "f":
        return None
    if cb is _ndarray:
        if b.dtype != dtype and b.dtype.kind != "b":
            return None
        shape = a.shape if b.shape == a.shape else np.broadcast_shapes(a.shape, b.shape)
    elif b is None or cb is float or cb is int:
        shape = a.shape
    else:
        return None
    return buffers.empty(shape, dtype)


_ndarray = np.ndarray
# Ufuncs the forwards below call, bound once: CPython 3.11 does not
# specialize attribute loads on a module that defines __getattr__, as NumPy's does, so
# each `np.<name>` there is a dictionary walk (~15 ns, 2 % of a small op's forward).
_np_maximum, _np_negative = np.maximum, np.negative
_MIN = buffers.MIN_BYTES


class _Binary(Primitive):
    """A primitive whose forward is one NumPy ufunc (``ufunc``) of its two arguments.
    apply calls the ufunc itself (``_ufunc2``) when both operands are small; this
    forward runs for a large one, to write into a reused buffer. A subclass whose
    forward is another one (its own, a mixin's) does not get the shortcut. Its apply is
    function.apply_ufunc, which takes the common call itself when ``_fast2`` is set."""

    ufunc = None
    _fast1 = _fast2 = None      # (apply_ufunc reads the one for the arguments given)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls._ufunc2 = _shortcut(cls, _Binary)
        cls._fast2 = _float_ufunc(cls._ufunc2, cls, 2)
        # (Found by identity: a user's ufunc attribute need not be hashable.)
        cls._scalar2 = next((op for f, op in _OPERATORS if f is cls.ufunc), cls.ufunc)

    @classmethod
    def forward(cls, ctx, a, b):
        return _ufunc(cls.ufunc, a, b)

    apply = classmethod(apply_ufunc)


class _Unary(Primitive):
    """As ``_Binary``, for a ufunc of one argument (``_ufunc1``, ``_fast1``)."""

    ufunc = None
    _fast1 = _fast2 = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.save_inputs and cls.save_other and _runs(cls, _Unary):
            # (apply would fail on the missing second input at every call)
            raise TypeError(f"{cls.__name__}: save_other needs two inputs; this op has one")
        cls._ufunc1 = _shortcut(cls, _Unary)
        cls._fast1 = _float_ufunc(cls._ufunc1, cls, 1)

    @classmethod
    def forward(cls, ctx, x):
        return _ufunc(cls.ufunc, x)

    apply = classmethod(apply_ufunc)


# The Python operator that computes each ufunc on two NumPy float scalars, with the
# same promotion and the same result (NumPy's scalar arithmetic), for apply's 0-d
# shortcut (Function._scalar2); another ufunc is called on the scalars itself.
_OPERATORS = ((np.add, operator.add), (np.subtract, operator.sub),
              (np.multiply, operator.mul))


def _runs(cls, base):
    """Is ``base.forward`` the forward that ``cls`` runs?"""
    return getattr(cls.forward, "__func__", None) is base.__dict__["forward"].__func__


def _shortcut(cls, base):
    """The ufunc that apply calls itself for ``cls`` (``_ufunc1``, ``_ufunc2``): its
    ``ufunc``, unless another forward runs or the ufunc has several outputs (their tuple
    is refused through forward; the two-0-d shortcut would make an array of it)."""
    if not _runs(cls, base) or getattr(cls.ufunc, "nout", 1) != 1:
        return None
    return cls.ufunc


def _float_ufunc(uf, cls, nin):
    """``uf`` (the shortcut: one output, see _shortcut) when function.apply_ufunc may
    record its calls itself (``_fast1``, ``_fast2``): a NumPy ufunc of ``nin`` inputs,
    in an op that returns no view (read here, once, as ``forward``: see
    docs/architecture.md)."""
    if not isinstance(uf, np.ufunc) or uf.nin != nin or cls.returns_view:
        return None
    return uf


def _arr(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


# ---------------------------------------------------------------- binary arithmetic
class Add(_Binary):
    derivative = "d(a+b)/da = 1, d(a+b)/db = 1"

    ufunc = np.add

    @staticmethod
    def backward(ctx, g):                       # d(a+b) = da + db
        return g, g


class Sub(_Binary):
    derivative = "d(a-b)/da = 1, d(a-b)/db = -1"

    name = "sub"

    ufunc = np.subtract

    @staticmethod
    def backward(ctx, g):                       # d(a-b) = da - db
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(_Binary):
    derivative = "d(a*b)/da = b, d(a*b)/db = a"
    save_inputs = True
    save_other = True

    ufunc = np.multiply

    @staticmethod
    def backward(ctx, g):                       # d(ab) = b da + a db
        a, b = ctx.saved_tensors
        # save_other kept an input only where its partner needed a gradient when this
        # was recorded (one that requires grad only by now gets none, as PyTorch), so
        # what was kept says which gradients to compute, with no needs_input_grad list;
        # needs_grad still drops a leaf that no longer requires grad. (An edge that is a
        # node needs its gradient: tested first, that spares most products the call.)
        ga = gb = None
        if b is not None:
            e = ctx[0]  # the node is the list of its edges
            if e.__class__ is Node or needs_grad(e):
                ga = g * b
        if a is not None:
            e = ctx[1]
            if e.__class__ is Node or needs_grad(e):
                gb = g * a
        return ga, gb


class Div(_Binary):
    derivative = "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"
    save_inputs = True      # not the output: the rule recomputes a/b, as PyTorch's
    save_other = "first"    # a is kept only where b needs a gradient; b always

    ufunc = np.true_divide

    @staticmethod
    def backward(ctx, g):                       # d(a/b) = da/b - ((a/b)/b) db
        a, b = ctx.saved_tensors
        # a was kept only where b needed a gradient when this was recorded (as Mul's
        # rule); needs_grad drops a leaf that no longer requires grad. (The node is the
        # list of its edges.)
        ga = g / b if needs_grad(ctx[0]) else None
        gb = -g * ((a / b) / b) if a is not None and needs_grad(ctx[1]) else None
        return ga, gb


class Pow(Primitive):
    derivative = "d(a^b)/da = b*a^(b-1), d(a^b)/db = a^b*ln(a)"

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):                       # d(a^b) = b a^(b-1) da + a^b ln(a) db
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        # pow(), not **: on NumPy scalars (the array walk's 0-d values) ** is not the
        # ufunc and can differ from it in the last bit.
        ga = g * b * pow(a, b - 1) if na else None
        gb = None
        if nb:
            # ln(a) is taken as 0 where a == 0, as PyTorch (0^b has no b-slope there).
            safe_a = where(_arr(a) == 0, 1.0, a)
            gb = g * out * log(safe_a)
        return ga, gb


class Maximum(Primitive):
    derivative = "d max(a,b)/da = [a > b] (1/2 at ties), d/db = [b > a]"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):                       # the larger input gets g; ties share it
        a, b = ctx.saved_tensors
        wa = _tie_weights(_arr(a), _arr(b))
        na, nb = ctx.needs_input_grad
        return (g * wa if na else None), (g * (1.0 - wa) if nb else None)


class Minimum(Primitive):
    derivative = "d min(a,b)/da = [a < b] (1/2 at ties), d/db = [b < a]"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):                       # the smaller input gets g; ties share it
        a, b = ctx.saved_tensors
        wa = _tie_weights(_arr(b), _arr(a))
        na, nb = ctx.needs_input_grad
        return (g * wa if na else None), (g * (1.0 - wa) if nb else None)


def _tie_weights(winner, loser):
    w = (winner > loser).astype(np.result_type(winner, loser, np.float32))
    w += 0.5 * (winner == loser)
    return w


class Where(Primitive):
    derivative = "d where(c,a,b)/da = [c], d/db = [not c]"

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):                       # the gradient follows the chosen branch
        (cond,) = ctx.saved_tensors
        cond = _arr(cond)
        _, na, nb = ctx.needs_input_grad
        return (None,
                where(cond, g, 0.0) if na else None,
                where(cond, 0.0, g) if nb else None)


# ---------------------------------------------------------------- unary
class Neg(_Unary):
    derivative = "d(-x)/dx = -1"

    ufunc = np.negative

    @staticmethod
    def backward(ctx, g):                       # d(-x) = -dx
        return -g


class Exp(_Unary):
    derivative = "d exp(x)/dx = exp(x)"
    save_output = True

    ufunc = np.exp

    @staticmethod
    def backward(ctx, g):                       # d exp(x) = exp(x) dx
        (out,) = ctx.saved_tensors
        return g * out


class Log(_Unary):
    derivative = "d ln(x)/dx = 1/x"
    save_inputs = True

    ufunc = np.log

    @staticmethod
    def backward(ctx, g):                       # d ln(x) = dx / x
        (x,) = ctx.saved_tensors
        return g / x


class Sqrt(_Unary):
    derivative = "d sqrt(x)/dx = 1/(2 sqrt(x))"
    save_output = True

    ufunc = np.sqrt

    @staticmethod
    def backward(ctx, g):                       # d sqrt(x) = dx / (2 sqrt(x))
        (out,) = ctx.saved_tensors
        return g / (2.0 * out)


class Sin(Primitive):
    derivative = "d sin(x)/dx = cos(x)"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):                       # d sin(x) = cos(x) dx
        (x,) = ctx.saved_tensors
        return g * cos(x)


class Cos(Primitive):
    derivative = "d cos(x)/dx = -sin(x)"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):                       # d cos(x) = -sin(x) dx
        (x,) = ctx.saved_tensors
        return -(g * sin(x))


class Tanh(_Unary):
    derivative = "d tanh(x)/dx = 1 - tanh(x)^2"
    save_output = True

    ufunc = np.tanh

    @staticmethod
    def backward(ctx, g):                       # d tanh(x) = (1 - tanh(x)^2) dx
        (out,) = ctx.saved_tensors
        return g * (1.0 - out * out)


class Sigmoid(Primitive):
    derivative = "d sigmoid(x)/dx = sigmoid(x)(1 - sigmoid(x))"
    save_output = True

    @staticmethod
    def forward(ctx, x):
        return _sigmoid(x)

    @staticmethod
    def backward(ctx, g):                       # d sigmoid(x) = s (1 - s) dx
        (out,) = ctx.saved_tensors
        return g * (out * (1.0 - out))


def _scipy_special():
    """scipy.special, imported on first use (erf; the sigmoid of a small or non-float
    array): it was most of `import autograd, nn, optim`'s time (0.18 of 0.36 s) and 40 %
    of the objects that the cycle collector's full collections traverse (17,400 of
    43,600)."""
    global _special
    from scipy import special
    _special = special
    return special


def _sigmoid(x):
    # 1/(1 + e^-x) is exact to the last bit down to e^-x overflowing, where the true
    # value is below the smallest normal float and 0 is returned. It runs 4x faster
    # than scipy's expit on large arrays; small ones skip the errstate's fixed cost.
    x = np.asarray(x)
    if x.size < 1024 or x.dtype.kind != "f":
        out = (_special or _scipy_special()).expit(x)
        # scipy has no float16 loop: its result is float64 then. (Identity, not ==:
        # this is the path of every small sigmoid.)
        return out.astype(_FLOAT16) if x.dtype is _FLOAT16 else out
    with np.errstate(over="ignore"):
        out = _ufunc(_np_negative, x)
        np.exp(out, out=out)
        out += 1
        return np.reciprocal(out, out=out)


class Relu(Primitive):
    derivative = "d relu(x)/dx = [x > 0]"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return _ufunc(_np_maximum, x, 0)

    @staticmethod
    def backward(ctx, g):                       # d relu(x) = [x > 0] dx (0 at the kink)
        (x,) = ctx.saved_tensors
        return g * (_arr(x) > 0)               # a boolean mask: no float temporary


class Abs(Primitive):
    derivative = "d |x|/dx = sign(x)"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):                       # d |x| = sign(x) dx (0 at x = 0)
        (x,) = ctx.saved_tensors
        return g * np.sign(_arr(x))


class Sign(Primitive):
    derivative = "d sign(x)/dx = 0"

    @staticmethod
    def forward(ctx, x):
        return np.sign(x)

    @staticmethod
    def backward(ctx, g):                       # piecewise constant: zero gradient
        return g * 0.0


class Clip(Primitive):
    derivative = "d clip(x,lo,hi)/dx = [lo <= x <= hi]"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        if lo is None and hi is None:
            raise ValueError("at least one of lo and hi must be given")
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):                       # passes g where lo <= x <= hi, as PyTorch
        x, lo, hi = ctx.saved_tensors
        x = _arr(x)
        inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= _arr(lo)
        if hi is not None:
            inside &= x <= _arr(hi)
        return g * inside.astype(g.dtype), None, None


class Erf(Primitive):
    derivative = "d erf(x)/dx = 2/sqrt(pi) exp(-x^2)"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        x = np.asarray(x)
        out = (_special or _scipy_special()).erf(x)
        return out.astype(_FLOAT16) if x.dtype is _FLOAT16 else out    # (as _sigmoid)

    @staticmethod
    def backward(ctx, g):                       # d erf(x) = 2/sqrt(pi) exp(-x^2) dx
        (x,) = ctx.saved_tensors
        return g * (_TWO_OVER_SQRT_PI * exp(-(x * x)))


class Log1p(Primitive):
    derivative = "d ln(1+x)/dx = 1/(1+x)"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return np.log1p(x)

    @staticmethod
    def backward(ctx, g):                       # d ln(1+x) = dx / (1+x)
        (x,) = ctx.saved_tensors
        return g / (1.0 + x)


class Expm1(Primitive):
    derivative = "d (e^x - 1)/dx = e^x"
    save_output = True

    @staticmethod
    def forward(ctx, x):
        return np.expm1(x)

    @staticmethod
    def backward(ctx, g):                       # d (e^x - 1) = e^x dx
        (out,) = ctx.saved_tensors
        return g * (out + 1.0)


class Cast(Primitive):
    derivative = "d astype(x)/dx = 1 (cast back)"

    name = "astype"

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.save_for_backward(np.dtype(x.dtype))
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):                       # the gradient goes back in the input's dtype
        (dtype,) = ctx.saved_tensors
        return Cast.apply(g, dtype), None


# ---------------------------------------------------------------- public functions
def add(a, b): return Add.apply(a, b)
def sub(a, b): return Sub.apply(a, b)
def mul(a, b): return Mul.apply(a, b)
def div(a, b): return Div.apply(a, b)
def pow(a, b): return Pow.apply(a, b)  # noqa: A001
def maximum(a, b): return Maximum.apply(a, b)
def minimum(a, b): return Minimum.apply(a, b)
def neg(x): return Neg.apply(x)
def exp(x): return Exp.apply(x)
def log(x): return Log.apply(x)
def sqrt(x): return Sqrt.apply(x)
def sin(x): return Sin.apply(x)
def cos(x): return Cos.apply(x)
def tanh(x): return Tanh.apply(x)
def sigmoid(x): return Sigmoid.apply(x)
def relu(x): return Relu.apply(x)
def abs(x): return Abs.apply(x)  # noqa: A001
def sign(x): return Sign.apply(x)
def erf(x): return Erf.apply(x)
def log1p(x): return Log1p.apply(x)
def expm1(x): return Expm1.apply(x)


def clip(x, lo=None, hi=None):
    """Limit values to [lo, hi]; either bound may be None."""
    return Clip.apply(x, lo, hi)


def where(cond, a, b):
    """``a`` where ``cond`` is true, else ``b`` (cond is never differentiated)."""
    return Where.apply(np.asarray(_arr(cond), dtype=bool), a, b)


def astype(x, dtype):
    dtype = _as_dtype(dtype, "astype")
    if isinstance(x, Tensor) and x.data.dtype == dtype:
        return x
    return Cast.apply(x, dtype)
