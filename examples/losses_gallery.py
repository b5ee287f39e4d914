"""Every loss of chainrule and its gradient against the prediction, by autograd.

    python3 examples/losses_gallery.py [--out out/losses_gallery] [--quick]

Each panel varies one number that the loss reads and plots the loss (solid) and its
derivative with respect to that number (dashed), the derivative from ag.grad:
regression losses against the residual ŷ − y, classification losses against the logit
or the probability, margin losses against the margin y·f, Dice and IoU against the
overlap, embedding losses against a distance or an angle. Every point of a curve is
one sample of a batch (reduction="none"), so one backward pass gives the whole curve.
Where docs/formulas.md §2 states the gradient in closed form, the autograd curve is
checked against it.

Writes losses.png into the output folder.
"""
import os

import numpy as np
from scipy.special import expit

# common comes first: it puts the repository root on sys.path.
from common import parse_args, pyplot, save_figure

import autograd as ag
import nn
import nn.functional as F


def curve(fn, grid):
    """loss(x) and d loss / dx for each x of ``grid``: ``fn`` maps the (n,) Tensor of
    x values to the (n,) per-sample losses."""
    t = ag.tensor(np.asarray(grid, dtype=np.float64), requires_grad=True)
    loss = fn(t)
    (g,) = ag.grad(loss.sum(), t)
    return loss.data, g.data


def col(*columns):
    """Stack (n,) Tensors (or numbers, broadcast) as the columns of an (n, k) Tensor."""
    n = next(c.shape[0] for c in columns if isinstance(c, ag.Tensor))
    cols = [c if isinstance(c, ag.Tensor) else ag.full((n,), float(c), dtype=np.float64)
            for c in columns]
    return ag.stack(cols, axis=1)


def const(value, n):
    return ag.full((n,), float(value), dtype=np.float64)


def regression(name, fn, closed, n):
    r = np.linspace(-3, 3, n)
    return r, [(name, *curve(lambda t: fn(t, ag.zeros_like(t)), r), closed(r))]


