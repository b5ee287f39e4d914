"""Shape primitives (reshape, transpose, broadcast and its adjoint sum_to, indexing,
concatenation, padding) and the composites built on them."""
import operator

import numpy as np

from .. import buffers
from ..function import Primitive
from ..tensor import Tensor


def _axis(a, ndim, op):
    """``a`` as an axis in [0, ndim), checked before any ``% ndim`` could wrap it."""
    try:
        a = operator.index(a)
    except TypeError:
        raise TypeError(f"{op}: axis must be an int, got {a!r}") from None
    if not -ndim <= a < ndim:
        raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dims")
    return a % ndim


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Reshape(Primitive):
    derivative = "reshape the gradient back"

    returns_view = True

    @staticmethod
    def forward(ctx, x, shape):
        if x.__class__ is np.ndarray:
            if x.nbytes >= buffers.MIN_BYTES and not x.flags.c_contiguous:
                return _reshape_large(x, shape)
            return x.reshape(shape)     # the method: np.reshape's wrapper costs 4x
        return np.reshape(x, shape)

    @staticmethod
    def backward(ctx, g):                       # reshape back
        return Reshape.apply(g, ctx[0].shape), None     # (see Sum.backward)


def _reshape_large(x, shape):
    """A view where one exists; else the copy np.reshape would make, into a reused
    buffer (autograd.buffers): the im2col matrix of a convolution, for one."""
    try:
        return np.reshape(x, shape, copy=False)
    except TypeError:                   # NumPy < 2.1 has no copy=: let it copy
        return np.reshape(x, shape)
    except ValueError:                  # no view: a copy is needed
        pass
    # Resolve -1 for the buffer; anything unusual is left to NumPy (its copy or error).
    try:
        dims = tuple(operator.index(n) for n in np.atleast_1d(shape).tolist())
    except TypeError:
        return np.reshape(x, shape)
    known = 1
    for n in dims:
        known *= n if n != -1 else 1
    if dims.count(-1) > 1 or known <= 0 or min(dims) < -1:
        return np.reshape(x, shape)
    dims = tuple(x.size // known if n == -1 else n for n in dims)
    if int(np.prod(dims)) != x.size:
        return np.reshape(x, shape)
    shape = dims
    out = buffers.empty(shape, x.dtype)
    np.copyto(out.reshape(x.shape), x)  # C order, as np.reshape
    return out


class Transpose(Primitive):
    derivative = "transpose the gradient back"

    returns_view = True

    @staticmethod
    def forward(ctx, x, axes):
        return x.transpose(axes) if x.__class__ is np.ndarray else np.transpose(x, axes)

    @staticmethod
    def backward(ctx, g):                       # transpose by the inverse permutation
        axes = ctx.next[1]
        return Transpose.apply(g, tuple(np.argsort(axes))), None


class BroadcastTo(Primitive):
    derivative = "sum the gradient over the broadcast axes"

    name = "broadcast_to"
    returns_view = True

    @staticmethod
    def forward(ctx, x, shape):
        if (x.__class__ is np.ndarray or isinstance(x, np.generic)) and x.shape == shape:
            return x                # as broadcast_to() does for a Tensor: x itself
        return _broadcast_view(x, shape)

    @staticmethod
    def backward(ctx, g):                       # the adjoint of broadcasting: sum back
        return sum_to(g, ctx.next[0].shape), None


def _broadcast_view(x, shape):
    """``np.broadcast_to(x, shape)``: the same read-only zero-stride view, built directly
    for a C-contiguous array (np.broadcast_to's own checks take ~8x longer; it runs for
    every reduction's gradient). Anything else, errors included, is NumPy's."""
    if x.__class__ is not np.ndarray:
        if not isinstance(x, np.generic):
            return np.broadcast_to(x, shape)
        x = np.asarray(x)
    lead = len(shape) - x.ndim
    if lead < 0 or not x.flags.c_contiguous or not x.size:
        return np.broadcast_to(x, shape)
    strides = [0] * lead
    for n, m, step in zip(x.shape, shape[lead:], x.strides):
        if n == m:
            strides.append(step)
        elif n == 1 and m >= 0:
            strides.append(0)
        else:
            return np.broadcast_to(x, shape)
    view = np.ndarray(shape, x.dtype, x, 0, tuple(strides))
    view.flags.writeable = False
    return view


class SumTo(Primitive):
    """Sum a broadcast array back to ``shape``: the adjoint of ``broadcast_to``."""

    derivative = "broadcast the gradient back"

    name = "sum_to"

    @staticmethod
    def forward(ctx, x, shape):
        return sum_to_array(x, shape)

    @staticmethod
    def backward(ctx, g):
        return BroadcastTo.apply(g, ctx.next[0].shape), None


def sum_to(x, shape):
    shape = tuple(shape)
    if isinstance(x, Tensor) and x.shape == shape:
        return x
    _summed_axes(np.shape(x), shape)     # (the error before apply: it names sum_to alone)
    return SumTo.apply(x, shape)


def ndim_of(x):
    """``np.ndim(x)`` without its Python wrapper for an array or a Tensor (an attribute
    read is several times cheaper; this runs on every reduction and matmul)."""
    if x.__class__ is np.ndarray:
        return x.ndim
    return x.data.ndim if isinstance(x, Tensor) else np.ndim(x)


_add_reduce = np.add.reduce     # bound once (see elementwise's _np_maximum)


def sum_array(x, axes, keepdims):
    """``np.sum(x, axis=axes, keepdims=keepdims)``: for a plain array, the ufunc's own
    reduce (np.sum's Python wrapper costs as much again on small arrays); anything else
    (a masked array, a NumPy scalar, a list) goes through np.sum, which honours it."""
    if x.__class__ is np.ndarray:
        return _add_reduce(x, axis=axes, keepdims=keepdims)
    return np.sum(x, axis=axes, keepdims=keepdims)


def sum_to_array(x, shape):
    """``sum_to`` on a NumPy array, with nothing recorded (the engine's gradients)."""
    xs = x.shape
    lead = len(xs) - len(shape)
    if lead > 0 and xs[lead:] == shape:     # leading axes only: a bias's gradient
        return sum_array(x, tuple(range(lead)), False)
    axes = _summed_axes(xs, shape)
    out = sum_array(x, axes, True) if axes else x
    if lead:
        out = out.reshape(shape)
    return out


def _summed_axes(from_shape, shape):
    """The axes that summing ``from_shape`` down to ``shape`` reduces: the leading ones
    and the size-1 axes of ``shape`` that were broadcast, found and checked in one pass
    (this runs for every broadcast operand's gradient). ValueError when ``shape`` does
    not broadcast to ``from_shape``."""
    lead = len(from_shape) - len(shape)
    if lead < 0:
        _raise_sum_to(from_shape, shape)
    axes = list(range(lead))
    i = lead
    for s in shape:
        if s != from_shape[i]:
            if s != 1:
                _raise_sum_to(from_shape, shape)
            axes.append(i)
        i += 1
    return tuple(axes)


def _raise_sum_to(from_shape, shape):
    raise ValueError(f"sum_to: cannot reduce shape {from_shape} to {shape}")


# ---------------------------------------------------------------- indexing
def normalize_index(index, owner=None, op="getitem"):
    """Tensors become arrays; boolean masks become integer arrays (np.nonzero).

    With ``owner`` (the indexed tensor or array) the masks' shapes are checked first:
    np.nonzero would turn a mask of the wrong length into valid integer indices.
    """
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    masks = False
    for ix in index:
        if isinstance(ix, Tensor):
            ix = ix.data
        elif isinstance(ix, list):
            ix = np.asarray(ix)
        if isinstance(ix, np.ndarray) and ix.dtype == bool:
            masks = True
        out.append(ix)
    if not masks:
        return tuple(out)
    if owner is not None:
        _check_masks(out, np.shape(owner), op)
    expanded = []
    for ix in out:
        if isinstance(ix, np.ndarray) and ix.dtype == bool:
            expanded.extend(np.nonzero(ix))
        else:
            expanded.append(ix)
    return tuple(expanded)


def _check_masks(index, shape, op):
    # Index a zero-stride stand-in of the same shape: NumPy checks every mask against
    # the axes it covers, at the cost of a bool array of the result's size.
    try:
        np.broadcast_to(np.empty((), bool), shape)[tuple(index)]
    except IndexError as e:
        raise IndexError(f"{op}: {e} (tensor shape {shape})") from None
    except (ValueError, TypeError):
        pass        # not a mask problem: the op itself reports it, naming its inputs


def _is_basic(index):
    return all(ix is None or ix is Ellipsis or isinstance(ix, (slice, int, np.integer))
               for ix in index)


class Getitem(Primitive):
    derivative = "scatter the gradient into zeros (repeats add up)"

    @staticmethod
    def forward(ctx, x, index):
        return x[index]

    @staticmethod
    def backward(ctx, g):                       # scatter g back; repeats accumulate
        return IndexAdd.apply(g, ctx[0].shape, ctx[1]), None    # (see Sum.backward)


class BasicGetitem(Getitem):
    name = "getitem"
    returns_view = True


class IndexAdd(Primitive):
    """zeros(shape) with ``g`` added at ``index``: the adjoint of indexing."""

    derivative = "gather the gradient at the index"

    name = "index_add"

    @staticmethod
    def forward(ctx, g, shape, index):
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return getitem(gg, ctx.next[2]), None, None


class IndexPut(Primitive):
    """A copy of ``x`` with ``value`` written at ``index`` (``x[index] = value``)."""

    derivative = "d/dx = 0 where overwritten else 1, d/dvalue = gather at the index"

    name = "setitem"

    @staticmethod
    def forward(ctx, x, index, value):
        out = np.array(x)           # a copy; an array also for a NumPy scalar
        out[index] = value
        kept = None
        if not _is_basic(index):
            # A repeated index keeps only the last write (NumPy): mark which places
            # of the indexed region survive, so earlier writes get no gradient.
            region = out[index].shape
            ids = np.arange(int(np.prod(region))).reshape(region)
            marker = np.full(x.shape, -1, dtype=np.int64)
            marker[index] = ids
            kept = marker[index] == ids
            if kept.all():
                kept = None
        ctx.save_for_backward(kept)
        return out

    @staticmethod
    def backward(ctx, g):                       # overwritten places pass nothing to x
        index = ctx.next[1]
        (kept,) = ctx.saved_tensors
        nx, _, nv = ctx.needs_input_grad
        gx = IndexPut.apply(g, index, 0.0) if nx else None
        gv = None
        if nv:
            gv = getitem(g, index)
            if kept is not None:
                gv = gv * kept.astype(gv.dtype)
        return gx, None, gv


def getitem(x, index):
    index = normalize_index(index, x)
    if _is_basic(index):
        return BasicGetitem.apply(x, index)
    return Getitem.apply(x, index)


# ---------------------------------------------------------------- joining and padding
class Concatenate(Primitive):
    derivative = "slice the gradient into the inputs' pieces"

    @staticmethod
    def forward(ctx, axis, *xs):
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):                       # each input gets its slice of g
        axis = ctx.next[0]
        grads = [None]
        start = 0
        for e in ctx.next[1:]:
            n = e.shape[axis]
            index = (slice(None),) * (axis % g.ndim) + (slice(start, start + n),)
            grads.append(getitem(g, index))
            start += n
        return tuple(grads)


