"""Matrix multiplication, batched and broadcast as ``np.matmul``."""
import numpy as np

from .. import buffers
from ..function import Primitive, needs_grad
from .shape import expand_dims, ndim_of, reshape, squeeze, sum_array, swapaxes


def _out(a, b):
    """A reused buffer (autograd.buffers) for a large product of two matrices, or
    stacks of them, of one float dtype; None (NumPy allocates) otherwise."""
    if a.__class__ is not np.ndarray or b.__class__ is not np.ndarray:
        return None
    if a.ndim == 2 and b.ndim == 2 and \
            a.shape[0] * b.shape[1] * a.itemsize < buffers.MIN_BYTES:
        return None                     # the common small product, decided early
    if a.ndim < 2 or b.ndim < 2 or a.dtype != b.dtype or a.dtype.kind != "f":
        return None
    shape = (a.shape[-2], b.shape[-1])
    if a.ndim > 2 or b.ndim > 2:
        try:
            shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + shape
        except ValueError:
            return None                 # NumPy's own error follows
    nbytes = a.dtype.itemsize
    for d in shape:
        nbytes *= d
    if nbytes < buffers.MIN_BYTES:
        return None
    return buffers.empty(shape, a.dtype)


_np_matmul = np.matmul      # bound once (see elementwise's _np_maximum)


def _matmul(a, b):
    # Without out= when NumPy allocates: even out=None costs the call time.
    out = _out(a, b)
    return _np_matmul(a, b) if out is None else _np_matmul(a, b, out=out)


class Matmul(Primitive):
    derivative = "d(A@B)/dA = g @ B^T, d(A@B)/dB = A^T @ g"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        if ndim_of(a) == 0 or ndim_of(b) == 0:
            raise ValueError("matmul: both operands need at least one dimension "
                             f"(got shapes {np.shape(a)} and {np.shape(b)}); use * for scalars")
        return _matmul(a, b)

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


class Linear(Primitive):
    """x @ w^T + b in one op, as PyTorch's linear (addmm): per layer it replaces a
    transpose, a matmul and an add, forward and backward. ``b`` is None or has shape
    (out,); nn.functional.linear composes the op for any other bias."""

    derivative = "d(x W^T + b)/dx = g W, d/dW = g^T x, d/db = g"
    save_inputs = True
    save_other = True   # x is kept only when W needs a gradient, W only when x does

    @staticmethod
    def forward(ctx, x, w, b):
        out = _matmul(x, w.T)
        if b is None:
            return out
        if (b.__class__ is np.ndarray and b.dtype is out.dtype) or \
                np.result_type(out, b) == out.dtype:
            out += b                    # the product is new: no second array
            return out
        return out + b

    @staticmethod
    def backward(ctx, g):
        # d(x W^T + b) = dx W^T + x dW^T + db: gx = g W, gW = g^T x summed over the
        # batch axes (flattened to one), gb = g summed over the batch axes.
        # What save_other kept says which of x and W need a gradient (as Mul's rule).
        x, w = ctx.saved_tensors
        ex, ew, eb = ctx     # the edges (the node is their list)
        gx = g @ w if w is not None and needs_grad(ex) else None
        gw = gb = None
        if x is not None and needs_grad(ew):
            g2 = g if g.ndim == 2 else reshape(g, (-1, g.shape[-1]))
            x2 = x if x.ndim == 2 else reshape(x, (-1, x.shape[-1]))
            gw = g2.T @ x2     # .T: an array's attribute in the array walk, no call
        if needs_grad(eb):
            # A batch of rows is summed here, as the engine's sum_to would (its shape
            # check and call cost a third of the sum itself); anything else there. (So
            # anomaly mode checks the sum, as PyTorch's addmm: an overflow in it is
            # caught for a 2-d input, which the check before the engine's sum missed.)
            gb = sum_array(g, 0, False) if g.__class__ is np.ndarray and g.ndim == 2 else g
        return gx, gw, gb


def matmul(a, b):
    return Matmul.apply(a, b)
