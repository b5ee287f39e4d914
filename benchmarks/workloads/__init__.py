"""The seven workloads of issue 8, in the issue's order, by name."""
from .big_elementwise import BIG_ELEMENTWISE
from .cnn import CNN
from .deep_chain import DEEP_CHAIN
from .mlp import MLP_LARGE, MLP_SMALL
from .moons import MOONS
from .scalar_chain import SCALAR_CHAIN
from .spec import Metric, Workload

WORKLOADS = {w.name: w for w in (MLP_LARGE, MLP_SMALL, SCALAR_CHAIN, MOONS, CNN,
                                 DEEP_CHAIN, BIG_ELEMENTWISE)}

__all__ = ["WORKLOADS", "Metric", "Workload"]
