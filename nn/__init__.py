"""chainrule.nn: modules, layers, activations, losses, init, functional (F).

Everything here is composed from autograd ops: no derivative code lives in nn.
"""
from .module import *  # noqa: F401,F403
from .containers import *  # noqa: F401,F403
from .checkpoint import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .rbf import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from . import functional, init, metrics, utils  # noqa: F401
