"""XOR: why a network needs a non-linear activation, and why weights start random.

    python3 examples/xor.py [--out out/xor] [--quick] [--seed 0]

Reproduces the worked example of reference text 003 (§1.10-1.14): a 2-3-1 network with
the identity activation f(a) = a, every weight (and bias) set to 1, learning rate 0.1,
batch gradient descent. Then it shows what the text leaves out:

1. The text's first update, for the input (0, 0): the prediction 4, the residual −4, and
   one step computed by autograd. Gradient descent on ½(ŷ − y)² moves the bias and
   hidden→output weights to 0.6 (prediction 1.68); the text's rule W := W − α·Z·δ with
   δ = actual − predicted is gradient *ascent* (optim.SGD(maximize=True)): 1.4 and 7.28.
   The weights from X1 and X2 see Z = 0 and stay 1 (docs/formulas.md §9, items 7, 9).
2. The text's setup trained on the whole truth table: the three hidden units start equal
   and stay equal forever (symmetry is never broken), and the best a linear network can
   reach is the least-squares line, MSE 0.25: ŷ ≈ 0.5 everywhere, chance level.
3. A linear network from a random start: the same wall (BCE stays at log 2).
4. One tanh hidden layer from the text's all-ones start: still symmetric, so it acts as
   one hidden unit, whose decision boundary is a line: at most 3 of 4 right.
5. One tanh (or sigmoid) hidden layer from a random start: 100 %. Eight random starts
   are trained side by side (one batched graph); with only three hidden units a start
   can still end in a local minimum, and the table says how many did.

Writes xor_decision_regions.png and xor_loss_curves.png into the output folder.
"""
import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, save_figure

import autograd as ag
import nn
import nn.functional as F
import optim

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
Y = np.array([[0.0], [1.0], [1.0], [0.0]], dtype=np.float32)
LR = 0.1          # the text's learning rate


def network(activation, init):
    """The text's 2-3-1 network: nn.Linear(2, 3), activation, nn.Linear(3, 1)."""
    model = nn.Sequential(nn.Linear(2, 3), activation, nn.Linear(3, 1))
    if init == "ones":
        for p in model.parameters():
            nn.init.ones_(p)
    return model


class Nets(nn.Module):
    """``copies`` independent 2-3-1 networks trained side by side: each weight has a
    leading axis of length ``copies``, and the loss is the sum of the copies' losses, so
    each copy gets exactly its own gradient (batched matmul does the rest).

    ``init="ones"`` is the text's start; ``"random"`` is nn.Linear's default,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, drawn per copy.
    """

    def __init__(self, activation, init, copies=1, hidden=3):
        super().__init__()
        self.activation = activation
        shapes = {"w1": (copies, 2, hidden), "b1": (copies, 1, hidden),
                  "w2": (copies, hidden, 1), "b2": (copies, 1, 1)}
        fan_in = {"w1": 2, "b1": 2, "w2": hidden, "b2": hidden}
        for name, shape in shapes.items():
            p = nn.Parameter(ag.zeros(shape))
            if init == "ones":
                nn.init.ones_(p)
            else:
                bound = 1.0 / np.sqrt(fan_in[name])
                nn.init.uniform_(p, -bound, bound)
            setattr(self, name, p)

    def forward(self, x):
        """x (N, 2) -> logits or outputs (copies, N, 1)."""
        h = self.activation(x @ self.w1 + self.b1)
        return h @ self.w2 + self.b2

    def hidden_spread(self):
        """Per copy, the largest difference between two hidden units' incoming weights
        and biases: 0 means the units are copies of each other."""
        w = np.concatenate([self.w1.data, self.b1.data], axis=1)      # (copies, 3, hidden)
        return np.max(np.abs(w - w[:, :, :1]), axis=(1, 2))


def first_update():
    """003 §1.12-1.14: one batch-gradient-descent step on the input (0, 0), target 0."""
    rows = []
    for rule, maximize in (("gradient descent, loss 1/2 (y_hat - y)^2", False),
                           ("the text's rule (delta = actual - predicted)", True)):
        model = network(nn.Identity(), "ones")
        x, y = ag.tensor(X[:1]), ag.tensor(Y[:1])
        hidden = model[0](x)
        pred = model(x)
        loss = 0.5 * F.mse_loss(pred, y, reduction="sum")
        loss.backward()
        # maximize=True steps θ + α·g: what W := W − α·Z·δ does with δ = y − ŷ.
        optim.SGD(model.parameters(), lr=LR, maximize=maximize).step()
        with ag.no_grad():
            new_pred = model(x).item()
        rows.append(dict(rule=rule, hidden=hidden.data.ravel().tolist(), pred=pred.item(),
                         residual=(y - pred).item(),
                         w_from_inputs=model[0].weight.data.ravel().tolist(),
                         b_hidden=model[0].bias.data.tolist(),
                         w_to_output=model[2].weight.data.ravel().tolist(),
                         b_output=model[2].bias.item(), new_pred=new_pred))
    return rows


