"""``ax-ext compare`` with Optuna's samplers, and on problems whose results carry curves."""

import math
import sys

import numpy as np
import pytest
from ax.exceptions.core import UserInputError

from ax_ext.cli import main
from ax_ext.runner import Problem, TrialFailedError, get_problem
from ax_ext.runner.builtin_problems import synthetic_loss
from ax_ext.runner.compare import COLUMNS, compare_strategies
from ax_ext.runner.optuna_strategies import optuna_distributions
from tests.runner._curves_problem import synthetic_with_curves

optuna = pytest.importorskip("optuna")


def test_optuna_distributions_mirror_the_ax_search_space():
    dists = optuna_distributions(get_problem("sklearn-gb"))
    assert isinstance(dists["learning_rate"], optuna.distributions.FloatDistribution)
    assert (dists["learning_rate"].low, dists["learning_rate"].high) == (0.01, 1.0)
    assert dists["learning_rate"].log
    assert isinstance(dists["max_iter"], optuna.distributions.IntDistribution)
    assert (dists["max_iter"].low, dists["max_iter"].high, dists["max_iter"].log) == (10, 200, True)
    assert not dists["max_features"].log
    assert dists["class_weight"].choices == ("none", "balanced")


@pytest.mark.parametrize(("strategy", "sampler"), [("optuna-tpe", "TPESampler")])
def test_optuna_strategy_runs_seeded_and_switches_from_startup(strategy, sampler):
    df = compare_strategies("synthetic", strategies=[strategy], seeds=[0, 1], trials=12)
    assert list(df.columns) == list(COLUMNS) and len(df) == 2 * 12
    for _, run in df.groupby("seed"):
        assert run["node"].tolist() == ["startup"] * 10 + [sampler] * 2  # Optuna's 10 random
        assert (run["status"] == "COMPLETED").all()
        values = run["value"].to_numpy()
        assert (values >= 0).all()  # the synthetic optimum is 0
        np.testing.assert_allclose(run["best_so_far"], np.minimum.accumulate(values))
    assert (df["generation_seconds"] >= 0).all()
    seed0 = df[df["seed"] == 0]["value"].tolist()
    assert seed0 != df[df["seed"] == 1]["value"].tolist()
    again = compare_strategies("synthetic", strategies=[strategy], seeds=[0], trials=12)
    assert again["value"].tolist() == seed0  # the seed fixes the sampler


def test_optuna_gp_proposes_after_its_startup_trials():
    df = compare_strategies("synthetic", strategies=["optuna-gp"], seeds=[0], trials=11)
    assert df["node"].tolist() == ["startup"] * 10 + ["GPSampler"]
    assert (df["status"] == "COMPLETED").all()


def _fails_right_half(params, seed=0):
    if params["x"] > 0.5:
        raise TrialFailedError("x above 0.5 diverges")
    return synthetic_loss(params, seed)


def test_optuna_strategy_records_failed_trials_as_failed():
    problem = get_problem("synthetic")
    flaky = Problem(
        name="flaky",
        parameters=problem.parameters,
        objective="loss",
        minimize=True,
        evaluate=_fails_right_half,
    )
    df = compare_strategies(flaky, strategies=["optuna-tpe"], seeds=[0], trials=14)
    failed = df[df["status"] == "FAILED"]
    assert len(failed) > 0 and failed["value"].isna().all()
    assert len(df) == 14  # Optuna was told FAIL and kept proposing
    assert math.isfinite(df["best_so_far"].iloc[-1])


def test_an_optuna_strategy_without_optuna_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
    with pytest.raises(UserInputError, match=r"Optuna to be installed.*ax-ext\[bench\]"):
        compare_strategies("synthetic", strategies=["sobol", "optuna-gp"], trials=2)
    out, csv = tmp_path / "c.html", tmp_path / "c.csv"
    argv = ["compare", "synthetic", "--strategies", "sobol", "optuna-tpe", "--trials", "2"]
    assert main([*argv, "--out", str(out), "--csv", str(csv), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ax-ext compare: error: Expected Optuna to be installed")
    assert "Traceback" not in err
    assert not out.exists() and not csv.exists()  # nothing ran, nothing written


@pytest.mark.parametrize("strategy", ["sobol", "optuna-tpe"])
def test_compare_records_a_problem_whose_results_carry_curves(strategy):
    # issue 18: compare did float(v) on every value of a result, "curves" too
    problem = get_problem("synthetic")
    curvy = Problem(
        name="curvy",
        parameters=problem.parameters,
        objective="loss",
        minimize=True,
        evaluate=synthetic_with_curves,
    )
    df = compare_strategies(curvy, strategies=[strategy], seeds=[0], trials=3)
    assert (df["status"] == "COMPLETED").all()
    assert np.isfinite(df["value"]).all()


def test_cli_compare_runs_digits_cnn_which_returns_training_curves(tmp_path, capsys):
    out = tmp_path / "c.html"
    argv = ["compare", "digits-cnn", "--strategies", "sobol", "--trials", "2", "--seeds", "0"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Best val_loss after 2 trials" in printed and out.exists()
