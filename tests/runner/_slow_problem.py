"""Test-only problems for subprocess and concurrency tests (imported by Dask workers).

* :func:`slow_problem`: the synthetic loss after sleeping ``AX_EXT_TEST_SLEEP``
  seconds (default 1), so a test can act while trials run;
* :func:`hang_once_problem`: the first evaluation (no marker file
  ``AX_EXT_TEST_HANG_MARKER`` yet) sleeps forever, the others return at once;
* :func:`bad_result_problem`: the first evaluation (no marker file
  ``AX_EXT_TEST_BAD_MARKER`` yet) returns ``{"loss": "0.5abc"}``, the second
  raises ``TrialFailedError``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ax_ext.runner.builtin_problems import synthetic_loss
from ax_ext.runner.problem import Problem, TrialFailedError

SLEEP_ENV = "AX_EXT_TEST_SLEEP"
HANG_MARKER_ENV = "AX_EXT_TEST_HANG_MARKER"
BAD_MARKER_ENV = "AX_EXT_TEST_BAD_MARKER"


def slow_loss(params: dict, seed: int = 0) -> dict[str, float]:
    time.sleep(float(os.environ.get(SLEEP_ENV, "1")))
    return synthetic_loss(params, seed)


def hang_once(params: dict, seed: int = 0) -> dict[str, float]:
    marker = Path(os.environ[HANG_MARKER_ENV])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        while True:
            time.sleep(1)
    return synthetic_loss(params, seed)


def bad_result_once(params: dict, seed: int = 0) -> dict:
    marker = Path(os.environ[BAD_MARKER_ENV])
    if not marker.exists():
        marker.write_text("bad")
        return {"loss": "0.5abc"}
    if marker.read_text() == "bad":
        marker.write_text("raised")
        raise TrialFailedError("training diverged")
    return synthetic_loss(params, seed)


def _like_synthetic(name: str, evaluate) -> Problem:
    from ax_ext.runner import get_problem

    return Problem(
        name=name,
        parameters=get_problem("synthetic").parameters,
        objective="loss",
        minimize=True,
        evaluate=evaluate,
    )


def slow_problem() -> Problem:
    return _like_synthetic("test-slow", slow_loss)


def hang_once_problem() -> Problem:
    return _like_synthetic("test-hang-once", hang_once)


def bad_result_problem() -> Problem:
    return _like_synthetic("test-bad-result", bad_result_once)
