"""The optimization history of an Ax experiment: best value so far against trials.

Every completed trial's value, the best so far as a step line, failed trials
marked, and a vertical line where the model-based (BO) trials began (the first
trial whose generation node is not quasi-random), so a reader sees what BO
added after the Sobol exploration.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from ax_ext.cross_validation.trials import trial_points
from ax_ext.plotting._style import BAD, BEST, POINT, apply_log_y, base_layout
from ax_ext.plotting.experiment import _hover

__all__ = ["QUASI_RANDOM_NODES", "first_model_based_trial", "optimization_history"]

#: Generation-node names of quasi-random (not model-based) trials: ax_ext's and Ax's.
QUASI_RANDOM_NODES = frozenset({"Sobol", "CenterOfSearchSpace", "Center", "manual"})


def _node(trial: Any) -> str:
    runs = getattr(trial, "generator_runs", None) or []
    name = getattr(runs[0], "_generation_node_name", None) if runs else None
    return str(name) if name else "manual"


def first_model_based_trial(experiment: Any) -> int | None:
    """The index of the first trial a model-based node generated, or ``None``.

    Example:
        >>> from ax.api.client import Client
        >>> from ax.api.configs import RangeParameterConfig
        >>> client = Client(random_seed=0)
        >>> client.configure_experiment(parameters=[
        ...     RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0))])
        >>> client.configure_optimization(objective="-loss")
        >>> _ = client.attach_trial(parameters={"x": 0.5})
        >>> first_model_based_trial(client._experiment) is None
        True
    """
    for index in sorted(experiment.trials):
        if _node(experiment.trials[index]) not in QUASI_RANDOM_NODES:
            return index
    return None


def optimization_history(
    experiment_or_client: Any,
    metric_name: str | None = None,
    *,
    minimize: bool | None = None,
    title: str | None = None,
) -> go.Figure:
    """Each completed trial's value and the best so far, against the trial index.

    The y-axis is logarithmic when the values are positive and span more than
    two decades (the chart says so).

    Args:
        experiment_or_client: An Ax ``Experiment`` or ``Client``.
        metric_name: The metric; default the objective's.
        minimize: Whether lower is better; default from the objective.
        title: Figure title.

    Returns:
        A plotly ``Figure`` with traces ``"trials"``, ``"best so far"`` (a step
        line), ``"failed"`` (where some failed) and ``"BO began"`` (a vertical
        line at :func:`first_model_based_trial`, where one exists);
        ``fig.layout.meta`` holds ``first_bo`` and ``best`` (index and value).

    Example:
        >>> from ax.api.client import Client
        >>> from ax.api.configs import RangeParameterConfig
        >>> client = Client(random_seed=0)
        >>> client.configure_experiment(parameters=[
        ...     RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0))])
        >>> client.configure_optimization(objective="-loss")
        >>> for x in (0.9, 0.2, 0.5):
        ...     _ = client.complete_trial(client.attach_trial({"x": x}), {"loss": x})
        >>> fig = optimization_history(client)
        >>> list(fig.data[1].y), fig.layout.meta["best"]
        ([0.9, 0.2, 0.2], [1, 0.2])
    """
    points = trial_points(experiment_or_client, metric_name, minimize)
    rows = sorted(points.ok + points.infeasible, key=lambda r: r.trial_index)
    pick = min if points.minimize else max
    best_so_far, best = [], None
    for r in rows:
        if best is None or pick(best.mean, r.mean) != best.mean:
            best = r
        best_so_far.append(best.mean)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[r.trial_index for r in rows],
            y=[r.mean for r in rows],
            mode="markers",
            name="trials",
            marker={"color": POINT, "size": 7, "opacity": 0.75},
            text=[_hover(r, points.metric_name) for r in rows],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[r.trial_index for r in rows],
            y=best_so_far,
            mode="lines",
            line={"color": BEST, "width": 2, "shape": "hv"},
            name="best so far",
            hovertemplate=f"best {points.metric_name} so far: %{{y:.4g}}<extra></extra>",
        )
    )
    values = [r.mean for r in rows]
    if points.failed and values:
        lo, hi = min(values), max(values)
        y = (hi + 0.08 * (hi - lo or 1.0)) if points.minimize else (lo - 0.08 * (hi - lo or 1.0))
        fig.add_trace(
            go.Scatter(
                x=[r.trial_index for r in points.failed],
                y=[y] * len(points.failed),
                mode="markers",
                name="failed",
                marker={"color": BAD, "size": 9, "symbol": "x"},
                text=[_hover(r, points.metric_name) for r in points.failed],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    first_bo = first_model_based_trial(points.experiment)
    if first_bo is not None:
        fig.add_vline(x=first_bo - 0.5, line={"color": "#555", "dash": "dash", "width": 1.5})
        fig.add_annotation(
            x=first_bo - 0.5,
            y=1.0,
            yref="paper",
            text=f"BO began (trial {first_bo})",
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"size": 11, "color": "#555"},
        )
    direction = "lower" if points.minimize else "higher"
    base_layout(
        fig,
        title or f"Optimization history: {points.metric_name} ({direction} is better)",
        meta={
            "first_bo": first_bo,
            "best": None if best is None else [best.trial_index, best.mean],
        },
    )
    fig.update_xaxes(title_text="trial")
    fig.update_yaxes(title_text=points.metric_name)
    if apply_log_y(fig, values) and points.failed:
        fig.update_traces(
            selector={"name": "failed"}, y=[_beyond(values, points.minimize)] * len(points.failed)
        )
    return fig


def _beyond(values: list[float], minimize: bool) -> float:
    """A y-value just past the worst value on a log axis, for the failed trials' row."""
    worst = max(values) if minimize else min(values)
    return worst * 2 if minimize else worst / 2
