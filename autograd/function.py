"""The op mechanism: ``Function`` (forward on arrays, backward on Tensors) and ``Node``.

Every operation, primitive or user-written, is a ``Function`` subclass. ``apply``
runs ``forward`` on NumPy arrays and, when grad mode is on and an input requires
grad, records a ``Node`` (the ``ctx``) in the graph. The node keeps only what the
backward walk needs: the edges to its inputs, what ``forward`` saved, and the
output's shape and dtype. Intermediate tensors are not held by the graph, so
their arrays are freed as soon as nothing else uses them.
"""
import itertools
import weakref

import numpy as np

from . import buffers
from .anomaly import creation_site
from .grad_mode import ALL_DEFAULT as _ALL_DEFAULT, _state
from .tensor import Tensor, _make, _new

_FREED = object()  # marks a node whose saved values were released after backward


class _NoArgument:
    __slots__ = ()

    def __repr__(self):
        return "<no second argument>"


_ONE = _NoArgument()    # apply_ufunc's default (None is a value: x + None must fail)
_NOT_RUN = object()     # apply_ufunc's result before the ufunc ran


class _SavedOutput:
    """The output array saved by its own op: held without the Tensor to avoid a cycle.
    ``version`` is the value ``vc[0]`` must still have when backward uses it. (Made by
    _save_output without __init__: a Python __init__ is a third of a small op's save.)"""

    __slots__ = ("data", "vc", "version")


class _Released:
    """What a released node keeps of a constant operand: its shape and dtype, a weak
    reference (``ref``) that draws it as before while the caller still holds it, and the
    original's ``id`` (``key``) so that an operand shared by several ops is drawn once."""

    __slots__ = ("shape", "dtype", "key", "ref")

    def __init__(self, value, data):
        self.shape = data.shape
        self.dtype = data.dtype
        self.key = id(value)
        # An array from autograd.buffers never dies (the cache keeps it) and is reused by
        # later ops: its values would be someone else's, so none are shown.
        self.ref = _dead if value is data and buffers.owns(value) else weakref.ref(value)

    def __repr__(self):
        return f"<released constant {self.shape} {self.dtype}>"


_ndarray = np.ndarray
_generic = np.generic
_asarray = np.asarray
_LARGE = buffers.MIN_BYTES


def _plain(t):
    """A saved Tensor as an array rule gets it: its array, a 0-d one as a NumPy scalar,
    and a large one (``buffers.MIN_BYTES``) still as the Tensor, so that the rule's
    arithmetic on it goes through ``apply``, whose large results reuse buffers."""
    d = t.data
    if not d.ndim:      # (first: a 0-d array is small, no nbytes to read)
        return d[()]
    return t if d.nbytes >= _LARGE else d


def stand_in(e, stand_ins=None):
    """The ``_Released`` stand-in of a constant operand ``e`` (an array, or a Tensor that
    does not require grad), shared through ``stand_ins`` (id -> stand-in) when given.
    Tensor subclasses (nn.Parameter) are never constants here: their owner keeps them."""
    r = stand_ins.get(id(e)) if stand_ins is not None else None
    if r is None:
        r = _Released(e, e if e.__class__ is _ndarray else e.data)
        if stand_ins is not None:
            # Safe to key by id: every constant was alive when the walk began.
            stand_ins[id(e)] = r
    return r


def release_constants(node, stand_ins=None):
    """Swap ``node``'s constant operands for stand-ins. The backward walk does this in
    its own loop over a node's edges; this is for when an error cuts that loop short."""
    for i, e in enumerate(node):
        c = e.__class__
        if c is _ndarray or (c is Tensor and not e.requires_grad):
            node[i] = stand_in(e, stand_ins)


def needs_grad(edge):
    """Does the input behind ``edge`` (an entry of a node) need a gradient: another op's
    output, or a Tensor that requires grad (now, for a leaf)?"""
    return edge.__class__ is Node or (isinstance(edge, Tensor) and edge.requires_grad)


def _dead():
    """Stands for a weak reference whose target is gone."""
    return None


