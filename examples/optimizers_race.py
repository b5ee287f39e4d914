"""Every optimiser of `optim`, raced: on the Rosenbrock valley, on a small network, and
batch vs stochastic vs mini-batch gradient descent; plus the learning-rate schedules.

    python3 examples/optimizers_race.py [--out out/optimizers_race] [--quick] [--tune 1]

Writes, into the output folder:
  rosenbrock.png      each optimiser's path over the contours of
                      f(x, y) = (1 − x)² + 100(y − x²)², from (−1.5, 2) towards the
                      minimum (1, 1), and the distance to (1, 1) against the step
  network.png         training loss per epoch of a 64-32-10 tanh MLP on scikit-learn's
                      bundled digits, one curve per optimiser, same start, same batches
  gd_variants.png     batch (all samples per step), mini-batch (32) and stochastic
                      (1 sample per step) gradient descent: loss against epochs and
                      against wall-clock seconds
  lr_schedules.png    StepLR, CosineAnnealingLR, CosineAnnealingWarmRestarts and a
                      LinearLR warm-up: the learning rate at every epoch
and prints the hyper-parameters of every optimiser with its result.

The learning rates below are the best of a grid (LR_GRID, the other settings fixed):
on Rosenbrock by the distance to (1, 1) after 2000 steps, on the network by the
training loss after 12 epochs. `--tune 1` reruns that grid (a few minutes) and races
with what it finds.
"""
import time

import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, save_figure

import autograd as ag
import nn
import nn.functional as F
import optim

START = (-1.5, 2.0)
MINIMUM = np.array([1.0, 1.0])
LR_GRID = [1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]

# name -> (optimizer class, keyword arguments). Momentum (the texts' EMA form,
# v ← βv + (1−β)g) with lr = η/(1−β) takes exactly SGD+momentum's steps at lr = η:
# its tuned rate is SGD+momentum's divided by 1 − β, and the two curves coincide.
ROSENBROCK = {
    "SGD": (optim.SGD, dict(lr=2e-3)),
    "SGD+momentum": (optim.SGD, dict(lr=2e-3, momentum=0.9)),
    "SGD+Nesterov": (optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True)),
    "Momentum": (optim.Momentum, dict(lr=2e-2, beta=0.9)),
    "Adagrad": (optim.Adagrad, dict(lr=2.0)),
    "RMSprop": (optim.RMSprop, dict(lr=2e-3, alpha=0.99, momentum=0.9)),
    "Adadelta": (optim.Adadelta, dict(lr=0.5, rho=0.9)),
    "Adam": (optim.Adam, dict(lr=0.2)),
    "AMSGrad": (optim.Adam, dict(lr=2.0, amsgrad=True)),
    "AdamW": (optim.AdamW, dict(lr=5e-2, weight_decay=1e-3)),
    "NAdam": (optim.NAdam, dict(lr=1e-2, betas=(0.9, 0.99))),
    "LAMB": (optim.LAMB, dict(lr=2e-2, betas=(0.9, 0.99))),
    # One L-BFGS iteration per step(); max_eval leaves room for the line search
    # (the default max_eval = max_iter·5/4 = 1 would stop it before it moves).
    "LBFGS": (optim.LBFGS, dict(lr=1.0, max_iter=1, max_eval=25,
                                line_search_fn="strong_wolfe")),
}
NETWORK = {
    "SGD": (optim.SGD, dict(lr=1.0)),
    "SGD+momentum": (optim.SGD, dict(lr=0.5, momentum=0.9)),
    "SGD+Nesterov": (optim.SGD, dict(lr=0.5, momentum=0.9, nesterov=True)),
    "Momentum": (optim.Momentum, dict(lr=5.0, beta=0.9)),
    "Adagrad": (optim.Adagrad, dict(lr=0.2)),
    "RMSprop": (optim.RMSprop, dict(lr=2e-2)),
    "Adadelta": (optim.Adadelta, dict(lr=5.0)),
    "Adam": (optim.Adam, dict(lr=5e-2)),
    "AMSGrad": (optim.Adam, dict(lr=5e-2, amsgrad=True)),
    "AdamW": (optim.AdamW, dict(lr=5e-2)),
    "NAdam": (optim.NAdam, dict(lr=5e-2)),
    "LAMB": (optim.LAMB, dict(lr=1e-2)),
    # Full batch, up to 20 iterations an epoch: about the 22 gradients a mini-batch
    # epoch costs the others.
    "LBFGS": (optim.LBFGS, dict(lr=1.0, max_iter=20, line_search_fn="strong_wolfe")),
}
BATCH_SIZE = 64
# (label, batch size or None for the whole set, learning rate)
GD_VARIANTS = [("batch", None, 1.0), ("mini-batch (32)", 32, 0.3), ("stochastic (1)", 1, 0.03)]


