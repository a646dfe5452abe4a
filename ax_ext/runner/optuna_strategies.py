"""Optuna's samplers as ``ax-ext compare`` strategies (``optuna-tpe``, ``optuna-gp``).

Optuna is an optional dependency (``pip install 'ax-ext[bench]'``); this module
imports it only when a study runs, and :func:`require_optuna` says how to install
it when it is missing.

A problem's Ax search space maps onto Optuna distributions one to one
(:func:`optuna_distributions`): a float range is a ``FloatDistribution`` (``log``
for ``scaling="log"``, ``step`` for a ``step_size``), an int range an
``IntDistribution``, a choice a ``CategoricalDistribution`` of its values
(ordered or not: Optuna has no ordered categorical).

:func:`OptunaRun` asks Optuna for one trial at a time (``Study.ask`` with the
problem's distributions, so the sampler's whole work happens inside that call,
which is what the comparison times), attaches the parameters to an Ax ``Client``
and records the evaluation there exactly as the Ax strategies' trials are
recorded (:func:`~ax_ext.runner._recording.record_result`), then tells Optuna the
objective (or ``FAIL``).
"""

from __future__ import annotations

import logging
from typing import Any

from ax.exceptions.core import UserInputError

from ax_ext.runner.problem import Problem

__all__ = ["OPTUNA_STRATEGIES", "OptunaRun", "optuna_distributions", "require_optuna"]

#: The Optuna strategy names and their samplers.
OPTUNA_STRATEGIES = {"optuna-tpe": "TPESampler", "optuna-gp": "GPSampler"}


def require_optuna(strategy: str) -> Any:
    """Import Optuna for ``strategy``, or raise ``UserInputError`` saying how to install it.

    Returns:
        The ``optuna`` module.
    """
    try:
        import optuna
    except ImportError as e:
        raise UserInputError(
            f"Expected Optuna to be installed for strategy {strategy!r}, but importing it "
            f"failed ({e}). Install it with `pip install 'ax-ext[bench]'` (or `pip install "
            "optuna`), or choose the strategies ax_ext, ax-default and sobol."
        ) from e
    return optuna


def optuna_distributions(problem: Problem) -> dict[str, Any]:
    """The Optuna distributions of a problem's Ax parameters, by name.

    Raises:
        UserInputError: For a parameter that is neither an Ax ``RangeParameterConfig``
            nor a ``ChoiceParameterConfig``.

    Example:
        >>> from ax_ext.runner import get_problem
        >>> dists = optuna_distributions(get_problem("synthetic"))
        >>> dists["lr"].log, dists["depth"].low, dists["kernel"].choices
        (True, 1, ('linear', 'rbf', 'poly'))
    """
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for p in problem.parameters:
        if isinstance(p, ChoiceParameterConfig):
            out[p.name] = CategoricalDistribution(list(p.values))
        elif isinstance(p, RangeParameterConfig):
            low, high = p.bounds
            log = str(getattr(p.scaling, "value", p.scaling)).lower() == "log"
            kind = str(getattr(p.parameter_type, "value", p.parameter_type)).lower()
            if kind == "int":
                step = int(p.step_size) if p.step_size else 1
                out[p.name] = IntDistribution(int(low), int(high), log=log, step=step)
            else:
                step = None if log else p.step_size
                out[p.name] = FloatDistribution(float(low), float(high), log=log, step=step)
        else:
            raise UserInputError(
                f"Expected Ax RangeParameterConfig or ChoiceParameterConfig parameters for "
                f"the Optuna strategies, got {type(p).__name__} for {p.name!r} in problem "
                f"{problem.name!r}. Use the Ax strategies for this problem."
            )
    return out


class OptunaRun:
    """One seeded Optuna study over a problem's search space, asked one trial at a time.

    Args:
        problem: The problem (its parameters define the distributions).
        strategy: ``"optuna-tpe"`` (``TPESampler``) or ``"optuna-gp"`` (``GPSampler``).
        seed: The sampler's seed.

    Raises:
        UserInputError: If Optuna is not installed or ``strategy`` is unknown.
    """

    def __init__(self, problem: Problem, strategy: str, seed: int) -> None:
        if strategy not in OPTUNA_STRATEGIES:
            raise UserInputError(
                f"Expected an Optuna strategy from {list(OPTUNA_STRATEGIES)}, got {strategy!r}."
            )
        optuna = require_optuna(strategy)
        sampler_cls = getattr(optuna.samplers, OPTUNA_STRATEGIES[strategy])
        self.sampler = sampler_cls(seed=seed)
        self.distributions = optuna_distributions(problem)
        direction = "minimize" if problem.minimize else "maximize"
        self._optuna = optuna
        self._logger = logging.getLogger("optuna")
        with self._quiet():
            self.study = optuna.create_study(direction=direction, sampler=self.sampler)
        self._pending: Any = None

    def _quiet(self) -> Any:
        """Optuna's per-trial INFO lines off for the duration (restored afterwards)."""
        from contextlib import contextmanager

        @contextmanager
        def quiet():
            previous = self._optuna.logging.get_verbosity()
            self._optuna.logging.set_verbosity(self._optuna.logging.WARNING)
            try:
                yield
            finally:
                self._optuna.logging.set_verbosity(previous)

        return quiet()

    def ask(self) -> dict[str, Any]:
        """The next trial's parameters (a plain dict of the problem's parameter values)."""
        with self._quiet():
            self._pending = self.study.ask(self.distributions)
        return dict(self._pending.params)

    def node(self) -> str:
        """Which part of the sampler proposed the last trial: ``"startup"`` or its class name."""
        startup = getattr(self.sampler, "_n_startup_trials", 0)
        return "startup" if self._pending.number < startup else type(self.sampler).__name__

    def tell(self, value: float | None) -> None:
        """Report the last trial's objective value, or ``None`` for a failed trial."""
        with self._quiet():
            if value is None:
                self.study.tell(self._pending, state=self._optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(self._pending, value)
        self._pending = None
