r"""The tuning playbook's charts for an Ax experiment: axis plots and isolation plots.

* :func:`axis_plots`: the objective against each hyperparameter, one subplot per
  parameter, failed and infeasible trials marked, and a :class:`BoundaryWarning`
  when the best trials crowd a search-space bound (the playbook's "basic
  hyperparameter axis plots").
* :func:`isolation_plot`: the best trial in each bucket of one (scientific)
  parameter, having optimized over the others (the playbook's "isolation plots").
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from ax.exceptions.core import AxParameterWarning, UserInputError
from plotly.subplots import make_subplots

from ax_ext.adapter import TrialRow
from ax_ext.cross_validation.trials import (
    best_trials,
    boundary_findings,
    describe_boundary,
    trial_points,
)
from ax_ext.plotting._style import (
    BAD,
    BEST,
    POINT,
    apply_log_y,
    base_layout,
    fmt,
    hover_lines,
)

__all__ = ["BOUNDARY_HINT", "BoundaryWarning", "axis_plots", "isolation_plot"]

#: What to do about a crowded bound (the :class:`BoundaryWarning`'s hint).
BOUNDARY_HINT = (
    "The optimum may lie outside the search space; consider extending these ranges and "
    "running more trials."
)


class BoundaryWarning(AxParameterWarning):
    """The best trials sit at a bound of the search space: the optimum may lie outside.

    Raised (as a warning) by :func:`axis_plots`; a subclass of Ax's
    ``AxParameterWarning``, so Ax's warning filters apply.
    """


def _hover(row: TrialRow, metric_name: str, extra: str = "") -> str:
    head = f"<b>trial {row.trial_index} ({row.arm_name})</b>{extra}"
    value = f"{metric_name}: {fmt(row.mean)}" if not row.reason else row.reason
    return "<br>".join([head, value, *hover_lines(row.parameters)])


def _axis_value(p: Any, value: Any) -> Any:
    from ax.core.parameter import ChoiceParameter

    return str(value) if isinstance(p, ChoiceParameter) else value


def axis_plots(
    experiment_or_client: Any,
    metric_name: str | None = None,
    *,
    parameters: Sequence[str] | None = None,
    minimize: bool | None = None,
    top_fraction: float = 0.1,
    top_k: int | None = None,
    boundary_tolerance: float = 0.05,
    boundary_fraction: float = 0.5,
    cols: int = 3,
    warn: bool = True,
    title: str | None = None,
) -> go.Figure:
    r"""The metric against each hyperparameter, one subplot per parameter.

    Completed trials are blue, the best trials green, completed trials that
    violate an (absolute) outcome constraint are open red circles, and failed,
    abandoned or NaN trials are red crosses drawn at the bad edge of each
    subplot (they have no value). Log-scale parameters get a log axis, choice
    parameters a categorical one; range parameters' axes span their bounds.

    If at least ``boundary_fraction`` of the best trials of a range parameter lie
    within ``boundary_tolerance`` (a fraction of its range, in log space for
    log-scale parameters) of the same bound, the bound is drawn as a dashed red
    line (trace ``"bound with best trials"``), the subplot title says so, and a
    :class:`BoundaryWarning` is issued: the optimum may
    lie outside the search space. Findings are also in
    ``fig.layout.meta["boundary"]``.

    Args:
        experiment_or_client: An Ax ``Experiment`` or ``Client``.
        metric_name: The metric; default the objective's.
        parameters: The parameters to plot; default every non-fixed one.
        minimize: Whether lower is better; default from the objective.
        top_fraction: The best trials are this fraction of the feasible
            completed trials (at least one)...
        top_k: ...or exactly this many, if given.
        boundary_tolerance: Distance from a bound, as a fraction of the range,
            that counts as "at the bound".
        boundary_fraction: Fraction of the best trials that must be at the same
            bound for a warning.
        cols: Subplots per row.
        warn: Issue the :class:`BoundaryWarning` (the chart is annotated either
            way).
        title: Figure title.

    Returns:
        A plotly ``Figure``. Each subplot has a ``"trials"`` and a
        ``"best trials"`` trace, plus ``"infeasible"`` and ``"failed"`` traces when
        there are such trials (legend entries shown once).

    Example:
        >>> from ax.api.client import Client
        >>> from ax.api.configs import RangeParameterConfig
        >>> client = Client(random_seed=0)
        >>> client.configure_experiment(parameters=[
        ...     RangeParameterConfig(name="lr", parameter_type="float", bounds=(1e-4, 1.0),
        ...                          scaling="log")])
        >>> client.configure_optimization(objective="-loss")
        >>> client.configure_generation_strategy(method="random_search")
        >>> for i, p in client.get_next_trials(max_trials=5).items():
        ...     _ = client.complete_trial(i, raw_data={"loss": (p["lr"] - 0.01) ** 2})
        >>> fig = axis_plots(client)
        >>> [t.name for t in fig.data], fig.layout.xaxis.type
        (['trials', 'best trials'], 'log')
    """
    from ax.core.parameter import ChoiceParameter, FixedParameter, RangeParameter

    points = trial_points(experiment_or_client, metric_name, minimize)
    space = points.experiment.search_space.parameters
    names = (
        list(parameters)
        if parameters is not None
        else [n for n, p in space.items() if not isinstance(p, FixedParameter)]
    )
    unknown = [n for n in names if n not in space]
    if unknown or not names:
        raise UserInputError(f"Expected parameters among {list(space)!r}, got {names!r}.")
    best = best_trials(points, top_k, top_fraction)
    best_ids = {(r.trial_index, r.arm_name) for r in best}
    findings = boundary_findings(
        points,
        top_fraction=top_fraction,
        top_k=top_k,
        tolerance=boundary_tolerance,
        fraction=boundary_fraction,
    )
    findings = findings[findings["parameter"].isin(names)].reset_index(drop=True)
    boundary = findings.to_dict("records")
    cols = max(1, min(cols, len(names)))
    rows = math.ceil(len(names) / cols)
    titles = []
    for n in names:
        t = n + (" (log scale)" if getattr(space[n], "log_scale", False) else "")
        sides = [b["bound"] for b in boundary if b["parameter"] == n]
        if sides:
            t += f" <span style='color:{BAD}'>⚠ best at {' and '.join(sides)} bound</span>"
        titles.append(t)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        horizontal_spacing=0.08,
        vertical_spacing=0.5 / rows if rows > 1 else 0.1,
    )
    values = [r.mean for r in points.ok + points.infeasible]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    failed_y = (hi + 0.08 * (hi - lo or 1.0)) if points.minimize else (lo - 0.08 * (hi - lo or 1.0))
    groups = [
        (
            "trials",
            [r for r in points.ok if (r.trial_index, r.arm_name) not in best_ids],
            {"color": POINT, "size": 7, "opacity": 0.75},
        ),
        ("best trials", best, {"color": BEST, "size": 10, "line": {"width": 1, "color": "black"}}),
        (
            "infeasible",
            points.infeasible,
            {"color": BAD, "size": 8, "symbol": "circle-open", "line": {"width": 2}},
        ),
        ("failed", points.failed, {"color": BAD, "size": 9, "symbol": "x"}),
    ]
    shown_bound = False
    for k, name in enumerate(names):
        row, col = k // cols + 1, k % cols + 1
        p = space[name]
        for label, members, marker in groups:
            if not members and label not in ("trials", "best trials"):
                continue
            ys = [failed_y if label == "failed" else r.mean for r in members]
            fig.add_trace(
                go.Scatter(
                    x=[_axis_value(p, r.parameters.get(name)) for r in members],
                    y=ys,
                    mode="markers",
                    name=label,
                    legendgroup=label,
                    showlegend=k == 0,
                    marker=marker,
                    text=[_hover(r, points.metric_name) for r in members],
                    hovertemplate="%{text}<extra></extra>",
                ),
                row=row,
                col=col,
            )
        if isinstance(p, RangeParameter):
            log = bool(p.log_scale)
            a, b = (math.log10(p.lower), math.log10(p.upper)) if log else (p.lower, p.upper)
            pad = 0.03 * (b - a or 1.0)
            fig.update_xaxes(
                type="log" if log else "linear", range=[a - pad, b + pad], row=row, col=col
            )
            for found in (b_ for b_ in boundary if b_["parameter"] == name):
                fig.add_trace(
                    go.Scatter(
                        x=[found["value"], found["value"]],
                        y=[min(lo, failed_y), max(hi, failed_y)],
                        mode="lines",
                        name="bound with best trials",
                        legendgroup="bound",
                        showlegend=not shown_bound,
                        line={"color": BAD, "dash": "dash", "width": 1.5},
                        hovertemplate=f"{found['bound']} bound of {name}: "
                        f"{fmt(found['value'])}<extra></extra>",
                    ),
                    row=row,
                    col=col,
                )
                shown_bound = True
        elif isinstance(p, ChoiceParameter):
            fig.update_xaxes(
                type="category",
                categoryorder="array",
                categoryarray=[str(v) for v in p.values],
                row=row,
                col=col,
            )
        if col == 1:
            fig.update_yaxes(title_text=points.metric_name, row=row, col=col)
    direction = "lower" if points.minimize else "higher"
    base_layout(
        fig,
        title or f"{points.metric_name} by hyperparameter ({direction} is better)",
        height=max(320, 300 * rows),
        meta={"boundary": boundary},
    )
    if apply_log_y(fig, values):
        # the failed trials' row sits above (or below) the values, in log space too
        fig.update_traces(
            selector={"name": "failed"},
            y=[hi * 3 if points.minimize else lo / 3] * len(points.failed),
        )
    if boundary and warn:
        warnings.warn(
            BoundaryWarning(describe_boundary(findings, points.metric_name), hint=BOUNDARY_HINT),
            stacklevel=2,
        )
    return fig


def _buckets(p: Any, buckets: Sequence[Any] | None, n_buckets: int) -> tuple[list[str], Any]:
    """Bucket labels and a function mapping a parameter value to a bucket index."""
    from ax.core.parameter import ChoiceParameter, RangeParameter

    if isinstance(p, ChoiceParameter):
        values = list(buckets) if buckets is not None else list(p.values)
        keys = [str(v) for v in values]
        return keys, lambda v: keys.index(str(v)) if str(v) in keys else None
    if not isinstance(p, RangeParameter):
        raise UserInputError(
            f"Expected a range or choice parameter for the isolation plot, got "
            f"{type(p).__name__} {p.name!r}."
        )
    log = bool(p.log_scale)
    if buckets is None:
        a, b = (math.log10(p.lower), math.log10(p.upper)) if log else (p.lower, p.upper)
        edges = [a + (b - a) * i / n_buckets for i in range(n_buckets + 1)]
        edges = [10**e for e in edges] if log else edges
    else:
        edges = sorted(float(e) for e in buckets)
        if len(edges) < 2:
            raise UserInputError(
                f"Expected at least two bucket edges for range parameter {p.name!r}, got "
                f"{list(buckets)!r}."
            )
    labels = [f"[{fmt(edges[i])}, {fmt(edges[i + 1])}]" for i in range(len(edges) - 1)]

    def index(v: float) -> int | None:
        for i in range(len(edges) - 1):
            if edges[i] <= v < edges[i + 1] or (i == len(edges) - 2 and v == edges[-1]):
                return i
        return None

    return labels, index


def isolation_plot(
    experiment_or_client: Any,
    parameter: str,
    metric_name: str | None = None,
    *,
    buckets: Sequence[Any] | None = None,
    n_buckets: int = 5,
    minimize: bool | None = None,
    title: str | None = None,
) -> go.Figure:
    r"""The best trial in each bucket of one parameter, the others optimized over.

    The playbook's isolation plot for a scientific hyperparameter: for each of
    its values (choice parameters) or ranges (range parameters), the best
    feasible completed trial, so that the comparison is between the best
    configurations found for each value rather than between single runs.

    Args:
        experiment_or_client: An Ax ``Experiment`` or ``Client``.
        parameter: The parameter to isolate.
        metric_name: The metric; default the objective's.
        buckets: For a choice parameter, the values to show (default all); for a
            range parameter, bucket edges (default ``n_buckets`` equal-width
            buckets over the bounds, in log space for log-scale parameters).
        n_buckets: Number of default buckets of a range parameter.
        minimize: Whether lower is better; default from the objective.
        title: Figure title.

    Returns:
        A plotly ``Figure`` with two traces: ``"all trials"`` and
        ``"best per bucket"`` (empty buckets are skipped). For range parameters
        the best trial is drawn at its own value, for choices at the category.

    Example:
        >>> from ax.api.client import Client
        >>> from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
        >>> client = Client(random_seed=0)
        >>> client.configure_experiment(parameters=[
        ...     RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0)),
        ...     ChoiceParameterConfig(name="opt", parameter_type="str", values=["a", "b", "c"])])
        >>> client.configure_optimization(objective="-loss")
        >>> client.configure_generation_strategy(method="random_search")
        >>> for i, p in client.get_next_trials(max_trials=8).items():
        ...     _ = client.complete_trial(i, raw_data={"loss": p["x"] + (p["opt"] == "b")})
        >>> fig = isolation_plot(client, "opt")
        >>> [t.name for t in fig.data], fig.layout.xaxis.title.text
        (['all trials', 'best per bucket'], 'opt')
    """
    from ax.core.parameter import ChoiceParameter

    points = trial_points(experiment_or_client, metric_name, minimize)
    space = points.experiment.search_space.parameters
    if parameter not in space:
        raise UserInputError(f"Expected parameter to be one of {list(space)!r}, got {parameter!r}.")
    p = space[parameter]
    labels, bucket_of = _buckets(p, buckets, n_buckets)
    best: dict[int, TrialRow] = {}
    for row in points.ok:
        b = bucket_of(row.parameters.get(parameter))
        if b is None:
            continue
        better = (lambda a, c: a < c) if points.minimize else (lambda a, c: a > c)
        if b not in best or better(row.mean, best[b].mean):
            best[b] = row
    order = sorted(best)
    everyone = go.Scatter(
        x=[_axis_value(p, r.parameters.get(parameter)) for r in points.ok],
        y=[r.mean for r in points.ok],
        mode="markers",
        name="all trials",
        marker={"color": POINT, "size": 6, "opacity": 0.35},
        text=[_hover(r, points.metric_name) for r in points.ok],
        hovertemplate="%{text}<extra></extra>",
    )
    unordered = isinstance(p, ChoiceParameter) and not p.is_ordered
    top = go.Scatter(
        x=[_axis_value(p, best[b].parameters.get(parameter)) for b in order],
        y=[best[b].mean for b in order],
        # no line between unordered values: it would suggest an order
        mode="markers" if unordered else "lines+markers",
        name="best per bucket",
        marker={"color": BEST, "size": 11, "line": {"width": 1, "color": "black"}},
        line={"color": BEST},
        text=[_hover(best[b], points.metric_name, f"<br>bucket {labels[b]}") for b in order],
        hovertemplate="%{text}<extra></extra>",
    )
    fig = go.Figure([everyone, top])
    direction = "lower" if points.minimize else "higher"
    base_layout(
        fig,
        title
        or f"Isolation plot: best {points.metric_name} per {parameter} ({direction} is better)",
    )
    fig.update_xaxes(title_text=parameter)
    fig.update_yaxes(title_text=points.metric_name)
    if isinstance(p, ChoiceParameter):
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    elif getattr(p, "log_scale", False):
        fig.update_xaxes(type="log")
    log = apply_log_y(fig, [r.mean for r in points.ok])
    _zoom_to(fig, [best[b].mean for b in order], log)
    return fig


def _zoom_to(fig: go.Figure, values: Sequence[float], log: bool) -> None:
    """Scale the y-axis to ``values`` (the best per bucket), so their differences show.

    Trials far worse than every bucket's best fall outside the chart (hover and
    zoom out to see them)."""
    if len(values) < 2:
        return
    ys = [math.log10(v) for v in values] if log else list(values)
    lo, hi = min(ys), max(ys)
    pad = 0.25 * (hi - lo) if hi > lo else 0.1 * (abs(hi) or 1.0)
    fig.update_yaxes(range=[lo - pad, hi + pad])
    fig.layout.meta = {**(fig.layout.meta or {}), "zoomed_to_best": True}
