"""Ax's own analyses on the report's fitted model (private to the runner).

:func:`model_adapter` builds an Ax ``TorchAdapter`` from the study's BO node
(its transforms, its ``ScalarChoiceGP`` config) and loads the hyperparameters of
the report's one full fit into it through Ax's no-refit path
(``BoTorchGenerator.fit(state_dict=..., refit=False)``, the one Ax's own
cross-validation uses): nothing is fitted again. Ax's ``SlicePlot``,
``ContourPlot`` and sobol sensitivity (``ax_parameter_sens``) then draw and
rank from the same model the expression and the cross-validation show.

The report's model sees scalar columns scaled to the trials' range; the
adapter's sees them scaled to the search space's bounds (the same warped space:
log10 for log-scale parameters). A lengthscale in the first is the same kernel
in the second times the trials' share of the bounds, so the scalar lengthscales
are rescaled by that factor; everything else is copied as is. Before any chart
is drawn, the adapter's predictions at the trials are checked against the
report's model's: if they differ (a study whose strategy is not ax_ext's, a
changed encoding), :func:`model_adapter` returns ``None`` and says why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)

#: Ax's Monte Carlo samples per sobol index (Ax's ``SensitivityAnalysisPlot`` uses 10 000).
SENSITIVITY_SAMPLES = 1024
#: How far (in standard deviations of the observations) the adapter's predictions at
#: the trials may differ from the report's model's before its charts are withheld.
PREDICTION_TOLERANCE = 1e-5


def _bo_spec(client: Any) -> Any:
    """The generator spec of the strategy's last node, if it fits a ``ScalarChoiceGP``."""
    from ax_ext.models import ScalarChoiceGP

    strategy = getattr(client, "_maybe_generation_strategy", None)
    for node in reversed(getattr(strategy, "_nodes", None) or []):
        for spec in node.generator_specs:
            surrogate_spec = spec.generator_kwargs.get("surrogate_spec")
            configs = getattr(surrogate_spec, "model_configs", None) or []
            if any(c.botorch_model_class is ScalarChoiceGP for c in configs):
                return spec
    return None


def _state_dict(template: Any, model: Any) -> dict[str, Any] | str:
    """``template``'s state with ``model``'s hyperparameters (scalar lengthscales rescaled)."""
    state = template.state_dict()
    source = model.state_dict()
    skip = ("input_transform", "outcome_transform")
    for key, value in state.items():
        if key.startswith(skip):
            continue
        if key not in source or source[key].shape != value.shape:
            return f"the fitted model has no {key!r} of shape {tuple(value.shape)}"
        state[key] = source[key].clone()
    coefficient = getattr(getattr(model, "input_transform", None), "_coefficient", None)
    if coefficient is None:
        return "the fitted model has no Normalize input transform"
    kernel = model.covar_module
    for name in ("factorized_scalar_lengthscale", "joint_scalar_lengthscale"):
        raw = getattr(kernel, f"raw_{name}", None)
        if raw is None:
            continue
        constraint = getattr(kernel, f"raw_{name}_constraint")
        scaled = constraint.transform(raw.detach()) * coefficient.to(raw)
        state[f"covar_module.raw_{name}"] = constraint.inverse_transform(scaled)
    return state