class Pad(Primitive):
    derivative = "cut the padding off the gradient"

    @staticmethod
    def forward(ctx, x, pad_width, value):
        if np.ndim(value) or x.dtype.kind != "f" or not isinstance(value, (float, int)):
            # np.pad's casting rules and errors (complex, None, strings, NumPy scalars)
            return np.pad(x, pad_width, mode="constant", constant_values=value)
        # A filled array and one slice assignment: np.pad does the same with Python
        # work per axis, 2-3 times slower on an image batch.
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pad_width))
        out = buffers.empty(shape, x.dtype)
        out.fill(value)
        out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, pad_width))] = x
        return out

    @staticmethod
    def backward(ctx, g):                       # cut the padding off
        pad_width = ctx.next[1]
        index = tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(pad_width))
        return getitem(g, index), None, None


# ---------------------------------------------------------------- public functions
def reshape(x, *shape):
    shape = _shape_arg(shape)
    return Reshape.apply(x, shape)


def transpose(x, *axes):
    axes = _shape_arg(axes)
    ndim = np.ndim(x)
    if not axes:
        axes = tuple(range(ndim))[::-1]
    if sorted(a % ndim for a in axes) != list(range(ndim)) or len(axes) != ndim:
        raise ValueError(f"transpose: axes {axes} are not a permutation of a "
                         f"{ndim}-d tensor's axes")
    return Transpose.apply(x, tuple(a % ndim for a in axes))


