"""The trials of an Ax experiment as a tuning study sees them, and what they show.

Computations behind the playbook's experiment charts (:mod:`ax_ext.plotting.experiment`)
and the report, returned as data: :func:`trial_points` sorts the trials into
feasible, infeasible and failed ones; :func:`best_trials` picks the best;
:func:`boundary_findings` says which range parameters' best trials crowd a bound of
the search space (the optimum may lie outside it), and :func:`describe_boundary`
puts the findings in one sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from ax.exceptions.core import UserInputError

from ax_ext.adapter import (
    TrialRow,
    default_metric_name,
    encode_search_space,
    experiment_data,
    get_experiment,
    objective_minimizes,
)

__all__ = [
    "BOUNDARY_COLUMNS",
    "TrialPoints",
    "best_trials",
    "boundary_findings",
    "describe_boundary",
    "trial_points",
]

#: The columns of :func:`boundary_findings`' DataFrame, one row per finding.
BOUNDARY_COLUMNS = ["parameter", "bound", "value", "best_trials"]


@dataclass
class TrialPoints:
    """An experiment's trials for one metric, sorted by what they say about it."""

    experiment: Any
    metric_name: str
    minimize: bool
    ok: list[TrialRow]  # completed, finite, feasible
    infeasible: list[TrialRow]  # completed, finite, violating an outcome constraint
    failed: list[TrialRow]  # failed, abandoned, or completed without a finite value


def _violates(experiment: Any, values: dict[str, float]) -> bool:
    config = experiment.optimization_config
    for c in [] if config is None else config.outcome_constraints:
        if c.relative:
            continue  # needs the status-quo arm; not judged here
        weights = c.metric_weights
        if not all(name in values for name, _ in weights):
            continue
        total = sum(w * values[name] for name, w in weights)
        if (c.op.name == "GEQ" and total < c.bound) or (c.op.name == "LEQ" and total > c.bound):
            return True
    return False


def trial_points(
    experiment_or_client: Any, metric_name: str | None = None, minimize: bool | None = None
) -> TrialPoints:
    """The completed-feasible, infeasible and failed trials of ``metric_name``.

    Args:
        experiment_or_client: An Ax ``Experiment`` or ``Client``.
        metric_name: The metric; default the objective's.
        minimize: Whether lower is better; default from the objective.

    Raises:
        UserInputError: For an unknown metric, or a metric that is not an objective
            without ``minimize``.
    """
    experiment = get_experiment(experiment_or_client)
    metric_name = metric_name or default_metric_name(experiment)
    if metric_name not in experiment.metrics:
        raise UserInputError(
            f"Expected metric_name to be one of {sorted(experiment.metrics)!r}, got "
            f"{metric_name!r}."
        )
    if minimize is None:
        minimize = objective_minimizes(experiment, metric_name)
    if minimize is None:
        raise UserInputError(
            f"Metric {metric_name!r} is not the experiment's objective, so which values are "
            "best is unknown: pass minimize=True or minimize=False."
        )
    rows, _, failed = experiment_data(experiment, metric_name)
    failed = [r for r in failed if r.status in ("FAILED", "ABANDONED", "COMPLETED")]
    df = experiment.lookup_data().df
    values: dict[tuple[int, str], dict[str, float]] = {}
    for r in df.itertuples(index=False):
        values.setdefault((int(r.trial_index), str(r.arm_name)), {})[r.metric_name] = r.mean
    ok, infeasible = [], []
    for row in rows:
        bad = _violates(experiment, values.get((row.trial_index, row.arm_name), {}))
        (infeasible if bad else ok).append(row)
    return TrialPoints(experiment, metric_name, bool(minimize), ok, infeasible, failed)


def best_trials(
    points: TrialPoints, top_k: int | None = None, top_fraction: float = 0.1
) -> list[TrialRow]:
    """The best ``top_k`` feasible trials, or the best ``top_fraction`` of them (at least one)."""
    k = top_k if top_k is not None else max(1, math.ceil(top_fraction * len(points.ok)))
    ordered = sorted(points.ok, key=lambda r: r.mean, reverse=not points.minimize)
    return ordered[:k]


