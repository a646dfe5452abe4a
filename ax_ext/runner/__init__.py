"""Running tuning studies: problems, and studies on Dask distributed (``ax-ext tune``).

:mod:`ax_ext.runner.problems` holds the problems (and imports neither Ax nor Dask,
so Dask workers load it quickly); :func:`run_study` (in :mod:`ax_ext.runner.study`),
:func:`write_report` (:mod:`ax_ext.runner.report`) and :func:`compare_strategies` /
:func:`comparison_figure` (:mod:`ax_ext.runner.compare`) are imported on first access.
"""

from __future__ import annotations

from typing import Any

from ax_ext.runner.problems import (
    CURVES_KEY,
    Problem,
    TrialFailedError,
    get_problem,
    problem_names,
    register_problem,
    split_result,
)

__all__ = [
    "CURVES_KEY",
    "Problem",
    "StudyResult",
    "TrialFailedError",
    "compare_strategies",
    "comparison_figure",
    "get_problem",
    "problem_names",
    "register_problem",
    "run_study",
    "split_result",
    "trial_curves",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in ("run_study", "StudyResult", "trial_curves"):
        from ax_ext.runner import study

        return getattr(study, name)
    if name == "write_report":
        from ax_ext.runner import report

        return report.write_report
    if name in ("compare_strategies", "comparison_figure"):
        from ax_ext.runner import compare

        return getattr(compare, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
