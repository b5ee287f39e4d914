"""The Tensor type: a NumPy array plus the link to the op that produced it."""
import weakref

import numpy as np

from . import grad_mode


def _as_data(data, dtype=None, copy=False):
    """Array for a new tensor: Python floats take the default dtype, arrays keep theirs."""
    if dtype is not None:
        dtype = grad_mode._as_dtype(dtype, "tensor")
    if isinstance(data, Tensor):
        data = data.data
    try:
        if isinstance(data, np.ndarray):
            arr = data
            if dtype is not None:
                arr = arr.astype(dtype, copy=copy)
            elif copy:
                arr = arr.copy()
        else:
            arr = np.array(data, dtype=dtype)
            if dtype is None and arr.dtype.kind == "f" and not isinstance(data, np.generic):
                arr = arr.astype(grad_mode._default_dtype, copy=False)
    except (ValueError, TypeError) as e:   # ragged lists, strings that are no numbers
        raise _base_error(e)(f"tensor: {e}") from e
    if arr.dtype.kind not in "biufc":
        _refuse_dtype(data, arr)
    return arr


def _base_error(e):
    """The builtin class of ``e``: NumPy raises subclasses whose constructors take other
    arguments (``_UFuncNoLoopError(ufunc, dtypes)``), so a message is re-raised as this."""
    for kind in (IndexError, ValueError, TypeError):
        if isinstance(e, kind):
            return kind
    return type(e)


def _refuse_dtype(data, arr):
    # Strings and objects would become tensors that fail later, far from the cause.
    if arr.dtype.kind == "O" and not isinstance(data, np.ndarray):
        raise TypeError(f"tensor: cannot build a tensor from {type(data).__name__} "
                        "(expected numbers, nested lists of numbers, or a NumPy array)")
    raise TypeError(f"tensor: cannot build a tensor of dtype {arr.dtype} (shape {arr.shape}); "
                    "expected numbers, nested lists of numbers, or a NumPy array of numbers")


