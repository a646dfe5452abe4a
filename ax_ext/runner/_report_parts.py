"""The parts of ``ax-ext report``'s page: one builder per section (private to the runner).

Each ``*_section`` builder returns ``(reading, body)``: a one-line plain reading
of the section (shown above its charts) and the section's HTML body (every string
from the study escaped). :mod:`ax_ext.runner.report` puts them in the page
template.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ax.exceptions.core import UserInputError


@dataclass
class TrialInfo:
    index: int
    status: str
    node: str
    parameters: dict[str, Any]
    value: float
    reason: str
    started: datetime | None = None
    ended: datetime | None = None

    @property
    def seconds(self) -> float | None:
        """Run time: from the trial's start to its completion (or failure)."""
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).total_seconds()


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _figure_html(fig: Any, div_id: str) -> str:
    """A figure's ``<div>`` and drawing script, using the page's single plotly.js."""
    body = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config={"responsive": True}
    )
    return f'<div class="chart">{body}</div>'


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


# ----------------------------------------------------------------------------- trials


def _node_name(trial: Any) -> str:
    runs = getattr(trial, "generator_runs", None) or []
    name = getattr(runs[0], "_generation_node_name", None) if runs else None
    return str(name) if name else "manual"


def trial_infos(experiment: Any, metric: str) -> list[TrialInfo]:
    from ax_ext.adapter import experiment_data

    rows, _, failed_rows = experiment_data(experiment, metric)
    values = {r.trial_index: r.mean for r in rows}
    values.update({r.trial_index: r.mean for r in failed_rows if r.trial_index not in values})
    infos = []
    for index in sorted(experiment.trials):
        trial = experiment.trials[index]
        arm = getattr(trial, "arm", None)
        infos.append(
            TrialInfo(
                index=index,
                status=trial.status.name,
                node=_node_name(trial),
                parameters=dict(arm.parameters) if arm is not None else {},
                value=float(values.get(index, math.nan)),
                reason=str(getattr(trial, "status_reason", None) or ""),
                started=getattr(trial, "time_run_started", None),
                ended=getattr(trial, "time_completed", None),
            )
        )
    return infos


def status_counts(trials: Sequence[TrialInfo]) -> str:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    return ", ".join(f"{n} {s.lower()}" for s, n in counts.items()) or "none"


def best_trial_section(
    completed: Sequence[TrialInfo], metric: str, minimize: bool
) -> tuple[str, str]:
    if not completed:
        return "", _note("No completed trial with a finite objective value yet.")
    pick = min if minimize else max
    best = pick(completed, key=lambda t: t.value)
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_format_value(v))}</td></tr>"
        for k, v in best.parameters.items()
    )
    reading = (
        f"The best {metric} so far is {_format_value(best.value)}, from trial {best.index} "
        f"({'lowest' if minimize else 'highest'} of {len(completed)} completed trials)."
    )
    body = (
        f'<p>Trial <strong id="best-index">{best.index}</strong> (node '
        f"{html.escape(best.node)}): <code>{html.escape(metric)}</code> = "
        f'<strong id="best-value">{html.escape(_format_value(best.value))}</strong> '
        f"({'lowest' if minimize else 'highest'} of {len(completed)} completed trials).</p>"
        f'<table class="parameters"><tr><th>parameter</th><th>value</th></tr>{rows}</table>'
    )
    return reading, body


def history_section(
    client: Any, completed: Sequence[TrialInfo], metric: str, minimize: bool, suffix: str = ""
) -> tuple[str, str]:
    from ax_ext.plotting import optimization_history

    if not completed:
        return "", _note("Needs at least 1 completed trial with a finite objective value.")
    fig = optimization_history(client, metric_name=metric, minimize=minimize)
    first_bo = fig.layout.meta["first_bo"]
    pick = min if minimize else max
    if first_bo is None:
        reading = "Every trial so far is quasi-random (Sobol): BO has not begun."
    else:
        before = [t.value for t in completed if t.index < first_bo]
        after = [t.value for t in completed if t.index >= first_bo]
        if not before or not after:
            reading = f"BO began at trial {first_bo}."
        elif pick(before + after) != pick(before):
            reading = (
                f"BO began at trial {first_bo} and improved the best {metric} from "
                f"{_format_value(pick(before))} to {_format_value(pick(before + after))}."
            )
        else:
            reading = (
                f"BO began at trial {first_bo}; its {len(after)} trials have not beaten the "
                f"best Sobol trial ({_format_value(pick(before))}) yet."
            )
    return reading, _figure_html(fig, f"chart-history{suffix}")


