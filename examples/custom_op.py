"""Writing your own op: a numerically stable softplus as an ag.Function.

    python3 examples/custom_op.py [--out out/custom_op] [--quick] [--seed 0]

A Function has a forward on NumPy arrays and a backward written with Tensor ops, so its
derivative is itself differentiable (gradgradcheck passes without more code). The script
  1. shows why the stable formula matters (log(1 + e^x) overflows at x = 1000);
  2. gradchecks and gradgradchecks the op in float64;
  3. shows gradcheck catching a deliberately wrong backward, and prints its message;
  4. uses the op as the activation of a tiny network fitting y = sin(2x);
  5. draws the network's loss graph, the custom op in it       -> custom_op_graph.svg
     and prints the backward pass step by step (ag.backward_steps);
  6. plots the op, its first two derivatives and the fit        -> custom_op.png
Without the Graphviz `dot` program the graph is written as DOT source (.gv).
"""
import time

import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, render_svg, save_figure

import autograd as ag
import nn
import nn.functional as F
import optim


class Softplus(ag.Function):
    """softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^(−|x|)).

    The second form never overflows (e^(−|x|) ≤ 1) and keeps the digits of tiny values
    for very negative x. Derivative: d softplus/dx = σ(x), the logistic sigmoid.
    """

    name = "stable_softplus"                       # the op's name in graphs and errors
    derivative = "d softplus(x)/dx = sigmoid(x)"   # its row in ag.backward_steps

    @staticmethod
    def forward(ctx, x):                  # x is a NumPy array
        ctx.save_for_backward(x)
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx, grad):              # grad and the saved x are Tensors
        (x,) = ctx.saved_tensors
        return grad * ag.sigmoid(x)       # Tensor ops only: differentiable again


class WrongSoftplus(Softplus):
    """The same forward with a sign slip in the backward: σ(−x) instead of σ(x)."""

    name = "wrong_softplus"

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ag.sigmoid(-x)


def softplus(x):
    return Softplus.apply(x)


class SoftplusLayer(nn.Module):
    """The custom op as a module, to drop into nn.Sequential."""

    def forward(self, x):
        return softplus(x)


def show_stability():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="ignore"):
        naive = np.log(1 + np.exp(x))
    stable = softplus(ag.tensor(x, dtype=np.float64)).numpy()
    library = F.softplus(ag.tensor(x, dtype=np.float64)).numpy()
    print("x                   " + "  ".join(f"{v:>10g}" for v in x))
    print("log(1 + exp(x))     " + "  ".join(f"{v:>10.4g}" for v in naive))
    print("stable_softplus(x)  " + "  ".join(f"{v:>10.4g}" for v in stable))
    print("F.softplus(x)       " + "  ".join(f"{v:>10.4g}" for v in library))
    print("(the naive formula loses digits at x = -30, where 1 + e^x rounds, and overflows "
          "at x = 1000)")
    return float(np.max(np.abs(stable - library)))


def check_gradients():
    rng = np.random.default_rng(0)
    # Large magnitudes too: the derivative must stay right where e^x would overflow.
    x = ag.tensor(np.concatenate([rng.standard_normal(6) * 3, [-40.0, 40.0]]),
                  dtype=np.float64, requires_grad=True)
    first = ag.gradcheck(Softplus.apply, [x])
    second = ag.gradgradcheck(Softplus.apply, [x])
    print(f"gradcheck (float64, 8 points): {first}   gradgradcheck: {second}")

    # The second derivative comes from differentiating backward's Tensor ops.
    x0 = ag.tensor(0.7, dtype=np.float64, requires_grad=True)
    (d1,) = ag.grad(softplus(x0), x0, create_graph=True)
    (d2,) = ag.grad(d1, x0)
    s = 1 / (1 + np.exp(-0.7))
    print(f"at x = 0.7: d/dx {d1.item():.8f} (σ(x) = {s:.8f}),  "
          f"d²/dx² {d2.item():.8f} (σ(x)(1 − σ(x)) = {s * (1 - s):.8f})")

    try:
        ag.gradcheck(WrongSoftplus.apply, [x])
        caught = None
    except ag.GradcheckError as e:
        caught = str(e)
    print("gradcheck of a backward with a sign slip, σ(−x) for σ(x):")
    print(f"  GradcheckError: {caught}" if caught else "  NOT caught")
    return first, second, caught


