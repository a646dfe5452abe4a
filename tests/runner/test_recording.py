"""Bad results from an evaluation fail that trial with a reason; the study goes on."""

import math

import numpy as np
import pytest
import torch
from ax.api.client import Client
from ax.core.base_trial import TrialStatus

from ax_ext.runner import get_problem, run_study
from ax_ext.runner.strategies import set_strategy
from tests.runner._slow_problem import BAD_MARKER_ENV


@pytest.fixture
def client():
    problem = get_problem("synthetic")
    client = Client(random_seed=0)
    client.configure_experiment(parameters=list(problem.parameters))
    client.configure_optimization(objective=problem.objective_expression)
    set_strategy(client, "sobol", 0)
    return client


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ({"loss": "0.5abc"}, "'loss' is '0.5abc' (str), not a real number"),
        ({"loss": True}, "'loss' is True (bool), not a real number"),
        ({"loss": np.bool_(False)}, "'loss' is np.False_ (bool), not a real number"),
        ({"loss": None}, "'loss' is None (NoneType), not a real number"),
        ({"loss": torch.tensor(0.5)}, "'loss' is tensor(0.5000) (Tensor), not a real number"),
        ({"loss": 0.5, "acc": "high"}, "'acc' is 'high' (str), not a real number"),
        ({"loss": (0.5, 0.1)}, "'loss' is (0.5, 0.1) (tuple), not a real number"),
        ({"loss": math.inf}, "'loss' is inf"),
        ({"accuracy": 0.9}, "no 'loss' in the result (keys ['accuracy'])"),
        (0.5, "expected a dict of metrics, got float 0.5"),
    ],
)
def test_a_result_that_is_not_real_numbers_fails_the_trial(client, result, reason):
    from ax_ext.runner._recording import record_result

    ((index, _),) = client.get_next_trials(max_trials=1).items()
    recorded = record_result(client, get_problem("synthetic"), index, result)
    trial = client._experiment.trials[index]
    assert recorded.value is None and recorded.reason == reason
    assert trial.status == TrialStatus.FAILED and trial.status_reason == reason


@pytest.mark.parametrize("value", [0.25, 1, np.float32(0.25), np.int64(3)])
def test_real_numbers_complete_the_trial(client, value):
    from ax_ext.runner._recording import record_result

    ((index, _),) = client.get_next_trials(max_trials=1).items()
    recorded = record_result(client, get_problem("synthetic"), index, {"loss": value})
    assert recorded.value == float(value)
    assert client._experiment.trials[index].status == TrialStatus.COMPLETED


def test_a_study_goes_on_after_a_string_objective_and_a_raising_evaluation(tmp_path, monkeypatch):
    monkeypatch.setenv(BAD_MARKER_ENV, str(tmp_path / "bad"))
    result = run_study(
        "tests.runner._slow_problem:bad_result_problem",
        trials=4,
        workers=1,
        storage_path=tmp_path / "bad.db",
        progress=False,
    )
    assert (result.completed, result.failed, result.interrupted) == (2, 2, 0)
    trials = result.client._experiment.trials
    assert [trials[i].status for i in (0, 1)] == [TrialStatus.FAILED] * 2
    assert trials[0].status_reason == "'loss' is '0.5abc' (str), not a real number"
    assert trials[1].status_reason == "TrialFailedError: training diverged"


def test_compare_records_results_as_tune_does(monkeypatch, tmp_path):
    from ax_ext.runner import compare_strategies

    monkeypatch.setenv(BAD_MARKER_ENV, str(tmp_path / "bad"))
    df = compare_strategies(
        "tests.runner._slow_problem:bad_result_problem", strategies=["sobol"], seeds=[0], trials=4
    )
    assert df["status"].tolist() == ["FAILED", "FAILED", "COMPLETED", "COMPLETED"]
    assert df["value"].iloc[:2].isna().all() and df["value"].iloc[2:].notna().all()
