"""One global NumPy Generator for everything random (rand, randn, init, dropout)."""
import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed):
    """Reseed the global generator, making rand/randn/init/dropout reproducible."""
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be a non-negative int, got "
                        f"{type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed}")
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng():
    """The global ``np.random.Generator`` (use it for any randomness of your own)."""
    return _rng
