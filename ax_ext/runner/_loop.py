"""The trial loop of ``ax-ext tune``: generate, evaluate on Dask, record, repeat.

Up to ``workers`` of this process's trials run at once. Every 0.1 s the loop
records the evaluations that finished, fails the ones that ran past
``trial_timeout`` (restarting their worker, see :func:`~ax_ext.runner._dask.abandon`),
and fills free slots with new trials from the session (which shares the study
with other processes). While other processes' running trials fill the study's
budget it waits, syncing every :data:`SYNC_SECONDS`, and replaces them if their
process stops. On a first Ctrl-C it saves the results already received, marks
its running trials interrupted and returns.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from ax_ext.runner import _dask
from ax_ext.runner._interrupt import Interrupt
from ax_ext.runner._session import INTERRUPTED, StudySession, counts

logger = logging.getLogger(__name__)

#: Seconds between looks at the running evaluations.
POLL_SECONDS = 0.1
#: Seconds between syncs with the storage while there is nothing to generate.
SYNC_SECONDS = 2.0


@dataclass
class LoopResult:
    """What :func:`run_trials` did: trials finished here (timed out ones included),
    results saved on a stop, and trials marked interrupted then."""

    finished: int = 0
    saved_on_stop: int = 0
    interrupted: int = 0


def _objective_values(experiment: Any, objective: str) -> list[float]:
    from ax.core.base_trial import TrialStatus

    completed = experiment.trial_indices_by_status[TrialStatus.COMPLETED]
    if not completed:
        return []
    df = experiment.lookup_data(trial_indices=completed).df
    return [float(v) for v in df[df["metric_name"] == objective]["mean"] if math.isfinite(v)]


def run_trials(
    session: StudySession,
    trials: int,
    workers: int,
    seed: int,
    scheduler_address: str | None,
    progress: bool,
    generation_seconds: list[float],
    trial_timeout: float | None,
    interrupt: Interrupt,
    worker_threads: int | None = None,
) -> LoopResult:
    """Run the study until it has ``trials`` finished trials (see the module docstring)."""
    from tqdm.auto import tqdm

    problem = session.problem
    pick = min if problem.minimize else max
    values = _objective_values(session.experiment, problem.objective)
    best = pick(values) if values else math.nan
    now = counts(session.experiment)
    bar = tqdm(
        total=trials,
        initial=now["completed"] + now["failed"],
        desc=problem.name,
        unit="trial",
        disable=not progress,
    )
    out = LoopResult()
    running: dict[Any, tuple[int, float]] = {}  # future -> (trial index, start)

    def show() -> None:
        bar.n = min(trials, now["completed"] + now["failed"])
        postfix = {
            "done": bar.n,
            "running": now["running"],
            "failed": now["failed"],
            "best": f"{best:.4g}",
        }
        bar.set_postfix(postfix, refresh=True)

    def finish(future: Any, index: int) -> None:
        nonlocal best
        if future.status == "finished":
            value = session.record(index, future.result()).value
            if value is not None:
                best = value if math.isnan(best) else pick(best, value)
        else:
            reason = session.fail(index, _dask.failure_reason(future))
            logger.warning("Trial %d failed: %s", index, reason)
        out.finished += 1
        now["running"] -= 1

    dask_client, cluster = _dask.connect(workers, scheduler_address, worker_threads)
    busy = abandoned = False
    try:
        last_gen = -math.inf
        changed = True
        while not interrupt.requested:
            for future in [f for f in running if f.done()]:
                index, _ = running.pop(future)
                finish(future, index)
                changed = True
            if trial_timeout is not None:
                clock = time.monotonic()
                for future, (index, started) in list(running.items()):
                    if clock - started > trial_timeout:
                        del running[future]
                        abandoned = _dask.abandon(dask_client, future) is None or abandoned
                        reason = session.fail(index, f"timed out after {trial_timeout:g} s")
                        logger.warning("Trial %d failed: %s.", index, reason)
                        out.finished += 1
                        changed = True
            free = workers - len(running)
            if free > 0 and (changed or time.monotonic() - last_gen > SYNC_SECONDS):
                changed = False
                last_gen = time.monotonic()
                t0 = time.perf_counter()
                new, now = session.generate(free, trials, interrupt)
                if new:
                    generation_seconds.append(time.perf_counter() - t0)
                for index, params in new.items():
                    future = dask_client.submit(
                        problem.evaluate,
                        params,
                        seed,
                        pure=False,
                        key=f"trial-{index}-{problem.name}",
                    )
                    running[future] = (index, time.monotonic())
                show()
                if not running and not new and not interrupt.requested:
                    if now["completed"] + now["failed"] >= trials:
                        break
                    if now["running"] == 0:
                        logger.warning(
                            "The generation strategy produced no more trials after %d of %d.",
                            now["completed"] + now["failed"],
                            trials,
                        )
                        break
            time.sleep(POLL_SECONDS)
        if interrupt.requested:
            busy = bool(running)
            interrupt.stopping()  # quiet Dask (already so if the signal came first)
            _stop(session, running, out)
            running.clear()
    finally:
        bar.close()
        for future, (index, _) in running.items():  # an error: leave nothing running
            future.cancel()
            try:
                session.fail(index, INTERRUPTED)
            except Exception as e:  # the storage itself failed; resuming marks it
                logger.debug("Could not mark trial %d interrupted: %s", index, e)
        if busy or running or abandoned:
            interrupt.stopping()
        _dask.close(dask_client, cluster, busy=busy or bool(running) or abandoned)
    return out


def _stop(session: StudySession, running: dict[Any, tuple[int, float]], out: LoopResult) -> None:
    """On a Ctrl-C: save the results already received, mark the other trials interrupted.

    A trial whose worker died meanwhile is interrupted too, not failed: a SIGTERM
    sent to the whole job (Slurm's ``scancel``) reaches the workers as well.
    """
    from distributed.scheduler import KilledWorker

    for future, (index, _) in running.items():
        killed = future.status == "error" and isinstance(future.exception(), KilledWorker)
        if future.done() and not killed:
            if future.status == "finished":
                session.record(index, future.result())
            else:
                session.fail(index, _dask.failure_reason(future))
            out.saved_on_stop += 1
            out.finished += 1
        else:
            future.cancel()
            session.fail(index, INTERRUPTED)
            out.interrupted += 1