def train(model, loss_name, epochs, opt, desc):
    """Full-batch training on the four XOR rows. Returns the loss history of each copy,
    (epochs, copies), and each copy's largest hidden-unit spread over the run."""
    x = ag.tensor(X)
    y = ag.tensor(np.broadcast_to(Y, (model.w1.shape[0],) + Y.shape).copy())
    history, spread = [], []
    for _ in progress(range(epochs), desc=desc):
        opt.zero_grad()
        out = model(x)
        if loss_name == "mse":
            per_copy = F.mse_loss(out, y, reduction="none").mean(axis=(1, 2))
        else:
            per_copy = F.binary_cross_entropy_with_logits(out, y, reduction="none") \
                .mean(axis=(1, 2))
        per_copy.sum().backward()
        opt.step()
        history.append(per_copy.data.copy())
        spread.append(model.hidden_spread())
    return np.array(history), np.max(spread, axis=0)


def probabilities(model, points, loss_name):
    """P(class 1) of each point, per copy (copies, N): the output itself for MSE models,
    σ(logit) for BCE."""
    with ag.no_grad():
        out = model(ag.tensor(points.astype(np.float32)))
        if loss_name == "bce":
            out = F.sigmoid(out)
    return out.data[..., 0]


def least_squares_mse():
    """The best any linear model a + b·x1 + c·x2 can do on XOR (closed form)."""
    design = np.concatenate([np.ones((4, 1)), X], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, Y.astype(np.float64), rcond=None)
    return float(np.mean((design @ coef - Y) ** 2)), coef.ravel()


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "xor", argv)
    epochs = 300 if args.quick else 1000
    restarts = 8

    print("003's worked example: 2-3-1 network, identity activation, all weights 1, "
          f"lr {LR}, input (0, 0), target 0")
    steps = first_update()
    s = steps[0]
    print(f"  forward: Z1, Z2, Z3 = {s['hidden']}, D0 = {s['pred']:g}, "
          f"actual - predicted = {s['residual']:g}")
    for s in steps:
        print(f"  after one step by {s['rule']}:")
        print(f"    weights from X1, X2: {np.round(s['w_from_inputs'], 4).tolist()}")
        print(f"    hidden biases: {np.round(s['b_hidden'], 4).tolist()}, "
              f"hidden->output: {np.round(s['w_to_output'], 4).tolist()}, "
              f"output bias: {s['b_output']:.4f}")
        print(f"    prediction for (0, 0): {s['pred']:g} -> {s['new_pred']:.4f}")
    print("  (the text says 'all weights ~ 1.4': only the bias and hidden->output links "
          "move, and 1.4 is a step uphill)\n")

    lsq_mse, lsq_coef = least_squares_mse()
    runs = {}
    # (title, activation, init, copies, loss, optimizer)
    configs = [
        ("text: identity, all ones, SGD lr 0.1", nn.Identity(), "ones", 1, "mse", "sgd"),
        ("identity, random init, Adam", nn.Identity(), "random", restarts, "bce", "adam"),
        ("tanh, all ones, SGD lr 0.1", nn.Tanh(), "ones", 1, "bce", "sgd"),
        ("tanh, random init, Adam", nn.Tanh(), "random", restarts, "bce", "adam"),
        ("sigmoid, random init, Adam", nn.Sigmoid(), "random", restarts, "bce", "adam"),
    ]
    for name, act, init, copies, loss_name, opt_name in configs:
        model = Nets(act, init, copies)
        opt = (optim.SGD(model.parameters(), lr=LR) if opt_name == "sgd"
               else optim.Adam(model.parameters(), lr=0.05))
        history, spread = train(model, loss_name, epochs, opt, name)
        p = probabilities(model, X, loss_name)
        accs = np.array([nn.metrics.accuracy(pc, Y.ravel()) for pc in p])
        best = int(np.argmin(history[-1]))
        runs[name] = dict(model=model, loss=loss_name, history=history, spread=spread,
                          accuracy=accs, best=best, outputs=p[best])

    print(f"{'network (copies trained)':44s} {'loss':>4s} {'best':>7s} {'best acc':>8s} "
          f"{'100% runs':>9s}  {'hidden spread':>13s}  P(y=1) for 00 01 10 11 (best run)")
    for name, r in runs.items():
        n = len(r["accuracy"])
        print(f"{name + f' ({n})':44s} {r['loss']:>4s} {r['history'][-1, r['best']]:7.4f} "
              f"{r['accuracy'][r['best']]:8.0%} {np.sum(r['accuracy'] == 1.0):5d}/{n:<3d}  "
              f"{np.min(r['spread']):13.2e}  "
              f"{np.round(r['outputs'].astype(float), 3).tolist()}")
    print(f"\nBest linear fit (least squares, closed form): MSE {lsq_mse:.4f} with "
          f"y_hat = {lsq_coef[0]:.3f} + {abs(lsq_coef[1]):.3f} x1 + {abs(lsq_coef[2]):.3f} x2 "
          f"(0.5 everywhere, so the 0.5 threshold reads rounding noise); "
          f"BCE of a constant 0.5: log 2 = {np.log(2):.4f}")
    print("Equal initial weights get equal gradients: the hidden units of both all-ones "
          "networks never differ (spread 0), whatever the number of epochs.")
    print("From a random start a 2-3-1 net can still stall in a local minimum (3 of 4 "
          "right) or sit long on a plateau; the restarts show how often.")

    plot(args.out, runs, lsq_mse)
    text, lin, sym, tanh_r, sig_r = runs.values()
    return {
        "text_first_step_pred": steps[0]["pred"],
        "descent_new_pred": steps[0]["new_pred"],
        "text_rule_new_pred": steps[1]["new_pred"],
        "text_rule_hidden_out_weight": steps[1]["w_to_output"][0],
        "descent_hidden_out_weight": steps[0]["w_to_output"][0],
        "linear_text_mse": float(text["history"][-1, 0]),
        "linear_lstsq_mse": lsq_mse,
        "linear_text_accuracy": float(text["accuracy"][0]),
        "linear_text_spread": float(text["spread"][0]),
        "linear_random_bce": float(lin["history"][-1].min()),
        "linear_random_accuracy": float(lin["accuracy"].max()),
        "tanh_ones_spread": float(sym["spread"][0]),
        "tanh_ones_accuracy": float(sym["accuracy"][0]),
        "tanh_random_accuracy": float(tanh_r["accuracy"].max()),
        "tanh_random_successes": int(np.sum(tanh_r["accuracy"] == 1.0)),
        "tanh_random_loss_first": float(tanh_r["history"][0, tanh_r["best"]]),
        "tanh_random_loss_last": float(tanh_r["history"][-1, tanh_r["best"]]),
        "sigmoid_random_accuracy": float(sig_r["accuracy"].max()),
    }