def model_adapter(client: Any, cv: Any, model: Any) -> tuple[Any, str]:
    """An Ax ``TorchAdapter`` predicting with ``model``'s hyperparameters, not refitted.

    Args:
        client: The study's ``Client`` (its experiment and generation strategy).
        cv: The report's ``AxCrossValidationResult`` (the trials ``model`` was fitted to).
        model: The report's full fit (``ScalarChoiceGP``).

    Returns:
        ``(adapter, "")``, or ``(None, reason)`` when the charts cannot be drawn
        from this model.
    """
    import torch
    from ax.core.objective import Objective
    from ax.core.observation import ObservationFeatures
    from ax.core.optimization_config import OptimizationConfig
    from ax.generators.torch.botorch_modular.surrogate import (
        Surrogate,
        submodel_input_constructor,
    )
    from ax.generators.torch.botorch_modular.utils import copy_model_config_with_default_values

    from ax_ext.adapter import get_experiment

    spec = _bo_spec(client)
    if spec is None:
        return None, "the study's generation strategy has no ScalarChoiceGP node"
    experiment = get_experiment(client)
    data = experiment.lookup_data()
    # the adapter models this metric only (one outcome: a multi-objective study's BO
    # node models every objective at once)
    metric = experiment.metrics[cv.metric_name]
    minimize = bool(cv.minimize if cv.minimize is not None else metric.lower_is_better)
    config = OptimizationConfig(
        objective=Objective(
            expression=f"-{metric.name}" if minimize else metric.name,
            metric_name_to_signature={metric.name: metric.signature},
        )
    )
    try:
        spec.fit(
            experiment=experiment,
            data=data,
            fit_on_init=False,
            optimization_config=config,
            fit_tracking_metrics=False,
        )
        adapter = spec.fitted_adapter
        experiment_data, search_space = adapter._process_and_transform_data(
            experiment=experiment, data=data
        )
        datasets, metadata, digest = adapter._get_fit_args(
            search_space=search_space,
            experiment_data=experiment_data,
            update_outcomes_and_parameters=True,
        )
        generator = adapter.generator
        index = [d.outcome_names for d in datasets].index([cv.metric_name])
        config = copy_model_config_with_default_values(
            model_config=generator.surrogate_spec.model_configs[0],
            dataset=datasets[index],
            search_space_digest=digest,
        )
        inputs = submodel_input_constructor(
            config.botorch_model_class,
            model_config=config,
            dataset=datasets[index],
            search_space_digest=digest,
            surrogate=Surrogate(surrogate_spec=generator.surrogate_spec),
        )
        template = config.botorch_model_class(**inputs)
    except Exception as e:  # a strategy or study this path does not cover
        logger.info("No Ax adapter for the report's model: %s", e, exc_info=True)
        return None, f"Ax could not set up the BO node's model ({type(e).__name__}: {e})"
    if len(datasets) != 1:
        return None, f"the BO node models {len(datasets)} outcomes; the report one"
    if list(getattr(template, "feature_names", [])) != list(cv.feature_names):
        return None, (
            f"the BO node's features {getattr(template, 'feature_names', None)!r} differ from "
            f"the fitted model's {list(cv.feature_names)!r}"
        )
    state = _state_dict(template, model)
    if isinstance(state, str):
        return None, state
    generator.fit(
        datasets=datasets,
        search_space_digest=digest,
        candidate_metadata=metadata,
        state_dict=state,
        refit=False,
    )
    features = [ObservationFeatures(parameters=dict(p)) for p in cv.parameters]
    predicted, _ = adapter.predict(features)
    with torch.no_grad():
        expected = model.posterior(cv.train_X).mean.reshape(-1)
    got = torch.tensor(predicted[cv.metric_name], dtype=expected.dtype)
    scale = float(cv.observed.std()) or 1.0
    gap = float((got - expected).abs().max()) / scale
    if not math.isfinite(gap) or gap > PREDICTION_TOLERANCE:
        return None, (
            f"Ax's adapter predicts the trials {gap:.3g} standard deviations away from the "
            "fitted model (the study's BO node transforms the data differently)"
        )
    return adapter, ""


def sensitivity(adapter: Any, metric: str) -> dict[str, float]:
    """Ax's total-order sobol indices of ``metric``, as shares summing to 1, largest first.

    Unordered choices keep Ax's name (``"optimizer (unordered)"``) folded back to
    the parameter's name.
    """
    from ax.utils.sensitivity.sobol_measures import ax_parameter_sens

    from ax_ext.generation import UNORDERED_SUFFIX

    indices = ax_parameter_sens(
        adapter,
        metrics=[metric],
        order="total",
        signed=False,
        num_mc_samples=SENSITIVITY_SAMPLES,
    )[metric]
    shares: dict[str, float] = {}
    for name, value in indices.items():
        key = str(name).removesuffix(UNORDERED_SUFFIX)
        shares[key] = shares.get(key, 0.0) + abs(float(value))
    total = sum(shares.values()) or 1.0
    return dict(sorted(((k, v / total) for k, v in shares.items()), key=lambda kv: -kv[1]))


def surface_parameters(
    experiment: Any, ranking: Sequence[str], n_slices: int = 3
) -> tuple[list[str], tuple[str, str] | None]:
    """The parameters to slice (range or ordered choice, most important first) and the
    top pair of range parameters to contour."""
    from ax.core.parameter import ChoiceParameter, RangeParameter

    parameters = experiment.search_space.parameters
    sliceable = [
        n
        for n in ranking
        if isinstance(parameters.get(n), RangeParameter)
        or (isinstance(parameters.get(n), ChoiceParameter) and parameters[n].is_ordered)
    ]
    ranged = [n for n in ranking if isinstance(parameters.get(n), RangeParameter)]
    return sliceable[:n_slices], (ranged[0], ranged[1]) if len(ranged) >= 2 else None


def surface_figures(
    experiment: Any, adapter: Any, metric: str, ranking: Sequence[str], suffix: str = ""
) -> Mapping[str, Any]:
    """Ax's slice plots of the top parameters and the contour of the top range pair.

    Returns:
        ``{div_id: (title, figure)}`` in page order.
    """
    from ax.analysis.plotly.surface.contour import ContourPlot
    from ax.analysis.plotly.surface.slice import SlicePlot

    slices, pair = surface_parameters(experiment, ranking)
    analyses = [(f"chart-slice-{i}{suffix}", SlicePlot(n, metric)) for i, n in enumerate(slices)]
    if pair is not None:
        analyses.append((f"chart-contour{suffix}", ContourPlot(pair[0], pair[1], metric)))
    out = {}
    for div_id, analysis in analyses:
        card = analysis.compute(experiment=experiment, adapter=adapter)
        out[div_id] = (card.title, card.get_figure())
    return out