class Node(list):
    """One recorded operation; the ``ctx`` argument of ``forward`` and ``backward``.

    ``next`` has one entry per argument of ``apply``: the input's ``Node`` when the
    input is a non-leaf tensor that requires grad, otherwise the argument itself
    (a leaf Tensor, a constant Tensor, or a plain Python/NumPy value such as an axis).
    Once backward has released the node, constant arrays and Tensors that do not
    require grad are replaced by ``_Released`` stand-ins (shape and dtype only).

    The node is itself that list (``node.next is node``): one object per recorded op
    instead of two, which halves the garbage collector's work on a large graph (its
    full collections traverse every node). Nodes compare and hash by identity.

    ``apply_ufunc`` fills its nodes with one ``+=`` of a tuple of their edges: one slot
    per edge (16 bytes for one or two), where appending, as ``Function.apply`` does,
    allocates four (32 bytes), the size of the ``seq`` ints. Interleaved with those along
    a long chain, the edge arrays made the backward walk about a tenth slower
    (measurements in benchmarks/README.md).
    """

    # hooks: None, or a list of the tensor hooks registered on the output (non-leaf),
    # also when retain_grad() was called: the walk reads this one slot per node.
    # retain: a weakref to the output tensor once retain_grad() was called; else the
    # class's None (kept in the instance's dict: a slot fewer for every node to store
    # and for the cycle collector to visit, again and again while a graph grows).
    __slots__ = ("fn", "saved", "versions", "shape", "dtype", "seq", "hooks",
                 "__dict__", "__weakref__")
    retain = None
    __hash__ = object.__hash__
    __eq__ = object.__eq__
    __ne__ = object.__ne__

    @property
    def next(self):
        return self

    @property
    def needs_input_grad(self):
        """One bool per argument of ``apply``: does that input need a gradient?"""
        return [needs_grad(e) for e in self]

    @property
    def name(self):
        return self.fn.name

    def save_for_backward(self, *values):
        self.saved = values

    @property
    def saved_tensors(self):
        saved = self.saved
        versions = self.versions
        if versions.__class__ is int:
            # One factor kept alone by save_other (see apply), at version 0 then. (The
            # walk's release resets versions to None with saved to _FREED.)
            if isinstance(saved, Tensor):
                vc = saved._vc
                if vc and vc[0]:
                    self._raise_modified(saved, 0, vc[0])
                if _state.arrays:
                    d = saved.data      # (_plain, inlined: this runs for most products)
                    if not d.ndim:
                        saved = d[()]
                    elif d.nbytes < _LARGE:
                        saved = d
            return (None, saved) if versions else (saved, None)
        if not saved:
            return ()
        if saved is _FREED:
            raise RuntimeError(
                f"`{self.fn.name}`: its saved values were freed by an earlier backward. "
                "Trying to backward through the graph a second time? "
                "Pass retain_graph=True to the first backward() or grad().")
        # While an array rule runs (Function.array_rule), Tensors come back as their
        # arrays, 0-d ones as NumPy scalars (as the walk's gradients); the version checks
        # are the same.
        arrays = _state.arrays
        if saved.__class__ is _SavedOutput:     # an op that saved only its output
            d = saved.data
            if arrays and (not d.ndim or d.nbytes < _LARGE):     # else a Tensor, as _plain
                if saved.vc[0] != saved.version:    # (_checked, inlined)
                    self._raise_modified(saved, saved.version, saved.vc[0])
                return (d if d.ndim else d[()],)
            return (self._output(saved),)
        if versions is None and self.fn.save_inputs:
            # The common case: the call's own arguments, none modified since (one pass
            # checks that and, for an array rule, takes the arrays: _plain inlined).
            out = []
            for s in saved:
                if isinstance(s, Tensor):
                    vc = s._vc
                    if vc and vc[0]:
                        break
                    if arrays:
                        d = s.data
                        if not d.ndim:
                            s = d[()]
                        elif d.nbytes < _LARGE:
                            s = d
                out.append(s)
            else:
                return out if arrays else saved
        out = []
        i = -1
        for s in saved:
            i += 1
            if isinstance(s, Tensor):
                vc = s._vc
                if vc and vc[0] != (versions[i] if versions else 0):
                    self._raise_modified(s, versions[i] if versions else 0, vc[0])
                out.append(_plain(s) if arrays else s)
            elif s.__class__ is _SavedOutput:
                out.append(_plain(self._output(s)) if arrays else self._output(s))
            else:
                out.append(s)
        return out

    def _checked(self, s):
        """A saved output's array, once its version shows it was not modified."""
        if s.vc[0] != s.version:
            self._raise_modified(s, s.version, s.vc[0])
        return s.data

    def _output(self, s):
        # Rebuild the output as a tensor of this node, so that a backward
        # recorded with create_graph=True differentiates through it.
        t = _make(self._checked(s), self)
        t._vc = s.vc
        return t

    def _raise_modified(self, s, expected, now):
        raise RuntimeError(
            f"one of the tensors needed by `{self.fn.name}` for its gradient was modified "
            f"in place: shape {tuple(s.data.shape)}, dtype {s.data.dtype}, is at version "
            f"{now}, expected version {expected}. Use an out-of-place operation, or clone "
            f"the tensor before modifying it.")

    def __repr__(self):
        return f"<{self.fn.name} node>"

    def __reduce_ex__(self, protocol):
        # A graph is tied to this process: its backward order comes from creation
        # numbers that another process (or a copy mixed with new ops) would not share.
        raise TypeError(f"a recorded graph (`{self.fn.name}` node) cannot be pickled or "
                        "copied; detach() the tensor first")