def panels(n):
    """(title, x label, x, [(label, loss, grad, closed-form grad or None)]) per loss."""
    out = []
    for title, fn, closed in [
        ("MSE", lambda a, b: F.mse_loss(a, b, reduction="none"), lambda r: 2 * r),
        ("L1 / MAE", lambda a, b: F.l1_loss(a, b, reduction="none"), np.sign),
        ("Huber (δ = 1)", lambda a, b: F.huber_loss(a, b, reduction="none"),
         lambda r: np.clip(r, -1, 1)),
        ("smooth L1 (β = 0.5)", lambda a, b: F.smooth_l1_loss(a, b, reduction="none",
                                                               beta=0.5),
         lambda r: np.clip(r / 0.5, -1, 1)),
        ("log-cosh", lambda a, b: F.log_cosh_loss(a, b, reduction="none"), np.tanh),
    ]:
        x, curves = regression(title, fn, closed, n)
        out.append((title, "residual ŷ − y", x, curves))

    p = np.linspace(0.01, 0.99, n)
    out.append(("BCE on probabilities", "p = P(y = 1)", p, [
        (f"y = {y}", *curve(lambda t, y=y: F.binary_cross_entropy(t, const(y, n),
                                                                  reduction="none"), p),
         (p - y) / (p * (1 - p))) for y in (1, 0)]))

    z = np.linspace(-6, 6, n)
    out.append(("BCE with logits", "logit x", z, [
        (f"y = {y}", *curve(lambda t, y=y: F.binary_cross_entropy_with_logits(
            t, const(y, n), reduction="none"), z), expit(z) - y) for y in (1, 0)]
        + [("y = 1, pos_weight = 3", *curve(lambda t: F.binary_cross_entropy_with_logits(
            t, const(1, n), reduction="none", pos_weight=ag.tensor([3.0], dtype=np.float64)),
            z), 3 * (expit(z) - 1))]))

    three = lambda t: col(t, 0.0, 0.0)  # noqa: E731  logits (x, 0, 0)
    soft0 = np.exp(z) / (np.exp(z) + 2)
    out.append(("cross-entropy, 3 classes", "logit x of class 0 (others 0)", z, [
        (f"target class {c}", *curve(lambda t, c=c: F.cross_entropy(
            three(t), ag.tensor(np.full(n, c)), reduction="none"), z),
         soft0 - (c == 0)) for c in (0, 1)]))

    out.append(("NLL of log-probabilities", "p of the target class", p, [
        ("log p = (log p, log (1−p)/2, ·)", *curve(lambda t: F.nll_loss(
            ag.log(col(t, (1 - t) / 2, (1 - t) / 2)), ag.tensor(np.zeros(n, dtype=int)),
            reduction="none"), p), -1 / p)]))

    q = np.linspace(0.02, 0.98, n)
    P = np.tile([0.7, 0.3], (n, 1))
    out.append(("KL(P‖Q), P = (0.7, 0.3)", "q = Q(class 0)", q, [
        ("Q = (q, 1 − q)", *curve(lambda t: F.kl_div(ag.log(col(t, 1 - t)), ag.tensor(P),
                                                     reduction="none").sum(axis=1), q),
         -0.7 / q + 0.3 / (1 - q))]))

    out.append(("sigmoid focal (α = 0.25), y = 1", "logit x", z, [
        (f"γ = {g}", *curve(lambda t, g=g: F.sigmoid_focal_loss(
            t, const(1, n), gamma=g, reduction="none"), z),
         0.25 * (expit(z) - 1) if g == 0 else None) for g in (0, 1, 2, 5)]))

    out.append(("softmax focal, 3 classes", "logit x of the target (others 0)", z, [
        (f"γ = {g}", *curve(lambda t, g=g: F.softmax_focal_loss(
            three(t), ag.tensor(np.zeros(n, dtype=int)), gamma=g, reduction="none"), z),
         None) for g in (0, 2)]))

    # A 20-pixel mask, half foreground: prediction p on the mask and 1 − p off it.
    mask = np.repeat([1.0, 0.0], 10)
    on = ag.tensor(mask)

    def prediction(t):
        return t.reshape(-1, 1) * on + (1 - t.reshape(-1, 1)) * (1 - on)
    target = ag.tensor(np.tile(mask, (n, 1)))
    pp = np.linspace(0.0, 1.0, n)
    # Σp = Σt = 10 and Σpt = 10p: Dice = 1 − (20p + 1)/21, IoU = 1 − (10p + 1)/(21 − 10p).
    for title, fn, closed in (("Dice (smooth = 1)", F.dice_loss, np.full(n, -20 / 21)),
                              ("IoU (smooth = 1)", F.iou_loss, -220 / (21 - 10 * pp) ** 2)):
        out.append((title, "overlap: p on the mask, 1 − p off it", pp, [
            (title.split()[0], *curve(lambda t, fn=fn: fn(prediction(t), target,
                                                         reduction="none"), pp), closed)]))

    m = np.linspace(-2, 3, n)
    out.append(("hinge", "margin y·f (y = 1)", m, [
        ("y = 1", *curve(lambda t: F.hinge_loss(t, const(1, n), reduction="none"), m),
         np.where(m < 1, -1.0, 0.0))]))
    out.append(("exponential", "margin y·f (y = 1)", m, [
        ("y = 1", *curve(lambda t: F.exponential_loss(t, const(1, n), reduction="none"), m),
         -np.exp(-m))]))
    zero_t = ag.tensor(np.zeros(n, dtype=int))
    out.append(("multi-margin, 3 classes", "score s_y (others 0)", m, [
        (f"p = {pw}", *curve(lambda t, pw=pw: F.multi_margin_loss(
            three(t), zero_t, p=pw, reduction="none"), m), None) for pw in (1, 2)]))
    out.append(("categorical hinge, 3 classes", "score s_y (others 0)", m, [
        ("target 0", *curve(lambda t: F.categorical_hinge_loss(three(t), zero_t,
                                                               reduction="none"), m),
         np.where(m < 1, -1.0, 0.0))]))

    d = np.linspace(0.05, 3, n)
    origin = ag.zeros((n, 2), dtype=np.float64)
    out.append(("triplet (margin 1), d(a, p) = 1", "d(a, n)", d, [
        ("loss", *curve(lambda t: F.triplet_margin_loss(
            origin, col(const(1, n), 0.0), col(-t, 0.0), reduction="none"), d), None)]))
    out.append(("contrastive (margin 1)", "distance d", d, [
        (f"y = {y}", *curve(lambda t, y=y: F.contrastive_loss(
            origin, col(t, 0.0), const(y, n), reduction="none"), d),
         2 * d if y == 1 else -2 * np.maximum(1 - d, 0)) for y in (1, 0)]))
    th = np.linspace(0, np.pi, n)
    out.append(("cosine embedding (margin 0)", "angle θ between x1 and x2", th, [
        (f"y = {y}", *curve(lambda t, y=y: F.cosine_embedding_loss(
            col(const(1, n), 0.0), col(ag.cos(t), ag.sin(t)), const(y, n),
            reduction="none"), th), None) for y in (1, -1)]))

    checker = np.indices((4, 4)).sum(axis=0) % 2 - 0.5
    a = np.linspace(-1, 1, n)
    out.append(("total variation", "checkerboard amplitude a", a, [
        ("4×4 image", *curve(lambda t: F.total_variation_loss(
            t.reshape(-1, 1, 1, 1) * ag.tensor(checker[None, None]), reduction="none"), a),
         24 * np.sign(a))]))

    extractor = nn.Sequential(nn.Linear(1, 8), nn.Tanh()).double()
    perceptual = nn.PerceptualLoss(extractor, reduction="none")
    out.append(("perceptual (frozen Linear+tanh φ)", "prediction (target 0)", z, [
        ("MSE(φ(x), φ(0))", *curve(lambda t: perceptual(
            t.reshape(-1, 1), ag.zeros((n, 1), dtype=np.float64)).mean(axis=1), z), None)]))
    return out


