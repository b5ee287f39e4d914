"""The training examples of issue 7 — optimizers_race, vanishing_gradients, imbalanced,
segmentation_toy — run in quick mode: every file they report is a valid PNG in the
output folder, and their returned metrics show what each example claims to show."""
import contextlib
import importlib.util
import io
import os
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")


def load(name):
    """Import examples/NAME.py as a module (its folder on sys.path, for `import common`)."""
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Run:
    def __init__(self, module, metrics, stdout, out):
        self.module, self.metrics, self.stdout, self.out = module, metrics, stdout, out

    def written(self):
        return [line[len("wrote "):] for line in self.stdout.splitlines()
                if line.startswith("wrote ")]


def run_quick(name, tmp_path_factory):
    out = tmp_path_factory.mktemp(name)
    module = load(name)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        metrics = module.main(["--quick", "--out", str(out)])
    return Run(module, metrics, buf.getvalue(), out)


def check_pngs(run, expected):
    """Exactly the expected files were reported, each in the output folder and a real,
    non-blank PNG image."""
    from matplotlib.image import imread
    paths = run.written()
    assert sorted(os.path.basename(p) for p in paths) == sorted(expected)
    assert sorted(os.listdir(run.out)) == sorted(expected)
    for path in paths:
        assert os.path.samefile(os.path.dirname(path), run.out)
        with open(path, "rb") as f:
            assert f.read(8) == PNG_SIGNATURE
        image = imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 100
        assert image[..., :3].std() > 0.02, f"{path} is blank"


# ---------------------------------------------------------------- optimizers_race
@pytest.fixture(scope="module")
def race(tmp_path_factory):
    return run_quick("optimizers_race", tmp_path_factory)


def test_race_writes_its_figures(race):
    check_pngs(race, ["rosenbrock.png", "network.png", "gd_variants.png", "lr_schedules.png"])


def test_race_covers_every_optimiser(race):
    names = {"SGD", "SGD+momentum", "SGD+Nesterov", "Momentum", "Adagrad", "RMSprop",
             "Adadelta", "Adam", "AMSGrad", "AdamW", "NAdam", "LAMB", "LBFGS"}
    assert set(race.metrics["rosenbrock_distance"]) == names
    assert set(race.metrics["network_loss"]) == names
    for name in names:                     # the printed tables name each one
        assert f"\n{name} " in race.stdout


def test_race_rosenbrock(race):
    dist = race.metrics["rosenbrock_distance"]
    start = race.metrics["rosenbrock_start_distance"]
    assert all(np.isfinite(d) and d < start for d in dist.values()), dist
    assert dist["LBFGS"] < 1e-4              # converges in ~40 iterations
    # Momentum(lr=η/(1−β)) is SGD(lr=η, momentum=β) step for step
    assert dist["Momentum"] == pytest.approx(dist["SGD+momentum"], rel=1e-6)
    assert sorted(dist.values())[1] < 0.1


def test_race_network_losses_fall(race):
    losses = race.metrics["network_loss"]
    for name, curve in losses.items():
        assert len(curve) == 3 and np.all(np.isfinite(curve)), name    # start + 2 epochs
        assert curve[-1] < 0.9 * curve[0], (name, curve)
    assert len({round(float(c[0]), 6) for c in losses.values()}) == 1     # one start
    assert np.median([c[-1] for c in losses.values()]) < 0.2 * losses["SGD"][0]
    assert losses["LBFGS"][-1] < 0.01
    acc = race.metrics["network_accuracy"]
    assert np.median(list(acc.values())) > 0.85, acc


def test_race_gd_variants(race):
    loss, seconds = race.metrics["gd_loss"], race.metrics["gd_seconds"]
    assert set(loss) == {"batch", "mini-batch (32)", "stochastic (1)"}
    for name, curve in loss.items():
        assert curve[-1] < curve[0], name
        assert np.all(np.diff(seconds[name]) > 0), name
    # per epoch, more (smaller) steps go further
    assert loss["stochastic (1)"][-1] < loss["mini-batch (32)"][-1] < loss["batch"][-1]


