"""An HTML report of a stored study (``ax-ext report``).

:func:`write_report` loads a study from Ax's SQL store and writes one
self-contained HTML page from a Jinja2 template (``templates/report.html.j2``):
first the findings (the best trial, or a multi-objective study's Pareto front; the
optimization history with where BO began; parameter importance from Ax's
sensitivity analysis and from the lengthscales; Ax's slice and contour plots of
the most important parameters; the playbook charts with boundary warnings; a
section per further objective), then the diagnostics (the
model expression of a ``ScalarChoiceGP`` fitted to the completed trials, the
cross-validation charts, the training curves the trials stored, how the
generation strategy went from Sobol to BO) and a sortable, filterable trial
table with each trial's start, end and duration. Each section opens with a
one-line plain reading. plotly.js is embedded once,
in the page's ``<head>``; every chart refers to it. Every string that comes from
the study (parameter names and values, failure reasons, node names) is
HTML-escaped.
"""

from __future__ import annotations

import logging
import math
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ax.exceptions.core import UserInputError

__all__ = ["REPORT_SECTIONS", "load_study_client", "write_report"]

logger = logging.getLogger(__name__)

#: ``id`` of each section of the report, in page order.
#: Findings first (what a user acts on), then the diagnostics (from ``"model"`` on).
REPORT_SECTIONS = (
    "best-trial",
    "history",
    "importance",
    "surfaces",
    "playbook",
    "model",
    "cross-validation",
    "training-curves",
    "strategy",
    "trials",
)
#: The page template (Jinja2), in ``ax_ext/runner/templates``.
TEMPLATE = "report.html.j2"


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

    The report has these sections (``id`` attributes in :data:`REPORT_SECTIONS`),
    the findings first: the best trial (parameters and value); the optimization
    history (:func:`~ax_ext.plotting.optimization_history`, where BO began
    marked); parameter importance (Ax's total-order sobol sensitivity of the full
    fit, :func:`~ax_ext.plotting.sensitivity_importance`, beside
    :func:`~ax_ext.plotting.parameter_importance` of its lengthscales, the
    parameters the prior decided marked); Ax's ``SlicePlot`` of the (up to) three
    most sensitive range or ordered parameters and ``ContourPlot`` of the top two
    range parameters, drawn from the full fit (loaded into the BO node's Ax
    adapter, not refitted); the playbook
    charts (:func:`~ax_ext.plotting.axis_plots` with any boundary warning above
    them, and an :func:`~ax_ext.plotting.isolation_plot`). Then the diagnostics:
    the model expression of a ``ScalarChoiceGP`` fitted to all completed trials
    (encoded as :func:`~ax_ext.cross_validation.ax_cross_validation` encodes
    them); the leave-one-out cross-validation charts
    (:func:`~ax_ext.plotting.predicted_vs_observed`,
    :func:`~ax_ext.plotting.fitting_trajectories`); the training curves of the
    completed trials (:func:`~ax_ext.plotting.training_curves`, see
    :func:`~ax_ext.runner.study.trial_curves`; a note for problems that return
    none); the strategy section (Sobol trials, when and why BO started); and the
    trial table (index, status, node, start, end, seconds, parameters, value,
    failure reason), sortable by heading and filterable. Each section opens with
    a one-line plain reading. Sections that need data say so when the study has
    too few completed trials (2 for the model, importance and cross-validation,
    1 for the history and playbook charts). The model is fitted once (plus the
    cross-validation's folds, warm-started from it). A multi-objective study
    opens with its Pareto front (Ax's ``ScatterPlot`` of each pair of
    objectives with the frontier, a table of the Pareto-optimal trials); the
    sections above are the first objective's, then a section per further
    objective (history, importance, surfaces, cross-validation), and the trial
    table has a column per objective.

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

    from ax_ext.adapter import default_metric_name, get_experiment, objective_minimizes
    from ax_ext.extras import require
    from ax_ext.runner import _report_model, _report_pareto
    from ax_ext.runner import _report_parts as parts

    jinja2 = require("jinja2", "runner", "ax-ext report")
    experiment = get_experiment(client)
    goals = _report_pareto.objectives(experiment)
    metric = next(iter(goals)) if goals else default_metric_name(experiment)
    minimize = goals.get(metric, objective_minimizes(experiment, metric))
    minimize = True if minimize is None else minimize
    trials = parts.trial_infos(experiment, metric)
    completed = [t for t in trials if t.status == "COMPLETED" and math.isfinite(t.value)]
    parameter = parts.isolation_parameter(experiment, isolation_parameter)
    # a multi-objective study: the Pareto front first, a section per further objective
    others = {m: parts.trial_infos(experiment, m) for m in list(goals)[1:]}
    done = {
        m: [t for t in ts if t.status == "COMPLETED" and math.isfinite(t.value)]
        for m, ts in others.items()
    }
    values = {m: {t.index: t.value for t in ts} for m, ts in {metric: completed, **done}.items()}
    suffix = f" ({metric})" if others else ""

    built = {
        "best-trial": (
            "Pareto front" if others else "Best trial",
            _report_pareto.pareto_section(experiment, completed, values, goals)
            if others
            else parts.best_trial_section(completed, metric, minimize),
        ),
        "history": (
            f"Optimization history{suffix}",
            parts.history_section(client, completed, metric, minimize),
        ),
        "playbook": (
            f"Playbook charts: each parameter, and boundary warnings{suffix}",
            parts.playbook_section(client, completed, parameter, metric, minimize=minimize),
        ),
    }
    model_cv = _report_model.model_and_cv_sections(client, completed, fit_kwargs, metric)
    built["importance"] = (f"Parameter importance{suffix}", model_cv["importance"])
    built["surfaces"] = (
        f"Model surfaces: slice and contour plots{suffix}",
        model_cv["surfaces"],
    )
    built["model"] = (f"Model expression{suffix}", model_cv["model"])
    built["cross-validation"] = (f"Cross-validation{suffix}", model_cv["cross-validation"])
    built["training-curves"] = (
        "Training curves",
        parts.curves_section(client, completed, metric, minimize),
    )
    built["strategy"] = ("Strategy: Sobol, then BO", parts.strategy_section(client, trials))
    built["trials"] = (
        "Trials",
        (f"All {len(trials)} trials, with when each ran and how long it took.", ""),
    )
    order = list(REPORT_SECTIONS)
    for k, other in enumerate(others, start=2):
        key = f"objective-{k}"
        order.insert(order.index("model"), key)
        built[key] = (
            f"Objective {other}",
            _report_pareto.objective_section(
                client, other, goals[other], done[other], fit_kwargs, f"-{k}"
            ),
        )
    sections = [
        {"id": key, "heading": built[key][0], "reading": built[key][1][0], "body": built[key][1][1]}
        for key in order
    ]
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("ax_ext.runner", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
    )
    return environment.get_template(TEMPLATE).render(
        title=f"ax_ext study report: {experiment.name}",
        plotlyjs=get_plotlyjs(),
        storage=storage,
        objectives=", ".join(
            f"{m} ({'minimized' if v else 'maximized'})"
            for m, v in (goals or {metric: minimize}).items()
        ),
        n_trials=len(trials),
        counts=parts.status_counts(trials),
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
        first_diagnostic="model",
        table=parts.trial_table(trials, metric, {m: values[m] for m in others}),
    )