def draw(ax, title, xlabel, x, curves):
    colors = ax._get_lines.get_next_color
    values = []
    for label, loss, grad, _ in curves:
        c = colors()
        ax.plot(x, loss, color=c, lw=1.8, label=label)
        ax.plot(x, grad, color=c, lw=1.2, ls="--")
        values += [loss, grad]
    lo, hi = np.percentile(np.concatenate(values), [2, 98])
    pad = 0.1 * max(hi - lo, 1e-3)
    ax.set_ylim(lo - pad, hi + pad)
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=7.5)
    ax.tick_params(labelsize=7)
    if len(curves) > 1:
        ax.legend(fontsize=6.5)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "losses_gallery", argv)
    n = 121 if args.quick else 401
    gallery = panels(n)

    errors = {}
    print(f"{'loss':36s} {'curve':32s} {'loss range':>21s}  max |autograd − closed form|")
    for title, _, x, curves in gallery:
        for label, loss, grad, closed in curves:
            if not (np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))):
                raise RuntimeError(f"{title}: non-finite loss or gradient")
            err = ""
            if closed is not None:
                # Kinks: the engine's sub-gradient there is a convention, not a value to test.
                keep = ~np.isclose(x, 0) & ~np.isclose(x, 1)
                e = float(np.max(np.abs(grad - closed)[keep]))
                errors[f"{title}: {label}"] = e
                err = f"{e:.1e}"
            print(f"{title:36s} {label:32s} [{loss.min():8.3f}, {loss.max():8.3f}]  {err}")

    plt = pyplot()
    cols = 4
    rows = -(-len(gallery) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.7 * rows))
    for ax, panel in zip(axes.flat, gallery):
        draw(ax, *panel)
    for ax in list(axes.flat)[len(gallery):]:
        ax.axis("off")
    fig.suptitle("Losses (solid) and their gradients against the prediction (dashed), "
                 "by autograd", y=1.0)
    fig.tight_layout()
    path = save_figure(fig, args.out, "losses.png")
    worst = max(errors.values())
    print(f"\n{len(gallery)} losses; every closed-form gradient matches autograd "
          f"(worst {worst:.1e}).")
    return {"n_losses": len(gallery), "max_gradient_error": worst,
            "gradient_errors": errors, "figure": os.path.abspath(path)}


if __name__ == "__main__":
    main()
