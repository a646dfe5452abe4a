"""Run a tuning study: Ax ``Client`` + ``sobol_then_bo``, trials evaluated on Dask.

The study lives in an SQL database through Ax's SQL store (a local SQLite file by
default, or PostgreSQL). Every new trial and every result is saved as it
happens, so a study whose process dies can be continued by running
:func:`run_study` again with the same storage: completed and failed trials are
kept, trials whose process stopped are marked FAILED (``"its process stopped"``,
or ``"interrupted"`` after a Ctrl-C; neither counts towards the number of
trials), and the study continues until ``trials`` trials have finished.

Any number of processes, on one machine (SQLite) or on many (PostgreSQL), may
run one study at once: see :mod:`ax_ext.runner._session` and
:mod:`ax_ext.runner._coordination` (a per-study lock around generating trials,
and heartbeats). docs/runner.md describes it.

Training curves that an evaluation returns under ``"curves"`` (see
:func:`ax_ext.runner.problems.split_result`) are stored in the completed trial's
run metadata, ``trial.run_metadata["curves"]``, which Ax's SQL store saves with
the trial (a JSON column); :func:`trial_curves` reads them back. They are not Ax
data: the models are fitted to the scalar metrics only.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ax.api.client import Client
from ax.core.base_trial import TrialStatus
from ax.exceptions.core import UserInputError

import ax_ext.generation  # noqa: F401  (registers ax_ext's classes for decoding)
from ax_ext.runner import _dask
from ax_ext.runner._coordination import DEFAULT_HEARTBEAT_TIMEOUT, PROCESS_STOPPED
from ax_ext.runner._interrupt import Interrupt
from ax_ext.runner._loop import LoopResult, run_trials
from ax_ext.runner._session import INTERRUPTED, StudySession, counts
from ax_ext.runner._storage import check_storage_name, display_storage, open_storage
from ax_ext.runner.problems import CURVES_KEY, Problem, get_problem
from ax_ext.runner.strategies import (
    check_num_sobol_trials,
    check_strategy,
    set_strategy,
    short_bo_warning,
)

__all__ = [
    "INTERRUPTED",
    "PROCESS_STOPPED",
    "StudyInterrupted",
    "StudyResult",
    "experiment_name_for",
    "run_study",
    "trial_curves",
]

logger = logging.getLogger(__name__)

#: Prefix of the experiment name, followed by the problem's name.
EXPERIMENT_PREFIX = "ax_ext:"


@dataclass
class StudyResult:
    """What :func:`run_study` did.

    Attributes:
        client: The Ax ``Client`` (still attached to the storage).
        problem: The problem.
        completed: Completed trials in the study.
        failed: Failed trials, not counting interrupted ones.
        interrupted: Trials marked failed because their process stopped (a
            Ctrl-C, a kill, a lost machine); they do not count as trials.
        new_trials: Trials run (finished) by this call.
        best_index: Index of the best completed trial, or ``None``.
        best_parameters: Its parameters (``{}`` without one).
        best_value: Its objective value (``nan`` without one).
        wall_seconds: Wall time of this call, including starting the cluster.
        generation_seconds: Time of each call that generated trials.
    """

    client: Client
    problem: Problem
    completed: int
    failed: int
    interrupted: int
    new_trials: int
    best_index: int | None
    best_parameters: dict[str, Any]
    best_value: float
    wall_seconds: float
    generation_seconds: list[float] = field(default_factory=list)


class StudyInterrupted(KeyboardInterrupt):
    """Raised by :func:`run_study` after a Ctrl-C (or SIGTERM) stopped it cleanly.

    The results that had arrived are saved and the running trials are marked
    interrupted; run the study again to continue it.

    Attributes:
        saved: Results saved while stopping (they had arrived).
        interrupted: Running trials marked interrupted.
        exit_code: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, saved: int, interrupted: int, exit_code: int) -> None:
        super().__init__(f"stopped: {saved} results saved, {interrupted} trials interrupted")
        self.saved, self.interrupted, self.exit_code = saved, interrupted, exit_code