def trial_table(
    trials: Sequence[TrialInfo], metric: str, others: dict[str, dict[int, float]] | None = None
) -> dict[str, Any]:
    """The trial table's columns and rows (strings; the template escapes them).

    ``others``: more metrics' values by trial index (the other objectives of a
    multi-objective study), one column each after ``metric``'s."""
    others = others or {}
    names = list(dict.fromkeys(k for t in trials for k in t.parameters))
    columns = ["trial", "status", "node", "started", "ended", "seconds", *names, metric]
    columns += list(others)
    columns.append("failure reason")
    rows = []
    for t in trials:
        cells = [str(t.index), t.status, t.node, _time(t.started), _time(t.ended)]
        cells.append("" if t.seconds is None else f"{t.seconds:.1f}")
        cells += [_format_value(t.parameters[n]) if n in t.parameters else "" for n in names]
        cells.append("" if math.isnan(t.value) else _format_value(t.value))
        for values in others.values():
            value = values.get(t.index, math.nan)
            cells.append("" if math.isnan(value) else _format_value(value))
        cells.append(t.reason)
        rows.append({"failed": t.status in ("FAILED", "ABANDONED"), "cells": cells})
    return {"columns": columns, "rows": rows}


def _time(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------------------- playbook


def isolation_parameter(experiment: Any, requested: str | None) -> str:
    from ax.core.parameter import ChoiceParameter, FixedParameter

    parameters = experiment.search_space.parameters
    if requested is not None:
        if requested not in parameters:
            raise UserInputError(
                f"Expected isolation_parameter to be one of {sorted(parameters)!r}, got "
                f"{requested!r}."
            )
        return requested
    tunable = {n: p for n, p in parameters.items() if not isinstance(p, FixedParameter)}
    choices = [n for n, p in tunable.items() if isinstance(p, ChoiceParameter)]
    unordered = [n for n in choices if not tunable[n].is_ordered]
    for group in (unordered, choices, list(tunable)):
        if group:
            return group[0]
    raise UserInputError(
        "Expected the study's search space to have a tunable parameter for the isolation "
        "plot, got only fixed parameters."
    )


def playbook_section(
    client: Any,
    completed: Sequence[TrialInfo],
    parameter: str,
    metric: str | None = None,
    suffix: str = "",
    minimize: bool | None = None,
) -> tuple[str, str]:
    from ax_ext.plotting import axis_plots, isolation_plot

    if not completed:
        return "", _note("Needs at least 1 completed trial with a finite objective value.")
    from ax_ext.cross_validation.trials import boundary_findings, describe_boundary, trial_points
    from ax_ext.plotting.experiment import BOUNDARY_HINT

    parts = []
    points = trial_points(client, metric, minimize)
    findings = boundary_findings(points)
    if not findings.empty:
        message = f"{describe_boundary(findings, points.metric_name)} {BOUNDARY_HINT}"
        parts.append(f'<p class="warning">Warning: {html.escape(message)}</p>')
    axes = axis_plots(client, metric_name=metric, minimize=minimize, warn=False)
    parts.append(_figure_html(axes, f"chart-axis-plots{suffix}"))
    parts.append(_note(f"Isolation plot: the best trial for each value (or range) of {parameter}."))
    isolation = isolation_plot(client, parameter, metric_name=metric, minimize=minimize)
    parts.append(_figure_html(isolation, f"chart-isolation-plot{suffix}"))
    at_bound = findings["parameter"].tolist()
    reading = (
        f"The best trials sit at a bound of {', '.join(at_bound)}: the optimum may lie "
        "outside the search space."
        if at_bound
        else "No parameter's best trials crowd a bound of the search space."
    )
    return reading, "\n".join(parts)


# ---------------------------------------------------------------------- training curves


def curves_section(
    client: Any, completed: Sequence[TrialInfo], metric: str, minimize: bool
) -> tuple[str, str]:
    from ax_ext.plotting import training_curves
    from ax_ext.runner.study import trial_curves

    by_index = {t.index: t for t in completed}
    stored = trial_curves(client)
    curves = {i: c for i, c in stored.items() if i in by_index}
    if not curves:
        return "", _note(
            "No training curves: no completed trial stored any (the problem's evaluation "
            'returns none under "curves").'
        )
    names = list(dict.fromkeys(n for c in curves.values() for n in c))
    if metric in names:  # the objective's curve on top
        names.remove(metric)
        names.insert(0, metric)
    pick = min if minimize else max
    best = pick((by_index[i] for i in curves), key=lambda t: t.value).index
    fig = training_curves(
        curves,
        parameters={i: by_index[i].parameters for i in curves},
        best_index=best,
        names=names,
        title=f"Training curves of {len(curves)} completed trials",
    )
    missing = len(completed) - len(curves)
    parts = [
        _note(
            f"One line per completed trial, one point per epoch (or step); trial {best}, the "
            "best of these, is highlighted. Hover for a trial's parameters."
            + (f" {missing} completed trials stored no curves." if missing else "")
        ),
        _figure_html(fig, "chart-training-curves"),
    ]
    reading = f"How each trial's training went, epoch by epoch; trial {best} ended best."
    return reading, "\n".join(parts)


# ---------------------------------------------------------------------------- strategy


def _criteria_text(client: Any) -> str:
    strategy = getattr(client, "_maybe_generation_strategy", None)
    if strategy is None:
        return ""
    parts = []
    for node in getattr(strategy, "_nodes", []):
        for c in getattr(node, "transition_criteria", None) or []:
            target = getattr(c, "transition_to", None)
            threshold = getattr(c, "threshold", None)
            if target is None or threshold is None:
                continue
            statuses = getattr(c, "only_in_statuses", None)
            which = " " + "/".join(s.name.lower() for s in statuses) if statuses else " generated"
            parts.append(
                f"{node.name} -> {target} after {threshold}{which} trials ({type(c).__name__})"
            )
    return "; ".join(parts)


def strategy_section(client: Any, trials: Sequence[TrialInfo]) -> tuple[str, str]:
    from ax_ext.generation import SOBOL, explain_node

    strategy = getattr(client, "_maybe_generation_strategy", None)
    name = getattr(strategy, "name", None) or "unknown"
    lines = [f"<p>Generation strategy: <code>{html.escape(str(name))}</code>.</p>"]
    if not trials:
        return "", "\n".join([*lines, _note("No trials yet.")])
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.node] = counts.get(t.node, 0) + 1
    sobol = [t for t in trials if t.node == SOBOL]
    first_bo = next((t for t in trials if t.node != SOBOL and t.node != "manual"), None)
    failed_sobol = sum(t.status in ("FAILED", "ABANDONED") for t in sobol)
    summary = f'<p id="sobol-count">{len(sobol)} Sobol trials ran'
    if failed_sobol:
        summary += f" ({failed_sobol} of them failed or abandoned)"
    summary += ".</p>"
    lines.append(summary)
    if first_bo is None:
        lines.append(
            '<p id="switch">The study has not switched to BO yet: every trial so far is '
            "Sobol (or attached by hand).</p>"
        )
    else:
        before = sum(t.node == SOBOL for t in trials if t.index < first_bo.index)
        lines.append(
            f'<p id="switch">It switched to BO at trial {first_bo.index}, after {before} '
            f"Sobol trials, with node <code>{html.escape(first_bo.node)}</code>: "
            f"{html.escape(explain_node(first_bo.node))}.</p>"
        )
    criteria = _criteria_text(client)
    if criteria:
        lines.append(_note(f"Transition criteria: {criteria}."))
    rows = "".join(
        f"<tr><td>{html.escape(node)}</td><td>{n}</td></tr>" for node, n in counts.items()
    )
    lines.append(f'<table id="node-counts"><tr><th>node</th><th>trials</th></tr>{rows}</table>')
    reading = (
        "Every trial so far is quasi-random exploration (Sobol)."
        if first_bo is None
        else f"{len(sobol)} quasi-random (Sobol) trials explored the space, then BO took over "
        f"at trial {first_bo.index}."
    )
    return reading, "\n".join(lines)
