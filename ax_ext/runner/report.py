"""An HTML report of a stored study (``ax-ext report``).

:func:`write_report` loads a study from Ax's SQL store and writes one
self-contained HTML page: the best trial, the model expression of a
``ScalarChoiceGP`` fitted to the completed trials, the cross-validation charts
(predicted vs observed, fitting trajectories), the playbook charts (axis plots,
an isolation plot), the training curves the trials stored, how the generation
strategy went from Sobol to BO, and the trial table. plotly.js is embedded once,
in the page's ``<head>``; every chart refers to it. Every string that comes from
the study (parameter names and values, failure reasons, node names) is
HTML-escaped.
"""

from __future__ import annotations

import html
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ax.exceptions.core import UserInputError

__all__ = ["REPORT_SECTIONS", "load_study_client", "write_report"]

logger = logging.getLogger(__name__)

#: ``id`` of each section of the report, in page order.
REPORT_SECTIONS = (
    "best-trial",
    "model",
    "cross-validation",
    "playbook",
    "training-curves",
    "strategy",
    "trials",
)

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em;
       color: #222; max-width: 1200px; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
tr.failed td { color: #a00; }
.note { color: #555; font-size: .9em; }
.chart { margin: 1em 0; }
"""


@dataclass
class _TrialInfo:
    index: int
    status: str
    node: str
    parameters: dict[str, Any]
    value: float
    reason: str


def load_study_client(storage_path: str | Path, experiment_name: str | None = None) -> Any:
    """Load the ``ax.api.client.Client`` of a study stored by ``ax-ext tune``, read-only.

    The storage is opened read-only (SQLite ``mode=ro``, PostgreSQL read-only
    transactions) and nothing is written to it: not Ax's tables into a foreign
    or empty file, not the experiment back on loading (as Ax's
    ``Client.load_from_database`` does).

    Args:
        storage_path: The SQLite file (``.db``/``.sqlite``/``.sqlite3``) or an
            SQLAlchemy URL of Ax's SQL store.
        experiment_name: The experiment to load; default the only one stored (or
            the only ``ax_ext:*`` one).

    Returns:
        The ``Client``, detached from the storage (nothing it does is saved).

    Raises:
        UserInputError: If the file does not exist or is not a study database
            (a folder, an empty or foreign file, a damaged one), the storage holds
            no experiment, or several and ``experiment_name`` is not given.
    """
    from ax.api.client import Client
    from ax.api.utils.storage import db_settings_from_storage_config
    from ax.storage.sqa_store.with_db_settings_base import WithDBSettingsBase

    import ax_ext.generation  # noqa: F401  (registers ax_ext's classes for decoding)
    from ax_ext.runner._storage import experiment_names, open_storage, storage_error
    from ax_ext.runner.study import EXPERIMENT_PREFIX

    text = str(storage_path)
    config = open_storage(text, read_only=True)
    try:
        names = experiment_names()
    except Exception as e:
        raise storage_error(text, e, "read") from e
    if experiment_name is None:
        ours = [n for n in names if n.startswith(EXPERIMENT_PREFIX)]
        candidates = names if len(names) == 1 else ours
        if len(candidates) != 1:
            raise UserInputError(
                f"Expected the storage {_display_storage(text)!r} to hold exactly one study, "
                f"found experiments {names!r}. Pass experiment_name to choose one."
            )
        experiment_name = candidates[0]
    elif experiment_name not in names:
        raise UserInputError(
            f"Expected experiment_name to be one of {names!r} stored in "
            f"{_display_storage(text)!r}, got {experiment_name!r}."
        )
    db = WithDBSettingsBase(db_settings=db_settings_from_storage_config(config))
    with warnings.catch_warnings():
        # Ax's SQL decoder warns about every string choice parameter it loads
        warnings.filterwarnings("ignore", message=".*sort_values.*is not specified")
        try:
            experiment, gs = db._load_experiment_and_generation_strategy(experiment_name)
        except Exception as e:
            raise storage_error(text, e, f"load the study {experiment_name!r} from") from e
    client = Client()
    client._maybe_experiment = experiment
    if gs is not None:
        gs._experiment = experiment
        client._maybe_generation_strategy = gs
    return client


def write_report(
    storage_path: str | Path,
    out_path: str | Path,
    *,
    fit_kwargs: dict[str, Any] | None = None,
    experiment_name: str | None = None,
    isolation_parameter: str | None = None,
) -> Path:
    """Write a self-contained HTML report of a stored study.

    The report has these sections (``id`` attributes in :data:`REPORT_SECTIONS`):
    the best trial (parameters and value); the model expression of a
    ``ScalarChoiceGP`` fitted to all completed trials (encoded as
    :func:`~ax_ext.cross_validation.ax_cross_validation` encodes them); the
    leave-one-out cross-validation charts
    (:func:`~ax_ext.plotting.predicted_vs_observed`,
    :func:`~ax_ext.plotting.fitting_trajectories`); the playbook charts
    (:func:`~ax_ext.plotting.axis_plots` and an
    :func:`~ax_ext.plotting.isolation_plot`); the training curves of the
    completed trials (:func:`~ax_ext.plotting.training_curves`, from the curves
    stored in each trial's run metadata, see
    :func:`~ax_ext.runner.study.trial_curves`; a note for problems that return
    none); the strategy section (Sobol trials,
    when and why BO started, from the generation node stored on each trial); and
    the trial table (index, status, node, parameters, value, failure reason).
    Sections that need data say so when the study has too few completed trials
    (2 for the model and cross-validation, 1 for the playbook charts).

    Args:
        storage_path: The study's SQLite file or SQLAlchemy URL.
        out_path: The HTML file to write (its folder must exist).
        fit_kwargs: Keyword arguments for ax_ext's ``fit_gpytorch_mll`` in the
            cross-validation and the full fit (e.g. ``{"optimizer_kwargs":
            {"options": {"maxiter": 50}}}`` for a quick report).
        experiment_name: The experiment to report; default the only one stored.
        isolation_parameter: The parameter of the isolation plot; default the
            first unordered choice parameter (else the first choice parameter,
            else the first parameter).

    Returns:
        The path of the written file.

    Raises:
        UserInputError: If the storage does not exist or holds no single study,
            ``out_path``'s folder does not exist, or ``isolation_parameter`` is not
            a parameter of the study.
    """
    out = Path(out_path).expanduser()
    if not out.parent.is_dir():
        raise UserInputError(
            f"Expected the report's folder to exist, got {str(out_path)!r} (no folder "
            f"{str(out.parent)!r}). Create the folder or choose another --out."
        )
    client = load_study_client(storage_path, experiment_name)
    page = _build_page(client, _display_storage(storage_path), fit_kwargs, isolation_parameter)
    out.write_text(page, encoding="utf-8")
    logger.info("Wrote the report of %s to %s.", storage_path, out)
    return out


# ------------------------------------------------------------------------------ page


def _display_storage(storage_path: str | Path) -> str:
    """The storage path, or its URL with any password replaced by ``***``."""
    from ax_ext.runner._storage import display_storage

    return display_storage(storage_path)


def _build_page(
    client: Any,
    storage: str,
    fit_kwargs: dict[str, Any] | None,
    isolation_parameter: str | None,
) -> str:
    from plotly.offline import get_plotlyjs

    from ax_ext.cross_validation.ax import (
        default_metric_name,
        get_experiment,
        objective_minimizes,
    )

    experiment = get_experiment(client)
    metric = default_metric_name(experiment)
    minimize = objective_minimizes(experiment, metric)
    minimize = True if minimize is None else minimize
    trials = _trial_infos(experiment, metric)
    completed = [t for t in trials if t.status == "COMPLETED" and math.isfinite(t.value)]
    parameter = _isolation_parameter(experiment, isolation_parameter)

    sections = [
        _section("best-trial", "Best trial", _best_trial_html(completed, metric, minimize)),
        *_model_and_cv_sections(client, completed, fit_kwargs),
        _section("playbook", "Playbook charts", _playbook_html(client, completed, parameter)),
        _section(
            "training-curves", "Training curves", _curves_html(client, completed, metric, minimize)
        ),
        _section("strategy", "Strategy: Sobol, then BO", _strategy_html(client, trials)),
        _section("trials", "Trials", _trial_table_html(trials, metric)),
    ]
    direction = "minimized" if minimize else "maximized"
    counts = _status_counts(trials)
    title = f"ax_ext study report: {experiment.name}"
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_CSS}</style>",
            f'<script type="text/javascript">{get_plotlyjs()}</script>',
            "</head>",
            "<body>",
            f"<h1>{html.escape(title)}</h1>",
            f'<p class="note">Storage {html.escape(storage)}; objective '
            f"<code>{html.escape(metric)}</code> ({direction}); {len(trials)} trials: "
            f"{html.escape(counts)}. Written {created}.</p>",
            *sections,
            "</body>",
            "</html>",
        ]
    )


def _section(section_id: str, heading: str, body: str) -> str:
    return f'<section id="{section_id}">\n<h2>{html.escape(heading)}</h2>\n{body}\n</section>'


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


def _trial_infos(experiment: Any, metric: str) -> list[_TrialInfo]:
    from ax_ext.cross_validation.ax import experiment_data

    rows, _, failed_rows = experiment_data(experiment, metric)
    values = {r.trial_index: r.mean for r in rows}
    values.update({r.trial_index: r.mean for r in failed_rows if r.trial_index not in values})
    infos = []
    for index in sorted(experiment.trials):
        trial = experiment.trials[index]
        arm = getattr(trial, "arm", None)
        infos.append(
            _TrialInfo(
                index=index,
                status=trial.status.name,
                node=_node_name(trial),
                parameters=dict(arm.parameters) if arm is not None else {},
                value=float(values.get(index, math.nan)),
                reason=str(getattr(trial, "status_reason", None) or ""),
            )
        )
    return infos


def _status_counts(trials: Sequence[_TrialInfo]) -> str:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    return ", ".join(f"{n} {s.lower()}" for s, n in counts.items()) or "none"


def _best_trial_html(completed: Sequence[_TrialInfo], metric: str, minimize: bool) -> str:
    if not completed:
        return _note("No completed trial with a finite objective value yet.")
    pick = min if minimize else max
    best = pick(completed, key=lambda t: t.value)
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_format_value(v))}</td></tr>"
        for k, v in best.parameters.items()
    )
    return (
        f'<p>Trial <strong id="best-index">{best.index}</strong> (node '
        f"{html.escape(best.node)}): <code>{html.escape(metric)}</code> = "
        f'<strong id="best-value">{html.escape(_format_value(best.value))}</strong> '
        f"({'lowest' if minimize else 'highest'} of {len(completed)} completed trials).</p>"
        f'<table class="parameters"><tr><th>parameter</th><th>value</th></tr>{rows}</table>'
    )


def _trial_table_html(trials: Sequence[_TrialInfo], metric: str) -> str:
    names = list(dict.fromkeys(k for t in trials for k in t.parameters))
    head = "".join(
        f"<th>{html.escape(h)}</th>"
        for h in ["trial", "status", "node", *names, metric, "failure reason"]
    )
    body = []
    for t in trials:
        cells = [str(t.index), t.status, t.node]
        cells += [_format_value(t.parameters[n]) if n in t.parameters else "" for n in names]
        cells += ["" if math.isnan(t.value) else _format_value(t.value), t.reason]
        css = ' class="failed"' if t.status in ("FAILED", "ABANDONED") else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f'<table id="trial-table"><tr>{head}</tr>\n' + "\n".join(body) + "</table>"


# ---------------------------------------------------------------------- model and CV


def _fit_full_model(cv: Any, experiment: Any, fit_kwargs: dict[str, Any] | None) -> Any:
    """``ScalarChoiceGP`` fitted to the trials ``cv`` used, encoded the same way."""
    import torch
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from ax_ext.cross_validation.ax import experiment_data
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


def _model_and_cv_sections(
    client: Any, completed: Sequence[_TrialInfo], fit_kwargs: dict[str, Any] | None
) -> list[str]:
    from ax_ext.cross_validation import ax_cross_validation
    from ax_ext.cross_validation.ax import get_experiment
    from ax_ext.expressions import model_expression
    from ax_ext.plotting import fitting_trajectories, predicted_vs_observed

    if len(completed) < 2:
        note = _note(
            f"Needs at least 2 completed trials with a finite objective value, the study has "
            f"{len(completed)}."
        )
        return [
            _section("model", "Model expression", note),
            _section("cross-validation", "Cross-validation", note),
        ]
    # folds warm-started from the full-data fit only (as Ax's cross-validation does):
    # on small studies, extra cold starts cost 10-20x more and change little
    cv = ax_cross_validation(client, fit_kwargs=fit_kwargs, warm_start="full")
    model = _fit_full_model(cv, get_experiment(client), fit_kwargs)
    expression = model_expression(model)
    model_html = (
        _note(
            f"ScalarChoiceGP fitted to the {len(cv.trial_index)} completed trials "
            "(range parameters scaled to [0, 1], log-scale ones in log space, unordered "
            "choices one-hot)."
        )
        + f'<div id="model-expression">{expression._repr_html_()}</div>'
    )
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in cv.metrics.items())
    cv_html = [
        _note(
            f"Leave-one-out cross-validation, every fold refitted: {metrics}. "
            f"{len(cv.excluded)} trials left out (not completed or no finite value)."
        ),
        _figure_html(predicted_vs_observed(cv), "chart-predicted-vs-observed"),
    ]
    if cv.fold_fits:
        cv_html.append(_figure_html(fitting_trajectories(cv), "chart-fitting-trajectories"))
    else:
        cv_html.append(_note("No fitting trajectories: the fitter recorded no loss traces."))
    return [
        _section("model", "Model expression", model_html),
        _section("cross-validation", "Cross-validation", "\n".join(cv_html)),
    ]


# ---------------------------------------------------------------------------- playbook


def _isolation_parameter(experiment: Any, requested: str | None) -> str:
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


def _playbook_html(client: Any, completed: Sequence[_TrialInfo], parameter: str) -> str:
    from ax_ext.plotting import axis_plots, isolation_plot

    if not completed:
        return _note("Needs at least 1 completed trial with a finite objective value.")
    parts = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        axes = axis_plots(client)
    parts.append(_figure_html(axes, "chart-axis-plots"))
    for w in caught:
        if w.category.__name__ == "BoundaryWarning":
            parts.append(_note(f"Warning: {w.message}"))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    parts.append(_figure_html(isolation_plot(client, parameter), "chart-isolation-plot"))
    return "\n".join(parts)


# ---------------------------------------------------------------------- training curves


def _curves_html(client: Any, completed: Sequence[_TrialInfo], metric: str, minimize: bool) -> str:
    from ax_ext.plotting import training_curves
    from ax_ext.runner.study import trial_curves

    by_index = {t.index: t for t in completed}
    stored = trial_curves(client)
    curves = {i: c for i, c in stored.items() if i in by_index}
    if not curves:
        return _note(
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
    return "\n".join(parts)


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


def _why(node: str) -> str:
    from ax_ext.generation import BO_BUDGET_SPENT, BO_GATE_PASSED

    if node == BO_GATE_PASSED:
        return (
            "the leave-one-out quality gate passed: the model fitted to the Sobol trials "
            "predicted held-out trials well enough"
        )
    if node == BO_BUDGET_SPENT:
        return (
            "the Sobol budget was spent before the leave-one-out quality gate passed, so BO "
            "started anyway"
        )
    return "the Sobol node's transition criteria were met (enough Sobol / completed trials)"


def _strategy_html(client: Any, trials: Sequence[_TrialInfo]) -> str:
    from ax_ext.generation import SOBOL

    strategy = getattr(client, "_maybe_generation_strategy", None)
    name = getattr(strategy, "name", None) or "unknown"
    lines = [f"<p>Generation strategy: <code>{html.escape(str(name))}</code>.</p>"]
    if not trials:
        return "\n".join([*lines, _note("No trials yet.")])
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
            f"{html.escape(_why(first_bo.node))}.</p>"
        )
    criteria = _criteria_text(client)
    if criteria:
        lines.append(_note(f"Transition criteria: {criteria}."))
    rows = "".join(
        f"<tr><td>{html.escape(node)}</td><td>{n}</td></tr>" for node, n in counts.items()
    )
    lines.append(f'<table id="node-counts"><tr><th>node</th><th>trials</th></tr>{rows}</table>')
    return "\n".join(lines)
