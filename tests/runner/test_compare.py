import math

import numpy as np
import pandas as pd
import pytest
from ax.exceptions.core import UserInputError

from ax_ext.cli import FAST_ACQF, main
from ax_ext.runner.compare import (
    COLUMNS,
    compare_strategies,
    comparison_figure,
    write_comparison,
)


@pytest.fixture(scope="module")
def frame():
    """ax_ext's strategy (2 Sobol trials, then BO) and pure Sobol, 2 seeds x 4 trials."""
    return compare_strategies(
        "synthetic",
        strategies=("ax_ext", "sobol"),
        seeds=(0, 1),
        trials=4,
        num_sobol_trials=2,
        optimizer_kwargs=FAST_ACQF,
    )


def test_compare_returns_one_row_per_trial(frame):
    df = frame
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 2 * 2 * 4
    assert df.attrs == {"problem": "synthetic", "objective": "loss", "minimize": True}
    for _, run in df.groupby(["strategy", "seed"], sort=False):
        assert run["trial"].tolist() == [1, 2, 3, 4]
        assert (run["status"] == "COMPLETED").all()
        values = run["value"].to_numpy()
        assert np.isfinite(values).all() and (values >= 0).all()  # optimum 0
        np.testing.assert_allclose(run["best_so_far"], np.minimum.accumulate(values))
    nodes = df.groupby("strategy")["node"].agg(list)
    assert nodes["ax_ext"][:2] == ["Sobol", "Sobol"] and "BO" in nodes["ax_ext"]
    assert set(nodes["sobol"]) == {"Sobol"}  # pure Sobol, no center point
    # seeds change the trials
    sobol = df[df["strategy"] == "sobol"]
    assert (
        sobol[sobol["seed"] == 0]["value"].tolist() != sobol[sobol["seed"] == 1]["value"].tolist()
    )
    assert (df["generation_seconds"] >= 0).all()