def moveaxis(x, source, destination):
    ndim = np.ndim(x)
    source = [_axis(s, ndim, "moveaxis") for s in np.atleast_1d(source)]
    destination = [_axis(d, ndim, "moveaxis") for d in np.atleast_1d(destination)]
    if len(source) != len(destination):
        raise ValueError(f"moveaxis: {len(source)} source axes but {len(destination)} "
                         "destination axes")
    if len(set(source)) != len(source) or len(set(destination)) != len(destination):
        raise ValueError(f"moveaxis: repeated axis in source {source} or destination "
                         f"{destination}")
    order = [a for a in range(ndim) if a not in source]
    for d, s in sorted(zip(destination, source)):
        order.insert(d, s)
    return transpose(x, *order)


def swapaxes(x, a, b):
    if (a, b) == (-1, -2) or (a, b) == (-2, -1):
        ndim = x.ndim
        if ndim == 2:           # the common case in matmul's rule
            return Transpose.apply(x, (1, 0))
    ndim = np.ndim(x)
    axes = list(range(ndim))
    try:
        axes[a], axes[b] = axes[b], axes[a]
    except (IndexError, TypeError):
        _axis(a, ndim, "swapaxes")
        _axis(b, ndim, "swapaxes")
        raise
    return transpose(x, *axes)


