"""An RNN, an LSTM and a GRU learn to predict the next value of noisy sine waves.

    python3 examples/sequence_rnn.py [--out out/sequence_rnn] [--quick] [--seed 0] [--epochs N]

Every sequence is a sine wave of its own frequency, phase and amplitude, observed with
noise: x_t = a·sin(ω·t·Δ + φ) + 0.05·ε_t. At each step the network reads x_1..x_t and
predicts the clean next value a·sin(ω·(t+1)·Δ + φ), so it has to infer the wave from
what it has seen and filter out the noise. The three recurrent layers (nn.RNN,
nn.LSTM, nn.GRU, batch_first) share everything else: the same data, a Linear head,
Adam, gradient clipping and the number of epochs. Writes
  sequence_losses.png  training loss per step and test MSE per epoch of the three,
                       against the naive "next = current" forecast
  predictions.png      one test sequence and the three models' predictions
"""
import time

import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, save_figure

import autograd as ag
import nn
import nn.functional as F
import optim

KINDS = ("RNN", "LSTM", "GRU")
FULL_EPOCHS, QUICK_EPOCHS = 20, 3
STEPS, DT, NOISE = 40, 0.3, 0.05


def sine_waves(n, rng):
    """Inputs (n, STEPS, 1): noisy waves; targets (n, STEPS, 1): the clean value one
    step ahead of each input."""
    t = np.arange(STEPS + 1) * DT
    omega = rng.uniform(0.5, 1.5, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    amplitude = rng.uniform(0.5, 1.0, (n, 1))
    clean = amplitude * np.sin(omega * t + phase)
    noisy = clean + NOISE * rng.standard_normal(clean.shape)
    return (noisy[:, :-1, None].astype(np.float32), clean[:, 1:, None].astype(np.float32))


class NextValue(nn.Module):
    """A recurrent layer read by a Linear head at every time step."""

    def __init__(self, kind, hidden_size=24):
        super().__init__()
        self.rnn = getattr(nn, kind)(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        states, _ = self.rnn(x)          # (N, T, H); the final state is not needed
        return self.head(states)         # (N, T, 1)


def test_mse(model, X, Y):
    model.eval()
    with ag.no_grad():
        return F.mse_loss(model(ag.Tensor(X)), Y).item()


def train(kind, data, epochs):
    X_train, Y_train, X_test, Y_test = data
    model = NextValue(kind)
    opt = optim.Adam(model.parameters(), lr=2e-2)
    step_losses, epoch_mse = [], []
    bar = progress(range(1, epochs + 1), desc=kind, unit="epoch")
    for _ in bar:
        model.train()
        for xb, yb in nn.utils.batches(X_train, Y_train, batch_size=64):
            opt.zero_grad()
            loss = F.mse_loss(model(ag.Tensor(xb)), yb)
            loss.backward()
            # Long unrolled sequences can produce an occasional very large gradient.
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            opt.step()
            step_losses.append(loss.item())
        epoch_mse.append(test_mse(model, X_test, Y_test))
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(test_mse=f"{epoch_mse[-1]:.4f}")
    return model, np.array(step_losses), np.array(epoch_mse)


def smooth(values, width):
    """Moving average (valid part), so the noisy per-step losses show their trend."""
    width = max(1, min(width, len(values)))
    return np.convolve(values, np.ones(width) / width, mode="valid")


def plot_losses(results, persistence, steps_per_epoch, out):
    plt = pyplot()
    fig, (ax_steps, ax_test) = plt.subplots(1, 2, figsize=(10, 3.6))
    for kind, (_, steps, tests) in results.items():
        curve = smooth(steps, steps_per_epoch)
        ax_steps.plot(np.arange(len(curve)) + len(steps) - len(curve) + 1, curve, label=kind)
        ax_test.plot(np.arange(1, len(tests) + 1), tests, "o-", ms=3, label=kind)
    for ax in (ax_steps, ax_test):
        ax.axhline(persistence, ls="--", color="grey", label="next = current")
        ax.set_yscale("log")
        ax.legend()
    ax_steps.set(xlabel="training step", ylabel="MSE (moving average over an epoch)",
                 title="training loss")
    ax_test.set(xlabel="epoch", ylabel="MSE", title="test loss")
    fig.suptitle("next value of noisy sine waves: RNN vs LSTM vs GRU", y=1.02)
    return save_figure(fig, out, "sequence_losses.png")


def plot_predictions(results, X_test, Y_test, out, k=0):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.4))
    t = np.arange(1, STEPS + 1)
    ax.plot(t, X_test[k, :, 0], ".", color="grey", label="noisy input $x_t$")
    ax.plot(t, Y_test[k, :, 0], "k-", lw=2, alpha=0.4, label="clean next value (target)")
    for kind, (model, _, _) in results.items():
        model.eval()
        with ag.no_grad():
            pred = model(ag.Tensor(X_test[k:k + 1])).data[0, :, 0]
        ax.plot(t, pred, label=kind)
    ax.set(xlabel="time step t", ylabel="value", title="one test sequence")
    ax.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return save_figure(fig, out, "predictions.png")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "sequence_rnn", argv,
                      epochs=(int, None, f"training epochs (default {FULL_EPOCHS}, "
                                         f"{QUICK_EPOCHS} with --quick)"))
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else FULL_EPOCHS)
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    X_train, Y_train = sine_waves(512, rng)
    X_test, Y_test = sine_waves(128, rng)
    # The naive forecast: the next value equals the current (noisy) one.
    persistence = float(np.mean((X_test - Y_test) ** 2))
    print(f"{len(X_train)} training and {len(X_test)} test sequences of {STEPS} steps; "
          f"'next = current' scores a test MSE of {persistence:.4f}")

    results = {}
    for kind in KINDS:
        t0 = time.perf_counter()
        results[kind] = train(kind, (X_train, Y_train, X_test, Y_test), epochs)
        model, steps, tests = results[kind]
        n_params = sum(p.size for p in model.parameters())
        print(f"{kind:4s}  {n_params:5d} parameters   training loss {steps[0]:.4f} -> "
              f"{steps[-1]:.4f}   test MSE {tests[-1]:.4f}   "
              f"({time.perf_counter() - t0:.1f} s)")

    steps_per_epoch = -(-len(X_train) // 64)
    files = [plot_losses(results, persistence, steps_per_epoch, args.out),
             plot_predictions(results, X_test, Y_test, args.out)]
    seconds = time.perf_counter() - start

    final = {kind: float(r[2][-1]) for kind, r in results.items()}
    best = min(final, key=final.get)
    print("\nSummary: final test MSE after", epochs, "epochs")
    for kind in KINDS:
        print(f"  {kind:4s}  {final[kind]:.5f}   ({persistence / final[kind]:.1f}x better than "
              f"'next = current')")
    print(f"  best: {best};  time {seconds:.1f} s")
    return {"final_test_mse": final, "persistence_mse": persistence,
            "first_train_loss": {k: float(r[1][0]) for k, r in results.items()},
            "final_train_loss": {k: float(r[1][-1]) for k, r in results.items()},
            "epochs": epochs, "seconds": seconds, "files": files}


if __name__ == "__main__":
    main()
