"""A Dask worker plugin giving a scheduler's workers ``ax-ext tune``'s thread budget."""

from __future__ import annotations

import os
from typing import Any

from distributed import WorkerPlugin

from ax_ext.runner._dask import THREAD_ENV_VARS


class TorchThreads(WorkerPlugin):
    """Sets a worker's torch threads and the thread variables, for a cluster whose
    worker processes were started elsewhere (a scheduler address).

    The variables in :data:`~ax_ext.runner._dask.THREAD_ENV_VARS` are set for the
    processes a trial starts, and ``torch.set_num_threads`` for the worker itself;
    Dask runs :meth:`setup` on every worker, also on those that join later.
    """

    name = "ax-ext-torch-threads"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def setup(self, worker: Any) -> None:
        import torch

        for var in THREAD_ENV_VARS:
            os.environ[var] = str(self.threads)
        torch.set_num_threads(self.threads)
