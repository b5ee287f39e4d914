"""Clocks and memory readings used inside a benchmark process."""
import os
import statistics
import time

clock = time.perf_counter


def timed_steps(step, warmup, steps):
    """Run ``step()`` ``warmup`` times untimed, then ``steps`` times; seconds per call."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = clock()
        step()
        times.append(clock() - t0)
    return times


def median(values):
    return statistics.median(values)


def rss_bytes():
    """Resident set size now (Linux /proc/self/statm), or None where /proc is absent.

    Unlike ru_maxrss this falls when memory goes back to the OS, which is what
    "memory back to where it started" asks about.
    """
    try:
        with open("/proc/self/statm") as f:
            resident_pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def mib(delta_bytes):
    return None if delta_bytes is None else delta_bytes / 2 ** 20
