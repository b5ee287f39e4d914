"""Draw computation graphs to SVG and print the backward pass step by step.

    python examples/graph_svg.py [--out out/graph_svg] [--quick]

Writes, into the output folder:
  neuron.svg             tanh(x1*w1 + x2*w2 + b) with every value and gradient
  mlp_loss.svg           a two-layer MLP's loss, parameters labelled by name
  second_derivative.svg  the graph of dy/dx built by create_graph=True
  long_chain.svg         a 5,000-op loop drawn with collapse=True (skipped by --quick)
and prints the backward-pass table of the neuron. SVG needs the Graphviz `dot`
program; without it the DOT sources are written instead (.gv files).
"""
import argparse
import os

import numpy as np

import autograd as ag
import nn


def neuron():
    """Karpathy's neuron, with references kept and grads retained so every value shows."""
    f64 = np.float64
    x1, x2 = ag.tensor(2.0, dtype=f64), ag.tensor(0.0, dtype=f64)        # inputs: constants
    w1 = ag.tensor(-3.0, dtype=f64, requires_grad=True)
    w2 = ag.tensor(1.0, dtype=f64, requires_grad=True)
    b = ag.tensor(6.8813735870195432, dtype=f64, requires_grad=True)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = ag.tanh(n)
    for t in (x1w1, x2w2, x1w1x2w2, n, o):
        t.retain_grad()      # non-leaf gradients are dropped unless asked for
    names = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "x1*w1": x1w1, "x2*w2": x2w2,
             "x1*w1 + x2*w2": x1w1x2w2, "n": n, "o": o}
    return o, names


class Layer(nn.Module):
    """y = x W^T + b, with PyTorch's (out, in) weight layout."""

    def __init__(self, n_in, n_out):
        super().__init__()
        bound = 1.0 / n_in ** 0.5     # a Python float keeps the default dtype
        self.weight = nn.Parameter(ag.rand(n_out, n_in) * (2 * bound) - bound)
        self.bias = nn.Parameter(ag.zeros(n_out))

    def forward(self, x):
        return x @ self.weight.T + self.bias


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = Layer(3, 4)
        self.out = Layer(4, 1)

    def forward(self, x):
        return self.out(ag.tanh(self.hidden(x)))


def mlp_loss():
    ag.manual_seed(0)
    model = MLP()
    x = ag.randn(8, 3)
    target = ag.randn(8, 1)
    pred = model(x)
    loss = ((pred - target) ** 2).mean()
    names = dict(model.named_parameters())
    names.update(x=x, target=target, pred=pred, loss=loss)
    return loss, names


def second_derivative():
    x = ag.tensor(0.5, dtype=np.float64, requires_grad=True)
    y = ag.tanh(x) * x
    (dy,) = ag.grad(y, x, create_graph=True)       # dy/dx, itself a recorded graph
    (d2y,) = ag.grad(dy, x, retain_graph=True)
    return dy, {"x": x, "y": y, "dy/dx": dy}, d2y


def long_chain(n=5000):
    w = ag.tensor(1.0001, dtype=np.float64, requires_grad=True)
    y = ag.tensor(1.0, dtype=np.float64) * w
    for _ in range(n - 1):
        y = y * w
    return y, {"w": w, "y": y}


def save(graph, folder, stem, missing_dot):
    """Render ``stem``.svg. Without dot, keep the DOT source (``stem``.gv, which render
    writes first) and say why, once."""
    try:
        return graph.render(outfile=os.path.join(folder, stem + ".svg"), cleanup=True)
    except ag.GraphvizNotFoundError as e:
        if not missing_dot:
            print(f"{e}\nWriting the DOT sources instead.")
            missing_dot.append(True)
        return os.path.join(folder, stem + ".gv")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join("out", "graph_svg"),
                        help="output folder (default: out/graph_svg)")
    parser.add_argument("--quick", action="store_true", help="skip the long-chain drawing")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    graphs = []

    o, names = neuron()
    steps = ag.backward_steps(o, names=names)       # before backward: the order it will run
    o.backward()
    graphs.append(("neuron", ag.draw_graph(o, names=names, legend=True)))

    loss, names = mlp_loss()
    loss.backward()
    graphs.append(("mlp_loss", ag.draw_graph(loss, names=names, legend=True)))

    dy, names, d2y = second_derivative()
    graphs.append(("second_derivative", ag.draw_graph(dy, names=names)))

    if not args.quick:
        y, names = long_chain()
        graphs.append(("long_chain", ag.draw_graph(y, names=names, collapse=True)))

    missing_dot = []
    written = [save(graph, args.out, stem, missing_dot) for stem, graph in graphs]
    for path in written:
        print("wrote", path)
    print(f"\nd2y/dx2 of tanh(x)*x at x = 0.5: {d2y.item():.6f}")
    print("\nBackward pass of the neuron, in the order the engine runs it:\n")
    print(steps.to_text())
    return written


if __name__ == "__main__":
    main()
