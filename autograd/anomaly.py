"""Anomaly detection: find the op whose backward first produced NaN or Inf.

Off by default and cheap when off (one flag test per recorded op). Inside
``with ag.detect_anomaly():`` each recorded op remembers the line of user code
that created it, and backward checks every gradient it computes.
"""
import contextlib
import os
import traceback

import numpy as np

from .grad_mode import _state, set_mode
from .tensor import Tensor

# Frames from these folders are the library's own, not the user's.
_LIBRARY_DIRS = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), d)
                      + os.sep for d in ("autograd", "nn", "optim"))


def is_anomaly_enabled():
    return _state.anomaly


@contextlib.contextmanager
def detect_anomaly():
    """Context manager: make the first NaN/Inf gradient raise, naming its op and
    the user's file and line that created the op. Thread-local, like grad mode."""
    prev = _state.anomaly
    set_mode(_state.enabled, True)
    try:
        yield
    finally:
        set_mode(_state.enabled, prev)


def creation_site():
    """The innermost stack frame outside chainrule's own packages."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not frame.filename.startswith(_LIBRARY_DIRS):
            return frame
    return None


def check_gradient(node, index, g):
    data = g.data if isinstance(g, Tensor) else np.asarray(g)
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        kind = "NaN" if np.isnan(data).any() else "Inf"
        site = node.__dict__.get("created_at")
        where = (f"{site.filename}:{site.lineno} ({site.line})" if site is not None
                 else "an unknown place (the op was recorded outside detect_anomaly)")
        raise RuntimeError(
            f"detect_anomaly: the backward of `{node.fn.name}` returned {kind} in the "
            f"gradient for its input {index} (gradient shape {data.shape}); the op was "
            f"created at {where}")
