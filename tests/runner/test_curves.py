"""Training curves: the evaluation convention, storage with the trial, resume."""

import json
import math
import sqlite3

import numpy as np
import pytest
from ax.core.base_trial import TrialStatus
from ax.exceptions.core import UserInputError

from ax_ext.runner import Problem, get_problem, register_problem, run_study
from ax_ext.runner.builtin_problems import digits_cnn_evaluate
from ax_ext.runner.problems import _REGISTRY, CURVES_KEY, split_result
from ax_ext.runner.report import load_study_client
from ax_ext.runner.study import _create_or_resume, trial_curves
from tests.runner._curves_problem import EPOCHS, fake_curves, synthetic_with_curves

TINY_CNN = {
    "lr": 3e-3,
    "weight_decay": 1e-4,
    "batch_size": 128,
    "epochs": 2,
    "channels1": 4,
    "channels2": 8,
    "dropout": 0.1,
    "pct_start": 0.3,
    "optimizer": "adam",
    "activation": "relu",
}


def test_digits_cnn_returns_one_curve_value_per_epoch():
    result = digits_cnn_evaluate(TINY_CNN, seed=0)
    metrics, curves = split_result(result)
    assert set(metrics) == {"val_loss", "val_accuracy", "train_loss", "train_seconds"}
    assert set(curves) == {"train_loss", "val_loss", "val_accuracy"}
    assert all(len(values) == 2 for values in curves.values())
    # the curves end at the scalars the study records
    for name in curves:
        assert curves[name][-1] == metrics[name]
    assert all(math.isfinite(v) for values in curves.values() for v in values)
    assert all(0 <= v <= 1 for v in curves["val_accuracy"])
    assert curves["train_loss"][1] < curves["train_loss"][0]  # it learns


def test_split_result_accepts_curves_in_the_documented_forms():
    assert split_result({"loss": 1.0}) == ({"loss": 1.0}, {})
    result = {
        "loss": 0.5,
        "acc": 0.9,
        CURVES_KEY: {
            "loss": [1.0, 0.5],
            "acc": np.array([0.8, 0.9], dtype=np.float32),
            "grad_norm": (3, math.nan, math.inf),  # a diverging run: non-finite is kept
            "lr": [],
        },
    }
    metrics, curves = split_result(result)
    assert metrics == {"loss": 0.5, "acc": 0.9}
    assert curves["loss"] == [1.0, 0.5] and curves["acc"] == pytest.approx([0.8, 0.9])
    assert curves["grad_norm"][0] == 3.0 and math.isnan(curves["grad_norm"][1])
    assert curves["grad_norm"][2] == math.inf and curves["lr"] == []
    assert all(type(v) is float for values in curves.values() for v in values)


@pytest.mark.parametrize(
    ("curves", "match"),
    [
        ([1.0, 2.0], r"result\['curves'\] to be a dict .*got list \[1\.0, 2\.0\]"),
        ({"": [1.0]}, r"curve names .* non-empty strings, got ''"),
        ({3: [1.0]}, r"curve names .* non-empty strings, got 3"),
        ({"loss": 0.5}, r"result\['curves'\]\['loss'\] to be a list of real numbers.*got float"),
        ({"loss": "0.5"}, r"\['loss'\] to be a list of real numbers.*got str '0\.5'"),
        ({"loss": [0.5, "x"]}, r"\['loss'\] to be a list of real numbers"),
        ({"loss": [[0.5], [0.4]]}, r"\['loss'\] to be a list of real numbers"),
        ({"loss": [True, False]}, r"\['loss'\] to be a list of real numbers"),
    ],
)
def test_malformed_curves_raise_a_clear_error(curves, match):
    with pytest.raises(UserInputError, match=match) as info:
        split_result({"loss": 0.1, CURVES_KEY: curves})
    assert "Return e.g." in str(info.value)  # says what to do


def test_curves_is_not_a_metric_name():
    with pytest.raises(UserInputError, match="reserved for training curves"):
        Problem(name="x", parameters=[], objective="curves", minimize=True, evaluate=print)


def test_malformed_curves_are_not_stored_and_the_trial_keeps_its_metrics(tmp_path, caplog):
    from ax_ext.runner._recording import record_result

    problem = get_problem("synthetic")
    client = _create_or_resume(problem, tmp_path / "s.db", 0, 5, None)
    ((index, params),) = client.get_next_trials(max_trials=1).items()
    result = {**problem.evaluate(params, 0), CURVES_KEY: {"loss": "bad"}}
    with caplog.at_level("WARNING", logger="ax_ext.runner._recording"):
        recorded = record_result(client, problem, index, result)
    assert recorded.value == result["loss"]
    assert client._experiment.trials[index].status == TrialStatus.COMPLETED
    assert "curves are not stored" in caplog.text and "['loss'] to be a list" in caplog.text
    # a result without a finite objective still fails the trial, curves or not
    ((index, _),) = client.get_next_trials(max_trials=1).items()
    bad = {"loss": math.nan, CURVES_KEY: {"loss": [1.0]}}
    assert record_result(client, problem, index, bad).value is None
    assert client._experiment.trials[index].status == TrialStatus.FAILED
    assert trial_curves(client) == {}


@pytest.fixture
def curves_problem():
    synthetic = get_problem("synthetic")
    problem = Problem(
        name="test-curves",
        parameters=synthetic.parameters,
        objective="loss",
        minimize=True,
        evaluate=synthetic_with_curves,
    )
    register_problem(problem, overwrite=True)
    yield problem
    _REGISTRY.pop("test-curves", None)


def _losses(client):
    df = client._experiment.lookup_data().df
    assert set(df["metric_name"]) == {"loss"}  # curves are not Ax data
    return dict(zip(df["trial_index"], df["mean"]))


def test_study_stores_curves_in_sqlite_and_keeps_them_on_resume(tmp_path, curves_problem):
    from ax_ext.runner._recording import record_result

    storage = tmp_path / "curves.db"
    first = run_study("test-curves", trials=2, workers=1, storage_path=storage, progress=False)
    assert first.completed == 2
    # in the SQLite file itself: the trial's run metadata (a JSON column)
    with sqlite3.connect(storage) as db:
        rows = db.execute('SELECT run_metadata FROM trial_v2 ORDER BY "index"').fetchall()
    stored = [json.loads(r[0])[CURVES_KEY] for r in rows]
    assert [len(c["val_loss"]) for c in stored] == [EPOCHS, EPOCHS]

    # a fresh client loaded from the storage has them, matching each trial's loss
    loaded = load_study_client(storage)
    curves = trial_curves(loaded)
    losses = _losses(loaded)
    assert sorted(curves) == [0, 1]
    for index, stored_curves in curves.items():
        expected = fake_curves(losses[index])
        assert set(stored_curves) == set(expected)
        for name, values in stored_curves.items():
            assert values == pytest.approx(expected[name], rel=1e-9)

    # resume in-process (no second Dask cluster): old curves kept, new trial's stored
    client = _create_or_resume(curves_problem, storage, 0, None, None)
    assert trial_curves(client) == curves
    ((index, params),) = client.get_next_trials(max_trials=1).items()
    record_result(client, curves_problem, index, synthetic_with_curves(params, 0))
    again = trial_curves(load_study_client(storage))
    assert sorted(again) == [0, 1, 2] and {i: again[i] for i in curves} == curves
