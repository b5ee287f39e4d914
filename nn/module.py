"""Module and Parameter: the containers models are built from, with PyTorch's semantics
(registration by attribute assignment, dotted state_dict keys, train/eval)."""
import os
import tempfile
import zipfile
from collections import OrderedDict, namedtuple

import numpy as np

import autograd as ag
from autograd.tensor import Tensor

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict",
           "functional_call", "save", "load"]


class Parameter(Tensor):
    """A leaf tensor that a Module registers as one of its parameters.

    Python numbers and lists take the default dtype; a NumPy array keeps its dtype;
    a Tensor's array is shared, not copied.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data.data if isinstance(data, Tensor) else data,
                         requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and model.

    Assigning a Parameter, Module or (via ``register_buffer``) a buffer to an attribute
    registers it; ``named_parameters()`` then yields dotted names in registration order,
    exactly as PyTorch does, so state dicts move between the two.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----- registration -------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attribute {name!r}")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter {name!r} "
                                f"of {type(self).__name__} (expected a Parameter or None)")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(np.asarray(value))
            buffers[name] = value
        elif name in modules:
            modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not a parameter (BatchNorm's running mean)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None")
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def add_module(self, name, module):
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # ----- running -------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    # ----- traversal -------------------------------------------------------------
    def named_modules(self, prefix=""):
        """Every module in the tree, pre-order, each once (iterative, no recursion)."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if m is None or id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [((f"{name}.{n}" if name else n), c) for n, c in m._modules.items()]
            stack.extend(reversed(children))

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def _named_members(self, attr, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in modules:
            for n, t in getattr(m, attr).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mname}.{n}" if mname else n), t

    def named_parameters(self, prefix="", recurse=True):
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor(np.zeros_like(p.grad.data))

    # ----- state -------------------------------------------------------------------
    def state_dict(self, prefix="", keep_vars=False):
        """Parameters and persistent buffers under dotted keys, as detached Tensors."""
        out = OrderedDict()
        for mname, m in self.named_modules():
            base = prefix + (mname + "." if mname else "")
            for n, p in m._parameters.items():
                if p is not None:
                    out[base + n] = p if keep_vars else p.detach()
            for n, b in m._buffers.items():
                if b is not None and n not in m._non_persistent:
                    out[base + n] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (arrays or Tensors) into the parameters and buffers, in place.

        With ``strict`` a missing or unexpected key is a KeyError listing all of them;
        a shape mismatch is always a ValueError naming the key and both shapes.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict for {type(self).__name__}: missing keys "
                           f"{missing}, unexpected keys {unexpected}")
        wrong = []
        for k, t in own.items():
            if k in state_dict:
                v = np.asarray(state_dict[k].data if isinstance(state_dict[k], Tensor)
                               else state_dict[k])
                if v.shape != t.data.shape:
                    wrong.append(f"{k}: checkpoint {v.shape}, model {t.data.shape}")
        if wrong:
            raise ValueError(f"load_state_dict for {type(self).__name__}: shape mismatch for "
                             + "; ".join(wrong))
        with ag.no_grad():
            for k, t in own.items():
                if k in state_dict:
                    v = state_dict[k]
                    v = v.data if isinstance(v, Tensor) else np.asarray(v)
                    if t.data.flags.writeable:
                        np.copyto(t.data, v, casting="unsafe")
                    else:
                        t.data = v.astype(t.data.dtype)
                    t._bump_version()
        return _IncompatibleKeys(missing, unexpected)

    def to(self, dtype):
        """Convert every floating parameter and buffer (same objects, new arrays)."""
        dtype = np.dtype(dtype)
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad = Tensor(t.grad.data.astype(dtype))
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # ----- display ---------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        # Built bottom-up from an explicit post-order, so deep models do not recurse.
        order = [m for _, m in self.named_modules()]
        text = {}
        for m in reversed(order):
            lines = [f"({n}): " + text.get(id(c), "None").replace("\n", "\n  ")
                     for n, c in m._modules.items()]
            extra = m.extra_repr()
            if not lines:
                text[id(m)] = f"{type(m).__name__}({extra})"
            else:
                body = ([extra] if extra else []) + lines
                text[id(m)] = f"{type(m).__name__}(\n  " + "\n  ".join(body) + "\n)"
        return text[id(self)]


class Sequential(Module):
    """Modules applied in order; accepts modules or one OrderedDict of named modules."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of modules, registered under their indices."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return ModuleList(mods[i]) if isinstance(i, slice) else mods[i]

    def __setitem__(self, i, module):
        self.add_module(str(range(len(self))[i]), module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules, registered under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self.add_module(k, m)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        delattr(self, key)

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


def functional_call(module, params, *args, **kwargs):
    """Run ``module(*args, **kwargs)`` with ``params`` (dotted name -> Tensor) standing in
    for the module's own parameters or buffers; the module is restored afterwards.
    Names not given keep the module's own values. Used for unrolled optimisation."""
    owners = dict(module.named_modules())
    swaps = []
    for key, value in params.items():
        mname, _, attr = key.rpartition(".")
        m = owners.get(mname)
        if m is None or (attr not in m._parameters and attr not in m._buffers):
            raise KeyError(f"functional_call: {type(module).__name__} has no parameter or "
                           f"buffer {key!r}")
        swaps.append((m, attr, m.__dict__[attr]))
        object.__setattr__(m, attr, value)
    try:
        return module(*args, **kwargs)
    finally:
        for m, attr, old in reversed(swaps):
            object.__setattr__(m, attr, old)


def save(state_dict, path):
    """Write ``state_dict`` to exactly ``path`` as ``.npz`` (one entry per key, no pickle).

    The file is written beside its destination and renamed over it, so an interrupted
    save leaves the previous checkpoint intact.
    """
    path = os.fspath(path)
    arrays = {}
    for k, v in state_dict.items():
        arr = np.asarray(v.data if isinstance(v, Tensor) else v)
        if arr.dtype == object:
            raise TypeError(f"nn.save: entry {k!r} is not numeric (dtype object)")
        arrays[k] = arr
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read a checkpoint written by ``save``: a dict of key -> np.ndarray.

    Never unpickles; a truncated, corrupt or foreign file is a ValueError naming it.
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            if not isinstance(f, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"nn.load: {path!r} is not a readable chainrule checkpoint "
                         f"(.npz without pickles): {e}") from e
