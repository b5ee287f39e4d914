import pytest

torch = pytest.importorskip("torch", reason="the reference tests compare with PyTorch")
torch.set_default_dtype(torch.float64)