def experiment_name_for(problem: Problem) -> str:
    """The experiment name under which a problem's study is stored."""
    return f"{EXPERIMENT_PREFIX}{problem.name}"


def run_study(
    problem: Problem | str,
    trials: int,
    workers: int,
    storage_path: str | Path,
    seed: int = 0,
    scheduler_address: str | None = None,
    progress: bool = True,
    num_sobol_trials: int | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    strategy: str | None = None,
    trial_timeout: float | None = None,
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
    worker_threads: int | None = None,
) -> StudyResult:
    """Create or resume a study and run it until ``trials`` trials have finished.

    Trials come from ``strategy`` (by default :func:`ax_ext.generation.sobol_then_bo`);
    up to ``workers`` run at once on Dask distributed: a ``LocalCluster`` with
    ``workers`` single-threaded worker processes, or the cluster at
    ``scheduler_address``. Each evaluation is
    ``dask_client.submit(problem.evaluate, params, seed, pure=False)``; as each one
    finishes its Ax trial is completed, or marked FAILED if the evaluation raised,
    returned a result that is not a dict of real numbers with a finite objective,
    ran longer than ``trial_timeout``, or its worker died (for the local cluster
    Dask's ``allowed-failures`` is 0, so a crashed task is not retried). New
    trials are generated as slots free up.

    Several processes may run the same study (same problem and storage) at once,
    on one machine with SQLite or on many with PostgreSQL: each trial index is
    created once, the study stops at ``trials`` in total, and the running trials
    of a process that stops (no heartbeat for ``heartbeat_timeout`` seconds, or,
    on the same machine, its process gone) are marked FAILED ("its process
    stopped") and replaced.

    Every argument is checked, and a new study's strategy built, before anything
    is written; a study is saved whole or not at all. The first Ctrl-C (or
    SIGTERM) stops launching trials, saves the results already received, marks
    the running trials interrupted and raises :class:`StudyInterrupted`; a
    second one ends the process at once.

    Args:
        problem: A :class:`~ax_ext.runner.problems.Problem` or a registered name.
        trials: Finished trials (completed or failed, not interrupted) the study
            should have at the end, counting those already in the storage.
        workers: Trials this process evaluates at once (and workers of the
            local cluster).
        storage_path: An SQLite file (``.db``/``.sqlite``/``.sqlite3``, created if
            missing) or an SQLAlchemy URL Ax's SQL store supports
            (``postgresql://user@host/db``, with the ``psycopg`` driver).
        seed: Seed of the Sobol sequence and of every evaluation (the same seed
            for all trials, so trials differ only by their parameters).
        scheduler_address: ``tcp://host:port`` of a running Dask scheduler; its
            workers must be able to import the problem's evaluation function.
        progress: Show a tqdm progress bar.
        num_sobol_trials: Sobol trials before BO (new studies only); default
            :func:`ax_ext.generation.default_num_sobol_trials` of the parameters
            and ``trials`` (at most half of them). A warning says when the Sobol
            budget leaves BO fewer than a third of ``trials``.
        optimizer_kwargs: Options of BoTorch's acquisition optimizer (new studies
            only), as for :func:`~ax_ext.generation.sobol_then_bo`.
        strategy: The generation strategy of a new study: ``"ax_ext"`` (the
            default, ``sobol_then_bo``), ``"ax-default"`` (Ax's ``Client``
            default) or ``"sobol"`` (quasi-random only); see
            :mod:`ax_ext.runner.strategies`. A resumed study keeps its own and
            logs a warning where it differs from what was asked for.
        trial_timeout: Seconds after its submission at which a trial still
            running is marked FAILED ("timed out after S s") and its worker
            restarted; ``None`` waits forever.
        heartbeat_timeout: Seconds without a heartbeat after which another
            process's running trials count as stopped.
        worker_threads: Threads each worker process may use (torch's intra-op
            threads, OpenMP, BLAS). ``None``: for the local cluster the
            machine's cores divided by ``workers`` (at least 1), so the trials
            running at once and this process's generation do not oversubscribe
            the cores; for a given scheduler the workers' own setting. An integer
            sets it on the local cluster's workers or on the scheduler's
            (``docs/runner.md#threads``).

    Returns:
        A :class:`StudyResult`.

    Raises:
        UserInputError: For an unknown problem, ``workers < 1``, ``trials`` smaller
            than the trials already finished, bad strategy options, a storage
            holding another problem's study, or any storage fault (read-only,
            not an SQLite file, damaged, unreachable), before any trial runs.
        StudyInterrupted: After a Ctrl-C or SIGTERM stopped the study cleanly.
    """
    start = time.perf_counter()
    problem = get_problem(problem)
    _check_positive_int("workers", workers, "trials to evaluate at once (--workers)")
    _check_positive_int("trials", trials, "finished trials the study should have (--trials)")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserInputError(f"Expected seed to be an integer, got {seed!r}.")
    if worker_threads is not None:
        _check_positive_int(
            "worker_threads", worker_threads, "threads per worker process (--worker-threads)"
        )
    _check_seconds("trial_timeout", trial_timeout, "--trial-timeout", optional=True)
    _check_seconds("heartbeat_timeout", heartbeat_timeout, "--heartbeat-timeout")
    check_strategy(strategy or "ax_ext")
    check_num_sobol_trials(num_sobol_trials)
    check_storage_name(storage_path)
    new_client = _new_client(
        problem, seed, strategy, num_sobol_trials, optimizer_kwargs, total_trials=trials
    )
    asked = _asked(strategy, num_sobol_trials, optimizer_kwargs)
    config = open_storage(storage_path)
    session = StudySession(
        problem, storage_path, config, experiment_name_for(problem), heartbeat_timeout
    )
    generation_seconds: list[float] = []
    new_trials = 0
    with _dask.Quiet() as quiet, Interrupt(on_stop=quiet.on) as interrupt:
        client = session.open(new_client, asked)
        try:
            _check_trials(counts(client._experiment), trials, storage_path)
            warning = short_bo_warning(client._generation_strategy, trials)
            if warning is not None:
                logger.warning(warning)
            now = session.sync(interrupt)
            loop = LoopResult()
            if not interrupt.requested and now["completed"] + now["failed"] < trials:
                loop = run_trials(
                    session,
                    trials,
                    workers,
                    seed,
                    scheduler_address,
                    progress,
                    generation_seconds,
                    trial_timeout,
                    interrupt,
                    worker_threads,
                )
            new_trials = loop.finished
            if interrupt.requested:
                raise StudyInterrupted(loop.saved_on_stop, loop.interrupted, interrupt.exit_code)
            session.sync()
        finally:
            session.close()
    now = counts(client._experiment)
    best_index, best_parameters, best_value = _best(client, problem)
    return StudyResult(
        client=client,
        problem=problem,
        completed=now["completed"],
        failed=now["failed"],
        interrupted=now["interrupted"],
        new_trials=new_trials,
        best_index=best_index,
        best_parameters=best_parameters,
        best_value=best_value,
        wall_seconds=time.perf_counter() - start,
        generation_seconds=generation_seconds,
    )


