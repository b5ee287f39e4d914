"""Module and Parameter, with PyTorch's semantics (registration by attribute
assignment, dotted state_dict keys, train/eval), and ``functional_call``.
Containers live in containers.py, checkpoints in checkpoint.py.

Registered parameters, buffers and submodules live only in the ``_parameters``,
``_buffers`` and ``_modules`` dicts, as in PyTorch, and ``__getattr__`` finds them there:
one source of truth, so swapping an entry (``functional_call``) or renumbering a
container can never leave a stale attribute behind.

Every walk over the module tree is iterative, so models deeper than Python's recursion
limit can be listed, saved, loaded, converted and printed.
"""
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

import autograd as ag
from autograd.engine import zero_grads
from autograd.tensor import Tensor

__all__ = ["Parameter", "Module", "functional_call"]


class Parameter(Tensor):
    """A leaf tensor that a Module registers as one of its parameters.

    Python numbers and lists take the default dtype; a NumPy array keeps its dtype;
    a Tensor's array is shared, not copied (as ``torch.nn.Parameter``). No data gives
    an empty parameter.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, ag.get_default_dtype())
        elif isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns (as PyTorch): the keys it skipped on either side."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


def _check_name(kind, owner, name, store):
    """PyTorch's rules for a member name: a non-empty str without dots, not already
    taken by another kind of member or a plain attribute."""
    if not isinstance(name, str):
        raise TypeError(f"{kind}: name should be a str, got {type(name).__name__}")
    if name == "":
        raise KeyError(f"{kind}: name can't be empty")
    if "." in name:
        raise KeyError(f"{kind}: name can't contain '.', got {name!r} (dots separate the "
                       "levels of state_dict keys)")
    if hasattr(owner, name) and name not in store:
        raise KeyError(f"{kind}: attribute {name!r} already exists")


def _as_buffer(owner, name, value):
    # PyTorch insists on Tensors; an ndarray is the natural thing to hand a NumPy
    # library, so it is wrapped (sharing memory) rather than refused.
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value)
    raise TypeError(f"cannot assign {type(value).__name__!r} as buffer {name!r} of "
                    f"{type(owner).__name__} (Tensor, np.ndarray or None expected)")


def _walk(root, prefix="", remove_duplicate=True, memo=None):
    """(dotted name, module) for every module under ``root``, in pre-order, iteratively.

    With ``remove_duplicate`` a module reached twice is listed once (its first name);
    without it every path is listed, and a module that contains itself is an error
    rather than an endless walk. A module in ``memo`` is skipped with its subtree.
    """
    seen = set() if memo is None else memo
    on_path = set()
    stack = [(prefix, root, True)]
    while stack:
        name, m, entering = stack.pop()
        if not entering:
            on_path.discard(id(m))
            continue
        if m in seen:
            continue
        if remove_duplicate:
            seen.add(m)
        else:
            if id(m) in on_path:
                raise ValueError(f"{type(root).__name__}: module {name!r} contains itself, "
                                 "so the module tree is not a tree")
            on_path.add(id(m))
            stack.append((name, m, False))
        yield name, m
        stack.extend(((f"{name}.{k}" if name else k), c, True)
                     for k, c in reversed(m._modules.items()) if c is not None)


class Module:
    """Base class of every layer and model.

    Assigning a Parameter or a Module to an attribute registers it (``register_buffer``
    registers a buffer); ``named_parameters()`` then yields dotted names in registration
    order, exactly as PyTorch does, so state dicts move between the two.
    """

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}

    # ----- registration -------------------------------------------------------
    def __getattr__(self, name):
        # Only called when normal lookup fails: registered members live in the dicts.
        d = self.__dict__
        if "_parameters" in d:
            for store in (d["_parameters"], d["_buffers"], d["_modules"]):
                if name in store:
                    return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _require_init(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: cannot assign {what} before "
                                 "Module.__init__() is called (call super().__init__() first)")

    def _forget(self, name, *stores):
        self.__dict__.pop(name, None)
        for store in stores:
            if isinstance(store, set):
                store.discard(name)
            else:
                store.pop(name, None)

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._require_init("parameters")
            self._forget(name, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__!r} as parameter "
                                f"{name!r} of {type(self).__name__} (Parameter or None "
                                "expected; wrap a tensor in nn.Parameter)")
            params[name] = None
        elif isinstance(value, Module):
            self._require_init("submodules")
            self._forget(name, params, self._buffers, self._non_persistent_buffers_set)
            self._modules[name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__!r} as child module "
                                f"{name!r} of {type(self).__name__} (Module or None expected)")
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            d["_buffers"][name] = _as_buffer(self, name, value)
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not a parameter (BatchNorm's running mean).

        Persistent buffers go into ``state_dict()``; non-persistent ones do not.
        """
        self._require_init("buffers")
        _check_name("register_buffer", self, name, self._buffers)
        self._buffers[name] = _as_buffer(self, name, tensor)
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one such as a bias)."""
        self._require_init("parameters")
        _check_name("register_parameter", self, name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign {type(param).__name__!r} "
                            f"as parameter {name!r} (Parameter or None expected)")
        self._parameters[name] = param

    def add_module(self, name, module):
        """Register ``module`` (or None) as the child called ``name``."""
        self._require_init("submodules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        _check_name("add_module", self, name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The module at dotted path ``target`` ("" is the module itself)."""
        m = self
        if target == "":
            return m
        for part in target.split("."):
            child = m._modules.get(part) if isinstance(m, Module) else None
            if child is None:
                raise AttributeError(f"get_submodule: {type(m).__name__} has no submodule "
                                     f"{part!r} (looking up {target!r})")
            m = child
        return m

    def get_parameter(self, target):
        mname, _, name = target.rpartition(".")
        m = self.get_submodule(mname)
        if name not in m._parameters:
            raise AttributeError(f"get_parameter: {type(m).__name__} has no parameter "
                                 f"{name!r} (looking up {target!r})")
        return m._parameters[name]

    def get_buffer(self, target):
        mname, _, name = target.rpartition(".")
        m = self.get_submodule(mname)
        if name not in m._buffers:
            raise AttributeError(f"get_buffer: {type(m).__name__} has no buffer "
                                 f"{name!r} (looking up {target!r})")
        return m._buffers[name]

    # ----- running -------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); subclasses "
                                  "of Module define it")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def train(self, mode=True):
        """Set training mode on this module and every submodule; returns self.

        A submodule whose class overrides ``train`` is handed the call, so it decides
        for its own subtree (as PyTorch, where ``train`` recurses through ``children``).
        """
        if not isinstance(mode, bool):
            raise ValueError(f"train: training mode is expected to be boolean, got "
                             f"{type(mode).__name__}")
        seen = set()
        stack = [self]
        while stack:
            m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            if m is not self and type(m).train is not Module.train:
                m.train(mode)
                continue
            object.__setattr__(m, "training", mode)
            stack.extend(c for c in reversed(m._modules.values()) if c is not None)
        return self

    def eval(self):
        """Evaluation mode (``train(False)``): Dropout off, BatchNorm uses running stats."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn):
        """Call ``fn(m)`` on every submodule and then on self, in PyTorch's order (each
        child's subtree in turn, children before their parent); returns self."""
        done = set()
        stack = [(self, False)]
        while stack:
            m, expanded = stack.pop()
            if expanded:
                fn(m)
                continue
            if m in done:
                continue
            done.add(m)
            stack.append((m, True))
            stack.extend((c, False) for c in reversed(m._modules.values()) if c is not None)
        return self

    # ----- traversal -------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Every module in the tree with its dotted name, pre-order (self first, as "").

        A module reachable along several paths is listed once unless
        ``remove_duplicate=False``. ``memo`` (a set of modules to skip) is PyTorch's.
        """
        return _walk(self, prefix, remove_duplicate, memo)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mname, m in mods:
            for n, t in getattr(m, store).items():
                if t is None:
                    continue
                if remove_duplicate:
                    if id(t) in seen:
                        continue
                    seen.add(id(t))
                yield (f"{mname}.{n}" if mname else n), t

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs in PyTorch's order: a module's own parameters in
        registration order, then each child's, depth first. A shared parameter is listed
        once, under its first name."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Buffers, persistent or not, named and ordered like ``named_parameters``."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient, or with ``set_to_none=False`` zero it in place."""
        zero_grads(self.parameters(), set_to_none)

    # ----- state -------------------------------------------------------------------
    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers under dotted keys, as PyTorch builds them.

        Values are detached Tensors sharing memory with the module (the objects
        themselves with ``keep_vars=True``). A module or parameter reached along two
        paths appears under both keys, as in PyTorch.
        """
        out = OrderedDict() if destination is None else destination
        for mname, m in _walk(self, remove_duplicate=False):
            base = prefix + (mname + "." if mname else "")
            for n, p in m._parameters.items():
                if p is not None:
                    out[base + n] = p if keep_vars else p.detach()
            skip = m._non_persistent_buffers_set
            for n, b in m._buffers.items():
                if b is not None and n not in skip:
                    out[base + n] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (arrays or Tensors, e.g. from ``nn.load`` or a PyTorch state dict)
        into the parameters and buffers, in place, casting to each one's dtype.

        With ``strict`` a missing or unexpected key is a KeyError listing all of them; a
        shape mismatch is always a ValueError naming the key and both shapes. Nothing is
        modified unless every check passes. Returns (missing_keys, unexpected_keys).
        """
        name = f"load_state_dict for {type(self).__name__}"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{name}: expected a dict-like state_dict, got "
                            f"{type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        values, wrong = {}, []
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = _as_array(name, k, state_dict[k])
            if v.shape != t.data.shape:
                wrong.append(f"{k!r}: checkpoint shape {v.shape}, model shape {t.data.shape}")
            values[k] = v
        if strict and (missing or unexpected):
            msg = f"{name}: missing keys {missing}, unexpected keys {unexpected}"
            if wrong:
                msg += "; shape mismatch for " + ", ".join(wrong)
            raise KeyError(msg)
        if wrong:
            raise ValueError(f"{name}: shape mismatch for " + ", ".join(wrong))
        with ag.no_grad():
            for k, v in values.items():
                t = own[k]
                if t.data.flags.writeable:
                    np.copyto(t.data, v, casting="unsafe")
                else:
                    t.data = np.array(v, dtype=t.data.dtype)
                t._bump_version()
        return _IncompatibleKeys(missing, unexpected)

    def to(self, dtype):
        """Convert every floating parameter, buffer and gradient to ``dtype``; the
        Parameter objects stay the same (their arrays are replaced). Integer buffers
        (BatchNorm's ``num_batches_tracked``) are left alone, as PyTorch."""
        try:
            if dtype is None:
                raise TypeError
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{type(self).__name__}.to: expected a floating dtype "
                            f"(np.float32, 'float64', ...), got {dtype!r}") from None
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: only floating dtypes are "
                            f"supported, got {dtype}")
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data.dtype.kind == "f" and t.data.dtype != dtype:
                t.data = t.data.astype(dtype)
                # A graph that saved this tensor must not see the new array silently.
                t._bump_version()
            g = t.grad
            if g is not None and g.data.dtype.kind == "f" and g.data.dtype != dtype:
                if g.grad_fn is None:
                    g.data = g.data.astype(dtype)
                    g._bump_version()
                else:
                    t.grad = Tensor(g.data.astype(dtype))
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def half(self):
        return self.to(np.float16)

    # ----- display ---------------------------------------------------------------
    def extra_repr(self):
        """The text inside this module's parentheses (its hyperparameters)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        return _render(self, as_list=False)


def weight_and_bias(module, cls):
    """``module.weight, module.bias`` for the forward of a layer of class ``cls``
    (Linear, Conv2d), which runs at every call. Each attribute misses the normal lookup
    and goes through ``__getattr__`` (about 0.6 µs a read, a sixth of a Linear's time on
    a small batch), so an instance of ``cls`` itself reads them where that lookup finds
    them: ``_parameters``, when its own ``__dict__`` does not hold them. A subclass (which
    may define them otherwise, as a property) and a deleted one go through the
    attributes."""
    d = module.__dict__
    p = d["_parameters"]
    if module.__class__ is cls and "weight" in p and "bias" in p \
            and "weight" not in d and "bias" not in d:
        return p["weight"], p["bias"]
    return module.weight, module.bias


def _render(root, as_list):
    """PyTorch's tree repr, written top-down with an explicit stack, one line at a time:
    nested reprs would recurse, and re-indenting each child's string at every level (as
    PyTorch's _addindent does) would be quadratic in the depth."""
    out = []            # (indent level, text)
    on_path = set()
    same = _ReprClasses()
    stack = [("node", root, "", 0)]
    while stack:
        item = stack.pop()
        if item[0] == "line":
            out.append(item[1:])
            continue
        if item[0] == "exit":
            on_path.discard(item[1])
            continue
        _, m, label, depth = item
        if m is None:
            out.append((depth, label + "None"))
            continue
        style = ("list" if as_list else "module") if m is root else _style(m)
        if id(m) in on_path:
            out.append((depth, label + "<cycle>"))
            continue
        if style == "custom":
            # A class with its own __repr__: its lines, indented under the parent the way
            # _addindent indents any child's string.
            first, *rest = repr(m).split("\n")
            out.append((depth, label + first))
            out.extend((depth, line) for line in rest)
            continue
        name = m._get_name()
        children = list(m._modules.items())
        if style == "list":
            if not children:
                out.append((depth, f"{label}{name}()"))
                continue
            body = [("node", c, run_label, depth + 1)
                    for run_label, c in _runs([c for _, c in children], same)]
        else:
            extra = m.extra_repr()
            extra_lines = extra.split("\n") if extra else []
            if not children and len(extra_lines) <= 1:
                out.append((depth, f"{label}{name}({extra})"))
                continue
            body = [("line", depth + 1, line) for line in extra_lines]
            body += [("node", c, f"({k}): ", depth + 1) for k, c in children]
        out.append((depth, f"{label}{name}("))
        on_path.add(id(m))
        stack.append(("line", depth, ")"))
        stack.append(("exit", id(m)))
        stack.extend(reversed(body))
    return "\n".join("  " * depth + text for depth, text in out)


