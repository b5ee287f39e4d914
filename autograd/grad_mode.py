"""Grad mode (thread-local) and the default floating dtype (process-wide)."""
import contextlib
import threading

import numpy as np


class _GradState(threading.local):
    # A class attribute is the default every thread starts from. `enabled` and
    # `anomaly` are written by set_mode() only, which keeps ALL_DEFAULT up to date.
    enabled = True
    anomaly = False     # see anomaly.detect_anomaly
    arrays = False      # set by a backward walk without create_graph, off around user
    #                     code (engine.py): saved_tensors gives arrays and Function.apply
    #                     called with arrays returns them
    counted = False     # this thread is counted in _changed


# Reading a thread-local attribute costs about four times a plain one, and every
# recorded op needs grad mode and anomaly mode. So the threads whose modes differ
# from the defaults (grad mode off or anomaly mode on) are counted, and ALL_DEFAULT[0]
# says that there are none: Function.apply then skips the thread-local reads. (A
# thread that ends with a mode changed stays counted: the reads then stay on, which is
# slower but still right.)
ALL_DEFAULT = [True]
_changed = 0
_lock = threading.Lock()
_state = _GradState()


def set_mode(enabled, anomaly):
    """Set this thread's grad mode and anomaly mode; the only writer of either."""
    s = _state
    changed = bool(not enabled or anomaly)
    # Counted before a mode leaves its default and uncounted after both are back, so
    # that ALL_DEFAULT is never true while a mode is changed, even if an exception
    # (KeyboardInterrupt) lands between the two steps.
    if changed and not s.counted:
        _count(s, True)
    s.enabled = enabled
    s.anomaly = anomaly
    if s.counted and not changed:
        _count(s, False)


def _count(s, changed):
    global _changed
    with _lock:
        s.counted = changed
        _changed += 1 if changed else -1
        ALL_DEFAULT[0] = _changed == 0


def is_grad_enabled():
    return _state.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off, for this thread.

    Works as a plain call (``ag.set_grad_enabled(False)``), as a context
    manager and as a decorator; leaving the context restores the previous mode.
    """

    def __init__(self, mode):
        self.prev = _state.enabled
        self.mode = bool(mode)
        set_mode(self.mode, _state.anomaly)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        set_mode(self.prev, _state.anomaly)
        return False


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: operations inside are not recorded."""

    def __enter__(self):
        self.prev = _state.enabled
        set_mode(False, _state.anomaly)
        return self

    def __exit__(self, *exc):
        set_mode(self.prev, _state.anomaly)
        return False


class enable_grad(contextlib.ContextDecorator):
    """Context manager and decorator: turn recording back on inside ``no_grad``."""

    def __enter__(self):
        self.prev = _state.enabled
        set_mode(True, _state.anomaly)
        return self

    def __exit__(self, *exc):
        set_mode(self.prev, _state.anomaly)
        return False


_default_dtype = np.dtype(np.float32)


def _as_dtype(dtype, name):
    """``np.dtype(dtype)``, or a TypeError naming the function that was given ``dtype``."""
    try:
        return np.dtype(dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}: {dtype!r} is not a NumPy dtype ({e})") from None


def set_default_dtype(dtype):
    """Dtype of float tensors built from Python numbers and lists, and of parameters."""
    global _default_dtype
    d = _as_dtype(dtype, "set_default_dtype")
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_dtype = d


def get_default_dtype():
    return _default_dtype
