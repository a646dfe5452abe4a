"""One process's view of a stored study: create or resume it, generate and record trials.

:class:`StudySession` keeps an Ax ``Client`` attached to the storage and shares
the study with any other ``ax-ext tune`` processes on it. Creating the study and
each "reload, generate, save" happen inside the study's lock
(:class:`~ax_ext.runner._coordination.StudyLock`): the experiment and its
generation strategy are reloaded first when the stored trials differ from the
ones in memory (another process added or finished some), so every trial index
is created once and the study stops at its number of trials in total. Running
trials whose process stopped are marked FAILED then. Results are recorded
outside the lock: each process writes only its own trials' rows.

Ax's ``Client.load_from_database`` and ``set_experiment`` write the whole
experiment back on loading, which could overwrite another process's newer trial
rows; the session loads without writing and writes only new or own trials.
"""

from __future__ import annotations

import logging
from typing import Any

from ax.api.client import Client
from ax.api.configs import StorageConfig
from ax.api.utils.storage import db_settings_from_storage_config
from ax.core.base_trial import TrialStatus
from ax.exceptions.core import UserInputError
from ax.storage.sqa_store.with_db_settings_base import WithDBSettingsBase
from ax.utils.common.random import with_rng_seed
from sqlalchemy.exc import SQLAlchemyError

from ax_ext.runner import _coordination as co
from ax_ext.runner._interrupt import Interrupt
from ax_ext.runner._recording import Recorded, mark_failed, record_result
from ax_ext.runner._storage import display_storage, experiment_names, storage_error
from ax_ext.runner.problem import Problem
from ax_ext.runner.strategies import strategy_differences

logger = logging.getLogger(__name__)

#: The failure reason of trials that were running when a study's process stopped.
INTERRUPTED = "interrupted"
#: Failure reasons of trials that do not count towards the study's trials.
NOT_COUNTED = (INTERRUPTED, co.PROCESS_STOPPED)


def counts(experiment: Any) -> dict[str, int]:
    """Completed, failed (counted), interrupted and running trials of an experiment."""
    trials = experiment.trials.values()
    failed = [t for t in trials if t.status == TrialStatus.FAILED]
    interrupted = sum(t.status_reason in NOT_COUNTED for t in failed)
    return {
        "completed": sum(t.status == TrialStatus.COMPLETED for t in trials),
        "failed": len(failed) - interrupted,
        "interrupted": interrupted,
        "running": sum(t.status == TrialStatus.RUNNING for t in trials),
    }


