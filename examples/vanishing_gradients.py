"""Vanishing (and exploding) gradients: how much gradient reaches each layer of a
20-layer network, for sigmoid, tanh, ReLU and SELU, each with Xavier, He and LeCun
initialisation — measured with autograd on one batch.

    python3 examples/vanishing_gradients.py [--out out/vanishing_gradients] [--quick]

Each network is 20 square Linear layers (biases 0), the activation after every one,
fed a batch of N(0, 1) inputs. The loss is a fixed random linear read-out of the last
layer, L = mean over the batch of a_L·r, so the gradient arriving at the top, r/B, is
the same for every network: what happens below it is the layers' doing alone.

Writes gradient_norms.png: per activation (columns), per initialisation (lines),
  ‖∂L/∂a_l‖  the backpropagated gradient at the output a_l of layer l,
  ‖∂L/∂W_l‖  the gradient the optimiser gets for layer l's weight,
  std(a_l)   the forward signal, which explains both,
and prints a table and the expected pattern: sigmoid vanishes whatever the
initialisation (σ′ ≤ 1/4 per layer), ReLU needs He's gain √2 (with Xavier/LeCun the
signal halves in variance at every layer), SELU with LeCun keeps mean 0 and variance 1.
With fan_in = fan_out, Xavier's variance 2/(fan_in + fan_out) equals LeCun's 1/fan_in,
so those two lines differ only by their random draws.
"""
import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, save_figure

import autograd as ag
import nn

DEPTH = 20
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "selu": nn.SELU}
INITS = {
    "xavier": lambda w: nn.init.xavier_normal_(w),                        # 2/(in + out)
    "he": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),      # 2/in
    "lecun": lambda w: nn.init.lecun_normal_(w),                          # 1/in
}
# ratio ‖∂L/∂a_1‖ / ‖∂L/∂a_L‖: below VANISH the first layers barely learn, above GROW
# the gradient is amplified on the way down
VANISH, GROW = 1e-2, 1e1


