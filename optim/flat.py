"""One step of a group of small parameters as one flat array (``Optimizer.step``).

An elementwise rule (``optim.functional``'s rules but LAMB, whose trust ratio is per
tensor) computes every element of every parameter with the same operations, given the
same hyper-parameters and step count. So a group of small parameters can be stepped by
one call of the rule on their concatenation: a dozen NumPy passes for the group instead
of a dozen per parameter, which is most of an Adam step on a small model (a NumPy call
costs about a microsecond whatever the size, as PyTorch's foreach optimizers avoid).
The results are the same to the last bit: the same operations on the same numbers.

The per-parameter state stays what ``Optimizer.state`` shows and ``state_dict`` saves:
the same dicts and the same Tensor objects, whose arrays are views of the group's flat
state, so the flat step updates them in place (and bumps their versions). A ``Flat``
remembers what it made and checks it before each step; when the state or the
parameters' arrays are no longer those (``load_state_dict``, a state tensor or dict
replaced, ``p.data`` replaced, a parameter's or state tensor's array reshaped in
place), the flat state is made again from the per-parameter state, keeping its Tensor
objects (their arrays become new views). A group whose parameters' state differs (their
step counts, after a step in which one had no gradient) is stepped per parameter
(``PerParameter``) until its state changes shape.
"""
import numpy as np

from autograd.tensor import Tensor

AVERAGE_MAX = 2048   # elements per parameter: above, the copies in and out cost more than
#                      the per-parameter calls they save


def eligible(params):
    """The parameters' common dtype if the group can be stepped flat now, else None:
    two or more parameters, one floating dtype, small on average, none 0-d (NumPy 1
    computes 0-d float32 values in float64, an array of them in float32), each owning a
    distinct writeable array, and each with a Tensor gradient of its shape and dtype that
    owns its array and is no parameter's (the loop would read it after updating that
    parameter)."""
    if len(params) < 2:
        return None
    dtype = params[0].data.dtype
    if dtype.kind != "f":
        return None
    total = 0
    arrays = set()
    for p in params:
        d = p.data
        if not d.ndim or d.dtype != dtype or d.base is not None or not d.flags.writeable \
                or id(d) in arrays:
            return None
        arrays.add(id(d))
        total += d.size
    if total > AVERAGE_MAX * len(params):
        return None
    for p in params:
        g = p.grad
        if not isinstance(g, Tensor):       # None, or an array set by hand
            return None
        g = g.data
        if g.dtype != dtype or g.shape != p.data.shape or g.base is not None \
                or id(g) in arrays:
            return None
    return dtype


def gather_state(params, state):
    """The per-parameter state as {key: [value per parameter]} when every parameter
    has its own dict with the same keys, the same numbers (step counts) and its own
    tensors of its shape and dtype, none of them a parameter's gradient; {} when none
    has state yet; None otherwise."""
    dicts = [state.get(p) for p in params]
    if all(not d for d in dicts):
        return {}
    first = dicts[0]
    if any(not d or d.keys() != first.keys() for d in dicts) \
            or len({id(d) for d in dicts}) < len(dicts):
        return None
    grads = {id(p.grad) for p in params} | {id(p.grad.data) for p in params}
    out = {}
    for key, value in first.items():
        values = [d[key] for d in dicts]
        if isinstance(value, Tensor):
            if len({id(v) for v in values}) < len(values):
                return None             # one tensor in two parameters' state
            for v, p in zip(values, params):
                if not isinstance(v, Tensor) or v.data.shape != p.data.shape \
                        or v.data.dtype != p.data.dtype or id(v) in grads \
                        or id(v.data) in grads:
                    return None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if any(type(v) is not type(value) or v != value for v in values):
                return None
        else:
            return None
        out[key] = values
    return out


class PerParameter:
    """Marks a group whose parameters' state differs: stepped per parameter until that
    state changes shape (``opt.state`` replaced, an entry added or removed)."""

    def __init__(self, group, params, state):
        self.group = group
        self.state = state
        self.size = state_size(params, state)

    def holds(self, params, state):
        return state is self.state and state_size(params, state) == self.size


def state_size(params, state):
    """How many state entries the parameters have in all (-1 for a missing dict)."""
    n = 0
    for p in params:
        st = state.get(p)
        n += -1 if st is None else len(st)
    return n


