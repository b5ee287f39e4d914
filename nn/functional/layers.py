"""Layers as plain functions: linear, conv2d, pooling, normalisation, dropout, embedding,
flatten, rbf. Arguments, defaults and layouts are PyTorch's (NCHW images, weight
(out, in/groups, kh, kw)).

Everything is composed from autograd ops, so there is no derivative code here.
Convolution and pooling take every window of the padded input with the one
``ag.sliding_window`` primitive (a strided view, no copy), then reduce it: a matmul
with the weight for convolution, a max or a sum for pooling.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import autograd as ag
from autograd.ops import linalg as _linalg
from autograd.tensor import Tensor

__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "dropout", "batch_norm",
           "layer_norm", "embedding", "flatten", "rbf"]


def _tensor(x):
    return x if isinstance(x, Tensor) else ag.tensor(x)


def _pair(v, name, op):
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(e) for e in v)
    if len(v) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair, got {v}")
    return v


def linear(input, weight, bias=None):
    """y = x W^T + b, with weight (out_features, in_features) and bias (out_features,)."""
    x = _tensor(input)
    # The arrays' shapes, read once (Tensor.shape is a property: this runs per layer call)
    xs, ws = x.data.shape, weight.data.shape
    if len(ws) != 2 or not xs or xs[-1] != ws[1]:
        if not xs:
            raise ValueError(f"linear: input must have at least 1 dimension (..., "
                             f"{ws[-1]}), got a 0-d tensor (shape ())")
        raise ValueError(f"linear: input of shape {xs} does not match weight of shape "
                         f"{ws} (expected input (..., {ws[-1]}))")
    if bias is None or (isinstance(bias, Tensor) and bias.data.shape == ws[:1]):
        return _linalg.Linear.apply(x, weight, bias)
    return x @ weight.T + bias      # a bias that broadcasts otherwise: composed


# ---------------------------------------------------------------- convolution
def _conv_padding(padding, kernel, stride, dilation):
    """((top, bottom), (left, right)) from an int, a pair, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"conv2d: padding='same' needs stride 1, got stride {stride}")
            total = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', "
                         f"got {padding!r}")
    ph, pw = _pair(padding, "padding", "conv2d")
    if ph < 0 or pw < 0:
        raise ValueError(f"conv2d: negative padding {padding}")
    return (ph, ph), (pw, pw)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d cross-correlation, as PyTorch's conv2d (NCHW, or CHW unbatched):

        out[n, o, y, x] = b[o] + sum_{c in group(o), i, j} w[o, c, i, j] *
                          xpad[n, c, y*s_h + i*d_h, x*s_w + j*d_w]

    The padded input's windows (a strided view) are laid out once as a matrix - the
    only copy - and multiplied by the weight; the gradient flows back through the same
    ops. Without groups the matrix is (C*kh*kw, N*out_h*out_w), so the forward and each
    gradient are one large product; with groups it is (N, groups, C/groups*kh*kw,
    out_h*out_w).
    """
    x = _tensor(input)
    if x.ndim == 3:
        return conv2d(ag.expand_dims(x, 0), weight, bias, stride, padding, dilation,
                      groups)[0]
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d: expected input (N, C, H, W) and weight "
                         f"(out, in/groups, kh, kw), got {x.shape} and {weight.shape}")
    n, c, _, _ = x.shape
    o, cg, kh, kw = weight.shape
    if groups < 1 or c % groups or o % groups or cg * groups != c:
        raise ValueError(f"conv2d: input with {c} channels and weight {weight.shape} do not "
                         f"fit groups={groups} (need in_channels = weight.shape[1] * groups "
                         f"and out_channels divisible by groups)")
    if bias is not None and bias.shape != (o,):
        raise ValueError(f"conv2d: bias of shape {bias.shape}, expected ({o},)")
    stride = _pair(stride, "stride", "conv2d")
    dilation = _pair(dilation, "dilation", "conv2d")
    pads = _conv_padding(padding, (kh, kw), stride, dilation)
    if any(p for pair in pads for p in pair):
        x = ag.pad(x, ((0, 0), (0, 0)) + pads)
    win = ag.sliding_window(x, (kh, kw), stride, dilation)      # (N, C, oh, ow, kh, kw)
    oh, ow = win.shape[2:4]
    if groups == 1:
        # One (C*kh*kw, oh*ow) matrix per sample and one stacked product: the result
        # comes out in NCHW order, contiguous, so the ReLU and pooling after it read it
        # in order (one product over an (C*kh*kw, N*oh*ow) matrix needs a transposed
        # result: about 5 % slower per CNN step).
        cols = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
        out = weight.reshape(o, c * kh * kw) @ cols
        out = out.reshape(n, o, oh, ow)
        return out if bias is None else out + bias.reshape(1, o, 1, 1)
    # (N, C, kh, kw, oh, ow): each row of the matrix is one (channel, tap), so the
    # gradient's taps come back as contiguous blocks for window_sum to add.
    cols = win.transpose(0, 1, 4, 5, 2, 3)
    wm = weight.reshape(groups, o // groups, cg * kh * kw)
    out = wm @ cols.reshape(n, groups, cg * kh * kw, oh * ow)
    out = out.reshape(n, o, oh, ow)
    return out if bias is None else out + bias.reshape(1, o, 1, 1)


# ---------------------------------------------------------------- pooling
def _pool_geometry(op, shape, kernel, stride, padding, dilation, ceil_mode):
    """Output sizes and the extra right padding ceil_mode needs, per spatial axis.

    PyTorch's rule: o = floor_or_ceil((n + 2p - d(k-1) - 1) / s) + 1, and with
    ceil_mode the last window must start inside the input or its left padding.
    """
    outs, extras = [], []
    for n, k, s, p, dl in zip(shape, kernel, stride, padding, dilation):
        if p > k // 2:
            raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k}")
        span = n + 2 * p - dl * (k - 1) - 1
        if span < 0:
            raise ValueError(f"{op}: kernel_size {kernel} with dilation {dilation} does not "
                             f"fit the padded input (spatial shape {shape}, padding {padding})")
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        outs.append(o)
        extras.append(max(0, (o - 1) * s + dl * (k - 1) + 1 - (n + 2 * p)))
    return outs, extras


def _taps_first(win):
    """(..., oh, ow, kh, kw) -> (kh*kw, ..., oh, ow), one copy.

    With the taps on the slowest axis, reducing over them is an elementwise max or add
    of whole feature maps; NumPy's reduction over the two tiny strided window axes is
    about 40 times slower (one inner loop per output pixel)."""
    nd = win.ndim
    moved = ag.transpose(win, (nd - 2, nd - 1) + tuple(range(nd - 2)))
    # Explicit size: NumPy cannot resolve -1 when there are no elements (empty batch).
    return ag.reshape(moved, (moved.shape[0] * moved.shape[1],) + moved.shape[2:])


def _pool_args(op, input, kernel_size, stride, padding):
    x = _tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected input (N, C, H, W) or (C, H, W), got shape {x.shape}")
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == () else _pair(stride, "stride", op)
    return x, kernel, stride, _pair(padding, "padding", op)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """out[..., y, x] = max over the window at (y*s_h, x*s_w) of the input padded with -inf.

    stride defaults to kernel_size; ties share the gradient equally.
    """
    if return_indices:
        raise ValueError("max_pool2d: return_indices=True is not supported")
    x, kernel, stride, padding = _pool_args("max_pool2d", input, kernel_size, stride, padding)
    dilation = _pair(dilation, "dilation", "max_pool2d")
    outs, extras = _pool_geometry("max_pool2d", x.shape[-2:], kernel, stride, padding,
                                  dilation, ceil_mode)
    pads = tuple((p, p + e) for p, e in zip(padding, extras))
    if any(p for pair in pads for p in pair):
        x = ag.pad(x, ((0, 0),) * (x.ndim - 2) + pads, constant_values=-np.inf)
    return ag.max(_taps_first(ag.sliding_window(x, kernel, stride, dilation)), axis=0)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """out[..., y, x] = (sum over the window of the zero-padded input) / divisor.

    The divisor is kh*kw (count_include_pad=True, PyTorch's default), the number of
    real input elements in the window (False), or divisor_override. Windows that
    ceil_mode adds past the padding count only what lies inside it, as PyTorch.
    """
    x, kernel, stride, padding = _pool_args("avg_pool2d", input, kernel_size, stride, padding)
    outs, extras = _pool_geometry("avg_pool2d", x.shape[-2:], kernel, stride, padding,
                                  (1, 1), ceil_mode)
    pads = tuple((p, p + e) for p, e in zip(padding, extras))
    shape = x.shape[-2:]
    if any(p for pair in pads for p in pair):
        x = ag.pad(x, ((0, 0),) * (x.ndim - 2) + pads)
    total = ag.sum(_taps_first(ag.sliding_window(x, kernel, stride)), axis=0)
    if divisor_override is not None:
        return total / divisor_override
    if count_include_pad and not any(extras):
        return total / (kernel[0] * kernel[1])
    # Per axis, how many window positions fall inside the counted region (the padded
    # input, or only the input); the window's divisor is the product of the two.
    counts = []
    for n, k, s, p, e, o in zip(shape, kernel, stride, padding, extras, outs):
        mask = np.zeros(n + 2 * p + e)
        lo, hi = (0, n + 2 * p) if count_include_pad else (p, p + n)
        mask[lo:hi] = 1
        counts.append(sliding_window_view(mask, k)[::s][:o].sum(-1))
    divisor = np.outer(counts[0], counts[1]).astype(total.dtype)
    return total / divisor


# ---------------------------------------------------------------- regularisation
def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: each element is zeroed with probability p and the survivors
    are scaled by 1/(1-p), so the expectation is unchanged; the identity when not
    training. The mask comes from the global generator (``ag.manual_seed``).
    ``inplace`` is accepted for PyTorch compatibility; the result is always new."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    x = _tensor(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros((), dtype=x.dtype)
    keep = ag.get_rng().random(x.shape) >= p
    return x * (keep / (1.0 - p)).astype(x.dtype)


# ---------------------------------------------------------------- normalisation
def _assign(buffer, value):
    """Write a running statistic in place (Tensor buffers get a version bump)."""
    if isinstance(buffer, Tensor):
        with ag.no_grad():
            buffer[...] = value
    else:
        buffer[...] = value


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over every axis but the channel axis 1:

        y = (x - mean) / sqrt(var + eps) * weight + bias

    Training uses the batch's mean and biased variance and, when running statistics
    are given, updates them in place: r <- (1 - momentum) r + momentum * stat, with
    the unbiased variance (n / (n - 1)) as PyTorch. Evaluation uses the running ones.
    """
    x = _tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, ...), got shape {x.shape}")
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, c) + (1,) * (x.ndim - 2)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and np.shape(t) != (c,):
            raise ValueError(f"batch_norm: {name} has shape {np.shape(t)}, expected ({c},) "
                             f"for input of shape {x.shape}")
    if training:
        count = x.size // c
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        mean = ag.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        var = ag.mean(centred * centred, axis=axes, keepdims=True)
        if running_mean is not None:
            rm = np.asarray(running_mean)
            _assign(running_mean, (1 - momentum) * rm + momentum * mean.data.reshape(c))
        if running_var is not None:
            rv = np.asarray(running_var)
            unbiased = var.data.reshape(c) * (count / (count - 1))
            _assign(running_var, (1 - momentum) * rv + momentum * unbiased)
        y = centred / ag.sqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed in "
                             "evaluation mode (training=False)")
        rm = ag.reshape(running_mean, shape)
        rv = ag.reshape(running_var, shape)
        y = (x - rm) / ag.sqrt(rv + eps)
    if weight is not None:
        y = y * ag.reshape(weight, shape)
    if bias is not None:
        y = y + ag.reshape(bias, shape)
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last len(normalized_shape) axes of each sample:

        y = (x - mean) / sqrt(var + eps) * weight + bias   (biased variance)
    """
    x = _tensor(input)
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    d = len(ns)
    if d == 0 or x.shape[x.ndim - d:] != ns:
        raise ValueError(f"layer_norm: normalized_shape {ns} does not match the last axes "
                         f"of input of shape {x.shape}")
    axes = tuple(range(x.ndim - d, x.ndim))
    centred = x - ag.mean(x, axis=axes, keepdims=True)
    var = ag.mean(centred * centred, axis=axes, keepdims=True)
    y = centred / ag.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


# ---------------------------------------------------------------- lookup and shape
def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``input`` of any shape:
    output shape input.shape + (dim,). Repeated indices accumulate their gradients; the
    row ``padding_idx`` gets none."""
    idx = np.asarray(input.data if isinstance(input, Tensor) else input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    num = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError(f"embedding: index out of range: indices span "
                         f"[{idx.min()}, {idx.max()}] but weight {weight.shape} has {num} rows")
    out = weight[idx]
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += num
        pad = (idx == padding_idx)[..., None]
        if pad.any():
            out = ag.where(pad, out.detach(), out)
    return out


def flatten(input, start_dim=0, end_dim=-1):
    """torch.flatten: merge the axes start_dim..end_dim (inclusive) into one."""
    x = _tensor(input)
    if x.ndim == 0:
        return ag.reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for a tensor of shape {x.shape}")
    merged = math.prod(x.shape[s:e + 1])
    return ag.reshape(x, x.shape[:s] + (merged,) + x.shape[e + 1:])


def rbf(input, centers, gammas):
    """Gaussian radial basis functions: phi_j(x) = exp(-gamma_j * ||x - c_j||^2).

    input (..., in), centers (out, in), gammas (out,) -> (..., out). The squared
    distance is summed from differences (not ||x||^2 - 2x.c + ||c||^2), so it is
    never negative and exact when x is near a center.
    """
    x = _tensor(input)
    if centers.ndim != 2 or x.shape[-1] != centers.shape[1] or gammas.shape != centers.shape[:1]:
        raise ValueError(f"rbf: input {x.shape}, centers {centers.shape} and gammas "
                         f"{gammas.shape} do not fit (expected (..., in), (out, in), (out,))")
    diff = ag.expand_dims(x, -2) - centers
    return ag.exp(-gammas * ag.sum(diff * diff, axis=-1))
