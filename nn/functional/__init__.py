"""nn.functional (imported as F): every activation, loss and layer as a plain function."""
from .activation import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