def _boundaries(
    points: TrialPoints, best: list[TrialRow], tolerance: float, fraction: float
) -> list[dict[str, Any]]:
    """Range parameters whose best trials crowd a bound (in the model's scaling)."""
    from ax.core.parameter import RangeParameter

    encoding = encode_search_space(points.experiment.search_space)
    found = []
    need = max(1, math.ceil(fraction * len(best)))
    for name, p in points.experiment.search_space.parameters.items():
        if not isinstance(p, RangeParameter) or p.lower == p.upper or not best:
            continue
        column = encoding.feature_names.index(name)
        unit = [encoding.encode(r.parameters)[column] for r in best]
        for side, near, bound in (
            ("lower", [u <= tolerance for u in unit], p.lower),
            ("upper", [u >= 1 - tolerance for u in unit], p.upper),
        ):
            if sum(near) >= need:
                found.append(
                    {
                        "parameter": name,
                        "bound": side,
                        "value": bound,
                        "best_trials": [r.trial_index for r, n in zip(best, near) if n],
                    }
                )
    return found


def boundary_findings(
    experiment_or_client: Any,
    metric_name: str | None = None,
    *,
    minimize: bool | None = None,
    top_fraction: float = 0.1,
    top_k: int | None = None,
    tolerance: float = 0.05,
    fraction: float = 0.5,
) -> pd.DataFrame:
    """Range parameters whose best trials crowd a bound of the search space.

    A finding is a range parameter and one of its bounds such that at least
    ``fraction`` of the best trials (:func:`best_trials`) lie within
    ``tolerance`` of that bound, as a fraction of the range (in log space for
    log-scale parameters, as the model sees it): the optimum may lie outside the
    search space.

    Args:
        experiment_or_client: An Ax ``Experiment`` or ``Client``, or the
            :class:`TrialPoints` already collected from one (then ``metric_name``
            and ``minimize`` are ignored).
        metric_name: The metric; default the objective's.
        minimize: Whether lower is better; default from the objective.
        top_fraction: The best trials are this fraction of the feasible
            completed trials (at least one)...
        top_k: ...or exactly this many, if given.
        tolerance: Distance from a bound, as a fraction of the range, that counts
            as "at the bound".
        fraction: Fraction of the best trials that must be at the same bound.

    Returns:
        A DataFrame with :data:`BOUNDARY_COLUMNS`: the parameter, ``"lower"`` or
        ``"upper"``, the bound's value and the indices of the best trials at it;
        empty when no bound is crowded.

    Example:
        >>> from ax.api.client import Client
        >>> from ax.api.configs import RangeParameterConfig
        >>> client = Client(random_seed=0)
        >>> client.configure_experiment(parameters=[
        ...     RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0))])
        >>> client.configure_optimization(objective="-loss")
        >>> client.configure_generation_strategy(method="random_search")
        >>> for i, p in client.get_next_trials(max_trials=6).items():
        ...     _ = client.complete_trial(i, raw_data={"loss": 1.0 - p["x"]})
        >>> _ = client.attach_trial({"x": 1.0}), client.complete_trial(6, {"loss": 0.0})
        >>> boundary_findings(client, top_k=1)[["parameter", "bound", "value"]].values.tolist()
        [['x', 'upper', 1.0]]
    """
    points = (
        experiment_or_client
        if isinstance(experiment_or_client, TrialPoints)
        else trial_points(experiment_or_client, metric_name, minimize)
    )
    best = best_trials(points, top_k, top_fraction)
    return pd.DataFrame(_boundaries(points, best, tolerance, fraction), columns=BOUNDARY_COLUMNS)


def describe_boundary(findings: pd.DataFrame, metric_name: str) -> str:
    """One sentence for :func:`boundary_findings`' rows (``""`` when there are none).

    Example:
        >>> findings = pd.DataFrame([["lr", "upper", 1.0, [3]]], columns=BOUNDARY_COLUMNS)
        >>> describe_boundary(findings, "loss")
        "The best trials of 'loss' sit at a search-space bound: lr (upper bound 1)."
    """
    if findings.empty:
        return ""
    where = ", ".join(
        f"{r.parameter} ({r.bound} bound {r.value:.4g})" for r in findings.itertuples()
    )
    return f"The best trials of {metric_name!r} sit at a search-space bound: {where}."
