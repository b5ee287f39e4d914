"""Dice and IoU losses on a toy segmentation task, against BCE: a tiny fully
convolutional net learns to find discs and rectangles in noisy 24×24 images.

    python3 examples/segmentation_toy.py [--out out/segmentation_toy] [--quick]

Each image holds one to three random discs or rectangles (about 15 % of the pixels)
of brightness 1 on a background 0, plus Gaussian noise of σ = 0.7; the target is the
shapes' mask. The data are generated from the seed. The net, three 3×3 Conv2d layers
(1 → 8 → 8 → 1, ReLU, padding 1, a 7×7 receptive field) with a sigmoid at the end, is
trained from the same start with each loss:
  nn.DiceLoss()          1 − (2Σpt + 1)/(Σp + Σt + 1) per image, on probabilities p
  nn.IoULoss()           1 − (Σpt + 1)/(Σp + Σt − Σpt + 1) per image
  nn.BCEWithLogitsLoss() per pixel, on the logits (the sigmoid is inside, stably)
and judged on held-out images by the hard Dice 2|A∩B|/(|A| + |B|) and IoU |A∩B|/|A∪B|
of the thresholded mask (p > 0.5), averaged over images.

Writes segmentation.png (inputs, targets and each loss's predicted masks) and
segmentation_curves.png (test Dice after every epoch).
"""
import numpy as np

# common comes first: it puts the repository root on sys.path.
from common import parse_args, progress, pyplot, save_figure

import autograd as ag
import nn
import optim

SIZE = 24
NOISE = 0.7


def make_masks(n, rng):
    """n masks (n, SIZE, SIZE) of 1-3 discs or axis-aligned rectangles each."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    masks = np.zeros((n, SIZE, SIZE), dtype=bool)
    counts = rng.integers(1, 4, size=n)
    for i in range(n):                      # a handful of shapes per image, each vectorised
        for _ in range(counts[i]):
            if rng.random() < 0.5:
                cy, cx = rng.uniform(3, SIZE - 3, size=2)
                r = rng.uniform(2.0, SIZE / 5)
                masks[i] |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            else:
                y0, x0 = rng.integers(0, SIZE - 4, size=2)
                h, w = rng.integers(3, SIZE // 2, size=2)
                masks[i, y0:y0 + h, x0:x0 + w] = True
    return masks


def make_data(n, rng):
    """Images (n, 1, SIZE, SIZE) = mask + N(0, NOISE²) noise, and the masks as float."""
    masks = make_masks(n, rng)
    images = masks + rng.normal(0.0, NOISE, size=masks.shape)
    return images[:, None].astype(np.float32), masks[:, None].astype(np.float32)


def make_net():
    """Logits (N, 1, H, W); the losses on probabilities apply the sigmoid themselves."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 1, 3, padding=1))


LOSSES = {
    "Dice": (nn.DiceLoss(), True),        # (loss, takes probabilities)
    "IoU": (nn.IoULoss(), True),
    "BCE": (nn.BCEWithLogitsLoss(), False),
}


def overlap_scores(pred, target):
    """Hard Dice and IoU per image of boolean masks (N, ...); 1 where both are empty."""
    axes = tuple(range(1, pred.ndim))
    inter = np.sum(pred & target, axis=axes)
    total = np.sum(pred, axis=axes) + np.sum(target, axis=axes)
    union = total - inter
    dice = np.where(total > 0, 2.0 * inter / np.maximum(total, 1), 1.0)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return dice, iou


def predict(model, images):
    with ag.no_grad():
        return ag.sigmoid(model(ag.tensor(images))).numpy()