class _NoGradCtx:
    """The ``ctx`` handed to ``forward`` when nothing is recorded."""

    __slots__ = ("__dict__",)
    needs_input_grad = ()

    def save_for_backward(self, *values):
        pass


class Function:
    """Base of every operation. Subclass it with two static methods::

        class Cube(ag.Function):
            @staticmethod
            def forward(ctx, x):           # NumPy arrays (and plain values) in, one array out
                ctx.save_for_backward(x)
                return x ** 3
            @staticmethod
            def backward(ctx, grad):       # Tensors in; one gradient (or None) per input
                (x,) = ctx.saved_tensors
                return 3 * x ** 2 * grad

        y = Cube.apply(t)

    Saved input arrays come back from ``ctx.saved_tensors`` as the input Tensors
    themselves, and the saved output as a Tensor of this node, so ``backward`` can
    itself be differentiated. Other saved values come back unchanged. Gradients are
    reduced to each input's shape by the engine, so a rule may return a broadcast
    gradient.
    """

    name = None        # API name shown in graphs and errors; defaults to the class name
    derivative = None  # the local derivative rule in words, for the backward table
    save_inputs = False  # primitives: backward gets every argument back as saved, as
    #                      if forward had called save_for_backward on all of them
    save_output = False  # primitives: backward gets the output back, as if saved
    save_other = False   # with save_inputs, for products (a*b, linear's x and W): each
    #                      of the first two inputs' gradients needs only the other one,
    #                      so an input whose partner needs no gradient is not kept (saved
    #                      as None), and later inputs (a bias) are not kept at all;
    #                      "first" (a/b): only the first input is dropped that way (b's
    #                      gradient needs both), the second is always kept
    returns_view = False  # True when forward returns a view of its first input
    _ufunc1 = _ufunc2 = None  # the ufunc that apply calls itself, without forward, for
    #                           one or two small arguments (elementwise._Unary, _Binary)
    _scalar2 = None     # with _ufunc2: the same on two NumPy float scalars, for two 0-d
    #                     float arrays (the operator: NumPy's scalar arithmetic is faster)
    array_rule = False  # True when backward also works on plain arrays: written with
    #                     operators and chainrule functions only (the primitives). When
    #                     backward records nothing, the engine then hands it arrays and
    #                     NumPy scalars instead of Tensors, which saves a Tensor per op.

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "name" not in cls.__dict__ or cls.__dict__["name"] is None:
            cls.name = cls.__name__.lower()

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        # The hot path of the whole library: one pass over the arguments, no
        # per-op dictionaries, and nothing recorded unless it will be needed.
        arrays = []
        nxt = Node()            # the node's edges, in case it is recorded (made as the
        #                         Node itself: copying a list into one costs more)
        record = tensors = False
        for a in args:
            if isinstance(a, Tensor):
                tensors = True
                arrays.append(a.data)
                if a.requires_grad:
                    record = True
                    if a.grad_fn is not None:
                        a = a.grad_fn
            else:
                arrays.append(a)
            nxt.append(a)
        if record and not _ALL_DEFAULT[0] and not _state.enabled:
            record = False
        if record:
            ctx = nxt
            ctx.fn = cls
            ctx.seq = next(_seqs)   # after its inputs' nodes: the backward order
            ctx.saved = ()
            ctx.versions = None     # (saved_tensors reads it first, also when nothing is saved)
            ctx.hooks = None    # a slot, not a class default: read on every backward
            if not _ALL_DEFAULT[0] and _state.anomaly:
                ctx.created_at = creation_site()
        else:
            ctx = _NO_GRAD_CTX
        try:
            # Up to three arguments passed one by one: `*arrays` builds a tuple and takes
            # CPython's slower call path, about 35 ns of a 2 µs op. An op that is one
            # ufunc (_ufunc1, _ufunc2) is called here when its operands are small.
            n = len(arrays)
            if n == 2:
                a0 = arrays[0]
                a1 = arrays[1]
                uf = cls._ufunc2
                if uf is None:
                    raw = cls.forward(ctx, a0, a1)
                elif a1.__class__ is _ndarray:
                    s1 = a1.nbytes
                    if s1 <= 8 and not a1.ndim and a0.__class__ is _ndarray and not a0.ndim \
                            and a0.dtype in _SCALAR_FLOATS and a1.dtype in _SCALAR_FLOATS:
                        # Two 0-d float arrays: NumPy's scalar arithmetic (_scalar2, the
                        # operator) gives the ufunc's result in 40 % of its time. (Read
                        # first: nbytes, which a small array's test needs anyway.)
                        raw = _asarray(cls._scalar2(a0[()], a1[()]))
                    elif s1 < _LARGE and (a0.__class__ is not _ndarray or a0.nbytes < _LARGE):
                        raw = uf(a0, a1)
                    else:
                        raw = cls.forward(ctx, a0, a1)
                elif a0.__class__ is not _ndarray or a0.nbytes < _LARGE:
                    raw = uf(a0, a1)
                else:
                    raw = cls.forward(ctx, a0, a1)
            elif n == 1:
                a0 = arrays[0]
                uf = cls._ufunc1
                if uf is not None and (a0.__class__ is not _ndarray or a0.nbytes < _LARGE):
                    # The ufunc of a 0-d float array's scalar: the same loop and result,
                    # in three quarters of the time. (Another dtype's scalar can be a
                    # Python object that selects another loop: an object array's.)
                    if a0.__class__ is _ndarray and not a0.ndim and a0.dtype in _SCALAR_FLOATS:
                        a0 = a0[()]
                    raw = uf(a0)
                else:
                    raw = cls.forward(ctx, a0)
            elif n == 3:
                raw = cls.forward(ctx, arrays[0], arrays[1], arrays[2])
            else:
                raw = cls.forward(ctx, *arrays)
        except (ValueError, TypeError, IndexError) as e:
            _reraise(cls, args, e)
        if not record:
            out = raw
            if not tensors and _state.arrays:   # inside an array rule: arrays in and out,
                if out.__class__ is not _ndarray or out.nbytes < _LARGE:
                    return out
                # but a large result (a broadcast gradient) as a Tensor, as the walk
                # hands large values to rules: arithmetic on it then reuses buffers.
            if out.__class__ is not _ndarray:
                # A 0-d result comes back from NumPy as a scalar.
                out = _asarray(out) if isinstance(out, _generic) else _as_array(out, cls)
            t = _new(Tensor)        # _make inlined: this path runs for every op
            t.data = out            # of every backward and optimizer step
            t.grad = None
            t.grad_fn = None
            t.requires_grad = False
            t._vc = None
            t._hooks = None
            if cls.returns_view:
                _share_version(args[0], t)
            return t

        out = raw
        if out.__class__ is not _ndarray:
            out = _asarray(out) if isinstance(out, _generic) else _as_array(out, cls)
        dtype = out.dtype
        # Integer and boolean results carry no gradient. (The identity tests spare the
        # common dtypes the `kind` lookup, which builds a string each time.)
        if dtype is not _FLOAT32 and dtype is not _FLOAT64 and dtype.kind != "f":
            return _no_gradient(cls, out, args)
        shape = out.shape
        if shape:       # () is one object already
            shape = _SHAPES.get(shape) or _shared_shape(shape)
        ctx.shape = shape
        ctx.dtype = dtype
        t = _new(Tensor)            # _make inlined
        t.data = out
        t.grad = None
        t.grad_fn = ctx
        t.requires_grad = True
        t._vc = None
        t._hooks = None
        if cls.save_inputs:
            saved = args                # the call's own tuple: nothing to map or allocate
            if cls.save_other:
                a, b = args[0], args[1]
                keep = -1       # the one factor to keep, if only one is needed
                if not (isinstance(b, Tensor) and b.requires_grad):
                    if isinstance(a, Tensor) and a.requires_grad:
                        keep = 1
                    else:   # only linear's bias needs a gradient
                        saved = (None, None)
                elif not (isinstance(a, Tensor) and a.requires_grad):
                    if cls.save_other is True:      # (else "first": both are kept)
                        keep = 0
                elif len(args) > 2:
                    saved = (a, b)
                if keep >= 0:
                    kept = args[keep]
                    if isinstance(kept, Tensor) and kept._vc and kept._vc[0]:
                        # modified in place before: its version is kept, in the list
                        saved = (None, kept) if keep else (kept, None)
                    else:
                        # Kept alone: the factor is the node's saved value itself and
                        # versions says which one, with no tuple around it (the deep
                        # chain's y * c leaves one object fewer per op for the memory
                        # and the cycle collector). Node.saved_tensors reads it back.
                        ctx.saved = kept
                        ctx.versions = keep
                        saved = None
            if saved is not None:
                ctx.saved = saved
                for a in saved:
                    if isinstance(a, Tensor) and a._vc and a._vc[0]:
                        ctx.versions = _versions(saved)
                        break
        elif cls.save_output:
            ctx.saved = _save_output(t)     # no tuple around it: one object less
        elif ctx.saved:
            _resolve_saved(ctx, args, arrays, raw, t)
        if cls.returns_view:
            _share_version(args[0], t)
        return t


