r"""Refit cross-validation of an Ax experiment's data, in the metric's original units.

The experiment's completed trials are encoded into a model space like the one
Ax's Bayesian optimization uses (see :func:`ax_ext.adapter.encode_search_space`),
the model is cross-validated with
:func:`~ax_ext.cross_validation.loo_cross_validation`, and the predictions are
reported per trial, with the trial's index, arm name and parameters, in the units
the metric was reported in.

Ax is imported when these functions run, not when this module is imported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from botorch.models.model import Model
from torch import Tensor

from ax_ext.adapter.encoding import SearchSpaceEncoding, encode_search_space
from ax_ext.adapter.experiment import (
    ExcludedTrial,
    default_metric_name,
    experiment_data,
    get_experiment,
    objective_minimizes,
)
from ax_ext.cross_validation._outcome import model_data
from ax_ext.cross_validation.loo import CrossValidationResult, loo_cross_validation
from ax_ext.fit import fit_gpytorch_mll
from ax_ext.models import ScalarChoiceGP
from ax_ext.models.outcome import OutcomeTreatment, TreatedOutcomes

__all__ = ["AxCrossValidationResult", "ax_cross_validation"]


@dataclass
class AxCrossValidationResult(CrossValidationResult):
    """A :class:`CrossValidationResult` of an Ax experiment, one point per trial arm.

    ``observed``, ``mean`` and ``std`` are in the metric's original units (as
    reported to Ax; Ax's own cross-validation reports standardized values unless
    asked to untransform), after the outcome treatment: a value clipped to the
    Tukey fence is ``observed`` at the fence (``reported`` keeps what was reported).

    Attributes:
        metric_name: The cross-validated metric.
        trial_index: The trial index of each point.
        arm_name: The arm name of each point.
        parameters: The arm parameters of each point (Ax's values, not encoded).
        feature_names: Names of the model's ``d`` input columns.
        train_X: The ``n x d`` encoded inputs the model saw.
        excluded: Trials and arms left out of the fit, with reasons.
        minimize: Whether the experiment minimizes the metric (``None`` if the
            metric is not an objective).
        encoding: The :class:`SearchSpaceEncoding` used.
        reported: The values as reported, one per point (``observed`` before the
            treatment).
        treated: The :class:`~ax_ext.models.outcome.TreatedOutcomes` (``None``
            without a treatment).
        imputed: The failed trials fitted at the imputed value (in every fold's
            training set, never held out).
    """

    metric_name: str = ""
    trial_index: list[int] = field(default_factory=list)
    arm_name: list[str] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    train_X: Tensor | None = None
    excluded: list[ExcludedTrial] = field(default_factory=list)
    minimize: bool | None = None
    encoding: SearchSpaceEncoding | None = None
    reported: Tensor | None = None
    treated: TreatedOutcomes | None = None
    imputed: list[ExcludedTrial] = field(default_factory=list)

    def to_dataframe(self) -> Any:
        """One row per point: ``trial_index, arm_name, fold, observed, mean, std`` and
        one column per parameter (prefixed ``param_`` if the name is taken)."""
        df = super().to_dataframe()
        df.insert(0, "arm_name", self.arm_name)
        df.insert(0, "trial_index", self.trial_index)
        names = list(dict.fromkeys(k for p in self.parameters for k in p))
        for name in names:
            column = name if name not in df.columns else f"param_{name}"
            df[column] = [p.get(name) for p in self.parameters]
        return df

    def excluded_dataframe(self) -> Any:
        """The excluded trials as a ``pandas.DataFrame``: ``trial_index, arm_name, reason``."""
        import pandas as pd

        return pd.DataFrame(
            [vars(e) for e in self.excluded], columns=["trial_index", "arm_name", "reason"]
        )


def ax_cross_validation(
    experiment_or_client: Any,
    metric_name: str | None = None,
    *,
    model_cls: type[Model] = ScalarChoiceGP,
    folds: int | None = None,
    refit: bool = True,
    warm_start: bool | str = "full",
    fit: Callable[..., Any] = fit_gpytorch_mll,
    fit_kwargs: dict[str, Any] | None = None,
    model_kwargs: dict[str, Any] | None = None,
    observation_noise: bool = True,
    use_sem: bool = True,
    trial_indices: Sequence[int] | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    outcome: OutcomeTreatment | None = OutcomeTreatment(),  # noqa: B008  (frozen)
) -> AxCrossValidationResult:
    r"""Cross-validate a model on an Ax experiment's data, refitting every fold.

    Completed trials with a finite value of the metric are encoded as Ax's BO
    would (:func:`encode_search_space`: range parameters scaled to [0, 1], log-scale
    ones in log10 space, unordered choices one-hot, fixed parameters dropped) and
    passed to :func:`~ax_ext.cross_validation.loo_cross_validation`. Observations
    go through ``outcome``, the treatment the BO node of
    :func:`~ax_ext.generation.sobol_then_bo` applies (diverged values clipped to
    the Tukey fence, failed trials imputed at a bad value and kept in every fold's
    training set), and are modelled in their original units (the model
    standardizes them itself, as ``ScalarChoiceGP`` and ``SingleTaskGP`` do by
    default), so ``observed``, ``mean`` and ``std`` are in the metric's units.
    Abandoned, still running (and, without imputation, failed and NaN) trials are
    listed in ``excluded``.

    Args:
        experiment_or_client: An ``ax.core.experiment.Experiment`` or an
            ``ax.api.client.Client`` with an experiment.
        metric_name: The metric to cross-validate; default the objective's metric.
        model_cls: A BoTorch model class. ``scalar_dims``, ``choice_dims`` and
            ``feature_names`` are passed to it when its constructor takes them
            (``ScalarChoiceGP`` does) and ``model_kwargs`` does not set them.
        folds: ``None`` for leave-one-out, else the number of folds.
        refit: Refit every fold's hyperparameters (default), else reuse the
            full-data fit's.
        warm_start: ``"full"`` (default): start every fold from the full-data
            fit, as Ax's refit cross-validation does (``warm_start_refit=True``);
            ``True``: also from the default initialization, keeping the better
            optimum (2-3x slower, rarely different); ``False``: cold starts only.
            See ``loo_cross_validation``.
        fit: The fitting routine (ax_ext's ``fit_gpytorch_mll`` by default).
        fit_kwargs: Extra keyword arguments for ``fit``.
        model_kwargs: Extra keyword arguments for ``model_cls``.
        observation_noise: Include observation noise in the predictive std.
        use_sem: If every used observation has a finite standard error, pass
            ``sem**2`` as ``train_Yvar`` (fixed noise, as Ax does); otherwise the
            noise is inferred.
        trial_indices: Only use these trials (e.g. a prefix, for learning curves).
        seed: Seed of the k-fold assignment.
        dtype: Floating point type of the model data.
        outcome: The :class:`~ax_ext.models.outcome.OutcomeTreatment` (default:
            the strategy's default); ``None`` fits the values as reported and
            drops failed trials.

    Returns:
        An :class:`AxCrossValidationResult`.

    Raises:
        UserInputError: If fewer than 2 usable trials remain, or the metric is
            unknown.

    Example:
        >>> from ax.api.client import Client
        >>> from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
        >>> client = Client(random_seed=0)
        >>> client.configure_experiment(parameters=[
        ...     RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0)),
        ...     ChoiceParameterConfig(name="c", parameter_type="str", values=["a", "b", "c"]),
        ... ])
        >>> client.configure_optimization(objective="-loss")
        >>> client.configure_generation_strategy(method="random_search")
        >>> for i, p in client.get_next_trials(max_trials=6).items():
        ...     _ = client.complete_trial(i, raw_data={"loss": p["x"] + (p["c"] == "b")})
        >>> fast = {"optimizer_kwargs": {"options": {"maxiter": 20}}}
        >>> res = ax_cross_validation(client, fit_kwargs=fast)
        >>> res.metric_name, res.feature_names, len(res.trial_index)
        ('loss', ['x', 'c=a', 'c=b', 'c=c'], 6)
    """
    from ax.exceptions.core import UserInputError

    experiment = get_experiment(experiment_or_client)
    if metric_name is None:
        metric_name = default_metric_name(experiment)
    elif metric_name not in experiment.metrics:
        raise UserInputError(
            f"Expected metric_name to be one of {sorted(experiment.metrics)!r}, got "
            f"{metric_name!r}."
        )
    encoding = encode_search_space(experiment.search_space)
    rows, excluded, failed = experiment_data(experiment, metric_name)
    if trial_indices is not None:
        keep = set(trial_indices)
        rows = [r for r in rows if r.trial_index in keep]
        failed = [r for r in failed if r.trial_index in keep]
    if len(rows) < 2:
        raise UserInputError(
            f"Cross-validation needs at least 2 completed trials with finite "
            f"{metric_name!r}, got {len(rows)} (excluded: "
            f"{[(e.trial_index, e.reason) for e in excluded]!r}). Complete more trials."
        )
    minimize = objective_minimizes(experiment, metric_name)
    data = model_data(rows, failed, encoding.encode, outcome, minimize, use_sem, dtype)
    imputed = {(r.trial_index, r.arm_name) for r in data.imputed_rows}
    kwargs = dict(model_kwargs or {})
    accepted = inspect.signature(model_cls).parameters
    defaults = {
        "scalar_dims": encoding.scalar_dims,
        "choice_dims": encoding.choice_dims,
        "feature_names": encoding.feature_names,
    }
    if not ({"scalar_dims", "choice_dims"} & set(kwargs)):
        for key, value in defaults.items():
            if key in accepted and key not in kwargs:
                kwargs[key] = value
    res = loo_cross_validation(
        model_cls,
        data.X,
        data.Y,
        data.Yvar,
        folds=folds,
        refit=refit,
        warm_start=warm_start,
        fit=fit,
        fit_kwargs=fit_kwargs,
        model_kwargs=kwargs,
        observation_noise=observation_noise,
        seed=seed,
        holdout=data.holdout,
    )
    return AxCrossValidationResult(
        **{f: getattr(res, f) for f in res.__dataclass_fields__},
        metric_name=metric_name,
        trial_index=[r.trial_index for r in rows],
        arm_name=[r.arm_name for r in rows],
        parameters=[r.parameters for r in rows],
        feature_names=list(encoding.feature_names),
        train_X=data.X[: len(rows)],
        excluded=[e for e in excluded if (e.trial_index, e.arm_name) not in imputed],
        minimize=minimize,
        encoding=encoding,
        reported=data.reported,
        treated=data.treated,
        imputed=[e for e in excluded if (e.trial_index, e.arm_name) in imputed],
    )
