"""``Optimizer``: parameter groups, per-parameter state, stepping, state dicts.

A subclass names its update rule (a function of ``optim.functional``); ``step`` calls
that rule under ``no_grad`` for every parameter with a gradient, passing the group's
hyper-parameters by the rule's own keyword names, and writes the result into the
parameter in place (the rule writes it there itself where it can, see
``functional._Target``). The rule's ``state`` argument is ``self.state[param]`` itself,
and its tensors are updated in place. A group of small parameters may be stepped as one
flat array instead (``optim.flat``), with the same numbers and per-parameter state.
"""
import copy
import inspect
import numbers

import numpy as np

import autograd as ag
from autograd.engine import zero_grads
from autograd.tensor import Tensor

from . import flat as _flat
from . import functional as F

__all__ = ["Optimizer"]


class Optimizer:
    """Base class of the optimizers (PyTorch's interface).

    ``params`` is an iterable of Tensors, or of dicts (parameter groups) each with a
    ``"params"`` entry and any hyper-parameters that override ``defaults``.
    """

    rule = None          # the update rule in optim.functional (None: step() is custom)
    _rule_args = ()      # its keyword arguments, read once per class
    _rule_is_ours = False  # a rule of optim.functional: it may write into the parameter
    _rule_elementwise = False  # ...and computes each element alike (optim.flat)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        rule = cls.__dict__.get("rule")
        if rule is not None:
            cls._rule_args = tuple(
                name for name, p in inspect.signature(rule).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY)
            # Only optim.functional's own rules may write straight into the parameter
            # (functional._Target): another rule may read the parameter again after
            # calling one of them.
            fn = getattr(rule, "__func__", rule)
            cls._rule_is_ours = fn.__module__ == F.__name__
            cls._rule_elementwise = cls._rule_is_ours and getattr(fn, "elementwise", False)

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of "
                            "dicts (parameter groups), got a single Tensor; pass [tensor]")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: params must be an ordered collection (a list), "
                            "not a set: the order of a set changes between runs")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)

    # ----- hyper-parameter checks ------------------------------------------------------
    def _validate(self, group):
        """Raise for an invalid hyper-parameter of ``group`` (subclasses add checks)."""
        if "lr" in group:
            self._check_nonnegative(group, "lr")

    def _number(self, group, key):
        value = group[key]
        if isinstance(value, Tensor):
            if value.size != 1:
                raise ValueError(f"{self._name}: a Tensor {key} must have one element, got "
                                 f"shape {value.shape}")
            return value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{self._name}: {key} must be a real number, got "
                            f"{type(value).__name__} {value!r}")
        return value

    def _check_nonnegative(self, group, *keys):
        for key in keys:
            v = self._number(group, key)
            if not v >= 0:
                raise ValueError(f"{self._name}: invalid {key} {v!r} (must be >= 0)")

    def _check_unit(self, group, key, closed=False):
        """0 <= value < 1 (<= 1 with ``closed``)."""
        v = self._number(group, key)
        if not (0.0 <= v <= 1.0 if closed else 0.0 <= v < 1.0):
            raise ValueError(f"{self._name}: invalid {key} {v!r} (must be in "
                             f"[0, 1{']' if closed else ')'})")

    def _check_betas(self, group):
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{self._name}: betas must be a pair (beta1, beta2), got "
                            f"{betas!r}")
        for i, b in enumerate(betas):
            self._check_unit({f"betas[{i}]": b}, f"betas[{i}]")

    # ----- groups ----------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyper-parameters (defaults fill in)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: params must be an ordered collection (a list), "
                            "not a set: the order of a set changes between runs")
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: can only optimize Tensors, but parameter {i} "
                                f"of the group is a {type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor (parameter "
                                 f"{i}, shape {p.shape}, made by `{p.grad_fn.name}`); "
                                 "optimize the leaf it was computed from")
            if not p.requires_grad:
                raise ValueError(f"{self._name}: parameter {i} (shape {p.shape}, dtype "
                                 f"{p.dtype}) does not require grad; call "
                                 ".requires_grad_() or leave it out")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self._name}: a parameter group contains the same parameter "
                             "more than once")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError(f"{self._name}: some parameters appear in more than one "
                             "parameter group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        group["params"] = params
        self.param_groups.append(group)

    # ----- gradients and steps ---------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient: to None, or to zeros in place."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def _rule_kwargs(self, group):
        """The rule's keyword arguments from ``group`` (once per group and step)."""
        kwargs = {}
        for k in self._rule_args:
            v = group[k]
            # A Tensor hyper-parameter in a group is read as its value: the class step is
            # never recorded (differentiate through optim.functional instead).
            if isinstance(v, Tensor):
                v = v.item()
            elif isinstance(v, (tuple, list)):
                v = tuple([x.item() if isinstance(x, Tensor) else x for x in v])
            kwargs[k] = v
        return kwargs

    def step(self, closure=None):
        """One update of every parameter that has a gradient.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs
        with grad mode on, before the update. Returns its loss (or None).
        """
        loss = None
        if closure is not None:
            with ag.enable_grad():
                loss = closure()
        rule = type(self).rule
        if rule is None:
            raise NotImplementedError(f"{self._name}: set `rule` to an update rule of "
                                      "optim.functional, or override step()")
        target = F._target
        ours = self._rule_is_ours
        with ag.no_grad():
            try:
                for group in self.param_groups:
                    kwargs = self._rule_kwargs(group)
                    if self._rule_elementwise and self._step_flat(group, rule, kwargs):
                        continue
                    for i, p in enumerate(group["params"]):
                        g = p.grad
                        if g is None:
                            continue
                        data = p.data
                        if g.shape != data.shape or not data.flags.writeable:
                            self._refuse_update(i, p)
                        state = self.state.get(p)
                        if state is None:
                            state = self.state[p] = {}
                        # The rule may write its update straight into p (see
                        # functional._Target); otherwise its result is copied in.
                        if ours:
                            target.param = p
                        new = rule(p, g, state, **kwargs)
                        if new.data is not data:
                            np.copyto(data, new.data, casting="same_kind")
                        p._bump_version()
            finally:
                target.param = None
        return loss

    def _flat_records(self):
        """optim.flat's records (id(group) -> record) of the groups there are now."""
        records = self.__dict__.get("_flat")    # made lazily: neither pickled nor copied
        if records is None:
            records = self._flat = {}
        elif records:
            live = {id(g): g for g in self.param_groups}
            if any(live.get(k) is not r.group for k, r in records.items()):
                records = self._flat = {k: r for k, r in records.items()
                                        if live.get(k) is r.group}
        return records

    def _step_flat(self, group, rule, kwargs):
        """Step ``group`` as one flat array (optim.flat) if it qualifies; False if not
        (nothing was done)."""
        records = self._flat_records()
        record = records.get(id(group))
        params = group["params"]
        if record.__class__ is _flat.PerParameter:
            if record.holds(params, self.state):
                return False
            record = None
        dtype = _flat.eligible(params)
        if dtype is None:
            return False
        if record is None or not record.matches(params, self.state):
            per_param = _flat.gather_state(params, self.state)
            if per_param is None:
                records[id(group)] = _flat.PerParameter(group, params, self.state)
                return False
            record = records[id(group)] = _flat.Flat(group, params, dtype, self.state,
                                                     per_param)
        record.step(rule, kwargs, self.state, F._target)
        return True

    def _refuse_update(self, i, p):
        """Raise for a parameter the step cannot update in place (checked before the rule
        runs, so that the error names the optimizer, not an op inside the rule)."""
        shape, dtype = p.data.shape, p.data.dtype
        if p.grad is not None and np.shape(p.grad) != shape:
            raise ValueError(f"{self._name}: the gradient of parameter {i} has shape "
                             f"{np.shape(p.grad)}, but the parameter has shape {shape}")
        if not p.data.flags.writeable:
            raise ValueError(f"{self._name}: parameter {i} (shape {shape}, dtype {dtype}) "
                             "wraps a read-only array and cannot be updated in place; give "
                             "the Parameter a writeable copy (np.array(a))")

    def __getstate__(self):
        # optim.flat's records are views into arrays that a copy would not share: a
        # pickled or copied optimizer makes its own on its first step.
        state = self.__dict__.copy()
        state.pop("_flat", None)
        return state

    # ----- state dicts -----------------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Parameters are referred to by their index over all groups, in order, as in
        PyTorch. State tensors are detached copies.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _copy_value(v, None, k)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state saved by ``state_dict`` (copies them).

        Values may be Tensors, NumPy arrays or anything ``np.asarray`` accepts; floating
        state is cast to its parameter's dtype (``step`` stays a number).
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{self._name}.load_state_dict: expected a dict with 'state' "
                             "and 'param_groups', as returned by state_dict()")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: the saved state has "
                             f"{len(saved_groups)} parameter groups, the optimizer has "
                             f"{len(self.param_groups)}")
        for i, (saved, own) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"{self._name}.load_state_dict: parameter group {i} has "
                                 f"{len(saved['params'])} parameters in the saved state and "
                                 f"{len(own['params'])} in the optimizer")
        by_index = {}
        for saved, own in zip(saved_groups, self.param_groups):
            for idx, p in zip(saved["params"], own["params"]):
                by_index[idx] = p
        new_state = {}
        for idx, entries in state_dict["state"].items():
            p = by_index.get(int(idx))
            if p is None:
                continue
            new_state[p] = {k: _copy_value(v, p.dtype, k) for k, v in entries.items()}
        new_groups = []
        for saved, own in zip(saved_groups, self.param_groups):
            group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            group["params"] = own["params"]
            new_groups.append(group)
        for group in new_groups:
            self._validate(group)
        self.state = new_state
        self.param_groups = new_groups
        self._flat = {}     # (optim.flat: groups stepped per parameter may be flat again)


def _copy_value(v, dtype, key):
    """A detached copy of one state entry (recursing into lists, tuples and dicts);
    floating arrays become ``dtype`` when given, except the step counter."""
    if isinstance(v, (list, tuple)):
        return type(v)(_copy_value(x, dtype, key) for x in v)
    if isinstance(v, dict):
        return {k: _copy_value(x, dtype, k) for k, x in v.items()}
    if isinstance(v, (numbers.Number, str)) or v is None:
        return v
    arr = np.array(np.asarray(v.data if isinstance(v, Tensor) else v))   # always a copy
    if key == "step":
        return int(arr.item()) if arr.size == 1 and float(arr.item()).is_integer() else arr.item()
    if arr.ndim == 0 and not isinstance(v, (Tensor, np.ndarray)):
        return arr.item()           # a foreign 0-d scalar (e.g. torch's mu_product)
    if dtype is not None and arr.dtype.kind == "f":
        arr = arr.astype(dtype, copy=False)
    return Tensor(arr)
