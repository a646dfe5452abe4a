import pytest
from ax.exceptions.core import UserInputError

from ax_ext.cross_validation.trials import (
    BOUNDARY_COLUMNS,
    best_trials,
    boundary_findings,
    describe_boundary,
    trial_points,
)
from tests.plotting._experiments import boundary_loss, client_with, grid, interior_loss


def _at_upper_lr():
    points = grid() + [
        {"lr": 1.0, "depth": 3, "opt": "adam"},
        {"lr": 0.9, "depth": 4, "opt": "sgd"},
    ]
    return client_with(points, boundary_loss)


def test_trial_points_sort_trials_and_best_trials_pick_the_lowest():
    client = client_with(grid(), interior_loss, failed=(3,))
    points = trial_points(client)
    assert points.metric_name == "loss" and points.minimize
    assert [r.trial_index for r in points.failed] == [3]
    assert 3 not in {r.trial_index for r in points.ok}
    (best,) = best_trials(points, top_k=1)
    assert best.mean == min(r.mean for r in points.ok)
    assert len(best_trials(points, top_fraction=0.5)) == -(-len(points.ok) // 2)
    with pytest.raises(UserInputError, match="metric_name to be one of"):
        trial_points(client, "nope")


def test_boundary_findings_are_data_and_agree_with_the_axis_plots():
    from ax_ext.plotting import axis_plots

    client = _at_upper_lr()
    findings = boundary_findings(client)
    assert list(findings.columns) == BOUNDARY_COLUMNS
    assert findings[["parameter", "bound", "value"]].values.tolist() == [["lr", "upper", 1.0]]
    chart = axis_plots(client, warn=False).layout.meta["boundary"]
    assert [dict(b) for b in chart] == findings.to_dict("records")
    # the same result from the collected points; nothing at a tight tolerance
    assert boundary_findings(trial_points(client)).equals(findings)
    assert boundary_findings(client, top_k=3, tolerance=0.001).empty
    assert describe_boundary(findings, "loss").endswith("lr (upper bound 1).")
    assert describe_boundary(findings.iloc[:0], "loss") == ""


def test_no_findings_for_an_interior_optimum():
    assert boundary_findings(client_with(grid(), interior_loss)).empty
