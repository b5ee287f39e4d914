"""One step of a group of small parameters as one flat array (``Optimizer.step``).

An elementwise rule (``optim.functional``'s rules but LAMB, whose trust ratio is per
tensor) computes every element of every parameter with the same operations, given the
same hyper-parameters and step count. So a group of small parameters can be stepped by
one call of the rule on their concatenation: a dozen NumPy passes for the group instead
of a dozen per parameter, which is most of an Adam step on a small model (a NumPy call
costs about a microsecond whatever the size, as PyTorch's foreach optimizers avoid).
The results are the same to the last bit: the same operations on the same numbers.

The per-parameter state stays what ``Optimizer.state`` shows and ``state_dict`` saves:
its tensors are views of the group's flat state arrays, so each is updated in place by
the flat step. A ``Flat`` remembers the objects it made; when the state is no longer
those (``load_state_dict``, a state tensor replaced, a parameter without a gradient this
step, a parameter's array replaced), it is rebuilt from the per-parameter state, or the
group goes back to the per-parameter loop when that state differs between parameters
(different step counts, say) or a parameter does not qualify.
"""
import numpy as np

from autograd.tensor import Tensor

AVERAGE_MAX = 2048   # elements per parameter: above, the copies in and out cost more than
#                      the per-parameter calls they save


def eligible(params):
    """The parameters' common dtype if the group can be stepped flat, else None: two or
    more, each with a gradient of its shape and dtype, floating point, small on average,
    each owning a distinct writeable array (so that no two share memory)."""
    if len(params) < 2:
        return None
    dtype = params[0].data.dtype
    if dtype.kind != "f":
        return None
    total = 0
    arrays = set()
    for p in params:
        d, g = p.data, p.grad
        if g is None or d.dtype != dtype or g.data.dtype != dtype or g.data.shape != d.shape \
                or d.base is not None or not d.flags.writeable or id(d) in arrays:
            return None
        arrays.add(id(d))
        total += d.size
    return dtype if total <= AVERAGE_MAX * len(params) else None


class Flat:
    """A group's flat layout: the parameters and their arrays, the flat parameter and
    gradient (views into them for the copies), the rule's flat state and the
    per-parameter views of its tensors."""

    def __init__(self, group, params, dtype, per_param):
        self.group = group
        self.params = tuple(params)
        self.arrays = tuple(p.data for p in params)
        sizes = [a.size for a in self.arrays]
        bounds = np.cumsum([0] + sizes).tolist()
        self.spans = tuple(zip(bounds[:-1], bounds[1:]))
        total = bounds[-1]
        self.param = Tensor(np.empty(total, dtype))
        self.grad = Tensor(np.empty(total, dtype))
        self.param_views = self._split(self.param.data)
        self.grad_views = self._split(self.grad.data)
        self.state = {}      # the rule's state for the flat parameter
        self.dicts = ()      # the per-parameter state dicts this made
        self.views = {}      # key -> (per-parameter view Tensors, their arrays)
        if per_param is not None:
            for key, values in per_param.items():
                if isinstance(values[0], Tensor):
                    self.state[key] = Tensor(np.concatenate([v.data.reshape(-1)
                                                             for v in values]))
                else:
                    self.state[key] = values[0]

    def _split(self, flat):
        return tuple(flat[a:b].reshape(arr.shape)
                     for (a, b), arr in zip(self.spans, self.arrays))

    def matches(self, params, state):
        """Are the parameters, their arrays and their state still what this made?"""
        if len(params) != len(self.params):
            return False
        n = len(self.state)
        for i, p in enumerate(params):
            if p is not self.params[i] or p.data is not self.arrays[i]:
                return False
            st = state.get(p)
            if st is None:
                if n:
                    return False
                continue
            if not self.dicts or st is not self.dicts[i] or len(st) != n:
                return False
            for key, value in self.state.items():
                view = self.views.get(key)
                if view is None:
                    if key not in st or st[key] != value:
                        return False
                elif st.get(key) is not view[0][i] or view[0][i].data is not view[1][i]:
                    return False
        return True

    def step(self, rule, kwargs, state, target):
        """One step of the rule on the flat arrays; the parameters are updated in
        place and their state dicts show the new state."""
        copyto = np.copyto
        for view, p in zip(self.grad_views, self.params):
            copyto(view, p.grad.data)
        for view, arr in zip(self.param_views, self.arrays):
            copyto(view, arr)
        target.param = self.param
        new = rule(self.param, self.grad, self.state, **kwargs)
        target.param = None
        if new.data is not self.param.data:
            copyto(self.param.data, new.data, casting="same_kind")
        for view, arr, p in zip(self.param_views, self.arrays, self.params):
            copyto(arr, view)
            p._bump_version()
        self._publish(state)

    def _publish(self, state):
        """Show the flat state in the per-parameter dicts: a view of each flat state
        tensor (made again when the rule replaced the tensor), each other value as is."""
        if not self.dicts:
            self.dicts = tuple(state.setdefault(p, {}) for p in self.params)
        for key, value in self.state.items():
            if isinstance(value, Tensor):
                view = self.views.get(key)
                if view is None or view[2] is not value:
                    arrays = self._split(value.data)
                    if value._vc is None:
                        value._vc = [0]
                    tensors = tuple(Tensor(a) for a in arrays)
                    for t in tensors:
                        t._vc = value._vc   # as a view's: the flat step's writes count
                    view = self.views[key] = (tensors, arrays, value)
                for st, t in zip(self.dicts, view[0]):
                    st[key] = t
            else:
                for st in self.dicts:
                    st[key] = value


def gather_state(params, state):
    """The per-parameter state as {key: [value per parameter]} when every parameter
    has the same keys, the same non-tensor values and tensors of its own shape and
    dtype; {} when none has state yet; None otherwise (the group is stepped per
    parameter)."""
    dicts = [state.get(p) for p in params]
    if all(not d for d in dicts):
        return {}
    first = dicts[0]
    if any(not d or d.keys() != first.keys() for d in dicts):
        return None
    out = {}
    for key, value in first.items():
        values = [d[key] for d in dicts]
        if isinstance(value, Tensor):
            for v, p in zip(values, params):
                if not isinstance(v, Tensor) or v.data.shape != p.data.shape \
                        or v.data.dtype != p.data.dtype:
                    return None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if any(type(v) is not type(value) or v != value for v in values):
                return None
        else:
            return None
        out[key] = values
    return out
