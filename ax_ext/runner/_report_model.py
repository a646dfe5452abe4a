"""The model and cross-validation sections of ``ax-ext report`` (private to the runner).

One leave-one-out cross-validation (folds warm-started from the full fit) and
one full fit per report: the model is never fitted twice for the same data.
"""

from __future__ import annotations

import html
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from ax_ext.runner._report_parts import TrialInfo, _figure_html, _note

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------- model and CV


def _fit_full_model(cv: Any, experiment: Any, fit_kwargs: dict[str, Any] | None) -> Any:
    """``ScalarChoiceGP`` fitted to the trials ``cv`` used, encoded the same way."""
    import torch
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from ax_ext.adapter import experiment_data
    from ax_ext.fit import fit_gpytorch_mll
    from ax_ext.models import ScalarChoiceGP

    rows, _, _ = experiment_data(experiment, cv.metric_name)
    sem = {(r.trial_index, r.arm_name): r.sem for r in rows}
    X = cv.train_X
    Y = cv.observed.reshape(-1, 1).to(X)
    sems = torch.tensor([[sem[k]] for k in zip(cv.trial_index, cv.arm_name)], dtype=X.dtype)
    extra = {"train_Yvar": sems.square()} if bool(sems.isfinite().all()) else {}
    encoding = cv.encoding
    model = ScalarChoiceGP(
        X,
        Y,
        **extra,
        scalar_dims=encoding.scalar_dims,
        choice_dims=encoding.choice_dims,
        feature_names=encoding.feature_names,
    )
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **(fit_kwargs or {}))
    return model


def model_and_cv_sections(
    client: Any,
    completed: Sequence[TrialInfo],
    fit_kwargs: dict[str, Any] | None,
    metric: str | None = None,
    suffix: str = "",
) -> dict[str, tuple[str, str]]:
    """The ``"importance"``, ``"surfaces"``, ``"model"`` and ``"cross-validation"`` sections
    of ``metric`` (default the objective), chart ids ending in ``suffix``.

    One cross-validation and one full fit; the importance chart reads the full
    fit's expression, Ax's analyses its hyperparameters (no further fit)."""
    from ax_ext.adapter import get_experiment
    from ax_ext.cross_validation import ax_cross_validation
    from ax_ext.expressions import model_expression
    from ax_ext.plotting import fitting_trajectories, parameter_importance, predicted_vs_observed

    if len(completed) < 2:
        note = _note(
            f"Needs at least 2 completed trials with a finite objective value, the study has "
            f"{len(completed)}."
        )
        return dict.fromkeys(("model", "cross-validation", "importance", "surfaces"), ("", note))
    # folds warm-started from the full-data fit only (as Ax's cross-validation does):
    # on small studies, extra cold starts cost 10-20x more and change little
    cv = ax_cross_validation(client, metric_name=metric, fit_kwargs=fit_kwargs, warm_start="full")
    # the cross-validation's own full-data fit: the model is not fitted twice
    model = cv.full_model
    if model is None:
        model = _fit_full_model(cv, get_experiment(client), fit_kwargs)
    expression = model_expression(model)
    treatment = (
        "" if cv.treated is None else " Outcome treatment: " + cv.treated.describe(cv.reported)
    )
    model_html = (
        _note(
            f"ScalarChoiceGP fitted to the {len(cv.trial_index)} completed trials "
            f"{f'and {len(cv.imputed)} failed ones ' if cv.imputed else ''}"
            "(range parameters scaled to [0, 1], log-scale ones in log space, unordered "
            f"choices one-hot), as the BO node fits it.{treatment}"
        )
        + f'<div id="model-expression">{expression._repr_html_()}</div>'
    )
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in cv.metrics.items())
    cv_html = [
        _note(
            f"Leave-one-out cross-validation, every fold refitted: {metrics}. "
            f"{len(cv.excluded)} trials left out (running, abandoned or without a value to model)."
            f"{treatment} Values as the model sees them (clipped ones: triangles)."
        ),
        _figure_html(predicted_vs_observed(cv), f"chart-predicted-vs-observed{suffix}"),
    ]
    if cv.fold_fits:
        trajectories = fitting_trajectories(cv)
        cv_html.append(_figure_html(trajectories, f"chart-fitting-trajectories{suffix}"))
    else:
        cv_html.append(_note("No fitting trajectories: the fitter recorded no loss traces."))
    importance = parameter_importance(expression)
    lengthscale_reading = _importance_reading(importance.layout.meta)
    lengthscale_html = _figure_html(importance, f"chart-importance{suffix}")
    sections = {
        "model": (_model_reading(len(cv.trial_index)), model_html),
        "cross-validation": (_cv_reading(cv.metrics), "\n".join(cv_html)),
    }
    sections.update(_ax_sections(client, cv, model, lengthscale_reading, lengthscale_html, suffix))
    return sections


