"""How a workload describes itself to the driver and to the tests."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    """One number a workload reports. ``kind`` "time" values are seconds (or seconds
    per op) and get ratios between implementations; other kinds are shown as they are."""
    key: str
    label: str
    unit: str                 # display unit: "ms", "s", "µs/op", "MiB", "%"
    kind: str = "time"
    target: str | None = None  # the target, for the results table


@dataclass(frozen=True)
class Workload:
    """``impls`` maps an implementation name to ``run(cfg) -> (metrics, values)``:
    ``metrics`` holds the numbers named in ``metrics``; ``values`` the results
    (loss, gradients, parameters) the tests compare between implementations.
    ``configs`` has "full" (the real run), "quick" (a smoke run) and "check" (small
    sizes for the identical-math tests). ``max_rounds`` limits an implementation to
    the first rounds (micrograd's 100 moons steps take minutes)."""
    name: str
    description: str
    metrics: tuple
    configs: dict
    impls: dict = field(default_factory=dict)
    max_rounds: dict = field(default_factory=dict)
