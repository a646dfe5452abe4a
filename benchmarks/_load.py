"""A documented, reproducible background load for the benchmarks' ``--load N`` mode.

``busy_processes(N)`` starts ``N`` Python processes that each spin on a pure
arithmetic loop (no memory traffic, no threads, no I/O: one fully busy core
each) for the duration of the ``with`` block, then ends them. With ``N`` equal
to the machine's cores, a benchmark's process shares the cores with ``N`` other
runnable processes, as a fit next to Dask workers or other users' jobs does.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

#: what each busy process runs (``python -c``): arithmetic, and every million steps a
#: check that the benchmark (its parent) still runs, so a killed benchmark leaves none
BUSY_LOOP = (
    "import os\n"
    "parent = os.getppid()\n"
    "x = 0.0\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(1_000_000):\n"
    "        x = (x + 1.000001) * 0.999999\n"
)


@contextlib.contextmanager
def busy_processes(n: int) -> Iterator[list[int]]:
    """``n`` processes spinning on :data:`BUSY_LOOP` inside the block; their pids."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0.0)  # running before the timing starts
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def describe_load(n: int) -> dict:
    """The load mode and the machine's load average and thread settings, for the JSON."""
    return {
        "busy_processes": n,
        "busy_loop": BUSY_LOOP,
        "loadavg_1_5_15": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }
