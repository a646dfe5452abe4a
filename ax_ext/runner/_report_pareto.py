"""The multi-objective parts of ``ax-ext report``: the Pareto front and a section per
further objective (private to the runner)."""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ax_ext.runner._report_parts import TrialInfo, _figure_html, _format_value, _note


def objectives(experiment: Any) -> dict[str, bool]:
    """The experiment's objectives, ``{metric: minimize}``, in the order configured."""
    config = experiment.optimization_config
    if config is None:
        return {}
    objective = config.objective
    if getattr(objective, "is_multi_objective", False):
        # Ax's objective expression "-loss, cost": one (metric, weight) per objective,
        # a negative weight minimizes
        weights = [w for _, w in objective.metric_weights]
        return {n: w < 0 for n, w in zip(objective.metric_names, weights)}
    names = list(objective.metric_names)
    return {names[0]: bool(objective.minimize)} if len(names) == 1 else {}


def pareto_indices(
    values: Mapping[str, Mapping[int, float]], minimize: Mapping[str, bool]
) -> list[int]:
    """The trials no other trial beats in every objective (observed values, all finite).

    Example:
        >>> values = {"a": {0: 1.0, 1: 2.0, 2: 3.0}, "b": {0: 3.0, 1: 1.0, 2: 2.0}}
        >>> pareto_indices(values, {"a": True, "b": True})
        [0, 1]
    """
    names = list(minimize)
    common = set.intersection(*(set(values[n]) for n in names)) if names else set()
    points = {
        i: [values[n][i] if minimize[n] else -values[n][i] for n in names]
        for i in sorted(common)
        if all(math.isfinite(values[n][i]) for n in names)
    }

    def dominated(i: int) -> bool:
        p = points[i]
        return any(
            all(a <= b for a, b in zip(q, p)) and any(a < b for a, b in zip(q, p))
            for j, q in points.items()
            if j != i
        )

    return [i for i in points if not dominated(i)]


def pareto_section(
    experiment: Any,
    completed: Sequence[TrialInfo],
    values: Mapping[str, Mapping[int, float]],
    minimize: Mapping[str, bool],
) -> tuple[str, str]:
    """The Pareto front: Ax's scatter plot of each pair of objectives (observed values,
    its Pareto frontier drawn), and a table of the Pareto-optimal trials."""
    from ax.analysis.plotly.scatter import ScatterPlot

    front = pareto_indices(values, minimize)
    if not front:
        return "", _note("Needs a completed trial with a finite value of every objective.")
    names = list(minimize)
    by_index = {t.index: t for t in completed}
    parts = []
    for k, (x, y) in enumerate(itertools.combinations(names, 2)):
        if k == 3:
            break
        card = ScatterPlot(
            x_metric_name=x,
            y_metric_name=y,
            use_model_predictions=False,
            show_pareto_frontier=True,
        ).compute(experiment=experiment)
        parts.append(f'<p class="chart-title">{html.escape(card.title)}</p>')
        parts.append(_figure_html(card.get_figure(), f"chart-pareto-{k}"))
    heading = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    parameters = list(dict.fromkeys(p for i in front for p in by_index[i].parameters))
    heading += "".join(f"<th>{html.escape(p)}</th>" for p in parameters)
    rows = []
    for i in front:
        cells = "".join(f"<td>{_format_value(values[n][i])}</td>" for n in names)
        cells += "".join(
            f"<td>{html.escape(_format_value(by_index[i].parameters.get(p, '')))}</td>"
            for p in parameters
        )
        rows.append(f"<tr><td>{i}</td>{cells}</tr>")
    directions = ", ".join(f"{n} {'lower' if minimize[n] else 'higher'}" for n in names)
    parts.append(
        f'<table id="pareto-table"><tr><th>trial</th>{heading}</tr>{"".join(rows)}</table>'
    )
    reading = (
        f"{len(front)} of {len(completed)} completed trials are Pareto-optimal: no other "
        f"trial is better in every objective ({directions} is better). Choose among them by "
        "the trade-off you want."
    )
    note = _note(
        "Each chart: every completed trial's observed values of two objectives, the Pareto "
        "frontier joined (Ax's ScatterPlot). The table lists the Pareto-optimal trials."
    )
    return reading, "\n".join([note, *parts])


def objective_section(
    client: Any,
    metric: str,
    minimize: bool,
    completed: Sequence[TrialInfo],
    fit_kwargs: dict[str, Any] | None,
    suffix: str,
) -> tuple[str, str]:
    """One further objective: its history, importance, model surfaces and cross-validation."""
    from ax_ext.runner import _report_model
    from ax_ext.runner import _report_parts as parts

    blocks = [
        ("Optimization history", parts.history_section(client, completed, metric, minimize, suffix))
    ]
    model = _report_model.model_and_cv_sections(client, completed, fit_kwargs, metric, suffix)
    blocks += [
        ("Parameter importance", model["importance"]),
        ("Model surfaces: slice and contour plots", model["surfaces"]),
        ("Cross-validation", model["cross-validation"]),
    ]
    body = []
    for heading, (reading, html_body) in blocks:
        body.append(f"<h3>{html.escape(heading)}</h3>")
        if reading:
            body.append(f'<p class="reading">{html.escape(reading)}</p>')
        body.append(html_body)
    direction = "minimized" if minimize else "maximized"
    best = [t.value for t in completed]
    pick = min if minimize else max
    reading = (
        f"The objective {metric} ({direction}): best {_format_value(pick(best))} over "
        f"{len(completed)} completed trials."
        if best
        else f"The objective {metric} ({direction}): no completed trial with a value yet."
    )
    return reading, "\n".join(body)
