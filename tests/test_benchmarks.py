"""benchmarks/: the driver runs and prints its table, and every implementation of a
workload computes the same numbers as the hand-written NumPy floor (same loss,
gradients and updated parameters after the first steps) - the "identical math" the
timings rely on. No timing is asserted."""
import io
import os
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import impls  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402

NUMBER = r"\d+(\.\d+)?"


def test_smoke_run_prints_the_table_and_writes_markdown(tmp_path):
    out, log = io.StringIO(), io.StringIO()
    md = tmp_path / "results.md"
    code = main(["--quick", "--only", "scalar_chain,deep_chain", "--impls",
                 "chainrule,numpy", "--rounds", "1", "--markdown", str(md)],
                out=out, log=log)
    text = out.getvalue()
    assert code == 0, log.getvalue()
    header = next(line for line in text.splitlines() if line.startswith("workload"))
    assert header.split() == ["workload", "metric", "unit", "chainrule", "numpy",
                              "chainrule/numpy", "target"]
    for workload, metric in (("scalar_chain", "forward + backward"),
                             ("deep_chain", "forward + backward"),
                             ("deep_chain", "RSS left after dropping the graph")):
        row = next(line for line in text.splitlines()
                   if line.startswith(workload) and metric in line)
        cells = row.split(metric)[1].split()
        assert re.fullmatch(NUMBER, cells[1]) and re.fullmatch(NUMBER, cells[2]), row
    time_row = next(line for line in text.splitlines() if line.startswith("scalar_chain"))
    assert re.search(rf"\s{NUMBER}\s", time_row.split("µs/op")[1])
    document = md.read_text(encoding="utf-8")
    assert "| scalar_chain | forward + backward |" in document
    assert "NumPy" in document and "BLAS" in document


def test_driver_rejects_unknown_names():
    with pytest.raises(SystemExit):
        main(["--only", "no_such_workload"], out=io.StringIO(), log=io.StringIO())
    with pytest.raises(SystemExit):
        main(["--impls", "jax"], out=io.StringIO(), log=io.StringIO())


def test_missing_implementation_is_reported_not_run():
    from benchmarks.run_one import measure
    record = measure("mlp_large", "micrograd", quick=True)
    assert record["status"] == "n/a"


# ---------------------------------------------------------------- identical math
def _leaves(values, prefix=""):
    """(path, array) for every number a run reports, timing samples excluded."""
    if isinstance(values, dict):
        for k, v in values.items():
            if k not in ("samples", "accuracy"):
                yield from _leaves(v, f"{prefix}/{k}")
    else:
        yield prefix, np.asarray(values)


def _run(workload, impl):
    w = WORKLOADS[workload]
    try:
        return w.impls[impl](dict(w.configs["check"], threads=1))[1]
    except impls.Skip as e:
        pytest.skip(str(e))


@pytest.fixture
def keep_torch_threads():
    """The torch runs set torch's thread count; give the rest of the session its own."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


CASES = [(w, i) for w in WORKLOADS for i in ("chainrule", "torch", "micrograd")
         if i in WORKLOADS[w].impls]


@pytest.mark.parametrize("workload,impl", CASES, ids=[f"{w}-{i}" for w, i in CASES])
def test_same_math_as_the_numpy_floor(workload, impl, keep_torch_threads):
    reason = impls.available(impl)
    if reason:
        pytest.skip(reason)
    expected = dict(_leaves(_run(workload, "numpy")))
    got = dict(_leaves(_run(workload, impl)))
    assert set(got) == set(expected)
    # micrograd computes in float64, the others in float32.
    rtol = 1e-3 if impl == "micrograd" else 1e-4
    for path, want in expected.items():
        if impl != "micrograd":
            assert got[path].dtype == want.dtype, f"{workload}/{impl}: {path}"
        want, have = want.astype(np.float64), got[path].astype(np.float64)
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        # Adam moves a parameter whose gradient is within rounding of 0 by up to
        # lr·|g|/(|g|+eps): parameters get an absolute tolerance of 5% of lr.
        atol = 5e-5 if path.startswith("/params") else 1e-5 * max(scale, 1e-30)
        np.testing.assert_allclose(have, want, rtol=rtol, atol=atol,
                                   err_msg=f"{workload}/{impl}: {path}")


def test_floor_gradients_match_finite_differences():
    """The hand-written backward of the 20-op chain against central differences in
    float64, so a wrong floor cannot agree with a wrong engine by accident."""
    from benchmarks.workloads.big_elementwise import floor_backward, floor_forward
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5)
    gx, gy = floor_backward(floor_forward(x, y)[1])
    eps = 1e-6
    for i in range(5):
        e = np.zeros(5)
        e[i] = eps
        dx = (floor_forward(x + e, y)[0] - floor_forward(x - e, y)[0]) / (2 * eps)
        dy = (floor_forward(x, y + e)[0] - floor_forward(x, y - e)[0]) / (2 * eps)
        assert gx[i] == pytest.approx(dx, rel=1e-6, abs=1e-8)
        assert gy[i] == pytest.approx(dy, rel=1e-6, abs=1e-8)
