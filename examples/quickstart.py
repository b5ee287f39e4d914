"""chainrule in thirty seconds: build an expression, backpropagate, gradcheck it.

    python examples/quickstart.py
"""
import numpy as np

import autograd as ag


def main():
    # A neuron: tanh(x1*w1 + x2*w2 + b)
    x = ag.tensor([2.0, 0.0], dtype=np.float64)
    w = ag.tensor([-3.0, 1.0], dtype=np.float64, requires_grad=True)
    b = ag.tensor(6.8813735870195432, dtype=np.float64, requires_grad=True)
    out = ag.tanh((x * w).sum() + b)
    out.backward(retain_graph=True)   # keep the graph: we differentiate it again below
    print(f"out      = {out.item():.6f}")
    print(f"d out/dw = {w.grad.tolist()}")
    print(f"d out/db = {b.grad.item():.6f}")

    # The engine's derivatives against central finite differences, to second order.
    fn = lambda w, b: ag.tanh((x * w).sum() + b)  # noqa: E731
    print("gradcheck:", ag.gradcheck(fn, [w, b]), " gradgradcheck:", ag.gradgradcheck(fn, [w, b]))

    # Second derivative through create_graph.
    (g,) = ag.grad(out, b, create_graph=True)
    (gg,) = ag.grad(g, b)
    print(f"d2 out/db2 = {gg.item():.6f} (closed form {-2 * out.item() * (1 - out.item() ** 2):.6f})")


if __name__ == "__main__":
    main()
