"""Rosenblatt's perceptron rule and the delta rule (Widrow-Hoff) against backpropagation.

    python3 examples/perceptron.py [--out out/perceptron] [--quick] [--seed 0]

Text 003 (§1.3) describes the perceptron, a threshold unit ŷ = 1[w·x + b > 0], and says
it is "confined to solving linearly separable problems"; text 002 describes the delta
rule (least mean squares) and backpropagation as its generalisation. Four learners on
two generated sets (scikit-learn, fixed seeds):

- perceptron rule:   w ← w + η(y − ŷ)x after each example, ŷ from F.binary_step. It
  has no gradient; on a separable set it stops making mistakes after finitely many
  updates (Novikoff's theorem), on a non-separable set it never settles.
- delta rule (LMS):  a linear unit trained example by example on ½(t − w·x − b)², i.e.
  optim.SGD on one example at a time; checked against the hand rule Δw = η(t − y)x.
- logistic regression: one sigmoid unit trained by backpropagation (autograd) on the
  binary cross-entropy, full batch.
- a one-hidden-layer tanh network (backpropagation through two layers).

Sets: "separable" is two Gaussian blobs without the points on the wrong side of the
line x1 + x2 = 0 or near it (so it is separable for any seed); "moons" (make_moons,
noise 0.25) is not.
Writes perceptron_boundaries.png and perceptron_training.png into the output folder.
"""
import numpy as np
from sklearn.datasets import make_blobs, make_moons

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, save_figure

import autograd as ag
import nn
import nn.functional as F
import optim

F64 = np.float64


def datasets(seed):
    x, y = make_blobs(n_samples=300, centers=[(-1.0, -1.0), (1.0, 1.0)], cluster_std=1.0,
                      random_state=seed)
    # Drop the points on the wrong side of x1 + x2 = 0 or within 0.15 of it: separable
    # with a margin, whatever the seed.
    keep = (2 * y - 1) * x.sum(axis=1) > 0.15
    sep = x[keep][:200], y[keep][:200]
    moons = make_moons(n_samples=200, noise=0.25, random_state=seed)
    out = {}
    for name, (x, y) in (("separable", sep), ("moons", moons)):
        x = (x - x.mean(axis=0)) / x.std(axis=0)     # standardise: (x − μ)/σ
        out[name] = (x.astype(F64), y.astype(F64))
    return out


def perceptron(x, y, epochs, rng, lr=1.0):
    """Rosenblatt's rule, online; stops after the first epoch without a mistake."""
    X, Y = ag.tensor(x), ag.tensor(y)
    w, b = ag.zeros(2, dtype=F64), ag.tensor(0.0, dtype=F64)
    mistakes = []
    with ag.no_grad():
        for _ in range(epochs):
            wrong = 0
            for i in rng.permutation(len(y)):
                y_hat = F.binary_step(X[i] @ w + b)
                err = Y[i] - y_hat                     # 0, or ±1 on a mistake
                if err.item() != 0:
                    wrong += 1
                    w = w + lr * err * X[i]
                    b = b + lr * err
            mistakes.append(wrong)
            if wrong == 0:
                break
    predict = lambda p: F.binary_step(ag.tensor(p) @ w + b).data  # noqa: E731
    return predict, mistakes


def delta_rule(x, y, epochs, rng, lr=0.01):
    """LMS / Widrow-Hoff: per-example SGD on ½(t − w·x − b)², targets t = ±1."""
    layer = nn.Linear(2, 1).double()
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    opt = optim.SGD(layer.parameters(), lr=lr)
    X, T = ag.tensor(x), ag.tensor(2 * y - 1)
    losses, first_check = [], None
    for _ in range(epochs):
        total = 0.0
        for i in rng.permutation(len(y)):
            xi, ti = X[i:i + 1], T[i:i + 1, None]
            out = layer(xi)
            loss = 0.5 * F.mse_loss(out, ti, reduction="sum")
            opt.zero_grad()
            loss.backward()
            if first_check is None:      # the engine's step is the textbook rule
                before = layer.weight.data.copy()
                hand = lr * (ti.data - out.data) * xi.data
            opt.step()
            if first_check is None:
                first_check = float(np.max(np.abs(layer.weight.data - before - hand)))
            total += loss.item()
        losses.append(total / len(y))
    predict = lambda p: (layer(ag.tensor(p)).data[:, 0] > 0).astype(F64)  # noqa: E731
    return predict, losses, first_check