def test_comparison_figure_is_median_with_min_max_band(frame, tmp_path):
    df = frame
    fig = comparison_figure(df)
    names = [t.name for t in fig.data]
    assert names == ["ax_ext max", "ax_ext min", "ax_ext", "sobol max", "sobol min", "sobol"]
    for strategy in ("ax_ext", "sobol"):
        wide = df[df["strategy"] == strategy].pivot(
            index="trial", columns="seed", values="best_so_far"
        )
        traces = {t.name: t for t in fig.data if t.legendgroup == strategy}
        assert list(traces[strategy].x) == [1, 2, 3, 4]
        np.testing.assert_allclose(traces[strategy].y, wide.median(axis=1))
        np.testing.assert_allclose(traces[f"{strategy} max"].y, wide.max(axis=1))
        np.testing.assert_allclose(traces[f"{strategy} min"].y, wide.min(axis=1))
        assert traces[f"{strategy} min"].fill == "tonexty"
        assert traces[f"{strategy} max"].showlegend is False
    assert fig.layout.xaxis.title.text == "trials"
    assert "lower is better" in fig.layout.yaxis.title.text
    out = write_comparison(df, tmp_path / "compare.html")
    page = out.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot(") == 1 and "ax_ext max" in page


def test_compare_ax_default_runs_axs_initialization():
    df = compare_strategies("synthetic", strategies=["ax-default"], seeds=[3], trials=2)
    assert df["strategy"].unique().tolist() == ["ax-default"]
    assert df["seed"].unique().tolist() == [3]
    assert df["node"].tolist() == ["CenterOfSearchSpace", "Sobol"]  # Ax's default start
    assert math.isfinite(df["best_so_far"].iloc[-1])


@pytest.mark.slow
def test_compare_ax_default_reaches_axs_bo():
    df = compare_strategies(
        "synthetic", strategies=["ax-default"], seeds=[3], trials=3, num_sobol_trials=2
    )
    assert df["node"].tolist()[:2] == ["CenterOfSearchSpace", "Sobol"]
    assert df["node"].iloc[-1] not in ("Sobol", "CenterOfSearchSpace")  # Ax's BO node
    assert df["best_so_far"].iloc[-1] <= df["value"].iloc[0]


def test_compare_bad_inputs():
    with pytest.raises(UserInputError, match=r"strategies from .*unknown: \['optuna'\]"):
        compare_strategies("synthetic", strategies=["sobol", "optuna"], trials=2)
    with pytest.raises(UserInputError, match="got the string 'sobol'"):
        compare_strategies("synthetic", strategies="sobol", trials=2)
    with pytest.raises(UserInputError, match=r"trials to be an integer >= 1.*got 0"):
        compare_strategies("synthetic", strategies=["sobol"], trials=0)
    with pytest.raises(UserInputError, match="at least one integer seed"):
        compare_strategies("synthetic", strategies=["sobol"], seeds=[], trials=2)
    with pytest.raises(UserInputError, match="registered problem name"):
        compare_strategies("no-such-problem", strategies=["sobol"], trials=2)
    with pytest.raises(UserInputError, match="missing"):
        comparison_figure(pd.DataFrame({"strategy": ["a"], "trial": [1]}))


def test_cli_compare(tmp_path, capsys):
    out, csv = tmp_path / "c.html", tmp_path / "c.csv"
    args = ["compare", "synthetic", "--strategies", "sobol", "--seeds", "0", "1"]
    args += ["--trials", "3", "--out", str(out), "--csv", str(csv), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Best loss after 3 trials" in printed and "sobol" in printed
    assert out.exists() and len(csv.read_text().splitlines()) == 1 + 2 * 3
    bad = ["compare", "synthetic", "--strategies", "sobol", "hyperopt", "--out", str(out)]
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert err.startswith("ax-ext compare: error: Expected strategies from")
    assert "hyperopt" in err


@pytest.mark.parametrize("sobol", ["-1", "0"])
def test_cli_compare_rejects_a_bad_sobol_whatever_the_strategies(tmp_path, capsys, sobol):
    out = tmp_path / "c.html"
    argv = ["compare", "synthetic", "--strategies", "sobol", "--sobol", sobol]
    assert main([*argv, "--trials", "2", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ax-ext compare: error: Expected num_sobol_trials (--sobol")
    assert f"got {sobol}" in err and not out.exists()


def test_the_sobol_baseline_is_pure_sobol_without_the_center_point():
    df = compare_strategies("synthetic", strategies=["sobol"], seeds=[0], trials=2)
    assert df["node"].tolist() == ["Sobol", "Sobol"]
    from ax.api.client import Client

    from ax_ext.runner import get_problem
    from ax_ext.runner.strategies import set_strategy

    client = Client(random_seed=0)
    client.configure_experiment(parameters=list(get_problem("synthetic").parameters))
    client.configure_optimization(objective="-loss")
    set_strategy(client, "sobol", seed=0)
    ((_, first),) = client.get_next_trials(max_trials=1).items()
    assert (first["x"], first["y"]) != (0.5, 0.0)  # not the center of x in [0, 1], y in [-1, 1]


def _interrupt_on_third(params, seed=0):
    """The synthetic loss; the third call raises KeyboardInterrupt (a Ctrl-C mid-trial)."""
    from ax_ext.runner.builtin_problems import synthetic_loss

    _interrupt_on_third.calls += 1
    if _interrupt_on_third.calls == 3:
        raise KeyboardInterrupt
    return synthetic_loss(params, seed)


def test_an_interrupted_compare_keeps_its_csv_and_chart(tmp_path, capsys):
    from dataclasses import replace

    from ax_ext.runner import get_problem, register_problem

    _interrupt_on_third.calls = 0
    problem = replace(
        get_problem("synthetic"), name="synthetic-ctrl-c", evaluate=_interrupt_on_third
    )
    register_problem(problem, overwrite=True)
    out, csv = tmp_path / "c.html", tmp_path / "c.csv"
    argv = ["compare", "synthetic-ctrl-c", "--strategies", "sobol", "--seeds", "0"]
    code = main([*argv, "--trials", "5", "--out", str(out), "--csv", str(csv), "--no-progress"])
    assert code == 130
    err = capsys.readouterr().err
    assert "wrote the 2 trials that finished" in err and str(out) in err and str(csv) in err
    rows = pd.read_csv(csv)
    assert rows["trial"].tolist() == [1, 2] and list(rows.columns) == list(COLUMNS)
    html = out.read_text()
    assert "plotly" in html and '"sobol"' in html


def test_compare_writes_each_row_to_the_csv_as_its_trial_finishes(tmp_path):
    csv = tmp_path / "rows.csv"
    seen = []

    def evaluate(params, seed=0):
        from ax_ext.runner.builtin_problems import synthetic_loss

        seen.append(len(csv.read_text().splitlines()))  # header + the rows written so far
        return synthetic_loss(params, seed)

    from dataclasses import replace

    from ax_ext.runner import get_problem

    problem = replace(get_problem("synthetic"), evaluate=evaluate)
    df = compare_strategies(problem, strategies=["sobol"], seeds=[0], trials=3, csv_path=csv)
    assert seen == [1, 2, 3]
    assert len(pd.read_csv(csv)) == len(df) == 3
    with pytest.raises(UserInputError, match="CSV file's folder to exist"):
        compare_strategies(
            problem, strategies=["sobol"], trials=1, csv_path=tmp_path / "no" / "x.csv"
        )