def fit_tiny_model(steps):
    """A 1-32-1 network with the custom activation, full-batch Adam on y = sin(2x)."""
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(-2, 2, (128, 1)), axis=0).astype(np.float32)
    y = (np.sin(2 * x) + 0.05 * rng.standard_normal(x.shape)).astype(np.float32)
    model = nn.Sequential(nn.Linear(1, 32), SoftplusLayer(), nn.Linear(32, 1))
    opt = optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in progress(range(steps), desc="fitting", unit="step"):
        opt.zero_grad()
        loss = F.mse_loss(model(ag.Tensor(x)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, x, y, losses


def graph_of_loss(model, x, y, out):
    """The loss of four samples: drawn (after backward, so gradients show) and listed
    as the engine's backward steps (before it, in the order they will run)."""
    xs = ag.Tensor(x[::32])
    loss = F.mse_loss(model(xs), y[::32])
    names = dict(model.named_parameters())
    names.update(x=xs, loss=loss)
    steps = ag.backward_steps(loss, names=names)
    loss.backward()
    path = render_svg(ag.draw_graph(loss, names=names), out, "custom_op_graph")
    model.zero_grad()
    return path, steps


def plot(model, x, y, losses, out):
    plt = pyplot()
    fig, (ax_op, ax_fit, ax_loss) = plt.subplots(1, 3, figsize=(12, 3.4))
    grid = ag.tensor(np.linspace(-6, 6, 241), dtype=np.float64, requires_grad=True)
    value = softplus(grid)
    (d1,) = ag.grad(value.sum(), grid, create_graph=True)
    (d2,) = ag.grad(d1.sum(), grid)
    for curve, label in ((value, "softplus(x)"), (d1, "d/dx = σ(x)"),
                         (d2, "d²/dx² = σ(x)(1 − σ(x))")):
        ax_op.plot(grid.numpy(), curve.numpy(), label=label)
    ax_op.set(xlabel="x", title="the op and its derivatives (autograd)", ylim=(-0.2, 3))
    ax_op.legend(fontsize=8)
    with ag.no_grad():
        pred = model(ag.Tensor(x)).numpy()
    ax_fit.plot(x, y, ".", color="grey", ms=4, label="data")
    ax_fit.plot(x, np.sin(2 * x), "k--", lw=1, label="sin(2x)")
    ax_fit.plot(x, pred, color="tab:red", label="1-32-1 net, softplus")
    ax_fit.set(xlabel="x", title="the tiny model's fit")
    ax_fit.legend(fontsize=8)
    ax_loss.plot(np.arange(1, len(losses) + 1), losses)
    ax_loss.set(yscale="log", xlabel="Adam step", ylabel="MSE", title="training loss")
    fig.tight_layout()
    return save_figure(fig, out, "custom_op.png")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "custom_op", argv,
                      steps=(int, None, "training steps (default 400, 150 with --quick)"))
    steps = args.steps or (150 if args.quick else 400)
    start = time.perf_counter()

    print("1. stability\n")
    max_diff = show_stability()
    print("\n2-3. gradient checks\n")
    first, second, caught = check_gradients()

    print(f"\n4. a tiny model with the custom activation, {steps} Adam steps")
    model, x, y, losses = fit_tiny_model(steps)
    print(f"   MSE {losses[0]:.4f} -> {losses[-1]:.4f}")

    print("\n5. the graph and the backward pass\n")
    svg, table = graph_of_loss(model, x, y, args.out)
    print()
    print(table.to_text())
    print()
    files = [svg, plot(model, x, y, losses, args.out)]
    seconds = time.perf_counter() - start

    print("\nSummary")
    print(f"  stable_softplus agrees with F.softplus to {max_diff:.1e}, finite at x = ±1000")
    print(f"  gradcheck {first}, gradgradcheck {second}; the wrong backward was "
          f"{'caught' if caught else 'NOT caught'}")
    print(f"  tiny model MSE {losses[0]:.4f} -> {losses[-1]:.4f};  time {seconds:.1f} s")
    return {"gradcheck": first, "gradgradcheck": second, "wrong_backward_caught": bool(caught),
            "gradcheck_error": caught, "max_abs_diff_vs_F_softplus": max_diff,
            "initial_mse": losses[0], "final_mse": losses[-1],
            "backward_steps": len(table), "seconds": seconds, "files": files}


if __name__ == "__main__":
    main()