def squeeze(x, axis=None):
    shape = np.shape(x)
    if axis is None:
        axes = [i for i, s in enumerate(shape) if s == 1]
    else:
        axes = [_axis(a, len(shape), "squeeze") for a in np.atleast_1d(axis)]
        for a in axes:
            if shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} has size {shape[a]}, not 1 "
                                 f"(shape {shape})")
    return reshape(x, tuple(s for i, s in enumerate(shape) if i not in axes))


def expand_dims(x, axis):
    shape = np.shape(x)
    try:
        new = np.expand_dims(np.empty(shape, dtype=bool), axis).shape
    except TypeError:
        raise TypeError(f"expand_dims: axis must be an int or a tuple of ints, got "
                        f"{axis!r}") from None
    except np.exceptions.AxisError as e:
        n = len(shape) + (len(axis) if isinstance(axis, (tuple, list)) else 1)
        raise ValueError(f"expand_dims: axis {axis!r} is out of range for the {n}-d result "
                         f"(input shape {shape})") from e
    except ValueError as e:
        raise ValueError(f"expand_dims: {e} (axis {axis!r}, input shape {shape})") from None
    return reshape(x, new)


def flatten(x):
    return reshape(x, (-1,))


def broadcast_to(x, shape):
    shape = tuple(shape)
    if isinstance(x, Tensor) and x.shape == shape:
        return x
    return BroadcastTo.apply(x, shape)


def concatenate(tensors, axis=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    return Concatenate.apply(axis, *tensors)


def stack(tensors, axis=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: need at least one tensor")
    shapes = {np.shape(t) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


def split(x, indices_or_sections, axis=0):
    """NumPy's ``np.split``: equal sections, or cut before the given indices."""
    ndim = np.ndim(x)
    axis = _axis(axis, ndim, "split")
    n = np.shape(x)[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if indices_or_sections < 1:
            raise ValueError(f"split: the number of sections must be positive, got "
                             f"{indices_or_sections}")
        if n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of size {n} does not divide into "
                             f"{indices_or_sections} equal sections")
        step = n // indices_or_sections
        cuts = list(range(step, n, step))[:indices_or_sections - 1]
    else:
        cuts = list(indices_or_sections)
    bounds = [0] + cuts + [n]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def pad(x, pad_width, constant_values=0):
    """Constant padding with NumPy's ``pad_width`` forms (int, pair, per-axis pairs)."""
    ndim = np.ndim(x)
    try:
        pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2))
    except (ValueError, TypeError):
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape "
                         f"{np.shape(x)}: give an int, a pair (before, after) or one pair "
                         "per axis") from None
    if (pw < 0).any():
        raise ValueError(f"pad: negative pad_width {pad_width}")
    return Pad.apply(x, tuple(map(tuple, pw.tolist())), constant_values)
