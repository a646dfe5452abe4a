r"""Refit cross-validation of an Ax experiment's data, in the metric's original units.

The experiment's completed trials are encoded into a model space like the one
Ax's Bayesian optimization uses (see :func:`encode_search_space`), the model is
cross-validated with :func:`~ax_ext.cross_validation.loo_cross_validation`, and
the predictions are reported per trial, with the trial's index, arm name and
parameters, in the units the metric was reported in.

Ax is imported when these functions run, not when this module is imported.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from botorch.models.model import Model
from torch import Tensor

from ax_ext.cross_validation._outcome import model_data
from ax_ext.cross_validation.loo import CrossValidationResult, loo_cross_validation
from ax_ext.fit import fit_gpytorch_mll
from ax_ext.models import ScalarChoiceGP
from ax_ext.models.outcome import OutcomeTreatment, TreatedOutcomes

__all__ = [
    "AxCrossValidationResult",
    "ExcludedTrial",
    "SearchSpaceEncoding",
    "TrialRow",
    "ax_cross_validation",
    "default_metric_name",
    "encode_search_space",
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


@dataclass
class SearchSpaceEncoding:
    r"""How an Ax search space maps to model features.

    Range parameters and ordered choice parameters become one column each,
    scaled to [0, 1] by the parameter's bounds (in log10 space for log-scale
    parameters, in logit space for logit-scale ones; ordered non-numeric choices
    by their position, booleans as 0 / 1). Unordered choice parameters become
    one-hot columns named ``"name=value"`` (Ax makes every two-valued choice
    ordered, so those get one 0 / 1 column). Fixed parameters are dropped. This is
    what Ax's ``Generators.BOTORCH_MODULAR`` does (``Log``, ``OneHot``,
    ``UnitX``, ``RemoveFixed`` transforms), with readable column names.

    Attributes:
        feature_names: The ``d`` column names.
        scalar_dims: Columns of range and ordered choice parameters.
        choice_dims: One-hot columns of unordered choice parameters.
        column_parameter: The Ax parameter behind each column.
        scale: ``"linear"``, ``"log"`` or ``"logit"`` per parameter with a scalar
            column (``"ordinal"`` for ordered non-numeric choices), ``"one-hot"``
            for unordered choices.
    """

    feature_names: list[str]
    scalar_dims: list[int]
    choice_dims: list[int]
    column_parameter: list[str]
    scale: dict[str, str]
    _encoders: list[tuple[str, Callable[[Any], list[float]]]] = field(repr=False)

    def encode(self, parameters: Mapping[str, Any]) -> list[float]:
        """The ``d`` features of one arm's parameters.

        Raises:
            UserInputError: If a (non-fixed) parameter is missing or has a value
                outside the search space's choices.
        """
        from ax.exceptions.core import UserInputError

        row: list[float] = []
        for name, encoder in self._encoders:
            if name not in parameters or parameters[name] is None:
                raise UserInputError(
                    f"Expected a value of parameter {name!r} in every arm, got parameters "
                    f"{dict(parameters)!r}. Hierarchical search spaces are not supported: "
                    "cross-validate the arms of one sub-space at a time."
                )
            row.extend(encoder(parameters[name]))
        return row


def _unit(lo: float, hi: float) -> Callable[[float], float]:
    width = hi - lo
    return (lambda v: 0.0) if width == 0 else (lambda v: (v - lo) / width)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def encode_search_space(search_space: Any) -> SearchSpaceEncoding:
    """The model-space encoding of an Ax ``SearchSpace``.

    Args:
        search_space: An ``ax.core.search_space.SearchSpace``.

    Returns:
        A :class:`SearchSpaceEncoding`.

    Raises:
        UnsupportedError: For parameter types other than range, choice and fixed
            (e.g. derived parameters).

    Example:
        >>> from ax.core.parameter import ChoiceParameter, ParameterType, RangeParameter
        >>> from ax.core.search_space import SearchSpace
        >>> space = SearchSpace([
        ...     RangeParameter("lr", ParameterType.FLOAT, 1e-4, 1e-1, log_scale=True),
        ...     ChoiceParameter(
        ...         "opt", ParameterType.STRING, ["adam", "sgd", "rmsprop"], is_ordered=False
        ...     ),
        ... ])
        >>> enc = encode_search_space(space)
        >>> enc.feature_names, enc.scalar_dims, enc.choice_dims
        (['lr', 'opt=adam', 'opt=sgd', 'opt=rmsprop'], [0], [1, 2, 3])
        >>> [round(v, 6) for v in enc.encode({"lr": 1e-2, "opt": "sgd"})]
        [0.666667, 0.0, 1.0, 0.0]
    """
    from ax.core.parameter import ChoiceParameter, FixedParameter, RangeParameter
    from ax.exceptions.core import UnsupportedError

    names: list[str] = []
    scalar: list[int] = []
    choice: list[int] = []
    column_parameter: list[str] = []
    scale: dict[str, str] = {}
    encoders: list[tuple[str, Callable[[Any], list[float]]]] = []

    def add_scalar(name: str, encoder: Callable[[Any], float], kind: str) -> None:
        scalar.append(len(names))
        names.append(name)
        column_parameter.append(name)
        scale[name] = kind
        encoders.append((name, lambda v: [encoder(v)]))

    for name, p in search_space.parameters.items():
        if isinstance(p, FixedParameter):
            continue
        if isinstance(p, RangeParameter):
            lo, hi = float(p.lower), float(p.upper)
            if p.log_scale:
                unit = _unit(math.log10(lo), math.log10(hi))
                add_scalar(name, lambda v, u=unit: u(math.log10(float(v))), "log")
            elif getattr(p, "logit_scale", False):
                unit = _unit(_logit(lo), _logit(hi))
                add_scalar(name, lambda v, u=unit: u(_logit(float(v))), "logit")
            else:
                unit = _unit(lo, hi)
                add_scalar(name, lambda v, u=unit: u(float(v)), "linear")
        elif isinstance(p, ChoiceParameter):
            values = list(p.values)
            if p.is_ordered:
                if all(isinstance(v, bool) for v in values):
                    add_scalar(name, lambda v: float(bool(v)), "linear")
                elif all(isinstance(v, int | float) for v in values):
                    log = bool(getattr(p, "log_scale", False)) and min(values) > 0
                    f = (lambda v: math.log10(float(v))) if log else float
                    unit = _unit(min(map(f, values)), max(map(f, values)))
                    add_scalar(name, lambda v, u=unit, f=f: u(f(v)), "log" if log else "linear")
                else:
                    position = {v: i for i, v in enumerate(values)}
                    unit = _unit(0.0, float(len(values) - 1))

                    def ordinal(v, u=unit, pos=position, n=name, vals=values):
                        return u(float(_lookup(pos, v, n, vals)))

                    add_scalar(name, ordinal, "ordinal")
            else:
                position = {v: i for i, v in enumerate(values)}
                for v in values:
                    choice.append(len(names))
                    names.append(f"{name}={v}")
                    column_parameter.append(name)
                scale[name] = "one-hot"

                def one_hot(v, pos=position, n=name, vals=values):
                    row = [0.0] * len(vals)
                    row[_lookup(pos, v, n, vals)] = 1.0
                    return row

                encoders.append((name, one_hot))
        else:
            raise UnsupportedError(
                f"Parameter {name!r} is a {type(p).__name__}; ax_cross_validation supports "
                "RangeParameter, ChoiceParameter and FixedParameter. Cross-validate on a "
                "search space without it, or encode the data yourself and call "
                "loo_cross_validation."
            )
    return SearchSpaceEncoding(names, scalar, choice, column_parameter, scale, encoders)


def _lookup(position: dict[Any, int], value: Any, name: str, values: list[Any]) -> int:
    from ax.exceptions.core import UserInputError

    if value in position and type(value) is type(values[position[value]]):
        return position[value]
    for v, i in position.items():  # e.g. 3.0 reported for the int choice 3, or "3" for 3
        if str(v) == str(value) or (isinstance(value, int | float) and v == value):
            return i
    raise UserInputError(
        f"Expected parameter {name!r} to be one of {values!r}, got {value!r}. Did the "
        "search space change after this trial ran?"
    )


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