def _check_trials(now: dict[str, int], trials: int, storage: str | Path) -> None:
    done = now["completed"] + now["failed"]
    if trials < done:
        raise UserInputError(
            f"Expected trials >= the {done} trials already finished in "
            f"{display_storage(storage)} ({now['completed']} completed, {now['failed']} "
            f"failed), got {trials}. Pass --trials {done} or more to continue the study, or "
            "use a new storage."
        )


def _new_client(
    problem: Problem,
    seed: int,
    strategy: str | None,
    num_sobol_trials: int | None,
    optimizer_kwargs: dict[str, Any] | None,
    total_trials: int | None = None,
) -> Client:
    """A new study in memory, fully configured (nothing is stored yet)."""
    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=list(problem.parameters), name=experiment_name_for(problem)
    )
    client.configure_optimization(objective=problem.objective_expression)
    set_strategy(
        client, strategy or "ax_ext", seed, num_sobol_trials, optimizer_kwargs, total_trials
    )
    return client


def _asked(strategy: Any, num_sobol_trials: Any, optimizer_kwargs: Any) -> set[str]:
    """The strategy options given explicitly (compared with a resumed study's)."""
    given = (
        ("strategy", strategy),
        ("sobol", num_sobol_trials),
        ("optimizer_kwargs", optimizer_kwargs),
    )
    return {key for key, value in given if value is not None}


