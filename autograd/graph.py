"""Seeing the graph: ``draw_graph`` (Graphviz drawing) and ``backward_steps`` (the
backward pass as a table).

Both read the recorded graph without changing it. A recorded op is a ``Node``:
``node.fn`` is its Function class (``.name``, ``.derivative``), ``node.next`` has one
entry per argument (a ``Node`` for a non-leaf input that requires grad, else the
argument itself: a leaf Tensor, a constant, or a plain value such as an axis). The
graph does not hold intermediate tensors, so their values can only be shown while the
caller keeps them: a drawing finds the live ones once, in the garbage collector's list of
objects (a per-node reference would cost every recorded op an object).

Every walk here is iterative: graphs of any depth are drawn without recursion.
"""
import functools
import gc
import inspect
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import graphviz
import numpy as np

from .engine import topological_order
from .function import Node, _Released
from .tensor import Tensor, _make

__all__ = ["draw_graph", "backward_steps", "ComputationGraph", "GraphvizNotFoundError",
           "BackwardStep", "BackwardSteps", "StepInput", "AUTO_MAX_NODES"]

# Tensor-like arguments of an op: a constant operand of a node freed by backward is a
# _Released stand-in (shape and dtype only).
_OPERANDS = (Tensor, np.ndarray, _Released)


def _key(e):
    """Identity of a leaf or constant operand, the same for its released stand-in."""
    return e.key if e.__class__ is _Released else id(e)


def _alive(e):
    """The operand itself, or for a released stand-in the original while someone still
    holds it (None once it is gone)."""
    return e.ref() if e.__class__ is _Released else e


# dot's layout time grows faster than linearly with the drawn nodes (measured: 3 s for
# a 2,000-op chain, about 4,000 nodes; 7 s for 4,500 nodes; 28 s for 9,000). Past this
# many ops the default draws the part nearest the root and says how to get the rest.
AUTO_MAX_NODES = 2000
_MIN_RUN = 3          # collapse=True folds a block repeated at least this many times
_MAX_PERIOD = 8       # ... of at most this many ops
_MAX_RUN_INPUTS = 3   # a folded chain draws at most this many distinct tensor inputs

INSTALL_HELP = (
    "Rendering needs the Graphviz `dot` program, which was not found on PATH. "
    "Install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz`. "
    "Without it, `.source` still gives the DOT text of the graph.")

# Fill colour, border colour and style of each kind of node; the legend shows them.
STYLES = {
    "parameter": {"shape": "record", "style": "filled", "fillcolor": "#cfe2ff",
                  "color": "#1f4e9c"},
    "constant": {"shape": "record", "style": "filled,dashed", "fillcolor": "#f0f0f0",
                 "color": "#808080", "fontcolor": "#404040"},
    "intermediate": {"shape": "record", "style": "filled", "fillcolor": "#ffffff",
                     "color": "#404040"},
    "root": {"shape": "record", "style": "filled,bold", "fillcolor": "#ffd9a8",
             "color": "#b35900", "penwidth": "2"},
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#e2f0d9",
           "color": "#3b7a2a"},
    "repeated": {"shape": "ellipse", "style": "filled", "fillcolor": "#e2f0d9",
                 "color": "#3b7a2a", "peripheries": "2"},
    "truncated": {"shape": "note", "style": "filled,dashed", "fillcolor": "#fff7cc",
                  "color": "#8a6d00"},
}

_LEGEND = [
    ("parameter", "parameter (leaf, requires grad)"),
    ("constant", "constant (no grad)"),
    ("intermediate", "intermediate tensor"),
    ("root", "root (the output)"),
    ("op", "op"),
]

# Argument names shown in op labels, where the forward's own parameter name is not the
# one users call it by.
_OP_ARG_RENAMES = {"pow": {"b": "exponent"}, **{op: {"axes": "axis"} for op in
                                                ("sum", "max", "min", "prod")}}


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """Rendering was asked for but the Graphviz ``dot`` program is not installed.

    A subclass of ``graphviz.ExecutableNotFound`` (a RuntimeError), so existing
    handlers for that still catch it.
    """

    def __init__(self, message=INSTALL_HELP):
        RuntimeError.__init__(self, message)