class StudySession:
    """A stored study as this process runs it (see the module docstring).

    Args:
        problem: The study's problem.
        storage: The storage as the user gave it (for messages).
        config: Its ``StorageConfig`` (from :func:`~ax_ext.runner._storage.open_storage`).
        name: The experiment name.
        heartbeat_timeout: Seconds without a heartbeat after which another
            process's running trials are marked FAILED.
    """

    def __init__(
        self,
        problem: Problem,
        storage: Any,
        config: StorageConfig,
        name: str,
        heartbeat_timeout: float,
    ) -> None:
        self.problem, self.storage, self.config, self.name = problem, storage, config, name
        self.db = WithDBSettingsBase(db_settings=db_settings_from_storage_config(config))
        self.engine = co.coordination_engine(config.url)
        self.lock = co.StudyLock(self.engine, name)
        self.heartbeat = co.Heartbeat(self.engine, name, heartbeat_timeout)
        self.client: Client | None = None
        self._started = False

    # ------------------------------------------------------------------ set-up

    def _locked(self, interrupt: Interrupt | None) -> bool:
        stop = (lambda: interrupt.requested) if interrupt is not None else (lambda: False)
        return self.lock.acquire(stop)

    def open(self, new_client: Client, asked: set[str]) -> Client:
        """Create the study from ``new_client`` (in memory, fully configured) or resume it.

        Creation is whole: the experiment and its generation strategy are saved
        together, inside the lock, after every check; the storage keeps nothing
        of a rejected command. A resumed study keeps its stored strategy; where
        it differs from what was ``asked`` for (keys of
        :func:`~ax_ext.runner.strategies.strategy_signature`) a warning says so.
        """
        self._locked(None)
        try:
            names = experiment_names()
            if names and self.name not in names:
                others = [n.split(":", 1)[-1] for n in names]
                raise UserInputError(
                    f"The storage {display_storage(self.storage)!r} holds a study of {others} "
                    f"(experiments {names}), not of problem {self.problem.name!r}. Use a new "
                    f"storage for {self.problem.name!r}, or run the problem stored there."
                )
            self._start_heartbeat()
            if self.name in names:
                self.client = self._resume(new_client, asked)
            else:
                self.client = self._create(new_client)
        except Exception:
            self.close()
            raise
        finally:
            self.lock.release()
        return self.client

    def _start_heartbeat(self) -> None:
        try:  # the first write: a read-only storage is reported here, before any trial
            self.heartbeat.start()
        except Exception as e:
            raise storage_error(self.storage, e, "write to") from e
        self._started = True

    def _create(self, new_client: Client) -> Client:
        experiment, gs = new_client._experiment, new_client._generation_strategy
        try:
            self.db._save_experiment_to_db_if_possible(experiment=experiment)
            self.db._save_generation_strategy_to_db_if_possible(generation_strategy=gs)
        except Exception as e:
            self._delete_half_created()
            raise storage_error(self.storage, e, "create the study in") from e
        client = Client(storage_config=self.config, random_seed=new_client._random_seed)
        client._maybe_experiment, client._maybe_generation_strategy = experiment, gs
        logger.info("Created the study %r in %s (%s).", self.name, self.storage, gs.name)
        return client

    def _delete_half_created(self) -> None:
        try:
            from ax.storage.sqa_store.delete import delete_experiment

            if self.name in experiment_names():
                delete_experiment(self.name)
        except Exception as e:  # the storage is failing: nothing more to do here
            logger.warning("Could not remove the half-created study %r: %s", self.name, e)

    def _resume(self, new_client: Client, asked: set[str]) -> Client:
        experiment, gs = self._load()
        if gs is None and not experiment.trials:
            # a study whose creation never finished (e.g. by ax_ext <= 0.1): finish it
            gs = new_client._generation_strategy
            gs._experiment = experiment
            self.db._save_generation_strategy_to_db_if_possible(generation_strategy=gs)
            logger.warning(
                "The stored study %r had no generation strategy and no trials; it now uses %s.",
                self.name,
                gs.name,
            )
        elif gs is None:
            raise UserInputError(
                f"The study {self.name!r} in {display_storage(self.storage)!r} has trials but "
                "no stored generation strategy, so it cannot be continued as it was "
                "started. Use a new storage."
            )
        else:
            diffs = strategy_differences(gs, new_client._generation_strategy, asked)
            if diffs:
                logger.warning(
                    "The stored study keeps its own generation strategy %r, which differs "
                    "from what this command asks for (%s); strategy options apply to new "
                    "studies only. Use a new storage for another strategy.",
                    gs.name,
                    "; ".join(diffs),
                )
        client = Client(storage_config=self.config, random_seed=None)
        client._maybe_experiment, client._maybe_generation_strategy = experiment, gs
        return client

    def _load(self) -> tuple[Any, Any]:
        try:
            experiment, gs = self.db._load_experiment_and_generation_strategy(self.name)
        except Exception as e:
            raise storage_error(self.storage, e, f"load the study {self.name!r} from") from e
        if gs is not None:
            gs._experiment = experiment
        return experiment, gs

    def close(self) -> None:
        """Stop the heartbeat (removing this process's row) and the lock's engine."""
        if self._started:
            self.heartbeat.stop()
            self._started = False
        self.engine.dispose()

    # ------------------------------------------------------------------ the study

    @property
    def experiment(self) -> Any:
        return self.client._experiment

    def _stored_statuses(self) -> dict[int, TrialStatus]:
        from ax.storage.sqa_store.db import session_scope
        from ax.storage.sqa_store.sqa_classes import SQATrial

        with session_scope() as session:
            rows = (
                session.query(SQATrial.index, SQATrial.status)
                .filter(SQATrial.experiment_id == self.experiment._db_id)
                .all()
            )
        return {int(index): TrialStatus(status) for index, status in rows}

    def refresh(self) -> bool:
        """Reload the study if the stored trials differ from those in memory."""
        mine = {i: t.status for i, t in self.experiment.trials.items()}
        if self._stored_statuses() == mine:
            return False
        experiment, gs = self._load()
        self.client._maybe_experiment, self.client._maybe_generation_strategy = experiment, gs
        return True

    def reap(self) -> list[int]:
        """Mark FAILED the running trials whose process stopped; their indices."""
        running = self.experiment.trials_by_status[TrialStatus.RUNNING]
        owners = {t.index: (t.run_metadata or {}).get(co.OWNER_KEY) for t in running}
        others = {o for o in owners.values() if o and o != self.heartbeat.owner}
        dead = co.dead_owners(self.engine, others, self.heartbeat.timeout)
        reaped = []
        for index, owner in owners.items():
            if owner is None:  # from a process without heartbeats (an older ax_ext)
                mark_failed(self.client, index, INTERRUPTED)
            elif owner in dead:
                mark_failed(self.client, index, co.PROCESS_STOPPED)
            else:
                continue
            reaped.append(index)
        if reaped:
            logger.warning(
                "Marked %d running trials %s failed: their process stopped.", len(reaped), reaped
            )
        return reaped

    def sync(self, interrupt: Interrupt | None = None) -> dict[str, int]:
        """Reload and reap inside the lock; the counts (as they were, if stopped first)."""
        if not self._locked(interrupt):
            return counts(self.experiment)
        try:
            self.refresh()
            self.reap()
            return counts(self.experiment)
        finally:
            self.lock.release()

    def generate(
        self, wanted: int, trials: int, interrupt: Interrupt
    ) -> tuple[dict[int, dict[str, Any]], dict[str, int]]:
        """Up to ``wanted`` new trials, without passing ``trials`` in the whole study.

        Inside the lock: reload, reap, count; generate (the only part a Ctrl-C may
        abort) and save the new trials, each naming this process as its owner.

        Returns:
            ``({index: parameters}, counts after generating)``.
        """
        if not self._locked(interrupt):
            return {}, counts(self.experiment)
        try:
            self.refresh()
            self.reap()
            now = counts(self.experiment)
            budget = trials - now["completed"] - now["failed"] - now["running"]
            n = min(wanted, budget)
            if n <= 0 or interrupt.requested:
                return {}, now
            new = self._gen(n, interrupt)
            return new, counts(self.experiment)
        finally:
            self.lock.release()

    def _gen(self, n: int, interrupt: Interrupt) -> dict[int, dict[str, Any]]:
        """``Client.get_next_trials``, with the owner stored and the model fit abortable."""
        client, experiment = self.client, self.experiment
        gs = client._generation_strategy
        new = []
        try:
            # one trial at a time, so the strategy may change nodes between them
            for _ in range(n):
                with interrupt.generating(), with_rng_seed(seed=client._random_seed):
                    grs_for_trials = gs.gen(experiment=experiment, n=1, num_trials=1)
                if not grs_for_trials:
                    break
                trial = experiment.new_trial(generator_run=grs_for_trials[0][0])
                trial.update_run_metadata({co.OWNER_KEY: self.heartbeat.owner})
                trial.mark_running(no_runner_required=True)
                new.append(trial)
        except KeyboardInterrupt:
            # nothing was saved; the in-memory study is discarded with the process
            return {}
        try:
            client._save_generation_strategy_to_db_if_possible(generation_strategy=gs)
            client._save_or_update_trials_in_db_if_possible(experiment=experiment, trials=new)
        except SQLAlchemyError as e:
            raise storage_error(self.storage, e, "save new trials to") from e
        return {t.index: dict(t.arm.parameters) for t in new}

    def record(self, index: int, result: Any) -> Recorded:
        """Complete or fail one of this process's trials with an evaluation's result."""
        try:
            return record_result(self.client, self.problem, index, result)
        except SQLAlchemyError as e:
            raise storage_error(self.storage, e, f"save trial {index} to") from e

    def fail(self, index: int, reason: str) -> str:
        """Mark one of this process's trials FAILED."""
        try:
            return mark_failed(self.client, index, reason)
        except SQLAlchemyError as e:
            raise storage_error(self.storage, e, f"save trial {index} to") from e
