"""Every argument is checked before anything is written; a study is created whole or not at all."""

import sqlite3

import pytest
from ax.storage.sqa_store.save import save_experiment

from ax_ext.cli import main
from ax_ext.generation import sqlite_storage_config
from ax_ext.runner import get_problem
from ax_ext.runner.study import _create_or_resume


def _dump(path):
    """Every row of every table: what a rejected command must leave unchanged."""
    if not path.exists():
        return None
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def _experiments(path):
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        try:
            return [r[0] for r in db.execute("SELECT name FROM experiment_v2")]
        except sqlite3.OperationalError:  # no Ax tables
            return []


NEW_STUDY_REJECTED = [
    ["--sobol", "-1"],
    ["--sobol", "0"],
    ["--strategy", "sobol", "--sobol", "-1"],
    ["--workers", "0"],
    ["--worker-threads", "0"],
    ["--trials", "0"],
    ["--trial-timeout", "0"],
    ["--heartbeat-timeout", "-3"],
]


@pytest.mark.parametrize("extra", NEW_STUDY_REJECTED, ids=" ".join)
def test_a_rejected_command_writes_no_study(tmp_path, capsys, extra):
    storage = tmp_path / "a.db"
    assert main(["tune", "synthetic", "--storage", str(storage), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ax-ext tune: error: Expected") and "Traceback" not in err
    assert _experiments(storage) == []


@pytest.mark.parametrize(
    "extra",
    [*NEW_STUDY_REJECTED, ["--trials", "1"]],
    ids=lambda extra: " ".join(extra),
)
def test_a_rejected_command_leaves_a_stored_study_unchanged(tmp_path, capsys, extra):
    storage = tmp_path / "a.db"
    problem = get_problem("synthetic")
    client = _create_or_resume(problem, storage, seed=0, num_sobol_trials=5, optimizer_kwargs=None)
    for index, params in client.get_next_trials(max_trials=2).items():
        client.complete_trial(index, raw_data=problem.evaluate(params, 0))
    client.get_next_trials(max_trials=1)  # left running, as by a killed process
    before = _dump(storage)
    assert main(["tune", "synthetic", "--storage", str(storage), *extra]) == 2
    assert "error: Expected" in capsys.readouterr().err
    assert _dump(storage) == before


def test_another_problems_storage_is_left_unchanged(tmp_path, capsys):
    storage = tmp_path / "a.db"
    _create_or_resume(get_problem("synthetic"), storage, 0, 5, None)
    before = _dump(storage)
    assert main(["tune", "sklearn-gb", "--storage", str(storage)]) == 2
    assert "holds a study of ['synthetic']" in capsys.readouterr().err
    assert _dump(storage) == before


def test_a_resumed_study_says_when_its_stored_strategy_differs(tmp_path, caplog):
    storage = tmp_path / "a.db"
    problem = get_problem("synthetic")
    _create_or_resume(problem, storage, seed=0, num_sobol_trials=5, optimizer_kwargs=None)
    with caplog.at_level("WARNING", logger="ax_ext.runner._session"):
        _create_or_resume(problem, storage, 0, 5, None)  # the same options: nothing to say
    assert caplog.text == ""
    with caplog.at_level("WARNING", logger="ax_ext.runner._session"):
        client = _create_or_resume(problem, storage, 0, 8, None, strategy="ax-default")
    assert "keeps its own generation strategy 'Sobol(5)+ScalarChoiceGP'" in caplog.text
    assert "strategy: stored 'ax_ext', asked for 'ax-default'" in caplog.text
    assert "sobol: stored 5, asked for 8" in caplog.text
    assert client._generation_strategy.name == "Sobol(5)+ScalarChoiceGP"


def test_a_half_created_study_gets_the_commands_strategy(tmp_path, caplog):
    # what ax_ext <= 0.1 left after `tune --sobol -1`: an experiment, no strategy
    from ax_ext.runner.study import _new_client

    storage = tmp_path / "a.db"
    new = _new_client(get_problem("synthetic"), 0, None, 5, None)
    sqlite_storage_config(storage)
    save_experiment(new._experiment)
    with caplog.at_level("WARNING", logger="ax_ext.runner._session"):
        client = _create_or_resume(get_problem("synthetic"), storage, 0, 4, None)
    assert "had no generation strategy and no trials" in caplog.text
    assert client._generation_strategy.name == "Sobol(4)+ScalarChoiceGP"
    reloaded = _create_or_resume(get_problem("synthetic"), storage, 0, None, None)
    assert reloaded._generation_strategy.name == "Sobol(4)+ScalarChoiceGP"


def test_short_bo_warning_advice():
    from ax_ext.generation import sobol_then_bo
    from ax_ext.runner.strategies import pure_sobol_strategy, short_bo_warning

    strategy = sobol_then_bo(num_sobol_trials=10)
    assert short_bo_warning(strategy, 15) is None  # 5 of 15 is a third
    message = short_bo_warning(strategy, 12)
    assert message.startswith("Only 2 of the 12 trials will be BO: the first 10 are")
    assert "pass --sobol 6 (BO then runs 6) or raise --trials" in message
    assert "raise --trials to 3 or more" in short_bo_warning(sobol_then_bo(num_sobol_trials=2), 2)
    assert short_bo_warning(pure_sobol_strategy(0), 5) is None  # nothing to say of no BO
