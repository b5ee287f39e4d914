"""The results table (plain text for the terminal, Markdown for RESULTS.md) and the
description of the machine it was measured on."""
import os
import platform
import shutil
import statistics
import subprocess

SCALE = {"ms": 1e3, "s": 1.0, "µs/op": 1e6, "MiB": 1.0, "%": 100.0}
RATIOS = (("torch", "chainrule/torch"), ("numpy", "chainrule/numpy"),
          ("micrograd", "chainrule/micrograd"))


def fmt_value(value, unit):
    if value is None:
        return "?"
    v = value * SCALE.get(unit, 1.0)
    if unit in ("MiB", "%"):
        return f"{v:.1f}"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def short_status(record):
    """What a cell shows when there is no number."""
    status = record.get("status")
    if status == "n/a":
        return "—"
    if status == "skipped":
        reason = record.get("reason", "")
        if reason.startswith("pending"):
            return "pending"
        return "not installed" if "not installed" in reason else "skipped"
    return "error"


def _metric_values(records, key):
    return [r["metrics"].get(key) for r in records
            if r.get("status") == "ok" and r["metrics"].get(key) is not None]


def cell(records, metric):
    """Median over the rounds, or the reason there is none."""
    values = _metric_values(records, metric.key)
    if values:
        return fmt_value(statistics.median(values), metric.unit)
    return short_status(records[0]) if records else "—"


def ratio_cell(mine, theirs, metric):
    """chainrule / other for each round in which both ran: "median (r1 r2 ...)"."""
    per_round = []
    for a, b in zip(mine, theirs):
        if a.get("status") == b.get("status") == "ok":
            x, y = a["metrics"].get(metric.key), b["metrics"].get(metric.key)
            if x is not None and y:
                per_round.append(x / y)
    if not per_round:
        return ""
    text = _ratio(statistics.median(per_round))
    if len(per_round) > 1:
        text += " (" + " ".join(_ratio(r) for r in per_round) + ")"
    return text


def _ratio(r):
    return f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"


def build_rows(workloads, results, impls):
    """Header and rows: one row per (workload, metric). ``results[w][impl]`` is the list
    of per-round records."""
    ratio_cols = [(other, name) for other, name in RATIOS if other in impls]
    header = ["workload", "metric", "unit"] + list(impls) + [n for _, n in ratio_cols] + \
        ["target"]
    rows = []
    for w in workloads:
        by_impl = results.get(w.name, {})
        for metric in w.metrics:
            row = [w.name, metric.label, metric.unit]
            row += [cell(by_impl.get(i, []), metric) for i in impls]
            for other, _ in ratio_cols:
                if metric.kind == "time" and "chainrule" in impls and other in w.impls:
                    row.append(ratio_cell(by_impl.get("chainrule", []),
                                          by_impl.get(other, []), metric))
                else:
                    row.append("")
            row.append(metric.target or "")
            rows.append(row)
    return header, rows


def round_limits(workloads, impls, rounds):
    """A line per implementation that ran in fewer rounds than the others."""
    return [f"{w.name} on {impl}: first {n} round(s) only" for w in workloads
            for impl, n in w.max_rounds.items() if impl in impls and n < rounds]


def text_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(wd) for c, wd in zip(r, widths)).rstrip()
    return "\n".join([line(header), line(["-" * wd for wd in widths])] +
                     [line(r) for r in rows])


def markdown_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def problems(results):
    """One line per skipped or failed measurement, each reason once."""
    seen, lines = set(), []
    for w, by_impl in results.items():
        for impl, records in by_impl.items():
            for r in records:
                if r.get("status") in ("skipped", "error"):
                    text = r.get("reason") or r.get("error", "")
                    key = (w, impl, text)
                    if key not in seen:
                        seen.add(key)
                        lines.append(f"{w} / {impl}: {r['status']}: {text}")
    return lines


def machine():
    """CPU model, logical CPUs and those this process may use (lscpu where present)."""
    info = {"cpu": platform.processor() or platform.machine(), "arch": platform.machine(),
            "cpus": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        info["cpu"] = fields.get("Model name", info["cpu"])
        for key in ("Thread(s) per core", "Core(s) per socket", "Socket(s)", "L2 cache",
                    "L3 cache"):
            if key in fields:
                info[key] = fields[key]
    return info


def blas_lines(env):
    libs = env.get("blas") or []
    if not libs:
        return ["threadpoolctl not installed: BLAS unknown"]
    return [f"{lib['internal_api']}" + (f" {lib['version']}" if lib.get("version") else "")
            + f" ({lib['library']}, "
            f"{lib['user_api']}, {lib['num_threads']} thread(s)"
            + (f", {lib['architecture']}" if lib.get("architecture") else "") + ")"
            for lib in libs]


def markdown_document(header, rows, *, env, info, command, started, finished, note,
                      limits=()):
    """RESULTS.md: how, where and when it was measured, then the table."""
    m = machine()
    lines = [
        "# Benchmark results", "",
        f"Produced by `{command}` on {started:%Y-%m-%d %H:%M} (finished {finished:%H:%M}).",
        "", "Machine:", "",
        f"- CPU: {m['cpu']} ({m['arch']}), {m['cpus']} logical CPUs"
        + (f", {m['usable_cpus']} usable by this process" if "usable_cpus" in m else "")
        + "".join(f"; {k.lower()}: {m[k]}" for k in
                  ("Thread(s) per core", "Core(s) per socket", "Socket(s)", "L2 cache",
                   "L3 cache") if k in m),
        f"- load average (1, 5, 15 min) at start {info['load_start']}, at end "
        f"{info['load_end']}",
        f"- Python {env.get('python')}, NumPy {env.get('numpy')}, "
        f"torch {env.get('torch') or 'not installed'}, "
        f"micrograd {env.get('micrograd') or 'not installed'}, "
        f"scikit-learn {env.get('scikit-learn') or 'not installed'}",
        f"- {env.get('platform')}",
        "- BLAS (threadpoolctl, inside a benchmark process): "
        + "; ".join(blas_lines(env)),
        f"- threads: {info['threads']} (OMP/OPENBLAS/MKL_NUM_THREADS, "
        f"torch.set_num_threads); rounds: {info['rounds']}"
        + ("; --quick (reduced sizes, numbers not comparable with a full run)"
           if info["quick"] else ""),
    ]
    if note:
        lines += ["", f"**Note:** {note}"]
    lines += [
        "", markdown_table(header, rows), "",
        "Each cell is the median over the rounds; every (workload, implementation) ran in "
        "its own process per round, the implementations in a rotated order. A ratio is "
        "chainrule's time divided by the other implementation's, median over the rounds "
        "with each round's value in brackets: below 1 chainrule is faster. "
        "Training-step times are the mean over a process's timed steps; the other times "
        "the median over a process's repeats. \"—\": no such implementation; "
        "\"pending\": a chainrule piece the workload needs is not written yet."
        + "".join(f" {line[0].upper() + line[1:]}." for line in limits),
    ]
    issues = problems(info["results"])
    if issues:
        lines += ["", "Not measured:", ""] + [f"- {t}" for t in issues]
    return "\n".join(lines) + "\n"
