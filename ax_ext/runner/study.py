"""Run a tuning study: Ax ``Client`` + ``sobol_then_bo``, trials evaluated on Dask.

The study lives in an SQL database through Ax's SQL store (a local SQLite file by
default). Ax saves every new trial and every result as it happens, so a study
whose process dies can be continued by running :func:`run_study` again with the
same storage: completed and failed trials are kept, trials that were running are
marked FAILED with the reason ``"interrupted"`` (they do not count towards the
number of trials), and the study continues until ``trials`` trials have finished.

Training curves that an evaluation returns under ``"curves"`` (see
:func:`ax_ext.runner.problems.split_result`) are stored in the completed trial's
run metadata, ``trial.run_metadata["curves"]``, which Ax's SQL store saves with
the trial (a JSON column); :func:`trial_curves` reads them back. They are not Ax
data: the models are fitted to the scalar metrics only.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ax.api.client import Client
from ax.api.configs import StorageConfig
from ax.core.base_trial import TrialStatus
from ax.exceptions.core import UserInputError

from ax_ext.generation import sqlite_storage_config
from ax_ext.runner.problems import CURVES_KEY, Problem, get_problem, split_result
from ax_ext.runner.strategies import check_strategy, set_strategy

__all__ = ["INTERRUPTED", "StudyResult", "experiment_name_for", "run_study", "trial_curves"]

logger = logging.getLogger(__name__)

#: The failure reason of trials that were running when a study's process stopped.
INTERRUPTED = "interrupted"
#: Prefix of the experiment name, followed by the problem's name.
EXPERIMENT_PREFIX = "ax_ext:"
_MAX_REASON = 100  # Ax's SQL column for the failure reason holds 100 characters


@dataclass
class StudyResult:
    """What :func:`run_study` did.

    Attributes:
        client: The Ax ``Client`` (still attached to the storage).
        problem: The problem.
        completed: Completed trials in the study.
        failed: Failed trials, not counting interrupted ones.
        interrupted: Trials marked failed because an earlier run stopped.
        new_trials: Trials run (finished) by this call.
        best_index: Index of the best completed trial, or ``None``.
        best_parameters: Its parameters (``{}`` without one).
        best_value: Its objective value (``nan`` without one).
        wall_seconds: Wall time of this call, including starting the cluster.
        generation_seconds: Time of each ``Client.get_next_trials`` call.
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
    strategy: str = "ax_ext",
) -> StudyResult:
    """Create or resume a study and run it until ``trials`` trials have finished.

    Trials come from ``strategy`` (by default :func:`ax_ext.generation.sobol_then_bo`);
    up to ``workers`` run at once on Dask distributed: a ``LocalCluster`` with
    ``workers`` single-threaded worker processes, or the cluster at
    ``scheduler_address``. Each evaluation is
    ``dask_client.submit(problem.evaluate, params, seed, pure=False)``; as each one
    finishes its Ax trial is completed, or marked FAILED if the evaluation raised,
    returned a non-finite objective, or its worker died (for the local cluster
    Dask's ``allowed-failures`` is 0, so a crashed task is not retried). New
    trials are generated as slots free up.

    Args:
        problem: A :class:`~ax_ext.runner.problems.Problem` or a registered name.
        trials: Finished trials (completed or failed, not interrupted) the study
            should have at the end, counting those already in the storage.
        workers: Trials evaluated at once (and workers of the local cluster).
        storage_path: An SQLite file (``.db``/``.sqlite``/``.sqlite3``, created if
            missing) or an SQLAlchemy URL Ax's SQL store supports
            (``postgresql://...``).
        seed: Seed of the Sobol sequence and of every evaluation (the same seed
            for all trials, so trials differ only by their parameters).
        scheduler_address: ``tcp://host:port`` of a running Dask scheduler; its
            workers must be able to import the problem's evaluation function.
        progress: Show a tqdm progress bar.
        num_sobol_trials: Sobol trials before BO (new studies only); default
            :func:`ax_ext.generation.default_num_sobol_trials`.
        optimizer_kwargs: Options of BoTorch's acquisition optimizer (new studies
            only), as for :func:`~ax_ext.generation.sobol_then_bo`.
        strategy: The generation strategy of a new study (a resumed study keeps its
            own): ``"ax_ext"`` (default, ``sobol_then_bo``), ``"ax-default"`` (Ax's
            ``Client`` default) or ``"sobol"`` (quasi-random only); see
            :mod:`ax_ext.runner.strategies`.

    Returns:
        A :class:`StudyResult`.

    Raises:
        UserInputError: For an unknown problem, ``workers < 1``, ``trials`` smaller
            than the trials already finished, a storage holding another problem's
            study, or a storage path or URL Ax's SQL store cannot use.
    """
    start = time.perf_counter()
    problem = get_problem(problem)
    _check_positive_int("workers", workers, "trials to evaluate at once (--workers)")
    _check_positive_int("trials", trials, "finished trials the study should have (--trials)")
    check_strategy(strategy)
    client = _create_or_resume(
        problem, storage_path, seed, num_sobol_trials, optimizer_kwargs, strategy=strategy
    )
    counts = _counts(client)
    done = counts["completed"] + counts["failed"]
    if trials < done:
        raise UserInputError(
            f"Expected trials >= the {done} trials already finished in {storage_path} "
            f"({counts['completed']} completed, {counts['failed']} failed), got {trials}. "
            f"Pass --trials {done} or more to continue the study, or use a new storage."
        )
    generation_seconds: list[float] = []
    new_trials = 0
    if done < trials:
        new_trials = _run_trials(
            client, problem, trials, workers, seed, scheduler_address, progress, generation_seconds
        )
    counts = _counts(client)
    best_index, best_parameters, best_value = _best(client, problem)
    return StudyResult(
        client=client,
        problem=problem,
        completed=counts["completed"],
        failed=counts["failed"],
        interrupted=counts["interrupted"],
        new_trials=new_trials,
        best_index=best_index,
        best_parameters=best_parameters,
        best_value=best_value,
        wall_seconds=time.perf_counter() - start,
        generation_seconds=generation_seconds,
    )


