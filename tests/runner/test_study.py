import math

import pytest
from ax.core.base_trial import TrialStatus
from ax.exceptions.core import UserInputError

from ax_ext.cli import FAST_ACQF
from ax_ext.runner import Problem, get_problem, register_problem, run_study
from ax_ext.runner.problems import _REGISTRY
from ax_ext.runner.study import _create_or_resume, experiment_name_for
from tests.runner._crash_problem import MARKER_ENV, crash_once


def _nodes(client):
    experiment = client._experiment
    return [t.generator_runs[0]._generation_node_name for t in experiment.trials.values()]


def test_synthetic_study_on_two_local_workers_reaches_bo(tmp_path):
    storage = tmp_path / "study.db"
    result = run_study(
        "synthetic",
        trials=7,
        workers=2,
        storage_path=storage,
        seed=0,
        progress=False,
        num_sobol_trials=5,
        optimizer_kwargs=FAST_ACQF,
    )
    assert (result.completed, result.failed, result.interrupted) == (7, 0, 0)
    assert result.new_trials == 7
    assert _nodes(result.client) == ["Sobol"] * 5 + ["BO"] * 2
    losses = {
        i: get_problem("synthetic").evaluate(t.arm.parameters, 0)["loss"]
        for i, t in result.client._experiment.trials.items()
    }
    assert result.best_value == pytest.approx(min(losses.values()))
    assert result.best_index == min(losses, key=losses.get)
    assert result.client._experiment.name == "ax_ext:synthetic"
    assert len(result.generation_seconds) >= 3
    # the same storage, nothing more to do: no cluster is started, the study is unchanged
    again = run_study("synthetic", trials=7, workers=1, storage_path=storage, progress=False)
    assert (again.completed, again.new_trials, again.best_index) == (7, 0, result.best_index)


def test_worker_killed_mid_trial_fails_that_trial_and_the_study_continues(tmp_path, monkeypatch):
    monkeypatch.setenv(MARKER_ENV, str(tmp_path / "crashed"))
    synthetic = get_problem("synthetic")
    problem = Problem(
        name="test-crash-once",
        parameters=synthetic.parameters,
        objective="loss",
        minimize=True,
        evaluate=crash_once,
    )
    register_problem(problem, overwrite=True)
    try:
        result = run_study(
            "test-crash-once",
            trials=4,
            workers=2,
            storage_path=tmp_path / "crash.db",
            progress=False,
            num_sobol_trials=5,
        )
    finally:
        _REGISTRY.pop("test-crash-once", None)
    assert (tmp_path / "crashed").exists()
    assert (result.completed, result.failed, result.interrupted) == (3, 1, 0)
    trials = result.client._experiment.trials.values()
    (failed,) = [t for t in trials if t.status == TrialStatus.FAILED]
    assert "worker died" in failed.status_reason
    assert math.isfinite(result.best_value)


def _study_with_two_completed_trials(path):
    problem = get_problem("synthetic")
    client = _create_or_resume(problem, path, seed=0, num_sobol_trials=5, optimizer_kwargs=None)
    for index, params in client.get_next_trials(max_trials=2).items():
        client.complete_trial(index, raw_data=problem.evaluate(params, 0))
    return client


def test_bad_inputs_raise_clear_errors_before_starting_dask(tmp_path):
    storage = tmp_path / "study.db"
    with pytest.raises(UserInputError, match=r"workers to be an integer >= 1.*got 0"):
        run_study("synthetic", trials=5, workers=0, storage_path=storage)
    with pytest.raises(UserInputError, match=r"trials to be an integer >= 1.*got -3"):
        run_study("synthetic", trials=-3, workers=1, storage_path=storage)
    with pytest.raises(UserInputError, match="registered problem name"):
        run_study("no-such-problem", trials=5, workers=1, storage_path=storage)
    with pytest.raises(UserInputError, match=r"ending in \.db.*got '.*study\.txt'"):
        run_study("synthetic", trials=5, workers=1, storage_path=tmp_path / "study.txt")
    with pytest.raises(UserInputError, match="folder to exist"):
        run_study("synthetic", trials=5, workers=1, storage_path=tmp_path / "no" / "s.db")
    with pytest.raises(UserInputError, match="SQLAlchemy URL"):
        run_study("synthetic", trials=5, workers=1, storage_path="nosuchdialect://x/y")
    with pytest.raises(UserInputError, match=r"strategy from \['ax_ext', 'ax-default', 'sobol'\]"):
        run_study("synthetic", trials=5, workers=1, storage_path=storage, strategy="tpe")

    client = _study_with_two_completed_trials(storage)
    assert client._experiment.name == experiment_name_for(get_problem("synthetic"))
    with pytest.raises(UserInputError, match=r"trials >= the 2 trials already finished.*got 1"):
        run_study("synthetic", trials=1, workers=1, storage_path=storage)
    with pytest.raises(UserInputError, match=r"holds a study of \['synthetic'\].*'sklearn-gb'"):
        run_study("sklearn-gb", trials=5, workers=1, storage_path=storage)


def test_resume_marks_running_trials_interrupted_and_keeps_the_rest(tmp_path):
    storage = tmp_path / "study.db"
    client = _study_with_two_completed_trials(storage)
    (running,) = client.get_next_trials(max_trials=1)  # left RUNNING, as by a killed process
    result = run_study("synthetic", trials=2, workers=1, storage_path=storage, progress=False)
    assert (result.completed, result.failed, result.interrupted, result.new_trials) == (
        2,
        0,
        1,
        0,
    )
    trial = result.client._experiment.trials[running]
    assert trial.status == TrialStatus.FAILED and trial.status_reason == "interrupted"


@pytest.mark.parametrize(("strategy", "last_node"), [("ax-default", "MBM"), ("sobol", "Sobol")])
def test_other_strategies_are_stored_and_kept_on_resume(tmp_path, strategy, last_node):
    problem = get_problem("synthetic")
    path = tmp_path / "study.db"
    client = _create_or_resume(
        problem, path, seed=0, num_sobol_trials=5, optimizer_kwargs=None, strategy=strategy
    )
    names = [node.name for node in client._generation_strategy._nodes]
    assert names[-1] == last_node
    # a resumed study keeps the stored strategy, whatever is asked for now
    resumed = _create_or_resume(problem, path, seed=0, num_sobol_trials=5, optimizer_kwargs=None)
    assert [node.name for node in resumed._generation_strategy._nodes] == names
