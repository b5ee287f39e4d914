"""Pieces of the hand-written NumPy floor shared by the training workloads: the
cross-entropy loss with its gradient, and PyTorch's Adam and SGD update formulas.

The floor is what a careful NumPy programmer writes by hand for the same math:
no graph, no bookkeeping, in-place updates of the optimizer state.
"""
import math

import numpy as np


def cross_entropy(logits, target):
    """loss = mean_i [logsumexp(z_i) - z_i[y_i]] and d loss / d z = (softmax(z) - onehot(y)) / N."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(total[:, 0]) - shifted[rows, target])
    grad = exp / total
    grad[rows, target] -= 1
    grad /= n
    return loss, grad


class Adam:
    """PyTorch's Adam (no weight decay, no amsgrad):
    m ← β1 m + (1-β1) g,  v ← β2 v + (1-β2) g²,
    θ ← θ - lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        b1, b2 = self.betas
        self.t += 1
        step_size = self.lr / (1 - b1 ** self.t)
        root_bc2 = math.sqrt(1 - b2 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v)
            denom /= root_bc2
            denom += self.eps
            p -= step_size * (m / denom)


class SGD:
    """PyTorch's SGD with momentum (no dampening): b ← μ b + g (b = g at the first
    step), θ ← θ - lr b."""

    def __init__(self, params, lr, momentum=0.0):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.buffers = [None] * len(params)

    def step(self, grads):
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if self.momentum:
                if self.buffers[i] is None:
                    self.buffers[i] = g.copy()
                else:
                    self.buffers[i] *= self.momentum
                    self.buffers[i] += g
                g = self.buffers[i]
            p -= self.lr * g
