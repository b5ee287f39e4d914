"""The backward walk: newest node first, over the frontier of nodes that have a gradient.

No recursion anywhere, so graphs of millions of nodes are fine. Gradients are
Tensors; with ``create_graph=True`` the walk runs with recording on, so the
gradients carry graphs of their own and can be differentiated again.
"""
import sys
from heapq import heapify, heappop, heappush
from operator import attrgetter

import numpy as np

from . import buffers, grad_mode
from .anomaly import check_gradient
from .function import _FREED, Node, release_constants, stand_in
from .ops.shape import sum_to, sum_to_array
from .tensor import Tensor, _make


def topological_order(roots, check_freed=True):
    """The nodes reachable from ``roots`` in the order backward processes them.

    Every node is numbered when it is recorded (``Node.seq``), after the nodes of its
    inputs, so the newest node first is a valid order: a node runs once every node
    that uses its output has run. One walk collects the nodes, then a sort in C
    orders them. The backward walk itself follows the same order without building
    this list (``_run``); drawing and ``grad(inputs=...)``'s pruning use it. With
    ``check_freed`` it raises if a node's saved values were already freed (drawing a
    graph after backward passes False).
    """
    seen = set(roots)
    stack = list(seen)
    while stack:
        node = stack.pop()
        if check_freed and node.saved is _FREED:
            _raise_freed(node)
        for e in node:
            if e.__class__ is Node and e not in seen:
                seen.add(e)
                stack.append(e)
    return sorted(seen, key=_seq, reverse=True)


_seq = attrgetter("seq")


def _raise_freed(node):
    raise RuntimeError(
        f"Trying to backward through the graph a second time: the saved values of "
        f"`{node.fn.name}` were freed by an earlier backward. Pass retain_graph=True "
        "to the first backward() or grad() if you need to go through it again.")


def _fit(g, shape, dtype, op):
    """Undo broadcasting and dtype promotion of a gradient, in one place for all ops."""
    if g.shape != shape:
        try:
            g = sum_to(g, shape) if isinstance(g, Tensor) else sum_to_array(g, shape)
        except ValueError:
            raise RuntimeError(f"`{op}` returned a gradient of shape {g.shape} for an input "
                               f"of shape {shape}") from None
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def backward(roots, grads, retain_graph=None, create_graph=False, inputs=None):
    """Run backward from ``roots`` seeded with ``grads``.

    Without ``inputs``, gradients are accumulated into the leaves' ``.grad``.
    With ``inputs`` (a list of tensors), nothing is accumulated: the gradient of
    each input is returned (None where unused), and only the part of the graph
    that leads to an input is walked.
    """
    if retain_graph is None:
        retain_graph = create_graph
    state = grad_mode._state
    prev_mode, prev_arrays = state.enabled, state.arrays
    grad_mode.set_mode(bool(create_graph), state.anomaly)
    state.arrays = False
    try:
        return _run(roots, grads, retain_graph, create_graph, inputs)
    finally:
        grad_mode.set_mode(prev_mode, state.anomaly)
        state.arrays = prev_arrays


def _seed(t, g):
    if not isinstance(t, Tensor):
        raise TypeError(f"backward: expected a Tensor, got {type(t).__name__}")
    if not t.requires_grad:
        raise RuntimeError(f"backward: the tensor (shape {t.shape}, dtype {t.dtype}) does "
                           "not require grad and has no grad_fn")
    if g is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for outputs with one "
                f"element; this one has shape {t.shape}. Pass `gradient=` (or "
                "`grad_outputs=`) of the same shape")
        one = np.empty(t.data.shape, t.data.dtype)     # (a third of np.ones_like's cost)
        one.fill(1)
        return _make(one, None)
    if not isinstance(g, Tensor):
        arr = np.asarray(g)
        if arr.dtype.kind not in "biuf":     # casting would turn None into NaN, "a" into
            text = repr(g)                   # NumPy's ValueError
            if len(text) > 60:
                text = text[:57] + "..."
            raise TypeError(f"backward: gradient must be a Tensor or an array of numbers, "
                            f"got {type(g).__name__} {text} (dtype {arr.dtype})")
        g = _make(arr.astype(t.dtype, copy=False), None)
    if g.shape != t.shape:
        raise RuntimeError(f"backward: gradient shape {g.shape} does not match the "
                           f"tensor's shape {t.shape}")
    if g.dtype != t.dtype:
        g = g.astype(t.dtype)
    return g


