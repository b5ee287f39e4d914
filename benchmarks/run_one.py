"""One measurement in a fresh process: ``python3 -m benchmarks.run_one WORKLOAD IMPL``.

Prints exactly one JSON line on stdout:
``{"workload", "impl", "status": "ok"|"skipped"|"error", "metrics", ...}``.
``python3 -m benchmarks.run_one --env`` prints the versions and BLAS instead.

The thread count is fixed through the environment before NumPy is imported (the
driver sets it too; this covers a run by hand).
"""
import argparse
import json
import os
import sys
import traceback

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_environment(threads):
    return {name: str(threads) for name in THREAD_VARIABLES}


def parse(argv):
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.run_one", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload", nargs="?")
    p.add_argument("impl", nargs="?")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="the smoke-run sizes")
    p.add_argument("--env", action="store_true", help="print versions and BLAS, then exit")
    p.add_argument("--with-torch", action="store_true",
                   help="with --env: import torch first, so its libraries are listed too")
    args = p.parse_args(argv)
    if not args.env and (args.workload is None or args.impl is None):
        p.error("WORKLOAD and IMPL are required (or --env)")
    return args


def _plain(value):
    """JSON-ready copy: arrays and NumPy scalars become lists and floats."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def measure(workload, impl, threads=1, quick=False):
    """Run one workload on one implementation in this process; the JSON-ready record."""
    from .impls import Skip
    from .workloads import WORKLOADS
    record = {"workload": workload, "impl": impl, "threads": threads, "quick": quick}
    w = WORKLOADS.get(workload)
    if w is None:
        return dict(record, status="error", error=f"unknown workload {workload!r}; "
                    f"known: {', '.join(WORKLOADS)}")
    run = w.impls.get(impl)
    if run is None:
        return dict(record, status="n/a", reason=f"no {impl} version of {workload}")
    cfg = dict(w.configs["quick" if quick else "full"], threads=threads)
    try:
        metrics, values = run(cfg)
    except Skip as e:
        return dict(record, status="skipped", reason=str(e))
    samples = values.get("samples", {})
    check = {k: values[k] for k in ("loss", "accuracy", "out", "sum") if k in values}
    return dict(record, status="ok", metrics=_plain(metrics), check=_plain(check),
                samples=_plain(samples), config=cfg)


def environment(with_torch=False):
    """Versions and the BLAS the benchmark processes see (threadpoolctl, after NumPy and,
    with ``with_torch``, torch are imported, so their libraries are listed with the
    thread counts in force)."""
    import platform
    from importlib import metadata
    import numpy as np
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform()}
    for name in ("torch", "micrograd", "scikit-learn", "threadpoolctl"):
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = None
    if with_torch and info["torch"]:
        import torch
        info["torch_threads"] = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: lib.get(k) for k in ("user_api", "internal_api", "version",
                                                 "num_threads", "threading_layer",
                                                 "architecture")}
                        | {"library": os.path.basename(lib.get("filepath", ""))}
                        for lib in threadpool_info()]
    except ImportError:
        info["blas"] = None
    return info


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    for name, value in thread_environment(args.threads).items():
        os.environ.setdefault(name, value)
    try:
        if args.env:
            record = environment(args.with_torch)
        else:
            record = measure(args.workload, args.impl, args.threads, args.quick)
    except Exception as e:      # noqa: BLE001 - reported to the driver, not swallowed
        traceback.print_exc()
        record = {"workload": args.workload, "impl": args.impl, "status": "error",
                  "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(record), flush=True)
    return 1 if record.get("status") == "error" else 0


if __name__ == "__main__":
    sys.exit(main())
