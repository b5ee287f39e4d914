"""Embedding: a lookup table of learnable vectors."""
import numpy as np

import autograd as ag
from autograd.creation import _check_size

from . import init
from .functional import layers as F
from .module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """Row lookup in weight (num_embeddings, embedding_dim); integer input of any shape
    gives input.shape + (embedding_dim,). Default initialisation N(0, 1) as PyTorch,
    with the padding_idx row zeroed; that row gets no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=None,
                 _weight=None):
        super().__init__()
        num_embeddings = _check_size("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = _check_size("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within "
                                 f"num_embeddings {num_embeddings}")
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        if _weight is None:
            dtype = np.dtype(dtype or ag.get_default_dtype())
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype))
            self.reset_parameters()
        else:
            w = np.asarray(getattr(_weight, "data", _weight))
            if w.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {w.shape}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(w.copy())

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding holding a copy of ``embeddings`` (2-d); frozen by default."""
        w = np.asarray(getattr(embeddings, "data", embeddings))
        if w.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-d, got shape "
                             f"{w.shape}")
        m = cls(w.shape[0], w.shape[1], padding_idx=padding_idx, _weight=w)
        m.weight.requires_grad = not freeze
        return m

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with ag.no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