def _run(roots, grads, retain_graph, create_graph, inputs):
    # Without create_graph nothing is recorded, so gradients travel as plain arrays (or
    # NumPy scalars, for 0-d ones: their arithmetic is ten times cheaper) and the
    # primitives' rules (Function.array_rule) run on arrays, with state.arrays set for
    # the walk. A gradient becomes a Tensor only where user code sees it, with
    # state.arrays off: hooks, retain_grad, a user-written Function, and .grad. With
    # create_graph, gradients are Tensors.
    arrays = not create_graph
    state = grad_mode._state
    pending = {}        # node -> gradient of its output, summed so far (but nxt's)
    summed = set()      # nodes whose pending gradient is an array this walk made
    stand_ins = {}      # the released constants' stand-ins (function.stand_in)
    leaves = {}         # id(leaf) -> [leaf, gradient summed so far, made by this walk]
    for t, g in zip(roots, grads):
        g = _seed(t, g)
        if arrays:
            g = g.data
        if t.grad_fn is None:
            _add_leaf(leaves, t, g)
        elif t.grad_fn in pending:
            pending[t.grad_fn] = pending[t.grad_fn] + g
        else:
            pending[t.grad_fn] = g

    anomaly = state.anomaly
    capture = inputs is not None
    if capture:
        targets_leaf = {id(t): i for i, t in enumerate(inputs) if t.grad_fn is None}
        targets_node = {t.grad_fn: i for i, t in enumerate(inputs) if t.grad_fn is not None}
        needed = _needed(topological_order(list(pending)), targets_leaf, targets_node)
        results = [None] * len(inputs)
    # The frontier: the nodes that have a gradient and have not run (but nxt, below),
    # newest first. A node's consumers are newer than it (Node.seq), so it runs after
    # all of them that the walk reaches. The walk holds only the frontier, never the
    # whole graph: no graph-sized set or list, whose large tables would also raise the
    # C allocator's thresholds and keep freed memory from going back to the system.
    frontier = [(-node.seq, node) for node in pending]
    heapify(frontier)
    # A chain (each node's output used once: a sequential model, an unrolled loop)
    # needs neither: when a rule's gradient reaches a node while the frontier is empty,
    # that node is the only one with a gradient and runs next, so it and its gradient
    # are kept here (nxt, nxt_g) instead of passing through pending and the heap; if
    # the same rule then gives a gradient to another node, or to it again, it joins
    # the frontier first.
    nxt = nxt_g = None
    state.arrays = arrays       # backward() restores it, also after an exception

    while True:
        if nxt is not None:
            node = nxt
            g = nxt_g
            nxt = nxt_g = None
        elif frontier:
            node = heappop(frontier)[1]
            g = pending.pop(node)
            if summed:
                summed.discard(node)    # a node that ran gets no more gradient
        else:
            break
        if node.saved is _FREED:
            _raise_freed(node)
        if node.hooks is not None:      # hooks, or retain_grad (Node.hooks)
            state.arrays = False        # user code: Tensors
            g = _node_hooks(node, g, create_graph)
            state.arrays = arrays
        if capture:
            i = targets_node.get(node)
            if i is not None:
                results[i] = _make(_asarray(g), None) if arrays else g
            if node not in needed:
                continue
        fn = node.fn
        if not arrays or fn.array_rule:
            if arrays and g.__class__ is _ndarray and g.nbytes >= _LARGE:
                # A large gradient goes in as a Tensor: the rule's arithmetic on it then
                # runs through apply, whose large results reuse buffers (autograd.buffers)
                # instead of being page-faulted in afresh.
                g = _make(g, None)
            out = fn.backward(node, g)
        else:               # a user's Function: Tensors in, as documented
            state.arrays = False
            out = fn.backward(node, _make(_asarray(g), None))
            state.arrays = True
        if not retain_graph:    # free what the rule needed; the constants in the loop below
            node.saved = _FREED
            node.versions = None
        try:   # (zero-cost in CPython 3.11 unless something raises)
            if out.__class__ is not tuple:
                out = (out,)
            if len(out) != len(node):
                raise RuntimeError(f"`{fn.name}`.backward returned {len(out)} gradients "
                                   f"for {len(node)} inputs")
            if anomaly:
                for i, gi in enumerate(out):
                    if gi is not None:
                        check_gradient(node, i, gi)
            i = -1
            for e in node:      # the node is the list of its inputs' edges
                i += 1
                gi = out[i]     # (not zip(node, out): a zip object per node costs more)
                c = e.__class__
                if c is _ndarray or (c is Tensor and not e.requires_grad):
                    # A constant operand (the input batch, a dropout mask) gets no gradient;
                    # without retain_graph it becomes a shape-only stand-in (stand_in).
                    if not retain_graph:
                        r = stand_ins.get(id(e))    # made already when a constant is reused
                        node[i] = r if r is not None else stand_in(e, stand_ins)
                    continue
                if gi is None:
                    continue
                gc = gi.__class__
                if gc is _ndarray:
                    gshape, gdtype = gi.shape, gi.dtype
                else:
                    # A 0-d gradient of the walk is a NumPy float scalar, whose .dtype
                    # NumPy builds on each read: its dtype is looked up by type instead.
                    gdtype = _SCALAR_DTYPES.get(gc)
                    if gdtype is not None:
                        gshape = ()
                    else:
                        if arrays and not isinstance(gi, _generic):
                            gi = gi.data if isinstance(gi, Tensor) else _asarray(gi)
                        # (With create_graph a Tensor; anything else, a Python number,
                        # fails in _fit only if an edge below takes it, as before.)
                        gshape = getattr(gi, "shape", None)
                        gdtype = getattr(gi, "dtype", None)
                if c is Node:
                    if capture and e not in needed and e not in targets_node:
                        continue
                    if gshape != e.shape or (gdtype is not e.dtype and gdtype != e.dtype):
                        gi = _fit(gi, e.shape, e.dtype, fn.name)
                    if nxt is not None:
                        # A second node gets a gradient (or the same one again): the
                        # kept one joins the frontier, and this one follows it there.
                        pending[nxt] = nxt_g
                        heappush(frontier, (-nxt.seq, nxt))
                        nxt = nxt_g = None
                    elif not frontier:
                        nxt = e
                        nxt_g = gi
                        continue
                    prev = pending.get(e)
                    if prev is None:
                        pending[e] = gi
                        heappush(frontier, (-e.seq, e))
                    elif e in summed:
                        # A sum made here, not yet handed to anyone (hooks and retain_grad
                        # see it when its node runs): add in place, no new buffer.
                        np.add(prev, gi, out=prev)
                    else:
                        s = prev + gi
                        pending[e] = s
                        if s.__class__ is _ndarray:     # not a Tensor, not a NumPy scalar
                            summed.add(e)
                elif isinstance(e, Tensor) and e.requires_grad:
                    if capture and id(e) not in targets_leaf:
                        continue
                    ed = e.data
                    if gshape != ed.shape or (gdtype is not ed.dtype and gdtype != ed.dtype):
                        gi = _fit(gi, ed.shape, ed.dtype, fn.name)
                    _add_leaf(leaves, e, gi)
        except BaseException:
            if not retain_graph:    # what the loop would have released
                release_constants(node, stand_ins)
            raise

    state.arrays = False        # leaf hooks are user code
    out = gi = None             # (no reference of the walk's own to a gradient left)
    for leaf, g, owned in leaves.values():
        if arrays:
            if isinstance(g, _generic):
                g = _asarray(g)         # a NumPy scalar: a new array
                owned = True
            elif not owned and g.__class__ is _ndarray and g.base is None:
                # Nothing else refers to the array (no view of it, no tensor, no other
                # leaf's entry: each would hold a reference), so it can become .grad
                # without a copy, as PyTorch's AccumulateGrad steals an unshared
                # gradient. One of autograd.buffers' arrays also has the cache's.
                n = _getrefcount(g)
                owned = (n == _ONLY_HERE or n == _ONLY_HERE + 1 and buffers.owns(g)) \
                    and g.flags.writeable
            g = _make(g, None)
        # A sum made here shares its memory with nothing, so it can become .grad
        # without a copy; unless a hook saw it (the hook may keep it).
        if leaf._hooks:
            owned = False
            for hook in leaf._hooks:
                r = hook(g)
                if r is not None:
                    g = r
        if capture:
            i = targets_leaf.get(id(leaf))
            if i is not None:
                results[i] = g
        else:
            _accumulate(leaf, g, create_graph, owned)
    return results if capture else None


