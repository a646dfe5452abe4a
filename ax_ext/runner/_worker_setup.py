"""Dask worker preload for ``ax-ext tune``'s local cluster: workers ignore Ctrl-C.

Ctrl-C in a terminal sends SIGINT to the whole process group, the local
cluster's worker processes included; the study process stops them itself (see
:mod:`ax_ext.runner._interrupt`), so workers ignore the signal instead of
printing tracebacks. Dask runs :func:`dask_setup` in each worker process's main
thread when the worker starts, also when a worker is restarted.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def dask_setup(worker: Any) -> None:
    """Ignore SIGINT in this worker process."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
