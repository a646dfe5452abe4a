"""Dask distributed for ``ax-ext tune``: the cluster, failure reasons, restarting a worker."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Any

from ax.exceptions.core import UserInputError

logger = logging.getLogger(__name__)

# the preload's source text (Dask runs text as a script), so workers do not import
# the ax_ext package (BoTorch, seconds) before their first task
_WORKER_SETUP = (Path(__file__).parent / "_worker_setup.py").read_text()


#: environment variables that cap the threads of torch, OpenMP and the BLAS libraries
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def worker_thread_budget(workers: int, worker_threads: int | None) -> int:
    """Threads each worker process may use: ``worker_threads``, or the machine's
    cores shared by the ``workers`` (at least 1), so that ``workers`` trials
    running at once do not oversubscribe the cores."""
    if worker_threads is not None:
        return worker_threads
    return max(1, (os.cpu_count() or 1) // workers)


def connect(
    workers: int, scheduler_address: str | None, worker_threads: int | None = None
) -> tuple[Any, Any]:
    """A Dask client and the local cluster it owns (``None`` for a given scheduler).

    Each local worker process gets a thread budget,
    :func:`worker_thread_budget`: :data:`THREAD_ENV_VARS` set to it in the
    worker's environment (torch, OpenMP and BLAS read them when they start).
    For a given scheduler the workers' settings are left as they are, unless
    ``worker_threads`` is given: then a worker plugin sets it on
    each of them (those that join later too): :class:`ax_ext.runner._thread_plugin.TorchThreads`.

    The local cluster has ``workers`` single-threaded worker processes that
    ignore Ctrl-C (:mod:`ax_ext.runner._worker_setup`), allow no retries (a task
    whose worker died is reported as failed, ``KilledWorker``, instead of being
    run again and possibly crashing another worker) and start with this
    process's ``sys.path`` (so they import a user's problem module from where
    this process found it).
    """
    import dask
    import distributed

    if scheduler_address is not None:
        try:
            client = distributed.Client(scheduler_address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:
            raise UserInputError(
                f"Expected a reachable Dask scheduler address like tcp://host:8786, got "
                f"{scheduler_address!r}: {type(e).__name__}: {e}"
            ) from e
        if worker_threads is not None:
            from ax_ext.runner._thread_plugin import TorchThreads

            client.register_plugin(TorchThreads(worker_threads))
        return client, None
    threads = str(worker_thread_budget(workers, worker_threads))
    # workers started while SIGINT is ignored ignore it from their first instruction;
    # the preload keeps it so for workers the nanny restarts later
    previous = _ignore_sigint()
    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                # an HTTP server on a free local port (none fixed: several tune processes)
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
                preload=[_WORKER_SETUP],
                env=dict.fromkeys(THREAD_ENV_VARS, threads),
            )
    finally:
        _restore_sigint(previous)
    return distributed.Client(cluster), cluster


def _ignore_sigint() -> Any:
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.SIG_IGN)


def _restore_sigint(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


class Quiet:
    """Dask's own log lines off from :meth:`on` until the block ends (a stop we caused).

    Stopping kills tasks and workers on purpose (and a SIGTERM to the whole job
    kills the workers themselves); the scheduler would log each as an error
    although every trial gets its reason in the study.
    """

    def __init__(self) -> None:
        self._level: int | None = None

    def on(self) -> None:
        log = logging.getLogger("distributed")
        if self._level is None:
            self._level = log.level
        log.setLevel(logging.CRITICAL)

    def __enter__(self) -> Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._level is not None:
            logging.getLogger("distributed").setLevel(self._level)
            self._level = None


def close(dask_client: Any, cluster: Any, busy: bool = False) -> None:
    """Close the client and the local cluster quietly.

    With ``busy`` (trials still running: a stop, an error) the local cluster's
    worker processes are killed first: a worker waits for its running task
    before closing gracefully, which for a long trial is far longer than a
    Ctrl-C should take.
    """
    try:
        dask_client.close(timeout=5)
    except Exception as e:  # already gone
        logger.debug("Closing the Dask client: %s", e)
    if cluster is not None and busy:
        for nanny in list(getattr(cluster, "workers", {}).values()):
            pid = getattr(nanny, "pid", None)
            if pid:
                with contextlib.suppress(OSError):  # already gone
                    os.kill(pid, signal.SIGKILL)
    if cluster is not None:
        try:
            cluster.close(timeout=10)
        except Exception as e:
            logger.debug("Closing the local cluster: %s", e)


def failure_reason(future: Any) -> str:
    """Why a Dask future did not finish: the evaluation's error, or its worker's death."""
    from distributed.scheduler import KilledWorker

    if future.status == "cancelled":
        return "cancelled"
    exc = future.exception()
    if isinstance(exc, KilledWorker):
        return "worker died during the trial (KilledWorker)"
    return f"{type(exc).__name__}: {exc}"


def abandon(dask_client: Any, future: Any) -> str | None:
    """Cancel a running future and restart the worker running it (a hung evaluation).

    A thread cannot be stopped from outside, so the worker process is restarted
    through its nanny (``Client.restart_workers``); the local cluster's workers
    all have one. Returns the restarted worker's address, or ``None`` if the task
    was not running on a worker or the worker could not be restarted (logged).
    """
    try:
        processing = dask_client.processing()
    except Exception as e:
        logger.warning("Could not ask the Dask scheduler where %s runs: %s", future.key, e)
        processing = {}
    address = next((a for a, keys in processing.items() if future.key in keys), None)
    future.cancel()
    if address is None:
        return None
    try:
        status = dask_client.restart_workers([address], timeout=60, raise_for_error=False)
    except Exception as e:
        status = {address: f"{type(e).__name__}: {e}"}
    if status.get(address) != "OK":
        logger.warning(
            "Could not restart the Dask worker %s that ran a timed-out trial (%s); its "
            "thread may still be busy. Start workers with a nanny (the default) so they "
            "can be restarted.",
            address,
            status.get(address),
        )
        return None
    return address
