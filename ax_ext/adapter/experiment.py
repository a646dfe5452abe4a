r"""An Ax experiment's trials as data: the experiment, its objective, its trials' rows.

:func:`get_experiment` takes an ``Experiment`` or an ``ax.api.client.Client``;
:func:`experiment_data` reads the completed trials of a metric as
:class:`TrialRow`\ s, with the trials it cannot use as :class:`ExcludedTrial`\ s
(and why). Ax is imported when these functions run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ExcludedTrial",
    "TrialRow",
    "default_metric_name",
    "experiment_data",
    "get_experiment",
    "objective_minimizes",
]


@dataclass
class ExcludedTrial:
    """A trial (arm) left out of the fit, and why.

    Attributes:
        trial_index: The trial's index.
        arm_name: The arm's name (``None`` if the trial has no arm).
        reason: Why it was left out, e.g. ``"trial FAILED: out of memory"`` or
            ``"metric 'loss' is NaN"``.
    """

    trial_index: int
    arm_name: str | None
    reason: str


def get_experiment(experiment_or_client: Any) -> Any:
    """The ``Experiment`` of an experiment or an ``ax.api.client.Client``.

    Raises:
        UserInputError: If the argument is neither, or the Client has no experiment.
    """
    from ax.core.experiment import Experiment
    from ax.exceptions.core import UserInputError

    if isinstance(experiment_or_client, Experiment):
        return experiment_or_client
    if getattr(experiment_or_client, "_maybe_experiment", 0) is None:
        raise UserInputError(
            "The Client has no experiment yet: call configure_experiment (or load one) first."
        )
    experiment = getattr(experiment_or_client, "_experiment", None)
    if isinstance(experiment, Experiment):
        return experiment
    raise UserInputError(
        "Expected an ax.core.experiment.Experiment or an ax.api.client.Client, got "
        f"{type(experiment_or_client).__name__}."
    )


def default_metric_name(experiment: Any) -> str:
    """The objective's metric name of a single-objective experiment.

    Raises:
        UserInputError: If the experiment has no single-metric objective.
    """
    from ax.exceptions.core import UserInputError

    config = experiment.optimization_config
    metric_names = [] if config is None else list(config.objective.metric_names)
    if len(metric_names) != 1:
        raise UserInputError(
            "Pass metric_name: the experiment's objective has metrics "
            f"{metric_names!r}, expected exactly one to default to. Available metrics: "
            f"{sorted(experiment.metrics)!r}."
        )
    return metric_names[0]


def objective_minimizes(experiment: Any, metric_name: str) -> bool | None:
    """Whether the experiment minimizes ``metric_name`` (``None`` if not an objective)."""
    config = experiment.optimization_config
    if config is None:
        return None
    objective = config.objective
    if objective.is_scalarized_objective:  # a weight's sign is not a direction there
        return None
    # Ax 1.3 writes every objective as an expression, e.g. "-loss, -cost" for two
    # minimized metrics: a metric's weight is negative where it is minimized
    signature = objective.metric_name_to_signature.get(metric_name)
    for name, weight in objective.metric_weights:
        if name == signature:
            return weight < 0
    return None


@dataclass
class TrialRow:
    """One arm of a trial with its value of a metric (see :func:`experiment_data`).

    Attributes:
        trial_index: The trial's index.
        arm_name: The arm's name.
        parameters: The arm's parameters.
        mean: The metric's reported mean (NaN if none).
        sem: Its standard error (NaN if unknown).
        status: The trial's status name, e.g. ``"COMPLETED"``.
        reason: Why the row is unusable (empty for usable rows).
    """

    trial_index: int
    arm_name: str
    parameters: dict[str, Any]
    mean: float
    sem: float
    status: str = "COMPLETED"
    reason: str = ""


def experiment_data(
    experiment: Any, metric_name: str
) -> tuple[list[TrialRow], list[ExcludedTrial], list[TrialRow]]:
    """Rows of completed trials with finite data, the excluded trials, and failed arms.

    Returns:
        ``(rows, excluded, failed_rows)``: ``rows`` are usable observations;
        ``excluded`` explains every trial or arm left out; ``failed_rows`` are the
        arms of failed, abandoned or otherwise unusable trials (with NaN ``mean``
        unless the trial had data), for charts that show them.
    """
    from ax.core.base_trial import TrialStatus

    df = experiment.lookup_data().df
    df = df[df["metric_name"] == metric_name]
    if "step" in df.columns and df["step"].notna().any():
        df = df.sort_values("step", na_position="first")
    last = {
        (int(r.trial_index), str(r.arm_name)): (float(r.mean), float(r.sem))
        for r in df.itertuples(index=False)
    }
    rows, excluded, failed = [], [], []
    for index in sorted(experiment.trials):
        trial = experiment.trials[index]
        arms = list(trial.arms)
        if not arms:
            excluded.append(ExcludedTrial(index, None, f"trial {trial.status.name} has no arm"))
            continue
        for arm in arms:
            mean, sem = last.get((index, arm.name), (math.nan, math.nan))
            row = TrialRow(index, arm.name, dict(arm.parameters), mean, sem, trial.status.name)
            if trial.status != TrialStatus.COMPLETED:
                reason = f"trial {trial.status.name}"
                if getattr(trial, "status_reason", None):
                    reason += f": {trial.status_reason}"
            elif (index, arm.name) not in last:
                reason = f"no data for metric {metric_name!r}"
            elif not math.isfinite(mean):
                reason = f"metric {metric_name!r} is {mean}"
            else:
                rows.append(row)
                continue
            excluded.append(ExcludedTrial(index, arm.name, reason))
            failed.append(row)
            row.reason = reason
    return rows, excluded, failed