def _ax_sections(
    client: Any,
    cv: Any,
    model: Any,
    lengthscale_reading: str,
    lengthscale_html: str,
    suffix: str,
) -> dict[str, tuple[str, str]]:
    """The ``"importance"`` and ``"surfaces"`` sections: Ax's sensitivity, slice and
    contour plots drawn from the report's model (loaded into Ax's adapter, not refitted),
    and the lengthscale-based importance beside them."""
    from ax_ext.adapter import get_experiment
    from ax_ext.plotting import sensitivity_importance
    from ax_ext.runner import _report_ax

    metric = cv.metric_name
    lengthscale_part = _note(
        "Lengthscales: how far the data moved each parameter's lengthscale from the prior's "
        "guess (the model's own reading; grey: the prior, not the data, decided). "
        + lengthscale_reading
    )
    start = time.perf_counter()
    adapter, why = _report_ax.model_adapter(client, cv, model)
    logger.debug("report: Ax adapter on the fitted model in %.2f s", time.perf_counter() - start)
    if adapter is None:
        missing = _note(f"No Ax sensitivity, slice or contour plots: {why}.")
        return {
            "importance": (lengthscale_reading, f"{missing}\n{lengthscale_html}"),
            "surfaces": ("", missing),
        }
    start = time.perf_counter()
    shares = _report_ax.sensitivity(adapter, metric)
    logger.debug("report: sensitivity in %.2f s", time.perf_counter() - start)
    ranked = list(shares)
    top = ", ".join(f"{n} ({100 * shares[n]:.0f}%)" for n in ranked[:3])
    reading = (
        f"By Ax's sensitivity analysis of the fitted model, {ranked[0]} moves the predicted "
        f"{metric} most: {top}."
    )
    importance_html = "\n".join(
        [
            _note(
                "Sensitivity: each parameter's share of how much the model's predicted "
                f"{metric} varies over the search space (Ax's total-order sobol indices of "
                "the fitted model)."
            ),
            _figure_html(
                sensitivity_importance(shares, metric=metric), f"chart-sensitivity{suffix}"
            ),
            lengthscale_part,
            lengthscale_html,
        ]
    )
    start = time.perf_counter()
    experiment = get_experiment(client)
    figures = _report_ax.surface_figures(experiment, adapter, metric, ranked, suffix)
    logger.debug("report: slice and contour plots in %.2f s", time.perf_counter() - start)
    if not figures:
        return {
            "importance": (reading, importance_html),
            "surfaces": ("", _note("No range or ordered parameter to draw a slice of.")),
        }
    names = [t for t, _ in figures.values()]
    surfaces_reading = (
        f"The fitted model's predicted {metric} along the most important parameters, the "
        "others held at the center of the search space: " + "; ".join(names) + "."
    )
    body = "\n".join(
        f'<p class="chart-title">{html.escape(title)}</p>\n{_figure_html(fig, div_id)}'
        for div_id, (title, fig) in figures.items()
    )
    return {"importance": (reading, importance_html), "surfaces": (surfaces_reading, body)}


def _importance_reading(meta: Any) -> str:
    ranked = [n for n in meta["importance"] if n not in meta["prior_decided"]]
    decided = meta["prior_decided"]
    if not ranked:
        return (
            "The data has not yet moved any parameter's lengthscale from the prior's guess: "
            "too few trials to tell which parameters matter."
        )
    head = f"Of the parameters the data decided, {ranked[0]} matters most"
    head += f", then {', '.join(ranked[1:3])}" if len(ranked) > 1 else ""
    if not decided:
        return head + "."
    return (
        f"{head}; the prior, not the data, decided {', '.join(decided)} (grey bars): too few "
        "trials yet to tell whether they matter."
    )


def _model_reading(n: int) -> str:
    return (
        f"The formula below is the Gaussian-process model fitted to the {n} completed "
        "trials: which parameters it found to matter (short lengthscales) and how."
    )


def _cv_reading(metrics: dict[str, float]) -> str:
    """A plain reading of leave-one-out quality: how well the model ranks held-out trials."""
    rank = metrics.get("rank_correlation", math.nan)
    if not math.isfinite(rank):
        return "Too few trials to judge how well the model predicts held-out trials."
    quality = "well" if rank >= 0.7 else "roughly" if rank >= 0.4 else "poorly"
    return (
        f"Predicting each trial from the others, the model ranks the trials {quality} "
        f"(rank correlation {rank:.2f}; 1 is perfect, 0 is guessing)."
    )
