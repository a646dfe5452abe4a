"""Multi-objective studies: declared on the Problem, run by ``ax-ext tune``, stored, reported."""

from __future__ import annotations

import contextlib
import io
import math
import re

import pytest
from ax.exceptions.core import UserInputError

from ax_ext.cli import FAST_FIT, main
from ax_ext.runner import Problem, get_problem
from ax_ext.runner._recording import result_problem
from ax_ext.runner._report_pareto import objectives, pareto_indices
from ax_ext.runner.builtin_moo import synthetic_moo
from ax_ext.runner.report import load_study_client, write_report


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """``ax-ext tune synthetic-moo``: 5 Sobol trials, then 1 BO trial; and its report."""
    folder = tmp_path_factory.mktemp("moo")
    storage = folder / "moo.db"
    argv = ["tune", "synthetic-moo", "--trials", "6", "--sobol", "5", "--storage", str(storage)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([*argv, "--fast-acqf", "--no-progress"]) == 0
    assert "the report shows the Pareto front of loss, cost" in printed.getvalue()
    out = write_report(storage, folder / "moo.html", fit_kwargs=FAST_FIT)
    return storage, out


def test_a_problem_declares_several_objectives():
    problem = get_problem("synthetic-moo")
    assert problem.objectives == {"loss": True, "cost": True}
    assert problem.objective_expression == "-loss, -cost"
    both = Problem("p", [], "acc", False, synthetic_moo, other_objectives={"loss": True})
    assert both.objective_expression == "acc, -loss"
    with pytest.raises(UserInputError, match="other_objectives without the objective 'acc'"):
        Problem("p", [], "acc", False, synthetic_moo, other_objectives={"acc": True})
    with pytest.raises(UserInputError, match="map metric names to minimize"):
        Problem("p", [], "acc", False, synthetic_moo, other_objectives={"loss": "min"})
    with pytest.raises(UserInputError, match="reserved for training curves"):
        Problem("p", [], "acc", False, synthetic_moo, other_objectives={"curves": True})


def test_every_objective_must_be_returned_and_finite():
    problem = get_problem("synthetic-moo")
    assert result_problem(problem, {"loss": 1.0, "cost": 2.0})[0] == {"loss": 1.0, "cost": 2.0}
    assert result_problem(problem, {"loss": 1.0}) == (
        None,
        "no 'cost' in the result (keys ['loss'])",
    )
    assert result_problem(problem, {"loss": 1.0, "cost": math.nan}) == (None, "'cost' is nan")


def test_pareto_indices_keep_the_trials_nothing_beats_in_every_objective():
    values = {"loss": {0: 1.0, 1: 2.0, 2: 3.0, 3: 1.5}, "acc": {0: 0.5, 1: 0.9, 2: 0.8, 3: 0.4}}
    # trial 2 is beaten by 1 in both; trial 3 by 0 in both
    assert pareto_indices(values, {"loss": True, "acc": False}) == [0, 1]
    assert pareto_indices(values, {"loss": False, "acc": False}) == [1, 2]


def test_the_study_runs_multi_objective_bo_and_round_trips_through_storage(study):
    storage, _ = study
    client = load_study_client(storage)
    experiment = client._experiment
    assert objectives(experiment) == {"loss": True, "cost": True}
    nodes = [t.generator_runs[0]._generation_node_name for t in experiment.trials.values()]
    assert nodes == ["Sobol"] * 5 + ["BO"]
    df = experiment.lookup_data().df
    assert set(df["metric_name"]) == {"loss", "cost"} and len(df) == 12
    for trial in experiment.trials.values():  # the stored values are the evaluation's
        rows = df[df["trial_index"] == trial.index]
        got = dict(zip(rows["metric_name"], rows["mean"]))
        assert got == pytest.approx(synthetic_moo(dict(trial.arm.parameters)))


def test_the_report_shows_the_pareto_front_and_a_section_per_objective(study):
    storage, out = study
    page = out.read_text(encoding="utf-8")
    df = load_study_client(storage)._experiment.lookup_data().df
    values = {m: dict(zip(g["trial_index"], g["mean"])) for m, g in df.groupby("metric_name")}
    front = pareto_indices(values, {"loss": True, "cost": True})
    pareto = page.split('<section id="best-trial">')[1].split("</section>")[0]
    assert "<h2>Pareto front</h2>" in pareto
    assert f"{len(front)} of 6 completed trials are Pareto-optimal" in pareto
    assert 'id="chart-pareto-0"' in pareto and "Pareto Frontier" in pareto
    table = pareto.split('id="pareto-table"')[1].split("</table>")[0]
    assert re.findall(r"<tr><td>(\d+)</td>", table) == [str(i) for i in front]
    # the first objective's sections, then one for cost with its own charts
    assert "<h2>Optimization history (loss)</h2>" in page
    cost = page.split('<section id="objective-2">')[1].split("</section>")[0]
    assert "<h2>Objective cost</h2>" in cost
    for chart in ("history", "sensitivity", "importance", "slice-0", "contour"):
        assert f'id="chart-{chart}-2"' in cost
    assert "cost vs." in cost  # Ax's slice plot of cost
    assert "objective loss (minimized), cost (minimized)" in page
    # the trial table has a column per objective
    assert "<th>loss</th><th>cost</th>" in page
    ids = re.findall(r'<div id="(chart-[^"]+)"', page)
    assert len(ids) > 10 and len(ids) == len(set(ids))  # every chart id is unique on the page