# ------------------------------------------------------------------------------ storage


def _storage_config(storage: str | Path) -> StorageConfig:
    text = str(storage)
    if "://" not in text:
        return sqlite_storage_config(storage)  # checks nothing about the suffix
    try:
        from ax.storage.sqa_store.db import (
            create_all_tables,
            get_engine,
            init_engine_and_session_factory,
        )

        init_engine_and_session_factory(url=text, force_init=True)
        create_all_tables(get_engine())
    except Exception as e:
        raise UserInputError(
            f"Expected an SQLAlchemy URL that Ax's SQL store can open (e.g. "
            f"sqlite:///study.db or postgresql://user@host/db), got {text!r}: "
            f"{type(e).__name__}: {e}"
        ) from e
    return StorageConfig(url=text)


def _check_storage_path(storage: str | Path) -> None:
    text = str(storage)
    if "://" in text:
        return
    suffix = Path(text).suffix.lower()
    if suffix not in (".db", ".sqlite", ".sqlite3"):
        raise UserInputError(
            f"Expected the storage to be an SQLite file ending in .db, .sqlite or .sqlite3, "
            f"or an SQLAlchemy URL such as postgresql://user@host/db, got {text!r}."
        )
    parent = Path(text).expanduser().resolve().parent
    if not parent.is_dir():
        raise UserInputError(
            f"Expected the storage file's folder to exist, got {text!r} (no folder "
            f"{str(parent)!r}). Create the folder or choose another path."
        )


def _experiment_names() -> list[str]:
    from ax.storage.sqa_store.db import session_scope
    from ax.storage.sqa_store.sqa_classes import SQAExperiment

    with session_scope() as session:
        return [row[0] for row in session.query(SQAExperiment.name).all()]


def _create_or_resume(
    problem: Problem,
    storage: str | Path,
    seed: int,
    num_sobol_trials: int | None,
    optimizer_kwargs: dict[str, Any] | None,
    strategy: str = "ax_ext",
) -> Client:
    _check_storage_path(storage)
    config = _storage_config(storage)
    name = experiment_name_for(problem)
    names = _experiment_names()
    if names and name not in names:
        others = [n.removeprefix(EXPERIMENT_PREFIX) for n in names]
        raise UserInputError(
            f"The storage {str(storage)!r} holds a study of {others} (experiments "
            f"{names}), not of problem {problem.name!r}. Use a new storage for "
            f"{problem.name!r}, or run the problem stored there."
        )
    if name in names:
        client = Client.load_from_database(name, storage_config=config)
        running = sorted(client._experiment.trial_indices_by_status[TrialStatus.RUNNING])
        for index in running:
            client.mark_trial_failed(index, failed_reason=INTERRUPTED)
        logger.info(
            "Resumed the study of %r from %s: %d trials, %d were running and are now "
            "marked failed (%s).",
            problem.name,
            storage,
            len(client._experiment.trials),
            len(running),
            INTERRUPTED,
        )
        return client
    client = Client(storage_config=config, random_seed=seed)
    client.configure_experiment(parameters=list(problem.parameters), name=name)
    client.configure_optimization(objective=problem.objective_expression)
    set_strategy(client, strategy, seed, num_sobol_trials, optimizer_kwargs)
    logger.info("Created a study of %r in %s with strategy %r.", problem.name, storage, strategy)
    return client


def _counts(client: Client) -> dict[str, int]:
    trials = client._experiment.trials.values()
    failed = [t for t in trials if t.status == TrialStatus.FAILED]
    interrupted = sum(t.status_reason == INTERRUPTED for t in failed)
    return {
        "completed": sum(t.status == TrialStatus.COMPLETED for t in trials),
        "failed": len(failed) - interrupted,
        "interrupted": interrupted,
        "running": sum(t.status == TrialStatus.RUNNING for t in trials),
    }


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