def _style(m):
    from .containers import ModuleList   # containers build on Module
    r = type(m).__repr__
    return "module" if r is Module.__repr__ else "list" if r is ModuleList.__repr__ \
        else "custom"


def _runs(mods, same):
    """PyTorch's ModuleList repr folds runs of children with equal reprs into one
    "(i-j): n x ..." entry: (label, first module of the run) per run."""
    runs = []
    for i, c in enumerate(mods):
        cls = same(c)
        if runs and runs[-1][2] == cls:
            runs[-1][1] = i
        else:
            runs.append([i, i, cls, c])
    return [((f"({a}): " if a == b else f"({a}-{b}): {b - a + 1} x "), c)
            for a, b, _, c in runs]


class _ReprClasses:
    """Numbers modules so that two get the same number exactly when their reprs are
    equal, without building the reprs: a module's number follows from its name, its
    extra_repr and its children's numbers (computed bottom-up, iteratively)."""

    def __init__(self):
        self.ids = {}
        self.interned = {}

    def __call__(self, m):
        if m is None:
            return -1
        ids = self.ids
        active = set()
        stack = [(m, False)]
        while stack:
            x, expanded = stack.pop()
            if id(x) in ids:
                continue
            style = _style(x)
            if style == "custom":
                ids[id(x)] = self._intern(("custom", repr(x)))
                continue
            if not expanded:
                if id(x) in active:
                    continue
                active.add(id(x))
                stack.append((x, True))
                stack.extend((c, False) for c in x._modules.values()
                             if c is not None and id(c) not in ids)
                continue
            active.discard(id(x))
            kids = tuple((k, -1 if c is None else ids.get(id(c), ("cycle", id(c))))
                         for k, c in x._modules.items())
            extra = x.extra_repr() if style == "module" else ""
            ids[id(x)] = self._intern((style, x._get_name(), extra, kids))
        return ids[id(m)]

    def _intern(self, key):
        return self.interned.setdefault(key, len(self.interned))


