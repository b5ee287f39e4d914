"""chainrule.optim: optimizers and learning-rate schedules (built on autograd).

    opt = optim.Adam(model.parameters(), lr=1e-3)
    for x, y in batches:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

Each optimizer's update rule is one function in ``optim.functional`` (``sgd``,
``adam``, ...), which the classes apply under ``no_grad`` and which, called directly
with grad mode on, is differentiable (hyper-gradients, unrolled optimisation).
"""
from . import functional, lr_scheduler
from .adaptive import Adadelta, Adagrad, Adam, AdamW, NAdam, RMSprop
from .lamb import LAMB
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .sgd import SGD, Momentum

__all__ = ["Optimizer", "SGD", "Momentum", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW",
           "NAdam", "LAMB", "LBFGS", "functional", "lr_scheduler"]
