"""Learning the learning rate: differentiate through unrolled gradient descent.

    python3 examples/hypergradient.py [--out out/hypergradient] [--quick] [--seed 0]

An episode trains a softmax classifier (nn.Linear(64, 10) on scikit-learn's digits,
float64) for K steps of plain gradient descent from the same initial weights,
with the update rule optim.functional.sgd run with grad mode on:

    θ_{k+1} = θ_k − η ∇L_train(θ_k),    η = exp(s)

and scores the result on held-out digits: L_val(θ_K). Because every step is recorded
(ag.grad(..., create_graph=True) keeps the gradient itself differentiable), the engine
gives the hyper-gradient dL_val/ds through all K steps. Between episodes s is updated
with optim.functional.adam on that hyper-gradient, so the learning rate learns itself,
starting far too small. One hyper-gradient is checked against a central finite
difference. Writes
  hypergradient.png  the learning rate and the validation loss per episode, and the
                     validation loss over a grid of learning rates with the path taken
"""
import math
import time

import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, save_figure

import autograd as ag
import nn
import nn.functional as F
import optim

UNROLLED_STEPS = 15
INITIAL_LR = 1e-3
HYPER_LR = 0.4          # Adam's step on s = log(lr): about this much per episode


def load_data(seed, n=300):
    """Two disjoint sets of ``n`` standardised digits (float64): train and validation."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, train_size=n, test_size=n, random_state=seed, stratify=y)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1.0
    return (ag.Tensor((X_train - mean) / std), y_train,
            ag.Tensor((X_val - mean) / std), y_val)


def unrolled_validation_loss(model, log_lr, data, steps=UNROLLED_STEPS, create_graph=True):
    """L_val after ``steps`` gradient-descent steps with lr = exp(log_lr), starting from
    the model's own (untouched) parameters; also the last training loss.

    With ``create_graph`` the whole optimisation stays in the graph, so the result can
    be differentiated with respect to ``log_lr``."""
    X_train, y_train, X_val, y_val = data
    lr = ag.exp(log_lr)
    params = dict(model.named_parameters())
    states = {name: {} for name in params}
    for _ in range(steps):
        train_loss = F.cross_entropy(nn.functional_call(model, params, X_train), y_train)
        grads = ag.grad(train_loss, list(params.values()), create_graph=create_graph)
        params = {name: optim.functional.sgd(p, g, states[name], lr=lr)
                  for (name, p), g in zip(params.items(), grads)}
        if not create_graph:
            # Only values are wanted: restart the graph at each step's result, or the
            # next ag.grad would walk back into the steps already freed.
            params = {name: p.detach().requires_grad_() for name, p in params.items()}
    val_loss = F.cross_entropy(nn.functional_call(model, params, X_val), y_val)
    return val_loss, train_loss.item()


def hypergradient(model, s, data):
    """(L_val, dL_val/ds) at s = log(lr), the derivative taken through every step."""
    log_lr = ag.tensor(s, dtype=np.float64, requires_grad=True)
    val_loss, _ = unrolled_validation_loss(model, log_lr, data)
    (g,) = ag.grad(val_loss, [log_lr])
    return val_loss.item(), g.item()


def finite_difference(model, s, data, h=1e-4):
    """(L_val(s + h) − L_val(s − h)) / 2h, without recording anything for s."""
    value = lambda s: unrolled_validation_loss(  # noqa: E731
        model, ag.tensor(s, dtype=np.float64), data, create_graph=False)[0].item()
    return (value(s + h) - value(s - h)) / (2 * h)


def learn_lr(model, data, episodes):
    s = ag.tensor(math.log(INITIAL_LR), dtype=np.float64)
    state = {}
    history = {"lr": [], "val_loss": [], "hypergradient": []}
    bar = progress(range(episodes), desc="episodes", unit="episode")
    say = getattr(bar, "write", print)
    for episode in bar:
        val_loss, g = hypergradient(model, s.item(), data)
        history["lr"].append(math.exp(s.item()))
        history["val_loss"].append(val_loss)
        history["hypergradient"].append(g)
        with ag.no_grad():
            # A short memory (beta1 = 0.5) lets the step turn round soon after the
            # learning rate passes the best value, instead of coasting beyond it.
            s = optim.functional.adam(s, ag.tensor(g, dtype=np.float64), state, lr=HYPER_LR,
                                      betas=(0.5, 0.9))
        if episode % 5 == 0 or episode == episodes - 1:
            say(f"episode {episode + 1:3d}   lr {history['lr'][-1]:9.4g}   validation loss "
                f"{val_loss:.4f}   dL_val/d log(lr) {g: .4f}")
    return history


def lr_grid(model, data, points):
    """The validation loss after K steps for learning rates spread on a log scale."""
    lrs = np.geomspace(INITIAL_LR / 2, 8.0, points)
    losses = [unrolled_validation_loss(model, ag.tensor(math.log(lr), dtype=np.float64),
                                       data, create_graph=False)[0].item()
              for lr in progress(lrs, desc="lr grid")]
    return lrs, np.array(losses)


def plot(history, grid, out):
    plt = pyplot()
    fig, (ax_lr, ax_loss, ax_grid) = plt.subplots(1, 3, figsize=(12, 3.5))
    episodes = np.arange(1, len(history["lr"]) + 1)
    ax_lr.plot(episodes, history["lr"], "o-", ms=3)
    ax_lr.set(yscale="log", xlabel="episode", ylabel="learning rate", title="learning rate")
    ax_loss.plot(episodes, history["val_loss"], "o-", ms=3, color="tab:green")
    ax_loss.set(xlabel="episode", ylabel=f"validation loss after {UNROLLED_STEPS} steps",
                title="validation loss")
    lrs, losses = grid
    ax_grid.plot(lrs, losses, "-", color="grey", label="grid (not used for learning)")
    ax_grid.plot(history["lr"], history["val_loss"], "o", ms=4, color="tab:green",
                 label="hyper-gradient path")
    ax_grid.plot(history["lr"][-1], history["val_loss"][-1], "*", ms=12, color="tab:red",
                 label="last episode")
    ax_grid.set(xscale="log", xlabel="learning rate", ylabel="validation loss",
                title="validation loss against the learning rate",
                ylim=(0, max(history["val_loss"][0], np.nanmin(losses)) * 1.15))
    ax_grid.legend(fontsize=8)
    fig.suptitle("learning the learning rate by differentiating through "
                 f"{UNROLLED_STEPS} SGD steps", y=1.03)
    fig.tight_layout()
    return save_figure(fig, out, "hypergradient.png")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "hypergradient", argv,
                      episodes=(int, None, "lr updates (default 40, 8 with --quick)"))
    episodes = args.episodes or (8 if args.quick else 40)
    start = time.perf_counter()
    data = load_data(args.seed)
    model = nn.Linear(64, 10).double()

    # The engine's derivative through all K steps against a central difference.
    s0 = math.log(INITIAL_LR * 10)
    _, engine_value = hypergradient(model, s0, data)
    numeric_value = finite_difference(model, s0, data)
    rel = abs(engine_value - numeric_value) / max(abs(numeric_value), 1e-12)
    print(f"dL_val/d log(lr) at lr = {math.exp(s0):g}, through {UNROLLED_STEPS} steps:")
    print(f"  engine (ag.grad through the unrolled steps)  {engine_value: .10f}")
    print(f"  central finite difference (h = 1e-4)         {numeric_value: .10f}")
    print(f"  relative difference                          {rel:.2e}")

    history = learn_lr(model, data, episodes)
    grid = lr_grid(model, data, 9 if args.quick else 25)
    files = [plot(history, grid, args.out)]
    seconds = time.perf_counter() - start

    best = int(np.argmin(history["val_loss"]))
    grid_best = float(grid[0][np.nanargmin(grid[1])])
    print(f"\nSummary after {episodes} episodes of {UNROLLED_STEPS} unrolled SGD steps")
    print(f"  learning rate     {history['lr'][0]:.4g} -> {history['lr'][-1]:.4g} "
          f"(the grid's best: {grid_best:.3g})")
    print(f"  validation loss   {history['val_loss'][0]:.4f} -> {history['val_loss'][-1]:.4f} "
          f"(best {history['val_loss'][best]:.4f}, episode {best + 1})")
    print(f"  hyper-gradient    engine {engine_value:.8f} vs finite difference "
          f"{numeric_value:.8f}")
    print(f"  time              {seconds:.1f} s")
    return {"initial_lr": history["lr"][0], "final_lr": history["lr"][-1],
            "initial_val_loss": history["val_loss"][0],
            "final_val_loss": history["val_loss"][-1],
            "best_val_loss": history["val_loss"][best], "grid_best_lr": grid_best,
            "hypergradient": engine_value, "finite_difference": numeric_value,
            "episodes": episodes, "seconds": seconds, "files": files}


if __name__ == "__main__":
    main()