def apply_ufunc(cls, a=_ONE, b=_ONE, /, *rest):
    """``apply`` of the ops whose forward is one ufunc (elementwise._Unary, _Binary).

    Their most common call runs here in one pass, without the argument tuple, array
    list and loop of Function.apply (about 15 % of such an op's forward): Tensors
    (nn.Parameter too) of small NumPy arrays (not subclasses; two 0-d ones both float32 or
    float64, a unary op's 0-d one too), one of them requiring grad, or one that requires
    grad beside a constant: a Python float or int, or a small plain array (``1 - x``,
    ``x / n``, ``x - m``); grad mode on and anomaly mode off, and a NumPy ufunc with one
    output in an op that returns no view (``_fast1``, ``_fast2``, set when the class is
    made, as ``_ufunc1``). It records exactly what Function.apply records
    (tests/test_engine.py compares the two); any other call goes to Function.apply,
    before the ufunc has run.
    """
    # The ufunc runs as in apply, and its errors are raised as there; a 0-d float array
    # goes in as its NumPy scalar, two of them to the operator (_scalar2).
    out = _NOT_RUN
    if b is _ONE:
        uf = cls._fast1
        if uf is not None and (a.__class__ is Tensor or isinstance(a, Tensor)) \
                and a.requires_grad and _ALL_DEFAULT[0]:
            x = a.data
            if x.__class__ is _ndarray and x.nbytes < _LARGE:
                try:
                    if x.ndim:      # (ndim, not shape: no tuple to make)
                        out = uf(x)
                    elif x.dtype in _SCALAR_FLOATS:
                        out = uf(x[()])
                except (ValueError, TypeError, IndexError) as e:
                    _reraise(cls, (a,), e)
    elif not rest:
        uf = cls._fast2
        if uf is not None and (a.__class__ is Tensor or isinstance(a, Tensor)) \
                and (b.__class__ is Tensor or isinstance(b, Tensor)) \
                and (a.requires_grad or b.requires_grad) and _ALL_DEFAULT[0]:
            x = a.data
            y = b.data
            if x.__class__ is _ndarray and y.__class__ is _ndarray and x.nbytes < _LARGE \
                    and y.nbytes < _LARGE:
                try:
                    if x.ndim or y.ndim:
                        out = uf(x, y)
                    elif x.dtype in _SCALAR_FLOATS and y.dtype in _SCALAR_FLOATS:
                        out = _asarray(cls._scalar2(x[()], y[()]))
                except (ValueError, TypeError, IndexError) as e:
                    _reraise(cls, (a, b), e)
        elif uf is not None and _ALL_DEFAULT[0]:
            # One operand a constant that is not a Tensor, the other a Tensor that requires
            # grad: the ufunc as apply calls it, and uf = None tells the record below.
            # (The Tensor's array plain and small, as above.)
            if a.__class__ is Tensor or isinstance(a, Tensor):
                x = a.data
                y = b
                ok = a.requires_grad and x.__class__ is _ndarray and (
                    y.__class__ is float or y.__class__ is int or y.__class__ is _ndarray)
            else:
                x = a
                y = b.data if b.__class__ is Tensor or isinstance(b, Tensor) else None
                ok = y.__class__ is _ndarray and b.requires_grad and (
                    x.__class__ is float or x.__class__ is int or x.__class__ is _ndarray)
            if ok and (x.__class__ is not _ndarray or x.nbytes < _LARGE) \
                    and (y.__class__ is not _ndarray or y.nbytes < _LARGE):
                try:
                    if x.__class__ is not _ndarray or y.__class__ is not _ndarray \
                            or x.ndim or y.ndim:
                        out = uf(x, y)
                    elif x.dtype in _SCALAR_FLOATS and y.dtype in _SCALAR_FLOATS:
                        out = _asarray(cls._scalar2(x[()], y[()]))
                except (ValueError, TypeError, IndexError) as e:
                    _reraise(cls, (a, b), e)
                uf = None
    if out is _NOT_RUN:
        # (The arguments as given, without a list and a star-call to build them.)
        if rest:
            return _apply(cls, a, b, *rest)
        if b is not _ONE:
            return _apply(cls, a, b)
        return _apply(cls) if a is _ONE else _apply(cls, a)
    if out.__class__ is not _ndarray:   # (as apply: a NumPy scalar, or refused)
        out = _asarray(out) if isinstance(out, _generic) else _as_array(out, cls)
    dtype = out.dtype
    if dtype is not _FLOAT32 and dtype is not _FLOAT64 and dtype.kind != "f":
        return _no_gradient(cls, out, (a,) if b is _ONE else (a, b))
    # From here, the record of Function.apply for these arguments, written out again
    # (a shared helper would cost the frame this path saves; the comparison test in
    # tests/test_engine.py keeps the two equal).
    # The edges go in by one += of a tuple: one slot each, not four (see Node).
    ctx = Node()
    if b is _ONE:
        ctx += (a if a.grad_fn is None else a.grad_fn,)
    elif uf is not None:
        # (An input's node is its edge only while it requires grad, as in apply.)
        ctx += (a.grad_fn if a.requires_grad and a.grad_fn is not None else a,
                b.grad_fn if b.requires_grad and b.grad_fn is not None else b)
    else:       # a constant beside a Tensor that requires grad: its own edge
        tb = b.__class__ is Tensor or isinstance(b, Tensor)     # (the Tensor is b)
        ctx += (a, b if b.grad_fn is None else b.grad_fn) if tb else \
            (a if a.grad_fn is None else a.grad_fn, b)
    ctx.fn = cls
    ctx.seq = next(_seqs)
    ctx.hooks = None
    ctx.dtype = dtype
    shape = out.shape
    if shape:
        shape = _SHAPES.get(shape) or _shared_shape(shape)
    ctx.shape = shape
    t = _new(Tensor)
    t.data = out
    t.grad = None
    t.grad_fn = ctx
    t.requires_grad = True
    t._vc = None
    t._hooks = None
    if cls.save_inputs:
        if uf is None:      # a constant beside a Tensor (tb: the Tensor is b)
            if cls.save_other and (not tb or cls.save_other is True):
                # the factor the Tensor's gradient needs, kept alone (as below)
                ctx.saved = a if tb else b
                ctx.versions = 0 if tb else 1
            else:
                ctx.saved = saved = (a, b)
                vc = b._vc if tb else a._vc
                ctx.versions = _versions(saved) if vc and vc[0] else None
        elif b is not _ONE and cls.save_other and not (a.requires_grad and b.requires_grad) \
                and (not b.requires_grad or cls.save_other is True):    # (see "first")
            keep = 0 if b.requires_grad else 1      # the factor the other one needs
            kept = b if keep else a
            vc = kept._vc
            if vc and vc[0]:
                ctx.saved = (None, kept) if keep else (kept, None)
                ctx.versions = _versions(ctx.saved)
            else:
                ctx.saved = kept
                ctx.versions = keep
        else:
            ctx.saved = saved = (a,) if b is _ONE else (a, b)
            ctx.versions = _versions(saved) if a._vc and a._vc[0] \
                or b is not _ONE and b._vc and b._vc[0] else None
    else:   # (saved and versions are set once, on each path)
        ctx.saved = _save_output(t) if cls.save_output else ()
        ctx.versions = None
    return t