class ComputationGraph(graphviz.Digraph):
    """The ``graphviz.Digraph`` returned by ``draw_graph``.

    It is a plain Digraph (Jupyter shows it inline) whose ``render``, ``pipe`` and
    ``view`` raise ``GraphvizNotFoundError``, with install instructions, when ``dot``
    is missing. ``.source`` never needs Graphviz.
    """

    def render(self, *args, **kwargs):
        try:
            return super().render(*args, **kwargs)
        except GraphvizNotFoundError:
            raise
        except graphviz.ExecutableNotFound as e:
            raise GraphvizNotFoundError() from e

    def pipe(self, *args, **kwargs):
        try:
            return super().pipe(*args, **kwargs)
        except GraphvizNotFoundError:
            raise
        except graphviz.ExecutableNotFound as e:
            raise GraphvizNotFoundError() from e

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        # Without dot a notebook still shows something useful: the reason and the source.
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except GraphvizNotFoundError as e:
            return {"text/plain": f"{e}\n\n{self.source}"}


# ---------------------------------------------------------------- names
class _Names:
    """``names`` resolved once: a tensor's name by identity, a non-leaf's by its node."""

    def __init__(self, names, caller):
        self.by_id = {}
        self.by_node = {}
        self._keep = []           # keeps named tensors alive (ids stay unique)
        if names is None:
            return
        if isinstance(names, Mapping):
            pairs = names.items()
        elif isinstance(names, (str, bytes, Tensor)):
            raise TypeError(f"{caller}: names must be a mapping name -> Tensor or an "
                            f"iterable of (name, Tensor) pairs, got {type(names).__name__}")
        else:
            pairs = names
        for item in pairs:
            try:
                name, t = item
            except (TypeError, ValueError):
                raise TypeError(f"{caller}: names must be a mapping name -> Tensor or an "
                                f"iterable of (name, Tensor) pairs; got the item {item!r}") \
                    from None
            if not isinstance(t, Tensor):
                raise TypeError(f"{caller}: names[{name!r}] must be a Tensor, got "
                                f"{type(t).__name__}")
            name = str(name)
            self._keep.append(t)
            # Tied weights (one tensor under two names) show both names.
            if t.grad_fn is not None:
                old = self.by_node.get(t.grad_fn)
                self.by_node[t.grad_fn] = name if old is None else f"{old} / {name}"
            else:
                old = self.by_id.get(id(t))
                self.by_id[id(t)] = name if old is None else f"{old} / {name}"

    def of_tensor(self, t):
        return self.by_id.get(id(t))

    def of_node(self, node):
        return self.by_node.get(node)


# ---------------------------------------------------------------- walking
def _walk(root_node):
    """Every node reachable from ``root_node`` in breadth-first order (nearest the root
    first), and how many argument slots use each node's output."""
    order = [root_node]
    uses = {root_node: 0}
    i = 0
    while i < len(order):
        node = order[i]
        i += 1
        for e in node.next:
            if e.__class__ is Node:
                c = uses.get(e)
                if c is None:
                    uses[e] = 1
                    order.append(e)
                else:
                    uses[e] = c + 1
    return order, uses


def _kind(t):
    if isinstance(t, Tensor):
        if t.grad_fn is not None:
            return "intermediate"
        return "parameter" if t.requires_grad else "constant"
    return "constant"


