"""Every activation of chainrule and its derivative, the derivative computed by autograd.

    python3 examples/activations_gallery.py [--out out/activations_gallery] [--quick]

The reference texts draw each activation next to its derivative (000 §1, 001, 003 §2,
004 §3). Here the derivative curves are not written by hand: each is ag.grad of the
activation over a grid of points (the sum of independent outputs has the elementwise
derivative as its gradient), and the second derivative comes from differentiating that
again (create_graph=True). The closed forms of docs/formulas.md §1 are then checked
against the autograd curves, so the picture doubles as a test.

Writes activations.png (one panel per activation) and activations/NAME.png (one per
activation) into the output folder.
"""
import os

import numpy as np
from scipy.special import erf, expit

# common comes first: it puts the repository root on sys.path.
from common import parse_args, pyplot, save_figure, wrote

import autograd as ag
import nn.functional as F
from nn.functional.activation import SELU_ALPHA, SELU_SCALE

PRELU_A = 0.25


def softmax_class0(x):
    """Softmax of the 3-class logits (x, 0, −1): the probability of class 0."""
    z = ag.stack([x, ag.zeros_like(x), ag.full(x.shape, -1.0, dtype=x.dtype)], axis=-1)
    return F.softmax(z, axis=-1)[..., 0]


def log_softmax_class0(x):
    z = ag.stack([x, ag.zeros_like(x), ag.full(x.shape, -1.0, dtype=x.dtype)], axis=-1)
    return F.log_softmax(z, axis=-1)[..., 0]


def _phi(x):
    return np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def _softmax0(x):
    e = np.stack([np.exp(x), np.ones_like(x), np.exp(-np.ones_like(x))])
    return e[0] / e.sum(axis=0)


# name -> (function of a Tensor, closed-form derivative for the check, title)
GALLERY = {
    "binary_step": (F.binary_step, lambda x: np.zeros_like(x), "binary step (θ = 0)"),
    "identity": (F.identity, lambda x: np.ones_like(x), "identity (linear)"),
    "sigmoid": (F.sigmoid, lambda x: expit(x) * (1 - expit(x)), "sigmoid σ"),
    "tanh": (F.tanh, lambda x: 1 - np.tanh(x) ** 2, "tanh"),
    "relu": (F.relu, lambda x: (x > 0).astype(float), "ReLU"),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1),
                   lambda x: np.where(x > 0, 1.0, 0.1), "leaky ReLU (α = 0.1)"),
    "prelu": (lambda x: F.prelu(x, ag.tensor([PRELU_A], dtype=x.dtype)),
              lambda x: np.where(x > 0, 1.0, PRELU_A), f"PReLU (a = {PRELU_A})"),
    "elu": (F.elu, lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))), "ELU (α = 1)"),
    "selu": (F.selu, lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA *
                                                      np.exp(np.minimum(x, 0))), "SELU"),
    "softplus": (F.softplus, expit, "softplus (β = 1)"),
    "gelu": (F.gelu, lambda x: 0.5 * (1 + erf(x / np.sqrt(2))) + x * _phi(x),
             "GELU x·Φ(x)"),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), None, "GELU, tanh approximation"),
    "silu": (F.silu, lambda x: expit(x) * (1 + x * (1 - expit(x))), "SiLU x·σ(x)"),
    "swish": (lambda x: F.swish(x, beta=2.0),
              lambda x: expit(2 * x) + 2 * x * expit(2 * x) * (1 - expit(2 * x)),
              "swish x·σ(βx), β = 2"),
    "softmax": (softmax_class0, lambda x: _softmax0(x) * (1 - _softmax0(x)),
                "softmax(x, 0, −1)₀"),
    "log_softmax": (log_softmax_class0, lambda x: 1 - _softmax0(x), "log-softmax(x, 0, −1)₀"),
}


def curves(fn, x):
    """f, f′ and f″ on the grid x (float64), all from the engine."""
    t = ag.tensor(x, requires_grad=True)
    y = fn(t)
    (d1,) = ag.grad(y.sum(), t, create_graph=True)
    # binary_step and identity have a constant derivative: d1 does not depend on t.
    (d2,) = ag.grad(d1.sum(), t, allow_unused=True) if d1.requires_grad else (None,)
    d2 = np.zeros_like(x) if d2 is None else d2.data
    return y.data, d1.data, d2


