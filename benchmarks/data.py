"""Initial weights and data for every workload, from one seeded NumPy generator per
workload, so every implementation starts from the same float32 numbers.

Weights are returned as PyTorch-style state dicts (``"0.weight"`` is the first layer of
an ``nn.Sequential``, shape (out, in) or (out, in, kh, kw)); each call returns fresh
copies, since the implementations update them in place.
"""
import math
import zlib

import numpy as np

SEED = 20240608
DTYPE = np.float32


def generator(tag):
    """An independent stream per workload: changing one workload's draws leaves the
    others' weights alone."""
    return np.random.default_rng([SEED, zlib.crc32(tag.encode())])


def default_init(rng, shape, fan_in):
    """PyTorch's default for Linear and Conv2d weights and biases: U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5) reduces to this bound)."""
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(DTYPE)


def mlp_weights(tag, sizes):
    """Sequential(Linear, ReLU, Linear, ..., Linear): layers at even indices."""
    rng = generator(tag + "/weights")
    state = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        state[f"{2 * i}.weight"] = default_init(rng, (fan_out, fan_in), fan_in)
        state[f"{2 * i}.bias"] = default_init(rng, (fan_out,), fan_in)
    return state


def classification_batch(tag, batch, features, classes):
    """One fixed batch: inputs in [0, 1) (pixel-like), integer labels (int64)."""
    rng = generator(tag + "/data")
    x = rng.random((batch,) + tuple(np.atleast_1d(features)), dtype=DTYPE)
    y = rng.integers(0, classes, size=batch, dtype=np.int64)
    return x, y


# Sequential(Conv2d, ReLU, MaxPool2d, Conv2d, ReLU, MaxPool2d, Flatten, Linear):
# the parameterised layers sit at indices 0, 3 and 7.
CNN_LAYERS = (("0", (16, 1, 3, 3)), ("3", (32, 16, 3, 3)), ("7", (10, 32 * 7 * 7)))


def cnn_weights():
    rng = generator("cnn/weights")
    state = {}
    for index, shape in CNN_LAYERS:
        fan_in = int(np.prod(shape[1:]))
        state[f"{index}.weight"] = default_init(rng, shape, fan_in)
        state[f"{index}.bias"] = default_init(rng, (shape[0],), fan_in)
    return state


def moons_data(n_samples=100):
    """micrograd's demo data: make_moons(n, noise=0.1), labels mapped to -1/+1."""
    try:
        from sklearn.datasets import make_moons
    except ImportError as e:
        raise ImportError("the moons workload needs scikit-learn "
                          "(pip install scikit-learn)") from e
    x, y = make_moons(n_samples=n_samples, noise=0.1, random_state=1337)
    return x.astype(DTYPE), (2 * y - 1).astype(DTYPE)


def moons_weights(sizes=(2, 16, 16, 1)):
    """micrograd's initialisation: weights U(-1, 1), biases 0."""
    rng = generator("moons/weights")
    state = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        state[f"{2 * i}.weight"] = rng.uniform(-1, 1, (fan_out, fan_in)).astype(DTYPE)
        state[f"{2 * i}.bias"] = np.zeros(fan_out, dtype=DTYPE)
    return state


def chain_constants(tag, size):
    """Per-element constants for the deep chain: multipliers within 1e-4 of 1 and small
    offsets, so 100,000 steps neither overflow nor vanish."""
    rng = generator(tag)
    x0 = rng.uniform(-1, 1, size).astype(DTYPE)
    scale = np.exp(rng.uniform(-1e-4, 1e-4, size)).astype(DTYPE)
    shift = rng.uniform(-1e-3, 1e-3, size).astype(DTYPE)
    return x0, scale, shift


def elementwise_inputs(size):
    rng = generator("big_elementwise")
    return (rng.uniform(-1, 1, size).astype(DTYPE), rng.uniform(-1, 1, size).astype(DTYPE))
