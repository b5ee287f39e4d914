"""chainrule.nn: modules, layers, activations, losses (built on autograd)."""
