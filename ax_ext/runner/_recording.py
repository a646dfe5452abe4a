"""Recording an evaluation's result on its Ax trial (``ax-ext tune`` and ``ax-ext compare``).

:func:`record_result` turns what a problem's ``evaluate`` returned into a
completed trial (its scalar metrics as Ax data, its training curves in the
trial's run metadata) or a FAILED trial with a reason that names what was wrong,
so one bad result never stops a study.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass
from typing import Any

from ax_ext.runner.problem import CURVES_KEY, Problem, split_result

logger = logging.getLogger(__name__)

#: Ax's SQL column for a trial's failure reason holds 100 characters.
MAX_REASON = 100


@dataclass(frozen=True)
class Recorded:
    """What :func:`record_result` did with a result.

    Attributes:
        value: The objective value of a completed trial, or ``None`` if the trial
            was marked FAILED.
        reason: The failure reason (``None`` for a completed trial).
    """

    value: float | None
    reason: str | None = None


def _short(value: Any, limit: int = 24) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_real(value: Any) -> bool:
    # bool (and NumPy's bool_, which is not a numbers.Real) is not a measurement
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def result_problem(problem: Problem, result: Any) -> tuple[dict[str, float] | None, str]:
    """The scalar metrics of a result as floats, or ``None`` and what is wrong.

    A result must be a dict holding the problem's objectives and, optionally,
    other metrics and ``"curves"``; every metric must be a real number (``bool``
    is not), and every objective must be finite. Other metrics may be ``nan``.

    Returns:
        ``(metrics, "")`` for a valid result, else ``(None, reason)`` with a
        reason that names the metric and its value.
    """
    if not isinstance(result, dict):
        return None, f"expected a dict of metrics, got {type(result).__name__} {_short(result)}"
    metrics = {k: v for k, v in result.items() if k != CURVES_KEY}
    for objective in problem.objectives:
        if objective not in metrics:
            return None, f"no {objective!r} in the result (keys {sorted(map(str, metrics))})"
    for name, value in metrics.items():
        if not _is_real(value):
            return None, f"{name!r} is {_short(value)} ({type(value).__name__}), not a real number"
    for objective in problem.objectives:
        value = float(metrics[objective])
        if not math.isfinite(value):
            return None, f"{objective!r} is {value!r}"
    return {str(k): float(v) for k, v in metrics.items()}, ""


def record_result(client: Any, problem: Problem, index: int, result: Any) -> Recorded:
    """Complete trial ``index`` of an Ax ``Client`` with an evaluation's result, or fail it.

    A result that is not a dict, lacks the objective, has a metric that is not a
    real number (a string such as ``"0.5abc"``, ``True``, ``None``, a tensor) or
    a non-finite objective marks the trial FAILED with a reason naming the metric
    and its value. Valid training curves (``result["curves"]``, see
    :func:`~ax_ext.runner.problems.split_result`) go into the trial's run
    metadata before ``Client.complete_trial`` saves it; malformed curves are
    logged as a warning and not stored, and the trial is completed with its
    metrics (a valid evaluation is not thrown away over its curves).

    Args:
        client: The ``ax.api.client.Client`` holding the trial (saving to its
            storage, if it has one).
        problem: The problem whose ``evaluate`` produced ``result``.
        index: The trial index.
        result: What ``problem.evaluate`` returned.

    Returns:
        A :class:`Recorded`: the objective value, or the failure reason.
    """
    metrics, reason = result_problem(problem, result)
    if metrics is None:
        reason = reason[:MAX_REASON]
        client.mark_trial_failed(index, failed_reason=reason)
        logger.warning("Trial %d failed: %s.", index, reason)
        return Recorded(None, reason)
    curves = {}
    try:
        _, curves = split_result(result)
    except Exception as e:  # UserInputError: a bug in the evaluation's curves
        logger.warning("Trial %d: its training curves are not stored: %s", index, e)
    if curves:
        client._experiment.trials[index].update_run_metadata({CURVES_KEY: curves})
    client.complete_trial(index, raw_data=metrics)
    return Recorded(metrics[problem.objective])


def mark_failed(client: Any, index: int, reason: str) -> str:
    """Mark trial ``index`` FAILED with ``reason`` cut to what Ax's SQL store keeps."""
    reason = reason[:MAX_REASON]
    client.mark_trial_failed(index, failed_reason=reason)
    return reason
