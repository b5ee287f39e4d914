"""``python3 -m benchmarks``: every workload on every implementation, each in its own
process, the implementations alternated over several rounds; prints the table of
medians and per-round ratios (and writes it as Markdown with ``--markdown``)."""
import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys

from . import impls as impl_registry
from .report import build_rows, fmt_value, markdown_document, round_limits, text_table
from .run_one import thread_environment
from .workloads import WORKLOADS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(argv):
    p = argparse.ArgumentParser(prog="python3 -m benchmarks", description=__doc__)
    p.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP/torch threads per process (default 1)")
    p.add_argument("--only", default="", help="comma-separated workloads "
                   f"({', '.join(WORKLOADS)})")
    p.add_argument("--impls", default=",".join(impl_registry.IMPLS),
                   help="comma-separated implementations (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: reduced sizes and repeats, numbers not comparable")
    p.add_argument("--markdown", metavar="PATH", help="also write the results as Markdown")
    p.add_argument("--note", default="", help="a remark for the Markdown file")
    p.add_argument("--json", metavar="PATH",
                   help="also write every process's record (metrics, samples) as JSON")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds per process (default 1800, 120 with --quick)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.threads < 1:
        p.error("--rounds and --threads must be at least 1")
    args.workloads = [w for w in args.only.split(",") if w] or list(WORKLOADS)
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    args.impl_list = [i for i in args.impls.split(",") if i]
    bad = [i for i in args.impl_list if i not in impl_registry.IMPLS]
    if bad or not args.impl_list:
        p.error(f"unknown implementation(s) {', '.join(bad) or '(none given)'}; "
                f"known: {', '.join(impl_registry.IMPLS)}")
    if args.timeout is None:
        args.timeout = 120.0 if args.quick else 1800.0
    return args


def child_environment(threads):
    env = dict(os.environ)
    env.update(thread_environment(threads))
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def run_child(args, *extra):
    """``python3 -m benchmarks.run_one ...`` in a fresh process; its JSON record."""
    cmd = [sys.executable, "-m", "benchmarks.run_one", *extra, "--threads", str(args.threads)]
    if args.quick:
        cmd.append("--quick")
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=child_environment(args.threads),
                              capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"timed out after {args.timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        record = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        record = {"status": "error", "error": f"exit status {proc.returncode}, no result"}
    if record.get("status") == "error":
        tail = proc.stderr.strip().splitlines()[-15:]
        record["stderr"] = "\n".join(tail)
    return record


def measure(args, log):
    """results[workload][impl] = one record per round; the order of the implementations
    rotates each round so none always runs first (or right after a heavy neighbour)."""
    results = {w: {i: [] for i in args.impl_list} for w in args.workloads}
    for r in range(args.rounds):
        shift = r % len(args.impl_list)
        order = args.impl_list[shift:] + args.impl_list[:shift]
        for name in args.workloads:
            workload = WORKLOADS[name]
            for impl in order:
                if impl not in workload.impls:
                    record = {"status": "n/a"}
                elif r >= workload.max_rounds.get(impl, args.rounds):
                    record = {"status": "capped"}
                elif (reason := impl_registry.available(impl)) is not None:
                    record = {"status": "skipped", "reason": reason}
                else:
                    record = run_child(args, name, impl)
                    print(f"[round {r + 1}/{args.rounds}] {name:16} {impl:10} "
                          f"{_brief(record, workload)}", file=log, flush=True)
                    if record.get("status") == "error" and record.get("stderr"):
                        print("    " + record["stderr"].replace("\n", "\n    "), file=log)
                results[name][impl].append(record)
    return results


def _brief(record, workload):
    if record.get("status") != "ok":
        return record.get("status", "?") + ": " + (record.get("reason")
                                                   or record.get("error", ""))
    return ", ".join(f"{m.key} {fmt_value(record['metrics'].get(m.key), m.unit)} {m.unit}"
                     for m in workload.metrics)


def main(argv=None, out=None, log=None):
    """Run, print the table to ``out`` (stdout), progress to ``log`` (stderr); the exit
    status is 1 when a measurement failed."""
    out = sys.stdout if out is None else out
    log = sys.stderr if log is None else log
    args = parse(sys.argv[1:] if argv is None else argv)
    started = datetime.datetime.now()
    load_start = _load()
    results = measure(args, log)
    workloads = [WORKLOADS[w] for w in args.workloads]
    header, rows = build_rows(workloads, results, args.impl_list)
    title = (f"chainrule benchmarks: {args.rounds} round(s), {args.threads} thread(s)"
             + (", --quick (smoke sizes)" if args.quick else ""))
    print(title, file=out)
    print(text_table(header, rows), file=out)
    print("ratio = chainrule time / other time: median (each round); < 1: chainrule faster",
          file=out)
    limits = round_limits(workloads, args.impl_list, args.rounds)
    for line in limits:
        print(line, file=out)
    if args.markdown:
        env = run_child(args, "--env", *(["--with-torch"] if "torch" in args.impl_list
                                          else []))
        info = {"load_start": load_start, "load_end": _load(), "threads": args.threads,
                "rounds": args.rounds, "quick": args.quick, "results": results}
        command = _command(sys.argv[1:] if argv is None else argv)
        text = markdown_document(header, rows, env=env, info=info, command=command,
                                 started=started, finished=datetime.datetime.now(),
                                 note=args.note, limits=limits)
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.markdown}", file=out)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"argv": list(sys.argv[1:] if argv is None else argv),
                       "started": started.isoformat(timespec="seconds"),
                       "results": results}, f)
        print(f"wrote {args.json}", file=out)
    failed = any(r.get("status") == "error" for by_impl in results.values()
                 for records in by_impl.values() for r in records)
    return 1 if failed else 0


def _command(argv):
    """The command line for RESULTS.md, without the note (printed on its own) and the
    JSON path (a private file)."""
    shown, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--note", "--json"):
            skip = True
        elif not a.startswith(("--note=", "--json=")):
            shown.append(a)
    return shlex.join(["python3", "-m", "benchmarks"] + shown)


def _load():
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
