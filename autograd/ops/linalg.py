"""Matrix multiplication, batched and broadcast as ``np.matmul``."""
import numpy as np

from ..function import Function
from .shape import expand_dims, squeeze, swapaxes


class Matmul(Function):
    derivative = "d(A@B)/dA = g @ B^T, d(A@B)/dB = A^T @ g"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        if np.ndim(a) == 0 or np.ndim(b) == 0:
            raise ValueError("matmul: both operands need at least one dimension "
                             f"(got shapes {np.shape(a)} and {np.shape(b)}); use * for scalars")
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        # d(AB) = dA B + A dB, so gA = g B^T and gB = A^T g; a 1-d operand is a
        # row (left) or column (right) vector whose added axis is removed again.
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if na else None), (g * a if nb else None)
        if a.ndim == 1:                                   # (n) @ (..., n, m) -> (..., m)
            g2 = expand_dims(g, -2)
            if na:
                ga = squeeze(g2 @ swapaxes(b, -1, -2), -2)
            if nb:
                gb = expand_dims(a, -1) * g2
            return ga, gb
        if b.ndim == 1:                                   # (..., n, k) @ (k) -> (..., n)
            g2 = expand_dims(g, -1)
            if na:
                ga = g2 * b
            if nb:
                gb = squeeze(swapaxes(a, -1, -2) @ g2, -1)
            return ga, gb
        if na:
            ga = g @ swapaxes(b, -1, -2)
        if nb:
            gb = swapaxes(a, -1, -2) @ g
        return ga, gb


def matmul(a, b):
    return Matmul.apply(a, b)
