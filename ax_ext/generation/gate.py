"""A transition criterion: leave Sobol once the model predicts held-out trials well."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from ax.core.base_trial import TrialStatus
from ax.exceptions.core import UserInputError
from ax.generation_strategy.transition_criterion import TransitionCriterion

from ax_ext.models.outcome import OutcomeTreatment

if TYPE_CHECKING:
    from ax.core.experiment import Experiment
    from ax.generation_strategy.generation_node import GenerationNode

__all__ = ["LOOQualityGate"]

logger = logging.getLogger(__name__)

_CRITERIA = ("rank_correlation", "mean_log_predictive_density", "coverage_95")


class LOOQualityGate(TransitionCriterion):
    r"""Met when ``ScalarChoiceGP``'s leave-one-out prediction quality passes a threshold.

    On the completed trials with a finite value of the metric it runs refit
    leave-one-out cross-validation (:func:`ax_ext.cross_validation.ax_cross_validation`,
    every fold fitted by ax_ext's vectorized fitter, warm-started from the full-data
    fit) and compares a summary metric,
    by default the rank (Spearman) correlation between held-out predictions and
    observations, with ``threshold``. Results are cached per set of trials, so the
    cross-validation runs once per new completed trial. Every evaluation is logged
    at INFO; ``last_value``, ``last_num_trials`` and ``last_reason`` keep the latest.

    Args:
        transition_to: The node to go to when the criterion is met.
        threshold: The value the metric must reach.
        min_trials: Fewer completed trials than this never pass (nothing is fitted).
        metric_name: The metric to cross-validate; default the objective's metric
            (for several objectives, each must pass).
        criterion: ``"rank_correlation"`` (default), ``"mean_log_predictive_density"``
            or ``"coverage_95"``.
        model_kwargs: Keyword arguments for ``ScalarChoiceGP`` (e.g. the lengthscale
            prior strengths the BO node uses).
        outcome: The :meth:`~ax_ext.models.outcome.OutcomeTreatment.to_config` of
            the outcome treatment (the BO node's; default ``OutcomeTreatment()``'s):
            the gate judges the model the BO node would fit.
        continue_trial_generation: As in Ax's ``TransitionCriterion``.

    Example:
        >>> gate = LOOQualityGate(transition_to="BO", threshold=0.5, min_trials=8)
        >>> gate
        LOOQualityGate(rank_correlation >= 0.5 after 8 trials, to 'BO')
    """

    def __init__(
        self,
        transition_to: str,
        threshold: float = 0.5,
        min_trials: int = 5,
        metric_name: str | None = None,
        criterion: str = "rank_correlation",
        model_kwargs: dict[str, Any] | None = None,
        continue_trial_generation: bool | None = False,
        outcome: dict[str, Any] | None = None,
    ) -> None:

        if criterion not in _CRITERIA:
            raise UserInputError(f"Expected criterion to be one of {_CRITERIA}, got {criterion!r}.")
        if not isinstance(min_trials, int) or min_trials < 3:
            raise UserInputError(
                f"Expected min_trials to be an integer >= 3 (leave-one-out needs at least "
                f"3 trials to say anything), got {min_trials!r}."
            )
        if not math.isfinite(threshold):
            raise UserInputError(f"Expected a finite threshold, got {threshold!r}.")
        super().__init__(
            transition_to=transition_to, continue_trial_generation=continue_trial_generation
        )
        self.threshold = float(threshold)
        self.min_trials = min_trials
        self.metric_name = metric_name
        self.criterion = criterion
        self.model_kwargs = dict(model_kwargs or {})
        self.outcome = OutcomeTreatment.from_config(outcome).to_config()
        self.last_value: float | None = None
        self.last_num_trials: int = 0
        self.last_logged: int = -1
        self.last_reason: str = "not evaluated yet"
        self._cache: dict[tuple, float] = {}

    def __repr__(self) -> str:
        return (
            f"{self.criterion_class}({self.criterion} >= {self.threshold:g} after "
            f"{self.min_trials} trials, to {self.transition_to!r})"
        )

    def _metric_names(self, experiment: Experiment) -> list[str]:
        if self.metric_name is not None:
            return [self.metric_name]
        config = experiment.optimization_config
        if config is None:
            raise UserInputError(
                "LOOQualityGate needs the experiment's optimization config (to know which "
                "metric to cross-validate), but it has none. Configure the optimization "
                "or pass metric_name."
            )
        return list(config.objective.metric_names)

    def is_met(self, experiment: Experiment, curr_node: GenerationNode) -> bool:
        """Cross-validate on the completed trials and compare with the threshold."""
        from ax_ext.adapter import experiment_data
        from ax_ext.cross_validation import ax_cross_validation

        completed = experiment.trial_indices_by_status[TrialStatus.COMPLETED]
        values = []
        for name in self._metric_names(experiment):
            rows, _, failed = experiment_data(experiment, name)
            n = len(rows)
            self.last_num_trials = n
            if n < self.min_trials:
                self.last_reason = (
                    f"{n} completed trials with finite {name!r} (of {len(completed)} "
                    f"completed); the quality gate waits for {self.min_trials}"
                )
                logger.info("LOOQualityGate: %s.", self.last_reason)
                return False
            failures = tuple((r.trial_index, r.status) for r in failed)
            key = (name, tuple(sorted((r.trial_index, r.mean) for r in rows)), failures)
            if key not in self._cache:
                # folds warm-started from the full-data fit: on the small data sets a
                # gate sees, extra cold starts cost 10-20x more and change little
                result = ax_cross_validation(
                    experiment,
                    name,
                    model_kwargs=self.model_kwargs,
                    warm_start="full",
                    outcome=OutcomeTreatment.from_config(self.outcome),
                )
                if len(self._cache) > 16:
                    self._cache.clear()
                self._cache[key] = float(result.metrics[self.criterion])
            values.append(self._cache[key])
        value = min(values)
        changed = value != self.last_value or n != self.last_logged
        self.last_value = value
        self.last_logged = n
        met = value >= self.threshold
        self.last_reason = (
            f"leave-one-out {self.criterion} {value:.3f} on {self.last_num_trials} trials "
            f"{'>=' if met else '<'} threshold {self.threshold:g}"
        )
        # Ax asks several times per generated trial: log each new result once
        logger.log(
            logging.INFO if changed else logging.DEBUG,
            "LOOQualityGate: %s; %s.",
            self.last_reason,
            f"switching to {self.transition_to!r}" if met else "staying in this node",
        )
        return met
