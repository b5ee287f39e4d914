import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import autograd as ag  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts with grad mode on, float32 default and a seeded generator."""
    ag.set_default_dtype(np.float32)
    ag.manual_seed(0)
    yield
    ag.set_default_dtype(np.float32)