# A bound method pickles (multiprocessing) as a lookup of its function's name.
apply_ufunc.__name__ = "apply"
_apply = Function.apply.__func__    # apply_ufunc's fallback


class Primitive(Function):
    """Base of the built-in ops: their rules work on arrays too (``array_rule``)."""

    array_rule = True

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # A user's subclass of a built-in op whose backward is not a built-in one (its
        # own, or a mixin's) gets Tensors, like any user-written Function, unless the
        # class that wrote that backward says otherwise.
        owner = next(k for k in cls.__mro__ if "backward" in k.__dict__)
        if "array_rule" not in cls.__dict__ and "array_rule" not in owner.__dict__ \
                and not owner.__module__.startswith(_PACKAGE):
            cls.array_rule = False


_PACKAGE = __name__.rpartition(".")[0] + "."    # "autograd."
_NO_GRAD_CTX = _NoGradCtx()
_seqs = itertools.count()    # (next() on it is cheaper than its bound __next__)
_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
_SCALAR_FLOATS = (_FLOAT32, _FLOAT64)   # (`in` a tuple tests identity first)
_SHAPES = {}     # see _shared_shape


def _shared_shape(shape):
    """One tuple per distinct output shape, shared by the nodes: a graph of 100,000
    ops then holds 100,000 tuples (and as many objects for the cycle collector to
    visit) fewer, 4.4 MiB less for the deep chain. Past 4,096 shapes the table starts
    over."""
    if len(_SHAPES) >= 4096:
        _SHAPES.clear()
    _SHAPES[shape] = shape
    return shape


