"""Benchmarks: chainrule against a hand-written NumPy floor, PyTorch and micrograd.

    python3 -m benchmarks                      # every workload, 5 rounds, 1 thread
    python3 -m benchmarks --quick --only scalar_chain --impls chainrule,numpy

Each (workload, implementation) pair runs in a fresh process
(``python3 -m benchmarks.run_one WORKLOAD IMPL``), which prints one JSON line; the
driver (``__main__``) alternates the implementations over several rounds and prints
the medians and the per-round ratios. See benchmarks/README.md.

Nothing here is imported by the library, and nothing here is timed in the test suite.
"""
