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
    """The synthetic loss, but the first call (no marker file yet) exits its process."""
    marker = Path(os.environ[MARKER_ENV])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return synthetic_loss(params, seed)
