"""What every example shares: the command line (--out, --quick, --seed), the output
folder, progress bars and figure saving. Examples run from the repository root
(``python3 examples/NAME.py``) or as modules, offline, in under a minute."""
import argparse
import os
import sys

import numpy as np

# Let `python3 examples/x.py` import the packages from a source checkout too.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import autograd as ag  # noqa: E402


def parse_args(description, name, argv=None, **extra):
    """--out (default out/NAME), --quick (fewer epochs, same code path), --seed.

    ``extra`` adds options: ``epochs=(int, 30, "help")``.
    """
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=os.path.join("out", name),
                   help="folder for the figures and SVGs (created if missing)")
    p.add_argument("--quick", action="store_true",
                   help="a fast run for the tests: fewer epochs, same code path")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    for opt, (typ, default, help_) in extra.items():
        p.add_argument("--" + opt.replace("_", "-"), type=typ, default=default, help=help_)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    ag.manual_seed(args.seed)
    np.random.seed(args.seed)
    return args


def progress(iterable, **kwargs):
    """A tqdm progress bar (on stderr), or the plain iterable when tqdm is missing."""
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, out, filename):
    """Save a matplotlib figure as PNG into ``out``, close it, print and return the path."""
    path = os.path.join(out, filename)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    print(f"wrote {path}")
    return path


def wrote(path):
    print(f"wrote {path}")
    return path


def render_svg(graph, out, stem):
    """Render ``graph`` (from ``ag.draw_graph``) to OUT/STEM.svg; without Graphviz's
    `dot` program, write its DOT source to OUT/STEM.gv instead and print how to install
    Graphviz. Returns the path written."""
    svg = os.path.join(out, stem + ".svg")
    try:
        graph.render(outfile=svg, cleanup=True)
        return wrote(svg)
    except ag.GraphvizNotFoundError as e:
        print(e)
        gv = os.path.join(out, stem + ".gv")
        with open(gv, "w", encoding="utf-8") as fh:
            fh.write(graph.source)
        return wrote(gv)