# 13 curves: ten colours, then dashed; Momentum dashed so SGD+momentum shows beneath it
STYLES = [dict(color=f"C{i % 10}", ls="--" if i >= 10 or i == 3 else "-") for i in range(13)]


def describe(kwargs):
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in kwargs.items())


# ---------------------------------------------------------------- Rosenbrock
def rosenbrock(p):
    """f(x, y) = (1 − x)² + 100(y − x²)²; minimum 0 at (1, 1), in a curved flat valley."""
    x, y = p[0], p[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def run_rosenbrock(cls, kwargs, steps):
    """Minimise f from START; returns the path, an array (steps + 1, 2)."""
    p = ag.tensor(np.array(START), requires_grad=True)      # float64 keeps the tail exact
    opt = cls([p], **kwargs)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(p)
        loss.backward()
        return loss

    path = [p.data.copy()]
    for _ in range(steps):
        if not np.all(np.abs(p.data) < 1e6):
            break                                             # diverged: stop, keep the path
        opt.step(closure)
        path.append(p.data.copy())
    return np.array(path)


def distance(path):
    d = np.linalg.norm(path[-1] - MINIMUM)
    return float(d) if np.isfinite(d) else float("inf")


def rosenbrock_race(args, config, steps):
    results = {}
    for name in progress(config, desc="Rosenbrock"):
        cls, kwargs = config[name]
        path = run_rosenbrock(cls, kwargs, steps)
        dists = np.linalg.norm(path - MINIMUM, axis=1)
        hit = np.nonzero(dists < 1e-2)[0]
        results[name] = dict(path=path, dists=dists, distance=distance(path),
                             value=float(rosenbrock(ag.tensor(path[-1])).item()),
                             first_hit=int(hit[0]) if hit.size else None)
    print(f"\nRosenbrock from {START}, {steps} steps (LBFGS: one iteration per step)")
    print(f"{'optimiser':14s} {'hyper-parameters':60s} {'f(final)':>10s} "
          f"{'|p − (1,1)|':>12s} {'steps to 1e-2':>14s}")
    for name, r in results.items():
        hit = "-" if r["first_hit"] is None else str(r["first_hit"])
        print(f"{name:14s} {describe(config[name][1]):60s} {r['value']:10.2e} "
              f"{r['distance']:12.2e} {hit:>14s}")
    plot_rosenbrock(args, results)
    return results


def plot_rosenbrock(args, results):
    plt = pyplot()
    xs, ys = np.linspace(-2.0, 2.0, 120), np.linspace(-1.0, 3.0, 120)
    gx, gy = np.meshgrid(xs, ys)
    f = (1 - gx) ** 2 + 100 * (gy - gx ** 2) ** 2
    levels = np.logspace(-1, 3.5, 10)
    fig = plt.figure(figsize=(13, 12))
    grid = fig.add_gridspec(4, 4, hspace=0.3, top=0.94)   # (constrained layout: 2× slower)
    cells = [grid[i // 4, i % 4] for i in range(len(results))]
    for cell, (name, r) in zip(cells, results.items()):
        ax = fig.add_subplot(cell)
        ax.contour(gx, gy, f, levels=levels, colors="0.55", linewidths=0.6)
        path = r["path"]
        ax.plot(path[:, 0], path[:, 1], ".-", color="C3", ms=2, lw=0.8,
                markevery=max(1, len(path) // 150))
        ax.plot(*START, "o", color="C0")
        ax.plot(*MINIMUM, "*", color="gold", ms=12, mec="k")
        ax.set(xlim=(-2, 2), ylim=(-1, 3), title=f"{name}: |p − (1,1)| = {r['distance']:.1e}")
        ax.title.set_fontsize(9)
    ax = fig.add_subplot(grid[len(results) // 4, len(results) % 4:])
    for i, (name, r) in enumerate(results.items()):
        ax.semilogy(np.maximum(r["dists"], 1e-16), label=name, **STYLES[i])
    ax.set(xlabel="step", ylabel="distance to (1, 1)", title="convergence")
    ax.legend(fontsize=7, ncol=3)
    fig.suptitle("Rosenbrock: (1 − x)² + 100(y − x²)², tuned learning rates")
    save_figure(fig, args.out, "rosenbrock.png")


# ---------------------------------------------------------------- a small network
def digits(seed):
    """Digits scaled to [0, 1], split 75/25 with the classes kept in proportion."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def make_mlp():
    return nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))


def train_network(cls, kwargs, init, data, epochs, seed, desc):
    """Train from the weights ``init``; the full training loss after each epoch."""
    x_train, x_test, y_train, y_test = data
    model = make_mlp()
    model.load_state_dict(init)
    opt = cls(model.parameters(), **kwargs)
    xt, yt = ag.tensor(x_train), ag.tensor(y_train)

    def full_loss():
        return F.cross_entropy(model(xt), yt)

    def closure():
        opt.zero_grad()
        loss = full_loss()
        loss.backward()
        return loss

    with ag.no_grad():
        losses = [full_loss().item()]
    for epoch in progress(range(epochs), desc=desc):
        if isinstance(opt, optim.LBFGS):
            opt.step(closure)
        else:
            # the same batches, in the same order, for every optimiser
            for xb, yb in nn.utils.batches(x_train, y_train, batch_size=BATCH_SIZE,
                                           rng=seed * 1000 + epoch):
                opt.zero_grad()
                F.cross_entropy(model(ag.tensor(xb)), ag.tensor(yb)).backward()
                opt.step()
        with ag.no_grad():
            losses.append(full_loss().item())
    with ag.no_grad():
        acc = nn.metrics.accuracy(model(ag.tensor(x_test)), y_test)
    return np.array(losses), acc


def initial_weights(seed):
    ag.manual_seed(seed)
    return {k: v.numpy().copy() for k, v in make_mlp().state_dict().items()}


def network_race(args, config, data, epochs):
    init = initial_weights(args.seed)
    results = {}
    for name, (cls, kwargs) in config.items():
        losses, acc = train_network(cls, kwargs, init, data, epochs, args.seed, name)
        results[name] = dict(losses=losses, accuracy=acc)
    print(f"\ndigits MLP 64-32-10 (tanh), {epochs} epochs, batch {BATCH_SIZE} "
          "(LBFGS: full batch, ≤ 20 iterations an epoch)")
    print(f"{'optimiser':14s} {'hyper-parameters':60s} {'first loss':>10s} "
          f"{'last loss':>10s} {'test acc':>9s}")
    for name, r in results.items():
        print(f"{name:14s} {describe(config[name][1]):60s} {r['losses'][0]:10.4f} "
              f"{r['losses'][-1]:10.4f} {r['accuracy']:9.3f}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 5))
    for i, (name, r) in enumerate(results.items()):
        ax.semilogy(r["losses"], marker=".", **STYLES[i],
                    label=f"{name}: {r['losses'][-1]:.1e}, test acc {r['accuracy']:.3f}")
    # L-BFGS drives the training loss to ~1e-7 (it overfits); the floor keeps the
    # others readable, its final value is in the legend
    ax.set(xlabel="epoch", ylabel="training cross-entropy (full training set)",
           ylim=(1e-3, 4), title="64-32-10 MLP on digits: one start, one batch order")
    ax.legend(fontsize=7, title="final training loss, test accuracy", title_fontsize=7,
              loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, args.out, "network.png")
    return results


# ---------------------------------------------------------------- batch vs stochastic
def gd_variants(args, data, epochs):
    """Plain SGD, three batch sizes, on 256 training digits (so batch size 1 stays quick)."""
    x, y = data[0][:256], data[2][:256]
    init = initial_weights(args.seed)
    xt, yt = ag.tensor(x), ag.tensor(y)
    # one untimed pass first, so one-off costs don't land on the first variant's clock
    F.cross_entropy(make_mlp()(xt), yt).backward()
    results = {}
    for label, batch_size, lr in GD_VARIANTS:
        model = make_mlp()
        model.load_state_dict(init)
        opt = optim.SGD(model.parameters(), lr=lr)
        with ag.no_grad():
            losses, seconds = [F.cross_entropy(model(xt), yt).item()], [0.0]
        for epoch in progress(range(epochs), desc=label):
            start = time.perf_counter()
            for xb, yb in nn.utils.batches(x, y, batch_size=batch_size or len(x),
                                           rng=args.seed * 1000 + epoch):
                opt.zero_grad()
                F.cross_entropy(model(ag.tensor(xb)), ag.tensor(yb)).backward()
                opt.step()
            seconds.append(seconds[-1] + time.perf_counter() - start)  # evaluation excluded
            with ag.no_grad():
                losses.append(F.cross_entropy(model(xt), yt).item())
        steps = epochs * -(-len(x) // (batch_size or len(x)))
        results[label] = dict(losses=np.array(losses), seconds=np.array(seconds), lr=lr,
                              steps=steps)
    print(f"\nbatch vs mini-batch vs stochastic gradient descent (SGD, {len(x)} digits, "
          f"{epochs} epochs)")
    print(f"{'variant':18s} {'lr':>6s} {'updates':>8s} {'first loss':>10s} "
          f"{'last loss':>10s} {'seconds':>8s}")
    for label, r in results.items():
        print(f"{label:18s} {r['lr']:6g} {r['steps']:8d} {r['losses'][0]:10.4f} "
              f"{r['losses'][-1]:10.4f} {r['seconds'][-1]:8.2f}")
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, r in results.items():
        a1.plot(r["losses"], marker=".", label=f"{label}, lr={r['lr']:g}")
        a2.semilogx(r["seconds"][1:], r["losses"][1:], marker=".", label=label)
    a1.set(xlabel="epoch (one pass over the data)", ylabel="training cross-entropy",
           title="per epoch: small batches make more updates")
    a2.set(xlabel="wall-clock seconds (training only, log scale)",
           ylabel="training cross-entropy",
           title="per second: each step has a fixed cost, batches amortise it")
    a1.legend()
    a2.legend()
    save_figure(fig, args.out, "gd_variants.png")
    return results


# ---------------------------------------------------------------- schedules
def lr_schedules(args, epochs=60, lr=0.1):
    """The learning rate each schedule gives at the start of every epoch."""
    sched = optim.lr_scheduler
    makers = {
        "StepLR(step_size=10, gamma=0.5)":
            lambda o: sched.StepLR(o, step_size=10, gamma=0.5),
        f"CosineAnnealingLR(T_max={epochs})":
            lambda o: sched.CosineAnnealingLR(o, T_max=epochs),
        "CosineAnnealingWarmRestarts(T_0=10, T_mult=2)":
            lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2),
        "LinearLR(start_factor=0.1, total_iters=10) warm-up":
            lambda o: sched.LinearLR(o, start_factor=0.1, total_iters=10),
    }
    rates = {}
    for name, make in makers.items():
        p = ag.zeros(1, requires_grad=True)
        opt = optim.SGD([p], lr=lr)
        s = make(opt)
        seq = []
        for _ in range(epochs):
            seq.append(s.get_last_lr()[0])
            opt.step()          # no gradient: nothing moves, only the order matters
            s.step()
        rates[name] = np.array(seq)
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    for ax, (name, seq) in zip(axes.ravel(), rates.items()):
        ax.plot(seq, drawstyle="steps-post")
        ax.set(title=name, ylabel="lr", ylim=(0, lr * 1.1))
        ax.title.set_fontsize(9)
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    fig.suptitle(f"learning-rate schedules from lr = {lr}")
    save_figure(fig, args.out, "lr_schedules.png")
    return rates


# ---------------------------------------------------------------- tuning
def best_lr(table, score):
    """Each optimiser with the learning rate of LR_GRID that scores lowest (the other
    settings kept); LBFGS keeps lr = 1, its line search picks the step."""
    chosen = {}
    for name, (cls, kwargs) in progress(table.items(), desc="tuning"):
        if cls is optim.LBFGS:
            chosen[name] = (cls, kwargs)
            continue
        with np.errstate(all="ignore"):              # diverging rates overflow
            scores = [score(cls, {**kwargs, "lr": lr}) for lr in LR_GRID]
        best = LR_GRID[int(np.argmin(np.nan_to_num(scores, nan=np.inf)))]
        chosen[name] = (cls, {**kwargs, "lr": best})
        print(f"tuned {name:14s} lr={best:g}")
    return chosen


def tune(args, data, rb_steps, net_epochs):
    """Rosenbrock scored by the final distance to (1, 1), the network by the training
    loss after ``net_epochs``."""
    init = initial_weights(args.seed)
    rb = best_lr(ROSENBROCK, lambda cls, kw: distance(run_rosenbrock(cls, kw, rb_steps)))
    net = best_lr(NETWORK, lambda cls, kw: train_network(
        cls, kw, init, data, net_epochs, args.seed, "tune")[0][-1])
    return rb, net


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "optimizers_race", argv,
                      tune=(int, 0, "1: grid-search the learning rates first (slow)"))
    rb_steps, net_epochs, gd_epochs = (200, 2, 2) if args.quick else (2000, 12, 8)
    data = digits(args.seed)
    rb_config, net_config = ROSENBROCK, NETWORK
    if args.tune:
        rb_config, net_config = tune(args, data, rb_steps, net_epochs)
    rb = rosenbrock_race(args, rb_config, rb_steps)
    net = network_race(args, net_config, data, net_epochs)
    gd = gd_variants(args, data, gd_epochs)
    rates = lr_schedules(args)
    return {
        "rosenbrock_distance": {k: r["distance"] for k, r in rb.items()},
        "rosenbrock_start_distance": float(np.linalg.norm(np.array(START) - MINIMUM)),
        "network_loss": {k: r["losses"] for k, r in net.items()},
        "network_accuracy": {k: r["accuracy"] for k, r in net.items()},
        "gd_loss": {k: r["losses"] for k, r in gd.items()},
        "gd_seconds": {k: r["seconds"] for k, r in gd.items()},
        "lr_schedules": rates,
    }


if __name__ == "__main__":
    main()