def draw(ax, name, title, x, y, d1, d2):
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.plot(x, y, lw=2, label="f(x)")
    ax.plot(x, d1, lw=1.6, ls="--", label="f′(x) (autograd)")
    ax.plot(x, d2, lw=1, ls=":", color="0.4", label="f″(x) (autograd)")
    lo, hi = np.percentile(np.concatenate([y, d1]), [1, 99])
    pad = 0.15 * max(hi - lo, 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)


def crop_panels(fig, axes):
    """Each axes' region (title and tick labels included) of the rendered figure, as
    RGBA arrays."""
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())
    height = pixels.shape[0]
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in axes:
        box = ax.get_tightbbox(renderer)      # display pixels, origin at the bottom left
        x0, x1 = max(int(box.x0) - 4, 0), min(int(np.ceil(box.x1)) + 4, pixels.shape[1])
        y0 = max(height - int(np.ceil(box.y1)) - 4, 0)
        y1 = min(height - int(box.y0) + 4, height)
        out.append(pixels[y0:y1, x0:x1].copy())
    return out


def wrote_png(path, image):
    import matplotlib.image
    matplotlib.image.imsave(path, image)
    return wrote(path)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], "activations_gallery", argv)
    x = np.linspace(-4.0, 4.0, 201 if args.quick else 801)
    # Keep kinks off the grid's points for the comparison: there the closed forms above
    # and the engine's sub-gradient conventions (relu'(0) = 0, ...) may differ.
    check = x[np.abs(x) > 1e-9]

    results, errors = {}, {}
    for name, (fn, closed, title) in GALLERY.items():
        results[name] = curves(fn, x)
        if closed is not None:
            _, d1, _ = curves(fn, check)
            errors[name] = float(np.max(np.abs(d1 - closed(check))))
    # The tanh-approximate GELU has no short closed form: compare it with the exact one.
    gelu_gap = float(np.max(np.abs(results["gelu_tanh"][0] - results["gelu"][0])))

    plt = pyplot()
    cols = 4
    rows = -(-len(GALLERY) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.6 * rows), dpi=110)
    for ax, (name, (_, _, title)) in zip(axes.flat, GALLERY.items()):
        draw(ax, name, title, x, *results[name])
    for ax in list(axes.flat)[len(GALLERY):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Activations and their derivatives, computed by autograd", y=1.0)
    fig.tight_layout()
    panels = crop_panels(fig, list(axes.flat)[:len(GALLERY)])
    save_figure(fig, args.out, "activations.png")

    # One PNG per activation, cut out of the rendered grid (rendering 16 more figures
    # would take longer than everything else here).
    single = os.path.join(args.out, "activations")
    os.makedirs(single, exist_ok=True)
    for name, image in zip(GALLERY, panels):
        wrote_png(os.path.join(single, f"{name}.png"), image)

    print(f"\n{'activation':12s} {'f(-2)':>9s} {'f(2)':>9s} {'f′(-2)':>9s} {'f′(2)':>9s}  "
          "max |autograd f′ − closed form|")
    i_m2, i_p2 = np.argmin(np.abs(x + 2)), np.argmin(np.abs(x - 2))
    for name, (y, d1, _) in results.items():
        err = f"{errors[name]:.1e}" if name in errors else f"(vs exact GELU: {gelu_gap:.1e})"
        print(f"{name:12s} {y[i_m2]:9.4f} {y[i_p2]:9.4f} {d1[i_m2]:9.4f} {d1[i_p2]:9.4f}  {err}")
    worst = max(errors.values())
    print(f"\nEvery autograd derivative matches its closed form (worst {worst:.1e}).")
    return {"n_activations": len(GALLERY), "max_derivative_error": worst,
            "derivative_errors": errors, "gelu_tanh_gap": gelu_gap,
            "figure": os.path.join(args.out, "activations.png")}


if __name__ == "__main__":
    main()
