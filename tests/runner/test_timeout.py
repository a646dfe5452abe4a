"""A trial that never returns: ``trial_timeout`` fails it and restarts its worker."""

import math
import time

import pytest
from ax.core.base_trial import TrialStatus
from ax.exceptions.core import UserInputError

from ax_ext.cli import main
from ax_ext.runner import run_study
from tests.runner._slow_problem import HANG_MARKER_ENV


def test_a_hung_trial_times_out_its_worker_restarts_and_the_study_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv(HANG_MARKER_ENV, str(tmp_path / "hung"))
    start = time.monotonic()
    result = run_study(
        "tests.runner._slow_problem:hang_once_problem",
        trials=3,
        workers=1,  # the only worker hangs: the study goes on only if it is restarted
        storage_path=tmp_path / "hang.db",
        progress=False,
        num_sobol_trials=5,
        trial_timeout=3,
    )
    assert time.monotonic() - start < 90
    assert (tmp_path / "hung").exists()
    assert (result.completed, result.failed, result.interrupted) == (2, 1, 0)
    (failed,) = [
        t for t in result.client._experiment.trials.values() if t.status == TrialStatus.FAILED
    ]
    assert failed.index == 0 and failed.status_reason == "timed out after 3 s"
    assert math.isfinite(result.best_value)


@pytest.mark.parametrize("timeout", [0, -5.0, math.nan, "10"])
def test_trial_timeout_must_be_a_positive_number(tmp_path, timeout):
    with pytest.raises(UserInputError, match=r"trial_timeout \(--trial-timeout\).*seconds"):
        run_study("synthetic", 2, 1, tmp_path / "s.db", progress=False, trial_timeout=timeout)
    assert not (tmp_path / "s.db").exists()


def test_cli_trial_timeout_is_checked(tmp_path, capsys):
    code = main(["tune", "synthetic", "--trial-timeout", "-1", "--storage", str(tmp_path / "s.db")])
    assert code == 2
    assert "Expected trial_timeout (--trial-timeout)" in capsys.readouterr().err