def _create_or_resume(
    problem: Problem,
    storage: str | Path,
    seed: int,
    num_sobol_trials: int | None,
    optimizer_kwargs: dict[str, Any] | None,
    strategy: str | None = None,
) -> Client:
    """Create or resume a study, without running it: its ``Client``, attached to the storage.

    For tests and notebooks that drive trials by hand; running trials are left as
    they are (:func:`run_study` marks those whose process stopped).
    """
    check_strategy(strategy or "ax_ext")
    check_num_sobol_trials(num_sobol_trials)
    check_storage_name(storage)
    new_client = _new_client(problem, seed, strategy, num_sobol_trials, optimizer_kwargs)
    config = open_storage(storage)
    session = StudySession(
        problem, storage, config, experiment_name_for(problem), DEFAULT_HEARTBEAT_TIMEOUT
    )
    try:
        return session.open(new_client, _asked(strategy, num_sobol_trials, optimizer_kwargs))
    finally:
        session.close()


def _objective_values(client: Client, problem: Problem) -> dict[int, float]:
    experiment = client._experiment
    completed = experiment.trial_indices_by_status[TrialStatus.COMPLETED]
    if not completed:
        return {}
    df = experiment.lookup_data(trial_indices=completed).df
    df = df[df["metric_name"] == problem.objective]
    return {int(i): float(v) for i, v in zip(df["trial_index"], df["mean"]) if math.isfinite(v)}


def trial_curves(client_or_experiment: Any) -> dict[int, dict[str, list[float]]]:
    """The training curves stored with a study's trials.

    Args:
        client_or_experiment: An Ax ``Client`` (e.g. ``StudyResult.client`` or
            :func:`~ax_ext.runner.report.load_study_client`'s) or its experiment.

    Returns:
        ``{trial_index: {curve_name: [value per epoch or step]}}`` for every trial
        whose run metadata holds curves (completed trials of problems that return
        them), in trial order.
    """
    experiment = getattr(client_or_experiment, "_experiment", client_or_experiment)
    out: dict[int, dict[str, list[float]]] = {}
    for index in sorted(experiment.trials):
        stored = (experiment.trials[index].run_metadata or {}).get(CURVES_KEY)
        if isinstance(stored, dict) and stored:
            out[index] = {str(k): [float(v) for v in vals] for k, vals in stored.items()}
    return out


def _best(client: Client, problem: Problem) -> tuple[int | None, dict[str, Any], float]:
    values = _objective_values(client, problem)
    if not values:
        return None, {}, math.nan
    pick = min if problem.minimize else max
    index = pick(values, key=values.__getitem__)
    arm = client._experiment.trials[index].arm
    return index, dict(arm.parameters), values[index]


def _check_positive_int(name: str, value: Any, meaning: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserInputError(f"Expected {name} to be an integer >= 1 ({meaning}), got {value!r}.")


def _check_seconds(name: str, value: Any, option: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0
    if not ok or not math.isfinite(value):
        raise UserInputError(
            f"Expected {name} ({option}) to be a positive number of seconds"
            f"{' or None' if optional else ''}, got {value!r}."
        )
