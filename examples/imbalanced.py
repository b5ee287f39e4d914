"""Imbalanced binary classification: plain BCE vs BCE with a positive-class weight vs
focal loss, judged by precision, recall and F1 on the rare class.

    python3 examples/imbalanced.py [--out out/imbalanced] [--quick]

The data: scikit-learn's make_classification, 6,000 samples, 20 features, 95 % / 5 %
(fixed seed), split 70/30 with the classes kept in proportion, standardised on the
training part. The model: a 20-32-1 ReLU MLP on logits, the same start and the same
batches for every loss, Adam. The losses:
  BCE                 F.binary_cross_entropy_with_logits: every sample counts the same,
                      so the 95 % dominate
  BCE + pos_weight    nn.BCEWithLogitsLoss(pos_weight=n_neg/n_pos): each positive
                      counts ~19 times (CheXNet's weighted BCE in the texts)
  focal α=0.25 γ=2    nn.FocalLoss(): −α_t(1 − p_t)^γ log p_t; easy (mostly negative)
                      samples fade, RetinaNet's α = 0.25 on the positives
  focal α=0.75 γ=2    the same with α on the rare class's side
Precision = TP/(TP + FP), recall = TP/(TP + FN), F1 = their harmonic mean, all at the
threshold p = 0.5 and computed here; average precision (area under the
precision-recall curve) judges the ranking without a threshold.

Writes imbalanced.png: the precision-recall curves (each method's 0.5 threshold
marked) and the test scores of both classes per method.
"""
import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, save_figure

import autograd as ag
import nn
import optim


def make_data(seed):
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    x, y = make_classification(n_samples=6000, n_features=20, n_informative=5,
                               n_redundant=2, weights=[0.95, 0.05], class_sep=1.0,
                               flip_y=0.0, random_state=seed)
    x_train, x_test, y_train, y_test = train_test_split(
        x.astype(np.float32), y.astype(np.float32), test_size=0.3, random_state=seed,
        stratify=y)
    mu, sd = x_train.mean(axis=0), x_train.std(axis=0)
    return (x_train - mu) / sd, (x_test - mu) / sd, y_train, y_test


def losses(y_train):
    n_pos = float(y_train.sum())
    pos_weight = (len(y_train) - n_pos) / n_pos
    return {
        "BCE": nn.BCEWithLogitsLoss(),
        f"BCE + pos_weight={pos_weight:.0f}":
            nn.BCEWithLogitsLoss(pos_weight=ag.tensor([pos_weight])),
        "focal α=0.25 γ=2": nn.FocalLoss(alpha=0.25, gamma=2.0),
        "focal α=0.75 γ=2": nn.FocalLoss(alpha=0.75, gamma=2.0),
    }


def make_model():
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1))


def train(loss_fn, init, data, epochs, seed, desc):
    """Adam on mini-batches of 128; returns the test probabilities σ(logit)."""
    x_train, x_test, y_train, _ = data
    model = make_model()
    model.load_state_dict(init)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for epoch in progress(range(epochs), desc=desc):
        for xb, yb in nn.utils.batches(x_train, y_train, batch_size=128,
                                       rng=seed * 1000 + epoch):
            opt.zero_grad()
            loss_fn(model(ag.tensor(xb)).reshape(-1), ag.tensor(yb)).backward()
            opt.step()
    with ag.no_grad():
        return ag.sigmoid(model(ag.tensor(x_test)).reshape(-1)).numpy()


def confusion(scores, target, threshold=0.5):
    pred, pos = scores > threshold, target == 1
    tp, fp = int(np.sum(pred & pos)), int(np.sum(pred & ~pos))
    fn, tn = int(np.sum(~pred & pos)), int(np.sum(~pred & ~pos))
    return tp, fp, fn, tn