def _as_array(out, cls):
    """What forward returned, other than an array or a NumPy scalar, as an array."""
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{cls.name}: forward must return one array (multiple outputs "
                        "are not supported; write one Function per output)")
    return np.asarray(out)


def _share_version(src, out):
    # A view shares its base's version counter, so modifying either is seen by both.
    if isinstance(src, Tensor):
        if src._vc is None:
            src._vc = [0]
        out._vc = src._vc


def _save_output(t):
    """Keep an op's output for its backward: the array and a fresh version counter
    shared with ``t``, so an in-place change of ``t`` is caught."""
    s = _new(_SavedOutput)
    s.data = t.data
    s.vc = t._vc = [0]
    s.version = 0
    return s


def _no_gradient(cls, out, args):
    """The result, of a dtype that is not floating-point, of an op with an input that
    requires grad: an integer or boolean one as a constant Tensor; complex is refused."""
    if out.dtype.kind == "c":
        raise TypeError(f"{cls.name}: complex results are not supported by autograd "
                        f"(an input requires grad; inputs: {_describe(args)})")
    return _make(out, None)


def _versions(args):
    """The saved tensors' versions (called when one of them is not at version 0)."""
    return [b._vc[0] if isinstance(b, Tensor) and b._vc else 0 for b in args]