# ------------------------------------------------------------------------------ running


def _check_positive_int(name: str, value: Any, meaning: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserInputError(f"Expected {name} to be an integer >= 1 ({meaning}), got {value!r}.")


def _connect(workers: int, scheduler_address: str | None):
    """A Dask client and the local cluster it owns (``None`` for a given scheduler)."""
    import dask
    import distributed

    if scheduler_address is not None:
        try:
            return distributed.Client(scheduler_address, timeout="20s"), None
        except (OSError, TimeoutError, ValueError) as e:
            raise UserInputError(
                f"Expected a reachable Dask scheduler address like tcp://host:8786, got "
                f"{scheduler_address!r}: {type(e).__name__}: {e}"
            ) from e
    # no retries: a task whose worker died is reported as failed (KilledWorker)
    # instead of being run again, possibly crashing another worker
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    return distributed.Client(cluster), cluster


def _failure_reason(future) -> str:
    from distributed.scheduler import KilledWorker

    if future.status == "cancelled":
        return "cancelled"
    exc = future.exception()
    if isinstance(exc, KilledWorker):
        return "worker died during the trial (KilledWorker)"
    return f"{type(exc).__name__}: {exc}"


def _record_result(client: Client, problem: Problem, index: int, result: Any) -> float | None:
    """Complete trial ``index`` with an evaluation's result, or mark it failed.

    Curves (``result["curves"]``) go into the trial's run metadata before
    ``Client.complete_trial``, which saves the trial with them; the scalar
    metrics are the trial's Ax data.

    Returns:
        The objective value, or ``None`` if the trial was marked FAILED (no
        finite objective in the result).

    Raises:
        UserInputError: If the result's curves are malformed (a bug in the
            problem's evaluation); the trial is left RUNNING, so resuming the
            study marks it interrupted.
    """
    metrics, curves = split_result(result) if isinstance(result, dict) else (None, {})
    value = metrics.get(problem.objective) if metrics is not None else None
    if value is None or not math.isfinite(float(value)):
        reason = (
            f"no finite {problem.objective!r} in the result"
            if metrics is None
            else f"{problem.objective!r} is {value!r}"
        )
        client.mark_trial_failed(index, failed_reason=reason[:_MAX_REASON])
        logger.warning("Trial %d failed: %s.", index, reason)
        return None
    raw = {k: float(v) for k, v in metrics.items()}
    if curves:
        client._experiment.trials[index].update_run_metadata({CURVES_KEY: curves})
    client.complete_trial(index, raw_data=raw)
    return float(value)


def _run_trials(
    client: Client,
    problem: Problem,
    trials: int,
    workers: int,
    seed: int,
    scheduler_address: str | None,
    progress: bool,
    generation_seconds: list[float],
) -> int:
    from distributed import as_completed
    from tqdm.auto import tqdm

    counts = _counts(client)
    done = counts["completed"] + counts["failed"]
    failed = counts["failed"]
    values = _objective_values(client, problem)
    pick = min if problem.minimize else max
    best = pick(values.values()) if values else math.nan
    dask_client, cluster = _connect(workers, scheduler_address)
    running: dict[Any, int] = {}
    finished = 0
    bar = tqdm(total=trials, initial=done, desc=problem.name, unit="trial", disable=not progress)

    def show() -> None:
        postfix = {"done": done, "running": len(running), "failed": failed, "best": f"{best:.4g}"}
        bar.set_postfix(postfix, refresh=True)

    def fill(pending: as_completed) -> int:
        wanted = min(workers - len(running), trials - done - len(running))
        if wanted <= 0:
            return 0
        t0 = time.perf_counter()
        new = client.get_next_trials(max_trials=wanted)
        generation_seconds.append(time.perf_counter() - t0)
        for index, params in new.items():
            future = dask_client.submit(
                problem.evaluate, params, seed, pure=False, key=f"trial-{index}-{problem.name}"
            )
            running[future] = index
            pending.add(future)
        show()
        return len(new)

    try:
        pending = as_completed()
        fill(pending)
        while running:
            future = next(pending)
            index = running.pop(future)
            if future.status == "finished":
                value = _record_result(client, problem, index, future.result())
                if value is None:
                    failed += 1
                else:
                    best = value if math.isnan(best) else pick(best, value)
            else:
                reason = _failure_reason(future)
                client.mark_trial_failed(index, failed_reason=reason[:_MAX_REASON])
                failed += 1
                logger.warning("Trial %d failed: %s", index, reason)
            done += 1
            finished += 1
            bar.update(1)
            show()
            fill(pending)
        if done < trials:
            logger.warning(
                "The generation strategy produced no more trials after %d of %d.", done, trials
            )
    finally:
        bar.close()
        for future in running:
            future.cancel()
        dask_client.close()
        if cluster is not None:
            cluster.close()
    return finished