@functools.lru_cache(maxsize=None)
def _forward_params(fn):
    """``fn.forward``'s argument names after ctx, and the name of its ``*args`` if any."""
    try:
        params = list(inspect.signature(fn.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return (), None
    renames = _OP_ARG_RENAMES.get(fn.name, {})
    names = []
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return tuple(names), p.name
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(renames.get(p.name, p.name))
    return tuple(names), None


def _arg_names(fn, n):
    """A name for each of the ``n`` arguments a node of ``fn`` was called with."""
    fixed, var = _forward_params(fn)
    out = list(fixed[:n])
    for i in range(len(out), n):
        out.append(f"{var}[{i - len(fixed)}]" if var else f"arg{i}")
    return out


def _short(value, limit=40):
    """A short text for a plain argument (axis, shape, index, scalar...)."""
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.6g}"
    elif isinstance(value, np.dtype):
        text = str(value)
    elif isinstance(value, type) and issubclass(value, np.generic):
        text = np.dtype(value).name
    elif isinstance(value, tuple) and any(isinstance(v, (slice, np.ndarray)) or v is Ellipsis
                                          for v in value):
        text = "[" + ", ".join(_index_part(v) for v in value) + "]"
    elif isinstance(value, slice):
        text = "[" + _index_part(value) + "]"
    elif isinstance(value, np.ndarray):
        text = _index_part(value)
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _index_part(v):
    if isinstance(v, slice):
        parts = ["" if v.start is None else str(v.start), "" if v.stop is None else str(v.stop)]
        if v.step is not None:
            parts.append(str(v.step))
        return ":".join(parts)
    if v is Ellipsis:
        return "..."
    if v is None:
        return "None"
    if isinstance(v, np.ndarray):
        if v.size <= 6:
            return np.array2string(v, separator=",").replace("\n", "")
        return f"array{v.shape}"
    return repr(v)


def _plain_args(node, names):
    """``name=value`` texts of the plain (non-tensor) arguments worth showing."""
    out = []
    for name, e in zip(names, node.next):
        if e.__class__ is Node or isinstance(e, _OPERANDS):
            continue
        if e is None or e is False:
            continue
        out.append(f"{name}={_short(e)}")
    return out


def _signature(node):
    """What makes two ops 'the same' for collapsing: the op, its plain arguments, and the
    kinds/shapes of its tensor arguments."""
    parts = [node.fn]
    for e in node.next:
        if e.__class__ is Node:
            parts.append(("node", e.shape, e.dtype))
        elif isinstance(e, Tensor):
            parts.append((_kind(e), e.data.shape, e.data.dtype))
        elif isinstance(e, np.ndarray):
            parts.append(("array", e.shape, e.dtype))
        elif e.__class__ is _Released:
            parts.append(("constant", e.shape, e.dtype))
        else:
            parts.append(("value", _short(e, 200)))
    return tuple(parts)


class _Unit:
    """What one op ellipse stands for: a single node, or ``reps`` repetitions of a block
    of ``period`` ops along a chain (``members`` run from the root side)."""

    __slots__ = ("members", "period", "reps")

    def __init__(self, members, period=1, reps=1):
        self.members = members
        self.period = period
        self.reps = reps


def _single_node_input(node):
    found = None
    for e in node.next:
        if e.__class__ is Node:
            if found is not None:
                return None
            found = e
    return found


def _units(order, uses, names, collapse):
    """Group nodes into drawn units, in breadth-first order of their first member.

    Without ``collapse`` each node is its own unit. With it, each maximal chain (every
    link has one node input, used by nothing else) is cut into runs where a block of up
    to ``_MAX_PERIOD`` ops repeats at least ``_MIN_RUN`` times, e.g. ``y = tanh(y * w)``
    in a loop; each run becomes one unit. A named node ends a chain, so it stays visible.
    """
    if not collapse:
        return [_Unit([node]) for node in order]
    units = []
    taken = set()
    for node in order:
        if node in taken:
            continue
        # A chain link is reached only through the link before it, and breadth-first
        # order puts that link first, so every chain is met at its root-side end.
        chain = [node]
        taken.add(node)
        cur = node
        while True:
            m = _single_node_input(cur)
            if m is None or uses[m] != 1 or m in taken or names.of_node(m) is not None:
                break
            chain.append(m)
            taken.add(m)
            cur = m
        units.extend(_repeated_runs(chain))
    return units


def _repeated_runs(chain):
    """Cut a chain into units: greedy from the root side, the period covering most."""
    if len(chain) < _MIN_RUN:
        return [_Unit([n]) for n in chain]
    sigs = [_signature(n) for n in chain]
    n = len(chain)
    out = []
    i = 0
    while i < n:
        best = None
        for p in range(1, _MAX_PERIOD + 1):
            if i + _MIN_RUN * p > n:
                break
            block = sigs[i:i + p]
            reps = 1
            while i + (reps + 1) * p <= n and sigs[i + reps * p:i + (reps + 1) * p] == block:
                reps += 1
            if reps >= _MIN_RUN and (best is None or reps * p > best[1] * best[0]):
                best = (p, reps)
        if best is None:
            out.append(_Unit([chain[i]]))
            i += 1
        else:
            p, reps = best
            out.append(_Unit(chain[i:i + p * reps], p, reps))
            i += p * reps
    return out


# ---------------------------------------------------------------- labels
_RECORD_SPECIAL = str.maketrans({**{c: "\\" + c for c in '\\{}|<>"'},
                                 "\n": " ", "\r": " ", "\t": " "})
_PLAIN_SPECIAL = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": " ", "\r": " ", "\t": " "})


def _escape_record(text):
    """One line of a record field, with the record-special characters escaped."""
    return text.translate(_RECORD_SPECIAL)


def _escape_plain(text):
    """One line of a non-record label: only backslashes and quotes are special."""
    return text.translate(_PLAIN_SPECIAL)


def _record_label(fields, vertical_fields):
    """A record label from fields, each a list of text lines (centred)."""
    body = "|".join("\\n".join(_escape_record(line) for line in lines) for lines in fields)
    # Records lay fields out across the rank direction; braces flip that. Fields are
    # stacked top to bottom in either orientation.
    return "{" + body + "}" if vertical_fields else body


def _plain_label(lines):
    return "\\n".join(_escape_plain(line) for line in lines)


def _attrs(style):
    return " ".join(f'{k}="{v}"' for k, v in style.items())


_STYLE_ATTRS = {kind: _attrs(style) for kind, style in STYLES.items()}


def _shape_text(shape):
    return "scalar" if len(shape) == 0 else str(tuple(shape))


def _fmt(x, precision):
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.{precision}g}"


def _nested(a, precision):
    """All values of a small array, nested in brackets like a list (no recursion)."""
    parts = [_fmt(v, precision) for v in a.ravel().tolist()]
    for d in reversed(a.shape[1:]):
        parts = ["[" + ", ".join(parts[i:i + d]) + "]" for i in range(0, len(parts), d)]
    return "[" + ", ".join(parts) + "]"


def _values_text(a, max_values, precision, prefix, with_norm=False):
    """``prefix`` and the values of a small array, or a summary of a larger one."""
    if a.size == 0:
        return f"{prefix} (empty)"
    if a.size <= max_values:
        if a.ndim == 0:
            return f"{prefix} {_fmt(a.item(), precision)}"
        return f"{prefix} {_nested(a, precision)}"
    if a.dtype.kind == "b":
        return f"{prefix} {int(np.count_nonzero(a))} of {a.size} true"
    text = f"{prefix} min {_fmt(np.min(a), precision)} max {_fmt(np.max(a), precision)}"
    if with_norm:
        text += f" norm {_fmt(np.linalg.norm(a.astype(np.float64).ravel()), precision)}"
    return text


class _Builder:
    """Writes DOT lines for tensors and ops into the graph's body.

    Lines are written directly (``Digraph.body`` is the documented list of source
    lines) with attribute strings made once per style: going through ``node()`` for
    every node costs several times more on graphs of tens of thousands of nodes.
    """

    def __init__(self, graph, names, root, options):
        self.body = graph.body
        self.names = names
        self.root = root
        self.opt = options
        self.tensor_ids = {}      # id(leaf tensor or array) -> DOT node id
        self.count = 0
        self.live = None          # node -> a live tensor it computed, found on first use

    def new_id(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def node(self, nid, label, kind):
        self.body.append(f'\t{nid} [label="{label}" {_STYLE_ATTRS[kind]}]\n')

    def edge(self, src, dst, label=None):
        if label is None:
            self.body.append(f"\t{src} -> {dst}\n")
        else:
            self.body.append(f'\t{src} -> {dst} [label="{_escape_plain(label)}" '
                             f'fontsize="9" fontcolor="#606060"]\n')

    # ----- tensors ---------------------------------------------------------------
    def tensor_fields(self, title, t, kind):
        """Title, values and gradient of a tensor record (``t`` None: values are gone)."""
        opt = self.opt
        fields = [[title]]
        # An intermediate nobody holds any more has no values to show: title only.
        if opt["show_data"] and t is not None:
            fields.append([_values_text(t.data, opt["max_values"], opt["precision"], "data")])
        if opt["show_grad"] and t is not None and kind != "constant":
            if t.grad is not None:
                fields.append([_values_text(t.grad.data, opt["max_values"],
                                            opt["precision"], "grad", with_norm=True)])
            elif kind == "parameter":
                fields.append(["grad None"])
        return fields

    @staticmethod
    def title(name, shape, dtype):
        if name is None:
            return f"{_shape_text(shape)} {dtype}"
        return name if len(shape) == 0 else f"{name} {tuple(shape)}"

    def record(self, nid, fields, kind):
        self.node(nid, _record_label(fields, self.opt["vertical"]), kind)

    def leaf(self, e):
        """The DOT id of a leaf tensor or constant array (drawn once however often used)."""
        key = _key(e)
        nid = self.tensor_ids.get(key)
        if nid is not None:
            return nid
        nid = self.new_id("t")
        self.tensor_ids[key] = nid
        alive = _alive(e)
        if alive is None:                   # released by backward and gone: no values
            title = self.title(None, e.shape, e.dtype)
            self.record(nid, self.tensor_fields(title, None, "constant"), "constant")
            return nid
        e = alive
        if isinstance(e, Tensor):
            title = self.title(self.names.of_tensor(e), e.data.shape, e.data.dtype)
            fields = self.tensor_fields(title, e, _kind(e))
            self.record(nid, fields, "root" if e is self.root else _kind(e))
        else:                                      # a NumPy array argument (where's cond)
            fields = self.tensor_fields(self.title(None, e.shape, e.dtype),
                                        _make(e, None), "constant")
            self.record(nid, fields, "constant")
        return nid

    def output(self, node):
        """The record of a node's output, with its values while the tensor is alive."""
        nid = self.new_id("t")
        if node is self.root.grad_fn:
            t, kind = self.root, "root"
        else:
            if self.live is None:
                self.live = _live_outputs()
            t = self.live.get(node)
            kind = "intermediate"
        title = self.title(self.names.of_node(node), node.shape, node.dtype)
        self.record(nid, self.tensor_fields(title, t, kind), kind)
        return nid

    # ----- ops ---------------------------------------------------------------------
    def op_label(self, unit):
        head = unit.members[0]
        if len(unit.members) == 1:
            return [head.fn.name] + _plain_args(head, _arg_names(head.fn, len(head.next)))
        # The block in data-flow order: members run from the root side.
        block = list(reversed(unit.members[:unit.period]))
        if unit.period == 1:
            lines = [f"{head.fn.name} x{unit.reps}", "(repeated chain)"]
            return lines + _plain_args(head, _arg_names(head.fn, len(head.next)))
        lines = [f"({' -> '.join(n.fn.name for n in block)}) x{unit.reps}",
                 "(repeated chain)"]
        for n in block:
            args = _plain_args(n, _arg_names(n.fn, len(n.next)))
            if args:
                lines.append(f"{n.fn.name}: {', '.join(args)}")
        return lines


def _live_outputs():
    """node -> a live tensor whose value it computed (one pass over the collector's
    objects; a tensor rebound by an in-place op belongs to its new node)."""
    live = {}
    for o in gc.get_objects():
        # type(), not isinstance: that would read __class__ of every object alive, and
        # some (lazy module proxies) warn or import when asked.
        if issubclass(type(o), Tensor):
            node = o.grad_fn
            if node is not None and node not in live:
                live[node] = o
    return live


def _draw_units(builder, units, kept, total):
    """Draw the first ``kept`` units; inputs from units that were cut come from one
    marker node."""
    out_id = {}        # first member (the unit's output node) -> DOT id of its output
    op_id = []
    for unit in units[:kept]:
        op_id.append(builder.new_id("f"))
        out_id[unit.members[0]] = builder.output(unit.members[0])
    marker = None
    for unit, oid in zip(units[:kept], op_id):
        members = unit.members
        head, tail = members[0], members[-1]
        style = "op" if len(members) == 1 else "repeated"
        builder.node(oid, _plain_label(builder.op_label(unit)), style)
        builder.edge(oid, out_id[head])

        if len(members) == 1:
            # Every tensor argument in order, one edge each (x * x has two).
            sources = [(e, name) for name, e in zip(_arg_names(tail.fn, len(tail.next)),
                                                    tail.next)
                       if e.__class__ is Node or isinstance(e, _OPERANDS)]
        else:
            # The run's input from outside, and each distinct tensor its ops take.
            sources = [(e, None) for e in tail.next if e.__class__ is Node]
            leaves = {}
            for m in members:
                for e in m.next:
                    if e.__class__ is not Node and isinstance(e, _OPERANDS):
                        leaves.setdefault(_key(e), (e, None))
            if len(leaves) > _MAX_RUN_INPUTS:
                nid = builder.new_id("t")
                builder.record(nid, [[f"{len(leaves)} tensor inputs"],
                                     ["to the repeated ops"]], "constant")
                builder.edge(nid, oid)
            else:
                sources.extend(leaves.values())
        labelled = len(sources) > 1
        for e, name in sources:
            label = name if labelled else None
            if e.__class__ is Node:
                # Only a unit's first member is used outside it, so e starts a unit.
                src = out_id.get(e)
                if src is None:
                    if marker is None:
                        marker = builder.new_id("cut")
                        builder.node(marker, _plain_label(
                            [f"... {total - kept} more op nodes not drawn",
                             "(see max_nodes and collapse)"]), "truncated")
                    src = marker
                builder.edge(src, oid, label)
            else:
                builder.edge(builder.leaf(e), oid, label)


def _legend(builder):
    """A key of the node kinds, in a dashed cluster."""
    body = builder.body
    body.append("\tsubgraph cluster_legend {\n")
    body.append('\t\tlabel="legend" fontsize="10" style="dashed" color="#a0a0a0"\n')
    # No edges: the entries share one rank, so they stack across the rank direction.
    for kind, text in _LEGEND:
        if STYLES[kind]["shape"] == "record":
            label = _record_label([[text]], builder.opt["vertical"])
        else:
            label = _plain_label([text])
        body.append(f'\t\tlegend_{kind} [label="{label}" {_STYLE_ATTRS[kind]} fontsize="10"]\n')
    body.append("\t}\n")


def draw_graph(root, *, names=None, show_data=True, show_grad=True, rankdir="LR",
               legend=False, max_nodes="auto", collapse=False, max_values=6,
               precision=4):
    """Draw the graph that produced ``root`` as a ``graphviz.Digraph``.

    Tensors are records: the name (from ``names``) or else the shape and dtype; with
    ``show_data`` the values of tensors of at most ``max_values`` elements, otherwise
    their min and max; with ``show_grad`` the ``.grad`` the same way (plus its norm).
    Ops are ellipses labelled with the op's API name and its plain arguments
    (``axis=``, ``exponent=``...); with several tensor inputs the edges say which
    argument each is. Parameters (leaves that require grad), constants, intermediate
    tensors and the root have their own colours (``legend=True`` adds a key).
    Intermediate tensors are not kept by the graph: their values show only while you
    hold a reference (or name them); ``retain_grad()`` keeps their ``.grad``.

    Args:
        root: the Tensor to draw the graph of (usually the loss).
        names: a mapping name -> Tensor, or an iterable of (name, Tensor) pairs such as
            ``model.named_parameters()``; non-leaf tensors may be named too.
        show_data, show_grad: show values / gradients in the tensor records.
        rankdir: Graphviz direction, "LR" (inputs left, root right), "TB", "RL", "BT".
        legend: add a small key of the node kinds.
        max_nodes: most op nodes to draw; the ones nearest the root are kept and the
            rest become one "... more op nodes" marker. "auto" caps at
            ``AUTO_MAX_NODES`` and warns when it has to (dot would take minutes); an
            int caps without warning; None draws everything.
        collapse: fold runs of repeated ops along chains (``y = tanh(y * w)`` in a loop)
            into one "(mul -> tanh) xN" node with a double border.
        max_values: tensors with at most this many elements show all their values.
        precision: significant digits of the values shown.

    Returns a ``ComputationGraph`` (a ``graphviz.Digraph``; ``total_ops`` and
    ``drawn_ops`` count the recorded ops and those drawn): ``.source`` is the DOT text;
    ``.render(path, format="svg")`` and ``.pipe("svg")`` need the Graphviz ``dot``
    program and raise ``GraphvizNotFoundError`` (saying how to install it) without it.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: root must be a Tensor, got {type(root).__name__}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'RL', 'TB' or 'BT', "
                         f"got {rankdir!r}")
    if not (max_nodes is None or (isinstance(max_nodes, str) and max_nodes == "auto")
            or (isinstance(max_nodes, (int, np.integer)) and not isinstance(max_nodes, bool)
                and max_nodes >= 1)):
        raise ValueError(f"draw_graph: max_nodes must be a positive int, 'auto' or None, "
                         f"got {max_nodes!r}")
    resolved = _Names(names, "draw_graph")
    graph = ComputationGraph(name="autograd", graph_attr={"rankdir": rankdir},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"arrowsize": "0.7", "fontname": "Helvetica"})
    options = {"show_data": show_data, "show_grad": show_grad, "max_values": max_values,
               "precision": precision, "vertical": rankdir in ("TB", "BT")}
    builder = _Builder(graph, resolved, root, options)
    graph.total_ops = graph.drawn_ops = 0

    if root.grad_fn is None:      # a leaf or a constant: nothing was recorded
        builder.leaf(root)
    else:
        order, uses = _walk(root.grad_fn)
        units = _units(order, uses, resolved, collapse)
        total = kept = len(units)
        if isinstance(max_nodes, str):
            if total > AUTO_MAX_NODES:
                kept = AUTO_MAX_NODES
                what = f"{total} op nodes after collapsing" if collapse else f"{total} ops"
                warnings.warn(
                    f"draw_graph: the graph has {what}; drawing only the {kept} nearest "
                    f"the root, because dot takes minutes to lay out graphs this large. "
                    f"Pass collapse=True to fold repeated chains of ops, max_nodes=N to "
                    f"draw N op nodes without this warning, or max_nodes=None to draw "
                    f"everything.", UserWarning, stacklevel=2)
        elif max_nodes is not None:
            kept = min(total, int(max_nodes))
        _draw_units(builder, units, kept, total)
        graph.total_ops = len(order)
        graph.drawn_ops = sum(len(u.members) for u in units[:kept])
    if legend:
        _legend(builder)
    return graph


# ---------------------------------------------------------------- the backward table
@dataclass(frozen=True)
class StepInput:
    """One tensor argument of a backward step."""

    label: str          # its name; "#k op" for the output of step k; else param1, const1...
    kind: str           # "parameter", "intermediate" or "constant"
    shape: tuple
    grad_shape: tuple = None   # shape of the gradient sent to it; None: it gets none


@dataclass(frozen=True)
class BackwardStep:
    """One node of the backward walk: what it receives and what it sends on."""

    index: int          # 1-based position in the walk
    op: str             # the op's API name
    args: tuple         # its plain arguments, as "name=value" texts
    output: str         # name of the output ("#k op" when unnamed)
    output_shape: tuple  # = shape of the gradient the step receives
    inputs: tuple       # StepInput per tensor argument, in argument order
    derivative: str     # the local derivative rule in words
    node: Node = field(repr=False, compare=False, default=None)


class BackwardSteps(list):
    """The steps of a backward pass, in the engine's order; see ``backward_steps``.

    ``leaves`` lists (label, shape) of the leaves whose ``.grad`` receives the summed
    gradient after the last step. ``str()`` is ``to_text()``; notebooks show Markdown.
    """

    HEADER = ("step", "op", "output (gradient in)", "inputs", "gradient sent to each input",
              "local derivative")

    def __init__(self, steps=(), leaves=()):
        super().__init__(steps)
        self.leaves = list(leaves)

    def rows(self):
        """The table's cells, one tuple of strings per step."""
        out = []
        for s in self:
            op = " ".join((s.op,) + tuple(s.args))
            ins = ", ".join(f"{i.label} {i.shape}" for i in s.inputs)
            grads = ", ".join(f"{i.label}: {i.grad_shape if i.grad_shape is not None else 'none'}"
                              for i in s.inputs)
            out.append((str(s.index), op, f"{s.output} {s.output_shape}", ins,
                        grads, s.derivative))
        return out

    def _leaf_note(self):
        if not self.leaves:
            return ""
        listed = ", ".join(f"{label} {shape}" for label, shape in self.leaves)
        return ("Then each leaf's summed gradient is added to its .grad: " + listed)

    def to_text(self):
        """A plain-text table with aligned columns."""
        rows = [self.HEADER] + self.rows()
        widths = [max(len(r[c]) for r in rows) for c in range(len(self.HEADER))]
        lines = []
        for k, r in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
        note = self._leaf_note()
        if note:
            lines.append(note)
        return "\n".join(lines)

    def to_markdown(self):
        """A GitHub-flavoured Markdown table (ops and rules as code)."""
        def cell(text, code=False):
            if code:   # inside code only the table's own separator needs escaping
                text = text.replace("|", "\\|")
                return f"`{text}`" if text else ""
            return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)

        lines = ["| " + " | ".join(self.HEADER) + " |",
                 "|" + "|".join("---" for _ in self.HEADER) + "|"]
        for r in self.rows():
            cells = [cell(r[0]), cell(r[1], code=True), cell(r[2]), cell(r[3]), cell(r[4]),
                     cell(r[5], code=True)]
            lines.append("| " + " | ".join(cells) + " |")
        note = self._leaf_note()
        if note:
            lines.append("")
            lines.append(cell(note))
        return "\n".join(lines)

    def __str__(self):
        return self.to_text()

    def _repr_markdown_(self):
        return self.to_markdown()