def _as_array(fn, key, value):
    arr = value.data if isinstance(value, Tensor) else value
    try:
        arr = np.asarray(arr)
    except Exception as e:
        raise TypeError(f"{fn}: entry {key!r} ({type(value).__name__}) cannot be read as an "
                        f"array: {e}") from e
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: entry {key!r} is not numeric (dtype {arr.dtype}, shape "
                        f"{arr.shape})")
    return arr


def functional_call(module, params, *args, **kwargs):
    """Run ``module(*args, **kwargs)`` with ``params`` (dotted name -> Tensor) standing in
    for the module's own parameters or buffers, and restore the module afterwards (also
    when forward raises).

    Names not given keep the module's own values. Tied weights stay tied: a tensor
    registered under several names is replaced everywhere, and giving two of its names
    different values is an error. Gradients flow to the given tensors, which is what
    unrolled optimisation and hyper-gradients need.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"functional_call: params must be a dict of name -> Tensor, got "
                        f"{type(params).__name__}")
    slots = {}
    for mname, m in _walk(module, remove_duplicate=False):
        for store in (m._parameters, m._buffers):
            for n, t in store.items():
                slots[f"{mname}.{n}" if mname else n] = (store, n, t)
    by_tensor, by_slot = {}, {}
    for key, value in params.items():
        if key not in slots:
            raise KeyError(f"functional_call: {type(module).__name__} has no parameter or "
                           f"buffer {key!r}")
        if isinstance(value, np.ndarray):
            value = Tensor(value)
        elif not isinstance(value, Tensor):
            raise TypeError(f"functional_call: value for {key!r} must be a Tensor, got "
                            f"{type(value).__name__}")
        store, n, old = slots[key]
        if old is None:
            by_slot[(id(store), n)] = value
            continue
        prev = by_tensor.get(id(old))
        if prev is not None and prev[0] is not value:
            raise ValueError(f"functional_call: {prev[1]!r} and {key!r} are the same tied "
                             "tensor but were given different values")
        by_tensor[id(old)] = (value, key)
    swaps, seen = [], set()
    for store, n, old in slots.values():
        if (id(store), n) in seen:
            continue
        seen.add((id(store), n))
        new = by_slot.get((id(store), n)) if old is None else by_tensor.get(id(old), (None,))[0]
        if new is not None:
            swaps.append((store, n, old))
            store[n] = new
    try:
        return module(*args, **kwargs)
    finally:
        for store, n, old in reversed(swaps):
            store[n] = old