def plot(out, runs, lsq_mse):
    plt = pyplot()
    g = np.linspace(-0.5, 1.5, 121)
    gx, gy = np.meshgrid(g, g)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    fig, axes = plt.subplots(1, len(runs), figsize=(3.3 * len(runs), 3.5))
    for ax, (name, r) in zip(axes, runs.items()):
        p = probabilities(r["model"], grid, r["loss"])[r["best"]].reshape(gx.shape)
        ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", vmin=0, vmax=1)
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
        ax.scatter(X[:, 0], X[:, 1], c=Y.ravel(), cmap="RdBu_r", edgecolors="k", s=90,
                   vmin=0, vmax=1)
        ax.set_title(f"{name}\nbest of {len(r['accuracy'])}: accuracy "
                     f"{r['accuracy'][r['best']]:.0%}", fontsize=8.5)
        ax.set_xlabel("x1")
        ax.set_aspect("equal")
    axes[0].set_ylabel("x2")
    fig.suptitle("XOR: P(y = 1) and the 0.5 boundary", y=1.02)
    save_figure(fig, out, "xor_decision_regions.png")

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, r) in enumerate(runs.items()):
        ax = a1 if r["loss"] == "mse" else a2
        for c in range(r["history"].shape[1]):
            ax.plot(r["history"][:, c], color=colors[k % len(colors)], lw=1, alpha=0.7,
                    label=name if c == 0 else None)
    a1.axhline(lsq_mse, color="gray", ls="--", label=f"best linear fit, MSE {lsq_mse:.2f}")
    a1.set(title="the text's setup (MSE)", xlabel="epoch (full batch)", ylabel="MSE",
           yscale="log")
    a2.axhline(np.log(2), color="gray", ls="--", label="log 2 (chance)")
    a2.set(title="binary cross-entropy on logits (every restart)",
           xlabel="epoch (full batch)", ylabel="BCE", yscale="log")
    a1.legend(fontsize=8)
    a2.legend(fontsize=7)
    save_figure(fig, out, "xor_loss_curves.png")


if __name__ == "__main__":
    main()