def precision_recall_f1(scores, target, threshold=0.5):
    """At one threshold; precision is 0 when nothing is predicted positive."""
    tp, fp, fn, _ = confusion(scores, target, threshold)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def pr_curve(scores, target):
    """Precision and recall with the threshold just below each score, highest first,
    and the average precision Σ (R_k − R_{k−1})·P_k (scikit-learn's definition)."""
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], target[order]
    tp = np.cumsum(t)
    # one point per distinct score: ties are decided together
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp, predicted = tp[last], last + 1.0
    precision, recall = tp / predicted, tp / t.sum()
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return precision, recall, ap


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "imbalanced", argv)
    epochs = 6 if args.quick else 20
    data = make_data(args.seed)
    y_train, y_test = data[2], data[3]
    print(f"train: {len(y_train)} samples, {int(y_train.sum())} positive "
          f"({y_train.mean():.1%}); test: {len(y_test)}, {int(y_test.sum())} positive")
    ag.manual_seed(args.seed)
    init = {k: v.numpy().copy() for k, v in make_model().state_dict().items()}

    results = {}
    for name, loss_fn in losses(y_train).items():
        scores = train(loss_fn, init, data, epochs, args.seed, name)
        p, r, f1 = precision_recall_f1(scores, y_test)
        curve_p, curve_r, ap = pr_curve(scores, y_test)
        results[name] = dict(scores=scores, precision=p, recall=r, f1=f1, ap=ap,
                             confusion=confusion(scores, y_test), curve=(curve_p, curve_r))

    print(f"\ntest set, threshold 0.5 ({epochs} epochs)")
    print(f"{'loss':24s} {'TP':>4s} {'FP':>4s} {'FN':>4s} {'TN':>5s} {'precision':>10s} "
          f"{'recall':>7s} {'F1':>6s} {'avg prec':>9s}")
    for name, r in results.items():
        tp, fp, fn, tn = r["confusion"]
        print(f"{name:24s} {tp:4d} {fp:4d} {fn:4d} {tn:5d} {r['precision']:10.3f} "
              f"{r['recall']:7.3f} {r['f1']:6.3f} {r['ap']:9.3f}")
    print("(accuracy would say little: predicting 'negative' for all is "
          f"{1 - y_test.mean():.1%} accurate)")
    print("pos_weight buys recall with false alarms, focal α=0.25 the reverse; the ranking "
          "(average precision) moves much less than the 0.5 threshold's trade-off.")

    plt = pyplot()
    fig = plt.figure(figsize=(14, 6))
    grid = fig.add_gridspec(2, 3, hspace=0.45, wspace=0.25)
    ax = fig.add_subplot(grid[:, 0])
    for k, (name, r) in enumerate(results.items()):
        curve_p, curve_r = r["curve"]
        ax.step(curve_r, curve_p, where="post", color=f"C{k}",
                label=f"{name} (AP {r['ap']:.3f})")
        ax.plot(r["recall"], r["precision"], "o", color=f"C{k}", mec="k")
    ax.axhline(y_test.mean(), color="0.6", ls=":", label="chance (base rate)")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
           title="precision-recall on the test set (dots: threshold 0.5)")
    ax.legend(fontsize=8, loc="lower left")
    bins = np.linspace(0, 1, 26)
    for k, (name, r) in enumerate(results.items()):
        ax = fig.add_subplot(grid[k // 2, 1 + k % 2])
        ax.hist(r["scores"][y_test == 0], bins=bins, alpha=0.6, label="negatives (95 %)")
        ax.hist(r["scores"][y_test == 1], bins=bins, alpha=0.8, label="positives (5 %)")
        ax.axvline(0.5, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set(title=f"{name}: P {r['precision']:.2f}, R {r['recall']:.2f}, "
                     f"F1 {r['f1']:.2f}", xlabel="predicted probability σ(logit)")
        ax.title.set_fontsize(9)
        if k == 0:
            ax.legend(fontsize=7)
    save_figure(fig, args.out, "imbalanced.png")
    return {name: {key: r[key] for key in ("precision", "recall", "f1", "ap")}
            | {"positive_rate": float(y_test.mean())} for name, r in results.items()}


if __name__ == "__main__":
    main()
