"""A test-only problem whose first evaluation kills its Dask worker process.

Kept in its own light module: the Dask workers unpickle :func:`crash_once` by
reference, so they import this module (and ``ax_ext.runner.problems``), not the
test module.
"""

from __future__ import annotations

import os
from pathlib import Path

from ax_ext.runner.builtin_problems import synthetic_loss

#: Environment variable naming the marker file; workers inherit it from the test.
MARKER_ENV = "AX_EXT_TEST_CRASH_MARKER"


def crash_once(params: dict, seed: int = 0) -> dict[str, float]:
    """The synthetic loss, but the first call (no marker file yet) exits its process.

    The marker is created atomically (``O_CREAT | O_EXCL``): two workers that
    start their first trials at the same moment must not both see "no marker"
    and both exit (an earlier exists-then-write check let that happen under load).
    """
    marker = Path(os.environ[MARKER_ENV])
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return synthetic_loss(params, seed)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os._exit(1)