def backward_steps(root, *, names=None):
    """The steps ``root.backward()`` runs, in the order the engine runs them.

    One ``BackwardStep`` per recorded op, root first: the op and its plain arguments,
    the output (whose gradient the step receives, of the output's shape), the tensor
    inputs with their shapes, the shape of the gradient sent to each input (the
    input's own shape: the engine sums broadcast gradients back; none for constants),
    and the op's local derivative rule in words (``Function.derivative``). This is the
    "backpropagation steps" table of the textbooks, generated from a real graph::

        print(ag.backward_steps(loss, names=model.named_parameters()).to_text())

    The order is ``engine.topological_order``'s, so it also holds for a graph already
    freed by ``backward()``. ``names`` is as in ``draw_graph``. Returns a
    ``BackwardSteps`` list with ``to_text()`` and ``to_markdown()``.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"backward_steps: root must be a Tensor, got {type(root).__name__}")
    resolved = _Names(names, "backward_steps")
    if root.grad_fn is None:
        if root.requires_grad:
            label = resolved.of_tensor(root) or "parameter"
            return BackwardSteps([], [(label, root.data.shape)])
        raise RuntimeError(f"backward_steps: the tensor (shape {root.shape}, dtype "
                           f"{root.dtype}) does not require grad, so backward() has no steps")
    order = topological_order([root.grad_fn], check_freed=False)

    index = {node: k for k, node in enumerate(order, 1)}
    leaf_labels = {}
    counts = {"parameter": 0, "constant": 0}

    def node_label(node):
        name = resolved.of_node(node)
        return name if name is not None else f"#{index[node]} {node.fn.name}"

    def leaf_label(e, kind):
        # Unnamed leaves are numbered in the order the walk meets them: param1, const1...
        label = leaf_labels.get(_key(e))
        if label is None:
            label = resolved.of_tensor(_alive(e))  # a released operand keeps its name
            if label is None:
                counts[kind] += 1
                label = f"{'param' if kind == 'parameter' else 'const'}{counts[kind]}"
            leaf_labels[_key(e)] = label
        return label

    steps = []
    leaves = {}
    for node in order:
        inputs = []
        for e, needs in zip(node.next, node.needs_input_grad):
            if e.__class__ is Node:
                inputs.append(StepInput(node_label(e), "intermediate", tuple(e.shape),
                                        tuple(e.shape)))
            elif isinstance(e, _OPERANDS):
                shape = tuple(np.shape(e))
                kind = _kind(e)
                label = leaf_label(e, kind)
                grad_shape = shape if needs else None
                if needs:
                    leaves.setdefault(id(e), (label, shape))
                inputs.append(StepInput(label, kind, shape, grad_shape))
        steps.append(BackwardStep(
            index=index[node], op=node.fn.name,
            args=tuple(_plain_args(node, _arg_names(node.fn, len(node.next)))),
            output=node_label(node), output_shape=tuple(node.shape), inputs=tuple(inputs),
            derivative=node.fn.derivative or "(no rule in words: set `derivative` on the "
                                             "Function)",
            node=node))
    return BackwardSteps(steps, leaves.values())