def _check_float(data, op="requires_grad"):
    if data.dtype.kind != "f":
        raise TypeError(
            f"{op}: only floating-point tensors can require gradients, got dtype "
            f"{data.dtype} (shape {data.shape}); convert with .astype(np.float32) first")


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    ``Tensor(array)`` wraps the array without copying (``ag.tensor`` copies).
    Python numbers and lists become the default float dtype (float32); a NumPy
    array keeps its dtype.
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_vc", "_hooks",
                 "__weakref__")
    # Makes NumPy hand `array + tensor` to Tensor.__radd__ instead of looping.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_data(data, dtype)
        self.grad = None
        self.grad_fn = None
        self._vc = None
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            _check_float(self.data)
            self.requires_grad = True


    # ----- properties -------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def T(self):
        return _shape.transpose(self)

    @property
    def _version(self):
        return self._vc[0] if self._vc else 0

    # ----- conversions ------------------------------------------------------------
    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a "
                             f"Python number, got shape {self.data.shape}")
        return self.data.item()

    def numpy(self):
        return self.data

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is None:
            return self.data
        return self.data.astype(dtype, copy=bool(copy))

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"bool: the truth value of a tensor with {self.data.size} "
                             "elements is ambiguous; use .any() or .all()")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got {self.data.dtype}")
        return int(self.item())

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != grad_mode._default_dtype and self.data.dtype.kind == "f":
            extra += f", dtype={self.data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.fn.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    # ----- graph control ----------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is required unless the tensor has exactly one element.
        ``retain_graph`` defaults to ``create_graph``; without it the saved values
        are freed and a second backward through the same graph raises.
        """
        _engine.backward([self], [gradient], retain_graph, create_graph)

    def detach(self):
        """The same data, cut from the graph (shares memory and version counter)."""
        t = _make(self.data, None)
        if self._vc is None:
            self._vc = [0]
        t._vc = self._vc
        return t

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad_: only leaf tensors can have requires_grad "
                               "turned off; use .detach() on a non-leaf")
        if requires_grad:
            _check_float(self.data, "requires_grad_")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep ``.grad`` on a non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        node = self.grad_fn
        if node is not None:
            node.retain = weakref.ref(self)
            if node.hooks is None:      # (the walk looks at this slot only: Node.hooks)
                node.hooks = []

    def register_hook(self, hook):
        """Call ``hook(grad)`` whenever this tensor's gradient is computed.

        A hook may return a Tensor to replace the gradient. Returns a handle whose
        ``remove()`` unregisters it.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "does not require grad")
        if self.grad_fn is not None:
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = []
            hooks = self.grad_fn.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def astype(self, dtype):
        return _ew.astype(self, dtype)

    # ----- arithmetic -------------------------------------------------------------
    def __add__(self, other):
        return _add(self, other)

    def __radd__(self, other):
        return _add(other, self)

    def __sub__(self, other):
        return _sub(self, other)

    def __rsub__(self, other):
        return _sub(other, self)

    def __mul__(self, other):
        return _mul(self, other)

    def __rmul__(self, other):
        return _mul(other, self)

    def __truediv__(self, other):
        return _div(self, other)

    def __rtruediv__(self, other):
        return _div(other, self)

    def __pow__(self, other):
        return _pow(self, other)

    def __rpow__(self, other):
        return _pow(other, self)

    def __matmul__(self, other):
        return _matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul(other, self)

    def __neg__(self):
        return _neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _abs(self)

    # ----- comparisons: bool tensors, never recorded ------------------------------
    def __lt__(self, other):
        return _make(self.data < _data(other), None)

    def __le__(self, other):
        return _make(self.data <= _data(other), None)

    def __gt__(self, other):
        return _make(self.data > _data(other), None)

    def __ge__(self, other):
        return _make(self.data >= _data(other), None)

    def __eq__(self, other):
        return _make(np.asarray(self.data == _data(other)), None)

    def __ne__(self, other):
        return _make(np.asarray(self.data != _data(other)), None)

    # ----- in place -------------------------------------------------------------
    def __iadd__(self, other):
        return self._inplace(_ew.Add, np.add, other)

    def __isub__(self, other):
        return self._inplace(_ew.Sub, np.subtract, other)

    def __imul__(self, other):
        return self._inplace(_ew.Mul, np.multiply, other)

    def __itruediv__(self, other):
        return self._inplace(_ew.Div, np.true_divide, other)

    def _check_inplace(self, op, other):
        """True when the in-place op must be recorded in the graph."""
        if not grad_mode._state.enabled:
            return False
        other_grad = isinstance(other, Tensor) and other.requires_grad
        if not (self.requires_grad or other_grad):
            return False
        if self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                f"{op} (in place): a leaf tensor that requires grad (shape "
                f"{self.data.shape}, dtype {self.data.dtype}) cannot be modified in place "
                "while grad mode is on; wrap the update in `with ag.no_grad():`")
        return True

    def _rebind(self, result):
        # Record an in-place op on a non-leaf as its out-of-place twin: the graph
        # gets the old value as input and this object becomes the new value. The
        # version moves on, so ops that saved this object's old value refuse to use
        # the new one; the result's own saved output, if its op kept one, moves with it.
        version = self._version + 1
        vc = result._vc
        if vc is None:
            vc = [version]
        else:
            saved = result.grad_fn.saved if result.grad_fn is not None else ()
            for s in (saved if isinstance(saved, (list, tuple)) else (saved,)):
                if getattr(s, "vc", None) is vc:
                    s.version = version
            vc[0] = version
        self.data = result.data
        self.grad_fn = result.grad_fn
        self.requires_grad = result.requires_grad
        self._vc = vc

    def _bump_version(self):
        if self._vc is None:
            self._vc = [1]
        else:
            self._vc[0] += 1

    def _inplace(self, fn, ufunc, other):
        if self._check_inplace(fn.name + "_", other):
            # Recorded as the out-of-place op, with NumPy's in-place rules kept: the
            # shape cannot grow and the dtype stays (a same_kind cast back).
            shape, dtype = self.data.shape, self.data.dtype
            if np.broadcast_shapes(shape, np.shape(_data(other))) != shape:
                raise ValueError(f"{fn.name}_ (in place): the result would have shape "
                                 f"{np.broadcast_shapes(shape, np.shape(_data(other)))}, "
                                 f"not the tensor's {shape}; other {_describe(other)}")
            result = fn.apply(self._alias(), other)
            if result.data.dtype != dtype:
                if not np.can_cast(result.data.dtype, dtype, "same_kind"):
                    raise TypeError(f"{fn.name}_ (in place): cannot cast the result "
                                    f"({result.data.dtype}) back to the tensor's {dtype}")
                result = _ew.astype(result, dtype)
            self._rebind(result)
            return self
        try:
            ufunc(self.data, _data(other), out=self.data, casting="same_kind")
        except (ValueError, TypeError) as e:
            raise _base_error(e)(f"{fn.name}_ (in place): {e} (tensor shape {self.data.shape}, "
                          f"dtype {self.data.dtype}; other {_describe(other)})") from e
        self._bump_version()
        return self

    def _alias(self):
        # A second Tensor object for the same value and node (the 'old self').
        t = _make(self.data, self.grad_fn)
        t.requires_grad = self.requires_grad
        t._vc = self._vc
        return t

    def __getitem__(self, index):
        return _shape.getitem(self, index)

    def __setitem__(self, index, value):
        index = _shape.normalize_index(index, self, "setitem")
        if self._check_inplace("setitem", value):
            self._rebind(_shape.IndexPut.apply(self._alias(), index, value))
            return
        try:
            self.data[index] = _data(value)
        except (ValueError, TypeError, IndexError) as e:
            raise _base_error(e)(f"setitem: {e} (tensor shape {self.data.shape}, dtype "
                          f"{self.data.dtype}; value {_describe(value)})") from e
        self._bump_version()

    # ----- methods that name an op (the same functions exist in `autograd`) -------
    def exp(self): return _exp(self)
    def log(self): return _log(self)
    def sqrt(self): return _sqrt(self)
    def sin(self): return _sin(self)
    def cos(self): return _cos(self)
    def tanh(self): return _tanh(self)
    def sigmoid(self): return _sigmoid(self)
    def relu(self): return _relu(self)
    def abs(self): return _abs(self)
    def sign(self): return _sign(self)
    def erf(self): return _erf(self)
    def log1p(self): return _log1p(self)
    def expm1(self): return _expm1(self)
    def clip(self, lo=None, hi=None): return _ew.clip(self, lo, hi)
    def maximum(self, other): return _ew.maximum(self, other)
    def minimum(self, other): return _ew.minimum(self, other)

    def sum(self, axis=None, keepdims=False): return _reduce.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _reduce.mean(self, axis, keepdims)
    def var(self, axis=None, ddof=0, keepdims=False): return _reduce.var(self, axis, ddof, keepdims)
    def std(self, axis=None, ddof=0, keepdims=False): return _reduce.std(self, axis, ddof, keepdims)
    def max(self, axis=None, keepdims=False): return _reduce.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _reduce.min(self, axis, keepdims)
    def prod(self, axis=None, keepdims=False): return _reduce.prod(self, axis, keepdims)
    def logsumexp(self, axis=None, keepdims=False): return _reduce.logsumexp(self, axis, keepdims)
    def argmax(self, axis=None, keepdims=False): return _reduce.argmax(self, axis, keepdims)
    def argmin(self, axis=None, keepdims=False): return _reduce.argmin(self, axis, keepdims)
    def any(self, axis=None, keepdims=False): return _make(np.asarray(self.data.any(axis, keepdims=keepdims)), None)
    def all(self, axis=None, keepdims=False): return _make(np.asarray(self.data.all(axis, keepdims=keepdims)), None)

    def reshape(self, *shape): return _shape.reshape(self, *shape)
    def transpose(self, *axes): return _shape.transpose(self, *axes)
    def swapaxes(self, a, b): return _shape.swapaxes(self, a, b)
    def squeeze(self, axis=None): return _shape.squeeze(self, axis)
    def expand_dims(self, axis): return _shape.expand_dims(self, axis)
    def flatten(self): return _shape.flatten(self)
    def broadcast_to(self, shape): return _shape.broadcast_to(self, shape)
    def pad(self, pad_width, constant_values=0): return _shape.pad(self, pad_width, constant_values)
    def split(self, indices_or_sections, axis=0): return _shape.split(self, indices_or_sections, axis)
    def matmul(self, other): return _matmul(self, other)