def _only_here():
    """The reference count, seen from _run's loop over the leaves, of a gradient array
    that only its entry there refers to (measured, as buffers._UNUSED). 0, which no
    count equals, where counts cannot be relied on (buffers.REFCOUNTS)."""
    if not buffers.REFCOUNTS:
        return 0
    for leaf, g, owned in {0: [None, np.empty(1), False]}.values():
        return _getrefcount(g)


_getrefcount = sys.getrefcount
_ONLY_HERE = _only_here()
_ndarray = np.ndarray
_generic = np.generic
_SCALAR_DTYPES = {t: np.dtype(t) for t in (np.float16, np.float32, np.float64, np.longdouble)}
_asarray = np.asarray
_LARGE = buffers.MIN_BYTES


def _node_hooks(node, g, create_graph):
    """Run a non-leaf's tensor hooks and retain_grad on its gradient ``g`` (an array
    without create_graph: wrapped for them) and return the gradient to go on with."""
    arrays = not create_graph
    t = _make(_asarray(g), None) if arrays else g
    if node.hooks:
        for hook in node.hooks:
            r = hook(t)
            if r is not None:
                t = r
    if node.retain is not None:
        kept_by = node.retain()
        if kept_by is not None:
            kept = t if create_graph else t.detach()
            kept_by.grad = kept if kept_by.grad is None else kept_by.grad + kept
    return t.data if arrays else t