class Flat:
    """A group's flat layout: its parameters, their arrays and shapes, the flat
    parameter and gradient (with a view per parameter for the copies), the rule's state
    for the flat parameter, the per-parameter state dicts, and for each state tensor
    the per-parameter Tensors and the views they hold."""

    def __init__(self, group, params, dtype, state, per_param):
        self.group = group
        self.params = tuple(params)
        self.arrays = tuple(p.data for p in params)
        self.shapes = tuple(a.shape for a in self.arrays)
        bounds = np.cumsum([0] + [a.size for a in self.arrays]).tolist()
        self.spans = tuple(zip(bounds[:-1], bounds[1:]))
        self.param = Tensor(np.empty(bounds[-1], dtype))
        self.grad = Tensor(np.empty(bounds[-1], dtype))
        self.param_views = self._split(self.param.data)
        self.grad_views = self._split(self.grad.data)
        self.state = {}
        self.views = {}     # key -> (the per-parameter Tensors, their views, the flat Tensor)
        self.dicts = ()     # the per-parameter state dicts, once there is state
        if per_param:
            self.dicts = tuple(state[p] for p in params)
            for key, values in per_param.items():
                if isinstance(values[0], Tensor):
                    flat = Tensor(np.concatenate([v.data.reshape(-1) for v in values]))
                    self.state[key] = flat
                    self._share(key, flat)
                else:
                    self.state[key] = values[0]

    def _split(self, flat):
        return tuple(flat[a:b].reshape(arr.shape)
                     for (a, b), arr in zip(self.spans, self.arrays))

    def _share(self, key, flat):
        """Make each parameter's state Tensor for ``key`` a view of ``flat`` (the Tensor
        already there keeps its identity: whoever holds it sees the later steps)."""
        arrays = self._split(flat.data)
        tensors = []
        for st, a in zip(self.dicts, arrays):
            t = st.get(key)
            if isinstance(t, Tensor):
                t.data = a
            else:
                t = st[key] = Tensor(a)
            tensors.append(t)
        self.views[key] = (tuple(tensors), arrays, flat)

    def matches(self, params, state):
        """Are the parameters, their arrays and their state still what this made?"""
        if len(params) != len(self.params):
            return False
        dicts = self.dicts
        for i, p in enumerate(params):
            d = p.data
            # (the same array may have been reshaped in place)
            if p is not self.params[i] or d is not self.arrays[i] or d.shape != self.shapes[i]:
                return False
            st = state.get(p)
            if dicts:
                if st is not dicts[i] or len(st) != len(self.state):
                    return False
            elif st:            # (a record is made with its dicts when there is state)
                return False
        for key, value in self.state.items():
            view = self.views.get(key)
            if view is None:
                for st in dicts:
                    if key not in st or st[key] != value:
                        return False
            else:
                for st, t, a, shape in zip(dicts, view[0], view[1], self.shapes):
                    if st.get(key) is not t or t.data is not a or a.shape != shape:
                        return False
        return True

    def step(self, rule, kwargs, state, target):
        """One step of the rule on the flat arrays; the parameters are updated in
        place and their state dicts show the new state. If the rule raises, the state
        it advanced is still shown (so that it stays consistent: the step counts with
        the moments) and no parameter is changed."""
        copyto = np.copyto
        for view, p in zip(self.grad_views, self.params):
            copyto(view, p.grad.data)
        for view, arr in zip(self.param_views, self.arrays):
            copyto(view, arr)
        versions = {k: v._version for k, v in self.state.items() if isinstance(v, Tensor)}
        target.param = self.param
        try:
            new = rule(self.param, self.grad, self.state, **kwargs)
        finally:
            target.param = None
            self._publish(state, versions)
        if new.data is not self.param.data:
            copyto(self.param.data, new.data, casting="same_kind")
        for view, arr, p in zip(self.param_views, self.arrays, self.params):
            copyto(arr, view)
            p._bump_version()

    def _publish(self, state, versions):
        """Show the rule's flat state in the per-parameter dicts: a view of each new
        flat state tensor, a version bump for each one the step wrote, each number."""
        if not self.dicts:
            self.dicts = tuple(state.setdefault(p, {}) for p in self.params)
        for key, value in self.state.items():
            if isinstance(value, Tensor):
                view = self.views.get(key)
                if view is None or view[2] is not value:
                    self._share(key, value)
                elif value._version != versions.get(key):
                    for t in view[0]:
                        t._bump_version()
            else:
                for st in self.dicts:
                    st[key] = value
