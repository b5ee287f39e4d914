"""The core examples (quickstart, cnn_digits, sequence_rnn, hypergradient, custom_op) in
--quick mode, the full quickstart's accuracy bar, and docs/tutorial.md's snippets.

Each run must write exactly the files it reports ("wrote PATH" lines, and the "files"
entry of the dict main returns), each one valid, and return metrics that say it worked.
"""
import importlib.util
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
TUTORIAL = os.path.join(ROOT, "docs", "tutorial.md")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HAVE_DOT = shutil.which("dot") is not None


def load(name):
    """examples/NAME.py as a fresh module, its folder on sys.path as when it is run."""
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    spec = importlib.util.spec_from_file_location(f"_core_example_{name}",
                                                  os.path.join(EXAMPLES, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_file(path):
    """The file exists, is not empty and parses as what its extension says."""
    assert os.path.isfile(path) and os.path.getsize(path) > 0, path
    ext = os.path.splitext(path)[1]
    if ext == ".png":
        with open(path, "rb") as fh:
            assert fh.read(8) == PNG_SIGNATURE, path
        import matplotlib.image
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 50, (path, image.shape)
    elif ext == ".svg":
        assert ET.parse(path).getroot().tag.endswith("svg"), path
    elif ext == ".gv":
        with open(path, encoding="utf-8") as fh:
            assert fh.read().lstrip().startswith("digraph"), path
    elif ext == ".npz":
        import nn
        assert nn.load(path), path
    else:
        raise AssertionError(f"unexpected kind of output file: {path}")


def written(folder):
    return {os.path.join(d, f) for d, _, files in os.walk(folder) for f in files}


def run(name, folder, capsys, *extra):
    """main(["--out", folder, *extra]) -> (metrics, stdout), after checking
    that the files it wrote, reported and returned are the same set, each valid."""
    metrics = load(name).main(["--out", str(folder), *extra])
    out = capsys.readouterr().out
    reported = {os.path.abspath(p) for p in re.findall(r"^wrote (.+)$", out, re.M)}
    returned = {os.path.abspath(p) for p in metrics["files"]}
    on_disk = {os.path.abspath(p) for p in written(folder)}
    assert reported and reported == returned == on_disk, (reported, returned, on_disk)
    for path in on_disk:
        check_file(path)
    return metrics, out


def graph_file(stem):
    return stem + (".svg" if HAVE_DOT else ".gv")


# ----------------------------------------------------------------- quickstart
def test_quickstart_quick(tmp_path, capsys):
    m, out = run("quickstart", tmp_path, capsys, "--quick")
    names = {os.path.basename(p) for p in m["files"]}
    assert names == {graph_file("mlp_loss"), "mlp_digits.npz", "loss_curve.png"}
    assert m["epochs"] == 4
    assert m["test_accuracy"] > 0.8            # 10 classes: chance is 0.1
    assert m["reloaded_accuracy"] == m["test_accuracy"]
    assert m["final_loss"] < m["first_loss"] / 3
    assert m["gradcheck"] is True
    assert m["graph_ops"] > 10
    for epoch in range(1, 5):                 # the progress lines, one per epoch
        assert re.search(rf"^epoch +{epoch} +loss [0-9.]+ +test accuracy", out, re.M)
    assert "Summary" in out
    if HAVE_DOT:                               # parameter names label the records
        svg = (tmp_path / "mlp_loss.svg").read_text()
        assert "0.weight" in svg and "4.bias" in svg
    import nn
    state = nn.load(str(tmp_path / "mlp_digits.npz"))   # PyTorch's keys and layouts
    assert {k: v.shape for k, v in state.items()} == {
        "0.weight": (128, 64), "0.bias": (128,), "2.weight": (64, 128), "2.bias": (64,),
        "4.weight": (10, 64), "4.bias": (10,)}


def test_quickstart_full_run_reaches_95_percent(tmp_path, capsys):
    # The README's first command, exactly as a newcomer runs it (about 15 s).
    m, _ = run("quickstart", tmp_path, capsys)
    assert m["epochs"] == 20
    assert m["test_accuracy"] >= 0.95
    assert m["reloaded_accuracy"] == m["test_accuracy"]


# ----------------------------------------------------------------- cnn_digits
def test_cnn_digits_quick(tmp_path, capsys):
    m, out = run("cnn_digits", tmp_path, capsys, "--quick")
    names = {os.path.basename(p) for p in m["files"]}
    assert names == {"curves.png", "misclassified.png", "filters.png"}
    assert m["test_accuracy"] > 0.8
    assert m["final_loss"] < m["first_loss"] / 2
    assert m["misclassified"] == round((1 - m["test_accuracy"]) * 360)
    assert "Conv2d(1, 16" in out and "MaxPool2d" in out


# ----------------------------------------------------------------- sequence_rnn
def test_sequence_rnn_quick(tmp_path, capsys):
    m, out = run("sequence_rnn", tmp_path, capsys, "--quick")
    names = {os.path.basename(p) for p in m["files"]}
    assert names == {"sequence_losses.png", "predictions.png"}
    for kind in ("RNN", "LSTM", "GRU"):
        # Each one learned, and beats the naive "next value = current value" forecast.
        assert m["final_train_loss"][kind] < m["first_train_loss"][kind] / 3, kind
        assert m["final_test_mse"][kind] < m["persistence_mse"], kind
        assert re.search(rf"^ +{kind} +[0-9.]+ ", out, re.M), kind


# ----------------------------------------------------------------- hypergradient
def test_hypergradient_quick(tmp_path, capsys):
    m, out = run("hypergradient", tmp_path, capsys, "--quick")
    assert [os.path.basename(p) for p in m["files"]] == ["hypergradient.png"]
    # The engine's derivative through 15 recorded SGD steps is the finite difference's.
    assert m["hypergradient"] < 0      # a larger lr helps at the start
    assert abs(m["hypergradient"] - m["finite_difference"]) <= 1e-6 * abs(m["finite_difference"])
    assert m["final_lr"] > 5 * m["initial_lr"]
    assert m["final_val_loss"] < m["initial_val_loss"] - 0.1
    assert "central finite difference" in out


# ----------------------------------------------------------------- custom_op
def test_custom_op_quick(tmp_path, capsys):
    m, out = run("custom_op", tmp_path, capsys, "--quick")
    names = {os.path.basename(p) for p in m["files"]}
    assert names == {graph_file("custom_op_graph"), "custom_op.png"}
    assert m["gradcheck"] is True and m["gradgradcheck"] is True
    assert m["wrong_backward_caught"]
    assert "Jacobian mismatch" in m["gradcheck_error"]
    assert "GradcheckError: gradcheck: Jacobian mismatch" in out
    assert m["max_abs_diff_vs_F_softplus"] < 1e-12
    assert m["final_mse"] < m["initial_mse"] / 2
    # The backward table has the custom op's row with its derivative in words.
    assert re.search(r"stable_softplus .*d softplus\(x\)/dx = sigmoid\(x\)", out)
    assert m["backward_steps"] >= 6     # linear (1 op per layer), softplus, loss
    if HAVE_DOT:
        assert "stable_softplus" in (tmp_path / "custom_op_graph.svg").read_text()


def test_custom_op_softplus_matches_a_direct_formula():
    custom_op = load("custom_op")
    import autograd as ag
    x = np.array([-800.0, -5.0, 0.0, 1e-3, 5.0, 800.0])
    y = custom_op.Softplus.apply(ag.tensor(x, dtype=np.float64)).numpy()
    np.testing.assert_allclose(y, np.logaddexp(0.0, x), rtol=1e-15, atol=0)
    assert custom_op.Softplus.apply(ag.tensor(x, dtype=np.float32)).dtype == np.float32


def test_missing_dot_writes_the_dot_source_and_says_how_to_install(tmp_path, capsys,
                                                                     monkeypatch):
    empty = tmp_path / "no-programs-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))     # `dot` cannot be found
    out_dir = tmp_path / "out"
    m, out = run("custom_op", out_dir, capsys, "--quick", "--steps", "5")
    assert {os.path.basename(p) for p in m["files"]} == {"custom_op_graph.gv",
                                                        "custom_op.png"}
    assert "apt-get install graphviz" in out
    assert "stable_softplus" in (out_dir / "custom_op_graph.gv").read_text()


# ----------------------------------------------------------------- the tutorial
def tutorial_blocks():
    with open(TUTORIAL, encoding="utf-8") as fh:
        return re.findall(r"^```python\n(.*?)^```", fh.read(), re.S | re.M)


def test_tutorial_snippets_run_in_order(tmp_path, monkeypatch, capsys):
    blocks = tutorial_blocks()
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)                # the files it writes land here
    namespace = {"__name__": "tutorial"}
    for k, code in enumerate(blocks, 1):
        exec(compile(code, f"docs/tutorial.md, python block {k}", "exec"), namespace)
    out = capsys.readouterr().out
    assert (tmp_path / "digits_mlp.npz").is_file()
    check_file(str(tmp_path / graph_file("digits_loss")))
    assert namespace["accuracy"] > 0.85
    assert "d x^3/dx = 3 x^2" in out           # the custom op's row in the backward table
    assert "Jacobian mismatch" in out          # the wrong backward was caught and printed
