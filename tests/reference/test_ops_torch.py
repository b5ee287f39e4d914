"""Values and gradients of every registry op against PyTorch (float64)."""
import numpy as np
import pytest

from op_registry import build, sample_params

torch = pytest.importorskip("torch")

PARAMS = [(op, i) for op, i in sample_params() if op.torch_fn is not None]


@pytest.mark.parametrize("op,i", PARAMS, ids=[f"{op.name}-{i}" for op, i in PARAMS])
def test_values_and_gradients_match_torch(op, i):
    xs = build(op, i)
    ts = [torch.tensor(x.data, requires_grad=True) for x in xs]
    out = op.fn(*xs)
    ref = op.torch_fn(*ts)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    seed = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(seed)
    ref.backward(torch.tensor(seed))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_every_op_with_a_torch_twin_is_compared():
    from op_registry import OPS
    missing = [op.name for op in OPS if op.torch_fn is None and op.name != "astype"]
    assert not missing