def train(name, init, train_set, test_set, epochs, seed):
    loss_fn, on_probabilities = LOSSES[name]
    model = make_net()
    model.load_state_dict(init)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x_test, y_test = test_set
    curve = []
    for epoch in progress(range(epochs), desc=name):
        for xb, yb in nn.utils.batches(*train_set, batch_size=32, rng=seed * 1000 + epoch):
            opt.zero_grad()
            out = model(ag.tensor(xb))
            loss_fn(ag.sigmoid(out) if on_probabilities else out, ag.tensor(yb)).backward()
            opt.step()
        dice, _ = overlap_scores(predict(model, x_test) > 0.5, y_test > 0.5)
        curve.append(float(dice.mean()))
    return model, curve


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "segmentation_toy", argv)
    n_train, epochs = (256, 4) if args.quick else (384, 10)
    rng = np.random.default_rng(args.seed)
    train_set, test_set = make_data(n_train, rng), make_data(128, rng)
    x_test, y_test = test_set
    print(f"{n_train} training and {len(x_test)} test images of {SIZE}×{SIZE}, "
          f"{train_set[1].mean():.1%} of the training pixels in the mask")
    ag.manual_seed(args.seed)
    init = {k: v.numpy().copy() for k, v in make_net().state_dict().items()}

    results = {}
    for name in LOSSES:
        model, curve = train(name, init, train_set, test_set, epochs, args.seed)
        probs = predict(model, x_test)
        dice, iou = overlap_scores(probs > 0.5, y_test > 0.5)
        results[name] = dict(dice=float(dice.mean()), iou=float(iou.mean()), curve=curve,
                             probs=probs)
    # the trivial answers, for scale
    empty_dice, _ = overlap_scores(np.zeros_like(y_test, dtype=bool), y_test > 0.5)
    raw_dice, raw_iou = overlap_scores(x_test > 0.5, y_test > 0.5)

    print(f"\ntest set, mean over images, after {epochs} epochs")
    print(f"{'trained with':22s} {'Dice':>6s} {'IoU':>6s}")
    for name, r in results.items():
        print(f"{type(LOSSES[name][0]).__name__:22s} {r['dice']:6.3f} {r['iou']:6.3f}")
    print(f"{'(threshold the input)':22s} {raw_dice.mean():6.3f} {raw_iou.mean():6.3f}")
    print(f"{'(predict no mask)':22s} {empty_dice.mean():6.3f} {0.0:6.3f}")
    print("Dice and IoU score each image's overlap, so the 86 % background cannot dominate "
          "them: they\nlearn fastest (see the curves) and give nearly binary masks; "
          "BCE, per pixel, starts by\npredicting background, catches up, and keeps soft edges.")

    plt = pyplot()
    shown = 6
    rows = ["input", "target"] + [f"{n} loss" for n in LOSSES]
    fig, axes = plt.subplots(len(rows), shown, figsize=(1.8 * shown, 1.9 * len(rows)),
                             gridspec_kw=dict(hspace=0.25, wspace=0.05, top=0.92))
    for j in range(shown):
        d = {n: overlap_scores(r["probs"][j:j + 1] > 0.5, y_test[j:j + 1] > 0.5)[0][0]
             for n, r in results.items()}
        panels = [(x_test[j, 0], "gray", ""), (y_test[j, 0], "gray", "")]
        panels += [(r["probs"][j, 0], "viridis", f"Dice {d[n]:.2f}") for n, r in results.items()]
        for i, (img, cmap, title) in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(img, cmap=cmap, vmin=0 if i else None, vmax=1 if i else None)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=8)
            if j == 0:
                ax.set_ylabel(rows[i])
    fig.suptitle("test images: noisy input, target mask, predicted probability per loss")
    save_figure(fig, args.out, "segmentation.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in results.items():
        ax.plot(np.arange(1, epochs + 1), r["curve"], marker="o", label=f"{name} loss")
    ax.axhline(raw_dice.mean(), color="0.6", ls=":", label="threshold the input")
    ax.set(xlabel="epoch", ylabel="test Dice (p > 0.5)", ylim=(0, 1),
           title="segmentation quality while training")
    ax.legend()
    save_figure(fig, args.out, "segmentation_curves.png")
    return {name: {"dice": r["dice"], "iou": r["iou"], "dice_per_epoch": r["curve"]}
            for name, r in results.items()} | {
        "baseline": {"dice": float(raw_dice.mean()), "iou": float(raw_iou.mean())}}


if __name__ == "__main__":
    main()
