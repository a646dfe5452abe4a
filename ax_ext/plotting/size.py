r"""Charts of how cross-validation results and fitted hyperparameters change with size.

:func:`metric_vs_size` draws :func:`ax_ext.cross_validation.size.cv_metric_by_size`'s
DataFrame and :func:`hyperparameters_vs_size` draws
:func:`ax_ext.cross_validation.size.hyperparameters_by_size`'s; the computations
live there (and are re-exported from :mod:`ax_ext.plotting` for convenience).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ax_ext.plotting._style import PALETTE, base_layout

__all__ = ["hyperparameters_vs_size", "metric_vs_size"]

_HIGHER_IS_BETTER = {
    "mean_log_predictive_density": True,
    "rank_correlation": True,
    "mse": False,
}
_LABELS = {
    "mean_log_predictive_density": "mean log predictive density",
    "rank_correlation": "rank correlation",
    "mse": "mean squared error",
    "coverage_68": "coverage of 68% intervals",
    "coverage_95": "coverage of 95% intervals",
}


def metric_vs_size(
    results: Any,
    metric: str | None = None,
    *,
    title: str | None = None,
) -> go.Figure:
    r"""A cross-validation metric against data-set size, one line per configuration.

    Chart 1 of the extended material of the outerloop post "Expressions are
    Pragmatic Model Visualizations": which model configuration predicts held-out
    trials best at each data-set size.

    Args:
        results: The data frame of :func:`cv_metric_by_size` (columns ``config``,
            ``size`` and the metric), or a mapping ``config -> {size: value}``.
        metric: The metric column; default ``results.attrs["metric"]`` or
            ``"mean_log_predictive_density"``.
        title: Figure title.

    Returns:
        A plotly ``Figure`` with one ``lines+markers`` trace per configuration,
        named after it.

    Example:
        >>> fig = metric_vs_size({"default": {10: -1.2, 20: -0.8}, "loose": {10: -1.0, 20: -0.9}})
        >>> [t.name for t in fig.data], fig.layout.xaxis.title.text
        (['default', 'loose'], 'data-set size (trials)')
    """
    import pandas as pd

    if isinstance(results, Mapping):
        metric = metric or "mean_log_predictive_density"
        results = pd.DataFrame(
            [
                {"config": c, "size": s, metric: v}
                for c, by_size in results.items()
                for s, v in by_size.items()
            ]
        )
    metric = metric or results.attrs.get("metric", "mean_log_predictive_density")
    label = _LABELS.get(metric, metric)
    better = _HIGHER_IS_BETTER.get(metric)
    if better is not None:
        label += " (higher is better)" if better else " (lower is better)"
    fig = go.Figure()
    for k, (name, group) in enumerate(results.groupby("config", sort=False)):
        group = group.sort_values("size")
        fig.add_trace(
            go.Scatter(
                x=group["size"].tolist(),
                y=group[metric].tolist(),
                mode="lines+markers",
                name=str(name),
                line={"color": PALETTE[k % len(PALETTE)]},
                hovertemplate=f"{name}<br>size %{{x}}<br>{metric} %{{y:.4g}}<extra></extra>",
            )
        )
    base_layout(fig, title or f"Cross-validation by data-set size: {_LABELS.get(metric, metric)}")
    fig.update_xaxes(title_text="data-set size (trials)")
    fig.update_yaxes(title_text=label)
    return fig


def _series_name(parameter: str, feature: Any) -> str:
    return parameter if not isinstance(feature, str) else f"{parameter}[{feature}]"


def hyperparameters_vs_size(
    hyperparameters: Any,
    *,
    parameters: Sequence[str] | None = None,
    log_y: bool = True,
    title: str | None = None,
) -> go.Figure:
    r"""Fitted hyperparameters against data-set size, one line per hyperparameter.

    The seed's Visualization 3: how lengthscales, kernel weights and noise move
    as the data grows (e.g. jumps when a prior stops dominating). Lengthscales
    are in the model's input space (scalar columns normalized to [0, 1]).

    Args:
        hyperparameters: The data frame of :func:`hyperparameters_by_size`.
        parameters: Only these ``parameter`` values (e.g.
            ``["factorized_scalar_lengthscale", "noise"]``); default all but
            ``mean``.
        log_y: Logarithmic y axis (hyperparameters are positive).
        title: Figure title.

    Returns:
        A plotly ``Figure`` with one trace per hyperparameter, named
        ``parameter`` or ``parameter[feature]``.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"size": [5, 10, 5, 10], "parameter": ["noise"] * 2 + ["ls"] * 2,
        ...                    "feature": [None, None, "lr", "lr"], "value": [0.1, 0.05, 1.0, 0.5]})
        >>> [t.name for t in hyperparameters_vs_size(df).data]
        ['noise', 'ls[lr]']
    """
    df = hyperparameters
    if "member" in df.columns and df["member"].nunique() > 1:
        df = df[df["member"] == df["member"].iloc[0]]
    if parameters is None:
        df = df[df["parameter"] != "mean"]
    else:
        df = df[df["parameter"].isin(list(parameters))]
    names = [_series_name(p, f) for p, f in zip(df["parameter"], df["feature"])]
    df = df.assign(series=names)
    fig = go.Figure()
    for k, (name, group) in enumerate(df.groupby("series", sort=False)):
        group = group.sort_values("size")
        fig.add_trace(
            go.Scatter(
                x=group["size"].tolist(),
                y=group["value"].tolist(),
                mode="lines+markers",
                name=name,
                line={"color": PALETTE[k % len(PALETTE)], "width": 1.5},
                marker={"size": 4},
                hovertemplate=f"{name}<br>size %{{x}}<br>value %{{y:.4g}}<extra></extra>",
            )
        )
    base_layout(fig, title or "Fitted hyperparameters by data-set size")
    fig.update_xaxes(title_text="data-set size (trials)")
    fig.update_yaxes(title_text="value" + (" (log scale)" if log_y else ""))
    if log_y:
        fig.update_yaxes(type="log")
    return fig
