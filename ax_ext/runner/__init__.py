"""Running tuning studies: problems, and studies on Dask distributed (``ax-ext tune``).

:mod:`ax_ext.runner.problems` holds the problems (and imports neither Ax nor Dask,
so Dask workers load it quickly); :func:`run_study` (in :mod:`ax_ext.runner.study`)
is imported on first access.
"""

from __future__ import annotations

from typing import Any

from ax_ext.runner.problems import (
    Problem,
    TrialFailedError,
    get_problem,
    problem_names,
    register_problem,
)

__all__ = [
    "Problem",
    "StudyResult",
    "TrialFailedError",
    "get_problem",
    "problem_names",
    "register_problem",
    "run_study",
]


def __getattr__(name: str) -> Any:
    if name in ("run_study", "StudyResult"):
        from ax_ext.runner import study

        return getattr(study, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
