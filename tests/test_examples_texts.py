"""The examples that reproduce the reference texts, run in --quick mode: every file they
report is written and valid, and their returned metrics say what the texts (and
docs/formulas.md) say."""
import importlib.util
import math
import os
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load(name):
    """Import examples/NAME.py as a fresh module (its folder on sys.path, as when run)."""
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    spec = importlib.util.spec_from_file_location(f"_example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_file(path):
    assert os.path.getsize(path) > 0, path
    ext = os.path.splitext(path)[1]
    if ext == ".png":
        with open(path, "rb") as fh:
            assert fh.read(8) == PNG_SIGNATURE, path
        import matplotlib.image
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and image.shape[0] > 20 and image.shape[1] > 20, path
    elif ext == ".svg":
        assert ET.parse(path).getroot().tag.endswith("svg"), path
    elif ext == ".gv":
        with open(path, encoding="utf-8") as fh:
            assert "digraph" in fh.read(), path
    elif ext in (".txt", ".md"):
        with open(path, encoding="utf-8") as fh:
            assert fh.read().strip(), path
    else:
        raise AssertionError(f"unexpected output file {path}")


def run(name, tmp_path, capsys, *extra):
    """main(--quick --out tmp_path): its metrics and stdout, after checking that every
    file it reported exists and is valid, and that it reported every file it wrote."""
    metrics = load(name).main(["--quick", "--out", str(tmp_path), *extra])
    out = capsys.readouterr().out
    reported = {os.path.abspath(p) for p in re.findall(r"^wrote (.+)$", out, re.M)}
    assert reported, f"{name} reported no files"
    on_disk = {os.path.abspath(os.path.join(d, f))
               for d, _, files in os.walk(tmp_path) for f in files}
    assert reported == on_disk
    for path in sorted(reported):
        check_file(path)
    assert isinstance(metrics, dict)
    return metrics, out


# ---------------------------------------------------------------- xor
def test_xor(tmp_path, capsys):
    m, out = run("xor", tmp_path, capsys)
    names = {os.path.basename(p) for p in re.findall(r"^wrote (.+)$", out, re.M)}
    assert names == {"xor_decision_regions.png", "xor_loss_curves.png"}
    # 003 §1.12-1.14: prediction 4 for (0, 0); descent gives 0.6 / 1.68, the text's
    # rule (an ascent step) 1.4 / 7.28.
    assert m["text_first_step_pred"] == pytest.approx(4.0)
    assert m["descent_hidden_out_weight"] == pytest.approx(0.6, abs=1e-6)
    assert m["descent_new_pred"] == pytest.approx(1.68, abs=1e-5)
    assert m["text_rule_hidden_out_weight"] == pytest.approx(1.4, abs=1e-6)
    assert m["text_rule_new_pred"] == pytest.approx(7.28, abs=1e-5)
    # A linear network cannot beat the least-squares line: MSE 0.25, chance level.
    assert m["linear_lstsq_mse"] == pytest.approx(0.25, abs=1e-9)
    assert 0.25 - 1e-4 <= m["linear_text_mse"] < 0.26
    assert m["linear_text_accuracy"] <= 0.75
    assert m["linear_random_bce"] >= math.log(2) - 1e-3
    assert m["linear_random_accuracy"] <= 0.75
    # Symmetric starts stay symmetric (exactly), and a tanh net then acts as one unit.
    assert m["linear_text_spread"] == 0.0
    assert m["tanh_ones_spread"] == 0.0
    assert m["tanh_ones_accuracy"] <= 0.75
    # One non-linear hidden layer from a random start solves XOR.
    assert m["tanh_random_accuracy"] == 1.0
    assert m["sigmoid_random_accuracy"] == 1.0
    assert m["tanh_random_successes"] >= 4
    assert m["tanh_random_loss_last"] < 0.1 * m["tanh_random_loss_first"]


# ---------------------------------------------------------------- tables
def test_forward_backward_tables(tmp_path, capsys):
    m, out = run("forward_backward_tables", tmp_path, capsys)
    assert m["matches_autograd"] is True
    assert "matches autograd" in out
    for key in ("max_delta_error", "max_weight_grad_error", "max_bias_grad_error",
                "max_update_error"):
        assert m[key] < 1e-12, key
    # 003's worked example in table form.
    assert m["prediction_003"] == 4.0 and m["loss_003"] == 8.0
    assert m["new_prediction_003"] == pytest.approx(1.68)
    (w1, b1), (w2, b2) = m["new_weights_003"]
    np.testing.assert_allclose(w1, 1.0)       # the X links carry 0: no change
    np.testing.assert_allclose(b1, 0.6)
    np.testing.assert_allclose(w2, 0.6)
    np.testing.assert_allclose(b2, 0.6)
    # 000's network: 3 layers of matmul, add, sigmoid and the ½ΣE² loss's 4 ops.
    assert m["backward_steps_000"] == 13
    with open(tmp_path / "forward_backward_tables.md", encoding="utf-8") as fh:
        md = fh.read()
    for heading in ("forward pass", "backpropagation", "weight and bias updates",
                    "backward steps"):
        assert heading in md
    assert md.count("\n|---") >= 8          # 4 tables for each of the two networks


def test_forward_backward_tables_catches_a_wrong_hand_derivative(tmp_path, capsys,
                                                                 monkeypatch):
    module = load("forward_backward_tables")
    f, _, sym = module.ACTIVATIONS["sigmoid"]
    # σ′ = σ(1 − σ) mistaken for σ itself: the comparison with autograd must fail.
    monkeypatch.setitem(module.ACTIVATIONS, "sigmoid",
                        (f, lambda z: 1.0 / (1.0 + np.exp(-z)), sym))
    with pytest.raises(AssertionError, match="MISMATCH"):
        module.main(["--quick", "--out", str(tmp_path)])


# ---------------------------------------------------------------- galleries
def test_activations_gallery(tmp_path, capsys):
    m, out = run("activations_gallery", tmp_path, capsys)
    module = load("activations_gallery")
    design = {"binary_step", "identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu",
              "elu", "selu", "softplus", "gelu", "gelu_tanh", "silu", "swish", "softmax",
              "log_softmax"}
    assert design <= set(module.GALLERY)
    assert m["n_activations"] == len(module.GALLERY)
    for name in module.GALLERY:
        assert (tmp_path / "activations" / f"{name}.png").is_file()
    assert (tmp_path / "activations.png").is_file()
    # Every closed-form derivative is met by the engine to rounding error.
    assert set(m["derivative_errors"]) == design - {"gelu_tanh"}
    assert m["max_derivative_error"] < 1e-10
    assert 0 < m["gelu_tanh_gap"] < 1e-3


def test_losses_gallery(tmp_path, capsys):
    m, out = run("losses_gallery", tmp_path, capsys)
    assert m["n_losses"] == 23            # every loss of DESIGN.md's table
    assert m["max_gradient_error"] < 1e-8
    for key in ("MSE: MSE", "L1 / MAE: L1 / MAE", "Huber (δ = 1): Huber (δ = 1)",
                "log-cosh: log-cosh", "BCE with logits: y = 1", "hinge: y = 1",
                "cross-entropy, 3 classes: target class 0", "total variation: 4×4 image"):
        assert key in m["gradient_errors"], key
    assert (tmp_path / "losses.png").is_file()


# ---------------------------------------------------------------- regression
def test_regression_outliers(tmp_path, capsys):
    m, out = run("regression_outliers", tmp_path, capsys)
    assert m["mse_vs_polyfit"] < 0.05             # MSE fit = least squares
    assert m["mse_slope_error"] > 0.5             # the outliers tilt it
    for key in ("mae", "huber", "log_cosh"):
        assert m[f"{key}_slope_error"] < m["mse_slope_error"] / 3, key
        assert m[f"{key}_intercept_error"] < m["mse_intercept_error"] / 3, key
        assert m[f"{key}_slope_error"] < 0.3, key
    for key in ("mse", "mae", "huber", "log_cosh"):
        assert m[f"{key}_loss_last"] < m[f"{key}_loss_first"], key


# ---------------------------------------------------------------- perceptron
def test_perceptron(tmp_path, capsys):
    m, out = run("perceptron", tmp_path, capsys)
    # Novikoff: on a separable set the perceptron stops making mistakes ...
    assert m["perceptron_separable_converged"] is True
    assert m["perceptron_separable_accuracy"] == 1.0
    # ... and on a non-separable one it never does.
    assert m["perceptron_moons_min_mistakes"] > 0
    assert m["perceptron_moons_accuracy"] < 1.0
    assert m["delta_rule_step_error"] < 1e-12     # optim.SGD step == η(t − y)x
    assert m["delta_separable_accuracy"] >= 0.95
    assert m["logistic_separable_accuracy"] >= 0.98
    # Linear learners top out on the moons; a hidden layer bends the boundary.
    for key in ("perceptron", "delta", "logistic"):
        assert 0.7 < m[f"{key}_moons_accuracy"] < 0.9, key
    assert m["tanh_moons_accuracy"] >= 0.9
    assert m["tanh_moons_loss_last"] < m["logistic_moons_loss_last"]
    for key in ("logistic_moons", "tanh_moons", "logistic_separable"):
        assert m[f"{key}_loss_last"] < m[f"{key}_loss_first"], key
