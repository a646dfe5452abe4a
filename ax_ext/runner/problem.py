"""A tuning problem and what its evaluation returns: :class:`Problem`, :func:`split_result`.

A :class:`Problem` names its Ax parameters (``ax.api.configs`` parameter configs),
its objective metric and direction, and a function ``evaluate(params, seed)`` that
runs one trial and returns its metrics. Evaluation functions run in Dask worker
processes, so they are module-level functions (picklable by reference) and import
their heavy dependencies (scikit-learn, PyTorch) themselves; this module imports
neither Ax nor anything else of ax_ext, so a worker that unpickles an evaluation
function (and the built-in problem modules, which import only this one) does not
pay for them. The registry of named problems is :mod:`ax_ext.runner.problems`.

Training curves: besides its scalar metrics, an evaluation may return per-epoch
(or per-step) curves under the reserved key :data:`CURVES_KEY` (``"curves"``), a
dict mapping curve names to lists of numbers, one per epoch or step::

    {"val_loss": 0.31, "val_accuracy": 0.93,
     "curves": {"val_loss": [0.9, 0.5, 0.31], "val_accuracy": [0.7, 0.88, 0.93]}}

:func:`split_result` separates and checks them; the study stores them in the
trial's run metadata (see :mod:`ax_ext.runner.study`) and the report draws them.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CURVES_KEY", "Problem", "TrialFailedError", "split_result"]

#: The reserved key of an evaluation's result that holds its training curves.
CURVES_KEY = "curves"


class TrialFailedError(RuntimeError):
    """Raised by an evaluation whose trial failed (e.g. training diverged to NaN).

    The study marks the trial FAILED with the message as the reason, instead of
    recording a number.
    """


@dataclass
class Problem:
    """A tuning problem: search space, objective and evaluation function.

    Args:
        name: The name used on the command line and stored with the study.
        parameters: Ax parameter configs (``RangeParameterConfig`` /
            ``ChoiceParameterConfig`` from ``ax.api.configs``).
        objective: The metric to optimize; ``evaluate`` must return it.
        minimize: Whether smaller values of ``objective`` are better.
        evaluate: ``evaluate(params, seed) -> dict[str, Any]``: runs one trial and
            returns its metrics (the objective and any others, tracked by Ax), and
            optionally its training curves under :data:`CURVES_KEY` (see
            :func:`split_result`). It raises :class:`TrialFailedError` (or any
            exception) for a failed trial. It runs in Dask worker processes, so it
            must be picklable: a module-level function of an importable module.
        description: One line for ``--help`` and reports.
        optimum: The best objective value, where known (for tests and comparisons).
        metadata: Free-form extra information about the problem.
        other_objectives: More objectives, ``{metric: minimize}``, for a
            multi-objective study: Ax's multi-objective BO (expected hypervolume
            improvement) then searches for the Pareto front of ``objective`` and
            these; ``evaluate`` must return each, finite. ``objective`` stays the
            first (the one ``ax-ext tune`` prints the best value of).
    """

    name: str
    parameters: Sequence[Any]
    objective: str
    minimize: bool
    evaluate: Callable[[dict[str, Any], int], dict[str, Any]]
    description: str = ""
    optimum: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    other_objectives: Mapping[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.other_objectives, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, bool)
            for k, v in self.other_objectives.items()
        ):
            raise _user_input_error(
                "Expected other_objectives to map metric names to minimize (True or False), "
                f"got {_short(self.other_objectives)} for problem {self.name!r}."
            )
        if self.objective in self.other_objectives:
            raise _user_input_error(
                f"Expected other_objectives without the objective {self.objective!r}, got "
                f"{sorted(self.other_objectives)!r} for problem {self.name!r}. List each "
                "objective once."
            )
        for name in self.objectives:
            if name == CURVES_KEY:
                raise _user_input_error(
                    f"Expected an objective name other than {CURVES_KEY!r}, which is "
                    f"reserved for training curves, got {name!r} for problem "
                    f"{self.name!r}. Rename the metric."
                )

    @property
    def objectives(self) -> dict[str, bool]:
        """Every objective, ``{metric: minimize}``, ``objective`` first."""
        return {self.objective: self.minimize, **dict(self.other_objectives)}

    @property
    def objective_expression(self) -> str:
        """The objective(s) as Ax's ``Client.configure_optimization`` expects them.

        Example:
            >>> p = Problem("p", [], "loss", True, print, other_objectives={"acc": False})
            >>> p.objective_expression
            '-loss, acc'
        """
        return ", ".join(f"-{n}" if m else n for n, m in self.objectives.items())

    @property
    def parameter_names(self) -> list[str]:
        """The names of the search space's parameters."""
        return [p.name for p in self.parameters]


