"""Leak hunting: what tensors and graph nodes are alive right now."""
import gc
from collections import Counter

from .function import Node
from .tensor import Tensor


def live_tensors():
    """Every Tensor the garbage collector can see (runs a collection first)."""
    gc.collect()
    return [o for o in gc.get_objects() if issubclass(type(o), Tensor)]


def live_nodes():
    """Every recorded graph node still alive (runs a collection first)."""
    gc.collect()
    return [o for o in gc.get_objects() if type(o) is Node]


def summary():
    """Counts of live tensors by (shape, dtype) and of live nodes by op name: call it
    before and after a training step; what keeps growing is the leak."""
    tensors = Counter((t.data.shape, str(t.data.dtype)) for t in live_tensors())
    nodes = Counter(n.fn.name for n in live_nodes())
    return {"tensors": dict(tensors), "nodes": dict(nodes),
            "tensor_bytes": sum(t.data.nbytes for t in live_tensors())}
