"""Graph drawing (draw_graph -> Graphviz/SVG) and the backward-pass table (backward_steps)."""
import os
import shutil
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

import autograd as ag
import nn
from autograd import graph as G

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="the Graphviz `dot` program is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(graph):
    """Render with dot, parse the SVG as XML, return every text element's content."""
    root = ET.fromstring(graph.pipe("svg"))
    assert root.tag == SVG + "svg"
    return [t.text for t in root.iter(SVG + "text")]


def neuron():
    f64 = np.float64
    x1, x2 = ag.tensor(2.0, dtype=f64), ag.tensor(0.0, dtype=f64)
    w1 = ag.tensor(-3.0, dtype=f64, requires_grad=True)
    w2 = ag.tensor(1.0, dtype=f64, requires_grad=True)
    b = ag.tensor(6.8813735870195432, dtype=f64, requires_grad=True)
    x1w1, x2w2 = x1 * w1, x2 * w2
    n = x1w1 + x2w2 + b
    o = ag.tanh(n)
    for t in (x1w1, x2w2, n, o):
        t.retain_grad()
    names = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "x1w1": x1w1, "x2w2": x2w2,
             "n": n, "o": o}
    return o, names


class Layer(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(ag.randn(n_out, n_in))
        self.bias = nn.Parameter(ag.zeros(n_out))

    def forward(self, x):
        return x @ self.weight.T + self.bias


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = Layer(3, 4)
        self.out = Layer(4, 2)

    def forward(self, x):
        return self.out(ag.tanh(self.hidden(x)))


def mlp_loss():
    model = TwoLayer()
    loss = (model(ag.randn(5, 3)) ** 2).mean()
    return model, loss


def record_line(source, text):
    """The DOT line that defines the node whose label contains ``text``."""
    lines = [ln for ln in source.splitlines() if "label=" in ln and text in ln and "->" not in ln]
    assert lines, f"no node labelled {text!r} in\n{source}"
    return lines[0]


# ---------------------------------------------------------------- drawing
@needs_dot
def test_neuron_svg_has_ops_values_grads_and_names():
    o, names = neuron()
    o.backward()
    texts = svg_texts(ag.draw_graph(o, names=names))
    for op in ("tanh", "add", "mul"):
        assert op in texts
    for name in ("x1", "x2", "w1", "w2", "b", "x1w1", "x2w2", "n", "o"):
        assert name in texts
    assert "data 0.7071" in texts            # tanh(0.8814)
    assert "grad 0.5" in texts               # dn = 1 - o^2
    assert "grad 1" in texts                 # w1.grad = x1 * dn
    assert "grad None" not in texts          # every tensor that needs one has a grad


def test_parameters_constants_intermediates_and_root_look_different():
    o, names = neuron()
    o.backward()
    src = ag.draw_graph(o, names=names).source
    kinds = {"parameter": "w1", "constant": "x1", "intermediate": "x1w1", "root": "o"}
    fills = {}
    for kind, label in kinds.items():
        line = record_line(src, f'label="{label}|')
        fill = G.STYLES[kind]["fillcolor"]
        assert f'fillcolor="{fill}"' in line, (kind, line)
        fills[kind] = (fill, G.STYLES[kind]["style"])
    assert len(set(fills.values())) == 4
    assert 'shape="ellipse"' in record_line(src, '"tanh"')


def test_legend_lists_every_kind():
    o, _ = neuron()
    plain = ag.draw_graph(o).source
    src = ag.draw_graph(o, legend=True).source
    assert "cluster_legend" not in plain and "cluster_legend" in src
    for kind in ("parameter", "constant", "intermediate", "root", "op"):
        assert f"legend_{kind} " in src


def test_names_from_named_parameters_a_dict_or_pairs():
    model, loss = mlp_loss()
    loss.backward()
    params = ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    from_generator = ag.draw_graph(loss, names=model.named_parameters()).source
    from_dict = ag.draw_graph(loss, names=dict(model.named_parameters())).source
    from_pairs = ag.draw_graph(loss, names=list(model.named_parameters())).source
    assert from_generator == from_dict == from_pairs
    for p in params:
        line = record_line(from_dict, p)
        assert f'fillcolor="{G.STYLES["parameter"]["fillcolor"]}"' in line
    unnamed = ag.draw_graph(loss).source
    assert not any(p in unnamed for p in params)
    assert "(4, 3) float32" in unnamed                # no name: shape and dtype


@needs_dot
def test_mlp_svg_shows_parameter_names_and_summaries():
    model, loss = mlp_loss()
    loss.backward()
    texts = svg_texts(ag.draw_graph(loss, names=model.named_parameters(), legend=True))
    assert {"hidden.weight (4, 3)", "out.bias (2,)", "matmul", "tanh", "legend"} <= set(texts)
    w = model.hidden.weight
    # 12 elements: a summary, not the values
    assert f"data min {np.min(w.data):.4g} max {np.max(w.data):.4g}" in texts
    g = w.grad.data
    assert (f"grad min {np.min(g):.4g} max {np.max(g):.4g} "
            f"norm {np.linalg.norm(g.astype(np.float64)):.4g}") in texts
    assert "data [0, 0]" in texts                    # out.bias: small, values shown


def test_op_labels_carry_key_arguments():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = ((x ** 3).sum(axis=1) + x.transpose(1, 0)[0:2, 1]).max()
    src = ag.draw_graph(y).source
    assert 'label="pow\\nexponent=3"' in src
    assert 'label="sum\\naxis=(1,)"' in src
    assert 'label="transpose\\naxes=(1, 0)"' in src
    assert 'label="getitem\\nindex=[0:2, 1]"' in src
    assert 'label="max\\naxis=(0,)"' in src
    assert "keepdims" not in src                    # False flags are left out


def test_edges_name_the_arguments_of_multi_input_ops():
    a = ag.tensor([1.0, 2.0], requires_grad=True)
    b = ag.tensor([3.0, 4.0])
    y = (a - b).sum()
    src = ag.draw_graph(y, names={"a": a, "b": b}).source
    ida = record_line(src, '"a (2,)').split()[0]
    idb = record_line(src, '"b (2,)').split()[0]
    assert f'{ida} -> f' in src and f'{idb} -> f' in src
    sq = ag.draw_graph((a * a).sum()).source    # x * x: two edges from the same record
    assert sum('label="a"' in ln or 'label="b"' in ln for ln in sq.splitlines()) == 2


def test_small_values_and_large_summaries():
    small = ag.tensor([[1.0, -2.5], [0.125, 4.0]], requires_grad=True)
    big = ag.tensor(np.linspace(-1, 3, 10), requires_grad=True)
    y = (small.sum() + big.sum())
    y.backward()
    src = ag.draw_graph(y, names={"small": small, "big": big}).source
    assert "data [[1, -2.5], [0.125, 4]]" in src
    assert "grad [[1, 1], [1, 1]]" in src
    assert "data min -1 max 3" in src
    assert f"grad min 1 max 1 norm {np.sqrt(10):.4g}" in src
    bare = ag.draw_graph(y, names={"small": small}, show_data=False, show_grad=False).source
    assert "|data" not in bare and "|grad" not in bare


def test_dropped_intermediates_show_shape_only_and_retained_grads_show():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    kept = x * 2.0
    kept.retain_grad()
    y = ag.exp(kept).sum()        # exp's output is not held by anyone
    y.backward()
    src = ag.draw_graph(y, names={"kept": kept}).source
    assert "kept (2,)|data [2, 4]|grad [7.389, 54.6]" in src
    exp_out = [ln for ln in src.splitlines() if '[label="(2,) float32"' in ln]
    assert len(exp_out) == 1      # title only: its values are gone


def test_root_that_is_a_leaf_or_constant():
    w = ag.tensor(3.0, requires_grad=True)
    src = ag.draw_graph(w, names={"w": w}).source
    assert f'fillcolor="{G.STYLES["root"]["fillcolor"]}"' in record_line(src, '"w|data 3')
    c = ag.tensor([1.0, 2.0])
    assert "(2,) float32|data [1, 2]" in ag.draw_graph(c).source


def test_second_derivative_graph_draws():
    x = ag.tensor(0.5, dtype=np.float64, requires_grad=True)
    y = ag.tanh(x) * x
    (dy,) = ag.grad(y, x, create_graph=True)
    g = ag.draw_graph(dy, names={"x": x, "dy/dx": dy})
    assert g.total_ops > 3           # the backward ops and the forward ops they reuse
    src = g.source
    assert '"tanh"' in src and 'label="sub\\na=1"' in src and "dy/dx|data" in src
    if shutil.which("dot"):
        assert "dy/dx" in svg_texts(g)


def test_bad_arguments_name_the_function():
    x = ag.tensor(1.0, requires_grad=True)
    with pytest.raises(TypeError, match="draw_graph: root"):
        ag.draw_graph(np.ones(2))
    with pytest.raises(ValueError, match="draw_graph: rankdir"):
        ag.draw_graph(x, rankdir="XY")
    for bad in (0, -1, True, "all", 2.5):
        with pytest.raises(ValueError, match="draw_graph: max_nodes"):
            ag.draw_graph(x, max_nodes=bad)
    with pytest.raises(TypeError, match="names"):
        ag.draw_graph(x, names={"x": np.ones(2)})
    with pytest.raises(TypeError, match="names"):
        ag.draw_graph(x, names=["x"])
    with pytest.raises(TypeError, match="names"):
        ag.draw_graph(x, names="x")


# ---------------------------------------------------------------- escaping
WEIRD = 'w<1>|{a}"q"\\z'


@needs_dot
def test_record_special_characters_are_escaped():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    g = ag.draw_graph(y, names={WEIRD: w, 'the "sum" <y>': y})
    assert '\\<1\\>\\|\\{a\\}\\"q\\"\\\\z' in g.source
    texts = svg_texts(g)                          # dot accepts it, and shows the raw text
    assert f"{WEIRD} (2,)" in texts
    assert 'the "sum" <y>' in texts
    g_tb = ag.draw_graph(y, names={WEIRD: w}, rankdir="TB", legend=True)
    assert f"{WEIRD} (2,)" in svg_texts(g_tb)


@needs_dot
def test_odd_op_names_and_arguments_are_escaped():
    class Odd(ag.Function):
        name = 'odd<op>|"x"'

        @staticmethod
        def forward(ctx, x, tag):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g, None

    x = ag.tensor([1.0], requires_grad=True)
    y = Odd.apply(x, 'a"b\\c{d}').sum()
    texts = svg_texts(ag.draw_graph(y))
    assert 'odd<op>|"x"' in texts
    assert "tag='a\"b\\\\c{d}'" in texts
    steps = ag.backward_steps(y)
    assert steps[1].derivative.startswith("(no rule in words")


# ---------------------------------------------------------------- large graphs
def chain(n):
    x = ag.tensor(np.ones(3), requires_grad=True)
    y = x
    for i in range(n):
        y = ag.tanh(y) if i % 2 else y * 1.0
    return y


def test_20000_node_graph_draws_without_recursion():
    y = chain(20_000)
    g = ag.draw_graph(y, max_nodes=None)
    src = g.source
    assert g.total_ops == g.drawn_ops == 20_000
    assert src.count('[label="tanh"') == 10_000
    assert src.count('[label="mul\\nb=1"') == 10_000


def test_large_graph_without_options_warns_and_draws_the_part_near_the_root():
    y = chain(20_000)
    with pytest.warns(UserWarning, match="collapse=True.*max_nodes=N.*max_nodes=None"):
        g = ag.draw_graph(y)
    assert g.drawn_ops == G.AUTO_MAX_NODES and g.total_ops == 20_000
    assert f"{20_000 - G.AUTO_MAX_NODES} more op nodes not drawn" in g.source


def test_max_nodes_caps_without_warning():
    y = chain(20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = ag.draw_graph(y, max_nodes=40)
    assert g.drawn_ops == 40
    src = g.source
    assert src.count("shape=\"ellipse\"") == 40
    assert "19960 more op nodes not drawn" in src
    if shutil.which("dot"):
        assert "tanh" in svg_texts(g)


def test_collapse_folds_repeated_chains():
    y = chain(20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = ag.draw_graph(y, collapse=True)
    assert g.drawn_ops == 20_000
    src = g.source
    assert "(mul -> tanh) x9999" in src and 'peripheries="2"' in src
    assert src.count("->") < 20
    # the same op over and over, with a shared parameter
    w = ag.tensor(1.0001, dtype=np.float64, requires_grad=True)
    z = w * 1.0
    for _ in range(999):
        z = z * w
    src = ag.draw_graph(z, names={"w": w}, collapse=True).source
    assert "mul x999" in src
    assert src.count('"w|data 1') == 1
    if shutil.which("dot"):
        assert "mul x999" in svg_texts(ag.draw_graph(z, collapse=True))


def test_collapse_keeps_named_tensors_visible():
    x = ag.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10):
        y = y * 2.0
    mid = y
    for _ in range(10):
        y = y * 2.0
    src = ag.draw_graph(y, names={"mid": mid}, collapse=True).source
    assert src.count("mul x10") == 1 and src.count("mul x9") == 1    # cut at mid
    assert "mid (1,)" in src


# ---------------------------------------------------------------- missing dot
def test_missing_dot_raises_the_documented_error(monkeypatch, tmp_path):
    o, names = neuron()
    g = ag.draw_graph(o, names=names)
    monkeypatch.setenv("PATH", "")
    for call in (lambda: g.pipe("svg"), lambda: g.render(tmp_path / "n", format="svg")):
        with pytest.raises(ag.GraphvizNotFoundError) as info:
            call()
        msg = str(info.value)
        for hint in ("apt-get install graphviz", "brew install graphviz",
                     "conda install graphviz", ".source"):
            assert hint in msg
        assert isinstance(info.value, graphviz.ExecutableNotFound)
    assert "tanh" in g.source                        # still works
    assert "tanh" in ag.draw_graph(o).source         # and drawing still works
    bundle = g._repr_mimebundle_()                   # a notebook shows text instead
    assert "apt-get install graphviz" in bundle["text/plain"]


def test_import_and_source_need_no_dot(tmp_path):
    code = ("import autograd as ag; x = ag.tensor(2.0, requires_grad=True); "
            "print(ag.draw_graph(ag.tanh(x)).source)")
    env = dict(os.environ, PATH="", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "digraph" in out.stdout and "tanh" in out.stdout


@needs_dot
def test_render_writes_an_svg_and_notebooks_get_svg(tmp_path):
    o, names = neuron()
    path = ag.draw_graph(o, names=names).render(tmp_path / "neuron", format="svg")
    assert path.endswith("neuron.svg")
    assert ET.parse(path).getroot().tag == SVG + "svg"
    bundle = ag.draw_graph(o)._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


# ---------------------------------------------------------------- the backward table
def random_dag(seed, size=40):
    """A graph with sharing, broadcasting and constants; every tensor made is kept."""
    rng = np.random.default_rng(seed)
    leaves = [ag.tensor(rng.standard_normal(s), dtype=np.float64, requires_grad=True)
              for s in [(3,), (2, 3), ()]]
    const = ag.tensor(rng.standard_normal((2, 3)), dtype=np.float64)
    pool = list(leaves)
    made = []

    def keep(t):
        made.append(t)
        return t

    for _ in range(size):
        a, b = (pool[i] for i in rng.integers(0, len(pool), 2))
        kind = rng.integers(0, 5)
        if kind == 0:
            out = keep(a + b)
        elif kind == 1:
            out = keep(a * b)
        elif kind == 2:
            out = keep(ag.tanh(a))
            if rng.random() < 0.3:
                out = keep(out - const)
        elif kind == 3:
            out = keep(a.sum(axis=-1, keepdims=True) if a.ndim else a * 0.5)
        else:
            out = keep(keep(ag.sin(b)) * a)
        pool.append(out)
    root = keep(pool[-1].sum())
    for t in pool[-6:-1]:
        root = keep(root + keep(t.sum()))
    return root, made, leaves


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backward_table_rows_follow_the_engines_visit_order(seed):
    root, made, _ = random_dag(seed)
    tensors = {}
    for t in made:
        if t.grad_fn is not None and t.grad_fn not in tensors:
            tensors[t.grad_fn] = t
    visited = []
    for node, t in tensors.items():
        t.register_hook(lambda g, node=node: visited.append(node))
    before = ag.backward_steps(root)            # through engine.topological_order
    root.backward()                             # frees the graph
    after = ag.backward_steps(root)             # structure only: the freed-graph walk
    assert len(visited) > 20
    assert [s.node for s in before] == visited
    assert [s.node for s in after] == visited
    assert [s.index for s in before] == list(range(1, len(visited) + 1))


def test_backward_table_contents_for_the_neuron():
    o, names = neuron()
    steps = ag.backward_steps(o, names=names)
    assert [s.op for s in steps] == ["tanh", "add", "add", "mul", "mul"]
    first = steps[0]
    assert (first.output, first.output_shape) == ("o", ())
    assert first.derivative == "d tanh(x)/dx = 1 - tanh(x)^2"
    assert [(i.label, i.shape, i.grad_shape) for i in first.inputs] == [("n", (), ())]
    muls = {s.output: s for s in steps if s.op == "mul"}
    x1, w1 = muls["x1w1"].inputs
    assert (x1.label, x1.kind, x1.grad_shape) == ("x1", "constant", None)
    assert (w1.label, w1.kind, w1.grad_shape) == ("w1", "parameter", ())
    for s in steps:
        assert s.derivative == s.node.fn.derivative
    assert [label for label, _ in steps.leaves] == ["b", "w2", "w1"]


def test_backward_table_shapes_with_broadcasting_and_unnamed_tensors():
    model, loss = mlp_loss()
    steps = ag.backward_steps(loss, names=model.named_parameters())
    add = next(s for s in steps if s.op == "add" and any(i.label == "out.bias"
                                                         for i in s.inputs))
    assert add.output_shape == (5, 2)
    bias = next(i for i in add.inputs if i.label == "out.bias")
    assert bias.shape == bias.grad_shape == (2,)        # broadcast gradient summed back
    other = next(i for i in add.inputs if i.label != "out.bias")
    assert other.label.startswith("#") and other.label.endswith("matmul")
    mm = steps[int(other.label[1:].split()[0]) - 1]      # "#k op" points at step k
    assert mm.op == "matmul" and mm.output == other.label
    assert next(s for s in steps if s.op == "sum").args == ("axis=(0, 1)",)


def test_backward_table_text_and_markdown():
    x = ag.tensor([1.0, -2.0], requires_grad=True)
    y = ag.abs(x * 3.0).sum()
    steps = ag.backward_steps(y, names={"x": x, "y": y})
    text = steps.to_text()
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["step", "op"] and set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + len(steps) + 1          # header, rule, steps, leaf note
    assert "d |x|/dx = sign(x)" in text and "x: (2,)" in text
    assert str(steps) == text
    md = steps.to_markdown()
    rows = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len(rows) == 2 + len(steps)
    assert all(r.count(" | ") == 5 for r in rows if not r.startswith("|---"))
    assert "`d \\|x\\|/dx = sign(x)`" in md
    assert steps._repr_markdown_() == md


def test_backward_table_of_leaves_and_constants():
    w = ag.tensor(2.0, requires_grad=True)
    steps = ag.backward_steps(w, names={"w": w})
    assert len(steps) == 0 and steps.leaves == [("w", ())]
    with pytest.raises(RuntimeError, match="backward_steps: .*does not require grad"):
        ag.backward_steps(ag.tensor(1.0))
    with pytest.raises(TypeError, match="backward_steps"):
        ag.backward_steps(1.0)


# ---------------------------------------------------------------- the example
def load_example():
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import graph_svg
    finally:
        sys.path.pop(0)
    return graph_svg


@needs_dot
def test_example_script_writes_parseable_svgs(tmp_path, capsys):
    written = load_example().main(["--out", str(tmp_path), "--quick"])
    out = capsys.readouterr().out
    names = sorted(os.path.basename(p) for p in written)
    assert names == ["mlp_loss.svg", "neuron.svg", "second_derivative.svg"]
    for p in written:
        assert ET.parse(p).getroot().tag == SVG + "svg"
        assert f"wrote {p}" in out
    neuron_texts = [t.text for t in ET.parse(tmp_path / "neuron.svg").iter(SVG + "text")]
    assert {"w1", "o", "tanh", "grad 0.5"} <= set(neuron_texts)
    mlp_texts = [t.text for t in ET.parse(tmp_path / "mlp_loss.svg").iter(SVG + "text")]
    assert "hidden.weight (4, 3)" in mlp_texts
    assert "d tanh(x)/dx = 1 - tanh(x)^2" in out and "local derivative" in out


def test_example_script_without_dot_writes_dot_sources(tmp_path, monkeypatch, capsys):
    example = load_example()
    monkeypatch.setenv("PATH", "")
    written = example.main(["--out", str(tmp_path), "--quick"])
    assert sorted(os.listdir(tmp_path)) == ["mlp_loss.gv", "neuron.gv", "second_derivative.gv"]
    assert all(open(p).read().startswith("digraph") for p in written)
    assert capsys.readouterr().out.count("apt-get install graphviz") == 1


def test_numpy_array_constants_are_drawn():
    # A plain ndarray argument (here the targets' one-hot mask) is a constant leaf.
    w = ag.tensor(np.ones(3), requires_grad=True)
    loss = (w * np.array([1.0, 2.0, 3.0])).sum()
    src = ag.draw_graph(loss).source
    assert "(3,) float64|data [1, 2, 3]" in src     # the constant, with its values
    assert "dashed" in src                          # the constants' style