_CURVES_EXAMPLE = "{'val_loss': 0.3, 'curves': {'val_loss': [0.9, 0.5, 0.3]}}"


def split_result(result: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Split an evaluation's result into its scalar metrics and its training curves.

    The curves are the value of the reserved key :data:`CURVES_KEY` (``"curves"``):
    a dict mapping curve names (non-empty strings, e.g. ``"train_loss"``,
    ``"val_loss"``) to sequences of real numbers (lists, tuples, 1-D NumPy arrays
    or tensors), one per epoch or step, in order. Curves may differ in length;
    non-finite values (a diverging run) are kept as ``nan``/``inf``. The scalar
    metrics are returned untouched.

    Args:
        result: What a problem's ``evaluate`` returned.

    Returns:
        ``(metrics, curves)``: the result without ``"curves"``, and the curves as
        ``{name: [float, ...]}`` (``{}`` when the result has none).

    Raises:
        UserInputError: If ``"curves"`` is not a dict of non-empty string names to
            1-D sequences of real numbers; the message names the offending curve.

    Example:
        >>> metrics, curves = split_result({"loss": 0.3, "curves": {"loss": (0.9, 0.5, 0.3)}})
        >>> metrics, curves
        ({'loss': 0.3}, {'loss': [0.9, 0.5, 0.3]})
        >>> split_result({"loss": 0.3})
        ({'loss': 0.3}, {})
    """
    metrics = {k: v for k, v in result.items() if k != CURVES_KEY}
    if CURVES_KEY not in result:
        return metrics, {}
    raw = result[CURVES_KEY]
    if not isinstance(raw, Mapping):
        raise _user_input_error(
            f"Expected result[{CURVES_KEY!r}] to be a dict mapping curve names to lists of "
            f"numbers (one per epoch or step), got {type(raw).__name__} {_short(raw)}. "
            f"Return e.g. {_CURVES_EXAMPLE}, or leave {CURVES_KEY!r} out."
        )
    curves: dict[str, list[float]] = {}
    for name, values in raw.items():
        if not isinstance(name, str) or not name:
            raise _user_input_error(
                f"Expected the curve names in result[{CURVES_KEY!r}] to be non-empty "
                f"strings, got {name!r}. Return e.g. {_CURVES_EXAMPLE}."
            )
        curves[name] = _curve_values(name, values)
    return metrics, curves


def _curve_values(name: str, values: Any) -> list[float]:
    if hasattr(values, "tolist") and not isinstance(values, list | tuple):
        values = values.tolist()  # NumPy arrays, PyTorch tensors
    ok = isinstance(values, list | tuple) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values
    )
    if not ok:
        raise _user_input_error(
            f"Expected result[{CURVES_KEY!r}][{name!r}] to be a list of real numbers (one "
            f"per epoch or step; nan and inf are allowed), got {type(values).__name__} "
            f"{_short(values)}. Return e.g. {_CURVES_EXAMPLE}."
        )
    return [float(v) for v in values]


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _user_input_error(message: str) -> Exception:
    # imported here: importing Ax takes seconds, and Dask workers that unpickle an
    # evaluation function import this module without needing Ax
    from ax.exceptions.core import UserInputError

    return UserInputError(message)