def _add_leaf(leaves, leaf, g):
    """Add ``g`` to the gradient summed for ``leaf``: in place once this walk owns an
    array for it, Tensor + Tensor with create_graph."""
    entry = leaves.get(id(leaf))
    if entry is None:
        leaves[id(leaf)] = [leaf, g, False]
    elif entry[2]:
        np.add(entry[1], g, out=entry[1])
    else:
        s = entry[1] + g
        entry[1] = s
        entry[2] = s.__class__ is _ndarray


def _accumulate(leaf, g, create_graph, owned=False):
    if create_graph:
        if leaf.grad is not None:
            leaf.grad = leaf.grad + g
        else:   # a gradient without a graph may be shared with another leaf: own it
            leaf.grad = g if g.grad_fn is not None else _make(np.array(g.data, copy=True), None)
    elif leaf.grad is None:
        # Own the buffer: g may share memory with another tensor or gradient.
        leaf.grad = g if owned else _make(np.array(g.data, copy=True), None)
    elif leaf.grad.grad_fn is None and leaf.grad.data.flags.writeable:
        np.add(leaf.grad.data, g.data, out=leaf.grad.data)
        leaf.grad._bump_version()
    else:
        leaf.grad = _make(leaf.grad.data + g.data, None)


def zero_grads(params, set_to_none=True):
    """``Module.zero_grad`` and ``Optimizer.zero_grad``: drop each gradient, or zero it
    in place (a new zero tensor where it cannot be written)."""
    for p in params:
        g = p.grad
        if g is None:
            continue
        if set_to_none:
            p.grad = None
        elif g.grad_fn is None and g.data.flags.writeable:
            g.data.fill(0)
            g._bump_version()
        else:
            p.grad = _make(np.zeros_like(g.data), None)


def _needed(order, targets_leaf, targets_node):
    """Nodes whose backward leads to at least one of the requested inputs. A requested
    non-leaf's own node runs only if it leads to another requested input."""
    needed = set()
    for node in reversed(order):
        for e in node:
            if e.__class__ is Node:
                if e in needed or e in targets_node:
                    needed.add(node)
                    break
            elif isinstance(e, Tensor) and id(e) in targets_leaf:
                needed.add(node)
                break
    return needed


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple; ``.grad`` is untouched.

    ``grad_outputs`` seeds each output (needed for outputs of more than one element).
    An input the outputs do not depend on is a RuntimeError unless ``allow_unused``,
    which returns None for it.
    """
    outputs = _tensor_list(outputs, "outputs")
    inputs = _tensor_list(inputs, "inputs")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    results = backward(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs)
    for i, r in enumerate(results):
        if r is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {inputs[i].shape}) was not used to compute the "
                    "outputs; pass allow_unused=True to get None for it")
        elif not create_graph:
            results[i] = r.detach()
    return tuple(results)


def _tensor_list(ts, what):
    if isinstance(ts, Tensor):
        return [ts]
    try:
        return list(ts)
    except TypeError:
        raise TypeError(f"grad: {what} must be a Tensor or a sequence of Tensors, got "
                        f"{type(ts).__name__}") from None