class Deep(nn.Module):
    """DEPTH × (Linear(width, width) → activation); forward returns every layer's output."""

    def __init__(self, width, activation, init):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(DEPTH))
        self.act = ACTIVATIONS[activation]()
        for layer in self.layers:
            INITS[init](layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        outs = []
        for layer in self.layers:
            x = self.act(layer(x))
            outs.append(x)
        return outs


def measure(activation, init, x, readout, width):
    """Per layer: ‖∂L/∂a_l‖, ‖∂L/∂W_l‖ (Frobenius) and std(a_l), for one fresh network."""
    model = Deep(width, activation, init)
    outs = model(x)
    loss = (outs[-1] @ readout).mean()
    weights = [layer.weight for layer in model.layers]
    grads = ag.grad(loss, outs + weights)          # intermediate tensors are inputs too
    signal = np.array([np.linalg.norm(g.data) for g in grads[:DEPTH]])
    weight = np.array([np.linalg.norm(g.data) for g in grads[DEPTH:]])
    std = np.array([a.data.std() for a in outs])
    return signal, weight, std


def widen(ax, decades=4):
    """Show at least ``decades`` on a log10 axis, so a flat curve also looks flat."""
    lo, hi = ax.get_ylim()
    if hi - lo < decades:
        mid = (lo + hi) / 2
        ax.set_ylim(mid - decades / 2, mid + decades / 2)


def verdict(ratio):
    return "vanishes" if ratio < VANISH else "grows" if ratio > GROW else "healthy"


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "vanishing_gradients", argv)
    # several draws, averaged geometrically (the norms are log-normal-ish)
    seeds, width, batch = (1, 64, 128) if args.quick else (3, 128, 128)
    combos = [(a, i) for a in ACTIVATIONS for i in INITS]
    logs = {c: [] for c in combos}
    for s in progress(range(seeds), desc="draws"):
        ag.manual_seed(args.seed + s)
        x = ag.randn(batch, width)
        readout = ag.randn(width)
        for c in combos:
            logs[c].append(np.log(measure(*c, x, readout, width)))
    results = {}
    for c in combos:
        signal, weight, std = np.exp(np.mean(logs[c], axis=0))
        ratio = signal[0] / signal[-1]
        results[c] = dict(signal=signal, weight=weight, std=std, ratio=float(ratio),
                          verdict=verdict(ratio))

    print(f"{DEPTH} layers of width {width}, batch {batch}, geometric mean of {seeds} draw(s)")
    print(f"{'activation':10s} {'init':7s} {'‖∂L/∂a_1‖':>10s} {'‖∂L/∂a_10‖':>11s} "
          f"{'‖∂L/∂a_20‖':>11s} {'ratio 1/20':>11s} {'‖∂L/∂W_1‖':>10s} {'‖∂L/∂W_20‖':>11s} "
          f"{'std(a_20)':>10s}  verdict")
    for (a, i), r in results.items():
        sig, w = r["signal"], r["weight"]
        print(f"{a:10s} {i:7s} {sig[0]:10.2e} {sig[DEPTH // 2 - 1]:11.2e} {sig[-1]:11.2e} "
              f"{r['ratio']:11.2e} {w[0]:10.2e} {w[-1]:11.2e} {r['std'][-1]:10.2e}  "
              f"{r['verdict']}")

    pattern = {
        "sigmoid vanishes with every init":
            all(results["sigmoid", i]["verdict"] == "vanishes" for i in INITS),
        "relu + he is healthy": results["relu", "he"]["verdict"] == "healthy",
        "relu + xavier vanishes": results["relu", "xavier"]["verdict"] == "vanishes",
        "selu + lecun is healthy": results["selu", "lecun"]["verdict"] == "healthy",
        "selu + lecun keeps unit variance":
            0.5 < results["selu", "lecun"]["std"][-1] < 2.0,
    }
    print("\nexpected pattern:")
    for claim, ok in pattern.items():
        print(f"  {'yes' if ok else 'NO '}  {claim}")

    plt = pyplot()
    fig, axes = plt.subplots(3, len(ACTIVATIONS), figsize=(15, 10), sharex=True,
                             gridspec_kw=dict(hspace=0.08, wspace=0.25, top=0.93))
    depth = np.arange(1, DEPTH + 1)
    # log10 values on linear axes: log axes' tick labels make saving this figure 2× slower
    rows = [("signal", "log₁₀ ‖∂L/∂a_l‖ (backpropagated)"),
            ("weight", "log₁₀ ‖∂L/∂W_l‖ (weight gradient)"),
            ("std", "log₁₀ std(a_l) (forward signal)")]
    for col, a in enumerate(ACTIVATIONS):
        for row, (key, label) in enumerate(rows):
            ax = axes[row, col]
            for k, i in enumerate(INITS):
                r = results[a, i]
                ax.plot(depth, np.log10(r[key]), marker=".", color=f"C{k}",
                            ls="--" if i == "lecun" else "-",
                            label=f"{i} ({r['verdict']})" if row == 0 else i)
            ax.set_ylabel(label if col == 0 else "")
            widen(ax)
            if row == 0:
                ax.set_title(a)
                ax.legend(fontsize=8)
            if row == len(rows) - 1:
                ax.set_xlabel("layer l (1 = nearest the input)")
    fig.suptitle(f"{DEPTH}-layer networks: gradient reaching each layer, by activation "
                 "and initialisation (Xavier = LeCun in variance here: fan_in = fan_out)")
    save_figure(fig, args.out, "gradient_norms.png")
    return {
        "ratio": {f"{a}+{i}": r["ratio"] for (a, i), r in results.items()},
        "verdict": {f"{a}+{i}": r["verdict"] for (a, i), r in results.items()},
        "signal_norms": {f"{a}+{i}": r["signal"] for (a, i), r in results.items()},
        "weight_grad_norms": {f"{a}+{i}": r["weight"] for (a, i), r in results.items()},
        "pattern": pattern,
    }


if __name__ == "__main__":
    main()
