"""Reuse of large scratch arrays between steps.

Under glibc's default malloc, the multi-megabyte arrays that every training step
allocates and frees are given back to the operating system at the end of the step
and page-faulted in again on the next one: the kernel then maps and zeroes every
page, which costs about as much as the arithmetic on it (a third of a small CNN's
step here). So ops that make a large new array take it from this cache: an array the
cache made earlier, of the same shape and dtype, that nothing else refers to any more.

"Nothing else refers to it" is read from CPython's reference count: a cached array
that is still a tensor's data, a saved value, the base of a view, or held by user
code has more references than the cache's own, and is never handed out. The count
the cache's own references add up to is measured once, at import, on this very
interpreter. Small arrays are left to malloc, which reuses them without the system.

``ag.buffers.clear()`` drops the cached arrays that are not in use (their memory
goes back to the system); ``limit`` caps what the cache may hold.
"""
import sys
import threading

import numpy as np

MIN_BYTES = 1 << 18          # below 256 KiB malloc keeps freed memory in the process
# The reference-count test needs CPython with its GIL; elsewhere nothing is cached (and
# the backward walk copies every leaf gradient, see engine._only_here).
REFCOUNTS = sys.implementation.name == "cpython" and getattr(sys, "_is_gil_enabled",
                                                             lambda: True)()
if not REFCOUNTS:
    MIN_BYTES = float("inf")
limit = 1 << 30              # bytes the cache may hold in all, in use or not

_cache = {}                  # (shape, dtype) -> [arrays made here]
_held = 0                    # bytes of all arrays in the cache
_lock = threading.Lock()     # a free array must go to one caller only
_getrefcount = sys.getrefcount


def _unused_count():
    """The reference count, seen from ``empty``'s loop, of an array only the cache holds."""
    probe = [np.empty(1)]
    for a in probe:
        return _getrefcount(a)


_UNUSED = _unused_count()


def empty(shape, dtype):
    """An uninitialised array of ``shape`` and ``dtype``: a cached one nothing uses, or
    a new one (cached if large). Callers must overwrite every element."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for n in shape:
        nbytes *= n
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    global _held
    key = (shape, dtype)
    with _lock:
        arrays = _cache.get(key)
        if arrays is None:
            arrays = _cache[key] = []
        for a in arrays:
            if _getrefcount(a) == _UNUSED:
                a.flags.writeable = True      # a user may have frozen it before dropping it
                return a
        a = np.empty(shape, dtype)
        if _held + nbytes <= limit:
            arrays.append(a)
            _held += nbytes
        return a


def owns(a):
    """Whether ``a`` is one of the cache's arrays."""
    if a.__class__ is not np.ndarray or a.nbytes < MIN_BYTES:
        return False
    return any(b is a for b in _cache.get((a.shape, a.dtype), ()))


def clear():
    """Forget the cached arrays nothing uses (their memory is freed)."""
    global _held
    with _lock:
        for key in list(_cache):
            kept = []
            for a in _cache[key]:
                if _getrefcount(a) == _UNUSED:
                    _held -= a.nbytes
                else:
                    kept.append(a)
            if kept:
                _cache[key] = kept
            else:
                del _cache[key]


def held_bytes():
    """Bytes of all arrays in the cache, in use or not."""
    return _held
