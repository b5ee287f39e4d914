import pytest

torch = pytest.importorskip("torch", reason="the reference tests compare with PyTorch")


@pytest.fixture(autouse=True)
def _torch_float64():
    """Reference tests compare in float64; restore torch's default afterwards so tests
    outside this folder (e.g. the benchmarks' same-math checks) see float32."""
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(prev)
