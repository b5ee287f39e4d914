"""Workload 5: a small CNN on a batch of 32 1x28x28 images,
Conv(1→16, 3x3, pad 1)-ReLU-MaxPool 2-Conv(16→32, 3x3, pad 1)-ReLU-MaxPool 2-Flatten-
Linear(1568→10), cross-entropy, SGD with momentum 0.9 (lr 0.01): one training step.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import data, impls
from .floor import SGD, cross_entropy
from .spec import Metric, Workload
from .training import train_floor, train_framework

LR, MOMENTUM, CLASSES = 0.01, 0.9, 10
NEEDS = ("nn.Conv2d", "nn.ReLU", "nn.MaxPool2d", "nn.Flatten", "nn.Linear",
         "nn.Sequential", "F.cross_entropy", "optim.SGD")


def build(nn):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, CLASSES))


def make_sgd(optim, params):
    return optim.SGD(params, lr=LR, momentum=MOMENTUM)


# The floor keeps images channels-last (N, H, W, C) inside, and orders each im2col row
# as (kernel row, kernel column, channel): the row is then built from contiguous runs of
# channels, about 3x faster to gather than (channel, row, column), and the matmul
# result needs no transpose. The math is the same as NCHW; only memory order differs.
def _weight_matrix(w):
    """(O, C, 3, 3) -> (O, 3*3*C), columns in the (i, j, c) order of the im2col rows."""
    return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def conv3x3_forward(x, w, b):
    """out[n, y, x, o] = b[o] + Σ_{c,i,j} w[o, c, i, j] · xpad[n, y+i, x+j, c]
    (padding 1): im2col over a sliding-window view, then one matmul."""
    n, h, wd, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = sliding_window_view(xp, (3, 3), axis=(1, 2))           # (n, h, w, c, 3, 3)
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * wd, 9 * c)
    out = cols @ _weight_matrix(w).T
    out += b
    return out.reshape(n, h, wd, -1), cols


def conv3x3_backward(g, cols, w, x_shape, need_input_grad):
    """dW = gᵀ·cols, db = Σ g, and (col2im) dx = Σ over the 9 offsets of the
    shifted column gradients, cropped back to the unpadded input."""
    n, h, wd, c = x_shape
    o = w.shape[0]
    gm = g.reshape(n * h * wd, o)
    dw = (gm.T @ cols).reshape(o, 3, 3, c).transpose(0, 3, 1, 2)
    db = gm.sum(axis=0)
    if not need_input_grad:
        return dw, db, None
    dcols = (gm @ _weight_matrix(w)).reshape(n, h, wd, 3, 3, c)
    dxp = np.zeros((n, h + 2, wd + 2, c), dtype=g.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, i:i + h, j:j + wd, :] += dcols[:, :, :, i, j]
    return dw, db, dxp[:, 1:-1, 1:-1, :]


def maxpool2_forward(a):
    """2x2 max-pool: reshape to (n, h/2, 2, w/2, 2, c) and take the maximum of the four
    (faster than a reduction over the two inner axes)."""
    n, h, w, c = a.shape
    blocks = a.reshape(n, h // 2, 2, w // 2, 2, c)
    top = np.maximum(blocks[:, :, 0, :, 0], blocks[:, :, 0, :, 1])
    bottom = np.maximum(blocks[:, :, 1, :, 0], blocks[:, :, 1, :, 1])
    return np.maximum(top, bottom, out=top), blocks


def maxpool2_backward(g, blocks, out):
    """The gradient goes to the maximum of each 2x2 block (to every tied maximum: the
    only ties here are ReLU zeros, whose gradient the ReLU then zeroes anyway)."""
    n, hh, _, ww, _, c = blocks.shape
    mask = blocks == out[:, :, None, :, None, :]
    return (mask * g[:, :, None, :, None, :]).reshape(n, 2 * hh, 2 * ww, c)


class FloorCNN:
    def __init__(self, weights, x, y):
        self.params = weights
        self.names = [f"{i}.{n}" for i, _ in data.CNN_LAYERS for n in ("weight", "bias")]
        self.x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))       # NCHW -> NHWC
        self.y = y
        self.optimizer = SGD([weights[k] for k in self.names], lr=LR, momentum=MOMENTUM)
        self.loss, self.grads = None, {}

    def step(self):
        w1, b1, w2, b2, w3, b3 = (self.params[k] for k in self.names)
        z1, cols1 = conv3x3_forward(self.x, w1, b1)
        a1 = np.maximum(z1, 0)
        p1, blocks1 = maxpool2_forward(a1)
        z2, cols2 = conv3x3_forward(p1, w2, b2)
        a2 = np.maximum(z2, 0)
        p2, blocks2 = maxpool2_forward(a2)
        n = p2.shape[0]
        flat = p2.transpose(0, 3, 1, 2).reshape(n, -1)      # PyTorch's (C, H, W) order
        logits = flat @ w3.T
        logits += b3
        self.loss, g = cross_entropy(logits, self.y)

        dw3, db3 = g.T @ flat, g.sum(axis=0)
        g = (g @ w3).reshape(p2.shape[0], p2.shape[3], p2.shape[1], p2.shape[2])
        g = maxpool2_backward(g.transpose(0, 2, 3, 1), blocks2, p2)
        g *= a2 > 0
        dw2, db2, g = conv3x3_backward(g, cols2, w2, p1.shape, True)
        g = maxpool2_backward(g, blocks1, p1)
        g *= a1 > 0
        dw1, db1, _ = conv3x3_backward(g, cols1, w1, self.x.shape, False)
        grads = [dw1, db1, dw2, db2, dw3, db3]
        self.optimizer.step(grads)
        self.grads = dict(zip(self.names, grads))


def inputs(batch):
    x, y = data.classification_batch("cnn", batch, (1, 28, 28), CLASSES)
    return data.cnn_weights(), x, y


def run_framework(fw, cfg):
    weights, x, y = inputs(cfg["batch"])
    return train_framework(fw, fw.load(build(fw.nn), weights), make_sgd, x, y, cfg)


def run_numpy(cfg):
    return train_floor(FloorCNN(*inputs(cfg["batch"])), cfg)


CNN = Workload(
    name="cnn",
    description="CNN conv16-pool-conv32-pool-linear on 32x1x28x28, cross-entropy, "
                "SGD momentum 0.9: one training step",
    metrics=(Metric("step", "training step", "ms", target="≤ 1.5× torch"),),
    configs={"full": {"batch": 32, "warmup": 3, "steps": 20},
             "quick": {"batch": 32, "warmup": 1, "steps": 2},
             "check": {"batch": 8, "warmup": 0, "steps": 2}},
    impls={"chainrule": lambda cfg: run_framework(impls.chainrule(*NEEDS), cfg),
           "numpy": run_numpy,
           "torch": lambda cfg: run_framework(impls.torch(cfg.get("threads", 1)), cfg)})