def test_race_lr_schedules(race):
    rates = race.metrics["lr_schedules"]
    by_kind = {name.split("(")[0]: np.asarray(seq) for name, seq in rates.items()}
    t = np.arange(60)
    np.testing.assert_allclose(by_kind["StepLR"], 0.1 * 0.5 ** (t // 10), rtol=1e-12)
    np.testing.assert_allclose(by_kind["CosineAnnealingLR"],
                               0.05 * (1 + np.cos(np.pi * t / 60)), rtol=1e-9, atol=1e-15)
    restarts = by_kind["CosineAnnealingWarmRestarts"]
    assert restarts[0] == restarts[10] == restarts[30] == pytest.approx(0.1)
    assert restarts[9] < 0.01 and restarts[29] < 0.01
    warm = by_kind["LinearLR"]
    np.testing.assert_allclose(warm[:11], 0.1 * (0.1 + 0.9 * t[:11] / 10), rtol=1e-9)
    assert np.all(warm[10:] == pytest.approx(0.1))


# ---------------------------------------------------------------- vanishing_gradients
@pytest.fixture(scope="module")
def vanishing(tmp_path_factory):
    return run_quick("vanishing_gradients", tmp_path_factory)


def test_vanishing_writes_its_figure(vanishing):
    check_pngs(vanishing, ["gradient_norms.png"])


def test_vanishing_expected_pattern(vanishing):
    m = vanishing.metrics
    assert m["pattern"] and all(m["pattern"].values()), m["pattern"]
    assert len(m["ratio"]) == 12
    assert all(m["ratio"][f"sigmoid+{i}"] < 1e-6 for i in ("xavier", "he", "lecun"))
    assert 0.1 < m["ratio"]["relu+he"] < 10
    assert m["ratio"]["relu+xavier"] < 1e-2
    assert 0.1 < m["ratio"]["selu+lecun"] < 10
    assert m["verdict"]["selu+he"] == "grows"          # gain √2 is too much for SELU


def test_vanishing_measures_every_layer_from_one_readout(vanishing):
    signal = vanishing.metrics["signal_norms"]
    weight = vanishing.metrics["weight_grad_norms"]
    for key in signal:
        assert signal[key].shape == weight[key].shape == (20,)
        assert np.all(np.isfinite(signal[key])) and np.all(signal[key] > 0)
    # ∂L/∂a_20 = r/B for every network: the loss is the same linear read-out
    tops = np.array([s[-1] for s in signal.values()])
    np.testing.assert_allclose(tops, tops[0], rtol=1e-4)


# ---------------------------------------------------------------- imbalanced
@pytest.fixture(scope="module")
def imbalanced(tmp_path_factory):
    return run_quick("imbalanced", tmp_path_factory)


def test_imbalanced_writes_its_figure(imbalanced):
    check_pngs(imbalanced, ["imbalanced.png"])


def test_imbalanced_metrics(imbalanced):
    m = imbalanced.metrics
    assert len(m) == 4
    bce, weighted = m["BCE"], next(v for k, v in m.items() if k.startswith("BCE + pos_weight"))
    focal = m["focal α=0.25 γ=2"]
    for name, r in m.items():
        p, rec, f1 = r["precision"], r["recall"], r["f1"]
        assert 0 < p <= 1 and 0 < rec <= 1, name
        assert f1 == pytest.approx(2 * p * rec / (p + rec)), name
        assert r["ap"] > 4 * r["positive_rate"], name      # far better than chance
        assert f1 > 0.3, name
    assert m["BCE"]["positive_rate"] == pytest.approx(0.05, abs=0.005)
    # the weight on positives buys recall with precision; focal α=0.25 the reverse
    assert weighted["recall"] > bce["recall"]
    assert weighted["precision"] < bce["precision"]
    assert focal["precision"] > weighted["precision"]


def test_imbalanced_metric_helpers(imbalanced):
    mod = imbalanced.module
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    target = np.array([1, 0, 1, 0, 1, 0, 0, 0], dtype=float)
    assert mod.confusion(scores, target) == (2, 2, 1, 3)
    p, r, f1 = mod.precision_recall_f1(scores, target)
    assert (p, r) == (0.5, pytest.approx(2 / 3)) and f1 == pytest.approx(4 / 7)
    assert mod.precision_recall_f1(np.zeros(4), np.array([1.0, 0, 0, 0])) == (0.0, 0.0, 0.0)
    # average precision: 1·(1/3) + (2/3)·(1/3) + (3/5)·(1/3)
    assert mod.pr_curve(scores, target)[2] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    from sklearn.metrics import average_precision_score
    rng = np.random.default_rng(1)
    s = np.round(rng.random(200), 1)                     # ties included
    t = (rng.random(200) < 0.2).astype(float)
    assert mod.pr_curve(s, t)[2] == pytest.approx(average_precision_score(t, s))


# ---------------------------------------------------------------- segmentation_toy
@pytest.fixture(scope="module")
def segmentation(tmp_path_factory):
    return run_quick("segmentation_toy", tmp_path_factory)


def test_segmentation_writes_its_figures(segmentation):
    check_pngs(segmentation, ["segmentation.png", "segmentation_curves.png"])


def test_segmentation_scores(segmentation):
    m = segmentation.metrics
    base = m["baseline"]["dice"]
    assert 0.2 < base < 0.7                   # thresholding the noisy input is poor
    for name in ("Dice", "IoU"):
        assert m[name]["dice"] > 0.7 and m[name]["dice"] > base + 0.2, (name, m[name])
        assert 0.5 < m[name]["iou"] <= m[name]["dice"]
    curve = m["BCE"]["dice_per_epoch"]
    assert len(curve) == 4 and curve[-1] > curve[0] and curve[-1] > base


def test_segmentation_overlap_scores(segmentation):
    mod = segmentation.module
    a = np.zeros((3, 1, 4, 4), dtype=bool)
    b = np.zeros_like(a)
    a[0, 0, :2, :2] = True                    # 4 pixels
    b[0, 0, :2, :3] = True                    # 6 pixels, 4 shared
    b[1, 0, 0, 0] = True                      # nothing predicted
    dice, iou = mod.overlap_scores(a, b)      # sample 2: both empty
    np.testing.assert_allclose(dice, [8 / 10, 0.0, 1.0])
    np.testing.assert_allclose(iou, [4 / 6, 0.0, 1.0])
    rng = np.random.default_rng(0)
    x, y = mod.make_data(5, rng)
    assert x.shape == y.shape == (5, 1, mod.SIZE, mod.SIZE) and x.dtype == np.float32
    assert set(np.unique(y)) <= {0.0, 1.0} and np.all(y.reshape(5, -1).sum(axis=1) > 0)