_new = object.__new__


def _make(data, grad_fn):
    """The fast constructor used by every op: no checks, no conversions."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.grad_fn = grad_fn
    t.requires_grad = grad_fn is not None
    t._vc = None
    t._hooks = None
    return t


class _HookHandle:
    __slots__ = ("hooks", "hook")

    def __init__(self, hooks, hook):
        self.hooks = hooks
        self.hook = hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _describe(x):
    if isinstance(x, (Tensor, np.ndarray)):
        return f"shape {np.shape(x)}, dtype {np.asarray(x).dtype}"
    return type(x).__name__


# The ops import Tensor, so they come last.
from . import engine as _engine  # noqa: E402
from .ops import elementwise as _ew, linalg as _linalg, reduce as _reduce, shape as _shape  # noqa: E402

# The ops of the operators and unary methods, bound once: `_ew.Mul.apply` looks up a
# module attribute and a class attribute and builds a bound method on every call, and
# `_ew.tanh(x)` is one more Python call: together about 5 % of a small op.
_add, _sub, _mul, _div, _pow, _neg, _abs = (
    op.apply for op in (_ew.Add, _ew.Sub, _ew.Mul, _ew.Div, _ew.Pow, _ew.Neg, _ew.Abs))
_exp, _log, _sqrt, _sin, _cos, _tanh, _sigmoid, _relu, _sign, _erf, _log1p, _expm1 = (
    op.apply for op in (_ew.Exp, _ew.Log, _ew.Sqrt, _ew.Sin, _ew.Cos, _ew.Tanh, _ew.Sigmoid,
                        _ew.Relu, _ew.Sign, _ew.Erf, _ew.Log1p, _ew.Expm1))
_matmul = _linalg.Matmul.apply