def _resolve_saved(ctx, args, arrays, raw, t):
    """Turn what forward saved into Tensors: its inputs' arrays become the input
    Tensors, its output array a ``_SavedOutput``; anything else stays a constant."""
    out = t.data
    saved = []
    versions = []
    nonzero = False
    used = 0
    for s in ctx.saved:
        if s is raw or s is out:   # raw: forward's return before it became an array
            saved.append(_save_output(t))
            versions.append(0)
            continue
        match = -1
        for i in range(len(arrays)):
            # The same array can sit in two tensors (x * x.detach()): prefer an
            # argument not matched yet, so saves in argument order pair up.
            if arrays[i] is s and isinstance(args[i], Tensor):
                if not (used >> i) & 1:
                    match = i
                    break
                if match < 0:
                    match = i
        if match >= 0:
            used |= 1 << match
            s = args[match]
            vc = s._vc
            if vc and vc[0]:
                nonzero = True
                versions.append(vc[0])
            else:
                versions.append(0)
        else:
            versions.append(None)
        saved.append(s)
    ctx.saved = saved
    # Most saved tensors were never modified: None stands for "all at version 0"
    # and saves the list (fewer objects per node, less garbage-collector work).
    ctx.versions = versions if nonzero else None


def _describe(args):
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"Tensor{tuple(a.data.shape)} {a.data.dtype}")
        elif isinstance(a, (np.ndarray, np.generic)):
            parts.append(f"array{a.shape} {a.dtype}")
    return ", ".join(parts)


def _reraise(cls, args, e):
    msg = f"{cls.name}: {e} (inputs: {_describe(args)})"
    for kind in (IndexError, ValueError, TypeError):
        if isinstance(e, kind):
            raise kind(msg) from e
