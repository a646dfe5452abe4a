"""Predicted vs observed: one point per held-out observation, with error bars."""

from __future__ import annotations

import plotly.graph_objects as go

from ax_ext.cross_validation import CrossValidationResult
from ax_ext.plotting._style import BAD, MEAN, POINT, apply_log_y, base_layout, fmt, hover_lines

__all__ = ["predicted_vs_observed"]


def predicted_vs_observed(
    cv_result: CrossValidationResult,
    *,
    z: float = 1.96,
    metric_label: str | None = None,
    title: str | None = None,
    max_hover_parameters: int | None = 30,
) -> go.Figure:
    r"""Cross-validated predictions against observations, with the diagonal.

    Every point is a held-out observation (a trial, for
    :func:`~ax_ext.cross_validation.ax_cross_validation` results) predicted by
    the fold model that did not see it; the vertical error bar is
    ``mean +- z * std``. Points whose observation falls outside that interval are
    drawn in red. Hovering shows the trial index, arm and parameters when the
    result has them (Ax results), else the point's index.

    Args:
        cv_result: A :class:`~ax_ext.cross_validation.CrossValidationResult` (or
            its Ax subclass).
        z: Half-width of the error bars in predictive standard deviations
            (1.96: 95 % intervals; 1.0: 68 %).
        metric_label: Axis label of the metric; default the Ax metric name, or
            ``"y"``.
        title: Figure title; default names the metric and summarizes the
            cross-validation metrics.
        max_hover_parameters: At most this many parameters in the hover label.

    Returns:
        A plotly ``Figure`` with two traces: the points (``"held-out
        predictions"``) and the diagonal (``"observed = predicted"``).

    Example:
        >>> import torch
        >>> from ax_ext.cross_validation import CrossValidationResult, cv_metrics
        >>> obs, mean, std = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.1, 2.2, 2.5]), (
        ...     torch.full((3,), 0.2))
        >>> res = CrossValidationResult(obs, mean, std, torch.arange(3), cv_metrics(obs, mean, std))
        >>> fig = predicted_vs_observed(res)
        >>> [t.name for t in fig.data], fig.layout.xaxis.title.text
        (['held-out predictions', 'observed = predicted'], 'observed y')
    """
    observed = cv_result.observed.detach().double().cpu().tolist()
    mean = cv_result.mean.detach().double().cpu().tolist()
    std = cv_result.std.detach().double().cpu().tolist()
    n = len(observed)
    metric = metric_label or getattr(cv_result, "metric_name", "") or "y"
    trial_index = getattr(cv_result, "trial_index", None) or []
    arm_name = getattr(cv_result, "arm_name", None) or []
    parameters = getattr(cv_result, "parameters", None) or []
    fold = cv_result.fold.tolist()
    reported = getattr(cv_result, "reported", None)
    reported = observed if reported is None else reported.detach().double().cpu().tolist()
    text, colors, symbols = [], [], []
    for i in range(n):
        inside = abs(observed[i] - mean[i]) <= z * std[i]
        colors.append(POINT if inside else BAD)
        symbols.append("circle" if reported[i] == observed[i] else "triangle-up")
        head = f"trial {trial_index[i]} ({arm_name[i]})" if trial_index else f"point {i}"
        lines = [
            f"<b>{head}</b>",
            f"observed: {fmt(observed[i])}"
            + ("" if reported[i] == observed[i] else f" (reported {fmt(reported[i])}, clipped)"),
            f"predicted: {fmt(mean[i])} ± {fmt(z * std[i])}",
            f"fold: {fold[i]}" + ("" if inside else " (outside interval)"),
        ]
        if parameters:
            lines += hover_lines(parameters[i], max_hover_parameters)
        text.append("<br>".join(lines))
    points = go.Scatter(
        x=observed,
        y=mean,
        mode="markers",
        name="held-out predictions",
        marker={
            "color": colors,
            "symbol": symbols,
            "size": 8,
            "line": {"width": 0.5, "color": "white"},
        },
        error_y={
            "type": "data",
            "array": [z * s for s in std],
            "thickness": 1,
            "width": 0,
            "color": "#444",
        },
        text=text,
        hovertemplate="%{text}<extra></extra>",
    )
    lows = [m - z * s for m, s in zip(mean, std)] + observed
    highs = [m + z * s for m, s in zip(mean, std)] + observed
    lo, hi = (min(lows), max(highs)) if n else (0.0, 1.0)
    pad = 0.05 * (hi - lo or 1.0)
    diagonal = go.Scatter(
        x=[lo - pad, hi + pad],
        y=[lo - pad, hi + pad],
        mode="lines",
        name="observed = predicted",
        line={"color": MEAN, "dash": "dash", "width": 1},
        hoverinfo="skip",
    )
    fig = go.Figure([points, diagonal])
    if title is None:
        m = cv_result.metrics
        title = (
            f"Cross-validation of {metric}: rank correlation {fmt(m.get('rank_correlation'))}, "
            f"MSE {fmt(m.get('mse'))}, 95% coverage {fmt(m.get('coverage_95'))}"
        )
    base_layout(fig, title, legend={"orientation": "h", "y": -0.15})
    fig.update_xaxes(title_text=f"observed {metric}")
    fig.update_yaxes(title_text=f"predicted {metric} (mean ± {fmt(z)} sd)")
    if apply_log_y(fig, observed):
        # both axes, so the diagonal stays the diagonal; it spans the positive values
        fig.update_xaxes(type="log")
        positive = [v for v in observed + mean if v > 0]
        ends = [min(positive) / 1.5, max(positive) * 1.5]
        fig.update_traces(selector={"name": "observed = predicted"}, x=ends, y=ends)
    return fig