def backprop(model, x, y, steps, lr, desc):
    """Full-batch Adam on the binary cross-entropy of the model's logits."""
    opt = optim.Adam(model.parameters(), lr=lr)
    X, Y = ag.tensor(x), ag.tensor(y[:, None])
    losses = []
    for _ in progress(range(steps), desc=desc):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(X), Y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    predict = lambda p: (model(ag.tensor(p)).data[:, 0] > 0).astype(F64)  # noqa: E731
    return predict, losses


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "perceptron", argv)
    epochs = 10 if args.quick else 30          # perceptron (cheap, stops when done)
    lms_epochs = 4 if args.quick else 15       # delta rule: one graph per example
    steps = 150 if args.quick else 400
    data = datasets(args.seed)
    rng = np.random.default_rng(args.seed)

    results = {}
    for name, (x, y) in progress(list(data.items()), desc="datasets"):
        p_pred, mistakes = perceptron(x, y, epochs, rng)
        d_pred, d_losses, d_check = delta_rule(x, y, lms_epochs, rng)
        l_pred, l_losses = backprop(nn.Linear(2, 1).double(), x, y, steps, 0.1,
                                    f"logistic {name}")
        mlp = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)).double()
        m_pred, m_losses = backprop(mlp, x, y, steps, 0.05, f"MLP {name}")
        results[name] = {
            "perceptron rule": dict(predict=p_pred, curve=mistakes),
            "delta rule (LMS)": dict(predict=d_pred, curve=d_losses, check=d_check),
            "logistic (backprop)": dict(predict=l_pred, curve=l_losses),
            "tanh MLP (backprop)": dict(predict=m_pred, curve=m_losses),
        }
        for r in results[name].values():
            with ag.no_grad():
                r["accuracy"] = nn.metrics.accuracy(r["predict"](x), y)

    methods = list(results["separable"])
    print(f"\n{'training accuracy':22s} {'separable':>10s} {'moons':>10s}")
    for m in methods:
        print(f"{m:22s} {results['separable'][m]['accuracy']:10.1%} "
              f"{results['moons'][m]['accuracy']:10.1%}")
    sep_m = results["separable"]["perceptron rule"]["curve"]
    moon_m = results["moons"]["perceptron rule"]["curve"]
    sep_converged = sep_m[-1] == 0
    print(f"\nPerceptron mistakes per epoch, separable: {sep_m}"
          + (f" -> converged in epoch {len(sep_m)}" if sep_converged else " (not yet)"))
    print(f"Perceptron mistakes per epoch, moons:     {moon_m} -> never 0: on a "
          "non-separable set the rule keeps changing the weights, and its accuracy "
          "depends on where it stops.")
    if results["separable"]["delta rule (LMS)"]["accuracy"] < 1:
        print("The delta rule minimises the squared error, not the number of mistakes: "
              "even on a separable set its line may misclassify a point.")
    checks = [results[d]["delta rule (LMS)"]["check"] for d in results]
    print(f"Delta rule: optim.SGD's step on ½(t − y)² equals η(t − y)x "
          f"(max difference {max(checks):.1e}).")

    plot(args.out, data, results)
    metrics = {"perceptron_separable_converged": bool(sep_converged),
               "perceptron_separable_epochs": len(sep_m),
               "perceptron_moons_min_mistakes": int(min(moon_m)),
               "delta_rule_step_error": float(max(checks))}
    for d in results:
        for m, r in results[d].items():
            key = m.split()[0].lower()
            metrics[f"{key}_{d}_accuracy"] = r["accuracy"]
        for m in ("logistic (backprop)", "tanh MLP (backprop)"):
            c = results[d][m]["curve"]
            metrics[f"{m.split()[0].lower()}_{d}_loss_first"] = c[0]
            metrics[f"{m.split()[0].lower()}_{d}_loss_last"] = c[-1]
    return metrics


def plot(out, data, results):
    plt = pyplot()
    methods = list(results["separable"])
    fig, axes = plt.subplots(len(data), len(methods), figsize=(3.2 * len(methods), 6.4))
    for row, (name, (x, y)) in zip(axes, data.items()):
        lo, hi = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        for ax, m in zip(row, methods):
            r = results[name][m]
            with ag.no_grad():
                z = r["predict"](grid).reshape(gx.shape)
            ax.contourf(gx, gy, z, levels=[-0.5, 0.5, 1.5], colors=["#cfe2ff", "#ffd9a8"])
            ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=10, edgecolors="none")
            ax.set_title(f"{m}\n{name}: accuracy {r['accuracy']:.1%}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    save_figure(fig, out, "perceptron_boundaries.png")

    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(13, 3.6))
    for name in results:
        a1.plot(range(1, len(results[name]["perceptron rule"]["curve"]) + 1),
                results[name]["perceptron rule"]["curve"], "o-", label=name)
        a2.plot(range(1, len(results[name]["delta rule (LMS)"]["curve"]) + 1),
                results[name]["delta rule (LMS)"]["curve"], "o-", label=name)
        for m, ls in (("logistic (backprop)", "-"), ("tanh MLP (backprop)", "--")):
            a3.plot(results[name][m]["curve"], ls=ls, label=f"{m.split()[0]}, {name}")
    a1.set(title="perceptron rule: mistakes per epoch", xlabel="epoch", ylabel="mistakes")
    a2.set(title="delta rule: mean ½(t − y)² per epoch", xlabel="epoch", ylabel="loss")
    a3.set(title="backpropagation: BCE", xlabel="step (full batch, Adam)", ylabel="BCE",
           yscale="log")
    for ax in (a1, a2, a3):
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out, "perceptron_training.png")


if __name__ == "__main__":
    main()
