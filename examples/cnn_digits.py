"""A small convolutional network on scikit-learn's 8x8 digits: at least 97 % test accuracy.

    python3 examples/cnn_digits.py [--out out/cnn_digits] [--quick] [--seed 0] [--epochs N]

Each image is a 1x8x8 tensor (NCHW, as PyTorch). Two 3x3 convolutions with ReLU and 2x2
max-pooling shrink it to 32 maps of 2x2; dropout and two Linear layers classify it.
AdamW with a cosine learning-rate schedule trains it in about ten seconds on two cores.
Writes
  curves.png         training loss, training and test accuracy per epoch
  misclassified.png  the test digits it gets wrong, with true and predicted labels
  filters.png        the sixteen 3x3 filters of the first convolution
"""
import time

import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, save_figure

import autograd as ag
import nn
import nn.functional as F
import optim

TARGET_ACCURACY = 0.97
FULL_EPOCHS, QUICK_EPOCHS = 20, 3


def load_images(seed):
    """Digits as (N, 1, 8, 8) float32 images, split 80/20 (stratified, seeded) and
    standardised with the training pixels' mean and standard deviation."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 1, 8, 8)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=y)
    mean, std = X_train.mean(), X_train.std()
    scale = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return scale(X_train), scale(X_test), y_train, y_test


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16x4x4
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32x2x2
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(32 * 2 * 2, 64), nn.ReLU(),
        nn.Linear(64, 10))


def predict(model, X):
    model.eval()
    with ag.no_grad():
        return model(ag.Tensor(X)).data.argmax(axis=1)


def train(model, data, epochs):
    X_train, X_test, y_train, y_test = data
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    history = {"epoch": [], "loss": [], "train_accuracy": [], "test_accuracy": []}
    bar = progress(range(1, epochs + 1), desc="training", unit="epoch")
    say = getattr(bar, "write", print)
    for epoch in bar:
        model.train()
        total, correct = 0.0, 0
        for xb, yb in nn.utils.batches(X_train, y_train, batch_size=32):
            opt.zero_grad()
            logits = model(ag.Tensor(xb))
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
            correct += int((logits.data.argmax(axis=1) == yb).sum())
        schedule.step()
        test_acc = float(np.mean(predict(model, X_test) == y_test))
        history["epoch"].append(epoch)
        history["loss"].append(total / len(X_train))
        history["train_accuracy"].append(correct / len(X_train))
        history["test_accuracy"].append(test_acc)
        say(f"epoch {epoch:3d}   loss {history['loss'][-1]:.4f}   train accuracy "
            f"{history['train_accuracy'][-1]:6.2%}   test accuracy {test_acc:6.2%}   "
            f"lr {schedule.get_last_lr()[0]:.2e}")
    return history


def plot_curves(history, out):
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_loss.plot(history["epoch"], history["loss"], "o-", ms=3)
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="mean cross-entropy", title="training loss")
    ax_acc.plot(history["epoch"], np.array(history["train_accuracy"]) * 100, "o-", ms=3,
                label="training (dropout on)")
    ax_acc.plot(history["epoch"], np.array(history["test_accuracy"]) * 100, "o-", ms=3,
                label="test")
    ax_acc.axhline(TARGET_ACCURACY * 100, ls="--", color="grey", label="97 % bar")
    lowest = min(history["train_accuracy"] + history["test_accuracy"]) * 100
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy",
               ylim=(max(0, lowest - 3), 100.5))
    ax_acc.legend(loc="lower right")
    fig.suptitle("CNN on the 8x8 digits", y=1.03)
    return save_figure(fig, out, "curves.png")


def plot_misclassified(images, labels, predicted, out, limit=24):
    plt = pyplot()
    wrong = np.flatnonzero(predicted != labels)[:limit]
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.35), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, k in zip(axes.ravel(), wrong):
        ax.imshow(images[k, 0], cmap="gray_r")
        ax.set_title(f"{labels[k]} → {predicted[k]}", fontsize=9, color="tab:red")
    if len(wrong) == 0:
        axes[0, 0].text(0, 0.5, "no test digit misclassified", fontsize=11)
    fig.suptitle(f"misclassified test digits (true → predicted): "
                 f"{int((predicted != labels).sum())} of {len(labels)}", y=1.02)
    return save_figure(fig, out, "misclassified.png")


def plot_filters(model, out):
    plt = pyplot()
    weights = model[0].weight.data[:, 0]             # (16, 3, 3)
    limit = np.abs(weights).max()
    fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
    for k, ax in enumerate(axes.ravel()):
        ax.imshow(weights[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(k), fontsize=8)
        ax.axis("off")
    fig.suptitle("first-layer 3x3 filters (red positive, blue negative)", y=1.02)
    return save_figure(fig, out, "filters.png")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "cnn_digits", argv,
                      epochs=(int, None, f"training epochs (default {FULL_EPOCHS}, "
                                         f"{QUICK_EPOCHS} with --quick)"))
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else FULL_EPOCHS)
    start = time.perf_counter()
    data = load_images(args.seed)
    X_test, y_test = data[1], data[3]
    model = build_model()
    print(model)
    n_params = sum(p.size for p in model.parameters())
    print(f"{n_params} parameters; {len(data[0])} training and {len(X_test)} test images")

    history = train(model, data, epochs)
    predicted = predict(model, X_test)
    accuracy = float(np.mean(predicted == y_test))
    files = [plot_curves(history, args.out),
             plot_misclassified(X_test, y_test, predicted, args.out),
             plot_filters(model, args.out)]
    seconds = time.perf_counter() - start

    print("\nSummary")
    print(f"  test accuracy   {accuracy:.2%} after {epochs} epochs "
          f"(the full run's bar: {TARGET_ACCURACY:.0%})")
    print(f"  misclassified   {int((predicted != y_test).sum())} of {len(y_test)}")
    print(f"  final loss      {history['loss'][-1]:.4f} (first epoch {history['loss'][0]:.4f})")
    print(f"  time            {seconds:.1f} s")
    if not args.quick and args.epochs is None and accuracy < TARGET_ACCURACY:
        raise RuntimeError(f"test accuracy {accuracy:.2%} is below the "
                           f"{TARGET_ACCURACY:.0%} bar")
    return {"test_accuracy": accuracy, "first_loss": history["loss"][0],
            "final_loss": history["loss"][-1], "epochs": epochs,
            "misclassified": int((predicted != y_test).sum()), "parameters": n_params,
            "seconds": seconds, "files": files}


if __name__ == "__main__":
    main()
