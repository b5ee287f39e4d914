"""chainrule's main demo: a small neural network learns scikit-learn's handwritten digits.

    python3 examples/quickstart.py [--out out/quickstart] [--quick] [--seed 0] [--epochs N]

In about fifteen seconds on two cores it
  1. trains a 64-128-64-10 ReLU network (Adam, mini-batches of 64) on the bundled 8x8
     digits (1,437 training images, 360 held out) to at least 95 % test accuracy,
     printing the loss and the test accuracy after every epoch;
  2. draws the graph of the loss, parameters labelled by name     -> mlp_loss.svg
  3. gradchecks the first Linear layer in float64 against central differences;
  4. saves the weights with nn.save, loads them into a fresh model
     and checks that it scores exactly the same                     -> mlp_digits.npz
  5. plots the loss curve and the test accuracy                     -> loss_curve.png
Without the Graphviz `dot` program the graph is written as DOT source (mlp_loss.gv).
"""
import os
import time

import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, render_svg, save_figure, wrote

import autograd as ag
import nn
import nn.functional as F
import optim

TARGET_ACCURACY = 0.95
FULL_EPOCHS, QUICK_EPOCHS = 20, 4


def load_digits_split(seed):
    """The 1,797 digits as float32 rows of 64 pixels, split 80/20 (stratified, seeded)
    and standardised with the training set's per-pixel mean and spread."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=y)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1.0     # a few border pixels are blank in every training image
    scale = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return scale(X_train), scale(X_test), y_train, y_test


def build_model():
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(),
        nn.Linear(128, 64), nn.ReLU(),
        nn.Linear(64, 10))


def evaluate(model, X, y):
    model.eval()
    with ag.no_grad():
        return nn.metrics.accuracy(model(ag.Tensor(X)), y)


def train(model, X_train, y_train, X_test, y_test, epochs):
    opt = optim.Adam(model.parameters(), lr=1e-3)
    history = {"epoch": [], "loss": [], "test_accuracy": []}
    bar = progress(range(1, epochs + 1), desc="training", unit="epoch")
    say = getattr(bar, "write", print)     # tqdm.write keeps the bar intact
    for epoch in bar:
        model.train()
        total = 0.0
        for xb, yb in nn.utils.batches(X_train, y_train, batch_size=64):
            opt.zero_grad()
            loss = F.cross_entropy(model(ag.Tensor(xb)), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        mean_loss = total / len(X_train)
        acc = evaluate(model, X_test, y_test)
        history["epoch"].append(epoch)
        history["loss"].append(mean_loss)
        history["test_accuracy"].append(acc)
        say(f"epoch {epoch:3d}   loss {mean_loss:.4f}   test accuracy {acc:6.2%}")
    return history


def draw_loss_graph(model, X, y, out):
    """The graph of one mini-batch's loss after a backward pass, so that every
    parameter's record shows its values and gradient."""
    loss = F.cross_entropy(model(ag.Tensor(X)), y)
    loss.backward()
    graph = ag.draw_graph(loss, names=model.named_parameters())
    model.zero_grad()
    return render_svg(graph, out, "mlp_loss"), graph.total_ops


def gradcheck_first_layer(model, X):
    """Finite differences agree with the engine on a float64 copy of the first layer,
    with respect to its input, weight and bias."""
    layer = nn.Linear(64, 128)
    layer.load_state_dict(model[0].state_dict())
    layer.double()
    x = ag.Tensor(X.astype(np.float64), requires_grad=True)
    fn = lambda x, w, b: nn.functional_call(layer, {"weight": w, "bias": b}, x)  # noqa: E731
    return ag.gradcheck(fn, [x, layer.weight, layer.bias])


def plot_history(history, out):
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_loss.plot(history["epoch"], history["loss"], "o-", ms=3)
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="mean cross-entropy (training)",
                title="loss")
    ax_acc.plot(history["epoch"], np.array(history["test_accuracy"]) * 100, "o-", ms=3,
                color="tab:green")
    ax_acc.axhline(TARGET_ACCURACY * 100, ls="--", color="grey", label="95 % bar")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="held-out digits")
    ax_acc.legend(loc="lower right")
    fig.suptitle("64-128-64-10 MLP on scikit-learn's digits", y=1.03)
    return save_figure(fig, out, "loss_curve.png")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "quickstart", argv,
                      epochs=(int, None, f"training epochs (default {FULL_EPOCHS}, "
                                         f"{QUICK_EPOCHS} with --quick)"))
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else FULL_EPOCHS)
    start = time.perf_counter()
    X_train, X_test, y_train, y_test = load_digits_split(args.seed)
    print(f"digits: {len(X_train)} training and {len(X_test)} test images of 8x8 pixels, "
          "10 classes")

    model = build_model()
    print(model)
    history = train(model, X_train, y_train, X_test, y_test, epochs)
    accuracy = history["test_accuracy"][-1]
    files = []

    svg, n_ops = draw_loss_graph(model, X_train[:32], y_train[:32], args.out)
    files.append(svg)

    gradcheck_ok = gradcheck_first_layer(model, X_test[:2])
    print("gradcheck of Linear(64, 128) in float64 (input, weight, bias): "
          + ("passed" if gradcheck_ok else "FAILED"))

    checkpoint = os.path.join(args.out, "mlp_digits.npz")
    nn.save(model.state_dict(), checkpoint)
    files.append(wrote(checkpoint))
    fresh = build_model()
    fresh.load_state_dict(nn.load(checkpoint))
    reloaded = evaluate(fresh, X_test, y_test)
    if reloaded != accuracy:
        raise RuntimeError(f"the reloaded model scores {reloaded:.4f}, the trained one "
                           f"{accuracy:.4f}: the checkpoint lost something")

    files.append(plot_history(history, args.out))
    seconds = time.perf_counter() - start

    print("\nSummary")
    print(f"  test accuracy      {accuracy:.2%} after {epochs} epochs "
          f"(the full run's bar: {TARGET_ACCURACY:.0%})")
    print(f"  final loss         {history['loss'][-1]:.4f} "
          f"(first epoch {history['loss'][0]:.4f})")
    print(f"  reloaded model     {reloaded:.2%} from {checkpoint} (identical)")
    print(f"  gradcheck          {'passed' if gradcheck_ok else 'FAILED'}: Linear(64, 128), "
          "float64, against central differences")
    print(f"  loss graph         {n_ops} ops, parameters named: {files[0]}")
    print(f"  time               {seconds:.1f} s")
    if not args.quick and args.epochs is None and accuracy < TARGET_ACCURACY:
        raise RuntimeError(f"test accuracy {accuracy:.2%} is below the "
                           f"{TARGET_ACCURACY:.0%} bar")
    return {"test_accuracy": accuracy, "reloaded_accuracy": reloaded,
            "first_loss": history["loss"][0], "final_loss": history["loss"][-1],
            "epochs": epochs, "gradcheck": gradcheck_ok, "graph_ops": n_ops,
            "seconds": seconds, "files": files}


if __name__ == "__main__":
    main()
